package txn

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/idempotence"
	"github.com/chronik-go/chronik/metadata"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// markerCall is one durable marker.
type markerCall struct {
	topic            string
	partition        int32
	producerID       int64
	epoch            int16
	coordinatorEpoch int32
	commit           bool
}

// fakeMarkers is a MarkerWriter that records durable markers and can fail
// or block on demand.
type fakeMarkers struct {
	mu       sync.Mutex
	calls    []markerCall
	attempts map[markerTarget]int
	failN    int   // fail this many of the next attempts with failErr
	failErr  error // the error of a failing attempt
	failAll  bool  // fail every attempt with failErr
	hold     chan struct{}
	inFlight atomic.Int32
	maxIn    atomic.Int32
	delay    time.Duration
}

func newFakeMarkers() *fakeMarkers {
	return &fakeMarkers{attempts: make(map[markerTarget]int), failErr: errcode.Errorf(errcode.NotEnoughReplicas, "injected")}
}

func (f *fakeMarkers) WriteMarker(ctx context.Context, topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.attempts[markerTarget{topic, partition}]++
	hold, delay := f.hold, f.delay
	var err error
	switch {
	case f.failAll:
		err = f.failErr
	case f.failN > 0:
		f.failN--
		err = f.failErr
	}
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, markerCall{topic, partition, producerID, epoch, coordinatorEpoch, commit})
	return nil
}

func (f *fakeMarkers) set(fn func(f *fakeMarkers)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeMarkers) written() []markerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]markerCall(nil), f.calls...)
}

func (f *fakeMarkers) attemptsOf(topic string, partition int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[markerTarget{topic, partition}]
}

// hookStore wraps a Store and lets a test fail or block compare-and-swap.
type hookStore struct {
	metadata.Store
	mu      sync.Mutex
	casHook func(namespace, key string, new []byte) error
	cas     atomic.Int64 // compare-and-swap calls on namespace "txn"
}

func (s *hookStore) CompareAndSwap(ctx context.Context, namespace, key string, old, new []byte) (bool, error) {
	if namespace == namespaceTxn {
		s.cas.Add(1)
	}
	s.mu.Lock()
	hook := s.casHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(namespace, key, new); err != nil {
			return false, err
		}
	}
	return s.Store.CompareAndSwap(ctx, namespace, key, old, new)
}

func (s *hookStore) setHook(h func(namespace, key string, new []byte) error) {
	s.mu.Lock()
	s.casHook = h
	s.mu.Unlock()
}

// storeKinds are the stores the state-machine tests run on.
var storeKinds = []string{"memory", "bolt"}

func openStore(t testing.TB, kind string) metadata.Store {
	t.Helper()
	switch kind {
	case "memory":
		s := metadata.NewMemory(1)
		t.Cleanup(func() { s.Close() })
		return s
	case "bolt":
		s, err := metadata.OpenBolt(filepath.Join(t.TempDir(), "meta.db"), 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

// env is one coordinator under test with its fakes.
type env struct {
	t       testing.TB
	store   *hookStore
	markers *fakeMarkers
	clock   *clock
	opts    Options
	c       *Coordinator
}

// newEnv starts a coordinator on a fresh store of kind. tweak may change
// the options before New.
func newEnv(t testing.TB, kind string, tweak func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, &hookStore{Store: openStore(t, kind)}, newClock(), tweak)
}

func newEnvOn(t testing.TB, store *hookStore, clk *clock, tweak func(*Options)) *env {
	t.Helper()
	e := &env{t: t, store: store, markers: newFakeMarkers(), clock: clk}
	e.opts = Options{
		Now:                   clk.Now,
		MarkerRetryBackoff:    time.Millisecond,
		MarkerRetryBackoffMax: 5 * time.Millisecond,
		CompletionWait:        5 * time.Second,
		PartitionExists:       func(topic string, p int32) bool { return topic != "missing" && p >= 0 && p < 8 },
	}
	if tweak != nil {
		tweak(&e.opts)
	}
	e.start()
	return e
}

func newIDs(s metadata.Store) *idempotence.IDAllocator { return idempotence.NewIDAllocator(s) }

// start opens a coordinator on e's store (again, after a restart).
func (e *env) start() {
	e.t.Helper()
	c, err := New(e.store, idempotence.NewIDAllocator(e.store), e.markers, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c
	e.t.Cleanup(func() { c.Close() })
}

// restart closes the coordinator and starts a new one on the same store
// with fresh markers.
func (e *env) restart() {
	e.t.Helper()
	e.c.Close()
	e.markers = newFakeMarkers()
	e.start()
}

// stored returns the record of id in the store, or nil.
func (e *env) stored(id string) *record {
	e.t.Helper()
	raw, found, err := e.store.Store.Get(context.Background(), namespaceTxn, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if !found {
		return nil
	}
	r, err := decodeRecord(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// peek is stored for goroutines other than the test's: nil on any error.
func (e *env) peek(id string) *record {
	raw, found, err := e.store.Store.Get(context.Background(), namespaceTxn, id)
	if err != nil || !found {
		return nil
	}
	r, _ := decodeRecord(raw)
	return r
}

func ptr(s string) *string { return &s }

var bg = context.Background()

// init runs a transactional InitProducerId (v4) and fails the test on error.
func (e *env) init(id string) (int64, int16) {
	e.t.Helper()
	pid, epoch, code := e.c.InitProducerID(bg, 4, ptr(id), 60000, -1, -1)
	if code != errcode.None {
		e.t.Fatalf("InitProducerID(%q) = %v", id, code)
	}
	return pid, epoch
}

// begin starts a transaction on id with the given partitions of topic "t".
func (e *env) begin(id string, partitions ...int32) (int64, int16) {
	e.t.Helper()
	pid, epoch := e.init(id)
	e.add(id, pid, epoch, partitions...)
	return pid, epoch
}

func (e *env) add(id string, pid int64, epoch int16, partitions ...int32) {
	e.t.Helper()
	res := e.c.AddPartitions(bg, 3, id, pid, epoch, map[string][]int32{"t": partitions})
	for p, code := range res["t"] {
		if code != errcode.None {
			e.t.Fatalf("AddPartitions(%q, %d) = %v", id, p, code)
		}
	}
}

// end runs EndTxn v3 and fails the test unless it answers want.
func (e *env) end(id string, pid int64, epoch int16, commit bool, want errcode.Code) {
	e.t.Helper()
	if code, _, _ := e.c.EndTxn(bg, 3, id, pid, epoch, commit); code != want {
		e.t.Fatalf("EndTxn(%q, commit=%v) = %v, want %v", id, commit, code, want)
	}
}

// prepare leaves id in PrepareCommit or PrepareAbort: markers are held, the
// EndTxn gives up after a short wait.
func (e *env) prepare(id string, pid int64, epoch int16, commit bool) {
	e.t.Helper()
	e.markers.set(func(f *fakeMarkers) { f.hold = make(chan struct{}) })
	want := PrepareAbort
	if commit {
		want = PrepareCommit
	}
	// Give up waiting as soon as the Prepare state is stored.
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if r := e.peek(id); r != nil && r.state == want {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if code, _, _ := e.c.EndTxn(ctx, 3, id, pid, epoch, commit); code != errcode.ConcurrentTransactions {
		e.t.Fatalf("EndTxn with held markers = %v, want CONCURRENT_TRANSACTIONS", code)
	}
}

// releaseMarkers lets held markers through.
func (e *env) releaseMarkers() {
	e.markers.set(func(f *fakeMarkers) {
		if f.hold != nil {
			close(f.hold)
			f.hold = nil
		}
	})
}

// waitState polls until id's stored state, and the coordinator's, is want.
func (e *env) waitState(id string, want State) *record {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.stored(id)
		d, _ := e.c.Describe(id)
		if r != nil && r.state == want && d.State == want {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("state of %q: %v, want %v", id, r, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// holdTxnWrites makes every compare-and-swap of a transaction record block
// until the returned release is called; entered receives one value per
// blocked write.
func (e *env) holdTxnWrites() (entered chan struct{}, release func()) {
	entered = make(chan struct{}, 16)
	gate := make(chan struct{})
	e.store.setHook(func(ns, _ string, _ []byte) error {
		if ns == namespaceTxn {
			entered <- struct{}{}
			<-gate
		}
		return nil
	})
	var once sync.Once
	return entered, func() {
		once.Do(func() {
			e.store.setHook(nil)
			close(gate)
		})
	}
}

var errInjected = errors.New("injected store failure")

package txn

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// TestEndTxnStates covers kafka-semantics.md §4.5 (protocol v1) case by
// case: the answer, the stored record, and the markers written.
func TestEndTxnStates(t *testing.T) {
	cases := []struct {
		name    string
		version int16
		id      string
		setup   func(e *env) client
		req     func(c client) (int64, int16)
		commit  bool
		want    errcode.Code
		state   State // stored afterwards; -1: no record
		markers int   // markers written by the request
	}{
		{name: "empty id", version: 3, id: "", commit: true, want: errcode.InvalidRequest, state: -1},
		{name: "unknown id", version: 3, id: "tx", commit: true, want: errcode.InvalidProducerIDMapping, state: -1,
			req: func(client) (int64, int16) { return 3, 0 }},
		{name: "another producer id", version: 3, id: "tx", commit: true, want: errcode.InvalidProducerIDMapping, state: Ongoing,
			setup: ongoing, req: func(c client) (int64, int16) { return c.pid + 1, c.epoch }},
		{name: "another epoch v2", version: 2, id: "tx", commit: true, want: errcode.ProducerFenced, state: Ongoing,
			setup: ongoing, req: func(c client) (int64, int16) { return c.pid, c.epoch + 1 }},
		{name: "another epoch v1", version: 1, id: "tx", commit: false, want: errcode.InvalidProducerEpoch, state: Ongoing,
			setup: ongoing, req: func(c client) (int64, int16) { return c.pid, c.epoch - 1 }},
		{name: "unsupported version 5", version: 5, id: "tx", commit: true, want: errcode.UnsupportedVersion, state: Ongoing,
			setup: ongoing},
		{name: "Ongoing commit", version: 3, id: "tx", commit: true, want: errcode.None, state: CompleteCommit,
			setup: ongoing, markers: 3},
		{name: "Ongoing abort", version: 0, id: "tx", commit: false, want: errcode.None, state: CompleteAbort,
			setup: ongoing, markers: 3},
		{name: "Empty commit", version: 3, id: "tx", commit: true, want: errcode.InvalidTxnState, state: Empty,
			setup: empty},
		{name: "Empty abort", version: 3, id: "tx", commit: false, want: errcode.InvalidTxnState, state: Empty,
			setup: empty},
		{name: "CompleteCommit, commit again", version: 3, id: "tx", commit: true, want: errcode.None, state: CompleteCommit,
			setup: ended(true)},
		{name: "CompleteCommit, abort", version: 3, id: "tx", commit: false, want: errcode.InvalidTxnState, state: CompleteCommit,
			setup: ended(true)},
		{name: "CompleteAbort, abort again", version: 3, id: "tx", commit: false, want: errcode.None, state: CompleteAbort,
			setup: ended(false)},
		{name: "CompleteAbort, commit", version: 3, id: "tx", commit: true, want: errcode.InvalidTxnState, state: CompleteAbort,
			setup: ended(false)},
		{name: "PrepareCommit, abort", version: 3, id: "tx", commit: false, want: errcode.InvalidTxnState, state: PrepareCommit,
			setup: prepared(true)},
		{name: "PrepareAbort, commit", version: 3, id: "tx", commit: true, want: errcode.InvalidTxnState, state: PrepareAbort,
			setup: prepared(false)},
		{name: "PrepareCommit, commit again: waits, CONCURRENT_TRANSACTIONS while markers are held", version: 3, id: "tx",
			commit: true, want: errcode.ConcurrentTransactions, state: PrepareCommit, setup: prepared(true)},
	}
	for _, kind := range storeKinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, kind, nil)
				var c client
				if tc.setup != nil {
					c = tc.setup(e)
				}
				pid, epoch := c.pid, c.epoch
				if tc.req != nil {
					pid, epoch = tc.req(c)
				}
				before := len(e.markers.written())
				ctx, cancel := context.WithTimeout(bg, 5*time.Second)
				if tc.state.preparing() {
					// The markers are held: the wait can only time out.
					ctx, cancel = context.WithTimeout(bg, 30*time.Millisecond)
				}
				defer cancel()
				code, gotPID, gotEpoch := e.c.EndTxn(ctx, tc.version, tc.id, pid, epoch, tc.commit)
				if code != tc.want {
					t.Fatalf("EndTxn = %v, want %v", code, tc.want)
				}
				if code == errcode.None && (gotPID != c.pid || gotEpoch != c.epoch) {
					t.Fatalf("EndTxn returned %d/%d, want %d/%d", gotPID, gotEpoch, c.pid, c.epoch)
				}
				if code != errcode.None && (gotPID != -1 || gotEpoch != -1) {
					t.Fatalf("EndTxn error returned %d/%d", gotPID, gotEpoch)
				}
				r := e.stored("tx")
				switch {
				case tc.state == -1 && r != nil:
					t.Fatalf("stored %+v, want none", r)
				case tc.state != -1 && (r == nil || r.state != tc.state):
					t.Fatalf("stored %+v, want %v", r, tc.state)
				}
				written := e.markers.written()[before:]
				if len(written) != tc.markers {
					t.Fatalf("%d markers written, want %d", len(written), tc.markers)
				}
				for _, m := range written {
					if m.commit != tc.commit || m.producerID != c.pid || m.epoch != c.epoch || m.coordinatorEpoch != e.c.CoordinatorEpoch() {
						t.Fatalf("marker %+v", m)
					}
				}
				if tc.markers > 0 && (r.partitions != nil || r.groups != nil) {
					t.Fatalf("Complete record keeps partitions: %+v", r)
				}
			})
		}
	}
}

func empty(e *env) client { p, ep := e.init("tx"); return client{p, ep} }

func ongoing(e *env) client {
	p, ep := e.init("tx")
	if res := e.c.AddPartitions(bg, 3, "tx", p, ep, map[string][]int32{"t": {0, 1}, "u": {2}}); res["u"][2] != errcode.None {
		e.t.Fatal(res)
	}
	return client{p, ep}
}

func ended(commit bool) func(e *env) client {
	return func(e *env) client {
		c := ongoing(e)
		e.end("tx", c.pid, c.epoch, commit, errcode.None)
		return c
	}
}

func prepared(commit bool) func(e *env) client {
	return func(e *env) client {
		c := ongoing(e)
		e.prepare("tx", c.pid, c.epoch, commit)
		return c
	}
}

// Markers that fail a few times are retried; EndTxn still answers NONE
// once every one is durable, and not before.
func TestEndTxnRetriesMarkers(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, nil)
			c := ongoing(e)
			e.markers.set(func(f *fakeMarkers) { f.failN = 5 })
			e.end("tx", c.pid, c.epoch, true, errcode.None)
			if n := len(e.markers.written()); n != 3 {
				t.Fatalf("%d markers durable, want 3", n)
			}
			total := e.markers.attemptsOf("t", 0) + e.markers.attemptsOf("t", 1) + e.markers.attemptsOf("u", 2)
			if total != 3+5 {
				t.Fatalf("%d attempts, want 8", total)
			}
			if r := e.stored("tx"); r.state != CompleteCommit {
				t.Fatalf("stored %+v", r)
			}
		})
	}
}

// A marker that keeps failing: EndTxn answers CONCURRENT_TRANSACTIONS
// (never NONE), the transaction stays PrepareCommit, the markers keep being
// retried in the background, and once they are durable the retry of
// EndTxn gets NONE.
func TestEndTxnMarkerFailure(t *testing.T) {
	e := newEnv(t, "bolt", nil)
	c := ongoing(e)
	e.markers.set(func(f *fakeMarkers) { f.failAll = true })
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if code, _, _ := e.c.EndTxn(ctx, 3, "tx", c.pid, c.epoch, true); code != errcode.ConcurrentTransactions {
		t.Fatalf("EndTxn = %v", code)
	}
	if r := e.stored("tx"); r.state != PrepareCommit {
		t.Fatalf("stored %+v", r)
	}
	// The client retries while markers still fail.
	ctx2, cancel2 := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel2()
	if code, _, _ := e.c.EndTxn(ctx2, 3, "tx", c.pid, c.epoch, true); code != errcode.ConcurrentTransactions {
		t.Fatalf("retry = %v", code)
	}
	before := e.markers.attemptsOf("t", 0)
	time.Sleep(30 * time.Millisecond)
	if e.markers.attemptsOf("t", 0) <= before {
		t.Fatal("markers are not retried in the background")
	}
	// Heal: a waiting retry is answered NONE as soon as the markers land.
	done := make(chan errcode.Code, 1)
	go func() {
		code, _, _ := e.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, true)
		done <- code
	}()
	time.Sleep(10 * time.Millisecond)
	e.markers.set(func(f *fakeMarkers) { f.failAll = false })
	if code := <-done; code != errcode.None {
		t.Fatalf("EndTxn after healing = %v", code)
	}
	if r := e.stored("tx"); r.state != CompleteCommit {
		t.Fatalf("stored %+v", r)
	}
	if n := len(e.markers.written()); n != 3 {
		t.Fatalf("%d markers, want 3", n)
	}
}

// CompletionWait bounds the wait when the request context allows longer.
func TestEndTxnCompletionWait(t *testing.T) {
	e := newEnv(t, "memory", func(o *Options) { o.CompletionWait = 20 * time.Millisecond })
	c := ongoing(e)
	e.markers.set(func(f *fakeMarkers) { f.hold = make(chan struct{}) })
	start := time.Now()
	if code, _, _ := e.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, false); code != errcode.ConcurrentTransactions {
		t.Fatalf("EndTxn = %v", code)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("answered after %v, before CompletionWait", d)
	}
	e.releaseMarkers()
	e.waitState("tx", CompleteAbort)
	e.end("tx", c.pid, c.epoch, false, errcode.None)
}

// Marker errors that Kafka does not retry.
func TestEndTxnMarkerErrors(t *testing.T) {
	t.Run("fenced coordinator", func(t *testing.T) {
		for _, code := range []errcode.Code{errcode.TransactionCoordinatorFenced, errcode.InvalidProducerEpoch} {
			e := newEnv(t, "memory", nil)
			c := ongoing(e)
			e.markers.set(func(f *fakeMarkers) {
				f.failAll = true
				f.failErr = fmt.Errorf("append: %w", errcode.Errorf(code, "newer epoch seen"))
			})
			if got, _, _ := e.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, true); got != errcode.NotCoordinator {
				t.Fatalf("%v: EndTxn = %v", code, got)
			}
			if r := e.stored("tx"); r.state != PrepareCommit {
				t.Fatalf("stored %+v", r)
			}
			// Stopped: no attempt is repeated.
			n := e.markers.attemptsOf("t", 0) + e.markers.attemptsOf("t", 1) + e.markers.attemptsOf("u", 2)
			time.Sleep(20 * time.Millisecond)
			if m := e.markers.attemptsOf("t", 0) + e.markers.attemptsOf("t", 1) + e.markers.attemptsOf("u", 2); m != n {
				t.Fatalf("fenced completion kept writing: %d -> %d attempts", n, m)
			}
			e.c.Close()
		}
	})
	t.Run("partition cannot take markers", func(t *testing.T) {
		e := newEnv(t, "memory", nil)
		c := ongoing(e)
		e.markers.set(func(f *fakeMarkers) {
			f.failN = 1
			f.failErr = errcode.Errorf(errcode.UnsupportedForMessageFormat, "magic 1")
		})
		e.end("tx", c.pid, c.epoch, true, errcode.None)
		if n := len(e.markers.written()); n != 2 {
			t.Fatalf("%d markers, want 2 (one partition dropped)", n)
		}
	})
	t.Run("partition deleted", func(t *testing.T) {
		deleted := make(chan struct{})
		e := newEnv(t, "memory", func(o *Options) {
			o.PartitionExists = func(topic string, p int32) bool {
				select {
				case <-deleted:
					return topic != "u"
				default:
					return true
				}
			}
		})
		c := ongoing(e)
		close(deleted)
		e.end("tx", c.pid, c.epoch, true, errcode.None)
		for _, m := range e.markers.written() {
			if m.topic == "u" {
				t.Fatalf("marker written to a deleted partition: %+v", m)
			}
		}
		if n := len(e.markers.written()); n != 2 {
			t.Fatalf("%d markers, want 2", n)
		}
	})
	t.Run("plain errors are retried", func(t *testing.T) {
		e := newEnv(t, "memory", nil)
		c := ongoing(e)
		e.markers.set(func(f *fakeMarkers) { f.failN = 3; f.failErr = errors.New("disk full") })
		e.end("tx", c.pid, c.epoch, false, errcode.None)
		if n := len(e.markers.written()); n != 3 {
			t.Fatalf("%d markers, want 3", n)
		}
	})
}

// Markers are written in parallel, never more than MarkerConcurrency at
// once, and every partition of a large transaction gets one.
func TestMarkerConcurrency(t *testing.T) {
	e := newEnv(t, "memory", func(o *Options) {
		o.MarkerConcurrency = 3
		o.PartitionExists = nil
	})
	e.markers.set(func(f *fakeMarkers) { f.delay = 2 * time.Millisecond })
	pid, epoch := e.init("tx")
	parts := map[string][]int32{}
	for i := range 20 {
		parts[fmt.Sprintf("topic-%02d", i)] = []int32{0, 1}
	}
	for topic, res := range e.c.AddPartitions(bg, 3, "tx", pid, epoch, parts) {
		if res[0] != errcode.None {
			t.Fatal(topic, res)
		}
	}
	e.end("tx", pid, epoch, true, errcode.None)
	got := e.markers.written()
	if len(got) != 40 {
		t.Fatalf("%d markers, want 40", len(got))
	}
	seen := map[string]bool{}
	for _, m := range got {
		seen[fmt.Sprintf("%s/%d", m.topic, m.partition)] = true
	}
	if len(seen) != 40 {
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("partitions with markers: %v", keys)
	}
	if m := e.markers.maxIn.Load(); m > 3 || m < 2 {
		t.Fatalf("%d markers in flight at most, want 2..3", m)
	}
}

// An EndTxn that stores PrepareCommit returns only after the Complete
// state is stored: at that point the store already says CompleteCommit.
func TestEndTxnAnswersAfterComplete(t *testing.T) {
	e := newEnv(t, "bolt", nil)
	c := ongoing(e)
	e.markers.set(func(f *fakeMarkers) { f.delay = 5 * time.Millisecond })
	e.end("tx", c.pid, c.epoch, true, errcode.None)
	if r := e.stored("tx"); r.state != CompleteCommit {
		t.Fatalf("stored %+v when EndTxn answered", r)
	}
}

// Storing the Complete state fails a few times: the completion retries,
// and EndTxn still answers NONE only once it is stored.
func TestEndTxnCompleteWriteRetried(t *testing.T) {
	e := newEnv(t, "memory", nil)
	c := ongoing(e)
	failures := 3
	e.store.setHook(func(ns, _ string, new []byte) error {
		if ns == namespaceTxn && len(new) > 1 && State(new[1]) == CompleteCommit && failures > 0 {
			failures--
			return errInjected
		}
		return nil
	})
	e.end("tx", c.pid, c.epoch, true, errcode.None)
	if failures != 0 {
		t.Fatalf("%d injected failures left", failures)
	}
	if r := e.stored("tx"); r.state != CompleteCommit {
		t.Fatalf("stored %+v", r)
	}
}

// A record that went corrupt in the store after New: the id answers
// UNKNOWN_SERVER_ERROR once the coordinator rereads it, and others work.
func TestCorruptRecordAfterStart(t *testing.T) {
	e := newEnv(t, "memory", nil)
	c := empty(e)
	e.store.setHook(func(ns, _ string, _ []byte) error { return errInjected })
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.CoordinatorNotAvailable {
		t.Fatal(code) // marks the entry stale: the next request rereads it
	}
	e.store.setHook(nil)
	if err := e.store.Put(bg, namespaceTxn, "tx", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if res := e.c.AddPartitions(bg, 3, "tx", c.pid, c.epoch, map[string][]int32{"t": {0}}); res["t"][0] != errcode.UnknownServerError {
		t.Fatalf("AddPartitions = %v", res)
	}
	e.init("other")
	err := &CorruptError{Namespace: namespaceTxn, Key: "tx", Err: errCorrupt}
	if !errors.Is(err, errCorrupt) || err.Error() != `txn: corrupt record txn/"tx": malformed record` {
		t.Fatalf("CorruptError = %q", err)
	}
}

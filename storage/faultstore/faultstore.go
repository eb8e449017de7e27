// Package faultstore wraps a storage.ObjectStore and injects the failures a
// real object store shows: failed and half-finished uploads, uploads that
// land but whose answer is lost, failed and broken reads, latency and
// stalls. Faults are drawn from a seeded generator, so a failing test is
// reproducible from its seed, and every injected fault is counted.
//
// It exists for tests of code built on storage.ObjectStore: whatever the
// wrapper injects, that code must never lose or corrupt data.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/storage"
)

// ErrInjected is the cause of every failure the wrapper makes up. Callers
// should treat it as transient, as they would a network error.
var ErrInjected = errors.New("faultstore: injected fault")

// Options chooses which faults to inject and how often. Rates are
// probabilities in [0, 1] drawn independently per call; the zero value
// injects nothing.
type Options struct {
	// Seed seeds the fault generator. The same seed and the same sequence
	// of calls give the same faults.
	Seed uint64

	// PutFailRate is the fraction of Puts that fail before reaching the
	// inner store.
	PutFailRate float64
	// PartialPutRate is the fraction of Puts that pass the inner store a
	// reader which fails half way through the data: a broken upload. The
	// inner store must reject it and show no partial object.
	PartialPutRate float64
	// LostAckRate is the fraction of Puts that succeed in the inner store
	// but report ErrInjected, as when the answer to a finished upload is
	// lost. Callers that retry must cope with the object already there.
	LostAckRate float64

	// GetFailRate is the fraction of Gets that fail before reaching the
	// inner store.
	GetFailRate float64
	// ReadFailRate is the fraction of Gets whose reader fails with
	// ErrInjected half way through the requested range.
	ReadFailRate float64

	// ListFailRate is the fraction of Lists that fail before listing.
	ListFailRate float64
	// DeleteFailRate is the fraction of Deletes that fail before reaching
	// the inner store.
	DeleteFailRate float64

	// Latency is added before every call.
	Latency time.Duration
	// StallRate is the fraction of calls that first stall for Stall, or
	// until their context is done, whichever comes first.
	StallRate float64
	// Stall is how long a stalled call waits.
	Stall time.Duration
}

// Validate reports the first rate outside [0, 1] or negative duration.
func (o Options) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{
		{"PutFailRate", o.PutFailRate}, {"PartialPutRate", o.PartialPutRate},
		{"LostAckRate", o.LostAckRate}, {"GetFailRate", o.GetFailRate},
		{"ReadFailRate", o.ReadFailRate}, {"ListFailRate", o.ListFailRate},
		{"DeleteFailRate", o.DeleteFailRate}, {"StallRate", o.StallRate},
	}
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("faultstore: %s = %v, want a probability in [0, 1]", r.name, r.v)
		}
	}
	if o.Latency < 0 || o.Stall < 0 {
		return fmt.Errorf("faultstore: negative Latency (%v) or Stall (%v)", o.Latency, o.Stall)
	}
	return nil
}

// Counters counts calls and injected faults since New.
type Counters struct {
	Puts, Gets, Lists, Deletes int64 // calls made to the wrapper

	FailedPuts    int64 // Puts failed before the inner store
	PartialPuts   int64 // Puts given a reader that broke half way
	LostAcks      int64 // Puts that landed but reported failure
	FailedGets    int64 // Gets failed before the inner store
	FailedReads   int64 // readers that broke half way
	FailedLists   int64
	FailedDeletes int64
	Stalls        int64 // calls that stalled
}

// Injected is the total number of faults injected, stalls included.
func (c Counters) Injected() int64 {
	return c.FailedPuts + c.PartialPuts + c.LostAcks + c.FailedGets + c.FailedReads +
		c.FailedLists + c.FailedDeletes + c.Stalls
}

// Store is a storage.ObjectStore that forwards to an inner store and
// injects faults on the way. It is safe for concurrent use.
type Store struct {
	inner   storage.ObjectStore
	opts    Options
	enabled atomic.Bool

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	puts, gets, lists, deletes           atomic.Int64
	failedPuts, partialPuts, lostAcks    atomic.Int64
	failedGets, failedReads, failedLists atomic.Int64
	failedDeletes, stalls                atomic.Int64
}

var _ storage.ObjectStore = (*Store)(nil)

// New wraps inner. It panics if opts.Validate fails: the wrapper is a test
// tool, and bad options are a bug in the test.
func New(inner storage.ObjectStore, opts Options) *Store {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	s := &Store{inner: inner, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
	s.enabled.Store(true)
	return s
}

// SetEnabled turns fault injection on or off; calls always reach the inner
// store while it is off. Counters keep counting calls.
func (s *Store) SetEnabled(on bool) { s.enabled.Store(on) }

// Inner returns the wrapped store, for checking what really landed.
func (s *Store) Inner() storage.ObjectStore { return s.inner }

// Counters returns a snapshot of the call and fault counters.
func (s *Store) Counters() Counters {
	return Counters{
		Puts: s.puts.Load(), Gets: s.gets.Load(), Lists: s.lists.Load(), Deletes: s.deletes.Load(),
		FailedPuts: s.failedPuts.Load(), PartialPuts: s.partialPuts.Load(), LostAcks: s.lostAcks.Load(),
		FailedGets: s.failedGets.Load(), FailedReads: s.failedReads.Load(),
		FailedLists: s.failedLists.Load(), FailedDeletes: s.failedDeletes.Load(), Stalls: s.stalls.Load(),
	}
}

// roll reports whether a fault of probability p happens now.
func (s *Store) roll(p float64) bool {
	if p <= 0 || !s.enabled.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < p
}

// delay applies Latency and, by StallRate, a stall; it returns ctx's error
// if ctx ends first.
func (s *Store) delay(ctx context.Context) error {
	if !s.enabled.Load() {
		return nil
	}
	d := s.opts.Latency
	if s.roll(s.opts.StallRate) {
		s.stalls.Add(1)
		d += s.opts.Stall
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func injected(op, key string) error {
	return &storage.OpError{Op: op, Key: key, Err: ErrInjected}
}

// Put may fail outright, break the upload half way, or lose the answer of
// a finished upload.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.puts.Add(1)
	if err := s.delay(ctx); err != nil {
		return &storage.OpError{Op: "put", Key: key, Err: err}
	}
	if s.roll(s.opts.PutFailRate) {
		s.failedPuts.Add(1)
		return injected("put", key)
	}
	if s.roll(s.opts.PartialPutRate) {
		s.partialPuts.Add(1)
		err := s.inner.Put(ctx, key, &breakingReader{r: r, left: size / 2}, size)
		if err == nil {
			return &storage.OpError{Op: "put", Key: key, Err: fmt.Errorf("%w: the inner store accepted an upload whose reader failed", ErrInjected)}
		}
		return err
	}
	if err := s.inner.Put(ctx, key, r, size); err != nil {
		return err
	}
	if s.roll(s.opts.LostAckRate) {
		s.lostAcks.Add(1)
		return injected("put", key)
	}
	return nil
}

// Get may fail outright or return a reader that breaks half way.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.gets.Add(1)
	if err := s.delay(ctx); err != nil {
		return nil, &storage.OpError{Op: "get", Key: key, Err: err}
	}
	if s.roll(s.opts.GetFailRate) {
		s.failedGets.Add(1)
		return nil, injected("get", key)
	}
	breakRead := s.roll(s.opts.ReadFailRate)
	rc, err := s.inner.Get(ctx, key, offset, length)
	if err != nil || !breakRead {
		return rc, err
	}
	s.failedReads.Add(1)
	half := int64(1 << 20)
	if length >= 0 {
		half = length / 2
	}
	return readCloser{Reader: &breakingReader{r: rc, left: half}, Closer: rc}, nil
}

// List may fail before listing anything.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	s.lists.Add(1)
	if err := s.delay(ctx); err != nil {
		return &storage.OpError{Op: "list", Key: prefix, Err: err}
	}
	if s.roll(s.opts.ListFailRate) {
		s.failedLists.Add(1)
		return injected("list", prefix)
	}
	return s.inner.List(ctx, prefix, fn)
}

// Delete may fail before reaching the inner store.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	if err := s.delay(ctx); err != nil {
		return &storage.OpError{Op: "delete", Key: key, Err: err}
	}
	if s.roll(s.opts.DeleteFailRate) {
		s.failedDeletes.Add(1)
		return injected("delete", key)
	}
	return s.inner.Delete(ctx, key)
}

// Close closes the inner store; no fault is injected.
func (s *Store) Close() error { return s.inner.Close() }

// breakingReader passes through left bytes of r, then fails with ErrInjected.
type breakingReader struct {
	r    io.Reader
	left int64
}

func (b *breakingReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrInjected
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

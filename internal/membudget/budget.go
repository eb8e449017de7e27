package membudget

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Budget counts reserved bytes against a limit and serves waiting
// reservations first come, first served. Its methods are safe for
// concurrent use.
type Budget struct {
	limit int64

	mu      sync.Mutex // guards used, peak and waiters; never held while waiting
	used    int64
	peak    int64     // the most ever reserved at once
	waiters []*waiter // in arrival order
}

// waiter is one Acquire waiting for room.
type waiter struct {
	n     int64
	ready chan struct{} // closed, under Budget.mu, once n bytes are reserved for it
}

// TooLargeError is what Acquire returns for a request larger than the
// budget's limit, which could never be granted.
type TooLargeError struct {
	N     int64 // the bytes asked for
	Limit int64 // the budget's limit
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("membudget: acquire %d bytes: more than the limit of %d", e.N, e.Limit)
}

// New returns an empty Budget of limit bytes. It panics if limit is not
// positive.
func New(limit int64) *Budget {
	if limit <= 0 {
		panic(fmt.Sprintf("membudget: limit %d must be positive", limit))
	}
	return &Budget{limit: limit}
}

// Acquire reserves n bytes, waiting in arrival order until they fit under
// the limit. It returns nil once they are reserved (at once, even if ctx
// is already done, when they fit and nobody is waiting), ctx.Err() if ctx
// is done first (then nothing is reserved: bytes granted while it was
// giving up are handed back), or a *TooLargeError, without waiting, if n
// exceeds the limit. Acquire(ctx, 0) returns nil at once. It panics if n
// is negative.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	switch {
	case n < 0:
		panic(fmt.Sprintf("membudget: acquire %d bytes", n))
	case n == 0:
		return nil
	case n > b.limit:
		return &TooLargeError{N: n, Limit: b.limit}
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.reserveLocked(n)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready:
		// Granted while giving up: hand the bytes back, which serves the
		// waiters behind.
		b.mu.Unlock()
		b.Release(n)
	default:
		b.removeLocked(w)
		// The waiter may have been the head of the line, holding back
		// smaller requests that fit now.
		b.grantLocked()
		b.mu.Unlock()
	}
	return ctx.Err()
}

// TryAcquire reserves n bytes if they fit under the limit now and nobody
// is waiting (a waiter keeps its place: see Acquire), without waiting, and
// reports whether it did. TryAcquire(0) is true. It panics if n is
// negative.
func (b *Budget) TryAcquire(n int64) bool {
	if n < 0 {
		panic(fmt.Sprintf("membudget: acquire %d bytes", n))
	}
	if n == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.limit {
		return false
	}
	b.reserveLocked(n)
	return true
}

// Take reserves n bytes at once, past the limit if need be: for bytes
// already in memory that must be kept. Waiters are served again once
// enough is released to fit them under the limit. It panics if n is
// negative.
func (b *Budget) Take(n int64) {
	if n < 0 {
		panic(fmt.Sprintf("membudget: take %d bytes", n))
	}
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.reserveLocked(n)
	b.mu.Unlock()
}

// Release returns n reserved bytes and grants, in arrival order, the
// waiters that now fit. Releasing more than is reserved, or a negative
// n, is a bug in the caller's accounting: it panics and leaves the
// budget unchanged.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	if n < 0 || n > b.used {
		used := b.used
		b.mu.Unlock()
		panic(fmt.Sprintf("membudget: release %d bytes with %d reserved", n, used))
	}
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

// Limit returns the most bytes Acquire lets be reserved at once.
func (b *Budget) Limit() int64 { return b.limit }

// InUse returns the bytes reserved now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak returns the most bytes ever reserved at once. It exceeds the limit
// only through Take.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

func (b *Budget) reserveLocked(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grantLocked reserves room for the waiters at the head of the line while
// they fit, and stops at the first that does not: those behind it wait
// even if they would fit, so that it is not starved.
func (b *Budget) grantLocked() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.limit {
			return
		}
		b.reserveLocked(w.n)
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
	b.waiters = nil // let the emptied backing array go
}

// removeLocked takes w, which gave up, out of the line.
func (b *Budget) removeLocked(w *waiter) {
	for i, x := range b.waiters {
		if x == w {
			b.waiters = slices.Delete(b.waiters, i, i+1)
			return
		}
	}
}

package index

import (
	"context"
	"errors"
	"sync"
)

// minBufferMemory is the smallest PipelineOptions.BufferMemory accepted:
// room for a few records.
const minBufferMemory = 64 << 10

// recordOverhead is what the pipeline charges to its BufferMemory for each
// record beyond its bytes: the Document and its slot in the batch (its
// headers are charged by their bytes).
const recordOverhead = 128

// readChunk is the most bytes a worker reads from a log at once, and
// minRead the fewest it reserves room for (a read returns at least one
// whole record batch, however small the room).
const (
	readChunk = 1 << 20
	minRead   = 16 << 10
)

// byteBudget counts reserved bytes against a limit: the pipeline's
// BufferMemory (bytes its workers hold) and Bluge's MaxUnpersistedBytes.
// Reservations stay under the limit except for forced charges (memory
// already allocated, such as a record batch that cannot be split). Waiters
// are woken whenever bytes are released.
type byteBudget struct {
	limit int64

	mu      sync.Mutex // guards used, peak and changed; never held while waiting
	used    int64
	peak    int64         // the most ever reserved (tests)
	changed chan struct{} // closed and replaced when bytes are released
}

func newByteBudget(limit int64) *byteBudget {
	return &byteBudget{limit: limit, changed: make(chan struct{})}
}

// acquireUpTo reserves between least and most bytes: as many as are free
// up to most, waiting while fewer than least are (unless nothing is
// reserved at all, so that a reservation still proceeds, alone, when the
// limit is smaller than least). It returns the bytes reserved, or
// ctx.Err() and nothing if ctx is done first. Only a caller holding no
// reservation may wait: waiting while holding one could deadlock with
// another waiter.
func (b *byteBudget) acquireUpTo(ctx context.Context, least, most int64) (int64, error) {
	for {
		b.mu.Lock()
		if n, ok := b.fitLocked(least, most); ok {
			b.reserveLocked(n)
			b.mu.Unlock()
			return n, nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ch:
		}
	}
}

// fitLocked returns what acquireUpTo(least, most) may reserve now.
func (b *byteBudget) fitLocked(least, most int64) (int64, bool) {
	if b.used == 0 {
		return most, true
	}
	free := b.limit - b.used
	if free < least {
		return 0, false
	}
	return min(free, most), true
}

// belowLimit reports whether fewer bytes than the limit are reserved.
func (b *byteBudget) belowLimit() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used < b.limit
}

// tryAcquireUpTo is acquireUpTo without waiting: it reserves nothing and
// returns 0 when fewer than least bytes are free.
func (b *byteBudget) tryAcquireUpTo(least, most int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.fitLocked(least, most)
	if !ok {
		return 0
	}
	b.reserveLocked(n)
	return n
}

// errBudgetClosed is what waitBelowLimit returns when its closing channel
// is closed first.
var errBudgetClosed = errors.New("index: closing")

// waitBelowLimit waits until fewer bytes than the limit are reserved, ctx
// is done (ctx.Err()) or closing is closed (errBudgetClosed).
func (b *byteBudget) waitBelowLimit(ctx context.Context, closing <-chan struct{}) error {
	for {
		b.mu.Lock()
		if b.used < b.limit {
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-closing:
			return errBudgetClosed
		case <-ch:
		}
	}
}

// force reserves n bytes already in memory, past the limit if need be;
// later acquisitions wait until enough is released.
func (b *byteBudget) force(n int64) {
	b.mu.Lock()
	b.reserveLocked(n)
	b.mu.Unlock()
}

func (b *byteBudget) reserveLocked(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// release returns n reserved bytes and wakes the waiters.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// inUse returns the bytes reserved now and the most ever reserved.
func (b *byteBudget) inUse() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// batchCharge is one worker's reservation for the batch it is collecting.
type batchCharge struct {
	b    *byteBudget
	held int64
}

// reserve reserves room for a read of up to most bytes (at least
// minRead, or most if smaller): waiting for room when the batch holds
// nothing yet, otherwise only if there is room now. It returns the bytes
// reserved; 0 with a nil error means the batch should end here.
func (c *batchCharge) reserve(ctx context.Context, most int64) (int64, error) {
	least := min(minRead, most)
	var n int64
	if c.held == 0 {
		var err error
		if n, err = c.b.acquireUpTo(ctx, least, most); err != nil {
			return 0, err
		}
	} else {
		n = c.b.tryAcquireUpTo(least, most)
	}
	c.held += n
	return n, nil
}

// add charges n bytes the batch already holds, past the limit if need be.
func (c *batchCharge) add(n int64) {
	if n > 0 {
		c.b.force(n)
		c.held += n
	}
}

// giveBack returns n of the batch's bytes that it turned out not to need.
func (c *batchCharge) giveBack(n int64) {
	n = min(n, c.held)
	if n > 0 {
		c.b.release(n)
		c.held -= n
	}
}

// done releases the whole reservation: the batch's records are no longer
// held.
func (c *batchCharge) done() {
	c.b.release(c.held)
	c.held = 0
}

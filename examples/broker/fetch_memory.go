package main

import (
	"context"
	"sync"
)

// fetchMemory bounds the record bytes of Fetch responses being assembled at
// once, across connections (-fetch-memory): a fetch reserves room before
// it reads the logs, gives back what it did not read, and releases the
// rest once its response is encoded. Fetches reserve only while holding
// nothing, so they never wait on each other while holding memory; one
// that finds the budget used up waits, in arrival order, for room.
type fetchMemory struct {
	limit int64

	mu      sync.Mutex // guards used, peak and waiters
	used    int64
	peak    int64 // the most ever reserved at once
	waiters []*fetchWaiter
}

type fetchWaiter struct {
	n     int64
	ready chan struct{} // closed once n bytes are reserved for the waiter
}

func newFetchMemory(limit int64) *fetchMemory { return &fetchMemory{limit: limit} }

// acquire reserves n bytes (at most the limit), waiting until they fit or
// ctx is done; then it returns ctx.Err() and reserves nothing.
func (m *fetchMemory) acquire(ctx context.Context, n int64) error {
	n = min(n, m.limit)
	m.mu.Lock()
	if len(m.waiters) == 0 && m.used+n <= m.limit {
		m.reserveLocked(n)
		m.mu.Unlock()
		return nil
	}
	w := &fetchWaiter{n: n, ready: make(chan struct{})}
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		select {
		case <-w.ready:
			// Granted while giving up: hand the bytes back.
			m.mu.Unlock()
			m.release(n)
		default:
			for i, x := range m.waiters {
				if x == w {
					m.waiters = append(m.waiters[:i], m.waiters[i+1:]...)
					break
				}
			}
			m.grantLocked() // this waiter may have held back smaller ones
			m.mu.Unlock()
		}
		return ctx.Err()
	}
}

// take reserves n bytes already in memory (a first batch larger than the
// reservation, which a fetch must return whole), past the limit if need
// be; waiters are served again once usage is back under it.
func (m *fetchMemory) take(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.reserveLocked(n)
	m.mu.Unlock()
}

func (m *fetchMemory) reserveLocked(n int64) {
	m.used += n
	m.peak = max(m.peak, m.used)
}

// release returns n reserved bytes and wakes the waiters that now fit.
func (m *fetchMemory) release(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.used -= n
	m.grantLocked()
	m.mu.Unlock()
}

func (m *fetchMemory) grantLocked() {
	for len(m.waiters) > 0 {
		w := m.waiters[0]
		if m.used+w.n > m.limit {
			return
		}
		m.reserveLocked(w.n)
		close(w.ready)
		m.waiters = m.waiters[1:]
	}
}

// inUse returns the bytes reserved now and the most ever reserved at once.
func (m *fetchMemory) inUse() (used, peak int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used, m.peak
}

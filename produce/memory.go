package produce

import (
	"context"
	"sync"
)

// memoryLimiter bounds the bytes that requests in flight hold. Waiters are
// served first come, first served, so a large request is not starved by a
// stream of small ones.
type memoryLimiter struct {
	mu      sync.Mutex // guards used and waiters
	limit   int64
	used    int64
	peak    int64 // the most ever reserved at once
	waiters []*memWaiter
}

type memWaiter struct {
	n     int64
	ready chan struct{} // closed once n bytes were granted
}

func newMemoryLimiter(limit int64) *memoryLimiter { return &memoryLimiter{limit: limit} }

// Acquire reserves n bytes, waiting until they are free or ctx is done.
// n must not exceed the limit.
func (m *memoryLimiter) Acquire(ctx context.Context, n int64) error {
	m.mu.Lock()
	if len(m.waiters) == 0 && m.used+n <= m.limit {
		m.used += n
		m.peak = max(m.peak, m.used)
		m.mu.Unlock()
		return nil
	}
	w := &memWaiter{n: n, ready: make(chan struct{})}
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		select {
		case <-w.ready:
			// Granted while we were giving up: hand the bytes back.
			m.mu.Unlock()
			m.Release(n)
		default:
			for i, x := range m.waiters {
				if x == w {
					m.waiters = append(m.waiters[:i], m.waiters[i+1:]...)
					break
				}
			}
			m.grantLocked() // our place may have blocked smaller waiters
			m.mu.Unlock()
		}
		return ctx.Err()
	}
}

// Take reserves n bytes without waiting, even past the limit; waiters are
// served again once usage is back below it.
func (m *memoryLimiter) Take(n int64) {
	m.mu.Lock()
	m.used += n
	m.peak = max(m.peak, m.used)
	m.mu.Unlock()
}

// Release returns n bytes and wakes the waiters that now fit.
func (m *memoryLimiter) Release(n int64) {
	m.mu.Lock()
	m.used -= n
	if m.used < 0 {
		panic("produce: memory limiter released more than acquired")
	}
	m.grantLocked()
	m.mu.Unlock()
}

func (m *memoryLimiter) grantLocked() {
	for len(m.waiters) > 0 {
		w := m.waiters[0]
		if m.used+w.n > m.limit {
			return
		}
		m.used += w.n
		m.peak = max(m.peak, m.used)
		close(w.ready)
		m.waiters = m.waiters[1:]
	}
}

// Limit returns the most bytes that may be reserved at once.
func (m *memoryLimiter) Limit() int64 { return m.limit }

// inUse returns the bytes currently reserved.
func (m *memoryLimiter) inUse() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// maxUsed returns the most bytes ever reserved at once.
func (m *memoryLimiter) maxUsed() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

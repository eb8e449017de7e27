package produce

import (
	"math/bits"
	"sync"
)

// Frame buffers are pooled by size class, so that a connection streaming
// produce requests does not allocate (and zero) a fresh buffer per
// request. Small frames use power-of-two classes (512 B to 64 KiB); larger
// ones, up to 8 MiB, multiples of 64 KiB, so that a request of 1 MiB
// batches (a little over 1 MiB) wastes at most 64 KiB rather than doubling.
// Pools hold only buffers whose requests are done (Reply.Recycle);
// sync.Pool lets the garbage collector drop them when they go unused.
const (
	minSmallClass  = 9        // 512 B: smaller frames are cheap to allocate
	frameClassStep = 64 << 10 // granularity above the small classes
	maxPooledFrame = 8 << 20  // larger frames grow as their bytes arrive
)

var (
	smallFramePools [17]sync.Pool                                // index: log2 of the capacity, 9-16
	largeFramePools [maxPooledFrame/frameClassStep + 1]sync.Pool // index: capacity / 64 KiB, 2-128
)

// frameClass returns the pool and capacity for a frame of n bytes, or nil
// when n is not pooled.
func frameClass(n int) (*sync.Pool, int) {
	switch {
	case n < 1<<minSmallClass || n > maxPooledFrame:
		return nil, 0
	case n <= frameClassStep:
		c := bits.Len(uint(n - 1)) // smallest power of two >= n
		return &smallFramePools[c], 1 << c
	default:
		i := (n + frameClassStep - 1) / frameClassStep
		return &largeFramePools[i], i * frameClassStep
	}
}

// getFrame returns an empty buffer with room for n bytes, or nil when n is
// outside the pooled classes (the reader then allocates).
func getFrame(n int) []byte {
	pool, size := frameClass(n)
	if pool == nil {
		return nil
	}
	if p, _ := pool.Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// putFrame returns a buffer from getFrame to its pool; a buffer of any
// other capacity is left to the garbage collector.
func putFrame(buf []byte) {
	pool, size := frameClass(cap(buf))
	if pool == nil || size != cap(buf) {
		return
	}
	buf = buf[:0]
	pool.Put(&buf)
}

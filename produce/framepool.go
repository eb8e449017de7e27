package produce

import (
	"math/bits"
	"sync"
)

// Frame buffers are pooled by power-of-two size class, so that a
// connection streaming produce requests does not allocate (and zero) a
// fresh buffer per request. Pools hold only buffers whose requests are
// finished (Reply.Recycle); sync.Pool lets the garbage collector drop them
// when they go unused.
const (
	minFrameClass = 9  // 512 B: smaller frames are cheap to allocate
	maxFrameClass = 20 // 1 MiB: larger frames grow as their bytes arrive
)

var framePools [maxFrameClass + 1]sync.Pool // index: log2 of the capacity

// getFrame returns an empty buffer with room for n bytes, or nil when n is
// outside the pooled classes (the reader then allocates).
func getFrame(n int) []byte {
	if n < 1<<minFrameClass || n > 1<<maxFrameClass {
		return nil
	}
	class := bits.Len(uint(n - 1)) // smallest class with 1<<class >= n
	if p, _ := framePools[class].Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<class)
}

// putFrame returns a buffer to the pool of the largest class it can serve.
func putFrame(buf []byte) {
	c := cap(buf)
	if c < 1<<minFrameClass || c >= 1<<(maxFrameClass+1) {
		return
	}
	class := bits.Len(uint(c)) - 1 // largest class with 1<<class <= c
	buf = buf[:0]
	framePools[class].Put(&buf)
}

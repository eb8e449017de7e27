package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// frameGrowStep bounds how much ReadFrameBody allocates ahead of the bytes
// that have actually arrived, so that a peer announcing a large frame and
// sending nothing costs little memory.
const frameGrowStep = 1 << 20

// ReadFrame reads one size-prefixed frame from r and returns its bytes
// without the prefix. It reuses buf's backing array when it is large
// enough; the result aliases buf, so the caller must be done with the
// previous frame before the next call.
//
// It returns io.EOF unwrapped if r ends cleanly before the frame, an error
// wrapping io.ErrUnexpectedEOF if r ends inside it, and a *FrameSizeError
// for a negative size or a size above maxSize (Kafka's
// socket.request.max.bytes check); nothing of an oversized frame is read.
func ReadFrame(r io.Reader, buf []byte, maxSize int) ([]byte, error) {
	n, err := ReadFrameSize(r, maxSize)
	if err != nil {
		return buf[:0], err
	}
	return ReadFrameBody(r, buf, n)
}

// ReadFrameSize reads a frame's 4-byte size prefix, the first half of
// ReadFrame: a server that must reserve memory for a frame before reading
// it (Kafka's queued.max.request.bytes memory pool) calls ReadFrameSize,
// reserves, then calls ReadFrameBody. Errors are those of ReadFrame.
func ReadFrameSize(r io.Reader, maxSize int) (int, error) {
	var prefix [4]byte
	if n, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF && n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("wire: read frame size: %w", err)
	}
	size := int64(int32(binary.BigEndian.Uint32(prefix[:])))
	if size < 0 || size > int64(maxSize) {
		return 0, &FrameSizeError{Size: size, Max: maxSize}
	}
	return int(size), nil
}

// ReadFrameBody reads the n bytes of a frame whose size prefix was read by
// ReadFrameSize, reusing buf's backing array when it is large enough. A
// larger frame grows the buffer as bytes arrive rather than trusting n at
// once. r ending inside the frame is an error wrapping
// io.ErrUnexpectedEOF.
func ReadFrameBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if n <= cap(buf) {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return buf[:0], frameBodyError(n, err)
		}
		return buf, nil
	}
	buf = buf[:0]
	for len(buf) < n {
		have := len(buf)
		next := min(n, max(2*have, have+frameGrowStep))
		if next > cap(buf) {
			nb := make([]byte, have, next)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:next]
		if _, err := io.ReadFull(r, buf[have:]); err != nil {
			return buf[:0], frameBodyError(n, err)
		}
	}
	return buf, nil
}

func frameBodyError(size int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("wire: read %d-byte frame: %w", size, err)
}

package tier

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// crcStart is where the part of a v2 batch its CRC covers begins: after
// baseOffset, batchLength, partitionLeaderEpoch, magic and crc (Kafka's
// DefaultRecordBatch.ATTRIBUTES_OFFSET).
const crcStart = 21

// minBatchLength is the smallest batchLength of a v2 batch: the header after
// the length field.
const minBatchLength = record.HeaderSize - record.LogOverhead

// batchChecker validates a segment's .log bytes as they stream past, with
// constant memory: v2 framing, each batch's CRC-32C, base offsets that
// start at base and increase, and a last batch that ends at next-1.
type batchChecker struct {
	path       string
	base, next int64 // the segment's offsets
	size       int64 // bytes the .log must hold

	pos        int64 // bytes seen
	batchStart int64 // position of the current batch
	hdr        [record.HeaderSize]byte
	hdrN       int // header bytes of the current batch seen
	h          record.Header
	left       int64 // bytes of the current batch after its header still to come
	crc        uint32
	lastOffset int64 // last offset of the previous whole batch
	err        error
}

func newBatchChecker(path string, base, next, size int64) *batchChecker {
	return &batchChecker{path: path, base: base, next: next, size: size, lastOffset: base - 1}
}

func (c *batchChecker) fail(format string, args ...any) error {
	c.err = &segment.CorruptionError{Segment: c.path, Offset: c.lastOffset + 1, FilePos: c.batchStart, Reason: fmt.Sprintf(format, args...)}
	return c.err
}

// write feeds the next bytes of the file.
func (c *batchChecker) write(p []byte) error {
	for len(p) > 0 && c.err == nil {
		if c.hdrN < record.HeaderSize {
			n := copy(c.hdr[c.hdrN:], p)
			c.hdrN += n
			c.pos += int64(n)
			p = p[n:]
			if c.hdrN == record.HeaderSize {
				if err := c.startBatch(); err != nil {
					return err
				}
			}
			continue
		}
		n := min(int64(len(p)), c.left)
		c.crc = crc32.Update(c.crc, castagnoli, p[:n])
		c.left -= n
		c.pos += n
		p = p[n:]
		if c.left == 0 {
			if err := c.endBatch(); err != nil {
				return err
			}
		}
	}
	return c.err
}

func (c *batchChecker) startBatch() error {
	c.h = record.ReadHeader(c.hdr[:])
	h := &c.h
	switch {
	case h.BatchLength < minBatchLength:
		return c.fail("batch length %d below the v2 minimum %d", h.BatchLength, minBatchLength)
	case h.Magic != 2:
		return c.fail("magic %d, want 2", h.Magic)
	case c.batchStart+int64(h.Size()) > c.size:
		return c.fail("batch of %d bytes extends past the end of the file (%d)", h.Size(), c.size)
	case h.LastOffsetDelta < 0:
		return c.fail("negative lastOffsetDelta %d", h.LastOffsetDelta)
	case c.batchStart == 0 && h.BaseOffset != c.base:
		return c.fail("first batch at offset %d, the segment starts at %d", h.BaseOffset, c.base)
	case h.BaseOffset <= c.lastOffset:
		return c.fail("batch offset %d not above the previous batch's last offset %d", h.BaseOffset, c.lastOffset)
	case h.LastOffset() >= c.next:
		return c.fail("batch ends at offset %d, the segment ends before %d", h.LastOffset(), c.next)
	}
	c.crc = crc32.Checksum(c.hdr[crcStart:], castagnoli)
	c.left = int64(h.Size()) - record.HeaderSize
	if c.left == 0 {
		return c.endBatch()
	}
	return nil
}

func (c *batchChecker) endBatch() error {
	if c.crc != c.h.CRC {
		return c.fail("batch CRC %#08x, computed %#08x", c.h.CRC, c.crc)
	}
	c.lastOffset = c.h.LastOffset()
	c.hdrN = 0
	c.batchStart = c.pos
	return nil
}

// finish checks that the file ended on a batch boundary after exactly size
// bytes, with the last batch ending at next-1.
func (c *batchChecker) finish() error {
	switch {
	case c.err != nil:
		return c.err
	case c.pos != c.size:
		return c.fail("file ended after %d bytes, the segment has %d", c.pos, c.size)
	case c.hdrN != 0:
		return c.fail("file ends inside a batch")
	case c.lastOffset != c.next-1:
		return c.fail("batches end at offset %d, the segment ends before %d", c.lastOffset, c.next)
	}
	return nil
}

// readChunk is how much of the .log each read from the file asks for.
const readChunk = 1 << 20

// logReader streams the first size bytes of a segment's .log file, checking
// them with a batchChecker and computing their CRC-32C. At the end it
// returns the checker's verdict instead of io.EOF when that is an error.
type logReader struct {
	r     io.ReaderAt
	size  int64
	pos   int64
	check *batchChecker
	crc   uint32
	done  bool
}

func newLogReader(r io.ReaderAt, check *batchChecker) *logReader {
	return &logReader{r: r, size: check.size, check: check}
}

func (l *logReader) Read(p []byte) (int, error) {
	if l.pos >= l.size {
		if err := l.check.finish(); err != nil {
			return 0, err
		}
		l.done = true
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), l.size-l.pos, readChunk)]
	n, err := l.r.ReadAt(p, l.pos)
	if n < len(p) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("tier: reading %s at byte %d: %w", l.check.path, l.pos, err)
	}
	if err := l.check.write(p); err != nil {
		return 0, err
	}
	l.crc = crc32.Update(l.crc, castagnoli, p)
	l.pos += int64(n)
	return n, nil
}

// lazyReader reads the bytes build returns, calling build on the first Read:
// it lets the footer follow data whose CRC is known only once streamed.
type lazyReader struct {
	build func() ([]byte, error)
	r     *bytes.Reader
}

func (z *lazyReader) Read(p []byte) (int, error) {
	if z.r == nil {
		b, err := z.build()
		if err != nil {
			return 0, err
		}
		z.r = bytes.NewReader(b)
	}
	return z.r.Read(p)
}

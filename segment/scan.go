package segment

import (
	"errors"
	"fmt"
	"io"

	"github.com/chronik-go/chronik/record"
)

// maxDecodedBatch caps the decompressed size of one stored batch read back
// for keys, timestamps or key lookups.
const maxDecodedBatch = 1 << 28

// minBatchLength is the smallest batchLength field of a v2 batch: the header
// after the length field.
const minBatchLength = record.HeaderSize - record.LogOverhead

// readFull reads len(p) bytes at off, treating a short read as an error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// cursor reads batch headers sequentially from an io.ReaderAt through a
// window buffer, so scanning many small batches costs few reads.
type cursor struct {
	r      io.ReaderAt
	size   int64 // readable bytes
	buf    []byte
	bufPos int64 // file position of buf[0]
}

const cursorWindow = 64 << 10

// header returns the framing and header fields of the batch at pos and
// whether a whole header lies within size. It does not check the CRC.
func (c *cursor) header(pos int64) (record.Header, bool, error) {
	if pos+record.HeaderSize > c.size {
		return record.Header{}, false, nil
	}
	if pos < c.bufPos || pos+record.HeaderSize > c.bufPos+int64(len(c.buf)) {
		n := min(int64(cursorWindow), c.size-pos)
		if cap(c.buf) < int(n) {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		if err := readFull(c.r, c.buf, pos); err != nil {
			return record.Header{}, false, err
		}
		c.bufPos = pos
	}
	return record.ReadHeader(c.buf[pos-c.bufPos:]), true, nil
}

// checkFraming reports what is wrong with the framing of a batch header h
// found at pos in a file of size bytes, or "" when nothing is.
func checkFraming(h *record.Header, pos, size int64) string {
	switch {
	case h.BatchLength < minBatchLength:
		return fmt.Sprintf("batch length %d below the v2 minimum %d", h.BatchLength, minBatchLength)
	case pos+int64(h.Size()) > size:
		return fmt.Sprintf("batch of %d bytes extends past the end of the data (%d)", h.Size(), size)
	case h.Magic != 2:
		return fmt.Sprintf("magic %d, want 2", h.Magic)
	case h.LastOffsetDelta < 0:
		return fmt.Sprintf("negative lastOffsetDelta %d", h.LastOffsetDelta)
	}
	return ""
}

// errNotInSegment tells a caller that offset lies past a segment's batches.
var errNotInSegment = errors.New("segment: offset past the segment")

// findBatch returns the position and header of the first batch of the
// segment data (size bytes of r, indexed by entries) whose last offset is at
// least offset, or errNotInSegment.
func findBatch(c *cursor, base int64, entries []IndexEntry, offset int64) (int64, record.Header, error) {
	_, pos := lookupIndex(base, entries, offset)
	for {
		h, ok, err := c.header(pos)
		if err != nil {
			return 0, h, err
		}
		if !ok {
			return 0, h, errNotInSegment
		}
		if why := checkFraming(&h, pos, c.size); why != "" {
			return 0, h, &CorruptionError{Offset: offset, FilePos: pos, Reason: why}
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += int64(h.Size())
	}
}

// readBatches implements ReadSegment over index entries.
func readBatches(r io.ReaderAt, size, base int64, entries []IndexEntry, offset int64, maxBytes int, upTo int64) ([]byte, error) {
	c := &cursor{r: r, size: size}
	pos, h, err := findBatch(c, base, entries, offset)
	if err == errNotInSegment {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if h.LastOffset() >= upTo {
		return nil, nil
	}
	want := min(max(int64(maxBytes), int64(h.Size())), size-pos)
	buf := make([]byte, want)
	if err := readFull(r, buf, pos); err != nil {
		return nil, err
	}
	p := 0
	for p+record.HeaderSize <= len(buf) {
		bh := record.ReadHeader(buf[p:])
		if why := checkFraming(&bh, pos+int64(p), size); why != "" {
			return nil, &CorruptionError{Offset: offset, FilePos: pos + int64(p), Reason: why}
		}
		if p+bh.Size() > len(buf) || bh.LastOffset() >= upTo {
			break
		}
		p += bh.Size()
	}
	return buf[:p:p], nil
}

// ReadSegment serves a fetch from one segment's data, the first size bytes
// of r, with its offset index idx (nil: scan from the start): whole batches
// starting with the batch that contains offset (or the first one after it),
// only batches whose last offset is below upTo, and at most maxBytes bytes
// except that the first batch is returned whole even when larger (Kafka's
// fetch rule, KIP-74). It returns no bytes when no batch qualifies, and a
// *CorruptionError when the data's framing is invalid. The result is a new
// slice.
func ReadSegment(r io.ReaderAt, size int64, idx *OffsetIndex, offset int64, maxBytes int, upTo int64) ([]byte, error) {
	base, entries := int64(0), []IndexEntry(nil)
	if idx != nil {
		base, entries = idx.BaseOffset, idx.Entries
	}
	return readBatches(r, size, base, entries, offset, maxBytes, upTo)
}

// SegmentOffsetForTime finds, in one segment's data (the first size bytes of
// r, with its indexes; either may be nil), the offset of the first record
// whose timestamp is at least ts, as Kafka's LogSegment.findOffsetByTimestamp
// does: the first batch whose maxTimestamp is at least ts, then the first
// record in it whose timestamp (maxTimestamp for LogAppendTime batches) is at
// least ts. found is false when every record is older.
func SegmentOffsetForTime(r io.ReaderAt, size int64, idx *OffsetIndex, tidx *TimeIndex, ts int64) (offset int64, found bool, err error) {
	var base int64
	var entries []IndexEntry
	var tentries []TimeEntry
	if idx != nil {
		base, entries = idx.BaseOffset, idx.Entries
	}
	if tidx != nil {
		base, tentries = tidx.BaseOffset, tidx.Entries
	}
	return offsetForTime(r, size, base, entries, tentries, ts)
}

func offsetForTime(r io.ReaderAt, size, base int64, entries []IndexEntry, tentries []TimeEntry, ts int64) (int64, bool, error) {
	start := lookupTime(base, tentries, ts)
	c := &cursor{r: r, size: size}
	pos, h, err := findBatch(c, base, entries, start)
	if err == errNotInSegment {
		return 0, false, nil
	}
	for ; err == nil; pos += int64(h.Size()) {
		var ok bool
		if h, ok, err = c.header(pos); err != nil || !ok {
			break
		}
		if why := checkFraming(&h, pos, size); why != "" {
			return 0, false, &CorruptionError{Offset: start, FilePos: pos, Reason: why}
		}
		if h.MaxTimestamp < ts {
			continue
		}
		if h.LogAppendTime() {
			return h.BaseOffset, true, nil
		}
		batch := make([]byte, h.Size())
		if err := readFull(r, batch, pos); err != nil {
			return 0, false, err
		}
		off := int64(-1)
		_, werr := record.WalkBatch(batch, &h, nil, maxDecodedBatch, func(_ int, rec *record.Record) error {
			if h.Timestamp(rec) >= ts {
				off = h.Offset(rec)
				return errStopWalk
			}
			return nil
		})
		if werr != nil && werr != errStopWalk {
			return 0, false, fmt.Errorf("segment: records of batch at offset %d: %w", h.BaseOffset, werr)
		}
		if off >= 0 {
			return off, true, nil
		}
	}
	return 0, false, err
}

// errStopWalk ends a record walk early.
var errStopWalk = errors.New("stop")

// addKeys adds the record keys of the (CRC-checked) batch b to bloom. It
// returns the scratch buffer for reuse.
func addKeys(bloom *Bloom, b []byte, h *record.Header, scratch []byte) ([]byte, error) {
	return record.WalkBatch(b, h, scratch, maxDecodedBatch, func(_ int, r *record.Record) error {
		if r.Key != nil {
			bloom.Add(r.Key)
		}
		return nil
	})
}

// batchKeys returns the record keys of b (aliasing b or a new buffer).
func batchKeys(b []byte, h *record.Header) ([][]byte, error) {
	keys := make([][]byte, 0, max(h.NumRecords, 0))
	_, err := record.WalkBatch(b, h, nil, maxDecodedBatch, func(_ int, r *record.Record) error {
		if r.Key != nil {
			keys = append(keys, r.Key)
		}
		return nil
	})
	return keys, err
}

package segment

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/chronik-go/chronik/record"
)

// LookupKey returns the records whose key equals key, newest first, at most
// limit of them (limit <= 0: all), reading only below the high watermark
// and skipping control batches. Segments whose bloom filter excludes the key
// are not read (LookupStats.SegmentsSkipped); with an Archiver, archived
// segments below the local ones are searched too, through their remote
// bloom filters. The returned slices are copies.
func (l *Log) LookupKey(key []byte, limit int) ([]KeyRecord, LookupStats, error) {
	return l.LookupKeyContext(context.Background(), key, limit)
}

// LookupKeyContext is LookupKey with a context bounding calls to the
// Archiver.
func (l *Log) LookupKeyContext(ctx context.Context, key []byte, limit int) ([]KeyRecord, LookupStats, error) {
	var out []KeyRecord
	var st LookupStats
	full := func() bool { return limit > 0 && len(out) >= limit }
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, st, ErrClosed
	}
	hw, start := l.hw, l.startLocked()
	segs := append([]*segment(nil), l.segs...)
	l.mu.Unlock()
	localStart := segs[0].base

	for i := len(segs) - 1; i >= 0 && !full(); i-- {
		s := segs[i]
		l.mu.Lock()
		if s.retired || s.base >= hw || s.size == 0 {
			l.mu.Unlock()
			continue
		}
		if !s.bloom.MayContain(key) {
			st.SegmentsSkipped++
			l.mu.Unlock()
			continue
		}
		s.acquireLocked()
		size := s.size
		l.mu.Unlock()
		recs, err := keyRecords(s.file, size, key, hw)
		l.release(s)
		if err != nil {
			return out, st, fmt.Errorf("segment: looking up a key in %s: %w", s.path, err)
		}
		st.SegmentsScanned++
		out = appendNewestFirst(out, recs, limit)
	}
	if l.opts.Archiver == nil || full() || start >= localStart {
		return out, st, nil
	}
	remote, err := l.remoteSegments(ctx)
	if err != nil {
		return out, st, err
	}
	for i := len(remote) - 1; i >= 0 && !full(); i-- {
		r := remote[i]
		if r.BaseOffset >= localStart || r.NextOffset <= start {
			continue
		}
		may, err := l.opts.Archiver.MayContainKey(ctx, r, key)
		if err != nil {
			return out, st, &RemoteError{Op: "MayContainKey", Err: err}
		}
		if !may {
			st.SegmentsSkipped++
			continue
		}
		recs, err := l.remoteKeyRecords(ctx, r, key)
		if err != nil {
			return out, st, err
		}
		st.SegmentsScanned++
		out = appendNewestFirst(out, recs, limit)
	}
	return out, st, nil
}

func appendNewestFirst(out, recs []KeyRecord, limit int) []KeyRecord {
	for j := len(recs) - 1; j >= 0 && (limit <= 0 || len(out) < limit); j-- {
		out = append(out, recs[j])
	}
	return out
}

// remoteKeyRecords reads a whole archived segment and collects key's records.
func (l *Log) remoteKeyRecords(ctx context.Context, r RemoteSegment, key []byte) ([]KeyRecord, error) {
	var out []KeyRecord
	for off := r.BaseOffset; off < r.NextOffset; {
		data, err := l.opts.Archiver.Read(ctx, r, off, 1<<20)
		if err != nil {
			return out, &RemoteError{Op: "Read", Err: err}
		}
		if len(data) == 0 {
			break
		}
		last := off
		err = forEachBatch(bytes.NewReader(data), int64(len(data)), func(_ int64, b []byte, h *record.Header) error {
			last = h.LastOffset()
			return collectKey(&out, b, h, key, r.NextOffset)
		})
		if err != nil {
			return out, &RemoteError{Op: "Read", Err: err}
		}
		if last < off {
			break
		}
		off = last + 1
	}
	return out, nil
}

// keyRecords reads the first size bytes of a segment and collects the
// records with key below upTo, in offset order.
func keyRecords(r io.ReaderAt, size int64, key []byte, upTo int64) ([]KeyRecord, error) {
	var out []KeyRecord
	err := forEachBatch(r, size, func(_ int64, b []byte, h *record.Header) error {
		if h.BaseOffset >= upTo {
			return errStopWalk
		}
		return collectKey(&out, b, h, key, upTo)
	})
	if err == errStopWalk {
		err = nil
	}
	return out, err
}

// collectKey appends copies of the records of batch b whose key is key.
func collectKey(out *[]KeyRecord, b []byte, h *record.Header, key []byte, upTo int64) error {
	if h.Control() || h.LastOffset() >= upTo {
		return nil
	}
	_, err := record.WalkBatch(b, h, nil, maxDecodedBatch, func(_ int, r *record.Record) error {
		if r.Key == nil || !bytes.Equal(r.Key, key) {
			return nil
		}
		kr := KeyRecord{Offset: h.Offset(r), Timestamp: h.Timestamp(r), Key: bytes.Clone(r.Key)}
		if r.Value != nil {
			kr.Value = bytes.Clone(r.Value)
		}
		err := r.ForEachHeader(func(k, v []byte) error {
			hd := RecordHeader{Key: bytes.Clone(k)}
			if v != nil {
				hd.Value = bytes.Clone(v)
			}
			kr.Headers = append(kr.Headers, hd)
			return nil
		})
		*out = append(*out, kr)
		return err
	})
	return err
}

// forEachBatch calls fn for every batch in the first size bytes of r, read
// in chunks, checking framing and CRC. fn's batch is valid only during the
// call.
func forEachBatch(r io.ReaderAt, size int64, fn func(pos int64, b []byte, h *record.Header) error) error {
	var buf []byte
	bufPos := int64(0)
	for pos := int64(0); pos < size; {
		if pos+record.HeaderSize > size {
			return &CorruptionError{FilePos: pos, Reason: "trailing bytes shorter than a batch header"}
		}
		if pos < bufPos || pos+record.HeaderSize > bufPos+int64(len(buf)) {
			buf = growTo(buf, int(min(int64(scanChunk), size-pos)))
			if err := readFull(r, buf, pos); err != nil {
				return err
			}
			bufPos = pos
		}
		h := record.ReadHeader(buf[pos-bufPos:])
		if why := checkFraming(&h, pos, size); why != "" {
			return &CorruptionError{Offset: h.BaseOffset, FilePos: pos, Reason: why}
		}
		n := int64(h.Size())
		if pos+n > bufPos+int64(len(buf)) {
			buf = growTo(buf, int(max(min(int64(scanChunk), size-pos), n)))
			if err := readFull(r, buf, pos); err != nil {
				return err
			}
			bufPos = pos
		}
		b := buf[pos-bufPos : pos-bufPos+n]
		if !record.CRCValid(b) {
			return &CorruptionError{Offset: h.BaseOffset, FilePos: pos, Reason: "CRC mismatch"}
		}
		if err := fn(pos, b, &h); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

package segment

import (
	"fmt"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

// segment is one local segment: its open .log file and in-memory indexes.
//
// While the segment is active, the fields below "guarded by Log.mu" change
// under Log.mu on every append; once sealed they never change again. Readers
// copy what they need under Log.mu (slice headers included: appends only
// write beyond the copied length) and read the file outside it, holding a
// reference so that retention can unlink the file meanwhile.
type segment struct {
	base int64
	path string // the .log file
	file vfs.File

	// Guarded by Log.mu while active; frozen once sealed.
	size     int64
	next     int64 // one past the last offset
	maxTs    int64 // largest batch maxTimestamp, -1 when none
	maxTsOff int64 // base offset of the first batch with maxTs
	firstTs  int64 // maxTimestamp of the first batch, -1 when none
	// firstTsKnown is false for a segment loaded from index files until
	// firstTs is read from its first batch.
	firstTsKnown bool
	created      time.Time
	index        []IndexEntry
	tindex       []TimeEntry
	lastIdxPos   int64 // position of the last index entry, -1 when none
	bloom        *Bloom

	// Guarded by Log.mu.
	synced    int64 // bytes covered by a successful fsync
	sealed    bool  // no more appends
	persisted bool  // index files on disk describe all of size
	archived  bool  // the Archiver confirmed it
	refs      int   // readers holding the file open
	retired   bool  // removed from the log: close the file at refs == 0
}

func newSegment(dir string, base int64, f vfs.File, fpRate float64, now time.Time) *segment {
	s := &segment{
		base:         base,
		path:         segmentPath(dir, base, LogSuffix),
		file:         f,
		next:         base,
		maxTs:        -1,
		maxTsOff:     base,
		firstTs:      -1,
		firstTsKnown: true,
		created:      now,
		lastIdxPos:   -1,
		bloom:        NewBloom(fpRate),
	}
	s.bloom.BaseOffset, s.bloom.NextOffset = base, base
	return s
}

// track records the batch with header h written at pos: indexes (Kafka's
// LogSegment.append order: the running max timestamp first, then the index
// entries when the interval is reached), bloom filter, size and next offset.
// keys nil with known false means the batch's keys are unknown.
func (s *segment) track(pos int64, h *record.Header, keys [][]byte, keysKnown bool, interval int) {
	if s.size == 0 {
		s.firstTs, s.firstTsKnown = h.MaxTimestamp, true
	}
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOff = h.MaxTimestamp, h.BaseOffset
	}
	if s.lastIdxPos < 0 || pos-s.lastIdxPos >= int64(interval) {
		s.index = append(s.index, IndexEntry{RelOffset: uint32(h.BaseOffset - s.base), Position: uint32(pos)})
		s.lastIdxPos = pos
		if n := len(s.tindex); s.maxTs >= 0 && (n == 0 || s.maxTs > s.tindex[n-1].Timestamp) {
			s.tindex = append(s.tindex, TimeEntry{Timestamp: s.maxTs, RelOffset: uint32(s.maxTsOff - s.base)})
		}
	}
	if !h.Control() {
		if !keysKnown {
			s.bloom.SetAll()
		}
		for _, k := range keys {
			if k != nil {
				s.bloom.Add(k)
			}
		}
	}
	s.size = pos + int64(h.Size())
	s.next = h.LastOffset() + 1
	s.bloom.LogSize, s.bloom.NextOffset = s.size, s.next
}

// offsetIndex returns the .index content for the segment's current state.
func (s *segment) offsetIndex() *OffsetIndex {
	return &OffsetIndex{BaseOffset: s.base, LogSize: s.size, NextOffset: s.next, Entries: s.index}
}

// timeIndex returns the .timeindex content for the segment's current state.
func (s *segment) timeIndex() *TimeIndex {
	return &TimeIndex{BaseOffset: s.base, LogSize: s.size, NextOffset: s.next,
		MaxTimestamp: s.maxTs, MaxTimestampOffset: s.maxTsOff, Entries: s.tindex}
}

// loadIndexes adopts decoded index files as the segment's state for the
// first x.LogSize bytes. The caller checked they agree with each other.
func (s *segment) loadIndexes(x *OffsetIndex, t *TimeIndex, b *Bloom) {
	s.index, s.tindex, s.bloom = x.Entries, t.Entries, b
	s.firstTsKnown = x.LogSize == 0
	s.size, s.next = x.LogSize, x.NextOffset
	s.maxTs, s.maxTsOff = t.MaxTimestamp, t.MaxTimestampOffset
	s.lastIdxPos = -1
	if n := len(x.Entries); n > 0 {
		s.lastIdxPos = int64(x.Entries[n-1].Position)
	}
}

// scanResult is where a recovery scan of a segment stopped.
type scanResult struct {
	corrupt *CorruptionError // nil when the data ends cleanly at fileSize
}

const scanChunk = 1 << 20

// scan validates the batches of the .log from s.size to fileSize (framing,
// CRC, offset continuity from s.next) and tracks each valid one. It stops at
// the first invalid byte and reports it; s.size is then the valid length.
func (s *segment) scan(fileSize int64, interval int) (scanResult, error) {
	var buf, scratch []byte
	bufPos := int64(-1)
	for pos := s.size; pos < fileSize; {
		corrupt := func(why string) (scanResult, error) {
			return scanResult{&CorruptionError{Segment: s.path, Offset: s.next, FilePos: pos, Reason: why}}, nil
		}
		if fileSize-pos < record.HeaderSize {
			return corrupt(fmt.Sprintf("%d trailing bytes, less than a batch header", fileSize-pos))
		}
		// Make buf hold the header at pos.
		if bufPos < 0 || pos+record.HeaderSize > bufPos+int64(len(buf)) {
			n := min(int64(scanChunk), fileSize-pos)
			buf = growTo(buf, int(n))
			if err := readFull(s.file, buf, pos); err != nil {
				return scanResult{}, &StorageError{Op: "read", Path: s.path, Err: err}
			}
			bufPos = pos
		}
		h := record.ReadHeader(buf[pos-bufPos:])
		if why := checkFraming(&h, pos, fileSize); why != "" {
			return corrupt(why)
		}
		size := int64(h.Size())
		if pos+size > bufPos+int64(len(buf)) {
			n := max(min(int64(scanChunk), fileSize-pos), size)
			buf = growTo(buf, int(n))
			if err := readFull(s.file, buf, pos); err != nil {
				return scanResult{}, &StorageError{Op: "read", Path: s.path, Err: err}
			}
			bufPos = pos
		}
		batch := buf[pos-bufPos : pos-bufPos+size]
		if !record.CRCValid(batch) {
			return corrupt("CRC mismatch")
		}
		if h.BaseOffset != s.next {
			return corrupt(fmt.Sprintf("batch base offset %d does not continue the log", h.BaseOffset))
		}
		keysKnown := true
		if !h.Control() {
			var err error
			scratch, err = addKeys(s.bloom, batch, &h, scratch)
			keysKnown = err == nil
		}
		s.track(pos, &h, nil, keysKnown, interval)
		pos += size
	}
	return scanResult{}, nil
}

func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// sealed returns the SealedSegment handed to the Archiver.
func (s *segment) sealedSegment(dir string, fs vfs.FS) SealedSegment {
	return SealedSegment{
		BaseOffset: s.base, NextOffset: s.next, MaxTimestamp: s.maxTs, Size: s.size,
		FS: fs, LogPath: s.path,
		IndexPath:     segmentPath(dir, s.base, IndexSuffix),
		TimeIndexPath: segmentPath(dir, s.base, TimeIndexSuffix),
		BloomPath:     segmentPath(dir, s.base, BloomSuffix),
	}
}

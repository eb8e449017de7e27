package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// segmentScan is what scanPartitionDir found in one partition directory of
// a stopped broker.
type segmentScan struct {
	Segments     int
	Batches      int
	Records      int64 // records of non-control batches
	ControlBatch int   // control batches (transaction markers)
	StartOffset  int64 // base offset of the first segment
	NextOffset   int64 // last offset + 1 of the last batch
	Bytes        int64
}

// scanError is a batch of a segment file that breaks the format
// (docs/format.md, ".log: raw batches").
type scanError struct {
	File     string
	Position int64 // byte position of the batch in File
	Offset   int64 // the batch's base offset, or -1 when unreadable
	Reason   string
}

func (e *scanError) Error() string {
	return fmt.Sprintf("reliability: %s at byte %d (batch offset %d): %s", e.File, e.Position, e.Offset, e.Reason)
}

// scanPartitionDir reads every .log segment of a partition directory in
// offset order and checks each stored batch as the broker's recovery does:
// a complete v2 header, the whole batch inside the file, a valid CRC-32C,
// a non-negative lastOffsetDelta, the first batch at the segment's base
// offset and every other batch right after the previous one, across
// segments too. The broker must be stopped: a live broker may be writing
// the last segment.
func scanPartitionDir(dir string) (segmentScan, error) {
	var sc segmentScan
	names, err := filepath.Glob(filepath.Join(dir, "*"+segment.LogSuffix))
	if err != nil {
		return sc, fmt.Errorf("reliability: list segments of %s: %w", dir, err)
	}
	type seg struct {
		path string
		base int64
	}
	segs := make([]seg, 0, len(names))
	for _, n := range names {
		base, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(n), segment.LogSuffix), 10, 64)
		if err != nil {
			return sc, &scanError{File: n, Offset: -1, Reason: "file name is not a base offset"}
		}
		segs = append(segs, seg{n, base})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].base < segs[j].base })
	sc.Segments = len(segs)
	next := int64(-1)
	for i, s := range segs {
		if i == 0 {
			sc.StartOffset = s.base
			next = s.base
		}
		if s.base != next {
			return sc, &scanError{File: s.path, Offset: s.base, Reason: fmt.Sprintf("segment starts at %d, the previous one ended at %d", s.base, next)}
		}
		b, err := os.ReadFile(s.path)
		if err != nil {
			return sc, fmt.Errorf("reliability: read %s: %w", s.path, err)
		}
		sc.Bytes += int64(len(b))
		pos := int64(0)
		for len(b) > 0 {
			if len(b) < record.HeaderSize {
				return sc, &scanError{File: s.path, Position: pos, Offset: -1, Reason: fmt.Sprintf("%d trailing bytes, less than a batch header", len(b))}
			}
			h := record.ReadHeader(b)
			switch {
			case h.Magic != 2:
				return sc, &scanError{File: s.path, Position: pos, Offset: h.BaseOffset, Reason: fmt.Sprintf("magic %d", h.Magic)}
			case h.BatchLength < record.HeaderSize-12 || h.Size() > len(b):
				return sc, &scanError{File: s.path, Position: pos, Offset: h.BaseOffset, Reason: fmt.Sprintf("batch length %d with %d bytes left", h.BatchLength, len(b))}
			case !record.CRCValid(b[:h.Size()]):
				return sc, &scanError{File: s.path, Position: pos, Offset: h.BaseOffset, Reason: "CRC-32C mismatch"}
			case h.LastOffsetDelta < 0:
				return sc, &scanError{File: s.path, Position: pos, Offset: h.BaseOffset, Reason: fmt.Sprintf("lastOffsetDelta %d", h.LastOffsetDelta)}
			case h.BaseOffset != next:
				return sc, &scanError{File: s.path, Position: pos, Offset: h.BaseOffset, Reason: fmt.Sprintf("offset gap or overlap: expected base offset %d", next)}
			}
			sc.Batches++
			if h.Control() {
				sc.ControlBatch++
			} else {
				sc.Records += int64(h.NumRecords)
			}
			next = h.LastOffset() + 1
			pos += int64(h.Size())
			b = b[h.Size():]
		}
	}
	sc.NextOffset = next
	if len(segs) == 0 {
		sc.NextOffset = 0
	}
	return sc, nil
}

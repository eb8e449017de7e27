package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// File name suffixes of a segment's files.
const (
	LogSuffix       = ".log"
	IndexSuffix     = ".index"
	TimeIndexSuffix = ".timeindex"
	BloomSuffix     = ".bloom"
	checkpointName  = "log.checkpoint"
	tmpSuffix       = ".tmp"
)

// formatVersion is the version every file is written with; readers accept
// it and the one before (there is none before 1 yet).
const formatVersion = 1

// Magics of the files the package defines.
var (
	magicOffsetIndex = [4]byte{'C', 'K', 'O', 'I'}
	magicTimeIndex   = [4]byte{'C', 'K', 'T', 'I'}
	magicBloom       = [4]byte{'C', 'K', 'B', 'F'}
	magicCheckpoint  = [4]byte{'C', 'K', 'L', 'C'}
)

// fileHeaderSize is magic, version, flags, reserved, baseOffset, logSize,
// nextOffset.
const fileHeaderSize = 4 + 1 + 1 + 2 + 8 + 8 + 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var be = binary.BigEndian

// SegmentName returns the file name of the segment based at base with the
// given suffix: the base offset zero-padded to 20 digits, as Kafka names them.
func SegmentName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseSegmentName returns the base offset of a file named by SegmentName.
func parseSegmentName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, SegmentName(base, suffix))
}

// fileHeader is the part every index-like file starts with.
type fileHeader struct {
	flags      byte
	baseOffset int64
	logSize    int64
	nextOffset int64
}

func appendHeader(b []byte, magic [4]byte, h fileHeader) []byte {
	b = append(b, magic[:]...)
	b = append(b, formatVersion, h.flags, 0, 0)
	b = be.AppendUint64(b, uint64(h.baseOffset))
	b = be.AppendUint64(b, uint64(h.logSize))
	return be.AppendUint64(b, uint64(h.nextOffset))
}

func appendCRC(b []byte) []byte { return be.AppendUint32(b, crc32.Checksum(b, castagnoli)) }

// checkFile verifies magic, version, flags (only bits in allowedFlags may
// be set), reserved bytes and CRC and returns the header and the body
// between header and CRC.
func checkFile(b []byte, magic [4]byte, allowedFlags byte, what string) (fileHeader, []byte, error) {
	var h fileHeader
	if len(b) < fileHeaderSize+4 {
		return h, nil, &FormatError{what, fmt.Sprintf("%d bytes is too short", len(b))}
	}
	if [4]byte(b[:4]) != magic {
		return h, nil, &FormatError{what, "bad magic"}
	}
	if v := b[4]; v == 0 || v > formatVersion || v+1 < formatVersion {
		return h, nil, &FormatError{what, fmt.Sprintf("unsupported version %d", b[4])}
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != be.Uint32(b[len(b)-4:]) {
		return h, nil, &FormatError{what, "CRC mismatch"}
	}
	if b[5]&^allowedFlags != 0 || b[6] != 0 || b[7] != 0 {
		return h, nil, &FormatError{what, fmt.Sprintf("unknown flags %#x or reserved bytes set", b[5:8])}
	}
	h.flags = b[5]
	h.baseOffset = int64(be.Uint64(b[8:]))
	h.logSize = int64(be.Uint64(b[16:]))
	h.nextOffset = int64(be.Uint64(b[24:]))
	if h.baseOffset < 0 || h.logSize < 0 || h.nextOffset < h.baseOffset {
		return h, nil, &FormatError{what, "inconsistent header"}
	}
	return h, body[fileHeaderSize:], nil
}

// IndexEntry is one sparse offset index entry: the batch whose base offset
// is the segment base plus RelOffset starts at byte Position of the .log.
type IndexEntry struct {
	RelOffset uint32
	Position  uint32
}

// OffsetIndex is a segment's sparse offset index (the .index file).
type OffsetIndex struct {
	BaseOffset int64 // the segment's base offset
	LogSize    int64 // .log bytes described
	NextOffset int64 // one past the last offset within LogSize
	Entries    []IndexEntry
}

// Encode returns the .index file bytes.
func (x *OffsetIndex) Encode() []byte {
	b := make([]byte, 0, fileHeaderSize+4+8*len(x.Entries)+4)
	b = appendHeader(b, magicOffsetIndex, fileHeader{baseOffset: x.BaseOffset, logSize: x.LogSize, nextOffset: x.NextOffset})
	b = be.AppendUint32(b, uint32(len(x.Entries)))
	for _, e := range x.Entries {
		b = be.AppendUint32(b, e.RelOffset)
		b = be.AppendUint32(b, e.Position)
	}
	return appendCRC(b)
}

// DecodeOffsetIndex parses a .index file, checking magic, version, CRC and
// that entries are strictly increasing and within LogSize.
func DecodeOffsetIndex(b []byte) (*OffsetIndex, error) {
	const what = "offset index"
	h, body, err := checkFile(b, magicOffsetIndex, 0, what)
	if err != nil {
		return nil, err
	}
	if len(body) < 4 {
		return nil, &FormatError{what, "missing entry count"}
	}
	n := be.Uint32(body)
	body = body[4:]
	if uint64(len(body)) != 8*uint64(n) {
		return nil, &FormatError{what, fmt.Sprintf("%d entries in %d bytes", n, len(body))}
	}
	x := &OffsetIndex{BaseOffset: h.baseOffset, LogSize: h.logSize, NextOffset: h.nextOffset, Entries: make([]IndexEntry, n)}
	for i := range x.Entries {
		e := IndexEntry{RelOffset: be.Uint32(body[8*i:]), Position: be.Uint32(body[8*i+4:])}
		if i > 0 && (e.RelOffset <= x.Entries[i-1].RelOffset || e.Position <= x.Entries[i-1].Position) {
			return nil, &FormatError{what, fmt.Sprintf("entry %d not increasing", i)}
		}
		if int64(e.Position) >= h.logSize || h.baseOffset+int64(e.RelOffset) >= h.nextOffset {
			return nil, &FormatError{what, fmt.Sprintf("entry %d beyond the data", i)}
		}
		x.Entries[i] = e
	}
	return x, nil
}

// Lookup returns where to start scanning batch headers for offset: the base
// offset and file position of the last indexed batch at or below offset,
// or the segment start when there is none.
func (x *OffsetIndex) Lookup(offset int64) (batchOffset, position int64) {
	return lookupIndex(x.BaseOffset, x.Entries, offset)
}

func lookupIndex(base int64, entries []IndexEntry, offset int64) (int64, int64) {
	i := sort.Search(len(entries), func(i int) bool { return base+int64(entries[i].RelOffset) > offset })
	if i == 0 {
		return base, 0
	}
	e := entries[i-1]
	return base + int64(e.RelOffset), int64(e.Position)
}

// TimeEntry is one time index entry: Timestamp is the largest batch
// maxTimestamp so far, first reached by the batch at the segment base plus
// RelOffset.
type TimeEntry struct {
	Timestamp int64
	RelOffset uint32
}

// TimeIndex is a segment's time index (the .timeindex file).
type TimeIndex struct {
	BaseOffset   int64 // the segment's base offset
	LogSize      int64 // .log bytes described
	NextOffset   int64 // one past the last offset within LogSize
	MaxTimestamp int64 // largest batch maxTimestamp, -1 when none
	// MaxTimestampOffset is the base offset of the first batch whose
	// maxTimestamp is MaxTimestamp (the segment base when there is none).
	MaxTimestampOffset int64
	Entries            []TimeEntry
}

// Encode returns the .timeindex file bytes.
func (t *TimeIndex) Encode() []byte {
	b := make([]byte, 0, fileHeaderSize+16+12*len(t.Entries)+4)
	b = appendHeader(b, magicTimeIndex, fileHeader{baseOffset: t.BaseOffset, logSize: t.LogSize, nextOffset: t.NextOffset})
	b = be.AppendUint64(b, uint64(t.MaxTimestamp))
	b = be.AppendUint32(b, uint32(t.MaxTimestampOffset-t.BaseOffset))
	b = be.AppendUint32(b, uint32(len(t.Entries)))
	for _, e := range t.Entries {
		b = be.AppendUint64(b, uint64(e.Timestamp))
		b = be.AppendUint32(b, e.RelOffset)
	}
	return appendCRC(b)
}

// DecodeTimeIndex parses a .timeindex file, checking magic, version, CRC and
// that timestamps and offsets are strictly increasing.
func DecodeTimeIndex(b []byte) (*TimeIndex, error) {
	const what = "time index"
	h, body, err := checkFile(b, magicTimeIndex, 0, what)
	if err != nil {
		return nil, err
	}
	if len(body) < 16 {
		return nil, &FormatError{what, "missing fields"}
	}
	t := &TimeIndex{BaseOffset: h.baseOffset, LogSize: h.logSize, NextOffset: h.nextOffset}
	t.MaxTimestamp = int64(be.Uint64(body))
	t.MaxTimestampOffset = h.baseOffset + int64(be.Uint32(body[8:]))
	n := be.Uint32(body[12:])
	body = body[16:]
	if uint64(len(body)) != 12*uint64(n) {
		return nil, &FormatError{what, fmt.Sprintf("%d entries in %d bytes", n, len(body))}
	}
	if t.MaxTimestamp < -1 {
		return nil, &FormatError{what, fmt.Sprintf("max timestamp %d", t.MaxTimestamp)}
	}
	if t.MaxTimestampOffset > h.nextOffset || (t.MaxTimestampOffset == h.nextOffset && h.nextOffset > h.baseOffset) {
		return nil, &FormatError{what, "max timestamp offset beyond the data"}
	}
	t.Entries = make([]TimeEntry, n)
	for i := range t.Entries {
		e := TimeEntry{Timestamp: int64(be.Uint64(body[12*i:])), RelOffset: be.Uint32(body[12*i+8:])}
		if i > 0 && (e.Timestamp <= t.Entries[i-1].Timestamp || e.RelOffset <= t.Entries[i-1].RelOffset) {
			return nil, &FormatError{what, fmt.Sprintf("entry %d not increasing", i)}
		}
		if e.Timestamp < 0 || h.baseOffset+int64(e.RelOffset) >= h.nextOffset || e.Timestamp > t.MaxTimestamp {
			return nil, &FormatError{what, fmt.Sprintf("entry %d beyond the data", i)}
		}
		t.Entries[i] = e
	}
	return t, nil
}

// Lookup returns the base offset of the batch to start scanning from for the
// first batch whose maxTimestamp is at least ts: every batch before it has a
// smaller maxTimestamp.
func (t *TimeIndex) Lookup(ts int64) int64 { return lookupTime(t.BaseOffset, t.Entries, ts) }

func lookupTime(base int64, entries []TimeEntry, ts int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Timestamp > ts })
	if i == 0 {
		return base
	}
	return base + int64(entries[i-1].RelOffset)
}

// checkpoint is the log.checkpoint file.
type checkpoint struct {
	logStartOffset int64
}

func (c checkpoint) encode() []byte {
	b := make([]byte, 0, 20)
	b = append(b, magicCheckpoint[:]...)
	b = append(b, formatVersion, 0, 0, 0)
	b = be.AppendUint64(b, uint64(c.logStartOffset))
	return appendCRC(b)
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	const what = "checkpoint"
	if len(b) != 20 {
		return checkpoint{}, &FormatError{what, fmt.Sprintf("%d bytes, want 20", len(b))}
	}
	if [4]byte(b[:4]) != magicCheckpoint {
		return checkpoint{}, &FormatError{what, "bad magic"}
	}
	if b[4] != formatVersion {
		return checkpoint{}, &FormatError{what, fmt.Sprintf("unsupported version %d", b[4])}
	}
	if crc32.Checksum(b[:16], castagnoli) != be.Uint32(b[16:]) {
		return checkpoint{}, &FormatError{what, "CRC mismatch"}
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return checkpoint{}, &FormatError{what, "unknown flags or reserved bytes set"}
	}
	c := checkpoint{logStartOffset: int64(be.Uint64(b[8:]))}
	if c.logStartOffset < 0 {
		return checkpoint{}, &FormatError{what, "negative log start offset"}
	}
	return c, nil
}

package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Checkpoint record: the value of the stored field fieldCheckpoint of the
// one checkpoint document each partition index holds (document id
// checkpointID). It is replaced in the same bluge batch as the documents
// it covers, so a persisted index snapshot always pairs documents with
// their checkpoint. Layout (big-endian, 32 bytes):
//
//	0   4  magic "CXIC"
//	4   1  version (1)
//	5   3  reserved, zero
//	8   8  next offset: every record below it is indexed
//	16  4  partition
//	20  8  write time, Unix milliseconds (diagnostics only)
//	28  4  CRC-32C of bytes 0-27
const (
	checkpointMagic   = "CXIC"
	checkpointVersion = 1
	checkpointSize    = 32

	checkpointID    = "\xff_checkpoint" // _id term of the checkpoint document
	fieldCheckpoint = "\xff_checkpoint" // its stored field
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// checkpointRecord is a decoded checkpoint.
type checkpointRecord struct {
	next      int64
	partition int32
	written   int64
}

func (c checkpointRecord) encode() []byte {
	b := make([]byte, checkpointSize)
	copy(b, checkpointMagic)
	b[4] = checkpointVersion
	binary.BigEndian.PutUint64(b[8:], uint64(c.next))
	binary.BigEndian.PutUint32(b[16:], uint32(c.partition))
	binary.BigEndian.PutUint64(b[20:], uint64(c.written))
	binary.BigEndian.PutUint32(b[28:], crc32.Checksum(b[:28], crcTable))
	return b
}

// CheckpointError is a checkpoint record that cannot be trusted.
type CheckpointError struct {
	Path   string // the partition index directory
	Reason string
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("index: checkpoint in %s: %s", e.Path, e.Reason)
}

func decodeCheckpoint(b []byte, path string) (checkpointRecord, error) {
	switch {
	case len(b) != checkpointSize:
		return checkpointRecord{}, &CheckpointError{path, fmt.Sprintf("%d bytes, want %d", len(b), checkpointSize)}
	case string(b[:4]) != checkpointMagic:
		return checkpointRecord{}, &CheckpointError{path, fmt.Sprintf("bad magic %q", b[:4])}
	case b[4] != checkpointVersion:
		return checkpointRecord{}, &CheckpointError{path, fmt.Sprintf("unknown version %d", b[4])}
	case binary.BigEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], crcTable):
		return checkpointRecord{}, &CheckpointError{path, "CRC mismatch"}
	}
	c := checkpointRecord{
		next:      int64(binary.BigEndian.Uint64(b[8:])),
		partition: int32(binary.BigEndian.Uint32(b[16:])),
		written:   int64(binary.BigEndian.Uint64(b[20:])),
	}
	if c.next < 0 {
		return checkpointRecord{}, &CheckpointError{path, fmt.Sprintf("negative offset %d", c.next)}
	}
	return c, nil
}

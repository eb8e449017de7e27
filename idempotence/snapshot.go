package idempotence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Snapshot file format (docs/format.md, "Producer state snapshot"):
//
//	magic "CKPS" | version u8 (1) | offset i64 | count u32 |
//	count × entry | crc u32 (CRC-32C of every byte before it)
//
//	entry: producerId i64 | epoch i16 | coordinatorEpoch i32 |
//	       lastTimestamp i64 | txnFirstOffset i64 | n u8 (<= 5) |
//	       n × (firstSeq i32 | lastSeq i32 | firstOffset i64 | lastOffset i64 | timestamp i64)
//
// Unlike Kafka's ProducerSnapshot, every cached batch is kept, so a retry
// of any of the last five batches is still recognised after a restart.
const (
	snapshotMagic   = "CKPS"
	snapshotVersion = 1
	entryFixedSize  = 8 + 2 + 4 + 8 + 8 + 1
	batchMetaSize   = 4 + 4 + 8 + 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is wrapped by every snapshot decoding error.
var ErrCorruptSnapshot = errors.New("idempotence: corrupt producer state snapshot")

// AppendSnapshot encodes the state as of log offset (the next offset after
// the last batch it reflects) and appends it to dst.
func (s *State) AppendSnapshot(dst []byte, offset int64) []byte {
	start := len(dst)
	dst = append(dst, snapshotMagic...)
	dst = append(dst, snapshotVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	entries := s.Producers()
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(entries)))
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ProducerID))
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.Epoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.CoordinatorEpoch))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.LastTimestamp))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.TxnFirstOffset))
		dst = append(dst, byte(len(e.Batches)))
		for _, m := range e.Batches {
			dst = binary.BigEndian.AppendUint32(dst, uint32(m.FirstSeq))
			dst = binary.BigEndian.AppendUint32(dst, uint32(m.LastSeq))
			dst = binary.BigEndian.AppendUint64(dst, uint64(m.FirstOffset))
			dst = binary.BigEndian.AppendUint64(dst, uint64(m.LastOffset))
			dst = binary.BigEndian.AppendUint64(dst, uint64(m.Timestamp))
		}
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// LoadSnapshot decodes a snapshot into a new State and returns it with the
// log offset it reflects. Any damage gives an error wrapping
// ErrCorruptSnapshot; the caller then falls back to an older snapshot or
// to replaying the whole log.
func LoadSnapshot(b []byte) (*State, int64, error) {
	fail := func(format string, args ...any) (*State, int64, error) {
		return nil, 0, fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
	const head = 4 + 1 + 8 + 4
	if len(b) < head+4 {
		return fail("%d bytes is too short", len(b))
	}
	if string(b[:4]) != snapshotMagic {
		return fail("bad magic %q", b[:4])
	}
	if b[4] != snapshotVersion {
		return fail("unsupported version %d", b[4])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fail("checksum mismatch")
	}
	offset := int64(binary.BigEndian.Uint64(b[5:]))
	count := binary.BigEndian.Uint32(b[13:])
	p := body[head:]
	if uint64(count)*entryFixedSize > uint64(len(p)) {
		return fail("%d entries cannot fit in %d bytes", count, len(p))
	}
	s := New()
	for i := uint32(0); i < count; i++ {
		if len(p) < entryFixedSize {
			return fail("entry %d truncated", i)
		}
		e := Entry{
			ProducerID:       int64(binary.BigEndian.Uint64(p)),
			Epoch:            int16(binary.BigEndian.Uint16(p[8:])),
			CoordinatorEpoch: int32(binary.BigEndian.Uint32(p[10:])),
			LastTimestamp:    int64(binary.BigEndian.Uint64(p[14:])),
			TxnFirstOffset:   int64(binary.BigEndian.Uint64(p[22:])),
		}
		n := int(p[30])
		p = p[entryFixedSize:]
		if n > MaxCachedBatches || len(p) < n*batchMetaSize {
			return fail("entry %d has %d batches", i, n)
		}
		for k := 0; k < n; k++ {
			e.Batches = append(e.Batches, BatchMeta{
				FirstSeq:    int32(binary.BigEndian.Uint32(p)),
				LastSeq:     int32(binary.BigEndian.Uint32(p[4:])),
				FirstOffset: int64(binary.BigEndian.Uint64(p[8:])),
				LastOffset:  int64(binary.BigEndian.Uint64(p[16:])),
				Timestamp:   int64(binary.BigEndian.Uint64(p[24:])),
			})
			p = p[batchMetaSize:]
		}
		s.Restore(e)
	}
	if len(p) != 0 {
		return fail("%d trailing bytes", len(p))
	}
	return s, offset, nil
}

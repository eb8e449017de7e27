package record

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/chronik-go/chronik/compress"
)

// Byte offsets of the v2 RecordBatch header fields (docs/format.md).
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of the v2 batch header; records follow it.
	HeaderSize = 61
	// LogOverhead is the baseOffset and batchLength prefix that batchLength
	// does not count.
	LogOverhead = 12
	// MinLegacyLength is Kafka's smallest legal batchLength field value
	// (the legacy message header), below which framing is corrupt.
	MinLegacyLength = 14
)

// Attribute bits of a v2 batch.
const (
	AttrCodecMask     = 0x07
	AttrLogAppendTime = 0x08
	AttrTransactional = 0x10
	AttrControl       = 0x20
	AttrDeleteHorizon = 0x40
)

// NoTimestamp is the timestamp of a record that carries none (Kafka's
// RecordBatch.NO_TIMESTAMP); it is also "no producer id", "no epoch" and
// "no sequence" in the header.
const NoTimestamp = -1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded v2 RecordBatch header, fields in wire order.
type Header struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the batch's compression codec (it may be invalid: check Valid).
func (h *Header) Codec() compress.Codec { return compress.Codec(h.Attributes & AttrCodecMask) }

// LogAppendTime reports whether the timestamp-type bit says LogAppendTime.
func (h *Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h *Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports whether the batch holds control records (transaction markers).
func (h *Header) Control() bool { return h.Attributes&AttrControl != 0 }

// Size is the whole batch size in bytes, prefix included.
func (h *Header) Size() int { return LogOverhead + int(h.BatchLength) }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// LastSequence is the sequence of the batch's last record, wrapping after
// math.MaxInt32 to 0 as Kafka does (DefaultRecordBatch.incrementSequence).
func (h *Header) LastSequence() int32 {
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// Timestamp is the timestamp readers see for r, a record of this batch:
// maxTimestamp when the LogAppendTime bit is set, else baseTimestamp plus
// the record's delta (DefaultRecord.readFrom).
func (h *Header) Timestamp(r *Record) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// Offset is the offset of r, a record of this batch.
func (h *Header) Offset(r *Record) int64 { return h.BaseOffset + int64(r.OffsetDelta) }

// IncrementSequence adds delta to seq modulo 2^31.
func IncrementSequence(seq, delta int32) int32 {
	if seq > int32(0x7fffffff)-delta {
		return delta - (int32(0x7fffffff) - seq) - 1
	}
	return seq + delta
}

// ReadHeader decodes the header of the batch at the start of b without
// checking the CRC. b must hold at least HeaderSize bytes.
func ReadHeader(b []byte) Header {
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(be.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offRecordCount:])),
	}
}

// readFramingHeader decodes what a framed batch of at least 17 bytes
// surely holds (offset, length, leader epoch, magic) and, when b is long
// enough, the rest of the header.
func readFramingHeader(b []byte) Header {
	if len(b) >= HeaderSize {
		return ReadHeader(b)
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(be.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
	}
}

// ComputeCRC returns the CRC-32C of b[21:], the range a v2 batch's CRC covers.
func ComputeCRC(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// CRCValid reports whether the stored CRC of the v2 batch b matches its bytes.
func CRCValid(b []byte) bool {
	return len(b) >= HeaderSize && binary.BigEndian.Uint32(b[offCRC:]) == ComputeCRC(b)
}

// SetBaseOffset overwrites the base offset in place. It is outside the CRC.
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SetPartitionLeaderEpoch overwrites the leader epoch in place. It is outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetMaxTimestamp sets maxTimestamp and the timestamp type of the v2 batch
// b in place, as Kafka's DefaultRecordBatch.setMaxTimestamp does: when
// neither changes it touches nothing and returns false; otherwise it writes
// ts, sets the LogAppendTime bit if logAppendTime and clears it if not,
// rebuilds the attributes from their defined bits (codec, timestamp type,
// transactional, control, delete horizon; bits 7-15 become 0) and
// recomputes the CRC. It reports whether b changed.
func SetMaxTimestamp(b []byte, ts int64, logAppendTime bool) bool {
	be := binary.BigEndian
	a := be.Uint16(b[offAttributes:])
	if int64(be.Uint64(b[offMaxTimestamp:])) == ts && (a&AttrLogAppendTime != 0) == logAppendTime {
		return false
	}
	a &= AttrCodecMask | AttrTransactional | AttrControl | AttrDeleteHorizon
	if logAppendTime {
		a |= AttrLogAppendTime
	}
	be.PutUint16(b[offAttributes:], a)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], ComputeCRC(b))
	return true
}

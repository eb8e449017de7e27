package record

import (
	"encoding/binary"
	"fmt"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// RecordHeader is one record header for Builder.Append. A nil Value is a
// null header value; header keys cannot be null (a nil Key is written empty).
type RecordHeader struct {
	Key   []byte
	Value []byte
}

// Builder builds one v2 record batch, the way Kafka's MemoryRecordsBuilder
// does: records get offset deltas 0..n-1, baseTimestamp is the first
// record's timestamp and every record stores its timestamp as a delta from
// it, maxTimestamp is the largest record timestamp (or LogAppendTime), and
// the CRC is computed last. The exported fields are the batch settings;
// NewBuilder and Reset set them to a plain client batch (no producer id,
// CreateTime, uncompressed). A Builder reuses its buffers across Reset; it
// is not safe for concurrent use.
type Builder struct {
	Codec                compress.Codec // codec of the records section
	Level                int            // codec level; 0 = the codec's default
	BaseOffset           int64
	PartitionLeaderEpoch int32
	ProducerID           int64 // -1 = no producer id
	ProducerEpoch        int16
	BaseSequence         int32
	Transactional        bool
	Control              bool  // set only for transaction markers
	LogAppendTime        int64 // >= 0: a LogAppendTime batch with this maxTimestamp; -1: CreateTime

	recs   []byte // uncompressed records section
	n      int32
	baseTS int64
	maxTS  int64
}

// NewBuilder returns a Builder with Reset's settings.
func NewBuilder() *Builder {
	b := &Builder{}
	b.Reset()
	return b
}

// Reset drops the records and restores the default settings: codec none,
// base offset 0, leader epoch -1, producer id, epoch and base sequence -1,
// not transactional, not control, CreateTime.
func (b *Builder) Reset() {
	*b = Builder{
		ProducerID:           -1,
		ProducerEpoch:        -1,
		BaseSequence:         -1,
		PartitionLeaderEpoch: -1,
		LogAppendTime:        NoTimestamp,
		recs:                 b.recs[:0],
		maxTS:                NoTimestamp,
	}
}

// Len is the number of records appended so far.
func (b *Builder) Len() int { return int(b.n) }

// Append adds a record with the given timestamp (-1 for none), key and
// value (nil for null) and headers.
func (b *Builder) Append(timestamp int64, key, value []byte, headers ...RecordHeader) {
	delta := b.timestampDelta(timestamp)
	size := 1 + varlongSize(delta) + varintSize(b.n) + bytesSize(key) + bytesSize(value) + varintSize(int32(len(headers)))
	for i := range headers {
		size += varintSize(int32(len(headers[i].Key))) + len(headers[i].Key) + bytesSize(headers[i].Value)
	}
	d := b.recs
	d = appendVarint(d, int32(size))
	d = append(d, 0) // record attributes: none defined
	d = appendVarlong(d, delta)
	d = appendVarint(d, b.n)
	d = appendBytes(d, key)
	d = appendBytes(d, value)
	d = appendVarint(d, int32(len(headers)))
	for i := range headers {
		d = appendVarint(d, int32(len(headers[i].Key)))
		d = append(d, headers[i].Key...)
		d = appendBytes(d, headers[i].Value)
	}
	b.recs = d
	b.n++
}

// AppendRecord adds a copy of r with the given timestamp (the one readers
// saw for r, see Header.Timestamp): its key, value and headers are kept,
// its attributes, offset delta and timestamp delta are written afresh, as
// Kafka does when it rebuilds a batch.
func (b *Builder) AppendRecord(timestamp int64, r *Record) {
	delta := b.timestampDelta(timestamp)
	size := 1 + varlongSize(delta) + varintSize(b.n) + bytesSize(r.Key) + bytesSize(r.Value) +
		varintSize(int32(r.NumHeaders)) + len(r.Headers)
	d := b.recs
	d = appendVarint(d, int32(size))
	d = append(d, 0)
	d = appendVarlong(d, delta)
	d = appendVarint(d, b.n)
	d = appendBytes(d, r.Key)
	d = appendBytes(d, r.Value)
	d = appendVarint(d, int32(r.NumHeaders))
	d = append(d, r.Headers...)
	b.recs = d
	b.n++
}

func (b *Builder) timestampDelta(ts int64) int64 {
	if b.n == 0 {
		b.baseTS = ts
	}
	if ts > b.maxTS {
		b.maxTS = ts
	}
	return ts - b.baseTS
}

func bytesSize(v []byte) int {
	if v == nil {
		return 1
	}
	return varintSize(int32(len(v))) + len(v)
}

func appendBytes(dst, v []byte) []byte {
	if v == nil {
		return appendVarint(dst, -1)
	}
	return append(appendVarint(dst, int32(len(v))), v...)
}

// Finish appends the batch to dst and returns the extended slice. With no
// records it returns dst unchanged, as Kafka builds no empty batch. The
// Builder keeps its records and settings until Reset.
func (b *Builder) Finish(dst []byte) ([]byte, error) {
	if b.n == 0 {
		return dst, nil
	}
	if !b.Codec.Valid() {
		return dst, fmt.Errorf("record: build batch: unknown codec %d", b.Codec)
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	if b.Codec == compress.None {
		dst = append(dst, b.recs...)
	} else {
		var err error
		if dst, err = encode(dst, b.Codec, b.recs, b.Level); err != nil {
			return dst[:start], fmt.Errorf("record: build batch: %s: %w", b.Codec, err)
		}
	}
	if len(dst)-start-LogOverhead > 1<<31-1 {
		return dst[:start], fmt.Errorf("record: build batch: %d bytes is too large for a batch", len(dst)-start)
	}
	attrs := int16(b.Codec)
	maxTS := b.maxTS
	if b.LogAppendTime >= 0 {
		attrs |= AttrLogAppendTime
		maxTS = b.LogAppendTime
	}
	if b.Transactional {
		attrs |= AttrTransactional
	}
	if b.Control {
		attrs |= AttrControl
	}
	writeHeader(dst[start:], &Header{
		BaseOffset:           b.BaseOffset,
		PartitionLeaderEpoch: b.PartitionLeaderEpoch,
		Attributes:           attrs,
		LastOffsetDelta:      b.n - 1,
		BaseTimestamp:        b.baseTS,
		MaxTimestamp:         maxTS,
		ProducerID:           b.ProducerID,
		ProducerEpoch:        b.ProducerEpoch,
		BaseSequence:         b.BaseSequence,
		NumRecords:           b.n,
	})
	return dst, nil
}

// writeHeader fills the 61-byte header at the start of batch (which holds
// the whole batch) from h, with magic 2, the batch length and the CRC
// computed from batch; h's BatchLength, Magic and CRC are ignored.
func writeHeader(batch []byte, h *Header) {
	be := binary.BigEndian
	be.PutUint64(batch[offBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(batch[offBatchLength:], uint32(len(batch)-LogOverhead))
	be.PutUint32(batch[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	batch[offMagic] = 2
	be.PutUint16(batch[offAttributes:], uint16(h.Attributes))
	be.PutUint32(batch[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(batch[offBaseTimestamp:], uint64(h.BaseTimestamp))
	be.PutUint64(batch[offMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(batch[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(batch[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(batch[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(batch[offRecordCount:], uint32(h.NumRecords))
	be.PutUint32(batch[offCRC:], ComputeCRC(batch))
}

// Rebuild writes the records of the checked batch described by h as a new
// batch with codec target at level, appended to dst, the way Kafka rebuilds
// a batch whose codec must change or whose compressed records have offset
// deltas other than 0..n-1 (LogValidator.buildRecordsAndAssignOffsets).
// records is the batch's uncompressed records
// section: b[HeaderSize:h.Size()] for an uncompressed batch, the scratch
// WalkBatch returned for a compressed one.
//
// The new batch keeps baseOffset, partitionLeaderEpoch, producerId,
// producerEpoch, baseSequence and the transactional and control bits; its
// records keep their keys, values, headers and timestamps (as readers saw
// them: maxTimestamp for a LogAppendTime batch) and get offset deltas
// 0..n-1. It is a CreateTime batch; for a LogAppendTime topic call
// SetMaxTimestamp(batch, now, true) afterwards.
func Rebuild(dst []byte, h *Header, records []byte, target compress.Codec, level int) ([]byte, error) {
	b := Builder{}
	b.Reset()
	return b.Rebuild(dst, h, records, target, level)
}

// Rebuild is the package-level Rebuild using b's buffers; it resets b first.
func (b *Builder) Rebuild(dst []byte, h *Header, records []byte, target compress.Codec, level int) ([]byte, error) {
	b.Reset()
	b.Codec, b.Level = target, level
	b.BaseOffset = h.BaseOffset
	b.PartitionLeaderEpoch = h.PartitionLeaderEpoch
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = h.ProducerID, h.ProducerEpoch, h.BaseSequence
	b.Transactional, b.Control = h.Transactional(), h.Control()
	if n := len(records) + len(records)/8 + 64; cap(b.recs) < n {
		b.recs = make([]byte, 0, n)
	}
	rs := NewRecords(records, h.NumRecords)
	for rs.Next() {
		r := rs.Record()
		b.AppendRecord(h.Timestamp(r), r)
	}
	if err := rs.Err(); err != nil {
		return dst, err
	}
	return b.Finish(dst)
}

// Control record types (ControlRecordType): the key's type field of a
// transaction marker.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// AppendControlBatch appends a transaction marker batch (Kafka's
// MemoryRecords.withEndTransactionMarker and EndTransactionMarker): attributes control|transactional, uncompressed,
// CreateTime, baseOffset 0, partitionLeaderEpoch -1, the producer's id and
// epoch, baseSequence -1, and one record with offset and timestamp delta 0,
// no headers, key {version 0, type COMMIT (1) or ABORT (0)} and value
// {version 0, coordinatorEpoch}. baseTimestamp = maxTimestamp = timestamp.
// The caller sets the base offset and leader epoch in place when it appends.
func AppendControlBatch(dst []byte, producerID int64, epoch int16, commit bool, coordinatorEpoch int32, timestamp int64) []byte {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	const keyLen, valueLen = 4, 6
	// length, attributes, timestamp delta, offset delta, key, value, header count
	dst = appendVarint(dst, 1+1+1+1+keyLen+1+valueLen+1)
	dst = append(dst, 0, 0, 0)
	dst = appendVarint(dst, keyLen)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(typ))
	dst = appendVarint(dst, valueLen)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(coordinatorEpoch))
	dst = append(dst, 0)
	writeHeader(dst[start:], &Header{
		PartitionLeaderEpoch: -1,
		Attributes:           AttrControl | AttrTransactional,
		BaseTimestamp:        timestamp,
		MaxTimestamp:         timestamp,
		ProducerID:           producerID,
		ProducerEpoch:        epoch,
		BaseSequence:         -1,
		NumRecords:           1,
	})
	return dst
}

// ParseMarker reads the record of a transaction marker: its control type
// (ControlCommit or ControlAbort; 2 and above are other control records)
// and, for COMMIT and ABORT, the coordinator epoch. Like Kafka it accepts
// keys and values longer than version 0 needs; a key shorter than 4 bytes,
// a negative version, or a COMMIT/ABORT value shorter than 6 bytes is
// INVALID_RECORD (ControlRecordType.parse, EndTransactionMarker).
func ParseMarker(r *Record) (controlType int16, coordinatorEpoch int32, err error) {
	k, v := r.Key, r.Value
	if len(k) < 4 || int16(binary.BigEndian.Uint16(k)) < 0 {
		return 0, 0, errorf(errcode.InvalidRecord, 0, -1, "invalid control record key of %d bytes", len(k))
	}
	controlType = int16(binary.BigEndian.Uint16(k[2:]))
	if controlType != ControlAbort && controlType != ControlCommit {
		return controlType, 0, nil
	}
	if len(v) < 6 || int16(binary.BigEndian.Uint16(v)) < 0 {
		return controlType, 0, errorf(errcode.InvalidRecord, 0, -1, "invalid end transaction marker value of %d bytes", len(v))
	}
	return controlType, int32(binary.BigEndian.Uint32(v[2:])), nil
}

package record

import (
	"encoding/binary"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// NextBatch splits the first complete batch (v2) or legacy message (magic 0
// or 1) off the front of b, framing it as Kafka's ByteBufferLogInputStream
// does: fewer than 12 bytes, or fewer than the 17 that reach the magic
// byte, or fewer than 12+batchLength, is no complete batch (batch nil, rest
// b, err nil): Kafka ignores such a trailing partial batch. A batchLength
// below 14, or a magic byte outside 0..2, is CORRUPT_MESSAGE.
func NextBatch(b []byte) (batch, rest []byte, err error) {
	if len(b) < LogOverhead {
		return nil, b, nil
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < MinLegacyLength {
		return nil, b, corrupt(offBatchLength, "record size %d is less than the minimum record overhead (%d)", length, MinLegacyLength)
	}
	if len(b) < offMagic+1 {
		return nil, b, nil
	}
	if m := int8(b[offMagic]); m < 0 || m > 2 {
		return nil, b, corrupt(offMagic, "invalid magic found in record: %d", m)
	}
	size := LogOverhead + int(length)
	if len(b) < size {
		return nil, b, nil
	}
	return b[:size:size], b[size:], nil
}

// CountBatches counts the complete batches at the start of b and the bytes
// they span (validBytes); a trailing partial batch is not counted. A
// framing error (see NextBatch) stops the count; its Offset is from the
// start of b.
func CountBatches(b []byte) (n, validBytes int, err error) {
	for {
		batch, rest, err := NextBatch(b[validBytes:])
		if err != nil {
			return n, validBytes, shift(err, validBytes)
		}
		if batch == nil {
			return n, validBytes, nil
		}
		n++
		validBytes = len(b) - len(rest)
	}
}

// CheckProduceRecords applies the record-format rules Kafka checks per
// partition of a Produce v3+ request before any append
// (ProduceRequest.validateRecords), in its order, and returns the one batch
// (b without any trailing partial batch):
//
//   - no complete batch (nil, empty or truncated records): INVALID_RECORD;
//   - the first batch's magic is not 2: INVALID_RECORD;
//   - zstd when allowZstd is false (request version < 7):
//     UNSUPPORTED_COMPRESSION_TYPE;
//   - a second complete batch: INVALID_RECORD.
//
// Framing errors met on the way are CORRUPT_MESSAGE, as in Kafka. Codec
// bits 5-7 are left for CheckContents.
func CheckProduceRecords(b []byte, allowZstd bool) ([]byte, error) {
	first, rest, err := NextBatch(b)
	if err != nil {
		return nil, err
	}
	if first == nil {
		return nil, invalid(0, "produce requests v3+ must have at least one complete record batch per partition")
	}
	if m := int8(first[offMagic]); m != 2 {
		return nil, invalid(offMagic, "produce requests v3+ are only allowed to contain record batches with magic version 2, got %d", m)
	}
	if !allowZstd && len(first) > offAttributes+1 &&
		compress.Codec(first[offAttributes+1]&AttrCodecMask) == compress.Zstd {
		return nil, errorf(errcode.UnsupportedCompressionType, offAttributes, -1,
			"produce requests with version below 7 cannot use zstd compression")
	}
	second, _, err := NextBatch(rest)
	if err != nil {
		return nil, shift(err, len(first))
	}
	if second != nil {
		return nil, invalid(len(first), "produce requests v3+ are only allowed to contain exactly one record batch per partition")
	}
	return first, nil
}

// CheckFraming runs the first two of Kafka's per-batch checks on a client
// append (UnifiedLog.analyzeAndValidateRecords): the framing of the batch at
// the start of b (a batchLength below 14, or a magic byte outside 0..2, is
// CORRUPT_MESSAGE; a batch cut short is CORRUPT_MESSAGE too; magic 0 or 1 is
// INVALID_RECORD, as Produce v3+ requires magic 2), then baseOffset, which a
// client must send as 0 (INVALID_RECORD). Bytes after the batch are ignored.
//
// The caller must then compare h.Size() with max.message.bytes
// (MESSAGE_TOO_LARGE), and only then call CheckContents: that is Kafka's
// order. Until CheckContents succeeds only BaseOffset, BatchLength,
// PartitionLeaderEpoch and Magic of h are meaningful; a batch shorter than
// HeaderSize leaves the other fields zero.
func CheckFraming(b []byte) (Header, error) {
	batch, _, err := NextBatch(b)
	if err != nil {
		return Header{}, err
	}
	if batch == nil {
		return Header{}, corrupt(0, "record batch truncated: %d bytes hold no complete batch", len(b))
	}
	h := readFramingHeader(batch)
	if h.Magic != 2 {
		return h, invalid(offMagic, "record batch magic %d: produce requests v3+ need magic 2", h.Magic)
	}
	if h.BaseOffset != 0 {
		return h, invalid(offBaseOffset, "the baseOffset of the record batch should be 0, but it is %d", h.BaseOffset)
	}
	return h, nil
}

// CheckContents runs the rest of Kafka's per-batch checks on b, whose
// framing CheckFraming returned as h, in Kafka's order:
//
//   - a batch shorter than the 61-byte header, or a CRC-32C over bytes
//     21..end that differs from the stored one: CORRUPT_MESSAGE;
//   - codec bits 5-7: CORRUPT_MESSAGE (Kafka fails with
//     UNKNOWN_SERVER_ERROR here, an accident of its codec lookup);
//   - lastOffsetDelta+1 <= 0, recordCount <= 0, or lastOffsetDelta+1 !=
//     recordCount: INVALID_RECORD (LogValidator.validateBatch);
//   - the control bit, which clients may not set: INVALID_RECORD;
//   - producerId >= 0 with baseSequence < 0: INVALID_RECORD.
//
// On success every field of h is filled in from b.
func CheckContents(b []byte, h *Header) error {
	size := h.Size()
	if size < HeaderSize || len(b) < size {
		return corrupt(offCRC, "record batch of %d bytes is shorter than the %d-byte header", size, HeaderSize)
	}
	b = b[:size]
	if !CRCValid(b) {
		return corrupt(offCRC, "record is corrupt (stored crc = %d, computed crc = %d)",
			binary.BigEndian.Uint32(b[offCRC:]), ComputeCRC(b))
	}
	*h = ReadHeader(b)
	if c := h.Codec(); !c.Valid() {
		return corrupt(offAttributes, "unknown compression codec id %d", int8(c))
	}
	countFromOffsets := int64(h.LastOffsetDelta) + 1
	count := int64(h.NumRecords)
	switch {
	case countFromOffsets <= 0:
		return invalid(offLastOffsetDelta, "batch has an invalid offset range: [%d, %d]", h.BaseOffset, h.LastOffset())
	case count <= 0:
		return invalid(offRecordCount, "invalid reported count for record batch: %d", count)
	case countFromOffsets != count:
		return invalid(offRecordCount, "inconsistent batch offset range [%d, %d] and count of records %d",
			h.BaseOffset, h.LastOffset(), count)
	case h.Control():
		return invalid(offAttributes, "clients are not allowed to write control records")
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return invalid(offBaseSequence, "invalid sequence number %d in record batch with producerId %d",
			h.BaseSequence, h.ProducerID)
	}
	return nil
}

// CheckBatch runs CheckFraming then CheckContents: every header check of a
// client append except the size limit, which Kafka checks between the two
// (see CheckFraming).
func CheckBatch(b []byte) (Header, error) {
	h, err := CheckFraming(b)
	if err != nil {
		return h, err
	}
	err = CheckContents(b, &h)
	return h, err
}

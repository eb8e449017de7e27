package record

import (
	"fmt"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// CheckTimestamp reports whether a record timestamp passes a CreateTime
// topic's window: ts is -1 (no timestamp, always accepted), or now-ts is at
// most beforeMaxMs and ts-now at most afterMaxMs, computed with wrapping
// 64-bit arithmetic exactly as Kafka's LogValidator.validateTimestamp does
// (message.timestamp.before.max.ms and message.timestamp.after.max.ms).
func CheckTimestamp(ts, now, beforeMaxMs, afterMaxMs int64) bool {
	if ts == NoTimestamp {
		return true
	}
	diff := now - ts
	return !(diff > beforeMaxMs || -diff > afterMaxMs)
}

// Validator runs Kafka's append-time validation of client data for one
// partition (UnifiedLog.analyzeAndValidateRecords and LogValidator): the
// batch checks it throws, and the per-record checks it collects into
// record_errors. The fields are the topic's settings and the broker clock;
// a Validator holds no other state and may be shared.
type Validator struct {
	// Now is the broker's clock in milliseconds, for the timestamp window
	// and LogAppendTime.
	Now int64
	// MaxMessageBytes is max.message.bytes: a batch (or legacy message)
	// larger than this, prefix included, is MESSAGE_TOO_LARGE. <= 0: no limit.
	MaxMessageBytes int
	// LogAppendTime is message.timestamp.type=LogAppendTime; false is CreateTime.
	LogAppendTime bool
	// Compacted is a cleanup.policy containing compact: records need keys.
	Compacted bool
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms
	// (Kafka's defaults: math.MaxInt64, and math.MaxInt64 in 3.x or 3600000 in 4.x).
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	// Limit caps the decompressed size of one batch (<= 0: no cap); more is
	// a MESSAGE_TOO_LARGE *Error wrapping compress.ErrTooLarge.
	Limit int
	// Partition names the topic-partition in error messages, e.g. "orders-3".
	Partition string
	// CollectKeys makes validation gather the records' non-null keys in
	// BatchResult.Keys (for a segment's key filter, say).
	CollectKeys bool
}

// BatchResult is what validation learned about a batch.
type BatchResult struct {
	Header Header // of the validated batch, or of the up-converted one
	Batch  []byte // the validated batch (b without trailing bytes), or the up-converted one
	// Records is the number of records validated.
	Records int
	// MaxTimestamp is the largest record timestamp, -1 when no record has
	// one: the batch's maxTimestamp for a CreateTime topic (LogValidator).
	MaxTimestamp int64
	// OffsetsInOrder reports that every record's offset delta equals its
	// index, the condition for keeping a compressed batch in place.
	OffsetsInOrder bool
	// Errors are the per-record failures Kafka collects, in record order. If
	// any, the batch must be refused: see SummarizeErrors.
	Errors []RecordError
	// Keys holds, with Validator.CollectKeys, every non-null record key in
	// record order. They alias the batch, the set or the scratch buffer:
	// use them before either is reused.
	Keys [][]byte
}

// NeedsRebuild reports whether Kafka would rebuild this validated v2 batch
// rather than keep it in place when it is stored with codec target
// (LogValidator.validateMessagesAndAssignOffsetsCompressed): the codec changes, or a compressed batch's
// offset deltas are not 0..n-1. Control batches are never rebuilt.
func (r *BatchResult) NeedsRebuild(target compress.Codec) bool {
	c := r.Header.Codec()
	if r.Header.Control() {
		return false
	}
	return c != target || (c != compress.None && !r.OffsetsInOrder)
}

// ValidateBatch validates the client batch at the start of b (after
// CheckProduceRecords), in Kafka's order: CheckFraming, the size against
// MaxMessageBytes (MESSAGE_TOO_LARGE), CheckContents, then a walk over
// every record (decompressing once into scratch, see WalkBatch) that
// applies the per-record checks of LogValidator.validateRecord: a null key
// on a compacted topic is INVALID_RECORD; on a CreateTime topic a timestamp
// other than -1 outside the window (CheckTimestamp) is INVALID_TIMESTAMP;
// otherwise a batch with the LogAppendTime bit is INVALID_TIMESTAMP (a
// producer may not set it). Each record gets at most one error, the first
// in that order. Thrown failures come back as err (a *Error); collected
// ones in res.Errors. scratch is returned, possibly grown, for reuse.
func (v *Validator) ValidateBatch(b []byte, scratch []byte) (res BatchResult, scratchOut []byte, err error) {
	h, err := CheckFraming(b)
	if err != nil {
		return res, scratch, err
	}
	if v.MaxMessageBytes > 0 && h.Size() > v.MaxMessageBytes {
		return res, scratch, TooLarge(v.Partition, h.Size(), v.MaxMessageBytes)
	}
	if err := CheckContents(b, &h); err != nil {
		return res, scratch, err
	}
	res = BatchResult{Header: h, Batch: b[:h.Size():h.Size()], MaxTimestamp: NoTimestamp, OffsetsInOrder: true}
	if v.CollectKeys && h.NumRecords > 0 {
		// The count is the client's claim (the walk checks it): reserve
		// at most 4096 slots on its word.
		res.Keys = make([][]byte, 0, min(int(h.NumRecords), 4096))
	}
	batchLAT := h.LogAppendTime()
	scratch, err = WalkBatch(b, &h, scratch, v.Limit, func(i int, r *Record) error {
		ts := h.Timestamp(r)
		if int(r.OffsetDelta) != i {
			res.OffsetsInOrder = false
		}
		if ts > res.MaxTimestamp {
			res.MaxTimestamp = ts
		}
		if e, bad := v.checkRecord(i, h.Offset(r), ts, r.Key, r.Value, batchLAT, 2); bad {
			res.Errors = append(res.Errors, e)
		}
		if v.CollectKeys && r.Key != nil {
			res.Keys = append(res.Keys, r.Key)
		}
		res.Records++
		return nil
	})
	if err != nil {
		return BatchResult{}, scratch, err
	}
	return res, scratch, nil
}

// checkRecord applies the key and timestamp rules of
// LogValidator.validateRecord to one record and returns its error, if any.
func (v *Validator) checkRecord(i int, offset, ts int64, key, value []byte, batchLAT bool, magic int8) (RecordError, bool) {
	if v.Compacted && key == nil {
		return RecordError{Index: i, Code: errcode.InvalidRecord,
			Msg: fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s.", v.Partition)}, true
	}
	if !v.LogAppendTime && ts != NoTimestamp {
		if !CheckTimestamp(ts, v.Now, v.TimestampBeforeMaxMs, v.TimestampAfterMaxMs) {
			return RecordError{Index: i, Code: errcode.InvalidTimestamp,
				Msg: fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
					ts, offset, v.Now-v.TimestampBeforeMaxMs, v.Now+v.TimestampAfterMaxMs)}, true
		}
	} else if batchLAT {
		return RecordError{Index: i, Code: errcode.InvalidTimestamp,
			Msg: fmt.Sprintf("Invalid timestamp type in message Record(magic=%d, offset=%d, timestamp=%d, key=%d bytes, value=%d bytes). "+
				"Producer should not set timestamp type to LogAppendTime.", magic, offset, ts, len(key), len(value))}, true
	}
	return RecordError{}, false
}

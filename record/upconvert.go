package record

import (
	"fmt"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// UpConvert validates a legacy message set (magic 0 or 1, Produce v0-v2)
// and converts it into one v2 batch appended to dst, as Kafka 3.x brokers
// do for a topic in message format v2 (LogValidator with toMagic 2).
//
// Order and codes follow Kafka: CheckMessageSet (framing, size, CRC);
// a compressed wrapper that is not the only entry, or an entry whose magic
// differs from the first's, is INVALID_RECORD (thrown); inside a wrapper
// WalkMessageSet's structural rules are thrown, while a nested compressed
// message or an inner magic mismatch is a per-record INVALID_RECORD; then each record gets Validator's key and timestamp
// checks (the LogAppendTime rule reading the wrapper's or the message's
// own timestamp type). As Kafka validates each entry of an uncompressed set
// as its own batch, validation stops after the first entry (or wrapper)
// with record errors; they come back in res.Errors with set-wide indexes.
//
// The new batch has no producer id (id, epoch and base sequence -1), is not
// transactional, and is written with codec target at level (the topic's
// compression.type, or for "producer" the wrapper's codec): offset deltas
// 0..n-1, base offset 0 and leader epoch -1 (set them in place when
// appending), record timestamps from magic-1 messages or -1 for magic 0,
// no headers; on a LogAppendTime topic it is a LogAppendTime batch with
// maxTimestamp Now. res.Batch is the batch (within the returned dst).
//
// A set with no complete entry gives res.Batch nil and no error. A set
// whose first entry is a v2 batch is not converted: INVALID_RECORD (check
// it with ValidateBatch instead).
func (v *Validator) UpConvert(dst, set []byte, target compress.Codec, level int, scratch []byte) (res BatchResult, out, scratchOut []byte, err error) {
	ms, err := CheckMessageSet(set, v.MaxMessageBytes)
	if err != nil || ms.Entries == 0 {
		return res, dst, scratch, err
	}
	if ms.Magic == 2 {
		return res, dst, scratch, invalid(offMagic, "the set starts with a v2 record batch, not a legacy message")
	}
	if ms.Compressed && ms.Entries > 1 {
		return res, dst, scratch, invalid(0, "compressed outer record has more than one batch")
	}
	b := Builder{}
	b.Reset()
	b.Codec, b.Level = target, level
	if v.LogAppendTime {
		b.LogAppendTime = v.Now
	}
	res.MaxTimestamp = NoTimestamp
	res.OffsetsInOrder = true
	idx := 0
	for pos := 0; pos < len(ms.Data); {
		e, _, _ := NextBatch(ms.Data[pos:])
		if int8(e[offMagic]) != ms.Magic {
			return BatchResult{}, dst, scratch, invalid(pos+offMagic,
				"batch magic %d is not the same as the first batch's magic byte %d", int8(e[offMagic]), ms.Magic)
		}
		m, err := parseMessage(e)
		if err != nil {
			return BatchResult{}, dst, scratch, shift(err, pos)
		}
		if m.Codec() == compress.None {
			if re, bad := v.checkRecord(idx, m.Offset, m.Timestamp, m.Key, m.Value, m.LogAppendTime(), m.Magic); bad {
				res.Errors = append(res.Errors, re)
				return res, dst, scratch, nil
			}
			res.add(&b, v, m.Timestamp, m.Key, m.Value)
			idx++
			pos += len(e)
			continue
		}
		var data []byte
		var w wrapper
		data, scratch, w, err = openWrapper(&m, e, pos, scratch, v.Limit)
		if err != nil {
			return BatchResult{}, dst, scratch, err
		}
		for p := 0; ; idx++ {
			ie, next, _ := nextInner(data, p)
			if ie == nil {
				break
			}
			re, bad := v.checkInner(&m, ie, idx)
			if !bad {
				im, err := innerMessage(&m, &w, ie, p, idx)
				if err != nil {
					return BatchResult{}, dst, scratch, err
				}
				re, bad = v.checkRecord(idx, im.Offset, im.Timestamp, im.Key, im.Value, m.LogAppendTime(), m.Magic)
				if !bad && len(res.Errors) == 0 {
					res.add(&b, v, im.Timestamp, im.Key, im.Value)
				}
			}
			if bad {
				res.Errors = append(res.Errors, re)
			}
			p = next
		}
		if len(res.Errors) > 0 {
			return res, dst, scratch, nil
		}
		pos += len(e)
	}
	start := len(dst)
	out, err = b.Finish(dst)
	if err != nil {
		return BatchResult{}, dst, scratch, err
	}
	res.Batch = out[start:len(out):len(out)]
	res.Header = ReadHeader(res.Batch)
	return res, out, scratch, nil
}

// add appends one converted record and tracks the result's counters.
func (res *BatchResult) add(b *Builder, v *Validator, ts int64, key, value []byte) {
	b.Append(ts, key, value)
	if v.CollectKeys && key != nil {
		res.Keys = append(res.Keys, key)
	}
	if ts > res.MaxTimestamp {
		res.MaxTimestamp = ts
	}
	res.Records++
}

// checkInner applies LogValidator's first two per-record rules to an inner
// message of a compressed wrapper: it must not itself be compressed
// (validateRecordCompression) and its magic must equal the wrapper's.
func (v *Validator) checkInner(m *Message, ie []byte, idx int) (RecordError, bool) {
	if ie[legacyOffAttrs]&AttrCodecMask != 0 {
		return RecordError{Index: idx, Code: errcode.InvalidRecord,
			Msg: "Compressed outer record has an inner record that is also compressed"}, true
	}
	if im := int8(ie[legacyOffMagic]); im != m.Magic {
		return RecordError{Index: idx, Code: errcode.InvalidRecord,
			Msg: fmt.Sprintf("Record magic %d does not match outer magic %d in topic partition %s", im, m.Magic, v.Partition)}, true
	}
	return RecordError{}, false
}

package produce

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
)

// TestBadInputCatalogue lists every class of bad input a producer can send
// in one partition, each with the exact Kafka error code it must get
// (kafka-semantics.md §1.2, §1.5, §2) and the proof that nothing was
// appended and no offset was burnt: the next good batch lands at offset 0.
func TestBadInputCatalogue(t *testing.T) {
	good := newSpec(3).build(t)
	zstd := newSpec(2)
	zstd.codec = compress.Zstd
	gz := newSpec(3)
	gz.codec = compress.Gzip
	gzBatch := gz.build(t)
	old := newSpec(2)
	old.baseTimestamp = time.Now().Add(-48 * time.Hour).UnixMilli()
	future := newSpec(2)
	future.baseTimestamp = time.Now().Add(48 * time.Hour).UnixMilli()
	nullKey := newSpec(2)
	nullKey.records[0].key = nil
	latNoTS := newSpec(1)
	latNoTS.attrsExtra, latNoTS.baseTimestamp = record.AttrLogAppendTime, -1
	window := map[string]string{"message.timestamp.before.max.ms": "3600000", "message.timestamp.after.max.ms": "3600000"}

	cases := []struct {
		name    string
		version int16
		topic   string
		config  map[string]string
		records []byte
		code    errcode.Code
	}{
		// Request-level format rules (ProduceRequest.validateRecords).
		{"null records", 9, "t", nil, nil, errcode.InvalidRecord},
		{"empty records", 9, "t", nil, []byte{}, errcode.InvalidRecord},
		{"two batches in one partition", 9, "t", nil, append(append([]byte(nil), good...), good...), errcode.InvalidRecord},
		{"only batch truncated", 9, "t", nil, good[:len(good)-1], errcode.InvalidRecord},
		{"a second, complete batch after the first", 9, "t", nil, append(append([]byte(nil), good...), newSpec(1).build(t)...), errcode.InvalidRecord},
		{"magic 7", 9, "t", nil, mutate(good, true, func(b []byte) { b[16] = 7 }), errcode.CorruptMessage},
		{"magic 1 at v3+", 3, "t", nil, mutate(good, true, func(b []byte) { b[16] = 1 }), errcode.InvalidRecord},
		{"zstd below v7", 6, "t", nil, zstd.build(t), errcode.UnsupportedCompressionType},
		{"unknown topic", 9, "nope", nil, good, errcode.UnknownTopicOrPartition},
		// Framing and header (analyzeAndValidateRecords, in Kafka's order).
		{"batch length below the minimum", 9, "t", nil, mutate(good, true, func(b []byte) { binary.BigEndian.PutUint32(b[8:], 10) }), errcode.CorruptMessage},
		{"non-zero base offset", 9, "t", nil, mutate(good, false, func(b []byte) { b[7] = 5 }), errcode.InvalidRecord},
		{"larger than max.message.bytes", 9, "t", map[string]string{"max.message.bytes": "100"}, good, errcode.MessageTooLarge},
		{"flipped payload byte (CRC)", 9, "t", nil, mutate(good, true, func(b []byte) { b[len(b)-2] ^= 1 }), errcode.CorruptMessage},
		{"flipped CRC field", 9, "t", nil, mutate(good, true, func(b []byte) { b[17] ^= 0xff }), errcode.CorruptMessage},
		{"codec id 6", 9, "t", nil, mutate(good, false, func(b []byte) { b[22] |= 6 }), errcode.CorruptMessage},
		{"last offset delta not count-1", 9, "t", nil, mutate(good, false, func(b []byte) { binary.BigEndian.PutUint32(b[23:], 5) }), errcode.InvalidRecord},
		{"zero records", 9, "t", nil, mutate(good, false, func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], 0xffffffff)
			binary.BigEndian.PutUint32(b[57:], 0)
		}), errcode.InvalidRecord},
		{"record count above the records present", 9, "t", nil, mutate(good, false, func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], 3)
			binary.BigEndian.PutUint32(b[57:], 4)
		}), errcode.InvalidRecord},
		{"record count below the records present", 9, "t", nil, mutate(good, false, func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], 1)
			binary.BigEndian.PutUint32(b[57:], 2)
		}), errcode.InvalidRecord},
		{"negative record length", 9, "t", nil, mutate(good, false, func(b []byte) { b[record.HeaderSize] = 0x01 }), errcode.InvalidRecord},
		{"control batch from a client", 9, "t", nil, mutate(good, false, func(b []byte) { b[22] |= record.AttrControl }), errcode.InvalidRecord},
		{"producer id without a sequence", 9, "t", nil, mutate(good, false, func(b []byte) {
			binary.BigEndian.PutUint64(b[43:], 5)
			binary.BigEndian.PutUint32(b[53:], 0xffffffff)
		}), errcode.InvalidRecord},
		{"corrupt compressed payload", 9, "t", nil, mutate(gzBatch, false, func(b []byte) { b[record.HeaderSize+12] ^= 0xff }), errcode.CorruptMessage},
		// Per-record checks (LogValidator, record_errors).
		{"timestamp too old", 9, "t", window, old.build(t), errcode.InvalidTimestamp},
		{"timestamp too far ahead", 9, "t", window, future.build(t), errcode.InvalidTimestamp},
		{"client LogAppendTime without timestamps", 9, "t", nil, latNoTS.build(t), errcode.InvalidTimestamp},
		{"null key on a compacted topic", 9, "t", map[string]string{"cleanup.policy": "compact"}, nullKey.build(t), errcode.InvalidRecord},
		// Partition-level rules.
		{"internal topic", 9, "__transaction_state", nil, good, errcode.InvalidTopicException},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			topic := tc.topic
			if topic == "nope" {
				topic = "t"
			}
			e.topic(topic, 1, tc.config)
			got := one(t, e.produce(tc.version, 1, pr(tc.topic, 0, tc.records)))
			wantCode(t, got, tc.code)
			if n := e.logEnd(topic, 0); n != 0 {
				t.Fatalf("%d records appended", n)
			}
			if topic != "t" || tc.config != nil {
				return
			}
			next := one(t, e.produce(9, 1, pr("t", 0, newSpec(1).build(t))))
			wantCode(t, next, errcode.None)
			if next.BaseOffset != 0 {
				t.Fatalf("the next good batch landed at offset %d: offsets were burnt", next.BaseOffset)
			}
		})
	}
}

// TestTrailingPartialBatchIsTrimmed: Kafka's batch iterator ignores a
// trailing partial batch, so one complete batch followed by a few stray
// bytes is accepted and stored without them.
func TestTrailingPartialBatchIsTrimmed(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	good := newSpec(2).build(t)
	got := one(t, e.produce(9, 1, pr("t", 0, append(append([]byte(nil), good...), 0, 0, 0))))
	wantCode(t, got, errcode.None)
	if b := e.readAll("t", 0); len(b) != 1 || len(b[0]) != len(good) {
		t.Fatalf("stored %d batches", len(b))
	}
}

// TestLegacyRecordErrors: a v0-v2 message set whose records fail the
// per-record checks gets those checks' code and record_errors, as v3+ does.
func TestLegacyRecordErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, map[string]string{"message.timestamp.before.max.ms": "1000"})
	set := legacyMessageSet(t, 1, [][2]string{{"k", "v"}})
	binary.BigEndian.PutUint64(set[8+4+4+1+1:], uint64(time.Now().Add(-time.Hour).UnixMilli())) // magic-1 timestamp
	binary.BigEndian.PutUint32(set[12:], crc32.ChecksumIEEE(set[16:]))
	got := one(t, e.produce(2, 1, pr("t", 0, set)))
	wantCode(t, got, errcode.InvalidTimestamp)
	if len(got.RecordErrors) != 1 || got.RecordErrors[0].BatchIndex != 0 {
		t.Fatalf("record_errors %+v", got.RecordErrors)
	}
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("%d records appended", n)
	}
}

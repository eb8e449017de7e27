package record

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

func goodBatch(t *testing.T) []byte {
	return kmsgBatch(t, kmsgOpts{pid: 7, epoch: 1, seq: 0, baseTimestamp: 1000, maxTimestamp: 2000}, sampleRecs(1000))
}

func TestNextBatchFraming(t *testing.T) {
	good := goodBatch(t)
	short := func(n int) []byte { return good[:n] }
	withLen := func(l int32) []byte {
		b := append([]byte{}, good...)
		binary.BigEndian.PutUint32(b[8:], uint32(l))
		return b
	}
	withMagic := func(m byte) []byte {
		b := append([]byte{}, good...)
		b[16] = m
		return b
	}
	cases := []struct {
		name    string
		in      []byte
		code    errcode.Code // None: no error
		whole   bool         // a complete batch is returned
		restLen int
	}{
		{"empty", nil, errcode.None, false, 0},
		{"11 bytes", short(11), errcode.None, false, 11},
		{"length 13", withLen(13)[:12], errcode.CorruptMessage, false, 0},
		{"negative length", withLen(-5), errcode.CorruptMessage, false, 0},
		{"16 bytes", short(16), errcode.None, false, 16},
		{"magic 3", withMagic(3), errcode.CorruptMessage, false, 0},
		{"magic -1", withMagic(0xff), errcode.CorruptMessage, false, 0},
		{"partial", short(len(good) - 1), errcode.None, false, len(good) - 1},
		{"whole", good, errcode.None, true, 0},
		{"whole plus partial", append(append([]byte{}, good...), good[:20]...), errcode.None, true, 20},
	}
	for _, tc := range cases {
		batch, rest, err := NextBatch(tc.in)
		if tc.code != errcode.None {
			wantCode(t, tc.name, err, tc.code)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (batch != nil) != tc.whole || len(rest) != tc.restLen {
			t.Errorf("%s: batch %d bytes, rest %d; want whole=%v rest %d", tc.name, len(batch), len(rest), tc.whole, tc.restLen)
		}
	}
}

func TestCountBatches(t *testing.T) {
	good := goodBatch(t)
	three := append(append(append([]byte{}, good...), good...), good...)
	n, valid, err := CountBatches(append(three, good[:30]...))
	if err != nil || n != 3 || valid != len(three) {
		t.Fatalf("CountBatches = %d, %d, %v; want 3, %d", n, valid, err, len(three))
	}
	bad := append(append([]byte{}, good...), good...)
	bad[len(good)+16] = 9
	n, valid, err = CountBatches(bad)
	e := wantCode(t, "bad second magic", err, errcode.CorruptMessage)
	if n != 1 || valid != len(good) || e.Offset != len(good)+16 {
		t.Fatalf("CountBatches = %d, %d, offset %d; want 1, %d, %d", n, valid, e.Offset, len(good), len(good)+16)
	}
}

func TestCheckProduceRecords(t *testing.T) {
	good := goodBatch(t)
	zstd := kmsgBatch(t, kmsgOpts{codec: compress.Zstd, pid: -1, epoch: -1, seq: -1}, sampleRecs(1))
	legacy := kgoWrite(t, 1, compress.None, sampleRecs(1000))
	two := append(append([]byte{}, good...), good...)
	badSecond := append(append([]byte{}, good...), good...)
	binary.BigEndian.PutUint32(badSecond[len(good)+8:], 3)
	zstdTwo := append(append([]byte{}, zstd...), zstd...)
	cases := []struct {
		name      string
		in        []byte
		allowZstd bool
		code      errcode.Code
	}{
		{"null", nil, true, errcode.InvalidRecord},
		{"truncated only batch", good[:len(good)-1], true, errcode.InvalidRecord},
		{"corrupt length", badSecond[len(good):], true, errcode.CorruptMessage},
		{"magic 1", legacy, true, errcode.InvalidRecord},
		{"zstd below v7", zstd, false, errcode.UnsupportedCompressionType},
		{"zstd before second-batch rule", zstdTwo, false, errcode.UnsupportedCompressionType},
		{"two batches", two, true, errcode.InvalidRecord},
		{"corrupt second batch", badSecond, true, errcode.CorruptMessage},
		{"zstd at v7", zstd, true, errcode.None},
		{"one batch", good, false, errcode.None},
		{"one batch and a partial one", append(append([]byte{}, good...), good[:40]...), false, errcode.None},
	}
	for _, tc := range cases {
		b, err := CheckProduceRecords(tc.in, tc.allowZstd)
		if tc.code != errcode.None {
			wantCode(t, tc.name, err, tc.code)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h := ReadHeader(b); h.Size() != len(b) {
			t.Errorf("%s: returned %d bytes, batch is %d", tc.name, len(b), h.Size())
		}
	}
}

// TestCheckBatchCodes gives every batch-level error class its exact Kafka
// code (UnifiedLog.analyzeAndValidateRecords, LogValidator.validateBatch).
func TestCheckBatchCodes(t *testing.T) {
	recs := sampleRecs(1000)
	i32 := func(v int32) *int32 { return &v }
	edit := func(f func(b []byte)) []byte {
		b := goodBatch(t)
		f(b)
		return b
	}
	cases := []struct {
		name   string
		in     []byte
		code   errcode.Code
		offset int
		stage  string // "framing" or "contents"
	}{
		{"batchLength 13", edit(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) }), errcode.CorruptMessage, 8, "framing"},
		{"magic 7", edit(func(b []byte) { b[16] = 7 }), errcode.CorruptMessage, 16, "framing"},
		{"magic 1", edit(func(b []byte) { b[16] = 1 }), errcode.InvalidRecord, 16, "framing"},
		{"magic 0", edit(func(b []byte) { b[16] = 0 }), errcode.InvalidRecord, 16, "framing"},
		{"truncated", goodBatch(t)[:70], errcode.CorruptMessage, 0, "framing"},
		{"base offset 5", kmsgBatch(t, kmsgOpts{baseOffset: 5, pid: -1, epoch: -1, seq: -1}, recs), errcode.InvalidRecord, 0, "framing"},
		{"base offset before CRC", edit(func(b []byte) { b[0] = 1; b[30]++ }), errcode.InvalidRecord, 0, "framing"},
		{"shorter than header", edit(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 40) }), errcode.CorruptMessage, 17, "contents"},
		{"crc mismatch", edit(func(b []byte) { b[len(b)-1] ^= 1 }), errcode.CorruptMessage, 17, "contents"},
		{"crc field flipped", edit(func(b []byte) { b[17] ^= 0x80 }), errcode.CorruptMessage, 17, "contents"},
		{"codec 5", edit(func(b []byte) { b[22] |= 5; resum(b) }), errcode.CorruptMessage, 21, "contents"},
		{"codec 7", edit(func(b []byte) { b[22] |= 7; resum(b) }), errcode.CorruptMessage, 21, "contents"},
		{"lastOffsetDelta -1", kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, lastDelta: i32(-1)}, recs), errcode.InvalidRecord, 23, "contents"},
		{"lastOffsetDelta min", kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, lastDelta: i32(-1 << 31)}, recs), errcode.InvalidRecord, 23, "contents"},
		{"count 0", kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, count: i32(0)}, recs), errcode.InvalidRecord, 57, "contents"},
		{"count mismatch", kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, count: i32(3)}, recs), errcode.InvalidRecord, 57, "contents"},
		{"lastOffsetDelta max", kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, lastDelta: i32(1<<31 - 1), count: i32(-1 << 31)}, recs), errcode.InvalidRecord, 57, "contents"},
		{"control from client", kmsgBatch(t, kmsgOpts{pid: 3, epoch: 0, seq: -1, attrs: AttrControl | AttrTransactional}, recs), errcode.InvalidRecord, 21, "contents"},
		{"pid without sequence", kmsgBatch(t, kmsgOpts{pid: 3, epoch: 0, seq: -1}, recs), errcode.InvalidRecord, 53, "contents"},
		{"pid 0 without sequence", kmsgBatch(t, kmsgOpts{pid: 0, epoch: 0, seq: -7}, recs), errcode.InvalidRecord, 53, "contents"},
	}
	for _, tc := range cases {
		h, err := CheckFraming(tc.in)
		if tc.stage == "framing" {
			e := wantCode(t, tc.name+" (CheckFraming)", err, tc.code)
			if e.Offset != tc.offset || e.Index != -1 {
				t.Errorf("%s: offset %d index %d, want %d, -1", tc.name, e.Offset, e.Index, tc.offset)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: CheckFraming: %v", tc.name, err)
			}
			e := wantCode(t, tc.name+" (CheckContents)", CheckContents(tc.in, &h), tc.code)
			if e.Offset != tc.offset {
				t.Errorf("%s: offset %d, want %d", tc.name, e.Offset, tc.offset)
			}
		}
		_, err = CheckBatch(tc.in)
		wantCode(t, tc.name+" (CheckBatch)", err, tc.code)
	}
}

func TestCheckBatchAccepts(t *testing.T) {
	cases := map[string][]byte{
		"plain":         kmsgBatch(t, plainOpts(), sampleRecs(5)),
		"idempotent":    goodBatch(t),
		"transactional": kmsgBatch(t, kmsgOpts{pid: 9, epoch: 2, seq: 100, attrs: AttrTransactional}, sampleRecs(5)),
		"no pid, seq 5": kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: 5}, sampleRecs(5)),
		"gzip":          kmsgBatch(t, kmsgOpts{codec: compress.Gzip, pid: -1, epoch: -1, seq: -1}, sampleRecs(5)),
		"lz4":           kmsgBatch(t, kmsgOpts{codec: compress.LZ4, pid: -1, epoch: -1, seq: -1}, sampleRecs(5)),
	}
	for name, b := range cases {
		h, err := CheckBatch(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h != ReadHeader(b) {
			t.Errorf("%s: header %+v, want %+v", name, h, ReadHeader(b))
		}
		// Trailing bytes are not the batch's business.
		if _, err := CheckBatch(append(append([]byte{}, b...), 1, 2, 3)); err != nil {
			t.Errorf("%s with trailing bytes: %v", name, err)
		}
	}
}

func TestHeaderAccessors(t *testing.T) {
	b := kmsgBatch(t, kmsgOpts{codec: compress.Snappy, pid: 9, epoch: 2, seq: 0x7ffffffe, attrs: AttrTransactional, baseTimestamp: 50, maxTimestamp: 70}, sampleRecs(50))
	h := ReadHeader(b)
	if h.Codec() != compress.Snappy || !h.Transactional() || h.Control() || h.LogAppendTime() {
		t.Errorf("attribute accessors wrong for %#x", h.Attributes)
	}
	if h.Size() != len(b) || h.LastOffset() != 3 {
		t.Errorf("Size %d LastOffset %d", h.Size(), h.LastOffset())
	}
	if got := h.LastSequence(); got != 1 {
		t.Errorf("LastSequence across the wrap = %d, want 1", got)
	}
	for _, c := range []struct{ seq, delta, want int32 }{{0, 4, 4}, {0x7fffffff, 1, 0}, {0x7fffffff, 0, 0x7fffffff}, {0x7ffffff0, 0x20, 0x10}} {
		if got := IncrementSequence(c.seq, c.delta); got != c.want {
			t.Errorf("IncrementSequence(%d, %d) = %d, want %d", c.seq, c.delta, got, c.want)
		}
	}
}

// TestHeaderRewrites checks the in-place edits the broker makes: base offset
// and leader epoch sit outside the CRC; maxTimestamp and the timestamp type
// need a new CRC, which SetMaxTimestamp computes only when something changed.
func TestHeaderRewrites(t *testing.T) {
	b := goodBatch(t)
	SetBaseOffset(b, 123456789)
	SetPartitionLeaderEpoch(b, 42)
	if !CRCValid(b) {
		t.Fatal("CRC invalid after SetBaseOffset/SetPartitionLeaderEpoch")
	}
	h := ReadHeader(b)
	if h.BaseOffset != 123456789 || h.PartitionLeaderEpoch != 42 {
		t.Fatalf("rewritten header %+v", h)
	}
	rb, recs := kmsgRead(t, b)
	if rb.FirstOffset != 123456789 || rb.PartitionLeaderEpoch != 42 || len(recs) != 4 {
		t.Fatalf("kmsg sees offset %d epoch %d, %d records", rb.FirstOffset, rb.PartitionLeaderEpoch, len(recs))
	}

	before := append([]byte{}, b...)
	if SetMaxTimestamp(b, h.MaxTimestamp, false) {
		t.Error("SetMaxTimestamp with the same value and type reported a change")
	}
	if string(before) != string(b) {
		t.Error("SetMaxTimestamp with the same value and type changed the bytes")
	}
	if !SetMaxTimestamp(b, 99999, false) || !CRCValid(b) || ReadHeader(b).MaxTimestamp != 99999 {
		t.Fatal("SetMaxTimestamp(99999, CreateTime) did not rewrite with a valid CRC")
	}
	if !SetMaxTimestamp(b, 5555, true) || !CRCValid(b) {
		t.Fatal("SetMaxTimestamp(LogAppendTime) did not rewrite with a valid CRC")
	}
	h = ReadHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != 5555 || h.Codec() != compress.None || h.ProducerID != 7 {
		t.Fatalf("after LogAppendTime rewrite: %+v", h)
	}
	_, recs = kmsgRead(t, b)
	for _, r := range recs {
		if r.Timestamp != 5555 {
			t.Fatalf("LogAppendTime batch record timestamp %d, want 5555", r.Timestamp)
		}
	}
	// Back to CreateTime clears the bit, as Kafka's setMaxTimestamp does.
	if !SetMaxTimestamp(b, 5555, false) || ReadHeader(b).Attributes&AttrLogAppendTime != 0 || !CRCValid(b) {
		t.Fatal("SetMaxTimestamp(CreateTime) did not clear the LogAppendTime bit")
	}
	// Undefined attribute bits are dropped on a rewrite, defined ones kept.
	tb := kmsgBatch(t, kmsgOpts{codec: compress.Gzip, pid: 1, epoch: 0, seq: 0, attrs: AttrTransactional | 0x0180}, sampleRecs(1))
	SetMaxTimestamp(tb, 1, false)
	if a := ReadHeader(tb).Attributes; a != int16(compress.Gzip)|AttrTransactional || !CRCValid(tb) {
		t.Fatalf("attributes after rewrite %#x", a)
	}
}

func TestErrorText(t *testing.T) {
	_, err := CheckBatch(kmsgBatch(t, kmsgOpts{baseOffset: 3, pid: -1, epoch: -1, seq: -1}, sampleRecs(1)))
	if got := err.Error(); !strings.HasPrefix(got, "record: INVALID_RECORD at byte 0: ") || !strings.Contains(got, "baseOffset") {
		t.Errorf("Error() = %q", got)
	}
	e := &Error{Code: errcode.CorruptMessage, Offset: 9, Index: 2, Msg: "bad", Err: compress.ErrTooLarge}
	if got := e.Error(); got != "record: CORRUPT_MESSAGE in record 2 at byte 9: bad: "+compress.ErrTooLarge.Error() {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, compress.ErrTooLarge) {
		t.Error("errors.Is does not see the cause")
	}
	if ErrorCode(nil) != errcode.None || ErrorCode(e) != errcode.CorruptMessage ||
		ErrorCode(errcode.Errorf(errcode.MessageTooLarge, "x")) != errcode.MessageTooLarge ||
		ErrorCode(errors.New("other")) != errcode.UnknownServerError {
		t.Error("ErrorCode mapping wrong")
	}
}

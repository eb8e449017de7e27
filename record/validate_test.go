package record

import (
	"math"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

func TestCheckTimestamp(t *testing.T) {
	const now = 1_000_000
	cases := []struct {
		ts, before, after int64
		ok                bool
	}{
		{-1, 0, 0, true},
		{now, 0, 0, true},
		{now - 1, 0, 0, false},
		{now + 1, 0, 0, false},
		{now - 500, 500, 0, true},
		{now - 501, 500, 0, false},
		{now + 500, 0, 500, true},
		{now + 501, 0, 500, false},
		{-2, math.MaxInt64, math.MaxInt64, true},
		{math.MinInt64, math.MaxInt64, math.MaxInt64, true}, // now-ts wraps negative, as in Java
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, true},
		{0, math.MaxInt64, 3_600_000, true},
		{now + 3_600_001, math.MaxInt64, 3_600_000, false},
	}
	for _, c := range cases {
		if got := CheckTimestamp(c.ts, now, c.before, c.after); got != c.ok {
			t.Errorf("CheckTimestamp(%d, %d, %d, %d) = %v, want %v", c.ts, int64(now), c.before, c.after, got, c.ok)
		}
	}
}

// javaCheck is LogValidator's rule written out in Java's long arithmetic,
// to pin CheckTimestamp's wrap-around behaviour.
func javaCheck(ts, now, before, after int64) bool {
	if ts == -1 {
		return true
	}
	diff := now - ts
	return !(diff > before || -1*diff > after)
}

func TestCheckTimestampWraps(t *testing.T) {
	vals := []int64{math.MinInt64, math.MinInt64 + 1, -2, -1, 0, 1, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	for _, ts := range vals {
		for _, now := range vals {
			for _, w := range vals {
				if CheckTimestamp(ts, now, w, w) != javaCheck(ts, now, w, w) {
					t.Fatalf("CheckTimestamp(%d, %d, %d, %d) differs from Java's rule", ts, now, w, w)
				}
			}
		}
	}
}

func TestValidateBatch(t *testing.T) {
	const now = 1_700_000_000_000
	recs := []rec{
		{0, now, []byte("a"), []byte("1"), nil},
		{1, now - 10_000, nil, []byte("2"), nil},
		{2, now + 10_000, []byte("c"), nil, nil},
		{3, -1, nil, nil, nil},
	}
	type want struct {
		index int
		code  errcode.Code
	}
	cases := []struct {
		name  string
		v     func(*Validator)
		batch []byte
		want  []want
		max   int64
	}{
		{"accepted", nil, kmsgBatch(t, kmsgOpts{codec: compress.Gzip, pid: -1, epoch: -1, seq: -1, baseTimestamp: now, maxTimestamp: 1}, recs), nil, now + 10_000},
		{"compacted", func(v *Validator) { v.Compacted = true }, kmsgBatch(t, plainOpts(), recs),
			[]want{{1, errcode.InvalidRecord}, {3, errcode.InvalidRecord}}, now + 10_000},
		{"window", func(v *Validator) { v.TimestampBeforeMaxMs, v.TimestampAfterMaxMs = 5000, 5000 },
			kmsgBatch(t, kmsgOpts{codec: compress.LZ4, pid: -1, epoch: -1, seq: -1, baseTimestamp: now}, recs),
			[]want{{1, errcode.InvalidTimestamp}, {2, errcode.InvalidTimestamp}}, now + 10_000},
		{"key before timestamp", func(v *Validator) { v.Compacted = true; v.TimestampBeforeMaxMs, v.TimestampAfterMaxMs = 0, 0 },
			kmsgBatch(t, plainOpts(), recs), []want{{1, errcode.InvalidRecord}, {2, errcode.InvalidTimestamp}, {3, errcode.InvalidRecord}}, now + 10_000},
		{"client LogAppendTime on a LogAppendTime topic", func(v *Validator) { v.LogAppendTime = true },
			kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, attrs: AttrLogAppendTime, maxTimestamp: now}, recs[:2]),
			[]want{{0, errcode.InvalidTimestamp}, {1, errcode.InvalidTimestamp}}, now},
		{"client LogAppendTime with a timestamp on a CreateTime topic", nil,
			kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, attrs: AttrLogAppendTime, maxTimestamp: now}, recs), nil, now},
		{"client LogAppendTime without a timestamp on a CreateTime topic", nil,
			kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, attrs: AttrLogAppendTime, maxTimestamp: -1}, recs[:1]),
			[]want{{0, errcode.InvalidTimestamp}}, -1},
		{"LogAppendTime topic ignores record timestamps", func(v *Validator) { v.LogAppendTime = true; v.TimestampAfterMaxMs = 0 },
			kmsgBatch(t, plainOpts(), recs), nil, now + 10_000},
	}
	for _, tc := range cases {
		v := openValidator()
		v.Now = now
		if tc.v != nil {
			tc.v(v)
		}
		res, _, err := v.ValidateBatch(tc.batch, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Records != int(res.Header.NumRecords) || len(res.Batch) != len(tc.batch) || res.MaxTimestamp != tc.max || !res.OffsetsInOrder {
			t.Errorf("%s: result %+v", tc.name, res)
		}
		if len(res.Errors) != len(tc.want) {
			t.Fatalf("%s: errors %+v, want %+v", tc.name, res.Errors, tc.want)
		}
		for i, w := range tc.want {
			if res.Errors[i].Index != w.index || res.Errors[i].Code != w.code {
				t.Errorf("%s: error %d = %+v, want %+v", tc.name, i, res.Errors[i], w)
			}
		}
	}
}

// TestValidateBatchOrder checks the thrown codes come in Kafka's order:
// base offset before size, size before CRC.
func TestValidateBatchOrder(t *testing.T) {
	good := kmsgBatch(t, plainOpts(), sampleRecs(5))
	offsetAndBig := kmsgBatch(t, kmsgOpts{baseOffset: 9, pid: -1, epoch: -1, seq: -1}, sampleRecs(5))
	bigAndCorrupt := append([]byte{}, good...)
	bigAndCorrupt[len(bigAndCorrupt)-1] ^= 1
	v := openValidator()
	v.MaxMessageBytes = len(good) - 1
	_, _, err := v.ValidateBatch(offsetAndBig, nil)
	wantCode(t, "base offset before size", err, errcode.InvalidRecord)
	_, _, err = v.ValidateBatch(bigAndCorrupt, nil)
	wantCode(t, "size before CRC", err, errcode.MessageTooLarge)
	v.MaxMessageBytes = len(good)
	_, _, err = v.ValidateBatch(bigAndCorrupt, nil)
	wantCode(t, "CRC", err, errcode.CorruptMessage)
	// A structural failure is thrown even when earlier records collected errors.
	v.Compacted = true
	broken := kmsgBatchRaw(t, plainOpts(), 2, cat(rawRec([]byte{0}, vl(0), vi(0), vi(-1), vi(-1), vi(0)), vi(-9)))
	res, _, err := v.ValidateBatch(broken, nil)
	wantCode(t, "structure after a record error", err, errcode.InvalidRecord)
	if len(res.Errors) != 0 {
		t.Errorf("record errors %+v returned with a thrown error", res.Errors)
	}
}

func TestNeedsRebuild(t *testing.T) {
	inOrder := sampleRecs(1)
	outOfOrder := sampleRecs(1)
	outOfOrder[2].OffsetDelta = 7
	cases := []struct {
		name   string
		codec  compress.Codec
		recs   []rec
		target compress.Codec
		want   bool
	}{
		{"none kept", compress.None, outOfOrder, compress.None, false},
		{"gzip kept", compress.Gzip, inOrder, compress.Gzip, false},
		{"gzip with offsets out of order", compress.Gzip, outOfOrder, compress.Gzip, true},
		{"codec change", compress.None, inOrder, compress.Zstd, true},
		{"to none", compress.Snappy, inOrder, compress.None, true},
	}
	for _, tc := range cases {
		res, _, err := openValidator().ValidateBatch(kmsgBatch(t, kmsgOpts{codec: tc.codec, pid: -1, epoch: -1, seq: -1}, tc.recs), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.NeedsRebuild(tc.target); got != tc.want {
			t.Errorf("%s: NeedsRebuild = %v, want %v", tc.name, got, tc.want)
		}
	}
	ctl := BatchResult{Header: ReadHeader(AppendControlBatch(nil, 1, 0, true, 0, 0))}
	if ctl.NeedsRebuild(compress.Zstd) {
		t.Error("a control batch would be rebuilt")
	}
}

func TestSummarizeErrors(t *testing.T) {
	errs := []RecordError{
		{0, errcode.InvalidRecord, "a"}, {2, errcode.InvalidRecord, "b"}, {3, errcode.InvalidRecord, "c"}, {9, errcode.InvalidRecord, "d"},
	}
	code, msg := SummarizeErrors(errs)
	want := "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: " +
		"[RecordError(batchIndex=0, message='a'), RecordError(batchIndex=2, message='b'), RecordError(batchIndex=3, message='c')]"
	if code != errcode.InvalidRecord || msg != want {
		t.Errorf("SummarizeErrors = %s, %q", code, msg)
	}
	code, msg = SummarizeErrors(append(errs, RecordError{10, errcode.InvalidTimestamp, "t"}))
	if code != errcode.InvalidTimestamp || !strings.Contains(msg, "invalid timestamp") {
		t.Errorf("SummarizeErrors with a timestamp error = %s, %q", code, msg)
	}
}

func TestCollectKeys(t *testing.T) {
	v := openValidator()
	v.CollectKeys = true
	for _, c := range []compress.Codec{compress.None, compress.Zstd} {
		res, _, err := v.ValidateBatch(kmsgBatch(t, kmsgOpts{codec: c, pid: -1, epoch: -1, seq: -1}, sampleRecs(1)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Keys) != 3 || string(res.Keys[0]) != "k0" || len(res.Keys[1]) != 0 || res.Keys[1] == nil || string(res.Keys[2]) != "k3" {
			t.Errorf("%s: keys %q", c, res.Keys)
		}
	}
	res, _, _, err := v.UpConvert(nil, legacySet(1, sampleRecs(1)), compress.None, 0, nil)
	if err != nil || len(res.Keys) != 3 || string(res.Keys[2]) != "k3" {
		t.Errorf("UpConvert keys %q, %v", res.Keys, err)
	}
	v.CollectKeys = false
	if res, _, _ := v.ValidateBatch(kmsgBatch(t, plainOpts(), sampleRecs(1)), nil); res.Keys != nil {
		t.Error("keys collected without CollectKeys")
	}
}

func TestTooLarge(t *testing.T) {
	e := TooLarge("t-1", 2000, 1000)
	if e.Code != errcode.MessageTooLarge || !strings.Contains(e.Error(), "t-1 is 2000 bytes") {
		t.Errorf("TooLarge = %v", e)
	}
}

package record

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

var allCodecs = []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}

// TestWalkKmsgBatches parses what franz-go's kmsg builds, for every codec.
func TestWalkKmsgBatches(t *testing.T) {
	for _, c := range allCodecs {
		want := sampleRecs(1_700_000_000_000)
		o := kmsgOpts{codec: c, pid: 5, epoch: 3, seq: 10, baseTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_001_000}
		b := kmsgBatch(t, o, want)
		sameRecs(t, "kmsg "+c.String(), ourRecs(t, b), want, true)
	}
}

// TestWalkKafkaGoBatches parses what segmentio/kafka-go's protocol package
// builds, for every codec.
func TestWalkKafkaGoBatches(t *testing.T) {
	for _, c := range allCodecs {
		want := sampleRecs(1_700_000_000_000)
		b := kgoWrite(t, 2, c, want)
		h, err := CheckBatch(b)
		if err != nil {
			t.Fatalf("%s: CheckBatch: %v", c, err)
		}
		if h.Codec() != c || h.NumRecords != int32(len(want)) || h.MaxTimestamp != 1_700_000_001_000 {
			t.Fatalf("%s: header %+v", c, h)
		}
		sameRecs(t, "kafka-go "+c.String(), ourRecs(t, b), want, true)
	}
}

func TestRecordsIterator(t *testing.T) {
	want := sampleRecs(100)
	b := kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, baseTimestamp: 100}, want)
	rs := NewRecords(b[HeaderSize:], int32(len(want)))
	n := 0
	for rs.Next() {
		r := rs.Record()
		if rs.Index() != n || r.OffsetDelta != int32(n) || !sameBytes(r.Key, want[n].Key) || !sameBytes(r.Value, want[n].Value) {
			t.Errorf("record %d: %+v", n, r)
		}
		if r.NumHeaders != len(want[n].Headers) {
			t.Errorf("record %d: %d headers", n, r.NumHeaders)
		}
		n++
	}
	if rs.Err() != nil || n != len(want) {
		t.Fatalf("iterated %d records, err %v", n, rs.Err())
	}
	if rs.Next() {
		t.Fatal("Next after the end returned true")
	}
	// A negative count is refused like Kafka's "Found invalid record count".
	rs = NewRecords(nil, -1)
	if rs.Next() {
		t.Fatal("Next with count -1 returned true")
	}
	wantCode(t, "count -1", rs.Err(), errcode.InvalidRecord)
}

func TestForEachHeader(t *testing.T) {
	b := kmsgBatch(t, plainOpts(), []rec{{0, 0, nil, nil, []hdr{{"a", []byte("1")}, {"bb", nil}, {"", []byte{}}}}})
	h, _ := CheckBatch(b)
	_, err := WalkBatch(b, &h, nil, 0, func(_ int, r *Record) error {
		var got []hdr
		if err := r.ForEachHeader(func(k, v []byte) error {
			got = append(got, hdr{string(k), v})
			return nil
		}); err != nil {
			return err
		}
		if len(got) != 3 || got[0].Key != "a" || string(got[0].Value) != "1" || got[1].Value != nil || got[2].Value == nil {
			return fmt.Errorf("headers %q", got)
		}
		stop := errors.New("stop")
		calls := 0
		if err := r.ForEachHeader(func(_, _ []byte) error { calls++; return stop }); err != stop || calls != 1 {
			return fmt.Errorf("ForEachHeader did not stop at the callback's error: %v after %d calls", err, calls)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := Record{Headers: []byte{0x01}, NumHeaders: 1} // key length -1
	wantCode(t, "null header key", bad.ForEachHeader(func(_, _ []byte) error { return nil }), errcode.InvalidRecord)
}

func vi(v int32) []byte { return appendVarint(nil, v) }
func vl(v int64) []byte { return appendVarlong(nil, v) }

// rawRec frames a record body with its length varint.
func rawRec(parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(vi(int32(len(body))), body...)
}

// okRec is a well-formed record body with offset delta d.
func okRec(d int32) []byte {
	return rawRec([]byte{0}, vl(0), vi(d), vi(1), []byte("k"), vi(1), []byte("v"), vi(0))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestWalkStructureErrors gives every record-structure failure its code:
// INVALID_RECORD, thrown, with the index of the record at fault.
func TestWalkStructureErrors(t *testing.T) {
	attrs, ts, off := []byte{0}, vl(0), vi(0)
	key, val := cat(vi(1), []byte("k")), cat(vi(1), []byte("v"))
	cases := []struct {
		name  string
		n     int
		raw   []byte
		index int
	}{
		{"fewer records than count", 2, okRec(0), 1},
		{"bytes after the last record", 1, cat(okRec(0), okRec(1)), -1},
		{"one stray byte after the last record", 1, cat(okRec(0), []byte{0}), -1},
		{"negative record length", 1, vi(-3), 0},
		{"record length past the data", 1, cat(vi(50), okRec(0)[1:]), 0},
		{"empty record", 1, vi(0), 0},
		{"fields longer than length", 1, cat(vi(5), attrs, ts, off, key, val, vi(0)), 0},
		{"fields shorter than length", 1, rawRec(attrs, ts, off, key, val, vi(0), []byte{9}), 0},
		{"key length -2", 1, rawRec(attrs, ts, off, vi(-2), val, vi(0)), 0},
		{"value length -7", 1, rawRec(attrs, ts, off, key, vi(-7), vi(0)), 0},
		{"key past the record", 1, rawRec(attrs, ts, off, vi(40), []byte("k")), 0},
		{"negative header count", 1, rawRec(attrs, ts, off, key, val, vi(-1)), 0},
		{"header count past the bytes", 1, rawRec(attrs, ts, off, key, val, vi(9), vi(1), []byte("a"), vi(-1)), 0},
		{"null header key", 1, rawRec(attrs, ts, off, key, val, vi(1), vi(-1), vi(-1)), 0},
		{"header value length -2", 1, rawRec(attrs, ts, off, key, val, vi(1), vi(1), []byte("a"), vi(-2)), 0},
		{"offset delta varint of 6 bytes", 1, rawRec(attrs, ts, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, key, val, vi(0)), 0},
		{"timestamp varlong of 11 bytes", 1, rawRec(attrs, bytes.Repeat([]byte{0xff}, 10), []byte{0x01}, off, key, val, vi(0)), 0},
		{"record length varint cut", 1, []byte{0x80}, 0},
		{"second record broken", 3, cat(okRec(0), rawRec(attrs, ts, vi(1), vi(-3), val, vi(0)), okRec(2)), 1},
	}
	for _, tc := range cases {
		for _, c := range []compress.Codec{compress.None, compress.Zstd} {
			b := kmsgBatchRaw(t, kmsgOpts{codec: c, pid: -1, epoch: -1, seq: -1}, tc.n, tc.raw)
			h, err := CheckBatch(b)
			if err != nil {
				t.Fatalf("%s: CheckBatch: %v", tc.name, err)
			}
			_, err = WalkBatch(b, &h, nil, 0, func(int, *Record) error { return nil })
			e := wantCode(t, tc.name+" "+c.String(), err, errcode.InvalidRecord)
			if e.Index != tc.index {
				t.Errorf("%s %s: index %d, want %d (%v)", tc.name, c, e.Index, tc.index, e)
			}
		}
	}
}

// TestVarintFifthByteBitsDropped accepts what Kafka's readVarint accepts: a
// 5-byte varint whose last byte carries bits beyond 32.
func TestVarintFifthByteBitsDropped(t *testing.T) {
	raw := rawRec([]byte{0}, vl(0), []byte{0x82, 0x80, 0x80, 0x80, 0x70}, vi(-1), vi(-1), vi(0))
	b := kmsgBatchRaw(t, plainOpts(), 1, raw)
	got := ourRecs(t, b)
	if len(got) != 1 || got[0].OffsetDelta != 1 || got[0].Key != nil || got[0].Value != nil {
		t.Fatalf("records %+v", got)
	}
}

func TestWalkCallbackError(t *testing.T) {
	b := kmsgBatch(t, plainOpts(), sampleRecs(0))
	h, _ := CheckBatch(b)
	stop := errors.New("stop here")
	seen := 0
	_, err := WalkBatch(b, &h, nil, 0, func(i int, _ *Record) error {
		seen++
		if i == 1 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 2 {
		t.Fatalf("err %v after %d records, want the callback's error after 2", err, seen)
	}
}

func TestWalkDecompressionLimit(t *testing.T) {
	big := []rec{{0, 0, nil, make([]byte, 1<<20), nil}}
	for _, c := range allCodecs[1:] {
		b := kmsgBatch(t, kmsgOpts{codec: c, pid: -1, epoch: -1, seq: -1}, big)
		h, err := CheckBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		const limit = 64 << 10
		scratch, err := WalkBatch(b, &h, nil, limit, func(int, *Record) error { return nil })
		e := wantCode(t, c.String()+" over the limit", err, errcode.MessageTooLarge)
		if !errors.Is(err, compress.ErrTooLarge) || e.Offset != HeaderSize {
			t.Errorf("%s: %v does not wrap compress.ErrTooLarge at byte 61", c, err)
		}
		if len(scratch) > limit || cap(scratch) > 3*limit {
			t.Errorf("%s: scratch grew to len %d cap %d for a %d limit", c, len(scratch), cap(scratch), limit)
		}
		// Under the limit the same batch walks.
		scratch, err = WalkBatch(b, &h, scratch, 2<<20, func(int, *Record) error { return nil })
		if err != nil || len(scratch) < 1<<20 {
			t.Fatalf("%s: %v, scratch %d", c, err, len(scratch))
		}
	}
}

func TestWalkCorruptCompressedData(t *testing.T) {
	for _, c := range allCodecs[1:] {
		b := kmsgBatch(t, kmsgOpts{codec: c, pid: -1, epoch: -1, seq: -1}, sampleRecs(0))
		garbage := append(b[:HeaderSize:HeaderSize], []byte("this is not compressed data at all, not at all")...)
		SetBaseOffset(garbage, 0)
		garbage[8], garbage[9], garbage[10], garbage[11] = 0, 0, 0, byte(len(garbage)-12)
		resum(garbage)
		h, err := CheckBatch(garbage)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		_, err = WalkBatch(garbage, &h, nil, 1<<20, func(int, *Record) error { return nil })
		wantCode(t, c.String()+" garbage", err, errcode.CorruptMessage)
	}
}

// TestWalkAllocations asserts the uncompressed walk allocates nothing, per
// record or per batch.
func TestWalkAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	var recs []rec
	for i := range 200 {
		recs = append(recs, rec{int32(i), int64(i), []byte("key"), make([]byte, 100), []hdr{{"h", []byte("v")}}})
	}
	b := kmsgBatch(t, plainOpts(), recs)
	h, err := CheckBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	fn := func(_ int, r *Record) error {
		total += len(r.Value)
		return r.ForEachHeader(func(k, v []byte) error { total += len(k) + len(v); return nil })
	}
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := CheckBatch(b); err != nil {
			t.Fatal(err)
		}
		if _, err := WalkBatch(b, &h, nil, 0, fn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("CheckBatch+WalkBatch over %d records: %v allocations, want 0", len(recs), allocs)
	}
	allocs = testing.AllocsPerRun(50, func() {
		rs := NewRecords(b[HeaderSize:], h.NumRecords)
		for rs.Next() {
			total += len(rs.Record().Key)
		}
		if rs.Err() != nil {
			t.Fatal(rs.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("Records over %d records: %v allocations, want 0", len(recs), allocs)
	}
	if total == 0 {
		t.Fatal("walk saw nothing")
	}
}

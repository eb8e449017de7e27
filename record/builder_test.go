package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

func buildSample(t *testing.T, b *Builder, recs []rec) []byte {
	t.Helper()
	for _, r := range recs {
		var hs []RecordHeader
		for _, h := range r.Headers {
			hs = append(hs, RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		b.Append(r.Timestamp, r.Key, r.Value, hs...)
	}
	out, err := b.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBuilderReadByOracles builds batches and has kmsg and kafka-go decode
// them to the same records, for every codec.
func TestBuilderReadByOracles(t *testing.T) {
	const base = 1_700_000_000_000
	want := sampleRecs(base)
	for _, c := range allCodecs {
		b := NewBuilder()
		b.Codec = c
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = 77, 4, 1000
		b.Transactional = true
		out := buildSample(t, b, want)
		if b.Len() != len(want) {
			t.Fatalf("Len %d", b.Len())
		}
		h, err := CheckBatch(out)
		if err != nil {
			t.Fatalf("%s: our batch fails CheckBatch: %v", c, err)
		}
		if h.BaseTimestamp != base || h.MaxTimestamp != base+1000 || h.LastOffsetDelta != 3 || h.NumRecords != 4 ||
			h.ProducerID != 77 || h.ProducerEpoch != 4 || h.BaseSequence != 1000 || !h.Transactional() ||
			h.PartitionLeaderEpoch != -1 || h.Codec() != c || h.LogAppendTime() {
			t.Fatalf("%s: header %+v", c, h)
		}
		rb, got := kmsgRead(t, out)
		if rb.ProducerID != 77 || rb.FirstSequence != 1000 || rb.Attributes != int16(c)|AttrTransactional {
			t.Fatalf("%s: kmsg header %+v", c, rb)
		}
		sameRecs(t, "kmsg reads builder "+c.String(), got, want, true)
		rs, got := kgoRead(t, out)
		if rs.Version != 2 {
			t.Fatalf("kafka-go version %d", rs.Version)
		}
		sameRecs(t, "kafka-go reads builder "+c.String(), got, want, true)
		sameRecs(t, "we read builder "+c.String(), ourRecs(t, out), want, true)
	}
}

// TestBuilderMatchesKmsgBytes checks the uncompressed encoding byte for byte
// against kmsg's.
func TestBuilderMatchesKmsgBytes(t *testing.T) {
	want := sampleRecs(5000)
	b := NewBuilder()
	ours := buildSample(t, b, want)
	theirs := kmsgBatch(t, kmsgOpts{pid: -1, epoch: -1, seq: -1, baseTimestamp: 5000, maxTimestamp: 6000}, want)
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("builder bytes differ from kmsg's:\n%x\n%x", ours, theirs)
	}
}

func TestBuilderSettings(t *testing.T) {
	b := NewBuilder()
	out, err := b.Finish([]byte("prefix"))
	if err != nil || string(out) != "prefix" {
		t.Fatalf("empty builder: %q, %v", out, err)
	}
	b.Append(-1, nil, []byte("a"))
	b.Append(-1, nil, []byte("b"))
	out, err = b.Finish([]byte("prefix"))
	if err != nil || string(out[:6]) != "prefix" {
		t.Fatal(err)
	}
	h, err := CheckBatch(out[6:])
	if err != nil || h.BaseTimestamp != -1 || h.MaxTimestamp != -1 {
		t.Fatalf("no-timestamp batch: %+v, %v", h, err)
	}

	b.Reset()
	b.LogAppendTime = 4242
	b.BaseOffset, b.PartitionLeaderEpoch = 10, 3
	b.Append(100, nil, nil)
	b.Append(50, nil, nil)
	out, _ = b.Finish(nil)
	h = ReadHeader(out)
	if !CRCValid(out) || !h.LogAppendTime() || h.MaxTimestamp != 4242 || h.BaseTimestamp != 100 || h.BaseOffset != 10 || h.PartitionLeaderEpoch != 3 {
		t.Fatalf("LogAppendTime batch header %+v", h)
	}
	if got := ourRecs(t, out); got[0].Timestamp != 4242 || got[1].Timestamp != 4242 {
		t.Fatalf("LogAppendTime records read %d, %d", got[0].Timestamp, got[1].Timestamp)
	}

	b.Reset()
	b.Codec = compress.Codec(6)
	b.Append(0, nil, nil)
	if _, err := b.Finish(nil); err == nil {
		t.Fatal("codec 6 accepted")
	}
	b.Reset()
	b.Codec, b.Level = compress.Gzip, 99
	b.Append(0, nil, nil)
	if _, err := b.Finish(nil); err == nil {
		t.Fatal("gzip level 99 accepted")
	}
}

// TestControlBatch checks the transaction marker against a kmsg-built one
// byte for byte and against kafka-go's control-record reader.
func TestControlBatch(t *testing.T) {
	for _, commit := range []bool{true, false} {
		out := AppendControlBatch([]byte{0xEE}, 123, 9, commit, 17, 1_700_000_000_123)
		if out[0] != 0xEE {
			t.Fatal("dst prefix lost")
		}
		out = out[1:]

		typ := uint16(0)
		if commit {
			typ = 1
		}
		key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), typ)
		value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), 17)
		raw := kmsgRecord(kmsg.Record{Key: key, Value: value})
		want := kmsgBatchRaw(t, kmsgOpts{pid: 123, epoch: 9, seq: -1, attrs: AttrControl | AttrTransactional,
			baseTimestamp: 1_700_000_000_123, maxTimestamp: 1_700_000_000_123}, 1, raw)
		if !bytes.Equal(out, want) {
			t.Fatalf("marker bytes differ from kmsg's:\n%x\n%x", out, want)
		}

		h, err := CheckFraming(out)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "client control batch", CheckContents(out, &h), errcode.InvalidRecord)
		h = ReadHeader(out)
		if !CRCValid(out) || !h.Control() || !h.Transactional() || h.BaseSequence != -1 || h.NumRecords != 1 {
			t.Fatalf("marker header %+v", h)
		}
		_, err = WalkBatch(out, &h, nil, 0, func(_ int, r *Record) error {
			ct, ce, err := ParseMarker(r)
			if err != nil || ct != int16(typ) || ce != 17 || r.NumHeaders != 0 || r.OffsetDelta != 0 || r.TimestampDelta != 0 {
				t.Errorf("ParseMarker = %d, %d, %v; record %+v", ct, ce, err, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		rs, _ := kgoReadControl(t, out)
		if rs.Type != int16(typ) || rs.Version != 0 || binary.BigEndian.Uint32(rs.Data[2:]) != 17 {
			t.Fatalf("kafka-go control record %+v", rs)
		}
	}
}

func kgoReadControl(t *testing.T, b []byte) (*protocol.ControlRecord, error) {
	t.Helper()
	rs, _ := func() (protocol.RecordSet, error) {
		in := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
		var rs protocol.RecordSet
		_, err := rs.ReadFrom(bytes.NewBuffer(append(in, b...)))
		return rs, err
	}()
	cb, ok := rs.Records.(*protocol.RecordStream)
	if !ok || len(cb.Records) != 1 {
		t.Fatalf("kafka-go read %T", rs.Records)
	}
	ctl, ok := cb.Records[0].(*protocol.ControlBatch)
	if !ok {
		t.Fatalf("kafka-go did not see a control batch: %T", cb.Records[0])
	}
	cr, err := ctl.ReadControlRecord()
	if err != nil {
		t.Fatal(err)
	}
	return cr, nil
}

func TestParseMarkerErrors(t *testing.T) {
	cases := []struct {
		name     string
		key, val []byte
		code     errcode.Code
		typ      int16
	}{
		{"short key", []byte{0, 0, 1}, []byte{0, 0, 0, 0, 0, 1}, errcode.InvalidRecord, 0},
		{"negative key version", []byte{0xff, 0xff, 0, 1}, []byte{0, 0, 0, 0, 0, 1}, errcode.InvalidRecord, 0},
		{"short value", []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0}, errcode.InvalidRecord, 0},
		{"longer key and value of a newer version", []byte{0, 1, 0, 0, 9, 9}, []byte{0, 1, 0, 0, 0, 5, 7, 7}, errcode.None, ControlAbort},
		{"other control type", []byte{0, 0, 0, 5}, nil, errcode.None, 5},
	}
	for _, tc := range cases {
		typ, _, err := ParseMarker(&Record{Key: tc.key, Value: tc.val})
		if tc.code != errcode.None {
			wantCode(t, tc.name, err, tc.code)
			continue
		}
		if err != nil || typ != tc.typ {
			t.Errorf("%s: %d, %v", tc.name, typ, err)
		}
	}
}

// TestRebuild checks Kafka's rebuild (§2.4): producer fields and the
// transactional bit kept, offsets renumbered 0..n-1, timestamps as readers
// saw them, the target codec.
func TestRebuild(t *testing.T) {
	const base = 1_600_000_000_000
	src := sampleRecs(base)
	// Out-of-order inner offsets, as some old clients wrote them.
	for i := range src {
		src[i].OffsetDelta = int32(10 * i)
	}
	for _, from := range allCodecs {
		for _, to := range allCodecs {
			b := kmsgBatch(t, kmsgOpts{codec: from, pid: 5, epoch: 2, seq: 40, attrs: AttrTransactional,
				baseTimestamp: base, maxTimestamp: base + 1000}, src)
			h, err := CheckBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			scratch, err := WalkBatch(b, &h, nil, 1<<20, func(int, *Record) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			records := scratch
			if from == compress.None {
				records = b[HeaderSize:]
			}
			nb, err := Rebuild(nil, &h, records, to, 0)
			if err != nil {
				t.Fatalf("%s->%s: %v", from, to, err)
			}
			nh, err := CheckBatch(nb)
			if err != nil {
				t.Fatalf("%s->%s: rebuilt batch fails CheckBatch: %v", from, to, err)
			}
			if nh.Codec() != to || nh.ProducerID != 5 || nh.ProducerEpoch != 2 || nh.BaseSequence != 40 || !nh.Transactional() ||
				nh.MaxTimestamp != base+1000 || nh.BaseTimestamp != base || nh.LogAppendTime() {
				t.Fatalf("%s->%s: header %+v", from, to, nh)
			}
			want := sampleRecs(base)
			sameRecs(t, from.String()+"->"+to.String(), ourRecs(t, nb), want, true)
			_, kgot := kmsgRead(t, nb)
			sameRecs(t, from.String()+"->"+to.String()+" (kmsg)", kgot, want, true)
		}
	}
}

// TestRebuildLogAppendTimeSource rebuilds a batch the client marked
// LogAppendTime: every record takes the batch's maxTimestamp, and the new
// batch is CreateTime (the topic's type decides).
func TestRebuildLogAppendTimeSource(t *testing.T) {
	b := kmsgBatch(t, kmsgOpts{codec: compress.Gzip, pid: -1, epoch: -1, seq: -1, attrs: AttrLogAppendTime,
		baseTimestamp: 10, maxTimestamp: 777}, sampleRecs(10))
	h, _ := CheckBatch(b)
	scratch, err := WalkBatch(b, &h, nil, 1<<20, func(int, *Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	bld := NewBuilder()
	nb, err := bld.Rebuild([]byte("x"), &h, scratch, compress.None, 0)
	if err != nil {
		t.Fatal(err)
	}
	nb = nb[1:]
	nh := ReadHeader(nb)
	if nh.LogAppendTime() || nh.MaxTimestamp != 777 || nh.BaseTimestamp != 777 {
		t.Fatalf("header %+v", nh)
	}
	for _, r := range ourRecs(t, nb) {
		if r.Timestamp != 777 {
			t.Fatalf("record timestamp %d, want 777", r.Timestamp)
		}
	}
	// A broken records section is refused, not rebuilt.
	_, err = Rebuild(nil, &h, scratch[:len(scratch)-1], compress.None, 0)
	wantCode(t, "truncated records", err, errcode.InvalidRecord)
}

// TestBuilderZstdLimit: a zstd batch our builder writes declares its size,
// so an over-limit walk is MESSAGE_TOO_LARGE before any decoding.
func TestBuilderZstdLimit(t *testing.T) {
	b := NewBuilder()
	b.Codec = compress.Zstd
	b.Append(0, nil, make([]byte, 1<<20))
	out, err := b.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := CheckBatch(out)
	scratch, err := WalkBatch(out, &h, nil, 100<<10, func(int, *Record) error { return nil })
	wantCode(t, "zstd over the limit", err, errcode.MessageTooLarge)
	if cap(scratch) > 300<<10 {
		t.Errorf("scratch cap %d for a 100 KiB limit", cap(scratch))
	}
}

// TestRandomAgainstOracles builds random record sets both ways (kmsg builds,
// we parse; we build, kmsg and kafka-go parse) for every codec.
func TestRandomAgainstOracles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for iter := range 60 {
		c := allCodecs[iter%len(allCodecs)]
		base := int64(1_600_000_000_000) + rng.Int64N(1<<30)
		var recs []rec
		for i := range 1 + rng.IntN(40) {
			r := rec{OffsetDelta: int32(i), Timestamp: base + rng.Int64N(200_000) - 100_000, Key: blob(), Value: blob()}
			for range rng.IntN(3) {
				r.Headers = append(r.Headers, hdr{string(blob()), blob()})
			}
			recs = append(recs, r)
		}
		theirs := kmsgBatch(t, kmsgOpts{codec: c, pid: -1, epoch: -1, seq: -1, baseTimestamp: base}, recs)
		sameRecs(t, fmt.Sprintf("iteration %d: we read kmsg's %s batch", iter, c), ourRecs(t, theirs), recs, true)

		b := NewBuilder()
		b.Codec = c
		ours := buildSample(t, b, recs)
		_, got := kmsgRead(t, ours)
		sameRecs(t, fmt.Sprintf("iteration %d: kmsg reads our %s batch", iter, c), got, recs, true)
		_, got = kgoRead(t, ours)
		sameRecs(t, fmt.Sprintf("iteration %d: kafka-go reads our %s batch", iter, c), got, recs, true)
	}
}

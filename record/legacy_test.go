package record

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// legacyMsg encodes one legacy message with kmsg's MessageV0/MessageV1 and
// fills in its size and CRC-32.
func legacyMsg(magic, attrs int8, offset, ts int64, key, value []byte) []byte {
	var b []byte
	if magic == 0 {
		m := kmsg.MessageV0{Offset: offset, Magic: 0, Attributes: attrs, Key: key, Value: value}
		b = m.AppendTo(nil)
	} else {
		m := kmsg.MessageV1{Offset: offset, Magic: magic, Attributes: attrs, Timestamp: ts, Key: key, Value: value}
		b = m.AppendTo(nil)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
	return b
}

// legacySet encodes recs as uncompressed legacy messages with offsets 0..n-1.
func legacySet(magic int8, recs []rec) []byte {
	var out []byte
	for i, r := range recs {
		out = append(out, legacyMsg(magic, 0, int64(i), r.Timestamp, r.Key, r.Value)...)
	}
	return out
}

// legacyWrapper compresses inner into a wrapper message of the given magic.
func legacyWrapper(t *testing.T, magic int8, c compress.Codec, offset, ts int64, inner []byte) []byte {
	t.Helper()
	var value []byte
	switch {
	case c == compress.LZ4 && magic == 0:
		var err error
		if value, err = compress.AppendEncodedLZ4Legacy(nil, inner, true); err != nil {
			t.Fatal(err)
		}
	default:
		value = kgoCompress(t, c, inner)
	}
	return legacyMsg(magic, int8(c), offset, ts, nil, value)
}

func noHeaders(recs []rec) []rec {
	out := append([]rec{}, recs...)
	for i := range out {
		out[i].Headers = nil
		out[i].OffsetDelta = int32(i)
	}
	return out
}

func openValidator() *Validator {
	return &Validator{Now: 1_700_000_000_000, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64, Partition: "t-0"}
}

func upConvert(t *testing.T, v *Validator, set []byte, target compress.Codec) BatchResult {
	t.Helper()
	res, out, _, err := v.UpConvert([]byte("dst"), set, target, 0, nil)
	if err != nil {
		t.Fatalf("UpConvert: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("UpConvert record errors: %+v", res.Errors)
	}
	if string(out[:3]) != "dst" || !bytes.Equal(out[3:], res.Batch) {
		t.Fatal("UpConvert did not append the batch to dst")
	}
	return res
}

// TestUpConvertKafkaGoMessageSets converts magic-1 sets kafka-go writes,
// uncompressed and in gzip, snappy and lz4 wrappers, into v2 batches that
// kmsg and kafka-go read back to the same records.
func TestUpConvertKafkaGoMessageSets(t *testing.T) {
	const base = 1_700_000_000_000
	want := noHeaders(sampleRecs(base))
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4} {
		set := kgoWrite(t, 1, c, want)
		var seen []rec
		_, err := WalkMessageSet(set, nil, 1<<20, func(i int, m *Message) error {
			if m.Magic != 1 || m.Offset != int64(i) {
				t.Errorf("%s: message %d magic %d offset %d", c, i, m.Magic, m.Offset)
			}
			seen = append(seen, rec{int32(i), m.Timestamp, clone(m.Key), clone(m.Value), nil})
			return nil
		})
		if err != nil {
			t.Fatalf("%s: WalkMessageSet: %v", c, err)
		}
		sameRecs(t, "WalkMessageSet "+c.String(), seen, want, true)

		for _, target := range []compress.Codec{c, compress.None, compress.Zstd} {
			res := upConvert(t, openValidator(), set, target)
			h := res.Header
			if h.Codec() != target || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.Transactional() ||
				h.LogAppendTime() || h.MaxTimestamp != base+1000 || res.MaxTimestamp != base+1000 || res.Records != len(want) {
				t.Fatalf("%s->%s: header %+v, result %+v", c, target, h, res)
			}
			if _, err := CheckBatch(res.Batch); err != nil {
				t.Fatalf("%s->%s: converted batch fails CheckBatch: %v", c, target, err)
			}
			_, got := kmsgRead(t, res.Batch)
			sameRecs(t, "kmsg reads up-converted "+c.String(), got, want, true)
			_, got = kgoRead(t, res.Batch)
			sameRecs(t, "kafka-go reads up-converted "+c.String(), got, want, true)
		}
	}
}

// TestUpConvertMagic0 converts magic-0 sets: no timestamps (-1), and an
// lz4 wrapper with the broken frame checksum that magic 0 implies.
func TestUpConvertMagic0(t *testing.T) {
	want := noHeaders(sampleRecs(0))
	for i := range want {
		want[i].Timestamp = -1
	}
	sets := map[string][]byte{"none": legacySet(0, want)}
	for _, c := range []compress.Codec{compress.Gzip, compress.Snappy, compress.LZ4} {
		sets[c.String()] = legacyWrapper(t, 0, c, 3, 0, legacySet(0, want))
	}
	for name, set := range sets {
		res := upConvert(t, openValidator(), set, compress.None)
		if res.MaxTimestamp != -1 || res.Header.MaxTimestamp != -1 || res.Header.BaseTimestamp != -1 {
			t.Fatalf("%s: timestamps in %+v", name, res.Header)
		}
		sameRecs(t, "magic 0 "+name, ourRecs(t, res.Batch), want, true)
		_, got := kmsgRead(t, res.Batch)
		sameRecs(t, "magic 0 "+name+" (kmsg)", got, want, true)
	}
	// The broken checksum is only legal for magic 0.
	inner := legacySet(1, noHeaders(sampleRecs(5)))
	value, _ := compress.AppendEncodedLZ4Legacy(nil, inner, true)
	_, _, _, err := openValidator().UpConvert(nil, legacyMsg(1, int8(compress.LZ4), 0, 5, nil, value), compress.None, 0, nil)
	wantCode(t, "magic 1 with broken lz4 checksum", err, errcode.CorruptMessage)
}

// TestWalkMessageSetOffsets resolves magic-1 relative inner offsets against
// the wrapper's offset (the last inner message's absolute offset).
func TestWalkMessageSetOffsets(t *testing.T) {
	recs := noHeaders(sampleRecs(10))
	for _, tc := range []struct {
		magic   int8
		wrapper int64
		want    []int64
	}{
		{1, 100, []int64{97, 98, 99, 100}},
		{1, 0, []int64{0, 1, 2, 3}},
		{0, 100, []int64{0, 1, 2, 3}}, // magic 0 inner offsets are absolute already
	} {
		set := legacyWrapper(t, tc.magic, compress.Gzip, tc.wrapper, 10, legacySet(tc.magic, recs))
		var got []int64
		if _, err := WalkMessageSet(set, nil, 0, func(_ int, m *Message) error {
			got = append(got, m.Offset)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[0] != tc.want[0] || got[3] != tc.want[3] {
			t.Errorf("magic %d wrapper %d: offsets %v, want %v", tc.magic, tc.wrapper, got, tc.want)
		}
	}
}

func TestReadMessage(t *testing.T) {
	b := legacyMsg(1, 0x08, 7, 99, []byte("k"), nil)
	m, n, err := ReadMessage(append(b, 1, 2))
	if err != nil || n != len(b) || m.Offset != 7 || m.Timestamp != 99 || !m.LogAppendTime() || string(m.Key) != "k" || m.Value != nil || m.Codec() != compress.None {
		t.Fatalf("ReadMessage = %+v, %d, %v", m, n, err)
	}
	_, _, err = ReadMessage(b[:len(b)-1])
	wantCode(t, "truncated", err, errcode.CorruptMessage)
}

func setOf(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestLegacyErrorCodes gives every thrown legacy failure its Kafka code.
func TestLegacyErrorCodes(t *testing.T) {
	ok0 := legacyMsg(0, 0, 0, 0, []byte("k"), []byte("v"))
	ok1 := legacyMsg(1, 0, 0, 5, []byte("k"), []byte("v"))
	edit := func(b []byte, f func([]byte)) []byte {
		b = append([]byte{}, b...)
		f(b)
		return b
	}
	recrc := func(b []byte) { binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:])) }
	inner1 := legacySet(1, noHeaders(sampleRecs(5)))
	gz := func(magic int8, offset int64, inner []byte) []byte {
		return legacyWrapper(t, magic, compress.Gzip, offset, 5, inner)
	}
	v2 := kmsgBatch(t, plainOpts(), sampleRecs(5))
	cases := []struct {
		name string
		set  []byte
		max  int
		code errcode.Code
	}{
		{"size 13", edit(ok0, func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) }), 0, errcode.CorruptMessage},
		{"magic 3", edit(ok0, func(b []byte) { b[16] = 3; recrc(b) }), 0, errcode.CorruptMessage},
		{"crc mismatch", edit(ok1, func(b []byte) { b[len(b)-1] ^= 1 }), 0, errcode.CorruptMessage},
		{"crc mismatch in a later entry", setOf(ok1, edit(ok1, func(b []byte) { b[len(b)-1] ^= 1 })), 0, errcode.CorruptMessage},
		{"too large before crc", edit(ok1, func(b []byte) { b[len(b)-1] ^= 1 }), len(ok1) - 1, errcode.MessageTooLarge},
		{"key past the message", edit(ok0, func(b []byte) { binary.BigEndian.PutUint32(b[18:], 50); recrc(b) }), 0, errcode.CorruptMessage},
		{"key length -2", edit(ok0, func(b []byte) { binary.BigEndian.PutUint32(b[18:], 0xfffffffe); recrc(b) }), 0, errcode.CorruptMessage},
		{"bytes after the value", func() []byte {
			b := append(append([]byte{}, ok0...), 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			recrc(b)
			return b
		}(), 0, errcode.CorruptMessage},
		{"magic 1 too short for a timestamp", edit(ok0, func(b []byte) { b[16] = 1; recrc(b) }), 0, errcode.CorruptMessage},
		{"codec 6", edit(ok1, func(b []byte) { b[17] = 6; recrc(b) }), 0, errcode.CorruptMessage},
		{"v2 batch with base offset", kmsgBatch(t, kmsgOpts{baseOffset: 4, pid: -1, epoch: -1, seq: -1}, sampleRecs(1)), 0, errcode.InvalidRecord},
		{"v2 batch", v2, 0, errcode.InvalidRecord},
		{"v2 batch with bad CRC", edit(v2, func(b []byte) { b[30]++ }), 0, errcode.CorruptMessage},
		{"legacy then v2", setOf(ok1, v2), 0, errcode.InvalidRecord},
		{"mixed magics", setOf(ok0, ok1), 0, errcode.InvalidRecord},
		{"wrapper not alone", setOf(ok1, gz(1, 0, inner1)), 0, errcode.InvalidRecord},
		{"zstd wrapper", legacyMsg(1, int8(compress.Zstd), 0, 5, nil, kgoCompress(t, compress.Zstd, inner1)), 0, errcode.InvalidRecord},
		{"null wrapper value", legacyMsg(1, int8(compress.Gzip), 0, 5, nil, nil), 0, errcode.InvalidRecord},
		{"empty wrapper", gz(1, 0, nil), 0, errcode.InvalidRecord},
		{"only a partial inner message", gz(1, 0, inner1[:20]), 0, errcode.InvalidRecord},
		{"inner size 13", gz(1, 0, edit(inner1, func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) })), 0, errcode.CorruptMessage},
		{"wrapper offset below last inner", gz(1, 2, inner1), 0, errcode.InvalidRecord},
		{"inner crc mismatch", gz(1, 0, edit(inner1, func(b []byte) { b[25] ^= 1 })), 0, errcode.CorruptMessage},
		{"inner layout broken", gz(1, 0, edit(inner1, func(b []byte) { binary.BigEndian.PutUint32(b[26:], 999); recrc(b) })), 0, errcode.CorruptMessage},
		{"garbage wrapper value", legacyMsg(1, int8(compress.Gzip), 0, 5, nil, []byte("not gzip at all")), 0, errcode.CorruptMessage},
	}
	for _, tc := range cases {
		v := openValidator()
		v.MaxMessageBytes = tc.max
		res, _, _, err := v.UpConvert(nil, tc.set, compress.None, 0, nil)
		wantCode(t, tc.name, err, tc.code)
		if res.Batch != nil || len(res.Errors) != 0 {
			t.Errorf("%s: result %+v alongside an error", tc.name, res)
		}
	}
	// The same structural rules in WalkMessageSet.
	for _, tc := range cases[15:] {
		_, err := WalkMessageSet(tc.set, nil, 0, func(int, *Message) error { return nil })
		if tc.name == "wrapper not alone" {
			continue // a reader's walk allows it
		}
		wantCode(t, "WalkMessageSet "+tc.name, err, tc.code)
	}
}

func TestUpConvertLimitAndEmpty(t *testing.T) {
	big := legacyWrapper(t, 1, compress.Gzip, 0, 5, legacySet(1, []rec{{0, 5, nil, make([]byte, 1<<20), nil}}))
	v := openValidator()
	v.Limit = 64 << 10
	_, _, scratch, err := v.UpConvert(nil, big, compress.None, 0, nil)
	wantCode(t, "over the limit", err, errcode.MessageTooLarge)
	if cap(scratch) > 3*v.Limit {
		t.Errorf("scratch cap %d for a %d limit", cap(scratch), v.Limit)
	}
	for _, set := range [][]byte{nil, big[:40]} {
		res, out, _, err := openValidator().UpConvert([]byte("d"), set, compress.None, 0, nil)
		if err != nil || res.Batch != nil || string(out) != "d" {
			t.Errorf("empty set: %+v, %q, %v", res, out, err)
		}
	}
	// A trailing partial entry is dropped.
	set := setOf(legacySet(1, noHeaders(sampleRecs(5))), big[:30])
	if res := upConvert(t, openValidator(), set, compress.None); res.Records != 4 {
		t.Errorf("converted %d records, want 4", res.Records)
	}
}

// TestUpConvertRecordErrors checks the per-record errors Kafka collects
// for legacy data, and where it stops collecting.
func TestUpConvertRecordErrors(t *testing.T) {
	const now = 1_700_000_000_000
	recs := []rec{{0, now, nil, []byte("a"), nil}, {1, now - 10_000, []byte("k"), []byte("b"), nil}, {2, now, nil, []byte("c"), nil}}
	type want struct {
		index int
		code  errcode.Code
	}
	nested := legacyWrapper(t, 1, compress.Gzip, 0, now, legacySet(1, recs[1:2]))
	wrongMagic := legacyMsg(0, 0, 1, 0, []byte("k"), []byte("x"))
	cases := []struct {
		name string
		v    func(*Validator)
		set  []byte
		want []want
	}{
		{"compacted, uncompressed set stops at the first bad entry", func(v *Validator) { v.Compacted = true },
			legacySet(1, recs), []want{{0, errcode.InvalidRecord}}},
		{"compacted, a wrapper collects every record", func(v *Validator) { v.Compacted = true },
			legacyWrapper(t, 1, compress.Snappy, 0, now, legacySet(1, recs)), []want{{0, errcode.InvalidRecord}, {2, errcode.InvalidRecord}}},
		{"timestamp too old", func(v *Validator) { v.TimestampBeforeMaxMs = 5000 },
			legacySet(1, recs), []want{{1, errcode.InvalidTimestamp}}},
		{"timestamp too new", func(v *Validator) { v.Now = now - 20_000; v.TimestampAfterMaxMs = 1000 },
			legacyWrapper(t, 1, compress.Gzip, 0, now, legacySet(1, recs)), []want{{0, errcode.InvalidTimestamp}, {1, errcode.InvalidTimestamp}, {2, errcode.InvalidTimestamp}}},
		{"key error wins over timestamp error", func(v *Validator) {
			v.Compacted = true
			v.TimestampBeforeMaxMs = 0
			v.TimestampAfterMaxMs = 0
			v.Now = 1
		},
			legacyWrapper(t, 1, compress.Gzip, 0, now, legacySet(1, recs)), []want{{0, errcode.InvalidRecord}, {1, errcode.InvalidTimestamp}, {2, errcode.InvalidRecord}}},
		{"nested compression and wrong inner magic", nil,
			legacyWrapper(t, 1, compress.Gzip, 0, now, setOf(legacyMsg(1, 0, 0, now, nil, nil), nested, wrongMagic)),
			[]want{{1, errcode.InvalidRecord}, {2, errcode.InvalidRecord}}},
		{"LogAppendTime message on a LogAppendTime topic", func(v *Validator) { v.LogAppendTime = true },
			setOf(legacyMsg(1, 0, 0, now, nil, nil), legacyMsg(1, LegacyAttrLogAppendTime, 1, now, nil, nil)), []want{{1, errcode.InvalidTimestamp}}},
		{"LogAppendTime wrapper without a timestamp on a CreateTime topic", nil,
			legacyMsg(1, int8(compress.Gzip)|LegacyAttrLogAppendTime, 0, -1, nil, kgoCompress(t, compress.Gzip, legacySet(1, recs))),
			[]want{{0, errcode.InvalidTimestamp}, {1, errcode.InvalidTimestamp}, {2, errcode.InvalidTimestamp}}},
		{"magic 0 has no timestamps to check", func(v *Validator) { v.TimestampBeforeMaxMs, v.TimestampAfterMaxMs, v.LogAppendTime = 0, 0, true },
			legacySet(0, recs), nil},
	}
	for _, tc := range cases {
		v := openValidator()
		v.Now = now
		if tc.v != nil {
			tc.v(v)
		}
		res, _, _, err := v.UpConvert(nil, tc.set, compress.None, 0, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(res.Errors) != len(tc.want) {
			t.Fatalf("%s: errors %+v, want %+v", tc.name, res.Errors, tc.want)
		}
		for i, w := range tc.want {
			if res.Errors[i].Index != w.index || res.Errors[i].Code != w.code || res.Errors[i].Msg == "" {
				t.Errorf("%s: error %d = %+v, want %+v", tc.name, i, res.Errors[i], w)
			}
		}
		if len(tc.want) > 0 && res.Batch != nil {
			t.Errorf("%s: a batch was built despite record errors", tc.name)
		}
	}
}

// TestUpConvertLogAppendTime: a LogAppendTime topic gets a LogAppendTime
// batch stamped Now; a CreateTime topic reads a LogAppendTime wrapper's
// inner timestamps as the wrapper's.
func TestUpConvertLogAppendTime(t *testing.T) {
	recs := noHeaders(sampleRecs(1000))
	v := openValidator()
	v.LogAppendTime = true
	res := upConvert(t, v, legacySet(1, recs), compress.Gzip)
	if !res.Header.LogAppendTime() || res.Header.MaxTimestamp != v.Now || res.Header.BaseTimestamp != 1000 || res.MaxTimestamp != 2000 {
		t.Fatalf("header %+v, result max %d", res.Header, res.MaxTimestamp)
	}
	set := legacyMsg(1, int8(compress.Gzip)|LegacyAttrLogAppendTime, 0, 4321, nil, kgoCompress(t, compress.Gzip, legacySet(1, recs)))
	res = upConvert(t, openValidator(), set, compress.None)
	for _, r := range ourRecs(t, res.Batch) {
		if r.Timestamp != 4321 {
			t.Fatalf("record timestamp %d, want the wrapper's 4321", r.Timestamp)
		}
	}
}

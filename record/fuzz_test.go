package record

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// fuzzLimit caps decompression in the fuzz targets.
const fuzzLimit = 1 << 20

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// walked is one record as a fuzz target compares it.
type walked struct {
	ts             int64
	key, value     []byte
	headers        []byte
	numHeaders     int
	keyNil, valNil bool
}

func walkAll(t *testing.T, b []byte, h *Header, scratch []byte) ([]walked, []byte, error) {
	var out []walked
	scratch, err := WalkBatch(b, h, scratch, fuzzLimit, func(_ int, r *Record) error {
		out = append(out, walked{h.Timestamp(r), clone(r.Key), clone(r.Value), clone(r.Headers), r.NumHeaders, r.Key == nil, r.Value == nil})
		return r.ForEachHeader(func(_, _ []byte) error { return nil })
	})
	if len(scratch) > fuzzLimit || cap(scratch) > 3*fuzzLimit {
		t.Fatalf("scratch grew to len %d cap %d past the %d limit", len(scratch), cap(scratch), fuzzLimit)
	}
	return out, scratch, err
}

func sameWalked(t *testing.T, what string, got, want []walked) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ts != w.ts || g.keyNil != w.keyNil || g.valNil != w.valNil || !bytes.Equal(g.key, w.key) ||
			!bytes.Equal(g.value, w.value) || !bytes.Equal(g.headers, w.headers) || g.numHeaders != w.numHeaders {
			t.Fatalf("%s: record %d = %+v, want %+v", what, i, g, w)
		}
	}
}

// checkRoundTrip rebuilds a batch that passed every check, uncompressed and
// gzip-compressed, and requires the result to pass the checks and walk to
// the same records.
func checkRoundTrip(t *testing.T, b []byte, h *Header, recs []walked, scratch []byte) {
	records := scratch
	if h.Codec() == compress.None {
		records = b[HeaderSize:h.Size()]
	}
	for _, target := range []compress.Codec{compress.None, compress.Gzip} {
		nb, err := Rebuild(nil, h, records, target, 0)
		if err != nil {
			t.Fatalf("Rebuild to %s: %v", target, err)
		}
		nh, err := CheckBatch(nb)
		if err != nil {
			t.Fatalf("rebuilt batch (%s) fails CheckBatch: %v", target, err)
		}
		got, _, err := walkAll(t, nb, &nh, nil)
		if err != nil {
			t.Fatalf("rebuilt batch (%s) fails WalkBatch: %v", target, err)
		}
		sameWalked(t, "rebuilt to "+target.String(), got, recs)
	}
}

func codeOK(t *testing.T, err error, codes ...errcode.Code) {
	t.Helper()
	var e *Error
	if !asError(err, &e) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("unexpected code %s: %v", e.Code, err)
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

// FuzzCheckBatch feeds raw bytes to the batch checks, the walk and the
// validator: nothing panics, errors are *Error with the codes Kafka uses,
// decompression stays under the limit, and a batch that passes every check
// rebuilds to one that walks to the same records.
func FuzzCheckBatch(f *testing.F) {
	for _, s := range seedBatches(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = CountBatches(b)
		if one, err := CheckProduceRecords(b, true); err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord)
		} else if size := LogOverhead + int(int32(binary.BigEndian.Uint32(one[8:]))); size != len(one) || one[16] != 2 {
			t.Fatalf("CheckProduceRecords returned %d bytes of a %d-byte batch", len(one), size)
		}
		h, err := CheckBatch(b)
		if err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord)
			return
		}
		if h.Size() > len(b) || !CRCValid(b[:h.Size()]) {
			t.Fatal("CheckBatch passed a batch with a bad size or CRC")
		}
		v := openValidator()
		v.Limit = fuzzLimit
		if _, _, err := v.ValidateBatch(b, nil); err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord, errcode.MessageTooLarge)
		}
		recs, scratch, err := walkAll(t, b, &h, nil)
		if err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord, errcode.MessageTooLarge)
			return
		}
		checkRoundTrip(t, b, &h, recs, scratch)
	})
}

// buildFuzzBatch wraps a records section (compressed with codec, or used
// as the compressed payload as is when raw) in a v2 header with a valid CRC.
func buildFuzzBatch(codec int, raw bool, count int32, payload []byte) []byte {
	c := compress.Codec(codec & 7)
	body := payload
	if !raw && c.Valid() && c != compress.None {
		var err error
		if body, err = compress.AppendEncoded(nil, c, payload, 0); err != nil {
			return nil
		}
	}
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	b = append(b, body...)
	writeHeader(b, &Header{
		PartitionLeaderEpoch: -1, Attributes: int16(c), LastOffsetDelta: count - 1,
		BaseTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, NumRecords: count,
	})
	return b
}

// FuzzWalkBatch fuzzes the records section under a valid header (and, with
// raw, the compressed payload itself): the walk never panics nor decodes
// past the limit, agrees with kmsg where both succeed, and what walks
// rebuilds to a batch that walks to the same records.
func FuzzWalkBatch(f *testing.F) {
	for _, s := range seedRecordSections(f) {
		f.Add(s.codec, s.raw, s.count, s.payload)
	}
	f.Fuzz(func(t *testing.T, codec int, raw bool, count int32, payload []byte) {
		b := buildFuzzBatch(codec, raw, count, payload)
		if b == nil {
			return
		}
		h, err := CheckBatch(b)
		if err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord)
			return
		}
		recs, scratch, err := walkAll(t, b, &h, nil)
		if err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord, errcode.MessageTooLarge)
			return
		}
		if len(recs) != int(count) {
			t.Fatalf("walked %d records of %d", len(recs), count)
		}
		checkRoundTrip(t, b, &h, recs, scratch)
	})
}

// fixLegacyCRCs recomputes the CRC of every complete entry of a legacy set.
func fixLegacyCRCs(set []byte) []byte {
	set = append([]byte{}, set...)
	for p := 0; len(set)-p >= 17; {
		size := int(int32(binary.BigEndian.Uint32(set[p+8:])))
		if size < 14 || p+12+size > len(set) {
			break
		}
		binary.BigEndian.PutUint32(set[p+12:], crc32.ChecksumIEEE(set[p+16:p+12+size]))
		p += 12 + size
	}
	return set
}

// FuzzMessageSet fuzzes legacy message sets, bare or (wrap > 0) as the
// inner set of a compressed wrapper with valid CRCs: parsing and
// up-conversion never panic nor decode past the limit, and a set that
// converts gives a v2 batch that passes the checks and holds the records
// WalkMessageSet sees.
func FuzzMessageSet(f *testing.F) {
	for _, s := range seedMessageSets(f) {
		f.Add(s.set, s.wrap)
	}
	f.Fuzz(func(t *testing.T, set []byte, wrap int) {
		if wrap > 0 {
			magic := int8(wrap>>2) & 1
			c := compress.Codec(wrap&3) % 4
			if c == compress.None {
				c = compress.Gzip
			}
			inner := fixLegacyCRCs(set)
			var value []byte
			var err error
			if c == compress.LZ4 {
				value, err = compress.AppendEncodedLZ4Legacy(nil, inner, magic == 0)
			} else {
				value, err = compress.AppendEncoded(nil, c, inner, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			set = legacyMsg(magic, int8(c)|int8(wrap&8), int64(wrap>>4), 1_700_000_000_000, nil, value)
		}
		if _, err := CheckMessageSet(set, 0); err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord)
		}
		var msgs []walked
		scratch, walkErr := WalkMessageSet(set, nil, fuzzLimit, func(_ int, m *Message) error {
			msgs = append(msgs, walked{ts: m.Timestamp, key: clone(m.Key), value: clone(m.Value), keyNil: m.Key == nil, valNil: m.Value == nil})
			return nil
		})
		if len(scratch) > fuzzLimit || cap(scratch) > 3*fuzzLimit {
			t.Fatalf("scratch grew to len %d cap %d", len(scratch), cap(scratch))
		}
		if walkErr != nil {
			codeOK(t, walkErr, errcode.CorruptMessage, errcode.InvalidRecord, errcode.MessageTooLarge)
		}
		v := openValidator()
		v.Limit = fuzzLimit
		res, _, scratch, err := v.UpConvert(nil, set, compress.None, 0, nil)
		if len(scratch) > fuzzLimit || cap(scratch) > 3*fuzzLimit {
			t.Fatalf("scratch grew to len %d cap %d", len(scratch), cap(scratch))
		}
		if err != nil {
			codeOK(t, err, errcode.CorruptMessage, errcode.InvalidRecord, errcode.MessageTooLarge)
			return
		}
		if res.Batch == nil || len(res.Errors) > 0 {
			return
		}
		if walkErr != nil {
			t.Fatalf("UpConvert accepted a set WalkMessageSet refuses: %v", walkErr)
		}
		h, err := CheckBatch(res.Batch)
		if err != nil {
			t.Fatalf("up-converted batch fails CheckBatch: %v", err)
		}
		got, _, err := walkAll(t, res.Batch, &h, nil)
		if err != nil {
			t.Fatalf("up-converted batch fails WalkBatch: %v", err)
		}
		for i := range got {
			got[i].headers, got[i].numHeaders = nil, 0
		}
		sameWalked(t, "up-converted", got, msgs)
	})
}

// Seeds: batches and message sets from the oracles and the builder,
// written to testdata/fuzz by go test -run TestFuzzCorpus -update-corpus.

func seedBatches(tb testing.TB) [][]byte {
	var out [][]byte
	for _, c := range allCodecs {
		out = append(out, kmsgBatch(tb, kmsgOpts{codec: c, pid: 4, epoch: 1, seq: 0, baseTimestamp: 1000}, sampleRecs(1000)))
		out = append(out, kgoWrite(tb, 2, c, sampleRecs(1_700_000_000_000)))
	}
	out = append(out, AppendControlBatch(nil, 7, 1, true, 3, 99))
	b := NewBuilder()
	b.Append(5, []byte("k"), nil, RecordHeader{Key: []byte("h"), Value: nil})
	one, _ := b.Finish(nil)
	out = append(out, one, one[:HeaderSize], append(append([]byte{}, one...), one...))
	return out
}

type sectionSeed struct {
	codec   int
	raw     bool
	count   int32
	payload []byte
}

func seedRecordSections(tb testing.TB) []sectionSeed {
	var out []sectionSeed
	section := kmsgBatch(tb, plainOpts(), sampleRecs(0))[HeaderSize:]
	for _, c := range allCodecs {
		out = append(out, sectionSeed{int(c), false, 4, section})
		if c != compress.None {
			out = append(out, sectionSeed{int(c), true, 4, kgoCompress(tb, c, section)})
		}
	}
	out = append(out,
		sectionSeed{0, false, 1, okRec(0)},
		sectionSeed{0, false, 2, cat(okRec(0), rawRec([]byte{0}, vl(-5), vi(1), vi(-1), vi(0), vi(2), vi(1), []byte("a"), vi(-1), vi(0), vi(2), []byte{1, 2}))},
		sectionSeed{0, false, 1, rawRec([]byte{0}, vl(0), []byte{0x82, 0x80, 0x80, 0x80, 0x70}, vi(-1), vi(-1), vi(0))},
	)
	return out
}

type setSeed struct {
	set  []byte
	wrap int
}

func seedMessageSets(tb testing.TB) []setSeed {
	recs := noHeaders(sampleRecs(1_700_000_000_000))
	var out []setSeed
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4} {
		out = append(out, setSeed{kgoWrite(tb, 1, c, recs), 0})
	}
	out = append(out,
		setSeed{legacySet(0, recs), 0},
		setSeed{legacySet(1, recs), 1},              // magic 0 wrapper (gzip) around magic 1: magic mismatch
		setSeed{legacySet(1, recs), 4 | 2},          // magic 1 snappy wrapper
		setSeed{legacySet(0, recs), 3},              // magic 0 lz4 wrapper, broken checksum
		setSeed{legacySet(1, recs), 4 | 3 | 8},      // magic 1 lz4 LogAppendTime wrapper
		setSeed{legacySet(1, recs), 4 | 1 | 100<<4}, // magic 1 gzip, wrapper offset 100
	)
	return out
}

func corpusLine(v any) string {
	switch x := v.(type) {
	case []byte:
		return fmt.Sprintf("[]byte(%q)", x)
	case bool:
		return fmt.Sprintf("bool(%v)", x)
	case int:
		return fmt.Sprintf("int(%d)", x)
	case int32:
		return fmt.Sprintf("int32(%d)", x)
	}
	panic(fmt.Sprintf("corpus value of type %T", v))
}

func writeCorpus(t *testing.T, name string, entries [][]any) {
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, vals := range entries {
		var sb bytes.Buffer
		sb.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			sb.WriteString(corpusLine(v))
			sb.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), sb.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzCorpus checks the committed seed corpora exist and, with
// -update-corpus, rewrites them from the seed generators.
func TestFuzzCorpus(t *testing.T) {
	if *updateCorpus {
		var e [][]any
		for _, s := range seedBatches(t) {
			e = append(e, []any{s})
		}
		writeCorpus(t, "FuzzCheckBatch", e)
		e = nil
		for _, s := range seedRecordSections(t) {
			e = append(e, []any{s.codec, s.raw, s.count, s.payload})
		}
		writeCorpus(t, "FuzzWalkBatch", e)
		e = nil
		for _, s := range seedMessageSets(t) {
			e = append(e, []any{s.set, s.wrap})
		}
		writeCorpus(t, "FuzzMessageSet", e)
	}
	for _, name := range []string{"FuzzCheckBatch", "FuzzWalkBatch", "FuzzMessageSet"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if err != nil || len(files) == 0 {
			t.Errorf("no seed corpus for %s (run go test -run TestFuzzCorpus -update-corpus)", name)
		}
	}
}

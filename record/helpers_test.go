package record

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
	"time"

	kgocompress "github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// This file holds the independent oracles the tests compare against:
// franz-go's kmsg and segmentio/kafka-go's protocol encoders and decoders,
// with kafka-go's codecs for compression.

// hdr and rec are a codec-neutral view of one record.
type hdr struct {
	Key   string
	Value []byte // nil = null
}

type rec struct {
	OffsetDelta int32
	Timestamp   int64 // absolute, as readers see it
	Key         []byte
	Value       []byte
	Headers     []hdr
}

// sameBytes compares two nullable byte strings, telling nil from empty.
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func sameRecs(t *testing.T, what string, got, want []rec, checkOffsets bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if checkOffsets && g.OffsetDelta != w.OffsetDelta {
			t.Errorf("%s: record %d offset delta %d, want %d", what, i, g.OffsetDelta, w.OffsetDelta)
		}
		if g.Timestamp != w.Timestamp {
			t.Errorf("%s: record %d timestamp %d, want %d", what, i, g.Timestamp, w.Timestamp)
		}
		if !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) {
			t.Errorf("%s: record %d key/value %q/%q, want %q/%q", what, i, g.Key, g.Value, w.Key, w.Value)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("%s: record %d has %d headers, want %d", what, i, len(g.Headers), len(w.Headers))
		}
		for j := range g.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
				t.Errorf("%s: record %d header %d = %q:%q, want %q:%q", what, i, j,
					g.Headers[j].Key, g.Headers[j].Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}

// ourRecs walks batch b with WalkBatch and copies out every record.
func ourRecs(t testing.TB, b []byte) []rec {
	t.Helper()
	h, err := CheckBatch(b)
	if err != nil {
		// Batches read from the log may carry offsets and control bits.
		h = ReadHeader(b)
		if !CRCValid(b[:h.Size()]) {
			t.Fatalf("CheckBatch: %v", err)
		}
	}
	var out []rec
	_, err = WalkBatch(b, &h, nil, 1<<26, func(i int, r *Record) error {
		x := rec{OffsetDelta: r.OffsetDelta, Timestamp: h.Timestamp(r), Key: clone(r.Key), Value: clone(r.Value)}
		if err := r.ForEachHeader(func(k, v []byte) error {
			x.Headers = append(x.Headers, hdr{string(k), clone(v)})
			return nil
		}); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		t.Fatalf("WalkBatch: %v", err)
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// kgoCodec returns kafka-go's codec for c.
func kgoCodec(c compress.Codec) kgocompress.Codec { return kgocompress.Compression(c).Codec() }

func kgoCompress(t testing.TB, c compress.Codec, src []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := kgoCodec(c).NewWriter(&buf)
	if _, err := w.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func kgoDecompress(t testing.TB, c compress.Codec, src []byte) []byte {
	t.Helper()
	r := kgoCodec(c).NewReader(bytes.NewReader(src))
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("kafka-go %s decompress: %v", c, err)
	}
	return out
}

// kmsgOpts are the header settings of a kmsg-built batch.
type kmsgOpts struct {
	codec         compress.Codec
	baseOffset    int64
	pid           int64
	epoch         int16
	seq           int32
	attrs         int16 // extra attribute bits
	baseTimestamp int64
	maxTimestamp  int64
	lastDelta     *int32 // overrides len(records)-1
	count         *int32 // overrides len(records)
}

func plainOpts() kmsgOpts { return kmsgOpts{pid: -1, epoch: -1, seq: -1} }

// kmsgRecord encodes one record with kmsg, computing its length field.
func kmsgRecord(r kmsg.Record) []byte {
	r.Length = 0
	body := r.AppendTo(nil)[1:]
	r.Length = int32(len(body))
	return r.AppendTo(nil)
}

// kmsgBatch builds a v2 batch with franz-go's kmsg from records given as
// rec (offset deltas and timestamps relative to o.baseTimestamp).
func kmsgBatch(t testing.TB, o kmsgOpts, recs []rec) []byte {
	t.Helper()
	var raw []byte
	for _, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - o.baseTimestamp, OffsetDelta: r.OffsetDelta, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		raw = append(raw, kmsgRecord(kr)...)
	}
	return kmsgBatchRaw(t, o, len(recs), raw)
}

// kmsgBatchRaw wraps an uncompressed records section in a kmsg batch.
func kmsgBatchRaw(t testing.TB, o kmsgOpts, n int, raw []byte) []byte {
	t.Helper()
	if o.codec != compress.None {
		raw = kgoCompress(t, o.codec, raw)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          o.baseOffset,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(o.codec) | o.attrs,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       o.baseTimestamp,
		MaxTimestamp:         o.maxTimestamp,
		ProducerID:           o.pid,
		ProducerEpoch:        o.epoch,
		FirstSequence:        o.seq,
		NumRecords:           int32(n),
		Records:              raw,
	}
	if o.lastDelta != nil {
		rb.LastOffsetDelta = *o.lastDelta
	}
	if o.count != nil {
		rb.NumRecords = *o.count
	}
	rb.Length = int32(HeaderSize - LogOverhead + len(raw))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// kmsgRead decodes a v2 batch with kmsg (decompressing with kafka-go).
func kmsgRead(t testing.TB, b []byte) (kmsg.RecordBatch, []rec) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg RecordBatch.ReadFrom: %v", err)
	}
	if uint32(rb.CRC) != crc32.Checksum(b[21:], castagnoli) {
		t.Fatalf("kmsg: CRC %x does not match the bytes", uint32(rb.CRC))
	}
	raw := rb.Records
	if c := compress.Codec(rb.Attributes & 7); c != compress.None {
		raw = kgoDecompress(t, c, raw)
	}
	var out []rec
	for len(raw) > 0 {
		var kr kmsg.Record
		if err := kr.ReadFrom(raw); err != nil {
			t.Fatalf("kmsg Record.ReadFrom: %v", err)
		}
		_, n := binary.Varint(raw)
		raw = raw[n+int(kr.Length):]
		ts := rb.FirstTimestamp + kr.TimestampDelta64
		if rb.Attributes&AttrLogAppendTime != 0 {
			ts = rb.MaxTimestamp
		}
		x := rec{OffsetDelta: kr.OffsetDelta, Timestamp: ts, Key: kr.Key, Value: kr.Value}
		for _, h := range kr.Headers {
			x.Headers = append(x.Headers, hdr{h.Key, h.Value})
		}
		out = append(out, x)
	}
	if len(out) != int(rb.NumRecords) {
		t.Fatalf("kmsg: %d records, header says %d", len(out), rb.NumRecords)
	}
	return rb, out
}

// kgoRecords turns rec values into kafka-go records (absolute timestamps;
// kafka-go cannot write a zero or -1 timestamp, so tests avoid them).
func kgoRecords(recs []rec) []protocol.Record {
	var out []protocol.Record
	for _, r := range recs {
		pr := protocol.Record{Time: time.UnixMilli(r.Timestamp)}
		if r.Key != nil {
			pr.Key = protocol.NewBytes(r.Key)
		}
		if r.Value != nil {
			pr.Value = protocol.NewBytes(r.Value)
		}
		for _, h := range r.Headers {
			pr.Headers = append(pr.Headers, protocol.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, pr)
	}
	return out
}

// kgoWrite encodes records as a kafka-go record set of the given message
// version (1 or 2) and codec, without kafka-go's 4-byte size prefix.
func kgoWrite(t testing.TB, version int8, c compress.Codec, recs []rec) []byte {
	t.Helper()
	rs := protocol.RecordSet{Version: version, Attributes: protocol.Attributes(c), Records: protocol.NewRecordReader(kgoRecords(recs)...)}
	var buf bytes.Buffer
	if _, err := rs.WriteTo(&buf); err != nil {
		t.Fatalf("kafka-go RecordSet.WriteTo: %v", err)
	}
	return buf.Bytes()[4:]
}

// kgoRead decodes a record set (v2 batch or legacy messages) with kafka-go.
func kgoRead(t testing.TB, b []byte) (protocol.RecordSet, []rec) {
	t.Helper()
	in := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	in = append(in, b...)
	var rs protocol.RecordSet
	if _, err := rs.ReadFrom(bufio.NewReader(bytes.NewReader(in))); err != nil {
		t.Fatalf("kafka-go RecordSet.ReadFrom: %v", err)
	}
	var out []rec
	for {
		r, err := rs.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("kafka-go ReadRecord: %v", err)
		}
		k, _ := protocol.ReadAll(r.Key)
		v, _ := protocol.ReadAll(r.Value)
		x := rec{OffsetDelta: int32(r.Offset), Timestamp: r.Time.UnixMilli(), Key: k, Value: v}
		for _, h := range r.Headers {
			x.Headers = append(x.Headers, hdr{h.Key, h.Value})
		}
		out = append(out, x)
	}
	return rs, out
}

// wantCode fails unless err is a *Error with the given code.
func wantCode(t *testing.T, what string, err error, code errcode.Code) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v (%T), want a *Error with %s", what, err, err, code)
	}
	if e.Code != code {
		t.Fatalf("%s: code %s (%v), want %s", what, e.Code, err, code)
	}
	return e
}

// sampleRecs is a small set of records covering null and empty keys and
// values and headers with null values.
func sampleRecs(base int64) []rec {
	return []rec{
		{0, base, []byte("k0"), []byte("value zero"), nil},
		{1, base + 5, nil, []byte("no key"), []hdr{{"h1", []byte("v1")}, {"h2", nil}}},
		{2, base - 3, []byte{}, nil, []hdr{{"", []byte{}}}},
		{3, base + 1000, []byte("k3"), bytes.Repeat([]byte("x"), 300), nil},
	}
}

// resum recomputes the CRC of batch b after a test edited it.
func resum(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

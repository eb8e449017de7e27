package produce

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	kgogzip "github.com/segmentio/kafka-go/compress/gzip"
	kgolz4 "github.com/segmentio/kafka-go/compress/lz4"
	kgosnappy "github.com/segmentio/kafka-go/compress/snappy"
	kgozstd "github.com/segmentio/kafka-go/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
)

// testRecord is one record of a test batch.
type testRecord struct {
	key, value []byte
	headers    [][2]string
	tsDelta    int64
}

// batchSpec describes a test batch. The batch is encoded with franz-go's
// kmsg (an independent encoder) and kafka-go's codecs, never ours.
type batchSpec struct {
	records       []testRecord
	codec         compress.Codec
	baseTimestamp int64
	producerID    int64
	epoch         int16
	baseSequence  int32
	transactional bool
	attrsExtra    int16
}

func newSpec(n int) batchSpec {
	s := batchSpec{producerID: -1, epoch: -1, baseSequence: -1, baseTimestamp: time.Now().UnixMilli()}
	for i := 0; i < n; i++ {
		s.records = append(s.records, testRecord{
			key:   []byte{byte('a' + i%26), byte('0' + i%10)},
			value: []byte(`{"n":` + string(rune('0'+i%10)) + `,"msg":"hello world"}`),
		})
	}
	return s
}

func encodeRecord(i int, r testRecord) []byte {
	kr := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Key: r.key, Value: r.value}
	for _, h := range r.headers {
		kr.Headers = append(kr.Headers, kmsg.Header{Key: h[0], Value: []byte(h[1])})
	}
	body := kr.AppendTo(nil)[1:] // drop the zero length varint
	kr.Length = int32(len(body))
	return kr.AppendTo(nil)
}

func compressWith(t testing.TB, c compress.Codec, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch c {
	case compress.None:
		return raw
	case compress.Gzip:
		w = (&kgogzip.Codec{Level: 6}).NewWriter(&buf)
	case compress.Snappy:
		w = (&kgosnappy.Codec{Framing: kgosnappy.Framed}).NewWriter(&buf)
	case compress.LZ4:
		w = (&kgolz4.Codec{}).NewWriter(&buf)
	case compress.Zstd:
		w = (&kgozstd.Codec{Level: 3}).NewWriter(&buf)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (s batchSpec) build(t testing.TB) []byte {
	t.Helper()
	var raw []byte
	maxDelta := int64(0)
	for i, r := range s.records {
		raw = append(raw, encodeRecord(i, r)...)
		if r.tsDelta > maxDelta {
			maxDelta = r.tsDelta
		}
	}
	rb := kmsg.RecordBatch{
		Magic:           2,
		Attributes:      int16(s.codec) | s.attrsExtra,
		LastOffsetDelta: int32(len(s.records) - 1),
		FirstTimestamp:  s.baseTimestamp,
		MaxTimestamp:    s.baseTimestamp + maxDelta,
		ProducerID:      s.producerID,
		ProducerEpoch:   s.epoch,
		FirstSequence:   s.baseSequence,
		NumRecords:      int32(len(s.records)),
		Records:         compressWith(t, s.codec, raw),
	}
	if s.transactional {
		rb.Attributes |= record.AttrTransactional
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoliTable))
	return b
}

// env is a handler over a memory MetadataStore in a temp dir.
type env struct {
	t    *testing.T
	h    *Handler
	meta *metadata.Memory
	dir  string
}

func newEnv(t *testing.T, mutate func(*Config), opts ...Option) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	meta := metadata.NewMemory(cfg.NodeID)
	h, err := New(cfg, meta, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &env{t: t, h: h, meta: meta, dir: cfg.DataDir}
}

func (e *env) topic(name string, partitions int32, config map[string]string) {
	e.t.Helper()
	if _, err := e.meta.CreateTopic(context.Background(), name, partitions, nil, config); err != nil {
		e.t.Fatal(err)
	}
}

// produce sends one batch per (topic, partition) pair in one request.
func (e *env) produce(version, acks int16, parts ...partRecords) *wire.ProduceResponse {
	e.t.Helper()
	req := &wire.ProduceRequest{Version: version, Acks: acks, TimeoutMs: 5000}
	for _, p := range parts {
		var tp *wire.ProduceTopic
		for i := range req.Topics {
			if req.Topics[i].Name == p.topic {
				tp = &req.Topics[i]
			}
		}
		if tp == nil {
			req.Topics = append(req.Topics, wire.ProduceTopic{Name: p.topic})
			tp = &req.Topics[len(req.Topics)-1]
		}
		tp.Partitions = append(tp.Partitions, wire.ProducePartition{Partition: p.partition, Records: p.records})
	}
	resp, err := e.h.HandleProduce(context.Background(), RequestInfo{ClientID: "test"}, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

type partRecords struct {
	topic     string
	partition int32
	records   []byte
}

func pr(topic string, partition int32, records []byte) partRecords {
	return partRecords{topic, partition, records}
}

// one returns the only partition result of resp.
func one(t *testing.T, resp *wire.ProduceResponse) wire.ProducePartitionResponse {
	t.Helper()
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("response has %d topics, want 1 with 1 partition: %+v", len(resp.Topics), resp)
	}
	return resp.Topics[0].Partitions[0]
}

func wantCode(t *testing.T, got wire.ProducePartitionResponse, code errcode.Code) {
	t.Helper()
	if got.ErrorCode != code {
		msg := ""
		if got.ErrorMessage != nil {
			msg = *got.ErrorMessage
		}
		t.Fatalf("error code %v (%s), want %v", got.ErrorCode, msg, code)
	}
	if code != errcode.None && got.BaseOffset != -1 {
		t.Fatalf("failed partition has base offset %d, want -1", got.BaseOffset)
	}
}

// logEnd returns the partition's log end offset (0 when never opened).
func (e *env) logEnd(topic string, partition int32) int64 {
	e.t.Helper()
	l, err := e.h.Log(topic, partition)
	if err != nil {
		e.t.Fatal(err)
	}
	return l.NextOffset()
}

// readAll returns every batch stored in the partition, up to its LEO.
func (e *env) readAll(topic string, partition int32) [][]byte {
	e.t.Helper()
	l, err := e.h.Log(topic, partition)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for off := l.StartOffset(); off < l.NextOffset(); {
		b, err := l.Read(off, 1<<20, l.NextOffset())
		if err != nil {
			e.t.Fatal(err)
		}
		if len(b) == 0 {
			break
		}
		for len(b) > 0 {
			h := record.ReadHeader(b)
			out = append(out, b[:h.Size()])
			b = b[h.Size():]
			off = h.LastOffset() + 1
		}
	}
	return out
}

func headerOf(b []byte) *record.Header {
	h := record.ReadHeader(b)
	return &h
}

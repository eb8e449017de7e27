package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/produce"
	"github.com/segmentio/kafka-go/protocol/rawproduce"
)

const (
	benchPartitions       = 64
	benchRecordsPerBatch  = 16
	benchValueSize        = 1000 // a batch is then about 16 KiB
	benchProduceVersion   = 8    // kafka-go's highest Produce version
	benchFrameSizeLimit   = 4 << 20
	benchCorrelationID    = 99
	benchTopic            = "bench"
	benchClientID         = "bench-client"
	benchRecordsPerRequst = benchPartitions * benchRecordsPerBatch
)

// benchValue is record i of partition p.
func benchValue(p, i int) string {
	v := pattern(p*benchRecordsPerBatch+i, benchValueSize)
	copy(v, fmt.Sprintf("p%02d-r%02d", p, i))
	return string(v)
}

// benchProduceFrame builds, with kafka-go, a 1 MiB Produce v8 frame (size
// prefix included): one topic, 64 partitions, each one v2 record batch of
// 16 records of 1000 bytes (about 16 KiB). It returns the frame and the
// batches.
func benchProduceFrame(b *testing.B) (frame []byte, batches [][]byte) {
	b.Helper()
	req := &rawproduce.Request{Acks: 1, Timeout: 1000, Topics: []rawproduce.RequestTopic{{Topic: benchTopic}}}
	for p := range benchPartitions {
		values := make([]string, benchRecordsPerBatch)
		for i := range values {
			values[i] = benchValue(p, i)
		}
		batch := kgoRecordSet(b, 2, 0, values...)
		batches = append(batches, batch)
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rawproduce.RequestPartition{
			Partition: int32(p), RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(withSize(batch))},
		})
	}
	var buf bytes.Buffer
	if err := protocol.WriteRequest(&buf, benchProduceVersion, benchCorrelationID, benchClientID, req); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), batches
}

// checkBenchDecoded verifies a decoded benchmark request against the batches.
func checkBenchDecoded(b *testing.B, r *ProduceRequest, batches [][]byte) {
	b.Helper()
	if len(r.Topics) != 1 || r.Topics[0].Name != benchTopic || len(r.Topics[0].Partitions) != benchPartitions {
		b.Fatalf("decoded %d topics", len(r.Topics))
	}
	for p, part := range r.Topics[0].Partitions {
		if part.Partition != int32(p) || !bytes.Equal(part.Records, batches[p]) {
			b.Fatalf("partition %d: records differ from the batch sent", p)
		}
	}
}

// BenchmarkDecodeProduceRequest parses the header and decodes the body of a
// 1 MiB request already in memory, as a handler does after ReadFrame.
func BenchmarkDecodeProduceRequest(b *testing.B) {
	frame, batches := benchProduceFrame(b)
	var r *ProduceRequest
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		h, body, err := ParseRequestHeader(frame[4:])
		if err != nil {
			b.Fatal(err)
		}
		if r, err = DecodeProduceRequest(h.APIVersion, body); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchDecoded(b, r, batches)
}

// BenchmarkDecodeProduceRequestReuse is BenchmarkDecodeProduceRequest
// parsing into one reused RequestHeader and decoding into one reused
// ProduceRequest, as a connection's read loop can: no allocation at all.
func BenchmarkDecodeProduceRequestReuse(b *testing.B) {
	frame, batches := benchProduceFrame(b)
	var h RequestHeader
	var r ProduceRequest
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		body, err := h.Parse(frame[4:])
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Decode(benchProduceVersion, body); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchDecoded(b, &r, batches)
}

// BenchmarkReadDecodeProduceRequest reads the frame from an io.Reader into a
// reused buffer, then parses and decodes it: the same work as kafka-go's
// ReadRequest below, which also starts from an io.Reader.
func BenchmarkReadDecodeProduceRequest(b *testing.B) {
	frame, batches := benchProduceFrame(b)
	src := bytes.NewReader(frame)
	buf := make([]byte, 0, len(frame))
	var r *ProduceRequest
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(frame)
		f, err := ReadFrame(src, buf, benchFrameSizeLimit)
		if err != nil {
			b.Fatal(err)
		}
		h, body, err := ParseRequestHeader(f)
		if err != nil {
			b.Fatal(err)
		}
		if r, err = DecodeProduceRequest(h.APIVersion, body); err != nil {
			b.Fatal(err)
		}
	}
	checkBenchDecoded(b, r, batches)
}

// BenchmarkKafkaGoReadRequest reads the same frame with segmentio/kafka-go's
// protocol.ReadRequest, which materialises every record set.
func BenchmarkKafkaGoReadRequest(b *testing.B) {
	frame, _ := benchProduceFrame(b)
	src := bytes.NewReader(frame)
	var msg protocol.Message
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(frame)
		var err error
		if _, _, _, msg, err = protocol.ReadRequest(src); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	req, ok := msg.(*produce.Request)
	if !ok || len(req.Topics) != 1 || len(req.Topics[0].Partitions) != benchPartitions {
		b.Fatalf("kafka-go read %T", msg)
	}
	n := 0
	for p, part := range req.Topics[0].Partitions {
		for i := 0; ; i++ {
			rec, err := part.RecordSet.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			v, _ := protocol.ReadAll(rec.Value)
			if string(v) != benchValue(p, i) {
				b.Fatalf("partition %d record %d differs", p, i)
			}
			n++
		}
	}
	if n != benchRecordsPerRequst {
		b.Fatalf("kafka-go read %d records, want %d", n, benchRecordsPerRequst)
	}
}

// BenchmarkProduceResponseAppendTo encodes a v9 response for 64 partitions.
func BenchmarkProduceResponseAppendTo(b *testing.B) {
	r := &ProduceResponse{Version: 9, Topics: []ProduceTopicResponse{{Name: benchTopic}}}
	for p := range benchPartitions {
		r.Topics[0].Partitions = append(r.Topics[0].Partitions, ProducePartitionResponse{
			Partition: int32(p), BaseOffset: int64(p) << 20, LogAppendTimeMs: -1, LogStartOffset: 0,
		})
	}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = r.AppendTo(out[:0])
	}
	got, err := DecodeProduceResponse(9, out)
	if err != nil || len(got.Topics[0].Partitions) != benchPartitions || got.Topics[0].Partitions[63].BaseOffset != 63<<20 {
		b.Fatalf("encoded response does not decode: %v", err)
	}
}

// BenchmarkFetchResponseAppendTo encodes a v12 response carrying 64 stored
// batches of about 16 KiB into a reused buffer.
func BenchmarkFetchResponseAppendTo(b *testing.B) {
	_, batches := benchProduceFrame(b)
	r := &FetchResponse{Version: 12, Topics: []FetchTopicResponse{{Name: benchTopic}}}
	size := 0
	for p, batch := range batches {
		r.Topics[0].Partitions = append(r.Topics[0].Partitions, FetchPartitionResponse{
			Partition: int32(p), HighWatermark: 16, LastStableOffset: 16, LogStartOffset: 0, PreferredReadReplica: -1, Records: batch,
		})
		size += len(batch)
	}
	var out []byte
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		out = r.AppendTo(out[:0])
	}
	got, err := DecodeFetchResponse(12, out)
	if err != nil {
		b.Fatal(err)
	}
	for p, part := range got.Topics[0].Partitions {
		if !bytes.Equal(part.Records, batches[p]) {
			b.Fatalf("partition %d: records differ", p)
		}
	}
}

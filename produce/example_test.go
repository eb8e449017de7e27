package produce_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"os"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
)

// A host wires the handler into its own listener: every connection is
// served by ServeConn, Produce requests go to DispatchProduce, and the
// host answers the other API keys it serves itself.
func Example() {
	dir, _ := os.MkdirTemp("", "chronik-example")
	defer os.RemoveAll(dir)

	meta := metadata.NewMemory(1)
	if _, err := meta.CreateTopic(context.Background(), "events", 1, nil, nil); err != nil {
		panic(err)
	}
	cfg := produce.DefaultConfig()
	cfg.DataDir = dir
	h, err := produce.New(cfg, meta)
	if err != nil {
		panic(err)
	}
	defer h.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.ServeConn(ctx, c, func(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
				if hdr.APIKey == wire.APIKeyProduce {
					return h.DispatchProduce(ctx, hdr, body)
				}
				return produce.Reply{}, fmt.Errorf("API key %d is not served here", hdr.APIKey)
			})
		}
	}()

	// A client: one Produce v9 request with one record, acks=all.
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "events"
	part := kmsg.NewProduceRequestTopicPartition()
	part.Records = oneRecordBatch([]byte(`{"hello":"world"}`))
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	frame := req.AppendTo(wire.AppendRequestHeader(nil, wire.RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: 1}))
	c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...))

	respFrame, _ := wire.ReadFrame(c, nil, 1<<20)
	_, body, _ := wire.ParseResponseHeader(respFrame, true)
	resp, _ := wire.DecodeProduceResponse(9, body)
	p := resp.Topics[0].Partitions[0]
	fmt.Println(resp.Topics[0].Name, p.Partition, p.ErrorCode, p.BaseOffset)
	// Output: events 0 NONE 0
}

// oneRecordBatch encodes a v2 record batch holding one record with value v.
func oneRecordBatch(v []byte) []byte {
	rec := kmsg.Record{Value: v}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	rb := kmsg.RecordBatch{Magic: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil)}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

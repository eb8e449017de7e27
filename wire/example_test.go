package wire_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/wire"
)

// A broker's read loop for one Produce request: read the frame, parse the
// header, decode the body, and frame a response of the same version.
func Example() {
	// What a client sends: Produce v9 with one partition's batch.
	req := &wire.ProduceRequest{Version: 9, Acks: -1, TimeoutMs: 5000, Topics: []wire.ProduceTopic{
		{Name: "events", Partitions: []wire.ProducePartition{{Partition: 0, Records: []byte("<record batch bytes>")}}},
	}}
	clientID := "producer-1"
	out, start := wire.BeginFrame(nil)
	out = wire.AppendRequestHeader(out, wire.RequestHeader{APIKey: wire.APIKeyProduce, APIVersion: 9, CorrelationID: 42, ClientID: &clientID})
	out = req.AppendTo(out)
	wire.EndFrame(out, start)
	conn := bytes.NewReader(out)

	// The broker side.
	var buf []byte
	frame, err := wire.ReadFrame(conn, buf, 100<<20)
	if err != nil {
		log.Fatal(err)
	}
	var h wire.RequestHeader
	body, err := h.Parse(frame)
	if err != nil {
		log.Fatal(err)
	}
	got, err := wire.DecodeProduceRequest(h.APIVersion, body)
	if err != nil {
		log.Fatal(err)
	}
	p := got.Topics[0].Partitions[0]
	fmt.Printf("%s v%d from %q: %s[%d] %d bytes, acks=%d\n",
		wire.APIName(h.APIKey), h.APIVersion, *h.ClientID, got.Topics[0].Name, p.Partition, len(p.Records), got.Acks)

	resp := &wire.ProduceResponse{Version: h.APIVersion, Topics: []wire.ProduceTopicResponse{
		{Name: "events", Partitions: []wire.ProducePartitionResponse{
			{Partition: 0, ErrorCode: errcode.None, BaseOffset: 100, LogAppendTimeMs: -1, LogStartOffset: 0},
		}},
	}}
	reply, start := wire.BeginFrame(nil)
	reply = wire.AppendResponseHeader(reply, h.CorrelationID, wire.ResponseHeaderFlexible(h.APIKey, h.APIVersion))
	reply = resp.AppendTo(reply)
	wire.EndFrame(reply, start)
	fmt.Printf("response frame: %d bytes\n", len(reply))
	// Output:
	// Produce v9 from "producer-1": events[0] 20 bytes, acks=-1
	// response frame: 57 bytes
}

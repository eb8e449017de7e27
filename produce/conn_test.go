package produce

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/wire"
)

// listen runs ServeConn with cfg for every connection accepted on a
// loopback listener until the test ends, and returns its address.
func listen(t *testing.T, cfg ConnConfig, dispatch Dispatcher) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ServeConn(ctx, c, cfg, dispatch)
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return ln.Addr().String()
}

// sendProduce writes a Produce request built by kmsg (an independent
// encoder) with the given correlation id.
func sendProduce(t *testing.T, c net.Conn, corr int32, acks int16, topic string, records []byte) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	client := "conn-test"
	frame := wire.AppendRequestHeader(nil, wire.RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: corr, ClientID: &client})
	frame = req.AppendTo(frame)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := c.Write(append(out, frame...)); err != nil {
		t.Fatal(err)
	}
}

// readProduce reads one Produce v9 response with kmsg.
func readProduce(t *testing.T, c net.Conn) (int32, *kmsg.ProduceResponse) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := wire.ReadFrame(c, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	corr, body, err := wire.ParseResponseHeader(frame, true)
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	return corr, resp
}

func TestServeConnAnswersInOrder(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	addr := listen(t, ConnConfig{MaxInFlight: 5}, e.h.DispatchProduce)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Ten pipelined requests, alternating acks: responses come back in
	// request order with contiguous offsets.
	for i := int32(0); i < 10; i++ {
		sendProduce(t, c, 100+i, []int16{1, -1}[i%2], "t", idemBatch(t, 3, 0, i*2, 2))
	}
	for i := int32(0); i < 10; i++ {
		corr, resp := readProduce(t, c)
		p := resp.Topics[0].Partitions[0]
		if corr != 100+i || p.ErrorCode != 0 || p.BaseOffset != int64(i*2) {
			t.Fatalf("response %d: correlation %d, partition %+v", i, corr, p)
		}
	}
}

func TestServeConnAcksZero(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	addr := listen(t, ConnConfig{MaxInFlight: 5}, e.h.DispatchProduce)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A successful acks=0 request gets no response: the next response on
	// the connection is the acks=1 one.
	sendProduce(t, c, 1, 0, "t", newSpec(1).build(t))
	sendProduce(t, c, 2, 1, "t", newSpec(1).build(t))
	corr, resp := readProduce(t, c)
	if corr != 2 || resp.Topics[0].Partitions[0].BaseOffset != 1 {
		t.Fatalf("got correlation %d %+v, want the acks=1 response at offset 1", corr, resp.Topics[0].Partitions[0])
	}
	// A failed acks=0 request closes the connection.
	sendProduce(t, c, 3, 0, "missing", newSpec(1).build(t))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after a failed acks=0 request: %v, want EOF", err)
	}
}

func TestServeConnBoundsInFlight(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	dispatch := func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return Reply{Wait: func(context.Context) ([]byte, bool) {
			<-release
			inFlight.Add(-1)
			return wire.AppendResponseHeader(nil, hdr.CorrelationID, false), false
		}}, nil
	}
	addr := listen(t, ConnConfig{MaxInFlight: 3}, dispatch)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := int32(0); i < 8; i++ {
		sendProduce(t, c, i, 1, "t", nil)
	}
	time.Sleep(100 * time.Millisecond)
	if p := peak.Load(); p != 3 {
		t.Fatalf("%d requests dispatched before any response, want MaxInFlight 3", p)
	}
	close(release)
	for i := int32(0); i < 8; i++ {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		frame, err := wire.ReadFrame(c, nil, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if corr, _, _ := wire.ParseResponseHeader(frame, false); corr != i {
			t.Fatalf("response %d has correlation %d", i, corr)
		}
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("peak in flight %d > 3", p)
	}
}

func TestDispatchProduceRejectsGarbage(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.h.DispatchProduce(context.Background(), wire.RequestHeader{APIVersion: 9}, []byte{1, 2, 3}); err == nil {
		t.Fatal("a malformed body was accepted")
	}
	_ = errcode.None
}

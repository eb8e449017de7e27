package produce

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/internal/membudget"
	"github.com/chronik-go/chronik/wire"
)

// serveWith is listen, dialled: the client end of one served connection.
func serveWith(t *testing.T, cfg ConnConfig, dispatch Dispatcher) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", listen(t, cfg, dispatch))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestServeConnChargesFramesBeforeReading: with the budget exhausted,
// ServeConn does not read the next frame; once memory is released it
// does, and every frame's charge ends when its dispatcher returns, even
// while its reply still waits.
func TestServeConnChargesFramesBeforeReading(t *testing.T) {
	mem := membudget.New(1 << 20)
	var dispatched atomic.Int32
	var chargedInDispatch atomic.Int64
	hold := make(chan struct{})
	dispatch := func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
		dispatched.Add(1)
		chargedInDispatch.Store(mem.InUse())
		if !frameCharged(ctx, mem) {
			t.Error("the dispatch context does not say the frame is charged")
		}
		return Reply{Wait: func(context.Context) ([]byte, bool) {
			<-hold
			return wire.AppendResponseHeader(nil, hdr.CorrelationID, false), false
		}}, nil
	}
	c := serveWith(t, ConnConfig{MaxInFlight: 5, Memory: mem}, dispatch)

	// Someone else holds the whole budget: the request is not read.
	if err := mem.Acquire(context.Background(), 1<<20); err != nil {
		t.Fatal(err)
	}
	sendProduce(t, c, 1, 1, "t", make([]byte, 4000))
	time.Sleep(150 * time.Millisecond)
	if n := dispatched.Load(); n != 0 {
		t.Fatalf("%d requests dispatched while the budget was exhausted", n)
	}
	mem.Release(1 << 20)
	waitFor(t, func() bool { return dispatched.Load() == 1 })
	if got := chargedInDispatch.Load(); got < 4000 || got > 5000 {
		t.Fatalf("%d bytes charged while dispatching a ~4 KiB frame", got)
	}
	// The reply still waits, but the charge ended with the dispatcher.
	waitFor(t, func() bool { return mem.InUse() == 0 })

	// A frame larger than the budget is read, charged past the limit.
	sendProduce(t, c, 2, 1, "t", make([]byte, 1<<20+100))
	waitFor(t, func() bool { return dispatched.Load() == 2 })
	if got := chargedInDispatch.Load(); got <= 1<<20+100 || got > 1<<20+200 {
		t.Fatalf("oversized frame charged %d, want its size (~1 MiB + 150)", got)
	}
	close(hold)
	for i := int32(1); i <= 2; i++ {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		frame, err := wire.ReadFrame(c, nil, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if corr, _, _ := wire.ParseResponseHeader(frame, false); corr != i {
			t.Fatalf("response %d has correlation %d", i, corr)
		}
	}
	if n := mem.InUse(); n != 0 {
		t.Fatalf("%d bytes still charged after every request finished", n)
	}
}

// TestServeConnStalledFrameHoldsLittle: a client that announces a large
// frame and stalls holds one charge step, not the announced size, so other
// connections keep producing.
func TestServeConnStalledFrameHoldsLittle(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BufferMemory = 1 << 20 })
	e.topic("t", 1, nil)
	addr := listen(t, e.h.ConnConfig(), e.h.DispatchProduce)
	var stalled []net.Conn
	for range 4 {
		s, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// 50 MiB announced, 10 bytes sent.
		if _, err := s.Write(append(binary.BigEndian.AppendUint32(nil, 50<<20), make([]byte, 10)...)); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, s)
	}
	waitFor(t, func() bool { return e.h.BufferMemoryInUse() == 4*frameChargeStep })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range int32(20) {
		sendProduce(t, c, i, 1, "t", newSpec(3).build(t))
		if corr, resp := readProduce(t, c); corr != i || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("request %d beside stalled frames: correlation %d, %+v", i, corr, resp.Topics[0].Partitions[0])
		}
	}
	for _, s := range stalled {
		s.Close()
	}
	waitFor(t, func() bool { return e.h.BufferMemoryInUse() == 0 })
}

// TestHandlerConnConfigChargesOnce: through Handler.ConnConfig a request
// whose records take most of the buffer memory succeeds; charging its
// frame and then its records again would exceed the budget and time out.
func TestHandlerConnConfigChargesOnce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BufferMemory = 1 << 20; c.RequestTimeout = time.Second })
	e.topic("t", 1, nil)
	c := serveWith(t, e.h.ConnConfig(), e.h.DispatchProduce)
	spec := newSpec(1)
	spec.records[0].value = bytes.Repeat([]byte("v"), 700<<10)
	sendProduce(t, c, 7, -1, "t", spec.build(t))
	corr, resp := readProduce(t, c)
	if p := resp.Topics[0].Partitions[0]; corr != 7 || p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("correlation %d, partition %+v; want success at offset 0", corr, p)
	}
	if peak := e.h.BufferMemoryPeak(); peak < 700<<10 || peak > 1<<20 {
		t.Fatalf("buffer memory peak %d, want the one frame (~700 KiB)", peak)
	}
	waitFor(t, func() bool { return e.h.BufferMemoryInUse() == 0 })
}

// TestServeConnRecyclesFrames: frames of recyclable replies are reused,
// and the batches stored from pipelined requests of varying sizes are
// exactly what was sent (a reused buffer never leaks into another
// request's data).
func TestServeConnRecyclesFrames(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	c := serveWith(t, e.h.ConnConfig(), e.h.DispatchProduce)
	var sent [][]byte
	for i := range 40 {
		spec := newSpec(1 + i%7)
		for j := range spec.records {
			spec.records[j].value = bytes.Repeat([]byte{byte('a' + i%26)}, 100+(i*977)%20000)
		}
		b := spec.build(t)
		sent = append(sent, b)
		sendProduce(t, c, int32(i), 1, "t", b)
	}
	off := int64(0)
	for i := range sent {
		corr, resp := readProduce(t, c)
		p := resp.Topics[0].Partitions[0]
		if corr != int32(i) || p.ErrorCode != 0 || p.BaseOffset != off {
			t.Fatalf("response %d: correlation %d, %+v, want offset %d", i, corr, p, off)
		}
		off += int64(headerOf(sent[i]).LastOffsetDelta) + 1
	}
	got := e.readAll("t", 0)
	if len(got) != len(sent) {
		t.Fatalf("%d batches stored, want %d", len(got), len(sent))
	}
	for i := range sent {
		// The stored batch differs only in its base offset (bytes 0-7) and
		// the CRC-covered part must be identical.
		if !bytes.Equal(got[i][8:], sent[i][8:]) {
			t.Fatalf("stored batch %d differs from the one sent", i)
		}
	}
}

// TestServeConnKeepsBodiesOfNonRecyclableReplies: a dispatcher that keeps
// the body (Recycle false) never sees it overwritten by later frames.
func TestServeConnKeepsBodiesOfNonRecyclableReplies(t *testing.T) {
	var kept [][]byte
	var copies [][]byte
	dispatch := func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
		kept = append(kept, body)
		copies = append(copies, bytes.Clone(body))
		return Immediate(wire.AppendResponseHeader(nil, hdr.CorrelationID, false)), nil
	}
	c := serveWith(t, ConnConfig{MaxInFlight: 1}, dispatch)
	for i := range 20 {
		sendProduce(t, c, int32(i), 1, "t", bytes.Repeat([]byte{byte(i)}, 3000))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := wire.ReadFrame(c, nil, 1<<10); err != nil {
			t.Fatal(err)
		}
	}
	for i := range kept {
		if !bytes.Equal(kept[i], copies[i]) {
			t.Fatalf("body %d was overwritten after its dispatcher returned", i)
		}
	}
}

func TestFramePoolClasses(t *testing.T) {
	if b := getFrame(100); b != nil {
		t.Fatalf("a 100-byte frame got a pooled buffer of cap %d", cap(b))
	}
	if b := getFrame(8<<20 + 1); b != nil {
		t.Fatalf("a frame over 8 MiB got a pooled buffer of cap %d", cap(b))
	}
	for _, tc := range []struct{ n, size int }{
		{512, 512}, {513, 1024}, {4096, 4096}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10},
		{1<<20 - 1, 1 << 20}, {1 << 20, 1 << 20}, {1<<20 + 100, 1<<20 + 64<<10}, {8 << 20, 8 << 20},
	} {
		b := getFrame(tc.n)
		if len(b) != 0 || cap(b) != tc.size {
			t.Fatalf("getFrame(%d): len %d cap %d, want cap %d", tc.n, len(b), cap(b), tc.size)
		}
		putFrame(b)
		if again := getFrame(tc.n); cap(again) != tc.size {
			t.Fatalf("getFrame(%d) after a put: cap %d", tc.n, cap(again))
		}
	}
	// Buffers of other capacities are not kept.
	putFrame(make([]byte, 10, 3000))
	putFrame(make([]byte, 0, 16<<20))
	if b := getFrame(2048); cap(b) != 2048 {
		t.Fatalf("getFrame(2048) has cap %d", cap(b))
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeConnBudgetSmallerThanAStep: a host budget smaller than a
// frame's first charging step (64 KiB) still serves frames larger than
// itself: the first step waits for the whole budget and takes the rest,
// and every charge ends with its frame.
func TestServeConnBudgetSmallerThanAStep(t *testing.T) {
	mem := membudget.New(16 << 10)
	var dispatched atomic.Int32
	dispatch := func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
		dispatched.Add(1)
		if len(body) < 40000 {
			t.Errorf("body of %d bytes, want the whole request", len(body))
		}
		return Reply{Wait: func(context.Context) ([]byte, bool) {
			return wire.AppendResponseHeader(nil, hdr.CorrelationID, false), false
		}}, nil
	}
	c := serveWith(t, ConnConfig{MaxInFlight: 1, Memory: mem}, dispatch)
	for i := range 3 {
		sendProduce(t, c, int32(i), 1, "t", make([]byte, 40000))
	}
	waitFor(t, func() bool { return dispatched.Load() == 3 })
	waitFor(t, func() bool { return mem.InUse() == 0 })
	if mem.Peak() < 40000 {
		t.Fatalf("peak charge %d, want a whole frame (40000 bytes and more)", mem.Peak())
	}
}

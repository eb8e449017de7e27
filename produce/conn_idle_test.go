package produce

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chronik-go/chronik/internal/membudget"
	"github.com/chronik-go/chronik/wire"
)

// serveOne runs ServeConn on the server end of one loopback connection and
// returns the client end and a function waiting for ServeConn's result.
func serveOne(t *testing.T, cfg ConnConfig, dispatch Dispatcher) (net.Conn, func() error) {
	t.Helper()
	return serveOneWrapped(t, cfg, dispatch, func(c net.Conn) net.Conn { return c })
}

// serveOneWrapped is serveOne with the server's end of the connection
// wrapped by wrap.
func serveOneWrapped(t *testing.T, cfg ConnConfig, dispatch Dispatcher, wrap func(net.Conn) net.Conn) (net.Conn, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var result error
	go func() { result = ServeConn(ctx, wrap(s), cfg, dispatch); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, func() error { <-done; return result }
}

// waitClosed waits up to limit for the server to close c (EOF) and returns
// how long it took.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("connection not closed by the server within %v: %v", limit, err)
	}
	return time.Since(start)
}

// TestServeConnClosesIdle: a connection on which nothing arrives for
// IdleTimeout is closed, and ServeConn returns nil.
func TestServeConnClosesIdle(t *testing.T) {
	const idle = 150 * time.Millisecond
	c, done := serveOne(t, ConnConfig{IdleTimeout: idle}, func(context.Context, wire.RequestHeader, []byte) (Reply, error) {
		t.Error("dispatch called on a connection that sent nothing")
		return Reply{}, nil
	})
	took := waitClosed(t, c, 10*time.Second)
	if took < idle {
		t.Fatalf("closed after %v, before the %v idle timeout", took, idle)
	}
	if err := done(); err != nil {
		t.Fatalf("ServeConn after an idle close: %v, want nil", err)
	}
}

// TestServeConnIdleAfterRequests: requests keep a connection open; it is
// closed once they stop for IdleTimeout, and a request waiting for its
// answer longer than IdleTimeout does not count as idleness.
func TestServeConnIdleAfterRequests(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	// The client's think time (20 ms) stays far under the idle timeout even
	// on a loaded machine; each answer takes three idle timeouts.
	const idle = 500 * time.Millisecond
	slow := func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
		r, err := e.h.DispatchProduce(ctx, hdr, body)
		if err != nil {
			return r, err
		}
		wait := r.Wait
		r.Wait = func(ctx context.Context) ([]byte, bool) {
			time.Sleep(3 * idle) // an answer slower than the idle timeout
			return wait(ctx)
		}
		return r, nil
	}
	c, done := serveOne(t, ConnConfig{MaxInFlight: 5, IdleTimeout: idle}, slow)
	for i := int32(0); i < 3; i++ {
		sendProduce(t, c, i, 1, "t", newSpec(1).build(t))
		if corr, resp := readProduce(t, c); corr != i || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("request %d: correlation %d, %+v", i, corr, resp.Topics[0].Partitions[0])
		}
		time.Sleep(20 * time.Millisecond) // client think time
	}
	waitClosed(t, c, 10*time.Second)
	if err := done(); err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
	if n := e.logEnd("t", 0); n != 3 {
		t.Fatalf("log end offset %d, want 3", n)
	}
}

// TestServeConnIdleInsideFrame: a client that sends part of a frame and
// stalls is closed after IdleTimeout, and the frame's memory charge is
// released.
func TestServeConnIdleInsideFrame(t *testing.T) {
	mem := membudget.New(1 << 20)
	c, done := serveOne(t, ConnConfig{IdleTimeout: 150 * time.Millisecond, Memory: mem}, func(context.Context, wire.RequestHeader, []byte) (Reply, error) {
		t.Error("dispatch called for a frame never completed")
		return Reply{}, nil
	})
	part := binary.BigEndian.AppendUint32(nil, 1000)
	if _, err := c.Write(append(part, make([]byte, 100)...)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c, 10*time.Second)
	err := done()
	if !errors.Is(err, errIdle) && err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
	if got := mem.InUse(); got != 0 {
		t.Fatalf("%d bytes still charged after the connection closed", got)
	}
}

// TestServeConnIdleDisabled: a negative IdleTimeout keeps a silent
// connection open.
func TestServeConnIdleDisabled(t *testing.T) {
	c, _ := serveOne(t, ConnConfig{IdleTimeout: -1}, func(context.Context, wire.RequestHeader, []byte) (Reply, error) {
		return Reply{}, nil
	})
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a silent connection with no idle timeout: %v, want the client's own deadline", err)
	}
}

// slowWriteConn takes delay to write each response.
type slowWriteConn struct {
	net.Conn
	delay time.Duration
}

func (c slowWriteConn) Write(p []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Write(p)
}

// TestServeConnNotIdleWhileAnswering: a response that takes longer than
// the idle timeout to write (a slow client reading it, say) does not make
// the connection idle: the request counts as waiting until its answer is
// out, and the idle time starts from there. (The request's slot was once
// given back before the write, so a deadline passing during the write
// closed the connection just as it answered.)
func TestServeConnNotIdleWhileAnswering(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	const idle = 200 * time.Millisecond
	c, done := serveOneWrapped(t, ConnConfig{MaxInFlight: 5, IdleTimeout: idle}, e.h.DispatchProduce,
		func(c net.Conn) net.Conn { return slowWriteConn{c, 3 * idle} })
	for i := int32(0); i < 3; i++ {
		sendProduce(t, c, i, 1, "t", newSpec(1).build(t))
		if corr, resp := readProduce(t, c); corr != i || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("request %d: correlation %d, %+v", i, corr, resp.Topics[0].Partitions[0])
		}
	}
	waitClosed(t, c, 10*time.Second)
	if err := done(); err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
	if n := e.logEnd("t", 0); n != 3 {
		t.Fatalf("log end offset %d, want 3", n)
	}
}

package netchaos

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestProxyCutsWithinBudget(t *testing.T) {
	p, err := New(echoServer(t), 1, 100, 101) // cut after exactly 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("x"), 40)
	got := 0
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 5; i++ {
		if _, err := c.Write(msg); err != nil {
			break
		}
		n, err := io.ReadFull(c, make([]byte, len(msg)))
		got += n
		if err != nil {
			break
		}
	}
	// 40 bytes out and 40 back fit in 100; the second round trip is cut.
	if got >= 5*len(msg) || p.Cuts() != 1 {
		t.Fatalf("echoed %d bytes, %d cuts: the connection was not cut", got, p.Cuts())
	}
}

func TestProxyWithoutCutting(t *testing.T) {
	p, err := New(echoServer(t), 1, 10, 11)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetCutting(false)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("y"), 1000)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("echo through a non-cutting proxy: %v", err)
	}
}

// countingEcho is an echo server that also counts the bytes it received.
func countingEcho(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					got.Add(int64(n))
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &got
}

// roundTrips writes msg and reads its echo up to rounds times and returns
// how many bytes came back before the connection failed.
func roundTrips(t *testing.T, addr string, msg []byte, rounds int) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	back := 0
	for i := 0; i < rounds; i++ {
		if _, err := c.Write(msg); err != nil {
			break
		}
		n, err := io.ReadFull(c, make([]byte, len(msg)))
		back += n
		if err != nil {
			break
		}
	}
	return back
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProxyCutsResponses(t *testing.T) {
	target, received := countingEcho(t)
	// Only the answers count: 40 bytes come back whole, the second echo
	// is cut after 10 of its 40 bytes.
	p, err := NewWithOptions(target, Options{Seed: 1, ToClient: Budget{Min: 50, Max: 51}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := bytes.Repeat([]byte("r"), 40)
	if back := roundTrips(t, p.Addr(), msg, 5); back != 50 {
		t.Fatalf("%d bytes came back, want 50 (40 and 10 of the cut answer)", back)
	}
	// The target received the whole second message: it served a request
	// whose answer the client lost.
	waitFor(t, "the target to receive 80 bytes", func() bool { return received.Load() == 80 })
	if p.Cuts() != 1 || p.ResponseCuts() != 1 || p.Connections() != 1 {
		t.Fatalf("cuts %d, response cuts %d, connections %d; want 1, 1, 1", p.Cuts(), p.ResponseCuts(), p.Connections())
	}
}

func TestProxyCutsRequests(t *testing.T) {
	target, received := countingEcho(t)
	p, err := NewWithOptions(target, Options{Seed: 1, ToTarget: Budget{Min: 50, Max: 51}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := bytes.Repeat([]byte("q"), 40)
	if back := roundTrips(t, p.Addr(), msg, 5); back != 40 {
		t.Fatalf("%d bytes came back, want 40", back)
	}
	// The second message reached the target only up to the budget.
	waitFor(t, "the target to receive 50 bytes", func() bool { return received.Load() == 50 })
	if p.Cuts() != 1 || p.ResponseCuts() != 0 {
		t.Fatalf("cuts %d, response cuts %d; want 1, 0", p.Cuts(), p.ResponseCuts())
	}
}

func TestProxySetTargetAndCutting(t *testing.T) {
	p, err := NewWithOptions("", Options{Seed: 7, ToClient: Budget{Min: 10, Max: 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := bytes.Repeat([]byte("s"), 100)
	// No target yet: the connection is closed at once.
	if back := roundTrips(t, p.Addr(), msg, 1); back != 0 {
		t.Fatalf("%d bytes came back without a target", back)
	}
	p.SetTarget(echoServer(t))
	if back := roundTrips(t, p.Addr(), msg, 3); back < 10 || back >= 20 {
		t.Fatalf("%d bytes came back, want a cut in [10, 20)", back)
	}
	p.SetCutting(false)
	if back := roundTrips(t, p.Addr(), msg, 3); back != 300 {
		t.Fatalf("%d bytes came back with cutting off, want 300", back)
	}
	p.SetCutting(true)
	if back := roundTrips(t, p.Addr(), msg, 3); back >= 20 {
		t.Fatalf("%d bytes came back with cutting on again, want fewer than 20", back)
	}
	if p.Connections() != 4 || p.Cuts() != 2 || p.ResponseCuts() != 2 {
		t.Fatalf("connections %d, cuts %d, response cuts %d; want 4, 2, 2", p.Connections(), p.Cuts(), p.ResponseCuts())
	}
}

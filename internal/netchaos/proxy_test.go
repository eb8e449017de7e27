package netchaos

import (
	"bytes"
	"io"
	"net"
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

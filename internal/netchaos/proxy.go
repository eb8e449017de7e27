// Package netchaos is a TCP proxy for tests that cuts connections at random
// points, so that clients see requests whose responses never arrive and
// must retry: what idempotent producers exist for.
package netchaos

import (
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards loopback connections to a target and cuts each one after a
// random number of bytes has passed through it in either direction.
type Proxy struct {
	ln     net.Listener
	target string
	// cutAfter returns how many bytes a connection may carry before it
	// is cut, or a negative number for never.
	cutAfter func() int64

	mu    sync.Mutex // guards conns and rng
	conns map[net.Conn]struct{}
	rng   *rand.Rand

	cuts atomic.Int64
	wg   sync.WaitGroup
}

// New starts a proxy on 127.0.0.1 to target. Each connection is cut after
// a uniformly random number of bytes in [minBytes, maxBytes); seed makes
// the cuts reproducible.
func New(target string, seed int64, minBytes, maxBytes int64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, rng: rand.New(rand.NewSource(seed))}
	p.cutAfter = func() int64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return minBytes + p.rng.Int63n(max(1, maxBytes-minBytes))
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cuts returns how many connections the proxy has cut.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// SetCutting turns cutting on or off for new connections (off: a plain
// proxy, for the final read-back of a test).
func (p *Proxy) SetCutting(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		return
	}
	p.cutAfter = func() int64 { return -1 }
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		budget := p.cutAfter
		p.mu.Unlock()
		left := &atomic.Int64{}
		left.Store(budget())
		p.track(client, true)
		p.track(server, true)
		p.wg.Add(2)
		go p.pipe(client, server, left)
		go p.pipe(server, client, left)
	}
}

// pipe copies src to dst until either side fails or the shared byte
// budget runs out, then closes both.
func (p *Proxy) pipe(src, dst net.Conn, left *atomic.Int64) {
	defer p.wg.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.track(src, false)
		p.track(dst, false)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if l := left.Load(); l >= 0 {
				rest := left.Add(-int64(n))
				if rest < 0 {
					// Forward only what the budget allows, then cut.
					keep := int64(n) + rest
					if keep > 0 {
						dst.Write(chunk[:keep])
					}
					p.cuts.Add(1)
					return
				}
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or a closed connection: done either way
		}
	}
}

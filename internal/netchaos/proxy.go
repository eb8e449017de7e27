// Package netchaos is a TCP proxy for tests that cuts connections at random
// points, so that clients see requests whose responses never arrive and
// must retry: what idempotent producers exist for.
package netchaos

import (
	"math"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
)

// Budget is a range of byte counts: a connection is cut once it has
// carried a uniformly random number of bytes in [Min, Max). A Budget with
// Max <= 0 never cuts.
type Budget struct{ Min, Max int64 }

// Options configures a proxy made by NewWithOptions. Each connection draws
// one byte count from every budget that cuts and is cut as soon as any of
// them runs out.
type Options struct {
	// Seed makes the drawn byte counts reproducible.
	Seed int64
	// Both counts the bytes of both directions together (New's budget).
	Both Budget
	// ToTarget counts the bytes the client sends to the target.
	ToTarget Budget
	// ToClient counts the bytes the target sends back. A cut here drops
	// part of an answer the target has already sent: for a
	// request-response protocol, the target served a request whose
	// response the client never gets.
	ToClient Budget
}

// unlimited is the byte count of a budget that never cuts.
const unlimited = math.MaxInt64

// Proxy forwards loopback connections to a target and cuts each one after
// a random number of bytes has passed through it.
type Proxy struct {
	ln   net.Listener
	opts Options

	mu      sync.Mutex // guards target, cutting, conns and rng
	target  string
	cutting bool
	conns   map[net.Conn]struct{}
	rng     *rand.Rand

	accepted     atomic.Int64
	cuts         atomic.Int64
	responseCuts atomic.Int64
	wg           sync.WaitGroup
}

// New starts a proxy on 127.0.0.1 to target. Each connection is cut after
// a uniformly random number of bytes in [minBytes, maxBytes), counted over
// both directions; seed makes the cuts reproducible.
func New(target string, seed int64, minBytes, maxBytes int64) (*Proxy, error) {
	return NewWithOptions(target, Options{Seed: seed, Both: Budget{Min: minBytes, Max: max(maxBytes, minBytes+1)}})
}

// NewWithOptions starts a proxy on 127.0.0.1 to target with a byte budget
// per direction. target may be "" when it is not known yet (a server that
// must advertise the proxy's address is started after it): SetTarget sets
// it, and connections accepted before are closed at once.
func NewWithOptions(target string, opts Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, opts: opts, target: target, cutting: true, conns: map[net.Conn]struct{}{}, rng: rand.New(rand.NewSource(opts.Seed))}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget sets the address new connections are forwarded to.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Connections returns how many connections the proxy has accepted.
func (p *Proxy) Connections() int64 { return p.accepted.Load() }

// Cuts returns how many connections the proxy has cut.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// ResponseCuts returns how many of the cuts dropped bytes the target had
// sent towards the client (see Options.ToClient).
func (p *Proxy) ResponseCuts() int64 { return p.responseCuts.Load() }

// SetCutting turns cutting on or off for new connections (off: a plain
// proxy, for the final read-back of a test).
func (p *Proxy) SetCutting(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutting = on
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

// link is one proxied connection: the bytes left in each budget (a budget
// is spent when its count goes negative) and whether it was cut.
type link struct {
	both, toTarget, toClient atomic.Int64
	cut                      atomic.Bool
}

// newLink draws the budgets of a new connection; the caller holds p.mu.
func (p *Proxy) newLink() *link {
	l := &link{}
	draw := func(b Budget) int64 {
		if !p.cutting || b.Max <= 0 {
			return unlimited
		}
		return b.Min + p.rng.Int63n(max(1, b.Max-b.Min))
	}
	l.both.Store(draw(p.opts.Both))
	l.toTarget.Store(draw(p.opts.ToTarget))
	l.toClient.Store(draw(p.opts.ToClient))
	return l
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
		p.accepted.Add(1)
		p.mu.Lock()
		target := p.target
		l := p.newLink()
		p.mu.Unlock()
		if target == "" {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		p.wg.Add(2)
		go p.pipe(client, server, l, &l.toTarget, false)
		go p.pipe(server, client, l, &l.toClient, true)
	}
}

// pipe copies src to dst until either side fails or one of the link's
// budgets runs out, then closes both. dir is this direction's budget;
// toClient says the bytes come from the target.
func (p *Proxy) pipe(src, dst net.Conn, l *link, dir *atomic.Int64, toClient bool) {
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
			keep := int64(n)
			for _, left := range []*atomic.Int64{&l.both, dir} {
				if rest := left.Add(-int64(n)); rest < 0 {
					keep = min(keep, int64(n)+rest)
				}
			}
			if keep < int64(n) {
				// Forward only what the budgets allow, then cut.
				if keep > 0 {
					dst.Write(buf[:keep])
				}
				if l.cut.CompareAndSwap(false, true) {
					p.cuts.Add(1)
					if toClient {
						p.responseCuts.Add(1)
					}
				}
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or a closed connection: done either way
		}
	}
}

package produce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/wire"
)

// Reply is a request's answer in two steps. The dispatcher returns it once
// the request's effects are ordered (a produce request's batches are
// appended); Wait then finishes it (a produce request's durability wait)
// and returns the response frame, header included and size prefix
// excluded, or nil when nothing is sent (acks=0). closeConn asks the
// connection to close after the response (acks=0 failures).
type Reply struct {
	Wait func(ctx context.Context) (response []byte, closeConn bool)
	// Recycle promises that nothing reads the request body once the
	// dispatcher has returned (the request's bytes were copied, appended
	// or decoded into fresh memory), so ServeConn may reuse the frame's
	// buffer at once for a later request. DispatchProduce sets it; a
	// dispatcher that keeps parts of the body (decoders may alias it)
	// leaves it false.
	Recycle bool
}

// Immediate is a Reply whose response is already built.
func Immediate(response []byte) Reply {
	return Reply{Wait: func(context.Context) ([]byte, bool) { return response, false }}
}

// Dispatcher handles one request of a connection. It is called strictly in
// request order, one request at a time; a returned error closes the
// connection (Kafka closes connections that send requests it cannot parse).
type Dispatcher func(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error)

// ConnConfig configures ServeConn.
type ConnConfig struct {
	// MaxInFlight is how many requests may be read and dispatched before
	// the oldest one's response is written (Config.MaxInFlightRequests).
	MaxInFlight int
	// MaxFrameBytes caps one request frame (Kafka socket.request.max.bytes,
	// default 100 MiB); a larger frame closes the connection.
	MaxFrameBytes int
	// Memory, when set, is charged with every request frame, as its bytes
	// are read, until the dispatcher returns. Before a frame's body is read
	// ServeConn waits for room, so while the budget is exhausted no new
	// request is taken in and TCP flow control pushes back on the client
	// (Kafka's queued.max.request.bytes memory pool, which also holds a
	// produce request's buffer until the request is appended, not while it
	// waits for acks). A frame being read is charged step by step, past the
	// limit if need be; see frameChargeStep. Handler.ConnConfig sets it to
	// the handler's buffer memory.
	Memory MemoryBudget
	// IdleTimeout closes a connection on which no request byte arrived
	// for this long while no response was pending (Kafka's
	// connections.max.idle.ms). 0 means the default, 10 minutes; a
	// negative value keeps idle connections open.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// DefaultIdleTimeout is Kafka's default connections.max.idle.ms.
const DefaultIdleTimeout = 10 * time.Minute

// MemoryBudget is a byte budget that ServeConn charges request frames to.
type MemoryBudget interface {
	// Acquire reserves n bytes (n <= Limit()), waiting until they are free
	// or ctx is done (then it returns ctx.Err() and reserves nothing).
	Acquire(ctx context.Context, n int64) error
	// Take reserves n bytes at once, even past the limit: for bytes that
	// are already arriving and must be read.
	Take(n int64)
	// Release returns n reserved bytes.
	Release(n int64)
	// Limit is the most bytes that may be reserved at once.
	Limit() int64
}

// chargedKey is the context key under which ServeConn records the budget a
// request's frame is charged to, so that Handler.Begin does not charge the
// same bytes twice.
type chargedKey struct{}

// frameCharged reports whether ctx belongs to a request whose frame is
// already charged to m.
func frameCharged(ctx context.Context, m MemoryBudget) bool {
	got, _ := ctx.Value(chargedKey{}).(MemoryBudget)
	return got != nil && got == m
}

// ServeConn serves one client connection until the client closes it, a
// frame cannot be read or dispatched, or ctx is cancelled. Requests are
// dispatched strictly in order, as Kafka's network layer does (idempotent
// producers with several requests in flight depend on it); up to
// MaxInFlight of them may be waiting for their responses, which are
// written in request order. When ctx is cancelled, ServeConn stops reading,
// finishes the requests already dispatched, and closes the connection.
//
// The body passed to dispatch lives in a buffer that ServeConn reuses for
// a later request when the returned Reply says Recycle.
func ServeConn(ctx context.Context, c net.Conn, cfg ConnConfig, dispatch Dispatcher) error {
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 100 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	defer c.Close()

	// Stop reading when ctx is cancelled: a past read deadline unblocks Read.
	rd := &readDeadline{c: c}
	stopRead := context.AfterFunc(ctx, rd.stop)
	defer stopRead()

	dctx := ctx
	if cfg.Memory != nil {
		dctx = context.WithValue(ctx, chargedKey{}, cfg.Memory)
	}
	replies := make(chan Reply, cfg.MaxInFlight)
	slots := make(chan struct{}, cfg.MaxInFlight)
	// The reader holds a slot for the frame it reads; more slots taken
	// mean requests waiting for their responses: the client is not idle.
	ir := &idleReader{c: c, rd: rd, timeout: cfg.IdleTimeout, busy: func() bool { return len(slots) > 1 }}
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() { // the writer: owns writes to c
		defer wg.Done()
		var out []byte
		for r := range replies {
			resp, closeConn := r.Wait(context.WithoutCancel(ctx))
			if writeErr == nil && resp != nil {
				out = binary.BigEndian.AppendUint32(out[:0], uint32(len(resp)))
				out = append(out, resp...)
				if _, err := c.Write(out); err != nil {
					writeErr = err
					_ = c.Close() // unblocks the reader
				}
				ir.wrote()
			}
			if writeErr == nil && closeConn {
				// Stop the reader; the connection is closed once every
				// response before this one is delivered (lingerClose).
				writeErr = errClosedByServer
				rd.stop()
			}
			// The slot is given back only once the answer is out (and
			// recorded as activity): until then the client waits for it
			// and is not idle.
			<-slots
		}
	}()

	// The reader reads ahead while the previous request is dispatched, so
	// that receiving request N+1 overlaps appending request N; a slot is
	// taken before each frame is read, so at most MaxInFlight requests
	// are read, dispatched or waiting for their responses.
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	frames := make(chan frame, cfg.MaxInFlight)
	var readErr error // owned by the reader until frames is closed
	go func() {       // the reader: owns reads from c
		defer close(frames)
		for {
			select {
			case slots <- struct{}{}:
			case <-rctx.Done():
				return
			}
			f, err := readFrame(rctx, ir, cfg)
			if err != nil {
				<-slots
				readErr = err
				return
			}
			frames <- f
		}
	}()

	var dispatchErr error
	for f := range frames {
		var r Reply
		hdr, body, err := wire.ParseRequestHeader(f.buf)
		if err == nil {
			r, err = dispatch(dctx, hdr, body)
		}
		f.done(cfg, err == nil && r.Recycle)
		if err != nil {
			<-slots
			dispatchErr = err
			break
		}
		replies <- r
	}
	if dispatchErr != nil {
		// Stop the reader and give back what the frames it read ahead hold.
		stopReader()
		rd.stop()
		for f := range frames {
			f.done(cfg, true)
			<-slots
		}
		readErr = dispatchErr
	}
	close(replies)
	wg.Wait()
	if ctx.Err() == nil && (dispatchErr != nil || errors.Is(writeErr, errClosedByServer) || isFrameError(readErr)) {
		lingerClose(c)
	}
	switch {
	case ctx.Err() != nil, errors.Is(readErr, io.EOF), errors.Is(readErr, net.ErrClosed), errors.Is(writeErr, errClosedByServer):
		return nil
	case errors.Is(readErr, errIdle):
		cfg.Logger.Debug("closing idle connection", "remote", c.RemoteAddr().String(), "idle_timeout", cfg.IdleTimeout)
		return nil
	case writeErr != nil:
		return writeErr
	}
	return readErr
}

// Closing a connection whose client is still sending makes the kernel
// answer with a reset, which discards the responses the client has not
// read yet: answers to requests that were processed. So when the server
// decides to close, it first half-closes (the client reads every response,
// then EOF) and discards input until the client closes too, for at most
// lingerTime and lingerBytes, as net/http does before closing.
const (
	lingerTime  = time.Second
	lingerBytes = 16 << 20
)

func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return
		}
	}
	if c.SetReadDeadline(time.Now().Add(lingerTime)) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, lingerBytes))
}

// isFrameError reports whether a read failed on a malformed frame rather
// than on the connection.
func isFrameError(err error) bool {
	var fe *wire.FrameSizeError
	return errors.As(err, &fe)
}

// frame is one request frame read ahead of its dispatch.
type frame struct {
	buf    []byte // the frame without its size prefix
	charge int64  // bytes charged to ConnConfig.Memory
}

// frameChargeStep is how much of a frame is charged, and read, at a time.
// Only the first step of a frame waits for room in the budget; the later
// steps are charged as their bytes arrive, even past the limit, because a
// frame half read must finish (waiting there could deadlock connections
// that each hold part of a frame). So a client that announces a large
// frame and stalls holds only what it sent, plus one step.
const frameChargeStep = 64 << 10

// readFrame reads one request frame, charging it to cfg.Memory step by
// step: it waits for room before the body's first byte is read, so that
// while the budget is exhausted no new request is taken in.
func readFrame(ctx context.Context, c io.Reader, cfg ConnConfig) (frame, error) {
	n, err := wire.ReadFrameSize(c, cfg.MaxFrameBytes)
	if err != nil {
		return frame{}, err
	}
	if n == 0 {
		return frame{buf: []byte{}}, nil
	}
	f := frame{buf: getFrame(n)}
	for have := 0; have < n; {
		step := min(n-have, frameChargeStep)
		if cfg.Memory != nil {
			if have == 0 {
				// Wait for at most the whole budget (Acquire's n <=
				// Limit()); a larger first step takes the rest at once.
				first := min(int64(step), cfg.Memory.Limit())
				if err = cfg.Memory.Acquire(ctx, first); err == nil && first < int64(step) {
					cfg.Memory.Take(int64(step) - first)
				}
			} else {
				cfg.Memory.Take(int64(step))
			}
			if err != nil {
				return frame{}, err
			}
			f.charge += int64(step)
		}
		if cap(f.buf) < have+step {
			// Grow as bytes arrive rather than trusting the size prefix.
			grown := make([]byte, have, min(n, max(2*cap(f.buf), have+step, 4<<10)))
			copy(grown, f.buf)
			f.buf = grown
		}
		f.buf = f.buf[:have+step]
		if _, err := io.ReadFull(c, f.buf[have:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			f.done(cfg, false)
			return frame{}, fmt.Errorf("produce: read %d-byte frame: %w", n, err)
		}
		have += step
	}
	return f, nil
}

// done ends the frame's memory charge once its dispatcher returned, and
// gives its buffer back to the pool when nothing reads it any more.
func (f frame) done(cfg ConnConfig, recycle bool) {
	if f.charge > 0 {
		cfg.Memory.Release(f.charge)
	}
	if recycle {
		putFrame(f.buf)
	}
}

var (
	errClosedByServer = errors.New("produce: connection closed after a failed acks=0 request")
	errIdle           = errors.New("produce: connection idle")
)

// readDeadline owns the connection's read deadline: the reader arms it
// before each read (the idle timeout), and stop sets it in the past for
// good, unblocking a read in progress, so that a later arm cannot undo a
// stop.
type readDeadline struct {
	c       net.Conn
	mu      sync.Mutex
	stopped bool
}

// arm sets the deadline of the next read d from now, or none when d <= 0.
// It reports false once stopped.
func (r *readDeadline) arm(d time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	_ = r.c.SetReadDeadline(t)
	return true
}

// stop ends reading: a read in progress or to come fails at once.
func (r *readDeadline) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	_ = r.c.SetReadDeadline(time.Unix(1, 0))
}

// idleReader reads the connection for ServeConn's reader, failing with
// errIdle when no byte arrives for timeout while busy reports no request
// waiting for its response (a client waiting for a slow answer, such as an
// acks=all produce or a long-polling fetch, is not idle; Kafka's
// connections.max.idle.ms counts neither reads nor writes).
type idleReader struct {
	c         net.Conn
	rd        *readDeadline
	timeout   time.Duration
	busy      func() bool
	lastWrite atomic.Int64 // UnixNano of the last response written
}

func (r *idleReader) Read(p []byte) (int, error) {
	wait := r.timeout
	for {
		if !r.rd.arm(wait) {
			return 0, net.ErrClosed
		}
		n, err := r.c.Read(p)
		if n > 0 || err == nil || !r.rd.expired(err) {
			return n, err
		}
		wait = r.timeout
		if r.busy() {
			continue
		}
		// Idle since the last response went out, not since this read began.
		if since := time.Since(time.Unix(0, r.lastWrite.Load())); since < r.timeout {
			wait = r.timeout - since
			continue
		}
		return 0, errIdle
	}
}

// wrote records a response written: activity that restarts the idle time.
func (r *idleReader) wrote() { r.lastWrite.Store(time.Now().UnixNano()) }

// expired reports whether err is the idle deadline passing (not a stop).
func (r *readDeadline) expired(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.stopped
}

// DispatchProduce is the Dispatcher step for a Produce request (API key 0):
// it decodes the body, appends through Begin, and returns a Reply whose
// Wait finishes the request and encodes the response in the request's
// version. For acks=0 nothing is sent, and a failure closes the connection
// as Kafka does.
func (h *Handler) DispatchProduce(ctx context.Context, hdr wire.RequestHeader, body []byte) (Reply, error) {
	req, err := wire.DecodeProduceRequest(hdr.APIVersion, body)
	if err != nil {
		return Reply{}, err
	}
	info := RequestInfo{}
	if hdr.ClientID != nil {
		info.ClientID = *hdr.ClientID
	}
	pd, err := h.Begin(ctx, info, req)
	if err != nil {
		return Reply{}, err
	}
	// Nothing reads the records once Begin returned; drop them so that the
	// frame can be reused (Recycle) while the reply waits for acks.
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			req.Topics[i].Partitions[j].Records = nil
		}
	}
	flexible := wire.ResponseHeaderFlexible(hdr.APIKey, hdr.APIVersion)
	return Reply{Wait: func(ctx context.Context) ([]byte, bool) {
		resp := pd.Wait(ctx)
		if req.Acks == 0 {
			return nil, Failed(resp)
		}
		out := wire.AppendResponseHeader(nil, hdr.CorrelationID, flexible)
		return resp.AppendTo(out), false
	}, Recycle: true}, nil
}

// ServeConn serves one connection with the handler's MaxInFlightRequests
// (see the package-level ServeConn); dispatch handles every API key the
// host serves, typically calling DispatchProduce for API key 0.
func (h *Handler) ServeConn(ctx context.Context, c net.Conn, dispatch Dispatcher) error {
	return ServeConn(ctx, c, h.ConnConfig(), dispatch)
}

// ConnConfig returns the ServeConn configuration the handler's Config
// implies: MaxInFlightRequests, and request frames charged to
// BufferMemory before they are read.
func (h *Handler) ConnConfig() ConnConfig {
	return ConnConfig{MaxInFlight: h.cfg.MaxInFlightRequests, Memory: h.mem, Logger: h.logger}
}

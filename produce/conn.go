package produce

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
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
	Logger        *slog.Logger
}

// ServeConn serves one client connection until the client closes it, a
// frame cannot be read or dispatched, or ctx is cancelled. Requests are
// dispatched strictly in order, as Kafka's network layer does (idempotent
// producers with several requests in flight depend on it); up to
// MaxInFlight of them may be waiting for their responses, which are
// written in request order. When ctx is cancelled, ServeConn stops reading,
// finishes the requests already dispatched, and closes the connection.
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
	defer c.Close()

	// Stop reading when ctx is cancelled: a past read deadline unblocks Read.
	stopRead := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stopRead()

	replies := make(chan Reply, cfg.MaxInFlight)
	slots := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() { // the writer: owns writes to c
		defer wg.Done()
		var out []byte
		for r := range replies {
			resp, closeConn := r.Wait(context.WithoutCancel(ctx))
			<-slots
			if writeErr != nil {
				continue
			}
			if resp != nil {
				out = binary.BigEndian.AppendUint32(out[:0], uint32(len(resp)))
				out = append(out, resp...)
				if _, err := c.Write(out); err != nil {
					writeErr = err
					_ = c.Close() // unblocks the reader
				}
			}
			if closeConn {
				writeErr = errClosedByServer
				_ = c.Close()
			}
		}
	}()

	var readErr error
	for {
		slots <- struct{}{}
		frame, err := wire.ReadFrame(c, nil, cfg.MaxFrameBytes)
		if err != nil {
			<-slots
			readErr = err
			break
		}
		hdr, body, err := wire.ParseRequestHeader(frame)
		if err != nil {
			<-slots
			readErr = err
			break
		}
		r, err := dispatch(ctx, hdr, body)
		if err != nil {
			<-slots
			readErr = err
			break
		}
		replies <- r
	}
	close(replies)
	wg.Wait()
	switch {
	case ctx.Err() != nil, errors.Is(readErr, io.EOF), errors.Is(readErr, net.ErrClosed), errors.Is(writeErr, errClosedByServer):
		return nil
	case writeErr != nil:
		return writeErr
	}
	return readErr
}

var errClosedByServer = errors.New("produce: connection closed after a failed acks=0 request")

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
	flexible := wire.ResponseHeaderFlexible(hdr.APIKey, hdr.APIVersion)
	return Reply{Wait: func(ctx context.Context) ([]byte, bool) {
		resp := pd.Wait(ctx)
		if req.Acks == 0 {
			return nil, Failed(resp)
		}
		out := wire.AppendResponseHeader(nil, hdr.CorrelationID, flexible)
		return resp.AppendTo(out), false
	}}, nil
}

// ServeConn serves one connection with the handler's MaxInFlightRequests
// (see the package-level ServeConn); dispatch handles every API key the
// host serves, typically calling DispatchProduce for API key 0.
func (h *Handler) ServeConn(ctx context.Context, c net.Conn, dispatch Dispatcher) error {
	return ServeConn(ctx, c, ConnConfig{MaxInFlight: h.cfg.MaxInFlightRequests, Logger: h.logger}, dispatch)
}

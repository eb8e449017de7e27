package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// subprocessEnv makes the test binary run the broker's main instead of the
// tests (see TestMain), so that tests can start the real command.
const subprocessEnv = "CHRONIK_EXAMPLE_BROKER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) == "1" {
		os.Args = append([]string{"broker"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testLogger discards logs unless CHRONIK_TEST_LOG names a level, in which
// case they go to stderr.
func testLogger() *slog.Logger {
	lvl := os.Getenv("CHRONIK_TEST_LOG")
	if lvl == "" {
		return slog.New(slog.DiscardHandler)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		l = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// testBroker is a broker started in process by startBroker.
type testBroker struct {
	t      testing.TB
	cfg    config
	addrs  addrs
	cancel context.CancelFunc
	done   chan error
	closed atomic.Bool
}

// testConfig returns a config on free loopback ports in dir.
func testConfig(t testing.TB, dir string) config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = dir
	if err := cfg.finish(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startBroker runs a broker in process with cfg and stops it when the test
// ends (failing the test if it does not stop cleanly).
func startBroker(t testing.TB, cfg config) *testBroker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan addrs, 1)
	b := &testBroker{t: t, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- run(ctx, cfg, testLogger(), ready) }()
	select {
	case b.addrs = <-ready:
	case err := <-b.done:
		cancel()
		t.Fatalf("broker did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("broker did not start within 30s")
	}
	t.Cleanup(func() { b.stop() })
	return b
}

// newBroker starts a broker with defaults in a fresh directory, after mod
// (if any) changed the config.
func newBroker(t testing.TB, mod func(*config)) *testBroker {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	if mod != nil {
		mod(&cfg)
		if err := cfg.finish(); err != nil {
			t.Fatal(err)
		}
	}
	return startBroker(t, cfg)
}

// stop shuts the broker down and fails the test if it does not stop
// cleanly within 60 s. It is idempotent.
func (b *testBroker) stop() {
	if !b.closed.CompareAndSwap(false, true) {
		return
	}
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Errorf("broker stopped with error: %v", err)
		}
	case <-time.After(60 * time.Second):
		b.t.Error("broker did not stop within 60s")
	}
}

// rawConn is a minimal Kafka client connection: it writes request frames
// and reads response frames, for tests that check the protocol byte by
// byte or send what no client library would.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// send writes one request frame with a header for (key, version) and body,
// and returns its correlation id.
func (r *rawConn) send(key, version int16, body []byte) int32 {
	r.t.Helper()
	r.corr++
	client := "chronik-test"
	frame, start := wire.BeginFrame(nil)
	frame = wire.AppendRequestHeader(frame, wire.RequestHeader{APIKey: key, APIVersion: version, CorrelationID: r.corr, ClientID: &client})
	frame = append(frame, body...)
	wire.EndFrame(frame, start)
	_ = r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(frame); err != nil {
		r.t.Fatalf("write request: %v", err)
	}
	return r.corr
}

// recvFrame reads one response frame (without its size prefix).
func (r *rawConn) recvFrame(timeout time.Duration) ([]byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.c, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// roundTrip sends req at version and decodes the response, checking its
// correlation id.
func (r *rawConn) roundTrip(req kmsg.Request, version int16) kmsg.Response {
	r.t.Helper()
	req.SetVersion(version)
	corr := r.send(req.Key(), version, req.AppendTo(nil))
	frame, err := r.recvFrame(30 * time.Second)
	if err != nil {
		r.t.Fatalf("%s v%d: read response: %v", wire.APIName(req.Key()), version, err)
	}
	got, body, err := wire.ParseResponseHeader(frame, wire.ResponseHeaderFlexible(req.Key(), version))
	if err != nil {
		r.t.Fatalf("%s v%d: response header: %v", wire.APIName(req.Key()), version, err)
	}
	if got != corr {
		r.t.Fatalf("%s v%d: correlation id %d, want %d", wire.APIName(req.Key()), version, got, corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(version)
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("%s v%d: decode response: %v", wire.APIName(req.Key()), version, err)
	}
	return resp
}

// expectClosed checks that the broker closes the connection without
// answering.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	frame, err := r.recvFrame(10 * time.Second)
	if err == nil {
		r.t.Fatalf("broker answered (%d bytes) instead of closing the connection", len(frame))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatal("broker neither answered nor closed the connection")
	}
}

// createTopic creates a topic through CreateTopics and fails on any error.
func createTopic(t testing.TB, addr, name string, partitions int32, configs map[string]string) {
	t.Helper()
	rc := dialRaw(t, addr)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, 7).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic %s: error %d %v", name, code, resp.Topics[0].ErrorMessage)
	}
}

// fetchRaw fetches a partition from offset with a raw Fetch v12 and
// returns the partition response.
func fetchRaw(t testing.TB, addr, topic string, partition int32, offset int64) wire.FetchPartitionResponse {
	t.Helper()
	rc := dialRaw(t, addr)
	req := &wire.FetchRequest{
		Version: 12, ReplicaID: -1, MaxWaitMs: 0, MinBytes: 0, MaxBytes: 64 << 20, SessionEpoch: -1,
		Topics: []wire.FetchTopic{{Name: topic, Partitions: []wire.FetchPartition{{
			Partition: partition, CurrentLeaderEpoch: -1, FetchOffset: offset, LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 64 << 20,
		}}}},
	}
	rc.send(wire.APIKeyFetch, 12, req.AppendTo(nil))
	frame, err := rc.recvFrame(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := wire.ParseResponseHeader(frame, true)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := wire.DecodeFetchResponse(12, body)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	p.Records = bytes.Clone(p.Records)
	return p
}

// storedBatches fetches every batch of a partition below the high
// watermark with raw Fetch requests and returns their headers.
func storedBatches(t testing.TB, addr, topic string, partition int32) []record.Header {
	t.Helper()
	var out []record.Header
	offset := int64(0)
	for {
		p := fetchRaw(t, addr, topic, partition, offset)
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s/%d@%d: error %d", topic, partition, offset, p.ErrorCode)
		}
		b := p.Records
		if len(b) == 0 {
			return out
		}
		for len(b) >= record.HeaderSize {
			h := record.ReadHeader(b)
			if h.Size() > len(b) {
				break
			}
			out = append(out, h)
			offset = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
}

// codecsOf returns the codecs of stored batches, e.g. "gzip,gzip".
func codecsOf(hs []record.Header) string {
	var s []string
	for _, h := range hs {
		s = append(s, codecName(h.Codec()))
	}
	return strings.Join(s, ",")
}

func codecName(c compress.Codec) string { return c.String() }

// checkCodec fails unless every stored batch of the partition uses codec.
func checkCodec(t testing.TB, addr, topic string, codec string) {
	t.Helper()
	hs := storedBatches(t, addr, topic, 0)
	if len(hs) == 0 {
		t.Fatalf("%s: no batches stored", topic)
	}
	for _, h := range hs {
		if got := codecName(h.Codec()); got != codec {
			t.Fatalf("%s: stored batch at offset %d has codec %s, want %s (all: %s)", topic, h.BaseOffset, got, codec, codecsOf(hs))
		}
	}
}

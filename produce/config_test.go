package produce

import (
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/wire"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.DataDir = "/tmp/x"
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"negative node", func(c *Config) { c.NodeID = -1 }, "NodeID"},
		{"in flight", func(c *Config) { c.MaxInFlightRequests = 0 }, "MaxInFlightRequests"},
		{"batch size", func(c *Config) { c.BatchSize = 0 }, "BatchSize"},
		{"linger", func(c *Config) { c.Linger = -time.Second }, "Linger"},
		{"codec", func(c *Config) { c.CompressionType = "brotli" }, "CompressionType"},
		{"timeout", func(c *Config) { c.RequestTimeout = 0 }, "RequestTimeout"},
		{"memory", func(c *Config) { c.BufferMemory = 1000 }, "BufferMemory"},
		{"decompressed", func(c *Config) { c.MaxDecompressedBatchBytes = 10 }, "MaxDecompressedBatchBytes"},
		{"expiration", func(c *Config) { c.ProducerIDExpiration = 0 }, "ProducerIDExpiration"},
	}
	for _, tc := range cases {
		c := good
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if _, err := New(good, nil); err == nil {
		t.Error("New accepted a nil MetadataStore")
	}
	ix := good
	ix.EnableIndexing = true
	if _, err := New(ix, metadata.NewMemory(1)); err == nil {
		t.Error("New accepted EnableIndexing without an Indexer")
	}
}

func TestConfigNodeIDDecidesLeadership(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NodeID = 2 })
	e.topic("t", 1, nil) // the memory store's default node is the handler's NodeID
	wantCodeOK(t, e, "t")
	other := newEnv(t, nil)
	if _, err := other.meta.CreateTopic(t.Context(), "t", 1, []int32{5}, nil); err != nil {
		t.Fatal(err)
	}
	got := one(t, other.produce(9, 1, pr("t", 0, newSpec(1).build(t))))
	if got.ErrorCode == 0 {
		t.Fatal("a partition led by node 5 accepted a write on node 1")
	}
}

func wantCodeOK(t *testing.T, e *env, topic string) {
	t.Helper()
	got := one(t, e.produce(9, 1, pr(topic, 0, newSpec(1).build(t))))
	if got.ErrorCode != 0 {
		t.Fatalf("produce: %v", got.ErrorCode)
	}
}

func TestConfigCompressionTypeRecompressesProducerTopics(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CompressionType = "lz4" })
	e.topic("t", 1, nil)
	wantCodeOK(t, e, "t")
	if c := headerOf(e.readAll("t", 0)[0]).Codec(); c.String() != "lz4" {
		t.Fatalf("stored codec %v, want lz4", c)
	}
}

func TestConfigLingerAndBatchSizeSyncWithoutWaiters(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
	}{
		{"linger", func(c *Config) { c.Linger = 10 * time.Millisecond; c.BatchSize = 1 << 30 }},
		{"batch size", func(c *Config) { c.Linger = 0; c.BatchSize = 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mut)
			e.topic("t", 1, nil)
			wantCodeOK(t, e, "t") // acks=1: nobody waits for the fsync
			l, err := e.h.Log("t", 0)
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for l.HighWatermark() < 1 {
				if time.Now().After(deadline) {
					t.Fatal("the high watermark never covered the acks=1 batch")
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	// With neither trigger, acks=1 data stays unsynced until someone asks.
	e := newEnv(t, func(c *Config) { c.Linger = 0; c.BatchSize = 1 << 30 })
	e.topic("t", 1, nil)
	wantCodeOK(t, e, "t")
	time.Sleep(50 * time.Millisecond)
	l, _ := e.h.Log("t", 0)
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d without any flush trigger", hw)
	}
}

func TestConfigEnableTransactionsOff(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.EnableTransactions = false })
	e.topic("t", 1, nil)
	s := newSpec(1)
	s.producerID, s.epoch, s.baseSequence, s.transactional = 1, 0, 0, true
	id := "tx"
	req := &wire.ProduceRequest{Version: 9, TransactionalID: &id, Acks: 1, TimeoutMs: 1000, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: s.build(t)}}}}}
	resp, err := e.h.HandleProduce(t.Context(), RequestInfo{}, req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, one(t, resp), errcode.TransactionalIDAuthorizationFailed)
}

func TestConfigRequestTimeoutBoundsWaits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = 30 * time.Millisecond }, WithReplicator(stuckReplicator{isr: 1}))
	e.topic("t", 1, nil)
	req := &wire.ProduceRequest{Version: 9, Acks: -1, TimeoutMs: 60000, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: newSpec(1).build(t)}}}}}
	start := time.Now()
	resp, err := e.h.HandleProduce(t.Context(), RequestInfo{}, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := one(t, resp); got.ErrorCode != errcode.RequestTimedOut || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v, want REQUEST_TIMED_OUT after about 30ms", got.ErrorCode, time.Since(start))
	}
}

func TestConfigMaxDecompressedBatchBytes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxDecompressedBatchBytes = 4096 })
	e.topic("t", 1, nil)
	s := newSpec(8)
	for i := range s.records {
		s.records[i].value = make([]byte, 1000) // 8 KB of zeros compress to little
	}
	s.codec = compress.Zstd
	got := one(t, e.produce(9, 1, pr("t", 0, s.build(t))))
	if got.ErrorCode != errcode.MessageTooLarge {
		t.Fatalf("a batch inflating past MaxDecompressedBatchBytes got %v, want MESSAGE_TOO_LARGE", got.ErrorCode)
	}
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("%d records appended", n)
	}
}

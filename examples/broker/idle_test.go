package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIdleConnectionsClosed: with -connections-max-idle the broker closes
// a connection that sends nothing, and a client whose connection was
// closed while idle produces again on a new one.
func TestIdleConnectionsClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-http", "none", "-data", t.TempDir(), "-storage", "none",
		"-enable-indexing=false", "-connections-max-idle", idle.String()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, cfg)

	c, err := net.Dial("tcp", b.addrs.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("a silent connection was not closed: %v", err)
	}
	if took := time.Since(start); took < idle {
		t.Fatalf("closed after %v, before -connections-max-idle %v", took, idle)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs.Kafka), kgo.DefaultProduceTopic("idle"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(2 * idle) // the client's connections are closed meanwhile
	}
}

package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchMemoryBoundsResponses runs a broker with -fetch-memory 64KiB:
// a fetch asking for 8 MiB gets at most 64 KiB of records (its first
// batch whole even when larger), concurrent fetches never reserve more
// than the budget plus one such first batch, everything is released once
// answered, and a franz-go consumer reads every record through it.
func TestFetchMemoryBoundsResponses(t *testing.T) {
	const budget = 64 << 10
	b := newBroker(t, func(c *config) { c.FetchMemory = budget })
	createTopic(t, b.addrs.Kafka, "fm", 3, nil)
	cl := newKgo(t, b.addrs.Kafka, kgo.DefaultProduceTopic("fm"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := []byte(strings.Repeat("v", 10<<10))
	produced := 0
	for p := int32(0); p < 3; p++ {
		for range 30 {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: p, Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			produced++
		}
	}
	// A batch larger than the budget, last in partition 2.
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: 2, Value: []byte(strings.Repeat("w", 100<<10))}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produced++

	all := func(offset2 int64) *wire.FetchRequest {
		req := fetchRequest(12, "fm", 0, 0, 0)
		req.MaxBytes = 8 << 20
		p := req.Topics[0].Partitions[0]
		p.PartitionMaxBytes = 8 << 20
		ps := []wire.FetchPartition{p, p, p}
		ps[1].Partition, ps[2].Partition, ps[2].FetchOffset = 1, 2, offset2
		req.Topics[0].Partitions = ps
		return req
	}
	records := func(r *wire.FetchResponse) int {
		n := 0
		for _, p := range r.Topics[0].Partitions {
			n += len(p.Records)
		}
		return n
	}
	rc := dialRaw(t, b.addrs.Kafka)
	if n := records(rc.fetch(all(0))); n == 0 || n > budget {
		t.Fatalf("a fetch for 8 MiB returned %d bytes of records with -fetch-memory %d", n, budget)
	}
	// Only the large batch is readable in partition 2 at offset 30: it
	// comes whole, as the first batch of the response.
	req := fetchRequest(12, "fm", 30, 0, 0)
	req.Topics[0].Partitions[0].Partition = 2
	if n := records(rc.fetch(req)); n < 100<<10 {
		t.Fatalf("the first batch, larger than -fetch-memory, came as %d bytes", n)
	}

	// Concurrent fetches share the budget.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, b.addrs.Kafka)
			for range 10 {
				if n := records(c.fetch(all(29))); n == 0 {
					t.Error("a concurrent fetch returned nothing")
					return
				}
			}
		}()
	}
	wg.Wait()
	used, peak := b.cfg.fetchMem.InUse(), b.cfg.fetchMem.Peak()
	if used != 0 || peak > budget+110<<10 {
		t.Fatalf("fetch memory: %d in use after every fetch was answered, peak %d (budget %d plus a 100 KiB first batch)", used, peak, budget)
	}

	// A consumer reads everything, in responses of at most the budget.
	cons := newKgo(t, b.addrs.Kafka, kgo.ConsumeTopics("fm"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(32<<20), kgo.FetchMaxPartitionBytes(8<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := 0
	for got < produced {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, produced, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consume: %v", err) })
		got += fs.NumRecords()
	}
}

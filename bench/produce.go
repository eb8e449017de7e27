package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// spec is what a workload's producers do. Both brokers of a workload are
// driven with the same spec, hence the same kgo settings.
type spec struct {
	ValueSize   int           // bytes of each record's value (the key adds 8)
	Partitions  int32         // partitions of the topic; records go round-robin by record number
	AcksAll     bool          // acks=all with the idempotent producer; otherwise acks=1 without idempotence
	Zstd        bool          // zstd-compressed batches (fastest level); otherwise uncompressed
	Linger      time.Duration // kgo ProducerLinger
	Clients     int           // kgo clients, each with its own connection and one producing goroutine
	MaxRecords  int64         // stop after this many records...
	MaxDuration time.Duration // ...or after this long, whichever comes first
	Rate        float64       // records/s offered by all clients together; 0 = as fast as accepted
	BufferBytes int64         // kgo MaxBufferedBytes per client
	Values      valueKind     // what the values hold
	// OnAck, when set, is called with every acknowledged record (from the
	// client's promise, one call at a time per client): where it was
	// written, its number and when the acknowledgement arrived.
	OnAck func(p int32, offset int64, n uint64, at time.Time)
}

// valueKind is what generated record values hold.
type valueKind int

const (
	valuesLogText    valueKind = iota // windows of log-like JSON text (not valid JSON)
	valuesJSON                        // valid 1 KiB JSON log documents from a pool, cycled
	valuesJSONUnique                  // the same, each with the record number as its "id"
)

// clientOpts are the kgo settings of one producer client for s.
func clientOpts(addr, topic string, s spec) []kgo.Opt {
	codec := kgo.NoCompression()
	if s.Zstd {
		codec = kgo.ZstdCompression().WithLevel(1) // zstd.SpeedFastest
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(s.Linger),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedBytes(int(s.BufferBytes)),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.ProduceRequestTimeout(30 * time.Second),
	}
	if s.AcksAll {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		// Kafka's own producer default of five requests in flight; the
		// idempotent producer uses five as well.
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	return opts
}

// produceResult is what the producers of one run achieved.
type produceResult struct {
	Records int64         // records acknowledged
	Bytes   int64         // key and value bytes acknowledged
	Elapsed time.Duration // from the first Produce call to the last acknowledgement
	Lat     histogram     // Produce call to promise, per record
	Ledger  *ledger       // every acknowledgement, for reconciliation
}

// RecordsPerSec is the acknowledged record rate.
func (r *produceResult) RecordsPerSec() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// MBPerSec is the acknowledged key+value rate in 10^6 bytes per second.
func (r *produceResult) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// clientState is filled by one client's promises, which kgo calls one at a
// time; pending lets the producing goroutine wait for the last of them.
type clientState struct {
	ledger  *ledger
	lat     histogram
	bytes   int64
	last    time.Time
	failed  int64
	err     error
	pending sync.WaitGroup
}

// flushTimeout bounds how long the producers may take to deliver what they
// buffered once the budget is spent.
const flushTimeout = 3 * time.Minute

// produce runs s against the broker at addr: s.Clients kgo clients produce
// generated records to topic until s.MaxRecords or s.MaxDuration, then
// flush. Any record that fails is an error: the run does not count.
func produce(ctx context.Context, addr, topic string, s spec, gen recordGen) (*produceResult, error) {
	clients := make([]*kgo.Client, s.Clients)
	for i := range clients {
		cl, err := kgo.NewClient(clientOpts(addr, topic, s)...)
		if err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("produce: client: %w", err)
		}
		clients[i] = cl
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()

	var issued atomic.Int64
	states := make([]*clientState, s.Clients)
	for i, cl := range clients {
		states[i] = &clientState{ledger: newLedger(s.Partitions)}
		if err := warmUp(ctx, cl, s, gen, &issued, states[i].ledger); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	deadline := start.Add(s.MaxDuration)
	var perClient float64
	if s.Rate > 0 {
		perClient = s.Rate / float64(s.Clients)
	}
	var wg sync.WaitGroup
	flushErrs := make([]error, s.Clients)
	for i, cl := range clients {
		st := states[i]
		promise := func(r *kgo.Record, err error) {
			defer st.pending.Done()
			now := time.Now()
			if err != nil {
				st.failed++
				if st.err == nil {
					st.err = err
				}
				return
			}
			n, _ := keyNumber(r.Key)
			st.ledger.add(r.Partition, r.Offset, n)
			if s.OnAck != nil {
				s.OnAck(r.Partition, r.Offset, n, now)
			}
			st.lat.record(now.Sub(r.Timestamp))
			st.bytes += int64(len(r.Key) + len(r.Value))
			st.last = now
		}
		wg.Add(1)
		go func() { // one per client, owned by produce through wg
			defer wg.Done()
			var keys []byte
			sent := 0
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					break
				}
				if perClient > 0 {
					due := start.Add(time.Duration(float64(sent) / perClient * float64(time.Second)))
					if wait := due.Sub(now); wait > time.Millisecond {
						time.Sleep(wait)
						now = time.Now()
					}
				}
				n := issued.Add(1) - 1
				if n >= s.MaxRecords {
					break
				}
				if len(keys)+keySize > cap(keys) {
					keys = make([]byte, 0, 4096*keySize)
				}
				var key, value []byte
				keys, value = gen.record(keys, uint64(n))
				key = keys[len(keys)-keySize:]
				st.pending.Add(1)
				cl.Produce(ctx, &kgo.Record{
					Key: key, Value: value, Partition: int32(n % int64(s.Partitions)), Timestamp: now,
				}, promise)
				sent++
			}
			fctx, cancel := context.WithTimeout(ctx, flushTimeout)
			defer cancel()
			flushErrs[i] = cl.Flush(fctx)
			st.pending.Wait()
		}()
	}
	wg.Wait()

	res := &produceResult{Ledger: newLedger(s.Partitions)}
	var failed int64
	var firstErr error
	last := start
	for _, st := range states {
		res.Ledger.merge(st.ledger)
		res.Lat.merge(&st.lat)
		res.Bytes += st.bytes
		failed += st.failed
		if firstErr == nil {
			firstErr = st.err
		}
		if st.last.After(last) {
			last = st.last
		}
	}
	res.Records = res.Ledger.count()
	res.Elapsed = last.Sub(start)
	if err := errors.Join(flushErrs...); err != nil {
		return res, fmt.Errorf("produce: flush: %w", err)
	}
	if failed > 0 {
		return res, fmt.Errorf("produce: %d records failed, the first with: %w", failed, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Records == 0 {
		return res, errors.New("produce: no record was acknowledged")
	}
	return res, nil
}

// warmUp produces one record to every partition through cl and waits for
// them, so that connections, metadata and producer ids are set up before
// the clock starts. The records are in the ledger like every other.
func warmUp(ctx context.Context, cl *kgo.Client, s spec, gen recordGen, issued *atomic.Int64, l *ledger) error {
	recs := make([]*kgo.Record, s.Partitions)
	for p := range recs {
		n := uint64(issued.Add(1) - 1)
		key, value := gen.record(nil, n)
		recs[p] = &kgo.Record{Key: key, Value: value, Partition: int32(p)}
	}
	for _, pr := range cl.ProduceSync(ctx, recs...) {
		if pr.Err != nil {
			return fmt.Errorf("produce: warm-up: %w", pr.Err)
		}
		n, _ := keyNumber(pr.Record.Key)
		l.add(pr.Record.Partition, pr.Record.Offset, n)
	}
	return nil
}

// createTopic creates topic with that many partitions (replication 1)
// through the broker's CreateTopics API.
func createTopic(ctx context.Context, addr, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	return nil
}

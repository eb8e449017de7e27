package produce

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
)

func TestProduceAssignsContiguousOffsets(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	for i, n := range []int{3, 1, 5} {
		got := one(t, e.produce(9, -1, pr("t", 0, newSpec(n).build(t))))
		wantCode(t, got, errcode.None)
		want := []int64{0, 3, 4}[i]
		if got.BaseOffset != want || got.LogStartOffset != 0 || got.LogAppendTimeMs != -1 {
			t.Fatalf("batch %d: %+v, want base offset %d, log start 0, append time -1", i, got, want)
		}
	}
	if end := e.logEnd("t", 0); end != 9 {
		t.Fatalf("log end %d, want 9", end)
	}
	batches := e.readAll("t", 0)
	if len(batches) != 3 {
		t.Fatalf("%d batches stored, want 3", len(batches))
	}
	for i, b := range batches {
		h := record.ReadHeader(b)
		if h.BaseOffset != []int64{0, 3, 4}[i] || !record.CRCValid(b) {
			t.Fatalf("stored batch %d: base %d crc ok %v", i, h.BaseOffset, record.CRCValid(b))
		}
	}
	s := e.h.Metrics().Snapshot()
	if s.RecordsProduced != 9 || s.BufferMemoryInUse != 0 {
		t.Fatalf("metrics: %+v", s)
	}
}

func TestStoredBatchIsClientBytesExceptRewrittenFields(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		spec := newSpec(10)
		spec.codec = c
		sent := spec.build(t)
		orig := append([]byte(nil), sent...)
		got := one(t, e.produce(9, 1, pr("t", 0, sent)))
		wantCode(t, got, errcode.None)
		batches := e.readAll("t", 0)
		stored := batches[len(batches)-1]
		// Only baseOffset (bytes 0-7) and the leader epoch (12-15) differ.
		if epoch := int32(binary.BigEndian.Uint32(stored[12:])); epoch != 0 {
			t.Fatalf("%v: stored leader epoch %d, want the partition's (0)", c, epoch)
		}
		if !bytes.Equal(stored[8:12], orig[8:12]) || !bytes.Equal(stored[16:], orig[16:]) {
			t.Fatalf("%v: stored batch differs from the client's beyond the rewritten fields", c)
		}
		if record.ReadHeader(stored).BaseOffset != got.BaseOffset {
			t.Fatalf("%v: stored base offset %d, answered %d", c, record.ReadHeader(stored).BaseOffset, got.BaseOffset)
		}
	}
}

func TestUnknownTopicOrPartition(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 2, nil)
	resp := e.produce(9, 1, pr("nope", 0, newSpec(1).build(t)), pr("t", 2, newSpec(1).build(t)), pr("t", -1, newSpec(1).build(t)), pr("t", 1, newSpec(1).build(t)))
	wantCode(t, resp.Topics[0].Partitions[0], errcode.UnknownTopicOrPartition)
	wantCode(t, resp.Topics[1].Partitions[0], errcode.UnknownTopicOrPartition)
	wantCode(t, resp.Topics[1].Partitions[1], errcode.UnknownTopicOrPartition)
	// The good partition of the same request is written.
	wantCode(t, resp.Topics[1].Partitions[2], errcode.None)
	if p := resp.Topics[1].Partitions[0]; p.LogStartOffset != -1 || p.LogAppendTimeMs != -1 {
		t.Fatalf("request-level error fields: %+v", p)
	}
	if _, ok := e.meta.Topic("nope"); ok {
		t.Fatal("produce created a topic")
	}
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("partition 0 has %d records", n)
	}
}

func TestNotLeader(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.meta.CreateTopic(context.Background(), "t", 2, []int32{1, 7}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.meta.SetLeader(context.Background(), "t", 1, 7); err != nil {
		t.Fatal(err)
	}
	resp := e.produce(9, 1, pr("t", 1, newSpec(1).build(t)), pr("t", 0, newSpec(1).build(t)))
	wantCode(t, resp.Topics[0].Partitions[0], errcode.NotLeaderOrFollower)
	wantCode(t, resp.Topics[0].Partitions[1], errcode.None)
}

func TestInvalidRequiredAcks(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	resp := e.produce(9, 2, pr("t", 0, newSpec(1).build(t)), pr("missing", 0, newSpec(1).build(t)))
	wantCode(t, resp.Topics[0].Partitions[0], errcode.InvalidRequiredAcks)
	// A partition already answered by an earlier check keeps its error.
	wantCode(t, resp.Topics[1].Partitions[0], errcode.UnknownTopicOrPartition)
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("%d records appended", n)
	}
}

// mutate returns a copy of b changed by fn, with the CRC recomputed unless
// keepCRC.
func mutate(b []byte, keepCRC bool, fn func([]byte)) []byte {
	c := append([]byte(nil), b...)
	fn(c)
	if !keepCRC {
		binary.BigEndian.PutUint32(c[17:], crc32.Checksum(c[21:], castagnoliTable))
	}
	return c
}

func TestRecordErrorsForTimestampsAndKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("ts", 1, map[string]string{"message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "60000"})
	e.topic("compacted", 1, map[string]string{"cleanup.policy": "compact"})

	spec := newSpec(4)
	spec.baseTimestamp = time.Now().Add(-time.Hour).UnixMilli()
	spec.records[2].tsDelta = int64(time.Hour / time.Millisecond) // record 2 is "now": fine
	got := one(t, e.produce(8, 1, pr("ts", 0, spec.build(t))))
	wantCode(t, got, errcode.InvalidTimestamp)
	if len(got.RecordErrors) != 3 {
		t.Fatalf("record_errors %+v, want 3 entries", got.RecordErrors)
	}
	for i, idx := range []int32{0, 1, 3} {
		if got.RecordErrors[i].BatchIndex != idx {
			t.Fatalf("record_errors[%d].batch_index = %d, want %d", i, got.RecordErrors[i].BatchIndex, idx)
		}
	}
	if got.ErrorMessage == nil || !strings.Contains(*got.ErrorMessage, "invalid timestamp") {
		t.Fatalf("error_message %v", got.ErrorMessage)
	}
	if got.LogStartOffset != 0 {
		t.Fatalf("log start offset %d, want the real one (0)", got.LogStartOffset)
	}

	keys := newSpec(3)
	keys.records[1].key = nil
	got = one(t, e.produce(9, 1, pr("compacted", 0, keys.build(t))))
	wantCode(t, got, errcode.InvalidRecord)
	if len(got.RecordErrors) != 1 || got.RecordErrors[0].BatchIndex != 1 {
		t.Fatalf("record_errors %+v", got.RecordErrors)
	}
	if e.logEnd("ts", 0) != 0 || e.logEnd("compacted", 0) != 0 {
		t.Fatal("a rejected batch was appended")
	}

	// A client LogAppendTime batch without timestamps is refused on a
	// CreateTime topic (LogValidator: "Producer should not set timestamp
	// type to LogAppendTime")...
	lat := newSpec(2)
	lat.attrsExtra = record.AttrLogAppendTime
	lat.baseTimestamp = -1
	got = one(t, e.produce(9, 1, pr("ts", 0, lat.build(t))))
	wantCode(t, got, errcode.InvalidTimestamp)
	if len(got.RecordErrors) != 2 {
		t.Fatalf("record_errors %+v", got.RecordErrors)
	}
	// ...and any client LogAppendTime batch on a LogAppendTime topic.
	e.topic("lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	lat.baseTimestamp = time.Now().UnixMilli()
	wantCode(t, one(t, e.produce(9, 1, pr("lat", 0, lat.build(t)))), errcode.InvalidTimestamp)
}

func TestLogAppendTimeTopic(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	e := newEnv(t, nil, WithClock(func() time.Time { return now }))
	e.topic("lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	spec := newSpec(3)
	spec.codec = compress.Gzip
	spec.baseTimestamp = 5
	got := one(t, e.produce(9, 1, pr("lat", 0, spec.build(t))))
	wantCode(t, got, errcode.None)
	if got.LogAppendTimeMs != now.UnixMilli() {
		t.Fatalf("log_append_time %d, want %d", got.LogAppendTimeMs, now.UnixMilli())
	}
	b := e.readAll("lat", 0)[0]
	h := record.ReadHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != now.UnixMilli() || !record.CRCValid(b) || h.Codec() != compress.Gzip {
		t.Fatalf("stored header %+v crc ok %v", h, record.CRCValid(b))
	}
}

func TestRecompressionToTopicCodec(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("z", 1, map[string]string{"compression.type": "zstd"})
	e.topic("plain", 1, map[string]string{"compression.type": "uncompressed"})
	spec := newSpec(20)
	spec.codec = compress.Gzip
	for _, tc := range []struct {
		topic string
		want  compress.Codec
	}{{"z", compress.Zstd}, {"plain", compress.None}} {
		wantCode(t, one(t, e.produce(9, 1, pr(tc.topic, 0, spec.build(t)))), errcode.None)
		b := e.readAll(tc.topic, 0)[0]
		h := record.ReadHeader(b)
		if h.Codec() != tc.want || !record.CRCValid(b) || h.NumRecords != 20 || h.ProducerID != -1 {
			t.Fatalf("%s: stored %+v crc ok %v", tc.topic, h, record.CRCValid(b))
		}
		var values [][]byte
		_, err := record.WalkBatch(b, &h, nil, 1<<20, func(i int, r *record.Record) error {
			values = append(values, append([]byte(nil), r.Value...))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			if !bytes.Equal(v, spec.records[i].value) {
				t.Fatalf("%s: record %d value %q, want %q", tc.topic, i, v, spec.records[i].value)
			}
		}
	}
}

func TestInternalTopicNeedsAdminClient(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("__consumer_offsets", 1, nil)
	wantCode(t, one(t, e.produce(9, 1, pr("__consumer_offsets", 0, newSpec(1).build(t)))), errcode.InvalidTopicException)
	req := &wire.ProduceRequest{Version: 9, Acks: 1, TimeoutMs: 1000, Topics: []wire.ProduceTopic{{
		Name: "__consumer_offsets", Partitions: []wire.ProducePartition{{Partition: 0, Records: newSpec(1).build(t)}}}}}
	resp, err := e.h.HandleProduce(context.Background(), RequestInfo{ClientID: "__admin_client"}, req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, one(t, resp), errcode.None)
}

func TestNotEnoughReplicas(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, map[string]string{"min.insync.replicas": "2"})
	wantCode(t, one(t, e.produce(9, -1, pr("t", 0, newSpec(1).build(t)))), errcode.NotEnoughReplicas)
	// acks=1 does not need the in-sync replicas.
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, newSpec(1).build(t)))), errcode.None)
	if n := e.logEnd("t", 0); n != 1 {
		t.Fatalf("log end %d, want 1", n)
	}
}

func TestTransactionalBatchChecks(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 2, nil)
	txn := func(pid int64) []byte {
		s := newSpec(1)
		s.producerID, s.epoch, s.baseSequence, s.transactional = pid, 0, 0, true
		return s.build(t)
	}
	// No transactional id: 53 on every partition, even an unknown one.
	resp := e.produce(9, 1, pr("t", 0, txn(1)), pr("nope", 0, newSpec(1).build(t)))
	wantCode(t, resp.Topics[0].Partitions[0], errcode.TransactionalIDAuthorizationFailed)
	wantCode(t, resp.Topics[1].Partitions[0], errcode.TransactionalIDAuthorizationFailed)
	// Two producer ids in one transactional request: 49.
	id := "tx"
	req := &wire.ProduceRequest{Version: 9, TransactionalID: &id, Acks: 1, TimeoutMs: 1000, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: txn(1)}, {Partition: 1, Records: txn(2)}}}}}
	r, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.Topics[0].Partitions[0], errcode.InvalidProducerIDMapping)
	wantCode(t, r.Topics[0].Partitions[1], errcode.InvalidProducerIDMapping)
	if e.logEnd("t", 0)+e.logEnd("t", 1) != 0 {
		t.Fatal("records appended")
	}
}

// stuckReplicator never replicates.
type stuckReplicator struct{ isr int }

func (s stuckReplicator) InSyncReplicas(string, int32) int { return s.isr }
func (s stuckReplicator) WaitReplicated(ctx context.Context, _ string, _ int32, _ int64) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestAcksAllTimesOutKeepingOffset(t *testing.T) {
	e := newEnv(t, nil, WithReplicator(stuckReplicator{isr: 1}))
	e.topic("t", 1, nil)
	req := &wire.ProduceRequest{Version: 9, Acks: -1, TimeoutMs: 50, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: newSpec(2).build(t)}}}}}
	start := time.Now()
	resp, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
	if err != nil {
		t.Fatal(err)
	}
	got := one(t, resp)
	if got.ErrorCode != errcode.RequestTimedOut || got.BaseOffset != 0 {
		t.Fatalf("got %+v, want REQUEST_TIMED_OUT with the assigned offset 0", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// The data stays in the leader's log, as in Kafka.
	if n := e.logEnd("t", 0); n != 2 {
		t.Fatalf("log end %d, want 2", n)
	}
}

func TestAcksZeroFailureClosesConnection(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	resp := e.produce(9, 0, pr("missing", 0, newSpec(1).build(t)))
	if !Failed(resp) {
		t.Fatal("Failed = false for an unknown topic")
	}
	resp = e.produce(9, 0, pr("t", 0, newSpec(1).build(t)))
	if Failed(resp) {
		t.Fatalf("Failed = true: %+v", resp)
	}
}

func TestConcurrentProducersContiguousOffsets(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BufferMemory = 1 << 20 })
	e.topic("t", 4, nil)
	const workers, perWorker = 8, 40
	var mu sync.Mutex
	seen := map[int32]map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				p := int32((w + i) % 4)
				n := 1 + (w*7+i)%5
				acks := []int16{1, -1}[i%2]
				req := &wire.ProduceRequest{Version: 9, Acks: acks, TimeoutMs: 10000, Topics: []wire.ProduceTopic{{
					Name: "t", Partitions: []wire.ProducePartition{{Partition: p, Records: newSpec(n).build(t)}}}}}
				resp, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
				if err != nil {
					t.Error(err)
					return
				}
				got := resp.Topics[0].Partitions[0]
				if got.ErrorCode != errcode.None {
					t.Errorf("error %v", got.ErrorCode)
					return
				}
				mu.Lock()
				if seen[p] == nil {
					seen[p] = map[int64]int{}
				}
				seen[p][got.BaseOffset] = n
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	total := 0
	for p := int32(0); p < 4; p++ {
		next := int64(0)
		for len(seen[p]) > 0 {
			n, ok := seen[p][next]
			if !ok {
				t.Fatalf("partition %d: no batch at offset %d", p, next)
			}
			delete(seen[p], next)
			next += int64(n)
			total += n
		}
		if end := e.logEnd("t", p); end != next {
			t.Fatalf("partition %d: log end %d, acknowledged up to %d", p, end, next)
		}
		if got := len(e.readAll("t", p)); got == 0 {
			t.Fatalf("partition %d: nothing read back", p)
		}
	}
	if s := e.h.Metrics().Snapshot(); s.BufferMemoryInUse != 0 || s.RecordsProduced != int64(total) {
		t.Fatalf("metrics after the race: %+v (total %d)", s, total)
	}
}

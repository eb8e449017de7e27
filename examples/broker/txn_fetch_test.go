package main

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// openTestBroker opens a broker's components without listeners, so a test
// can call its dispatcher and its handler directly.
func openTestBroker(t *testing.T) *broker {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	b, err := open(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	b.advertised = hostPort{Host: "127.0.0.1", Port: 9092}
	t.Cleanup(func() {
		if err := b.close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// call dispatches one request body and returns the response body (after
// its header).
func (b *broker) call(t *testing.T, key, version int16, body []byte) []byte {
	t.Helper()
	hdr := wire.RequestHeader{APIKey: key, APIVersion: version, CorrelationID: 7}
	r, err := b.dispatch(context.Background(), hdr, body)
	if err != nil {
		t.Fatalf("%s v%d: %v", wire.APIName(key), version, err)
	}
	resp, _ := r.Wait(context.Background())
	_, out, err := wire.ParseResponseHeader(resp, wire.ResponseHeaderFlexible(key, version))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// produceBatch sends one batch of n records through Produce v9.
func (b *broker) produceBatch(t *testing.T, topic string, txnID *string, pid int64, seq int32, n int) int64 {
	t.Helper()
	bld := record.NewBuilder()
	bld.ProducerID, bld.ProducerEpoch, bld.BaseSequence, bld.Transactional = pid, 0, seq, txnID != nil
	if pid < 0 {
		bld.ProducerEpoch, bld.BaseSequence = -1, -1
	}
	for i := 0; i < n; i++ {
		bld.Append(time.Now().UnixMilli(), []byte("k"), []byte("v"))
	}
	batch, err := bld.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &wire.ProduceRequest{Version: 9, TransactionalID: txnID, Acks: -1, TimeoutMs: 10000,
		Topics: []wire.ProduceTopic{{Name: topic, Partitions: []wire.ProducePartition{{Partition: 0, Records: batch}}}}}
	resp, err := wire.DecodeProduceResponse(9, b.call(t, 0, 9, req.AppendTo(nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != errcode.None {
		t.Fatalf("produce: %s", p.ErrorCode)
	}
	return p.BaseOffset
}

func (b *broker) fetchOnce(t *testing.T, topic string, isolation int8) wire.FetchPartitionResponse {
	t.Helper()
	req := fetchRequest(12, topic, 0, 0, 0)
	req.IsolationLevel = isolation
	resp, err := wire.DecodeFetchResponse(12, b.call(t, 1, 12, req.AppendTo(nil)))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func (b *broker) latest(t *testing.T, topic string, isolation int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.SetVersion(7)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.SetVersion(7)
	if err := resp.ReadFrom(b.call(t, 2, 7, req.AppendTo(nil))); err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].Offset
}

// TestReadCommittedFetch: an open transaction holds read_committed fetches
// and ListOffsets at its first offset (the LSO); once it is aborted they
// read everything, with the aborted transaction listed so consumers drop
// its records.
func TestReadCommittedFetch(t *testing.T) {
	b := openTestBroker(t)
	if _, err := b.meta.CreateTopic(context.Background(), "tx", 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	pid, err := b.pids.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	txnID := "t1"
	if off := b.produceBatch(t, "tx", &txnID, pid, 0, 3); off != 0 {
		t.Fatalf("transactional batch at %d", off)
	}
	if off := b.produceBatch(t, "tx", nil, -1, -1, 2); off != 3 {
		t.Fatalf("plain batch at %d", off)
	}

	p := b.fetchOnce(t, "tx", wire.ReadCommitted)
	if p.HighWatermark != 5 || p.LastStableOffset != 0 || len(p.Records) != 0 || p.AbortedTransactions == nil {
		t.Fatalf("read_committed with the transaction open: %+v", p)
	}
	if p := b.fetchOnce(t, "tx", wire.ReadUncommitted); p.LastStableOffset != 0 || batchesEnd(p.Records) != 5 || p.AbortedTransactions != nil {
		t.Fatalf("read_uncommitted: lso %d, data to %d, aborted %v", p.LastStableOffset, batchesEnd(p.Records), p.AbortedTransactions)
	}
	if got := b.latest(t, "tx", 1); got != 0 {
		t.Fatalf("latest read_committed %d, want the LSO 0", got)
	}
	if got := b.latest(t, "tx", 0); got != 5 {
		t.Fatalf("latest read_uncommitted %d, want 5", got)
	}

	if err := b.handler.WriteMarker(context.Background(), "tx", 0, pid, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	p = b.fetchOnce(t, "tx", wire.ReadCommitted)
	if p.HighWatermark != 6 || p.LastStableOffset != 6 || batchesEnd(p.Records) != 6 {
		t.Fatalf("after abort: hw %d lso %d data to %d", p.HighWatermark, p.LastStableOffset, batchesEnd(p.Records))
	}
	if len(p.AbortedTransactions) != 1 || p.AbortedTransactions[0] != (wire.AbortedTransaction{ProducerID: pid, FirstOffset: 0}) {
		t.Fatalf("aborted transactions %+v, want producer %d from offset 0", p.AbortedTransactions, pid)
	}
	if got := b.latest(t, "tx", 1); got != 6 {
		t.Fatalf("latest read_committed after abort %d, want 6", got)
	}
}

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
func openTestBroker(t testing.TB) *broker {
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
func (b *broker) call(t testing.TB, key, version int16, body []byte) []byte {
	t.Helper()
	hdr := wire.RequestHeader{APIKey: key, APIVersion: version, CorrelationID: 7}
	r, err := b.dispatch(context.Background(), "/127.0.0.1", hdr, body)
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
func (b *broker) produceBatch(t testing.TB, topic string, txnID *string, pid int64, seq int32, n int) int64 {
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

// beginTxn initialises transactional id txnID (epoch 0 for a new id)
// through InitProducerId and adds topic/partition to its transaction with
// AddPartitionsToTxn, as a client does before producing; it returns the
// producer id.
func (b *broker) beginTxn(t testing.TB, txnID, topic string, partition int32) int64 {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = &txnID, 60000
	init.SetVersion(4)
	ir := init.ResponseKind().(*kmsg.InitProducerIDResponse)
	if err := ir.ReadFrom(b.call(t, 22, 4, init.AppendTo(nil))); err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v, %+v", err, ir)
	}
	b.addTxnPartition(t, txnID, ir.ProducerID, ir.ProducerEpoch, topic, partition)
	return ir.ProducerID
}

// addTxnPartition adds topic/partition to the transaction with
// AddPartitionsToTxn v3.
func (b *broker) addTxnPartition(t testing.TB, txnID string, pid int64, epoch int16, topic string, partition int32) {
	t.Helper()
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = txnID, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	add.Topics = append(add.Topics, rt)
	add.SetVersion(3)
	ar := add.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if err := ar.ReadFrom(b.call(t, 24, 3, add.AppendTo(nil))); err != nil || ar.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AddPartitionsToTxn: %v, %+v", err, ar)
	}
}

// endTxn1 sends EndTxn v3 and returns its code.
func (b *broker) endTxn1(t testing.TB, txnID string, pid int64, epoch int16, commit bool) errcode.Code {
	t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	req.SetVersion(3)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if err := resp.ReadFrom(b.call(t, 26, 3, req.AppendTo(nil))); err != nil {
		t.Fatal(err)
	}
	return errcode.Code(resp.ErrorCode)
}

func (b *broker) fetchOnce(t testing.TB, topic string, isolation int8) wire.FetchPartitionResponse {
	t.Helper()
	req := fetchRequest(12, topic, 0, 0, 0)
	req.IsolationLevel = isolation
	resp, err := wire.DecodeFetchResponse(12, b.call(t, 1, 12, req.AppendTo(nil)))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func (b *broker) latest(t testing.TB, topic string, isolation int8) int64 {
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
// and ListOffsets at its first offset (the LSO); once it is aborted
// (EndTxn, which answers after the ABORT marker is durable) they read
// everything, with the aborted transaction listed so consumers drop its
// records.
func TestReadCommittedFetch(t *testing.T) {
	b := openTestBroker(t)
	if _, err := b.meta.CreateTopic(context.Background(), "tx", 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	txnID := "t1"
	pid := b.beginTxn(t, txnID, "tx", 0)
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

	if code := b.endTxn1(t, txnID, pid, 0, false); code != errcode.None {
		t.Fatalf("EndTxn(abort): %s", code)
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

package main

import (
	"context"
	"slices"
	"testing"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/wire"
)

// BenchmarkGroupRebalance measures the group coordinator's state machine
// alone: ten members join an empty group (initial delay 0), the join phase
// completes, the leader's SyncGroup hands each member its assignment,
// which is checked, and all leave, emptying the group for the next round.
func BenchmarkGroupRebalance(b *testing.B) {
	const members = 10
	clock := &fakeClock{}
	gc := newGroupCoordinator(groupConfig{MinSession: testSession, MaxSession: testSession, Now: clock.Now})
	defer gc.close()
	b.ReportAllocs()
	const group = "bench"
	for i := 0; i < b.N; i++ {
		gen := int32(2*i + 1) // each round: a generation for the join, one for emptying
		var chs []<-chan joinResult
		for m := 0; m < members; m++ {
			chs = append(chs, gc.join(joinReq(group, "", "range")))
		}
		gc.tick() // the initial delay (0) ends; members after the first extend it once (by 0)
		gc.tick()
		var leader joinResult
		ids := make([]string, members)
		for m, ch := range chs {
			r := <-ch
			if r.Code != errcode.None || r.Generation != gen {
				b.Fatalf("join: %+v", r)
			}
			ids[m] = r.MemberID
			if r.Leader == r.MemberID {
				leader = r
			}
		}
		assign := make(map[string][]byte, members)
		for _, m := range leader.Members {
			assign[m.ID] = []byte(m.ID)
		}
		var syncs []<-chan syncResult
		for _, id := range ids {
			if id != leader.MemberID {
				syncs = append(syncs, gc.sync(syncRequest{Group: group, MemberID: id, Generation: gen}))
			}
		}
		lead := gc.sync(syncRequest{Group: group, MemberID: leader.MemberID, Generation: gen, Assignments: assign})
		if r := <-lead; string(r.Assignment) != leader.MemberID {
			b.Fatalf("leader's assignment %q", r.Assignment)
		}
		for _, ch := range syncs {
			if r := <-ch; r.Code != errcode.None || len(r.Assignment) == 0 {
				b.Fatalf("sync: %+v", r)
			}
		}
		if _, codes := gc.leave(group, ids); slices.ContainsFunc(codes, func(c errcode.Code) bool { return c != errcode.None }) {
			b.Fatalf("leave: %v", codes)
		}
	}
}

// BenchmarkTransactionCommit measures one transaction through the
// broker's dispatcher, in process (no network): AddPartitionsToTxn, a
// Produce v9 of ten records with acks=all, and EndTxn(commit), which
// answers once the COMMIT marker is durable. Every transaction's state
// change is a bbolt write and the data and the marker are fsynced, so
// this is bound by the disk. Afterwards read_committed sees every record.
func BenchmarkTransactionCommit(b *testing.B) {
	br := openTestBroker(b)
	if _, err := br.meta.CreateTopic(context.Background(), "bench-txn", 1, nil, nil); err != nil {
		b.Fatal(err)
	}
	const perTxn = 10
	txnID := "bench"
	pid := br.beginTxn(b, txnID, "bench-txn", 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			br.addTxnPartition(b, txnID, pid, 0, "bench-txn", 0)
		}
		br.produceBatch(b, "bench-txn", &txnID, pid, int32(i*perTxn), perTxn)
		if code := br.endTxn1(b, txnID, pid, 0, true); code != errcode.None {
			b.Fatalf("EndTxn %d: %s", i, code)
		}
	}
	b.StopTimer()
	hw := br.latest(b, "bench-txn", wire.ReadUncommitted)
	if lso := br.latest(b, "bench-txn", wire.ReadCommitted); lso != hw || hw != int64(b.N*(perTxn+1)) {
		b.Fatalf("after %d transactions: LSO %d, high watermark %d, want both %d", b.N, lso, hw, b.N*(perTxn+1))
	}
	b.ReportMetric(float64(b.N*perTxn)/b.Elapsed().Seconds(), "records/s")
}

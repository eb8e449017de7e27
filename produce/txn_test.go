package produce

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/txn"
	"github.com/chronik-go/chronik/wire"
)

func txnBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	s := newSpec(n)
	s.producerID, s.epoch, s.baseSequence, s.transactional = pid, epoch, seq, true
	return s.build(t)
}

func (e *env) produceTxn(id string, records []byte) wire.ProducePartitionResponse {
	e.t.Helper()
	req := &wire.ProduceRequest{Version: 9, TransactionalID: &id, Acks: -1, TimeoutMs: 5000, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: records}}}}}
	resp, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return one(e.t, resp)
}

func (e *env) lso() int64 {
	e.t.Helper()
	lso, err := e.h.LastStableOffset("t", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return lso
}

func TestTransactionsBoundTheLastStableOffset(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	ctx := context.Background()
	wantCode(t, one(t, e.produce(9, -1, pr("t", 0, newSpec(2).build(t)))), errcode.None) // offsets 0-1
	wantCode(t, e.produceTxn("a", txnBatch(t, 10, 0, 0, 3)), errcode.None)               // 2-4, open
	wantCode(t, one(t, e.produce(9, -1, pr("t", 0, newSpec(1).build(t)))), errcode.None) // 5
	if lso := e.lso(); lso != 2 {
		t.Fatalf("LSO with an open transaction from offset 2 = %d", lso)
	}
	// A non-transactional batch from the producer while its transaction is open: 48.
	wantCode(t, one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 10, 0, 3, 1)))), errcode.InvalidTxnState)

	if err := e.h.WriteMarker(ctx, "t", 0, 10, 0, 0, false); err != nil { // abort at 6
		t.Fatal(err)
	}
	if lso := e.lso(); lso != 7 {
		t.Fatalf("LSO after the abort = %d, want 7", lso)
	}
	ab, err := e.h.AbortedTransactions("t", 0, 0, 7)
	if err != nil || len(ab) != 1 || ab[0] != (AbortedTxn{ProducerID: 10, FirstOffset: 2, MarkerOffset: 6}) {
		t.Fatalf("aborted = %+v, %v", ab, err)
	}
	if ab, _ := e.h.AbortedTransactions("t", 0, 7, 10); len(ab) != 0 {
		t.Fatalf("fetch after the marker lists %+v", ab)
	}
	// A marker from an older epoch is fenced.
	var ce *errcode.Error
	if err := e.h.WriteMarker(ctx, "t", 0, 10, -1, 0, true); !errors.As(err, &ce) || ce.Code != errcode.InvalidProducerEpoch {
		t.Fatalf("stale marker: %v", err)
	}

	// A second transaction stays open across a restart.
	wantCode(t, e.produceTxn("a", txnBatch(t, 10, 0, 3, 2)), errcode.None) // 7-8
	e.reopen(nil)
	if lso := e.lso(); lso != 7 {
		t.Fatalf("LSO after restart = %d, want 7 (open transaction)", lso)
	}
	if err := e.h.WriteMarker(ctx, "t", 0, 10, 0, 0, true); err != nil { // commit at 9
		t.Fatal(err)
	}
	if lso := e.lso(); lso != 10 {
		t.Fatalf("LSO after commit = %d, want 10", lso)
	}
	// The aborted index survives restarts and is rebuilt when lost.
	for _, lose := range []bool{false, true} {
		if lose {
			if err := os.Remove(filepath.Join(e.dir, "t-0", txnIndexName)); err != nil {
				t.Fatal(err)
			}
		}
		e.reopen(nil)
		ab, err := e.h.AbortedTransactions("t", 0, 0, 100)
		if err != nil || len(ab) != 1 || ab[0].MarkerOffset != 6 {
			t.Fatalf("lost index %v: aborted after restart = %+v, %v", lose, ab, err)
		}
	}
}

type fakeVerifier struct{ code errcode.Code }

// The coordinator is the real verifier.
var _ TxnVerifier = (*txn.Coordinator)(nil)

func (f fakeVerifier) Verify(string, int64, int16, string, int32) errcode.Code { return f.code }

func TestTransactionVerification(t *testing.T) {
	e := newEnv(t, nil, WithTxnVerifier(fakeVerifier{errcode.InvalidTxnState}))
	e.topic("t", 1, nil)
	got := e.produceTxn("a", txnBatch(t, 10, 0, 0, 1))
	wantCode(t, got, errcode.InvalidTxnState)
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("an unverified transactional batch was appended: log end %d", n)
	}
	ok := newEnv(t, nil, WithTxnVerifier(fakeVerifier{errcode.None}))
	ok.topic("t", 1, nil)
	wantCode(t, ok.produceTxn("a", txnBatch(t, 10, 0, 0, 1)), errcode.None)
}

package txn

import (
	"sync"
	"testing"

	"github.com/chronik-go/chronik/errcode"
)

// twoCoordinators starts two coordinators on one bolt store, both having
// loaded the state setup left.
func twoCoordinators(t *testing.T, setup func(a *env)) (a, b *env) {
	t.Helper()
	store := &hookStore{Store: openStore(t, "bolt")}
	clk := newClock()
	a = newEnvOn(t, store, clk, nil)
	if setup != nil {
		setup(a)
	}
	b = newEnvOn(t, store, clk, nil)
	if a.c.CoordinatorEpoch() == b.c.CoordinatorEpoch() {
		t.Fatal("two coordinators with one coordinator epoch")
	}
	return a, b
}

// Two coordinators end the same transaction at once, one with commit, one
// with abort: exactly one wins, and every marker written agrees with it.
func TestSharedStoreEndRace(t *testing.T) {
	for round := range 10 {
		var c client
		a, b := twoCoordinators(t, func(a *env) { c = ongoing(a) })
		var wg sync.WaitGroup
		var codeA, codeB errcode.Code
		wg.Add(2)
		go func() { defer wg.Done(); codeA, _, _ = a.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, true) }()
		go func() { defer wg.Done(); codeB, _, _ = b.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, false) }()
		wg.Wait()
		// The loser reloads and finds the winner's Prepare or Complete
		// state: INVALID_TXN_STATE.
		var commit bool
		switch {
		case codeA == errcode.None && codeB == errcode.InvalidTxnState:
			commit = true
		case codeB == errcode.None && codeA == errcode.InvalidTxnState:
			commit = false
		default:
			t.Fatalf("round %d: commit = %v, abort = %v", round, codeA, codeB)
		}
		want := CompleteAbort
		if commit {
			want = CompleteCommit
		}
		a.waitState("tx", want)
		for _, m := range append(a.markers.written(), b.markers.written()...) {
			if m.commit != commit || m.epoch != c.epoch {
				t.Fatalf("round %d: marker %+v after the %v won", round, m, want)
			}
		}
		a.c.Close()
		b.c.Close()
	}
}

// Epoch bumps from two coordinators never get lost: every successful
// InitProducerId returns a distinct epoch and the stored one is the last.
func TestSharedStoreInitRace(t *testing.T) {
	a, b := twoCoordinators(t, func(a *env) { a.init("tx") })
	const perSide = 15
	var mu sync.Mutex
	epochs := map[int16]bool{}
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perSide; {
				_, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1)
				switch code {
				case errcode.None:
					mu.Lock()
					if epochs[ep] {
						mu.Unlock()
						t.Errorf("epoch %d handed out twice", ep)
						return
					}
					epochs[ep] = true
					mu.Unlock()
					n++
				case errcode.ConcurrentTransactions:
				default:
					t.Errorf("InitProducerID = %v", code)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if r := a.stored("tx"); r.epoch != 2*perSide {
		t.Fatalf("stored epoch %d after %d bumps from epoch 0", r.epoch, 2*perSide)
	}
}

// A coordinator with a stale view cannot overwrite a newer record: its
// compare-and-swap fails, it reloads and decides on the new state.
func TestSharedStoreStaleView(t *testing.T) {
	var c client
	a, b := twoCoordinators(t, func(a *env) { c = empty(a) })
	a.add("tx", c.pid, c.epoch, 0) // b still believes Empty
	// b's AddPartitions must keep a's partition: reload, then union.
	if res := b.c.AddPartitions(bg, 3, "tx", c.pid, c.epoch, map[string][]int32{"t": {1}}); res["t"][1] != errcode.None {
		t.Fatal(res)
	}
	if r := a.stored("tx"); len(r.partitions["t"]) != 2 {
		t.Fatalf("stored %+v: a lost update", r)
	}
	// b bumps the epoch; a, stale, fences nobody by mistake: its
	// EndTxn with the old epoch reloads and is fenced itself.
	if _, _, code := b.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.ConcurrentTransactions {
		t.Fatalf("InitProducerID on b = %v", code)
	}
	b.waitState("tx", CompleteAbort)
	if code, _, _ := a.c.EndTxn(bg, 3, "tx", c.pid, c.epoch, true); code != errcode.ProducerFenced {
		t.Fatalf("EndTxn on stale a = %v", code)
	}
	if r := a.stored("tx"); r.state != CompleteAbort || r.epoch != c.epoch+1 {
		t.Fatalf("stored %+v", r)
	}
}

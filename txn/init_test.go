package txn

import (
	"context"
	"testing"

	"github.com/chronik-go/chronik/errcode"
)

// initResult is what InitProducerID returns.
type initResult struct {
	pid   int64
	epoch int16
	code  errcode.Code
}

func TestInitProducerIDIdempotent(t *testing.T) {
	e := newEnv(t, "memory", nil)
	seen := map[int64]bool{}
	for v := int16(0); v <= MaxInitProducerIDVersion; v++ {
		// The KIP-360 fields are ignored without a transactional id.
		pid, epoch, code := e.c.InitProducerID(bg, v, nil, 0, 77, 3)
		if code != errcode.None || epoch != 0 || pid < 0 || seen[pid] {
			t.Fatalf("v%d: InitProducerID(nil) = %d, %d, %v", v, pid, epoch, code)
		}
		seen[pid] = true
	}
	if pid, epoch, code := e.c.InitProducerID(bg, MaxInitProducerIDVersion+1, nil, 0, -1, -1); code != errcode.UnsupportedVersion || pid != -1 || epoch != -1 {
		t.Fatalf("v6 = %d, %d, %v", pid, epoch, code)
	}
}

// TestInitProducerIDStates covers kafka-semantics.md §4.2 case by case:
// each sets up a state, sends one InitProducerId and checks the answer and
// the stored record.
func TestInitProducerIDStates(t *testing.T) {
	cases := []struct {
		name    string
		version int16
		// setup puts "tx" in a state; it returns the producer id and epoch
		// the client holds.
		setup func(e *env) (int64, int16)
		// request builds the request fields from what the client holds.
		id        *string
		timeoutMs int32
		expect    func(pid int64, epoch int16) (int64, int16) // KIP-360 fields; nil: -1, -1
		check     func(t *testing.T, e *env, pid int64, epoch int16, got initResult)
	}{
		{
			name: "empty id", version: 4, id: ptr(""), timeoutMs: 1000,
			check: wantCode(errcode.InvalidRequest),
		},
		{
			name: "zero timeout", version: 4, id: ptr("tx"), timeoutMs: 0,
			check: wantCode(errcode.InvalidTransactionTimeout),
		},
		{
			name: "negative timeout", version: 4, id: ptr("tx"), timeoutMs: -5,
			check: wantCode(errcode.InvalidTransactionTimeout),
		},
		{
			name: "timeout above transaction.max.timeout.ms", version: 4, id: ptr("tx"), timeoutMs: 900001,
			check: wantCode(errcode.InvalidTransactionTimeout),
		},
		{
			name: "only the producer id given", version: 4, id: ptr("tx"), timeoutMs: 1000,
			expect: func(int64, int16) (int64, int16) { return 5, -1 },
			check:  wantCode(errcode.InvalidRequest),
		},
		{
			name: "only the epoch given", version: 4, id: ptr("tx"), timeoutMs: 1000,
			expect: func(int64, int16) (int64, int16) { return -1, 5 },
			check:  wantCode(errcode.InvalidRequest),
		},
		{
			name: "unsupported version", version: 6, id: ptr("tx"), timeoutMs: 1000,
			check: wantCode(errcode.UnsupportedVersion),
		},
		{
			name: "unknown id: new producer id at epoch 0", version: 4, id: ptr("tx"), timeoutMs: 1234,
			check: func(t *testing.T, e *env, _ int64, _ int16, got initResult) {
				if got.code != errcode.None || got.epoch != 0 || got.pid < 0 {
					t.Fatalf("got %+v", got)
				}
				r := e.stored("tx")
				if r.state != Empty || r.producerID != got.pid || r.epoch != 0 || r.timeoutMs != 1234 || r.startMs != -1 {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "unknown id with KIP-360 fields (migrating from idempotent)", version: 4, id: ptr("tx"), timeoutMs: 1000,
			expect: func(int64, int16) (int64, int16) { return 42, 7 },
			check: func(t *testing.T, e *env, _ int64, _ int16, got initResult) {
				if got.code != errcode.None || got.epoch != 0 {
					t.Fatalf("got %+v", got)
				}
			},
		},
		{
			name: "Empty: epoch+1", version: 4, id: ptr("tx"), timeoutMs: 2000,
			setup: func(e *env) (int64, int16) { return e.init("tx") },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{pid, epoch + 1, errcode.None}) {
					t.Fatalf("got %+v", got)
				}
				if r := e.stored("tx"); r.state != Empty || r.epoch != epoch+1 || r.lastEpoch != -1 || r.timeoutMs != 2000 {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "Empty, expected epoch current: epoch+1, last epoch kept", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup:  func(e *env) (int64, int16) { return e.init("tx") },
			expect: func(pid int64, epoch int16) (int64, int16) { return pid, epoch },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{pid, epoch + 1, errcode.None}) {
					t.Fatalf("got %+v", got)
				}
				if r := e.stored("tx"); r.epoch != epoch+1 || r.lastEpoch != epoch {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "Empty, expected epoch = last epoch: a retry, same epoch", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := e.init("tx")
				if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, pid, epoch); code != errcode.None {
					t.Fatal(code)
				}
				return pid, epoch // the client never saw the bump
			},
			expect: func(pid int64, epoch int16) (int64, int16) { return pid, epoch },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{pid, epoch + 1, errcode.None}) {
					t.Fatalf("got %+v", got)
				}
				if r := e.stored("tx"); r.epoch != epoch+1 {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "Empty, expected epoch stale: PRODUCER_FENCED", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				e.init("tx")
				e.init("tx")
				return e.init("tx")
			},
			expect: func(pid int64, epoch int16) (int64, int16) { return pid, epoch - 2 },
			check:  wantStored(errcode.ProducerFenced, Empty),
		},
		{
			name: "v3 maps PRODUCER_FENCED to INVALID_PRODUCER_EPOCH", version: 3, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				e.init("tx")
				e.init("tx")
				return e.init("tx")
			},
			expect: func(pid int64, epoch int16) (int64, int16) { return pid, epoch - 2 },
			check:  wantStored(errcode.InvalidProducerEpoch, Empty),
		},
		{
			name: "expected producer id of someone else: PRODUCER_FENCED", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup:  func(e *env) (int64, int16) { return e.init("tx") },
			expect: func(pid int64, epoch int16) (int64, int16) { return pid + 1000, epoch },
			check:  wantStored(errcode.ProducerFenced, Empty),
		},
		{
			name: "Ongoing: fenced, aborted with epoch+1, CONCURRENT_TRANSACTIONS", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) { return e.begin("tx", 0, 1) },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{-1, -1, errcode.ConcurrentTransactions}) {
					t.Fatalf("got %+v", got)
				}
				r := e.waitState("tx", CompleteAbort)
				if r.epoch != epoch+1 || r.producerID != pid {
					t.Fatalf("stored %+v", r)
				}
				for _, m := range e.markers.written() {
					if m.commit || m.epoch != epoch+1 || m.producerID != pid {
						t.Fatalf("marker %+v", m)
					}
				}
				if n := len(e.markers.written()); n != 2 {
					t.Fatalf("%d markers, want 2", n)
				}
				// The retry bumps once more.
				if p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); p != pid || ep != epoch+2 || code != errcode.None {
					t.Fatalf("retry = %d, %d, %v", p, ep, code)
				}
				// The fenced producer cannot end its transaction.
				if code, _, _ := e.c.EndTxn(bg, 3, "tx", pid, epoch, true); code != errcode.ProducerFenced {
					t.Fatalf("EndTxn of the fenced producer = %v", code)
				}
			},
		},
		{
			name: "PrepareCommit: CONCURRENT_TRANSACTIONS", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := e.begin("tx", 0)
				e.prepare("tx", pid, epoch, true)
				return pid, epoch
			},
			check: wantStored(errcode.ConcurrentTransactions, PrepareCommit),
		},
		{
			name: "PrepareAbort: CONCURRENT_TRANSACTIONS", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := e.begin("tx", 0)
				e.prepare("tx", pid, epoch, false)
				return pid, epoch
			},
			check: wantStored(errcode.ConcurrentTransactions, PrepareAbort),
		},
		{
			name: "CompleteCommit: epoch+1 and Empty", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := e.begin("tx", 0)
				e.end("tx", pid, epoch, true, errcode.None)
				return pid, epoch
			},
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{pid, epoch + 1, errcode.None}) {
					t.Fatalf("got %+v", got)
				}
				if r := e.stored("tx"); r.state != Empty || r.epoch != epoch+1 {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "CompleteAbort: epoch+1 and Empty", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := e.begin("tx", 0)
				e.end("tx", pid, epoch, false, errcode.None)
				return pid, epoch
			},
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got != (initResult{pid, epoch + 1, errcode.None}) {
					t.Fatalf("got %+v", got)
				}
			},
		},
		{
			name: "exhausted epoch: new producer id at epoch 0", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) { return putRecord(e, "tx", Empty, 500, exhaustedEpoch) },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got.code != errcode.None || got.epoch != 0 || got.pid == pid || got.pid < 0 {
					t.Fatalf("got %+v", got)
				}
				if r := e.stored("tx"); r.producerID != got.pid || r.lastPID != pid || r.lastEpoch != -1 {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "exhausted epoch named by the client: rotation, then its retry gets the same answer", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup:  func(e *env) (int64, int16) { return putRecord(e, "tx", CompleteCommit, 500, exhaustedEpoch) },
			expect: func(pid int64, epoch int16) (int64, int16) { return pid, epoch },
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got.code != errcode.None || got.epoch != 0 || got.pid == pid {
					t.Fatalf("got %+v", got)
				}
				r := e.stored("tx")
				if r.lastPID != pid || r.lastEpoch != exhaustedEpoch {
					t.Fatalf("stored %+v", r)
				}
				p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, pid, epoch)
				if p != got.pid || ep != 0 || code != errcode.None {
					t.Fatalf("retry = %d, %d, %v", p, ep, code)
				}
			},
		},
		{
			name: "fence that exhausts the epoch: the retry rotates the producer id", version: 4, id: ptr("tx"), timeoutMs: 1000,
			setup: func(e *env) (int64, int16) {
				pid, epoch := putRecord(e, "tx", Ongoing, 500, exhaustedEpoch-1)
				return pid, epoch
			},
			check: func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
				if got.code != errcode.ConcurrentTransactions {
					t.Fatalf("got %+v", got)
				}
				if r := e.waitState("tx", CompleteAbort); r.epoch != exhaustedEpoch {
					t.Fatalf("stored %+v", r)
				}
				p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1)
				if code != errcode.None || p == pid || ep != 0 {
					t.Fatalf("retry = %d, %d, %v", p, ep, code)
				}
			},
		},
	}
	for _, kind := range storeKinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, kind, nil)
				pid, epoch := int64(-1), int16(-1)
				if tc.setup != nil {
					pid, epoch = tc.setup(e)
				}
				ep, ee := int64(-1), int16(-1)
				if tc.expect != nil {
					ep, ee = tc.expect(pid, epoch)
				}
				var got initResult
				got.pid, got.epoch, got.code = e.c.InitProducerID(bg, tc.version, tc.id, tc.timeoutMs, ep, ee)
				tc.check(t, e, pid, epoch, got)
			})
		}
	}
}

// wantCode checks the answer is an error with no producer id.
func wantCode(code errcode.Code) func(*testing.T, *env, int64, int16, initResult) {
	return func(t *testing.T, e *env, _ int64, _ int16, got initResult) {
		t.Helper()
		if got.code != code || got.pid != -1 || got.epoch != -1 {
			t.Fatalf("got %+v, want %v", got, code)
		}
		if r := e.stored("tx"); r != nil {
			t.Fatalf("a record was stored: %+v", r)
		}
	}
}

// wantStored checks the answer is an error and the stored state and epoch
// did not change.
func wantStored(code errcode.Code, state State) func(*testing.T, *env, int64, int16, initResult) {
	return func(t *testing.T, e *env, pid int64, epoch int16, got initResult) {
		t.Helper()
		if got.code != code || got.pid != -1 || got.epoch != -1 {
			t.Fatalf("got %+v, want %v", got, code)
		}
		if r := e.stored("tx"); r == nil || r.state != state || r.producerID != pid || r.epoch != epoch {
			t.Fatalf("stored %+v, want %v at %d/%d", r, state, pid, epoch)
		}
	}
}

// putRecord stores a record for id directly (as a previous coordinator
// would have) and restarts the coordinator so that it loads it.
func putRecord(e *env, id string, state State, pid int64, epoch int16) (int64, int16) {
	e.t.Helper()
	r := &record{state: state, producerID: pid, epoch: epoch, lastPID: pid, lastEpoch: -1, timeoutMs: 60000,
		startMs: -1, updateMs: e.clock.Now().UnixMilli()}
	if state == Ongoing {
		r.startMs = r.updateMs
		r.partitions = map[string][]int32{"t": {0}}
	}
	raw, err := encodeRecord(r)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Store.Put(bg, namespaceTxn, id, raw); err != nil {
		e.t.Fatal(err)
	}
	e.restart()
	return pid, epoch
}

// A transition in flight answers CONCURRENT_TRANSACTIONS to every request
// of the id, and Verify treats a pending end as retriable.
func TestPendingTransition(t *testing.T) {
	e := newEnv(t, "memory", nil)
	pid, epoch := e.begin("tx", 0)
	entered, release := e.holdTxnWrites()
	defer release()
	done := make(chan errcode.Code, 1)
	go func() {
		code, _, _ := e.c.EndTxn(bg, 3, "tx", pid, epoch, true)
		done <- code
	}()
	<-entered
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.ConcurrentTransactions {
		t.Errorf("InitProducerID = %v", code)
	}
	if res := e.c.AddPartitions(bg, 3, "tx", pid, epoch, map[string][]int32{"t": {1}}); res["t"][1] != errcode.ConcurrentTransactions {
		t.Errorf("AddPartitions = %v", res)
	}
	if code := e.c.AddOffsets(bg, 3, "tx", pid, epoch, "g"); code != errcode.ConcurrentTransactions {
		t.Errorf("AddOffsets = %v", code)
	}
	if code, _, _ := e.c.EndTxn(bg, 3, "tx", pid, epoch, true); code != errcode.ConcurrentTransactions {
		t.Errorf("EndTxn = %v", code)
	}
	if code := e.c.Verify("tx", pid, epoch, "t", 0); code != errcode.NotEnoughReplicas {
		t.Errorf("Verify = %v", code)
	}
	// Epoch checks come before the pending check, as in Kafka.
	if code, _, _ := e.c.EndTxn(bg, 3, "tx", pid, epoch+1, true); code != errcode.ProducerFenced {
		t.Errorf("EndTxn with another epoch = %v", code)
	}
	release()
	if code := <-done; code != errcode.None {
		t.Fatalf("EndTxn = %v", code)
	}
	if r := e.stored("tx"); r.state != CompleteCommit {
		t.Fatalf("stored %+v", r)
	}
}

// A store that fails or is closed: the request fails with the mapped code
// and nothing changes.
func TestInitProducerIDStoreFailure(t *testing.T) {
	e := newEnv(t, "memory", nil)
	pid, epoch := e.init("tx")
	e.store.setHook(func(string, string, []byte) error { return errInjected })
	if p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.CoordinatorNotAvailable || p != -1 || ep != -1 {
		t.Fatalf("InitProducerID = %d, %d, %v", p, ep, code)
	}
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("new"), 1000, -1, -1); code != errcode.CoordinatorNotAvailable {
		t.Fatalf("InitProducerID(new) = %v", code)
	}
	if r := e.stored("tx"); r.epoch != epoch || r.producerID != pid {
		t.Fatalf("stored %+v", r)
	}
	if _, ok := e.c.Describe("new"); ok {
		t.Fatal("a failed creation left state behind")
	}
	e.store.setHook(nil)
	if p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.None || p != pid || ep != epoch+1 {
		t.Fatalf("after recovery = %d, %d, %v", p, ep, code)
	}
	// A cancelled request context.
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, _, code := e.c.InitProducerID(ctx, 4, ptr("tx"), 1000, -1, -1); code != errcode.CoordinatorNotAvailable {
		t.Fatalf("cancelled = %v", code)
	}
	e.c.Close()
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.NotCoordinator {
		t.Fatalf("after Close = %v", code)
	}
	if _, _, code := e.c.InitProducerID(bg, 4, nil, 0, -1, -1); code != errcode.NotCoordinator {
		t.Fatalf("idempotent after Close = %v", code)
	}
}

func TestInitProducerIDClosedStore(t *testing.T) {
	e := newEnv(t, "memory", nil)
	e.init("tx")
	e.store.Store.Close()
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.NotCoordinator {
		t.Fatalf("closed store = %v", code)
	}
	// No block of producer ids reserved yet: the allocation fails as
	// Kafka's does while the next block has not arrived.
	e2 := newEnv(t, "memory", nil)
	e2.store.Store.Close()
	if _, _, code := e2.c.InitProducerID(bg, 4, nil, 0, -1, -1); code != errcode.CoordinatorLoadInProgress {
		t.Fatalf("idempotent with a closed store = %v", code)
	}
	if _, _, code := e2.c.InitProducerID(bg, 4, ptr("other"), 1000, -1, -1); code != errcode.NotCoordinator {
		t.Fatalf("new id with a closed store = %v", code)
	}
}

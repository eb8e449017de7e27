package txn

import (
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// fastCleanup runs the cleanup goroutine every few milliseconds; what it
// does depends only on the fake clock.
func fastCleanup(o *Options) {
	o.AbortTimedOutInterval = 2 * time.Millisecond
	o.ExpirationCheckInterval = 2 * time.Millisecond
}

// An Ongoing transaction older than its timeout is fenced and aborted, so
// it cannot hold back the last stable offset; the producer is fenced.
func TestTimeoutAbort(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, fastCleanup)
			pid, epoch, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1)
			if code != errcode.None {
				t.Fatal(code)
			}
			e.add("tx", pid, epoch, 0, 1)
			e.clock.Advance(999 * time.Millisecond)
			time.Sleep(20 * time.Millisecond) // several cleanup rounds
			if r := e.stored("tx"); r.state != Ongoing {
				t.Fatalf("aborted before its timeout: %+v", r)
			}
			e.clock.Advance(2 * time.Millisecond)
			r := e.waitState("tx", CompleteAbort)
			if r.producerID != pid || r.epoch != epoch+1 {
				t.Fatalf("stored %+v, want epoch %d", r, epoch+1)
			}
			got := e.markers.written()
			if len(got) != 2 {
				t.Fatalf("%d markers, want 2", len(got))
			}
			for _, m := range got {
				if m.commit || m.epoch != epoch+1 || m.producerID != pid {
					t.Fatalf("marker %+v", m)
				}
			}
			// The old producer is fenced everywhere.
			if code, _, _ := e.c.EndTxn(bg, 1, "tx", pid, epoch, true); code != errcode.InvalidProducerEpoch {
				t.Fatalf("EndTxn v1 = %v", code)
			}
			if res := e.c.AddPartitions(bg, 3, "tx", pid, epoch, map[string][]int32{"t": {2}}); res["t"][2] != errcode.ProducerFenced {
				t.Fatalf("AddPartitions = %v", res)
			}
			if code := e.c.Verify("tx", pid, epoch, "t", 0); code != errcode.InvalidProducerEpoch {
				t.Fatalf("Verify = %v", code)
			}
			// A new session gets the next epoch.
			if p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, pid, epoch); code != errcode.ProducerFenced {
				t.Fatalf("InitProducerID with the fenced epoch = %d, %d, %v", p, ep, code)
			}
			if p, ep, code := e.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.None || p != pid || ep != epoch+2 {
				t.Fatalf("InitProducerID = %d, %d, %v", p, ep, code)
			}
		})
	}
}

// Transactions that are not Ongoing, or have a transition in flight, are
// not aborted by the timeout.
func TestTimeoutLeavesOthers(t *testing.T) {
	e := newEnv(t, "memory", fastCleanup)
	e.init("empty")
	c := ongoing(e)
	e.prepare("tx", c.pid, c.epoch, true)
	e.clock.Advance(time.Hour)
	time.Sleep(20 * time.Millisecond)
	if r := e.stored("tx"); r.state != PrepareCommit || r.epoch != c.epoch {
		t.Fatalf("stored %+v", r)
	}
	if r := e.stored("empty"); r.state != Empty {
		t.Fatalf("stored %+v", r)
	}
	e.releaseMarkers()
	e.waitState("tx", CompleteCommit)
}

// Transactional ids idle for longer than TransactionalIDExpiration are
// removed; their next InitProducerId starts afresh. Ongoing ones are not.
func TestTransactionalIDExpiry(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, func(o *Options) {
				o.ExpirationCheckInterval = 2 * time.Millisecond
				o.AbortTimedOutInterval = time.Hour // keep the Ongoing one Ongoing
				o.TransactionalIDExpiration = 24 * time.Hour
			})
			pid, _ := e.init("idle")
			e.begin("busy", 0)
			done, _ := e.init("done")
			e.add("done", done, 0, 0)
			e.end("done", done, 0, true, errcode.None)
			e.clock.Advance(24*time.Hour - time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			if e.stored("idle") == nil || e.stored("done") == nil {
				t.Fatal("expired too early")
			}
			e.clock.Advance(time.Millisecond)
			// The store forgets an id a moment before the coordinator's
			// memory does (the removal is stored first): wait for both.
			described := func(id string) bool { _, ok := e.c.Describe(id); return ok }
			deadline := time.Now().Add(10 * time.Second)
			for e.stored("idle") != nil || e.stored("done") != nil || described("idle") || described("done") {
				if time.Now().After(deadline) {
					t.Fatalf("not expired: stored %v %v, described %v %v", e.stored("idle") != nil, e.stored("done") != nil, described("idle"), described("done"))
				}
				time.Sleep(time.Millisecond)
			}
			if r := e.stored("busy"); r == nil || r.state != Ongoing {
				t.Fatalf("Ongoing transaction expired: %+v", r)
			}
			if !described("busy") {
				t.Fatal("the Ongoing transaction is no longer described")
			}
			p, ep, code := e.c.InitProducerID(bg, 4, ptr("idle"), 1000, -1, -1)
			if code != errcode.None || p == pid || ep != 0 {
				t.Fatalf("InitProducerID after expiry = %d, %d, %v", p, ep, code)
			}
		})
	}
}

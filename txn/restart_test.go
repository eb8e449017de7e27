package txn

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// boltEnv is an env on a bolt file that can be closed and reopened, as a
// process restart does.
type boltEnv struct {
	*env
	path string
}

func newBoltEnv(t *testing.T, tweak func(*Options)) *boltEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := metadata.OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &boltEnv{env: newEnvOn(t, &hookStore{Store: s}, newClock(), tweak), path: path}
	t.Cleanup(func() { b.store.Store.Close() })
	return b
}

// reopen closes the coordinator and the file, then opens both again.
func (b *boltEnv) reopen() {
	b.t.Helper()
	b.c.Close()
	if err := b.store.Store.Close(); err != nil {
		b.t.Fatal(err)
	}
	s, err := metadata.OpenBolt(b.path, 1)
	if err != nil {
		b.t.Fatal(err)
	}
	b.store = &hookStore{Store: s}
	b.markers = newFakeMarkers()
	b.start()
}

// TestRestartInEveryState stops the coordinator with the transaction in
// each state, reopens the store, and checks what the new coordinator does:
// Prepare states are completed (markers written again, with the new
// coordinator epoch), Ongoing is aborted once its timeout passes, the
// others stay and carry on.
func TestRestartInEveryState(t *testing.T) {
	type setupFn func(b *boltEnv) client
	cases := []struct {
		name  string
		setup setupFn
		check func(t *testing.T, b *boltEnv, c client, oldEpoch int32)
	}{
		{
			name:  "Empty",
			setup: func(b *boltEnv) client { return empty(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, _ int32) {
				if r := b.stored("tx"); r.state != Empty {
					t.Fatalf("stored %+v", r)
				}
				if p, ep, code := b.c.InitProducerID(bg, 4, ptr("tx"), 1000, c.pid, c.epoch); code != errcode.None || p != c.pid || ep != c.epoch+1 {
					t.Fatalf("InitProducerID = %d, %d, %v", p, ep, code)
				}
			},
		},
		{
			name:  "Ongoing",
			setup: func(b *boltEnv) client { return ongoing(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, _ int32) {
				// Still usable until its timeout.
				if code := b.c.Verify("tx", c.pid, c.epoch, "t", 1); code != errcode.None {
					t.Fatalf("Verify = %v", code)
				}
				b.clock.Advance(61 * time.Second)
				r := b.waitState("tx", CompleteAbort)
				if r.epoch != c.epoch+1 {
					t.Fatalf("stored %+v", r)
				}
				if n := len(b.markers.written()); n != 3 {
					t.Fatalf("%d markers, want 3", n)
				}
			},
		},
		{
			name:  "PrepareCommit",
			setup: func(b *boltEnv) client { return prepared(true)(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, oldEpoch int32) {
				b.waitState("tx", CompleteCommit)
				checkMarkers(t, b, c, true, oldEpoch)
				b.end("tx", c.pid, c.epoch, true, errcode.None) // the client's retry
			},
		},
		{
			name:  "PrepareAbort",
			setup: func(b *boltEnv) client { return prepared(false)(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, oldEpoch int32) {
				b.waitState("tx", CompleteAbort)
				checkMarkers(t, b, c, false, oldEpoch)
				b.end("tx", c.pid, c.epoch, false, errcode.None)
			},
		},
		{
			name: "PrepareAbort after a fence (PrepareEpochFence is never stored)",
			setup: func(b *boltEnv) client {
				c := ongoing(b.env)
				b.markers.set(func(f *fakeMarkers) { f.hold = make(chan struct{}) })
				if _, _, code := b.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.ConcurrentTransactions {
					b.t.Fatal(code)
				}
				if r := b.stored("tx"); r.state != PrepareAbort || r.epoch != c.epoch+1 {
					b.t.Fatalf("stored %+v", r)
				}
				return client{c.pid, c.epoch + 1}
			},
			check: func(t *testing.T, b *boltEnv, c client, oldEpoch int32) {
				b.waitState("tx", CompleteAbort)
				checkMarkers(t, b, c, false, oldEpoch)
				if p, ep, code := b.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.None || p != c.pid || ep != c.epoch+1 {
					t.Fatalf("InitProducerID = %d, %d, %v", p, ep, code)
				}
			},
		},
		{
			name:  "CompleteCommit",
			setup: func(b *boltEnv) client { return ended(true)(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, _ int32) {
				b.end("tx", c.pid, c.epoch, true, errcode.None)
				if n := len(b.markers.written()); n != 0 {
					t.Fatalf("%d markers rewritten", n)
				}
				b.add("tx", c.pid, c.epoch, 3)
				if r := b.stored("tx"); r.state != Ongoing {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name:  "CompleteAbort",
			setup: func(b *boltEnv) client { return ended(false)(b.env) },
			check: func(t *testing.T, b *boltEnv, c client, _ int32) {
				b.end("tx", c.pid, c.epoch, false, errcode.None)
				b.end("tx", c.pid, c.epoch, true, errcode.InvalidTxnState)
			},
		},
		{
			name: "Dead (expired)",
			setup: func(b *boltEnv) client {
				c := empty(b.env)
				b.clock.Advance(8 * 24 * time.Hour)
				b.c.expireIDs()
				if b.stored("tx") != nil {
					b.t.Fatal("not expired")
				}
				return c
			},
			check: func(t *testing.T, b *boltEnv, c client, _ int32) {
				if _, ok := b.c.Describe("tx"); ok {
					t.Fatal("expired id loaded")
				}
				if p, ep, code := b.c.InitProducerID(bg, 4, ptr("tx"), 1000, -1, -1); code != errcode.None || p == c.pid || ep != 0 {
					t.Fatalf("InitProducerID = %d, %d, %v", p, ep, code)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoltEnv(t, fastCleanup)
			c := tc.setup(b)
			oldEpoch := b.c.CoordinatorEpoch()
			b.reopen()
			if b.c.CoordinatorEpoch() != oldEpoch+1 {
				t.Fatalf("coordinator epoch %d after %d", b.c.CoordinatorEpoch(), oldEpoch)
			}
			tc.check(t, b, c, oldEpoch)
		})
	}
}

// checkMarkers checks every partition got exactly one marker of the right
// kind from the new coordinator.
func checkMarkers(t *testing.T, b *boltEnv, c client, commit bool, oldEpoch int32) {
	t.Helper()
	got := b.markers.written()
	if len(got) != 3 {
		t.Fatalf("%d markers after restart, want 3", len(got))
	}
	for _, m := range got {
		if m.commit != commit || m.producerID != c.pid || m.epoch != c.epoch || m.coordinatorEpoch != oldEpoch+1 {
			t.Fatalf("marker %+v", m)
		}
	}
}

// A corrupt transaction record fails New with a CorruptError naming it.
func TestNewCorruptRecord(t *testing.T) {
	s := metadata.NewMemory(1)
	defer s.Close()
	if err := s.Put(bg, namespaceTxn, "bad", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	_, err := New(s, newIDs(s), newFakeMarkers(), Options{})
	ce, ok := err.(*CorruptError)
	if !ok || ce.Key != "bad" || ce.Namespace != namespaceTxn {
		t.Fatalf("New = %v", err)
	}
}

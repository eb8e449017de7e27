package idempotence

import (
	"errors"
	"math"
	"testing"

	"github.com/chronik-go/chronik/errcode"
)

func batch(pid int64, epoch int16, seq int32, n int32) Batch {
	last := seq + n - 1
	if seq > math.MaxInt32-(n-1) {
		last = n - 1 - (math.MaxInt32 - seq) - 1
	}
	return Batch{ProducerID: pid, Epoch: epoch, BaseSequence: seq, LastSequence: last, OffsetDelta: n - 1, MaxTimestamp: 1000}
}

// write checks and applies b at offset, failing the test on any verdict
// other than "append".
func write(t *testing.T, s *State, b Batch, offset int64) {
	t.Helper()
	if v := s.Check(b); v.Code != errcode.None || v.Duplicate {
		t.Fatalf("Check(%+v) = %+v, want append", b, v)
	}
	s.Apply(b, offset)
}

func TestSequenceRules(t *testing.T) {
	s := New()
	write(t, s, batch(7, 0, 0, 3), 0)  // seq 0-2 at offsets 0-2
	write(t, s, batch(7, 0, 3, 2), 10) // seq 3-4 at offsets 10-11

	cases := []struct {
		name string
		b    Batch
		code errcode.Code
		dup  bool
		orig int64
	}{
		{"duplicate of the first batch", batch(7, 0, 0, 3), errcode.None, true, 0},
		{"duplicate of the second batch", batch(7, 0, 3, 2), errcode.None, true, 10},
		{"next in sequence", batch(7, 0, 5, 1), errcode.None, false, 0},
		{"gap", batch(7, 0, 6, 1), errcode.OutOfOrderSequenceNumber, false, 0},
		{"overlap but not an exact match", batch(7, 0, 3, 1), errcode.OutOfOrderSequenceNumber, false, 0},
		{"older epoch", batch(7, -1, 5, 1), errcode.InvalidProducerEpoch, false, 0},
		{"older epoch, duplicate sequence", batch(7, -1, 0, 3), errcode.InvalidProducerEpoch, false, 0},
		{"new epoch must start at 0", batch(7, 1, 5, 1), errcode.OutOfOrderSequenceNumber, false, 0},
		{"new epoch at 0", batch(7, 1, 0, 1), errcode.None, false, 0},
		{"unknown producer any sequence", batch(8, 0, 42, 1), errcode.None, false, 0},
	}
	for _, tc := range cases {
		v := s.Check(tc.b)
		if v.Code != tc.code || v.Duplicate != tc.dup {
			t.Errorf("%s: Check = %+v, want code %v dup %v", tc.name, v, tc.code, tc.dup)
			continue
		}
		if tc.dup && v.Original.FirstOffset != tc.orig {
			t.Errorf("%s: original offset %d, want %d", tc.name, v.Original.FirstOffset, tc.orig)
		}
	}
}

func TestCacheKeepsFiveBatches(t *testing.T) {
	s := New()
	for i := int32(0); i < 7; i++ {
		write(t, s, batch(1, 0, i, 1), int64(i))
	}
	// Batches 2..6 are cached; 0 and 1 fell out, so their retry is 45.
	for i := int32(0); i < 7; i++ {
		v := s.Check(batch(1, 0, i, 1))
		if i < 2 {
			if v.Code != errcode.OutOfOrderSequenceNumber {
				t.Errorf("retry of evicted batch %d: %+v, want OUT_OF_ORDER", i, v)
			}
		} else if !v.Duplicate || v.Original.FirstOffset != int64(i) {
			t.Errorf("retry of cached batch %d: %+v", i, v)
		}
	}
}

func TestSequenceWrap(t *testing.T) {
	s := New()
	write(t, s, batch(1, 0, math.MaxInt32-1, 2), 0) // MaxInt32-1, MaxInt32
	write(t, s, batch(1, 0, 0, 1), 2)               // wraps to 0
	if v := s.Check(batch(1, 0, 1, 3)); v.Code != errcode.None || v.Duplicate {
		t.Fatalf("after wrap: %+v", v)
	}
	// A batch that straddles the wrap.
	s2 := New()
	b := batch(2, 0, math.MaxInt32, 3) // MaxInt32, 0, 1
	if b.LastSequence != 1 {
		t.Fatalf("LastSequence = %d, want 1", b.LastSequence)
	}
	write(t, s2, b, 0)
	if v := s2.Check(batch(2, 0, 2, 1)); v.Code != errcode.None {
		t.Fatalf("after straddling batch: %+v", v)
	}
}

func TestEpochBumpClearsCache(t *testing.T) {
	s := New()
	write(t, s, batch(1, 0, 0, 1), 0)
	write(t, s, batch(1, 1, 0, 1), 1)
	if v := s.Check(batch(1, 0, 0, 1)); v.Code != errcode.InvalidProducerEpoch {
		t.Fatalf("old-epoch retry: %+v", v)
	}
	e, _ := s.Entry(1)
	if e.Epoch != 1 || len(e.Batches) != 1 || e.Batches[0].FirstOffset != 1 {
		t.Fatalf("entry after bump: %+v", e)
	}
}

func TestTransactionConsistencyAndMarkers(t *testing.T) {
	s := New()
	tb := batch(5, 0, 0, 2)
	tb.Transactional = true
	write(t, s, tb, 100)
	if v := s.Check(batch(5, 0, 2, 1)); v.Code != errcode.InvalidTxnState {
		t.Fatalf("non-transactional batch in open txn: %+v", v)
	}
	if open := s.OpenTransactions(); len(open) != 1 || open[0].TxnFirstOffset != 100 {
		t.Fatalf("open txns: %+v", open)
	}
	if v := s.CheckMarker(5, -1, 0); v.Code != errcode.InvalidProducerEpoch {
		t.Fatalf("stale marker: %+v", v)
	}
	c, ok := s.ApplyMarker(5, 1, 3, 102, 2000, false)
	if !ok || c.FirstOffset != 100 || c.MarkerOffset != 102 || !c.Aborted {
		t.Fatalf("ApplyMarker = %+v %v", c, ok)
	}
	if v := s.CheckMarker(5, 1, 2); v.Code != errcode.TransactionCoordinatorFenced {
		t.Fatalf("older coordinator epoch: %+v", v)
	}
	// The marker bumped the epoch: the next batch must start at 0.
	if v := s.Check(batch(5, 1, 2, 1)); v.Code != errcode.OutOfOrderSequenceNumber {
		t.Fatalf("after bumping marker, seq 2: %+v", v)
	}
	if v := s.Check(batch(5, 1, 0, 1)); v.Code != errcode.None {
		t.Fatalf("after bumping marker, seq 0: %+v", v)
	}
}

func TestExpire(t *testing.T) {
	s := New()
	old := batch(1, 0, 0, 1)
	old.MaxTimestamp = 100
	s.Apply(old, 0)
	fresh := batch(2, 0, 0, 1)
	fresh.MaxTimestamp = 5000
	s.Apply(fresh, 1)
	txn := batch(3, 0, 0, 1)
	txn.MaxTimestamp = 100
	txn.Transactional = true
	s.Apply(txn, 2)
	if n := s.Expire(1000); n != 1 {
		t.Fatalf("Expire removed %d, want 1", n)
	}
	if _, ok := s.Entry(1); ok {
		t.Fatal("idle producer survived expiry")
	}
	if _, ok := s.Entry(3); !ok {
		t.Fatal("producer with an open transaction expired")
	}
	// An expired producer is unknown again: any sequence is accepted.
	if v := s.Check(batch(1, 0, 77, 1)); v.Code != errcode.None || v.Duplicate {
		t.Fatalf("after expiry: %+v", v)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := New()
	for i := int32(0); i < 6; i++ {
		s.Apply(batch(1, 3, i*2, 2), int64(i)*10)
	}
	tb := batch(9, 0, 0, 1)
	tb.Transactional = true
	s.Apply(tb, 77)
	s.ApplyMarker(4, 2, 5, 80, 1234, true)
	b := s.AppendSnapshot(nil, 99)
	got, off, err := LoadSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if off != 99 {
		t.Fatalf("offset %d", off)
	}
	want := s.Producers()
	have := got.Producers()
	if len(want) != len(have) {
		t.Fatalf("%d producers, want %d", len(have), len(want))
	}
	for i := range want {
		w, h := want[i], have[i]
		if w.ProducerID != h.ProducerID || w.Epoch != h.Epoch || w.CoordinatorEpoch != h.CoordinatorEpoch ||
			w.LastTimestamp != h.LastTimestamp || w.TxnFirstOffset != h.TxnFirstOffset || len(w.Batches) != len(h.Batches) {
			t.Fatalf("entry %d: got %+v want %+v", i, h, w)
		}
		for k := range w.Batches {
			if w.Batches[k] != h.Batches[k] {
				t.Fatalf("entry %d batch %d: got %+v want %+v", i, k, h.Batches[k], w.Batches[k])
			}
		}
	}
	// Every cached batch is still a duplicate after the round trip.
	if v := got.Check(batch(1, 3, 2, 2)); !v.Duplicate || v.Original.FirstOffset != 10 {
		t.Fatalf("duplicate after reload: %+v", v)
	}
	// Damage anywhere is detected.
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, _, err := LoadSnapshot(c); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("flipped byte %d: err = %v", i, err)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, _, err := LoadSnapshot(b[:n]); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
}

func FuzzLoadSnapshot(f *testing.F) {
	s := New()
	s.Apply(batch(1, 0, 0, 3), 0)
	f.Add(s.AppendSnapshot(nil, 3))
	f.Add([]byte("CKPS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, off, err := LoadSnapshot(b)
		if err != nil {
			return
		}
		again := st.AppendSnapshot(nil, off)
		st2, off2, err := LoadSnapshot(again)
		if err != nil || off2 != off || st2.Len() != st.Len() {
			t.Fatalf("re-encoded snapshot does not load: %v", err)
		}
	})
}

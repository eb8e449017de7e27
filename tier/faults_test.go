package tier

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/faultstore"
)

// TestArchiveUnderFaults archives through a store that fails 30% of the
// uploads outright, breaks or loses the answer of more, stalls calls and
// breaks reads. The caller retries Archive, as the segment log does; every
// segment ends up archived, and nothing read back is ever wrong.
func TestArchiveUnderFaults(t *testing.T) {
	tl := buildLog(t, 600, 200, 8<<10)
	inner := storage.NewMemory()
	defer inner.Close()
	fs := faultstore.New(inner, faultstore.Options{
		Seed:           20240611,
		PutFailRate:    0.3,
		PartialPutRate: 0.1,
		LostAckRate:    0.1,
		GetFailRate:    0.1,
		ReadFailRate:   0.1,
		ListFailRate:   0.1,
		StallRate:      0.05,
		Stall:          3 * time.Millisecond,
	})
	a := New(fs, "f/", fastOptions)
	ctx := context.Background()
	failures := 0
	for _, seg := range tl.segs {
		for attempt := 1; ; attempt++ {
			err := a.Archive(ctx, seg)
			if err == nil {
				break
			}
			if !errors.Is(err, faultstore.ErrInjected) {
				t.Fatalf("Archive(%d) failed with a fault the store did not inject: %v", seg.BaseOffset, err)
			}
			failures++
			if attempt == 50 {
				t.Fatalf("Archive(%d) still failing after %d attempts: %v", seg.BaseOffset, attempt, err)
			}
		}
	}
	c := fs.Counters()
	t.Logf("%d segments, %d failed Archive calls; faults: %+v", len(tl.segs), failures, c)
	if failures == 0 || c.FailedPuts == 0 || c.Stalls == 0 {
		t.Fatalf("the fault store injected too little to test anything: %+v", c)
	}

	// Every object in the inner store is whole: a fresh Archiver over the
	// fault-free store reads everything back.
	checkTier(t, New(inner, "f/", fastOptions), tl)

	// Reads through the faulty store either fail or return the right bytes.
	reader := New(fs, "f/", Options{ReadRetries: -1}) // no retries: see raw faults
	var readErrs, reads int
	for round := range 3 {
		for _, seg := range tl.segs {
			for off := seg.BaseOffset; off < seg.NextOffset; off += 3 {
				got, err := reader.Read(ctx, seg.Remote(), off, 1+round*500)
				reads++
				if err != nil {
					readErrs++
					continue
				}
				want := tl.batchAt(off).stored()
				if !bytes.HasPrefix(got, want) {
					t.Fatalf("a read through the faulty store returned wrong bytes at offset %d", off)
				}
			}
		}
	}
	if readErrs == 0 || readErrs == reads {
		t.Fatalf("%d of %d reads failed; want some failures and some successes", readErrs, reads)
	}
	// With retries every read succeeds despite the faults.
	retrying := New(fs, "f/", fastOptions)
	for _, seg := range tl.segs {
		got, err := retrying.Read(ctx, seg.Remote(), seg.BaseOffset, 1<<30)
		if err != nil {
			t.Fatalf("Read(%d) with retries: %v", seg.BaseOffset, err)
		}
		if !bytes.Equal(got, tl.logBytes(t, seg)) {
			t.Fatalf("Read(%d) with retries returned wrong bytes", seg.BaseOffset)
		}
	}
}

// TestLostAckNeedsNoReupload: an upload that landed but whose answer was
// lost fails Archive; the retry finds the object and does not upload again.
func TestLostAckNeedsNoReupload(t *testing.T) {
	tl := buildLog(t, 50, 200, 1<<20)
	inner := &countingStore{ObjectStore: storage.NewMemory()}
	defer inner.Close()
	fs := faultstore.New(inner, faultstore.Options{Seed: 1, LostAckRate: 1})
	a := New(fs, "p/", fastOptions)
	seg := tl.segs[0]
	if err := a.Archive(context.Background(), seg); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("Archive with a lost answer: %v; want ErrInjected", err)
	}
	if inner.puts.Load() != 1 {
		t.Fatalf("%d uploads; want 1", inner.puts.Load())
	}
	fs.SetEnabled(false)
	if err := a.Archive(context.Background(), seg); err != nil {
		t.Fatalf("retried Archive: %v", err)
	}
	if inner.puts.Load() != 1 {
		t.Fatalf("the retry uploaded the segment again")
	}
	for _, s := range tl.segs[1:] {
		if err := a.Archive(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	checkTier(t, New(inner, "p/", fastOptions), tl)
}

// TestPartialUploadLeavesNothing: an upload broken half way leaves no
// object, and Segments does not list the segment.
func TestPartialUploadLeavesNothing(t *testing.T) {
	tl := buildLog(t, 50, 200, 1<<20)
	inner := storage.NewMemory()
	defer inner.Close()
	fs := faultstore.New(inner, faultstore.Options{Seed: 1, PartialPutRate: 1})
	a := New(fs, "p/", fastOptions)
	if err := a.Archive(context.Background(), tl.segs[0]); err == nil {
		t.Fatalf("Archive through a broken upload succeeded")
	}
	segs, err := a.Segments(context.Background())
	if err != nil || len(segs) != 0 {
		t.Fatalf("after a broken upload Segments = %+v, %v; want none", segs, err)
	}
}

package faultstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/faultstore"
	"github.com/chronik-go/chronik/storage/storagetest"
)

// With no faults configured the wrapper must be a conforming store itself.
func TestConformanceWithoutFaults(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore {
		return faultstore.New(storage.NewMemory(), faultstore.Options{Seed: 1})
	})
}

func openBlobMem(t *testing.T) storage.ObjectStore {
	s, err := storage.OpenBlob(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exists(t *testing.T, s storage.ObjectStore, key string) ([]byte, bool) {
	t.Helper()
	rc, err := s.Get(context.Background(), key, 0, -1)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b, true
}

func TestPutFaults(t *testing.T) {
	for _, inner := range []struct {
		name string
		open func(t *testing.T) storage.ObjectStore
	}{
		{"memory", func(*testing.T) storage.ObjectStore { return storage.NewMemory() }},
		{"blob-mem", openBlobMem},
	} {
		t.Run(inner.name, func(t *testing.T) {
			in := inner.open(t)
			defer in.Close()
			fs := faultstore.New(in, faultstore.Options{Seed: 42, PutFailRate: 0.2, PartialPutRate: 0.2, LostAckRate: 0.2})
			const n = 500
			failed := 0
			for i := range n {
				key := fmt.Sprintf("k/%03d", i)
				data := bytes.Repeat([]byte{byte(i)}, 1000+i)
				err := fs.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)))
				got, ok := exists(t, in, key)
				switch {
				case err == nil:
					if !ok || !bytes.Equal(got, data) {
						t.Fatalf("Put(%q) succeeded but the inner store holds %d bytes (present %v)", key, len(got), ok)
					}
				case !errors.Is(err, faultstore.ErrInjected):
					t.Fatalf("Put(%q): %v; want ErrInjected", key, err)
				default:
					failed++
					// A failed Put leaves nothing, or the whole object when only
					// the answer was lost: never a part.
					if ok && !bytes.Equal(got, data) {
						t.Fatalf("failed Put(%q) left %d bytes of %d", key, len(got), len(data))
					}
				}
			}
			c := fs.Counters()
			if c.Puts != n || c.FailedPuts+c.PartialPuts+c.LostAcks != int64(failed) {
				t.Fatalf("counters %+v do not match %d puts with %d failures", c, n, failed)
			}
			// 1 - 0.8^3 = 48.8% of Puts fail; allow a wide band.
			if failed < n*35/100 || failed > n*62/100 {
				t.Fatalf("%d of %d Puts failed; want about 49%%", failed, n)
			}
			for _, v := range []int64{c.FailedPuts, c.PartialPuts, c.LostAcks} {
				if v == 0 {
					t.Fatalf("a fault kind never fired: %+v", c)
				}
			}
		})
	}
}

func TestPartialPutNeverVisible(t *testing.T) {
	in := storage.NewMemory()
	defer in.Close()
	fs := faultstore.New(in, faultstore.Options{Seed: 7, PartialPutRate: 1})
	ctx := context.Background()
	if err := in.Put(ctx, "k", bytes.NewReader([]byte("old")), 3); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	if err := fs.Put(ctx, "k", bytes.NewReader(data), int64(len(data))); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("partial Put: %v; want ErrInjected", err)
	}
	if got, _ := exists(t, in, "k"); string(got) != "old" {
		t.Fatalf("after a partial upload the key holds %d bytes; want the previous object", len(got))
	}
	if c := fs.Counters(); c.PartialPuts != 1 {
		t.Fatalf("PartialPuts = %d; want 1", c.PartialPuts)
	}
}

func TestGetFaults(t *testing.T) {
	in := storage.NewMemory()
	defer in.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100)
	if err := in.Put(ctx, "k", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	fs := faultstore.New(in, faultstore.Options{Seed: 3, GetFailRate: 0.3, ReadFailRate: 0.3})
	var openFailed, readFailed, ok int
	for range 300 {
		rc, err := fs.Get(ctx, "k", 100, 500)
		if err != nil {
			if !errors.Is(err, faultstore.ErrInjected) {
				t.Fatalf("Get: %v", err)
			}
			openFailed++
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		switch {
		case errors.Is(err, faultstore.ErrInjected):
			readFailed++
			if !bytes.Equal(b, data[100:100+len(b)]) || len(b) != 250 {
				t.Fatalf("broken read delivered %d bytes that are not the start of the range", len(b))
			}
		case err != nil:
			t.Fatalf("read: %v", err)
		default:
			ok++
			if !bytes.Equal(b, data[100:600]) {
				t.Fatalf("a successful read returned wrong bytes")
			}
		}
	}
	c := fs.Counters()
	if int64(openFailed) != c.FailedGets || int64(readFailed) != c.FailedReads || openFailed == 0 || readFailed == 0 || ok == 0 {
		t.Fatalf("open failures %d, read failures %d, successes %d; counters %+v", openFailed, readFailed, ok, c)
	}
}

func TestListAndDeleteFaults(t *testing.T) {
	in := storage.NewMemory()
	defer in.Close()
	ctx := context.Background()
	if err := in.Put(ctx, "k", bytes.NewReader([]byte("v")), 1); err != nil {
		t.Fatal(err)
	}
	fs := faultstore.New(in, faultstore.Options{Seed: 1, ListFailRate: 1, DeleteFailRate: 1})
	if err := fs.List(ctx, "", func(storage.ObjectInfo) error { return nil }); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("List: %v; want ErrInjected", err)
	}
	if err := fs.Delete(ctx, "k"); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("Delete: %v; want ErrInjected", err)
	}
	if _, ok := exists(t, in, "k"); !ok {
		t.Fatalf("a failed Delete removed the object")
	}
	fs.SetEnabled(false)
	if err := fs.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete with faults disabled: %v", err)
	}
	if c := fs.Counters(); c.FailedLists != 1 || c.FailedDeletes != 1 || c.Deletes != 2 {
		t.Fatalf("counters %+v", c)
	}
}

func TestStallHonoursContext(t *testing.T) {
	in := storage.NewMemory()
	defer in.Close()
	fs := faultstore.New(in, faultstore.Options{Seed: 1, StallRate: 1, Stall: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := fs.Put(ctx, "k", bytes.NewReader([]byte("v")), 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled Put: %v; want DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("stalled Put ignored its deadline")
	}
	if _, ok := exists(t, in, "k"); ok {
		t.Fatalf("a Put that timed out in a stall reached the inner store")
	}
	if c := fs.Counters(); c.Stalls != 1 {
		t.Fatalf("Stalls = %d; want 1", c.Stalls)
	}
}

func TestSameSeedSameFaults(t *testing.T) {
	outcomes := func() []bool {
		fs := faultstore.New(storage.NewMemory(), faultstore.Options{Seed: 99, PutFailRate: 0.5})
		var out []bool
		for i := range 64 {
			err := fs.Put(context.Background(), fmt.Sprint(i), bytes.NewReader(nil), 0)
			out = append(out, err == nil)
		}
		return out
	}
	a, b := outcomes(), outcomes()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: same seed gave different faults", i)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []faultstore.Options{
		{PutFailRate: -0.1}, {GetFailRate: 1.5}, {StallRate: 2}, {Latency: -time.Second},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted bad options", o)
		}
	}
	if err := (faultstore.Options{PutFailRate: 1, Stall: time.Second}).Validate(); err != nil {
		t.Errorf("Validate rejected good options: %v", err)
	}
}

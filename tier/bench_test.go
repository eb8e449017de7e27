package tier

import (
	"bytes"
	"context"
	"testing"

	"github.com/chronik-go/chronik/storage"
)

// BenchmarkArchive archives one ~5 MiB segment into a memory store per
// iteration, then checks the object's data section reads back equal.
func BenchmarkArchive(b *testing.B) {
	tl := buildLog(b, 3000, 600, 1<<30)
	seg := tl.segs[0]
	want := tl.logBytes(b, seg)
	store := storage.NewMemory()
	defer store.Close()
	ctx := context.Background()
	b.SetBytes(seg.Size)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a := New(store, "p/", Options{})
		if err := store.Delete(ctx, a.Key(seg.BaseOffset)); err != nil { // force a real upload
			b.Fatal(err)
		}
		if err := a.Archive(ctx, seg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	got, err := New(store, "p/", Options{}).Read(ctx, seg.Remote(), seg.BaseOffset, 1<<30)
	if err != nil || !bytes.Equal(got, want) {
		b.Fatalf("archived data differs from the segment (%v)", err)
	}
}

// BenchmarkRead reads 64 KiB from the middle of an archived segment with a
// warm cache (footer and index cached), checking the first batch returned.
func BenchmarkRead(b *testing.B) {
	tl := buildLog(b, 3000, 600, 1<<30)
	seg := tl.segs[0]
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", Options{})
	ctx := context.Background()
	if err := a.Archive(ctx, seg); err != nil {
		b.Fatal(err)
	}
	offsets := []int64{seg.NextOffset / 4, seg.NextOffset / 2, 3 * seg.NextOffset / 4}
	var n int64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := offsets[i%len(offsets)]
		got, err := a.Read(ctx, seg.Remote(), off, 64<<10)
		if err != nil {
			b.Fatal(err)
		}
		if want := tl.batchAt(off).stored(); !bytes.HasPrefix(got, want) {
			b.Fatalf("Read at %d returned the wrong batch", off)
		}
		n += int64(len(got))
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}

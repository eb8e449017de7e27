package tier

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/chronik-go/chronik/storage"
)

// TestReadIsRanged checks that a read fetches the footer, the offset index
// and the data the index points to, far less than the object.
func TestReadIsRanged(t *testing.T) {
	tl := buildLog(t, 3000, 600, 1<<30)
	if len(tl.segs) != 1 {
		t.Fatalf("want one large segment, got %d", len(tl.segs))
	}
	seg := tl.segs[0]
	store := &countingStore{ObjectStore: storage.NewMemory()}
	defer store.Close()
	archiveAll(t, New(store, "p/", fastOptions), tl)
	objectSize := int64(len(getObject(t, store, "p/"+segmentKey("", seg.BaseOffset))))
	store.openEnded.Store(0)
	t.Logf("segment: %d batches, %d bytes of data, object %d bytes", len(tl.batches), seg.Size, objectSize)

	a := New(store, "p/", Options{})
	ctx := context.Background()
	const maxBytes = 8 << 10
	for i, off := range []int64{seg.NextOffset / 2, seg.NextOffset / 3, seg.NextOffset - 1, seg.BaseOffset} {
		store.getBytes.Store(0)
		store.gets.Store(0)
		got, err := a.Read(ctx, seg.Remote(), off, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if want := tl.batchAt(off).stored(); !bytes.HasPrefix(got, want) {
			t.Fatalf("Read at %d does not start with the batch holding it", off)
		}
		fetched, gets := store.getBytes.Load(), store.gets.Load()
		t.Logf("read at offset %d (%s cache): %d Gets, %d bytes fetched for %d returned", off, map[bool]string{true: "cold", false: "warm"}[i == 0], gets, fetched, len(got))
		if fetched > objectSize/20 {
			t.Fatalf("a read of %d bytes fetched %d of the %d-byte object", len(got), fetched, objectSize)
		}
		// Warm: the footer and index are cached; at most a 64 KiB header
		// window and the batches returned are fetched.
		if i > 0 && fetched > 64<<10+int64(len(got)) {
			t.Fatalf("a warm read fetched %d bytes for %d returned", fetched, len(got))
		}
	}
	if n := store.openEnded.Load(); n != 0 {
		t.Fatalf("%d Gets asked for the rest of the object", n)
	}
}

// corruptObject archives tl, flips a byte of the object at pos(object) and
// returns a fresh Archiver over the damaged store.
func corruptObject(t *testing.T, tl *testLog, pos func(f footer) int64) (*Archiver, storage.ObjectStore) {
	t.Helper()
	store := storage.NewMemory()
	t.Cleanup(func() { store.Close() })
	archiveAll(t, New(store, "p/", fastOptions), tl)
	key := segmentKey("p/", tl.segs[0].BaseOffset)
	obj := getObject(t, store, key)
	f, why := decodeFooter(obj[len(obj)-footerSize:], int64(len(obj)), tl.segs[0].BaseOffset)
	if why != "" {
		t.Fatal(why)
	}
	obj[pos(f)] ^= 0x10
	putObject(t, store, key, obj)
	return New(store, "p/", fastOptions), store
}

func TestCorruptFooter(t *testing.T) {
	tl := buildLog(t, 100, 100, 8<<10)
	for _, at := range []int64{1, 30, 110, 121, 127} {
		a, _ := corruptObject(t, tl, func(f footer) int64 { return f.objectSize - footerSize + at })
		_, err := a.Segments(context.Background())
		var ce *CorruptObjectError
		if !errors.As(err, &ce) || ce.Section != "footer" || ce.Key != segmentKey("p/", tl.segs[0].BaseOffset) {
			t.Fatalf("footer byte %d flipped: Segments = %v; want a corrupt footer of the first object", at, err)
		}
	}
}

func TestCorruptSections(t *testing.T) {
	tl := buildLog(t, 100, 100, 8<<10)
	seg := tl.segs[0].Remote()
	ctx := context.Background()
	for _, c := range []struct {
		sec  int
		name string
		call func(a *Archiver) error
	}{
		{secIndex, "offset index", func(a *Archiver) error { _, err := a.Read(ctx, seg, seg.BaseOffset, 100); return err }},
		{secTimeIndex, "time index", func(a *Archiver) error { _, _, err := a.OffsetForTime(ctx, seg, 0); return err }},
		{secBloom, "bloom", func(a *Archiver) error { _, err := a.MayContainKey(ctx, seg, []byte("k")); return err }},
	} {
		a, _ := corruptObject(t, tl, func(f footer) int64 { return f.sections[c.sec].off + f.sections[c.sec].length/2 })
		err := c.call(a)
		var ce *CorruptObjectError
		if !errors.As(err, &ce) || ce.Section != c.name {
			t.Fatalf("%s byte flipped: %v; want a corrupt %s", c.name, err, c.name)
		}
	}
}

// A flipped data byte is never returned: the read of its batch fails, and
// reads of other batches still work.
func TestCorruptData(t *testing.T) {
	tl := buildLog(t, 100, 100, 8<<10)
	seg := tl.segs[0]
	victim := tl.batches[2]
	var pos int64 // the victim's position in the .log
	for _, b := range tl.batches[:2] {
		pos += int64(len(b.bytes))
	}
	a, _ := corruptObject(t, tl, func(f footer) int64 { return f.sections[secData].off + pos + int64(len(victim.bytes)) - 3 })
	ctx := context.Background()
	var ce *CorruptObjectError
	if _, err := a.Read(ctx, seg.Remote(), victim.base, 1); !errors.As(err, &ce) || ce.Section != "data" {
		t.Fatalf("Read of the damaged batch: %v; want a corrupt data section", err)
	}
	if _, err := a.Read(ctx, seg.Remote(), seg.BaseOffset, 1<<20); !errors.As(err, &ce) {
		t.Fatalf("Read across the damaged batch: %v; want a corrupt data section", err)
	}
	got, err := a.Read(ctx, seg.Remote(), tl.batches[0].base, 1)
	if err != nil || !bytes.Equal(got, tl.batches[0].stored()) {
		t.Fatalf("Read of an intact batch before the damage: %v", err)
	}
	got, err = a.Read(ctx, seg.Remote(), tl.batches[3].base, 1)
	if err != nil || !bytes.Equal(got, tl.batches[3].stored()) {
		t.Fatalf("Read of an intact batch after the damage: %v", err)
	}
}

// An object replaced behind the Archiver's back (same base offset, other
// content and size) is read correctly after one failed read.
func TestReplacedObject(t *testing.T) {
	small := buildLog(t, 20, 100, 1<<20)
	large := buildLog(t, 40, 100, 1<<20)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, small)
	ctx := context.Background()
	if _, err := a.Read(ctx, small.segs[0].Remote(), 0, 1); err != nil {
		t.Fatal(err) // caches the small object's footer and index
	}
	archiveAll(t, New(store, "p/", fastOptions), large)
	r := large.segs[0].Remote()
	off := large.batches[30].base
	if _, err := a.Read(ctx, r, off, 1); err == nil {
		t.Logf("the stale cache happened to be harmless")
	}
	got, err := a.Read(ctx, r, off, 1)
	if err != nil || !bytes.Equal(got, large.batches[30].stored()) {
		t.Fatalf("after a replaced object the next read = %v; want the new batch", err)
	}
}

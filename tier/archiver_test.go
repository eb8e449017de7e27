package tier

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
)

func archiveAll(t *testing.T, a *Archiver, tl *testLog) {
	t.Helper()
	for _, seg := range tl.segs {
		if err := a.Archive(context.Background(), seg); err != nil {
			t.Fatalf("Archive(%d): %v", seg.BaseOffset, err)
		}
	}
}

// checkTier compares everything a reads back with what the log wrote.
func checkTier(t *testing.T, a *Archiver, tl *testLog) {
	t.Helper()
	ctx := context.Background()
	remote, err := a.Segments(ctx)
	if err != nil {
		t.Fatalf("Segments: %v", err)
	}
	if len(remote) != len(tl.segs) {
		t.Fatalf("Segments lists %d segments; %d were archived", len(remote), len(tl.segs))
	}
	for i, seg := range tl.segs {
		if remote[i] != seg.Remote() {
			t.Fatalf("Segments()[%d] = %+v; want %+v", i, remote[i], seg.Remote())
		}
		r := remote[i]
		whole, err := a.Read(ctx, r, r.BaseOffset, 1<<30)
		if err != nil {
			t.Fatalf("Read(%d, all): %v", r.BaseOffset, err)
		}
		if !bytes.Equal(whole, tl.logBytes(t, seg)) {
			t.Fatalf("Read(%d, all) returned %d bytes that differ from the %d-byte .log", r.BaseOffset, len(whole), seg.Size)
		}
		for off := r.BaseOffset; off < r.NextOffset; off++ {
			got, err := a.Read(ctx, r, off, 1)
			if err != nil {
				t.Fatalf("Read(%d, offset %d): %v", r.BaseOffset, off, err)
			}
			if want := tl.batchAt(off).stored(); !bytes.Equal(got, want) {
				t.Fatalf("Read(%d, offset %d, 1 byte) returned %d bytes; want the %d-byte batch holding it", r.BaseOffset, off, len(got), len(want))
			}
		}
		if got, err := a.Read(ctx, r, r.NextOffset, 1<<20); err != nil || len(got) != 0 {
			t.Fatalf("Read at NextOffset = %d bytes, %v; want nothing", len(got), err)
		}
	}
}

func TestRoundTripMemory(t *testing.T) {
	tl := buildLog(t, 400, 200, 32<<10)
	if len(tl.segs) < 4 {
		t.Fatalf("want several segments, got %d", len(tl.segs))
	}
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "orders/3/", fastOptions)
	archiveAll(t, a, tl)
	checkTier(t, a, tl)
	// A new Archiver (a restarted process) sees the same tier.
	checkTier(t, New(store, "orders/3/", fastOptions), tl)
}

func TestRoundTripBlobMem(t *testing.T) {
	tl := buildLog(t, 150, 300, 24<<10)
	store, err := storage.OpenBlob(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a := New(store, "t/0/", fastOptions)
	archiveAll(t, a, tl)
	checkTier(t, a, tl)
}

func TestObjectKeysAndForeignObjects(t *testing.T) {
	tl := buildLog(t, 60, 100, 8<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "orders/3/", fastOptions)
	archiveAll(t, a, tl)
	var keys []string
	if err := store.List(context.Background(), "", func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, seg := range tl.segs {
		if want := fmt.Sprintf("orders/3/%020d.seg", seg.BaseOffset); keys[i] != want {
			t.Fatalf("object %d is %q; want %q", i, keys[i], want)
		}
	}
	// Objects of another partition, and stray keys, are not segments here.
	putObject(t, store, "orders/30/00000000000000000000.seg", []byte("another partition"))
	putObject(t, store, "orders/3/notes.txt", []byte("stray"))
	putObject(t, store, "orders/3/0000000000000000000x.seg", []byte("stray"))
	b := New(store, "orders/3", fastOptions) // no trailing slash
	got, err := b.Segments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("prefix %q without a slash listed %d segments of another layout", "orders/3", len(got))
	}
	got, err = a.Segments(context.Background())
	if err != nil || len(got) != len(tl.segs) {
		t.Fatalf("Segments with stray objects = %d segments, %v; want %d", len(got), err, len(tl.segs))
	}
}

func TestOffsetForTimeMatchesLocal(t *testing.T) {
	tl := buildLog(t, 200, 150, 16<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	ctx := context.Background()
	for _, seg := range tl.segs {
		data := tl.logBytes(t, seg)
		for _, ts := range []int64{0, testEpoch, testEpoch + 5, testEpoch + 503, testEpoch + 1000, testEpoch + 1007, seg.MaxTimestamp, seg.MaxTimestamp + 1, 1 << 50} {
			wantOff, wantFound, err := segment.SegmentOffsetForTime(bytes.NewReader(data), int64(len(data)), nil, nil, ts)
			if err != nil {
				t.Fatal(err)
			}
			off, found, err := a.OffsetForTime(ctx, seg.Remote(), ts)
			if err != nil {
				t.Fatalf("OffsetForTime(%d, %d): %v", seg.BaseOffset, ts, err)
			}
			if found != wantFound || (found && off != wantOff) {
				t.Fatalf("OffsetForTime(%d, %d) = %d, %v; a scan of the local data says %d, %v", seg.BaseOffset, ts, off, found, wantOff, wantFound)
			}
		}
	}
}

func TestMayContainKey(t *testing.T) {
	tl := buildLog(t, 120, 100, 16<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	ctx := context.Background()
	absent := 0
	for _, seg := range tl.segs {
		for _, b := range tl.batches {
			in := b.base >= seg.BaseOffset && b.base < seg.NextOffset
			for _, k := range b.keys {
				may, err := a.MayContainKey(ctx, seg.Remote(), []byte(k))
				if err != nil {
					t.Fatal(err)
				}
				if in && !may {
					t.Fatalf("segment %d: bloom denies key %q that it holds", seg.BaseOffset, k)
				}
				if !in && !may {
					absent++
				}
			}
		}
	}
	if absent == 0 {
		t.Fatalf("the bloom filters never ruled out a key of another segment")
	}
}

func TestDelete(t *testing.T) {
	tl := buildLog(t, 60, 100, 8<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	ctx := context.Background()
	victim := tl.segs[0].Remote()
	if _, err := a.Read(ctx, victim, victim.BaseOffset, 100); err != nil { // warm the cache
		t.Fatal(err)
	}
	if err := a.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, victim); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	got, err := a.Segments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tl.segs)-1 || got[0].BaseOffset == victim.BaseOffset {
		t.Fatalf("after Delete Segments = %+v", got)
	}
	if _, err := a.Read(ctx, victim, victim.BaseOffset, 100); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Read of a deleted segment: %v; want ErrNotFound", err)
	}
}

func TestArchiveIsIdempotent(t *testing.T) {
	tl := buildLog(t, 80, 100, 8<<10)
	store := &countingStore{ObjectStore: storage.NewMemory()}
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	seg := tl.segs[1]
	before := getObject(t, store, a.Key(seg.BaseOffset))
	puts := store.puts.Load()
	for _, b := range []*Archiver{a, New(store, "p/", fastOptions)} {
		if err := b.Archive(context.Background(), seg); err != nil {
			t.Fatalf("re-Archive: %v", err)
		}
	}
	if store.puts.Load() != puts {
		t.Fatalf("re-archiving an archived segment uploaded it again")
	}
	if !bytes.Equal(getObject(t, store, a.Key(seg.BaseOffset)), before) {
		t.Fatalf("re-archiving changed the object")
	}
	// A different object at the key (say, a leftover of an older run) is
	// replaced.
	putObject(t, store, a.Key(seg.BaseOffset), before[:len(before)-1])
	if err := New(store, "p/", fastOptions).Archive(context.Background(), seg); err != nil {
		t.Fatal(err)
	}
	if store.puts.Load() != puts+2 || !bytes.Equal(getObject(t, store, a.Key(seg.BaseOffset)), before) {
		t.Fatalf("a wrong object at the key was not replaced by the segment")
	}
}

func TestArchiveRejectsCorruptSegment(t *testing.T) {
	tl := buildLog(t, 40, 100, 1<<20)
	seg := tl.segs[0]
	data := tl.logBytes(t, seg)
	for _, pos := range []int{3, 30, len(data) / 2, len(data) - 1} { // baseOffset, CRC, a record, the last byte
		bad := bytes.Clone(data)
		bad[pos] ^= 0x40
		if err := writeFile(tl, seg.LogPath, bad); err != nil {
			t.Fatal(err)
		}
		store := storage.NewMemory()
		a := New(store, "p/", fastOptions)
		err := a.Archive(context.Background(), seg)
		var ce *segment.CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("byte %d flipped: Archive = %v; want a *segment.CorruptionError", pos, err)
		}
		if ce.Segment != seg.LogPath {
			t.Fatalf("the corruption error names %q, not the .log", ce.Segment)
		}
		if _, err := store.Get(context.Background(), a.Key(seg.BaseOffset), 0, -1); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("byte %d flipped: a corrupt segment left an object (%v)", pos, err)
		}
		store.Close()
	}
	// A .log that does not match the segment's size is refused too.
	if err := writeFile(tl, seg.LogPath, data[:len(data)-5]); err != nil {
		t.Fatal(err)
	}
	if err := New(storage.NewMemory(), "p/", fastOptions).Archive(context.Background(), seg); err == nil {
		t.Fatalf("Archive accepted a truncated .log")
	}
}

func TestArchiveRejectsMismatchedIndexes(t *testing.T) {
	tl := buildLog(t, 80, 100, 8<<10)
	seg := tl.segs[0]
	seg.IndexPath = tl.segs[1].IndexPath // another segment's index
	if err := New(storage.NewMemory(), "p/", fastOptions).Archive(context.Background(), seg); err == nil {
		t.Fatalf("Archive accepted an index of another segment")
	}
}

func TestArchiveCancelled(t *testing.T) {
	tl := buildLog(t, 40, 100, 1<<20)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Archive(ctx, tl.segs[0]); !errors.Is(err, context.Canceled) {
		t.Fatalf("Archive with a cancelled context: %v", err)
	}
	if _, err := store.Get(context.Background(), a.Key(tl.segs[0].BaseOffset), 0, -1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a cancelled Archive left an object")
	}
}

func writeFile(tl *testLog, name string, data []byte) error {
	return vfs.WriteFile(tl.fs, name, data, 0o644)
}

func TestStaleRemoteSegment(t *testing.T) {
	tl := buildLog(t, 60, 100, 8<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	r := tl.segs[0].Remote()
	r.NextOffset++
	var me *MismatchError
	if _, err := a.Read(context.Background(), r, r.BaseOffset, 100); !errors.As(err, &me) {
		t.Fatalf("Read with a wrong NextOffset: %v; want *MismatchError", err)
	}
}

func TestCacheBounded(t *testing.T) {
	tl := buildLog(t, 300, 100, 8<<10)
	store := storage.NewMemory()
	defer store.Close()
	const budget = 4 << 10
	a := New(store, "p/", Options{CacheBytes: budget})
	archiveAll(t, a, tl)
	ctx := context.Background()
	for _, seg := range tl.segs {
		if _, err := a.Read(ctx, seg.Remote(), seg.BaseOffset, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := a.MayContainKey(ctx, seg.Remote(), []byte("k")); err != nil {
			t.Fatal(err)
		}
		if n := a.CachedBytes(); n > budget {
			t.Fatalf("cache holds %d bytes; budget %d", n, budget)
		}
	}
	if a.CachedBytes() == 0 {
		t.Fatalf("nothing was cached")
	}
	off := New(store, "p/", Options{CacheBytes: -1})
	if _, err := off.Read(ctx, tl.segs[0].Remote(), 0, 10); err != nil || off.CachedBytes() != 0 {
		t.Fatalf("with the cache disabled: %v, %d bytes cached", err, off.CachedBytes())
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{CacheBytes: -2}, {ReadRetries: -2}, {RetryMin: -1}, {RetryMin: 2, RetryMax: 1}, {ListConcurrency: -1},
	} {
		if o.Validate() == nil {
			t.Errorf("Validate(%+v) accepted bad options", o)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
}

// TestMayContainKeyOfAnotherBloomVersion: an object archived with a bloom
// filter of another format version (its keys hashed differently) answers
// "may contain" for every key, without an error or a retry, so a key
// lookup reads the segment rather than failing or missing the key.
func TestMayContainKeyOfAnotherBloomVersion(t *testing.T) {
	tl := buildLog(t, 40, 100, 8<<10)
	store := storage.NewMemory()
	defer store.Close()
	a := New(store, "p/", fastOptions)
	archiveAll(t, a, tl)
	ctx := context.Background()
	seg := tl.segs[0]
	key := a.Key(seg.BaseOffset)
	rc, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the bloom section as version 1 (its own CRC and the footer's
	// section CRC recomputed), the format before the filters were keyed
	// with murmur3.
	f, why := decodeFooter(obj[len(obj)-footerSize:], int64(len(obj)), seg.BaseOffset)
	if why != "" {
		t.Fatal(why)
	}
	s := &f.sections[secBloom]
	bl := obj[s.off : s.off+s.length]
	bl[4] = 1
	binary.BigEndian.PutUint32(bl[len(bl)-4:], crc32.Checksum(bl[:len(bl)-4], castagnoli))
	s.crc = crc32.Checksum(bl, castagnoli)
	copy(obj[len(obj)-footerSize:], f.encode())
	if err := store.Put(ctx, key, bytes.NewReader(obj), int64(len(obj))); err != nil {
		t.Fatal(err)
	}
	a = New(store, "p/", fastOptions) // no cached footer or filter
	for _, k := range []string{"absent-key", tl.batches[0].keys[0]} {
		may, err := a.MayContainKey(ctx, seg.Remote(), []byte(k))
		if err != nil || !may {
			t.Fatalf("key %q in a segment with a version-1 filter: may %v, err %v; want may contain", k, may, err)
		}
	}
}

package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring"
	blugeindex "github.com/blugelabs/bluge/index"
	segment "github.com/blugelabs/bluge_segment_api"
	"github.com/blugelabs/ice"
)

// TestByteBudget checks the reservations the pipeline's BufferMemory and
// Bluge's MaxUnpersistedBytes are made of.
func TestByteBudget(t *testing.T) {
	ctx := context.Background()
	b := newByteBudget(100)
	if n, err := b.acquireUpTo(ctx, 10, 60); err != nil || n != 60 {
		t.Fatalf("acquireUpTo(10, 60) on an empty budget = %d, %v; want 60", n, err)
	}
	if n := b.tryAcquireUpTo(10, 60); n != 40 {
		t.Fatalf("tryAcquireUpTo(10, 60) with 40 free = %d, want 40", n)
	}
	if n := b.tryAcquireUpTo(10, 60); n != 0 {
		t.Fatalf("tryAcquireUpTo(10, 60) with nothing free = %d, want 0", n)
	}
	if b.belowLimit() {
		t.Fatal("a full budget is below its limit")
	}
	b.force(30) // past the limit
	if used, peak := b.inUse(); used != 130 || peak != 130 {
		t.Fatalf("in use %d (peak %d), want 130", used, peak)
	}

	// A waiter gets room only once enough is released.
	got := make(chan int64, 1)
	go func() {
		n, _ := b.acquireUpTo(ctx, 20, 50)
		got <- n
	}()
	b.release(30) // back at the limit: still no room
	select {
	case n := <-got:
		t.Fatalf("acquireUpTo returned %d with nothing free", n)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	if n := <-got; n != 50 {
		t.Fatalf("acquireUpTo(20, 50) with 60 free = %d, want 50", n)
	}

	// Waiting ends with the context or the closing channel.
	b.force(100)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquireUpTo(cctx, 1, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquireUpTo on a full budget with a deadline: %v", err)
	}
	closing := make(chan struct{})
	close(closing)
	if err := b.waitBelowLimit(ctx, closing); !errors.Is(err, errBudgetClosed) {
		t.Fatalf("waitBelowLimit with closing closed: %v", err)
	}
	b.release(190)
	if err := b.waitBelowLimit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Holding nothing, a reservation larger than the limit still proceeds.
	if n, err := b.acquireUpTo(ctx, 500, 500); err != nil || n != 500 {
		t.Fatalf("acquireUpTo(500, 500) on an empty budget of 100 = %d, %v", n, err)
	}
}

// TestMergeWaitsForToken checks that the index directory writes a merged
// segment only while holding a merge token (BlugeOptions.MergeConcurrency),
// while fresh segments are persisted regardless, and that a waiting merge
// gives up when the writer closes.
func TestMergeWaitsForToken(t *testing.T) {
	c := benchCorpus()
	norm := func(f string, n int) float32 { return bm25.ComputeNorm(n) }
	var segs []segment.Segment
	for range 2 {
		s, _, err := newSegment(analysedDocs(c, 50, true), norm)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	dir := t.TempDir()
	d := &syncedDirectory{FileSystemDirectory: blugeindex.NewFileSystemDirectory(dir), path: dir, merges: make(chan struct{}, 1)}
	if err := d.Setup(false); err != nil {
		t.Fatal(err)
	}
	d.merges <- struct{}{} // another merge runs
	closeCh := make(chan struct{})
	merged := make(chan error, 1)
	go func() {
		merged <- d.Persist(blugeindex.ItemKindSegment, 10, ice.Merge(segs, []*roaring.Bitmap{nil, nil}, 1<<16), closeCh)
	}()
	if err := d.Persist(blugeindex.ItemKindSegment, 11, segs[0].(*ice.Segment), closeCh); err != nil {
		t.Fatalf("persisting a fresh segment while a merge runs: %v", err)
	}
	select {
	case err := <-merged:
		t.Fatalf("a merge ran while the only merge token was taken (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-d.merges // the other merge ends
	if err := <-merged; err != nil {
		t.Fatalf("merge after the token was freed: %v", err)
	}
	if len(d.merges) != 0 {
		t.Fatal("the merge did not give its token back")
	}

	d.merges <- struct{}{}
	go func() {
		merged <- d.Persist(blugeindex.ItemKindSegment, 12, ice.Merge(segs, []*roaring.Bitmap{nil, nil}, 1<<16), closeCh)
	}()
	close(closeCh)
	if err := <-merged; !errors.Is(err, segment.ErrClosed) {
		t.Fatalf("a merge waiting for a token when the writer closed: %v, want segment.ErrClosed", err)
	}
}

// TestBlugeMaxUnpersistedBytes checks that Index waits while the segments
// indexed but not yet persisted exceed MaxUnpersistedBytes, that persisting
// them or deleting their topic releases them, and that Close ends the wait.
func TestBlugeMaxUnpersistedBytes(t *testing.T) {
	x, err := OpenBluge(t.TempDir(), BlugeOptions{PersistDelay: 2 * time.Second, MaxUnpersistedBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	big := func(topic string, from int64) *Batch {
		b := &Batch{Topic: topic, Partition: 0}
		for i := range 8 { // 8 × 12 KiB of distinct words: a segment past 64 KiB
			v := make([]byte, 0, 12<<10)
			for w := 0; len(v) < 12<<10; w++ {
				v = fmt.Appendf(v, "w%dx%d ", from+int64(i), w)
			}
			b.Docs = append(b.Docs, Document{Offset: from + int64(i), Value: v})
		}
		b.Next = from + 8
		return b
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 200*time.Millisecond) }

	if err := x.Index(ctx, big("a", 0)); err != nil {
		t.Fatal(err)
	}
	if used, _ := x.unpersisted.inUse(); used < 64<<10 {
		t.Fatalf("%d unpersisted bytes after indexing a segment past 64 KiB", used)
	}
	next := big("b", 0)
	sctx, cancel := short()
	err = x.Index(sctx, next)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Index with 64 KiB unpersisted (the persister waits 2 s): %v, want to wait until the deadline", err)
	}
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	if used, _ := x.unpersisted.inUse(); used != 0 {
		t.Fatalf("%d unpersisted bytes after Flush", used)
	}

	// Deleting a topic releases its unpersisted segments.
	if err := x.Index(ctx, big("b", 0)); err != nil {
		t.Fatal(err)
	}
	if err := x.DeleteTopic(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	next = big("a", 8)
	sctx, cancel = short()
	err = x.Index(sctx, next)
	cancel()
	if err != nil {
		t.Fatalf("Index after the topic holding the unpersisted bytes was deleted: %v", err)
	}

	// Close ends a wait.
	waiting := make(chan error, 1)
	next = big("c", 0)
	go func() { waiting <- x.Index(ctx, next) }()
	time.Sleep(50 * time.Millisecond)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("Index waiting for the persisters when the index closed: %v, want ErrClosed", err)
	}
}

// segmentFilesResident returns the resident and mapped KiB of the
// process's mappings of .seg files (Linux /proc/self/smaps).
func segmentFilesResident(t *testing.T) (rss, size int) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	seg := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-"):
			seg = len(f) >= 6 && strings.HasSuffix(f[5], ".seg")
		case seg && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			rss += n
		case seg && len(f) >= 2 && f[0] == "Size:":
			n, _ := strconv.Atoi(f[1])
			size += n
		}
	}
	return rss, size
}

// TestLoadedSegmentsNotResident checks that segment files, mapped by
// bluge, are not left resident by loading them or by the Index calls that
// follow (each reads every segment of its partition), and are still read
// right.
func TestLoadedSegmentsNotResident(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("releasing mapped pages is done on Linux")
	}
	x, err := OpenBluge(t.TempDir(), BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	c := benchCorpus()
	for round := range 3 {
		for p := range int32(3) {
			b := &Batch{Topic: "res", Partition: p}
			for i := round * 1000; i < (round+1)*1000; i++ {
				b.Docs = append(b.Docs, Document{Offset: int64(i), Timestamp: c.ts[i], Key: c.keys[i], Value: c.docs[i]})
			}
			b.Next = int64(round+1) * 1000
			if err := x.Index(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.Flush(); err != nil {
			t.Fatal(err)
		}
		rss, size := segmentFilesResident(t)
		t.Logf("after %d batches per partition: segment files %d KiB mapped, %d KiB resident", round+1, size, rss)
		if size == 0 {
			t.Fatal("no segment file is mapped after Flush")
		}
		if rss > size/4 {
			t.Errorf("%d of %d KiB of mapped segment files resident", rss, size)
		}
	}
	res, err := x.Search(context.Background(), "res", &Request{Query: &MatchAllQuery{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 9000 {
		t.Fatalf("%d documents found, want 9000", res.Total)
	}
}

package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chronik-go/chronik/internal/vfs"
)

// settle waits until every rolled segment has its index files.
func settle(t *testing.T, l *Log) {
	t.Helper()
	waitFor(t, "rolled segments sealed", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.sealQueue) == 0
	})
}

func segmentBases(l *Log) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for _, s := range l.segs {
		out = append(out, s.base)
	}
	return out
}

func TestRetentionBySize(t *testing.T) {
	clk := newClock(t0)
	ev := &events{}
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 1100
	opts.RetentionBytes = 3000
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	defer l.Close()
	for i := range 20 {
		mustAppend(t, l, valueBatch(t, t0, 1000, byte(i))) // one batch per segment
	}
	settle(t, l)
	if err := l.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	// Kafka keeps at least retention.bytes: deleting one more would go below.
	if st.Bytes < opts.RetentionBytes || st.Bytes-1061 >= opts.RetentionBytes {
		t.Fatalf("%d bytes left in %d segments", st.Bytes, st.Segments)
	}
	if st.StartOffset != 17 || st.Segments != 3 || st.Deleted != 17 {
		t.Fatalf("stats %+v", st)
	}
	var oor *OffsetOutOfRangeError
	if _, err := l.Read(3, 100, 20); !errors.As(err, &oor) || oor.StartOffset != 17 {
		t.Fatalf("read of a deleted offset: %v", err)
	}
	if _, err := opts.FS.Stat("/p/" + SegmentName(0, LogSuffix)); err == nil {
		t.Fatal("deleted segment file still there")
	}
	if n := countEvents[SegmentDeleted](ev); n != 17 {
		t.Fatalf("%d SegmentDeleted events", n)
	}
	// The active segment is never deleted.
	if segmentBases(l)[len(segmentBases(l))-1] != 19 {
		t.Fatal("active segment gone")
	}
}

func TestRetentionByTime(t *testing.T) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 1100
	opts.RetentionAge = time.Hour
	opts.SegmentAge = 365 * 24 * time.Hour
	l := mustOpen(t, "/p", opts)
	defer l.Close()
	for i := range 10 { // segment i holds a batch of time t0 + i minutes
		mustAppend(t, l, valueBatch(t, t0+int64(i)*60_000, 1000, byte(i)))
	}
	settle(t, l)
	clk.Advance(time.Hour + 3*time.Minute + time.Second) // segments 0-3 are older than an hour
	if err := l.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if start := l.StartOffset(); start != 4 {
		t.Fatalf("start offset %d after time retention, want 4", start)
	}
	clk.Advance(24 * time.Hour) // everything is old; the active segment stays
	if err := l.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := segmentBases(l); len(b) != 1 || b[0] != 9 {
		t.Fatalf("segments left: %v", b)
	}
	if got := readAll(t, l, l.NextOffset()); len(got) != 1 {
		t.Fatalf("%d batches readable", len(got))
	}
}

func TestArchiverGatesDeletion(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	arch := newMemArchiver()
	arch.setFail(-1)
	ev := &events{}
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1200
	opts.Archiver = arch
	opts.LocalRetentionBytes = 2500
	opts.ArchiveRetryMin, opts.ArchiveRetryMax = time.Millisecond, 4*time.Millisecond
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	var sent [][]byte
	for i := range 12 {
		b := keyedBatch(t, t0+int64(i)*1000, fmt.Sprint("s", i), 1)
		b = append(b[:0:0], b...)
		sent = append(sent, bytes.Clone(b))
		mustAppend(t, l, b)
		mustAppend(t, l, valueBatch(t, t0+int64(i)*1000+500, 950, byte(i))) // fills the segment
	}
	settle(t, l)
	waitFor(t, "failed uploads retried", func() bool { return countEvents[ArchiveFailed](ev) >= 5 })
	if err := l.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Segments != 12 || st.Deleted != 0 || st.PendingArchive != 11 {
		t.Fatalf("deleted local data the tier does not hold: %+v", st)
	}
	// Closing with uploads pending and reopening loses nothing either.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, "/p", opts)
	defer l.Close()
	if st := l.Stats(); st.Segments != 12 || st.NextOffset != 24 {
		t.Fatalf("after reopen: %+v", st)
	}
	arch.setFail(2) // two more failures, then uploads succeed
	waitFor(t, "uploads", func() bool { return len(arch.stored()) == 11 })
	waitFor(t, "local retention", func() bool { return l.Stats().Segments == 3 })
	st := l.Stats()
	if st.StartOffset != 0 || st.RemoteSegments != 11 || st.Deleted != 9 {
		t.Fatalf("stats %+v", st)
	}
	// Reads below the local start come from the tier, byte-exact.
	for i := range 12 {
		data, err := l.Read(int64(2*i), 1, l.HighWatermark())
		if err != nil || !bytes.Equal(withoutBase(data), sent[i]) {
			t.Fatalf("read of offset %d: %v", 2*i, err)
		}
	}
	all := readAll(t, l, l.HighWatermark())
	if len(all) != 24 {
		t.Fatalf("%d batches readable across tiers", len(all))
	}
	off, found, err := l.OffsetForTime(t0 + 2000)
	if err != nil || !found || off != 4 {
		t.Fatalf("remote OffsetForTime: %d %v %v", off, found, err)
	}
	recs, lst, err := l.LookupKey([]byte("s1-0"), 0)
	if err != nil || len(recs) != 1 || recs[0].Offset != 2 {
		t.Fatalf("remote LookupKey: %+v %v", recs, err)
	}
	if lst.SegmentsScanned < 1 || lst.SegmentsSkipped < 9 {
		t.Fatalf("remote lookup stats %+v", lst)
	}
	if countEvents[SegmentArchived](ev) != 11 {
		t.Fatalf("%d SegmentArchived events", countEvents[SegmentArchived](ev))
	}
}

func TestRemoteRetentionMovesStart(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	arch := newMemArchiver()
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1100
	opts.Archiver = arch
	opts.LocalRetentionBytes = 2500
	opts.ArchiveRetryMin, opts.ArchiveRetryMax = time.Millisecond, 4*time.Millisecond
	opts.RetentionCheckInterval = time.Hour
	l := mustOpen(t, "/p", opts)
	for i := range 10 {
		mustAppend(t, l, valueBatch(t, t0+int64(i)*60_000, 1000, byte(i)))
	}
	waitFor(t, "uploads", func() bool { return len(arch.stored()) == 9 })
	waitFor(t, "local retention", func() bool { return l.Stats().Segments == 3 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen with a total retention of 30 minutes: remote segments go too.
	opts.RetentionAge = 30 * time.Minute
	opts.LocalRetentionAge = -1
	clk.Advance(35 * time.Minute) // segments 0-4 (t0..t0+4min) are older than 30 min
	ev := &events{}
	opts.OnEvent = ev.add
	l = mustOpen(t, "/p", opts)
	if l.StartOffset() != 0 {
		t.Fatalf("start %d before retention", l.StartOffset())
	}
	if err := l.EnforceRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if start := l.StartOffset(); start != 5 {
		t.Fatalf("start %d after remote retention, want 5", start)
	}
	if got := arch.stored(); len(got) != 4 || got[0] != 5 {
		t.Fatalf("remote segments left %v", got)
	}
	if countEvents[RemoteSegmentDeleted](ev) != 5 {
		t.Fatalf("events %v", ev.list())
	}
	var oor *OffsetOutOfRangeError
	if _, err := l.Read(2, 100, 10); !errors.As(err, &oor) {
		t.Fatalf("read below the new start: %v", err)
	}
	if data, err := l.Read(5, 100, 10); err != nil || len(data) == 0 {
		t.Fatalf("read at the new start: %d bytes %v", len(data), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The start offset is checkpointed.
	l = mustOpen(t, "/p", opts)
	defer l.Close()
	if start := l.StartOffset(); start != 5 {
		t.Fatalf("start %d after reopen, want 5", start)
	}
}

// blockingArchiver never finishes an upload until its context is cancelled.
type blockingArchiver struct {
	*memArchiver
	started chan struct{}
}

func (a *blockingArchiver) Archive(ctx context.Context, s SealedSegment) error {
	select {
	case a.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestNoGoroutineOutlivesClose(t *testing.T) {
	clk := newClock(t0)
	arch := &blockingArchiver{memArchiver: newMemArchiver(), started: make(chan struct{}, 1)}
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 1100
	opts.Archiver = arch
	opts.FlushInterval = time.Millisecond
	l := mustOpen(t, "/p", opts)
	for i := range 3 {
		mustAppend(t, l, valueBatch(t, t0, 1000, byte(i)))
	}
	<-arch.started // the uploader is inside Archive
	ctx, cancel := context.WithCancel(context.Background())
	waitErr := make(chan error)
	go func() { waitErr <- l.WaitDurable(ctx, 1<<40) }() // beyond the LEO
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitDurable across Close: %v", err)
	}
	cancel()
	goleak.VerifyNone(t)
}

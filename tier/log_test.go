package tier

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/faultstore"
)

// TestWithSegmentLog runs a segment.Log with the tier as its Archiver over
// a store that fails uploads and reads: the log archives its sealed
// segments (retrying), deletes the local copies, and serves reads, time
// lookups and key lookups of the deleted range from the tier; a reopened
// log finds the archived segments again.
func TestWithSegmentLog(t *testing.T) {
	inner := storage.NewMemory()
	defer inner.Close()
	fs := faultstore.New(inner, faultstore.Options{Seed: 5, PutFailRate: 0.3, GetFailRate: 0.05, StallRate: 0.05, Stall: 2 * time.Millisecond})
	a := New(fs, "orders/0/", fastOptions)
	fsys := vfs.NewCrashFS(nil)
	now := func() time.Time { return time.UnixMilli(testEpoch + 3_600_000) }
	opts := segment.Options{
		FS: fsys, SegmentBytes: 8 << 10, IndexIntervalBytes: 512, Now: now,
		Archiver: a, LocalRetentionBytes: 1, ArchiveRetryMin: time.Millisecond, ArchiveRetryMax: 5 * time.Millisecond,
	}
	l, err := segment.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	b := record.NewBuilder()
	for i := range 200 {
		b.Reset()
		b.Append(testEpoch+int64(i), []byte(fmt.Sprintf("key-%d", i%10)), bytes.Repeat([]byte{byte(i)}, 200))
		batch, err := b.Finish(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(batch, segment.AppendInfo{}); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, batch)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := l.Stats()
		if st.PendingArchive == 0 && st.RemoteSegments > 0 {
			if err := l.EnforceRetention(context.Background()); err != nil {
				t.Logf("retention: %v", err)
			} else if st.Segments == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("segments not archived and deleted locally in time: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := l.Stats()
	t.Logf("log: %+v; store faults: %+v", st, fs.Counters())
	if st.RemoteSegments < 5 {
		t.Fatalf("only %d segments archived", st.RemoteSegments)
	}
	check := func(l *segment.Log) {
		t.Helper()
		for i, want := range sent {
			got, err := l.Read(int64(i), 1, l.HighWatermark())
			if err != nil {
				t.Fatalf("Read(%d): %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Read(%d) returned %d bytes that differ from the batch appended", i, len(got))
			}
		}
		off, found, err := l.OffsetForTime(testEpoch + 17)
		if err != nil || !found || off != 17 {
			t.Fatalf("OffsetForTime = %d, %v, %v; want 17", off, found, err)
		}
		recs, _, err := l.LookupKey([]byte("key-3"), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 20 {
			t.Fatalf("LookupKey found %d records of key-3; want 20", len(recs))
		}
	}
	check(l) // through the faulty store: the tier retries failed reads
	t.Logf("store faults after the reads: %+v", fs.Counters())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := segment.Open("/log", segment.Options{FS: fsys, SegmentBytes: 8 << 10, Now: now, Archiver: New(inner, "orders/0/", fastOptions)})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2)
}

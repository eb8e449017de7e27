package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

func isLogFile(name string) bool { return strings.HasSuffix(name, LogSuffix) }

// crashWorkload appends batches to a log on fs until the file system dies,
// waiting for durability every few batches, then closes the log. It returns
// every batch it appended and the ones WaitDurable acknowledged, keyed by
// base offset (baseOffset field zeroed).
func crashWorkload(t *testing.T, fs vfs.FS, clk *clock, rng *rand.Rand) (appended, acked map[int64][]byte) {
	appended, acked = map[int64][]byte{}, map[int64][]byte{}
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1500
	opts.IndexIntervalBytes = 200
	l, err := Open("/p", opts)
	if err != nil {
		return
	}
	for i := range 24 {
		n := 1 + rng.IntN(4)
		codec := compress.None
		if i%5 == 4 {
			codec = compress.Zstd
		}
		recs := make([]rec, n)
		for j := range recs {
			recs[j] = rec{ts: t0 + int64(i), key: fmt.Appendf(nil, "k%d-%d", i, j), value: bytes.Repeat([]byte{byte(i)}, rng.IntN(120))}
		}
		b := buildBatch(t, codec, recs...)
		c := bytes.Clone(b)
		base, err := l.Append(b, AppendInfo{})
		if err != nil {
			break
		}
		appended[base] = c
		if i%3 == 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := l.WaitDurable(ctx, base+int64(n))
			cancel()
			if err != nil {
				break
			}
			for b, data := range appended {
				acked[b] = data
			}
		}
	}
	l.Close()
	return appended, acked
}

// checkRecovered opens the log on fs and checks the recovery promises.
func checkRecovered(t *testing.T, fs vfs.FS, clk *clock, appended, acked map[int64][]byte, what string) {
	t.Helper()
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1500
	opts.IndexIntervalBytes = 200
	l, err := Open("/p", opts)
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer l.Close()
	leo := l.NextOffset()
	if hw := l.HighWatermark(); hw != leo {
		t.Fatalf("%s: HW %d != LEO %d after recovery", what, hw, leo)
	}
	got := readAll(t, l, leo)
	next := l.StartOffset()
	for next < leo {
		b, ok := got[next]
		if !ok {
			t.Fatalf("%s: no batch at offset %d below LEO %d", what, next, leo)
		}
		if want, ok := appended[next]; !ok || !bytes.Equal(withoutBase(b), want) {
			t.Fatalf("%s: batch at %d is not one that was appended there", what, next)
		}
		h := record.ReadHeader(b)
		next = h.LastOffset() + 1
	}
	if len(got) != countBelow(appended, leo) {
		t.Fatalf("%s: read %d batches, %d appended below %d", what, len(got), countBelow(appended, leo), leo)
	}
	for base, want := range acked {
		if b, ok := got[base]; !ok || !bytes.Equal(withoutBase(b), want) {
			t.Fatalf("%s: acknowledged batch at %d lost (LEO %d)", what, base, leo)
		}
	}
	// Appends continue at the LEO and the key index covers the survivors.
	off, err := l.Append(keyedBatch(t, t0, "after", 2), AppendInfo{})
	if err != nil || off != leo {
		t.Fatalf("%s: append after recovery: %d %v, want %d", what, off, err, leo)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for base, want := range acked {
		h := record.ReadHeader(want)
		key := fmt.Appendf(nil, "k%d-0", h.BaseTimestamp-t0)
		recs, _, err := l.LookupKey(key, 1)
		if err != nil || len(recs) != 1 || recs[0].Offset != base {
			t.Fatalf("%s: LookupKey(%s) = %+v %v, want offset %d", what, key, recs, err, base)
		}
	}
}

func countBelow(m map[int64][]byte, leo int64) int {
	n := 0
	for b := range m {
		if b < leo {
			n++
		}
	}
	return n
}

// TestCrashAtEveryWriteBoundary crashes the machine after every possible
// number of file-system mutations of a workload (keeping none, all, or a
// random prefix of the unsynced bytes), sometimes crashes again during
// recovery, and checks that no acknowledged batch is lost, no partial batch
// is served and the log end offset continues correctly.
func TestCrashAtEveryWriteBoundary(t *testing.T) {
	clk := newClock(t0)
	ref := vfs.NewCrashFS(nil)
	crashWorkload(t, ref, clk, rand.New(rand.NewPCG(7, 7)))
	total := ref.Ops()
	if total < 50 {
		t.Fatalf("workload made only %d operations", total)
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for k := 0; k <= total+5; k += step {
		keeps := []vfs.KeepFunc{vfs.KeepNone, vfs.KeepAll, vfs.KeepRandom(rand.New(rand.NewPCG(uint64(k), 1)))}
		keep := keeps[k%3]
		fs := vfs.NewCrashFS(nil)
		fs.CrashAfter(k, keep)
		rng := rand.New(rand.NewPCG(7, 7))
		appended, acked := crashWorkload(t, fs, clk, rng)
		after := fs.Crashed()
		if after == nil {
			after = fs.Crash(keep)
		}
		what := fmt.Sprintf("crash after %d ops", k)
		if k%2 == 1 {
			// Crash again a few operations into the recovery.
			after.CrashAfter(k%11, keep)
			opts := testOptions(after, clk)
			opts.SegmentBytes = 1500
			opts.IndexIntervalBytes = 200
			if l, err := Open("/p", opts); err == nil {
				l.Close()
			}
			if again := after.Crashed(); again != nil {
				after = again
				what += fmt.Sprintf(", then after %d ops of recovery", k%11)
			} else {
				after = after.Crash(keep)
			}
		}
		checkRecovered(t, after, clk, appended, acked, what)
	}
}

func TestStickyFsyncError(t *testing.T) {
	clk := newClock(t0)
	base := vfs.NewCrashFS(nil)
	efs := vfs.NewErrorFS(base)
	opts := testOptions(efs, clk)
	l := mustOpen(t, "/p", opts)
	for i := range 5 {
		mustAppend(t, l, keyedBatch(t, t0, fmt.Sprint("a", i), 2))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	hw := l.HighWatermark()
	efs.Inject(vfs.Fault{Op: vfs.OpSync, Match: isLogFile, Count: 1})
	off := mustAppend(t, l, keyedBatch(t, t0, "b", 2))
	err := l.WaitDurable(context.Background(), off+2)
	var se *StorageError
	if !errors.As(err, &se) || se.Code() != errcode.KafkaStorageError || !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("WaitDurable after a failed fsync: %v", err)
	}
	if l.HighWatermark() != hw {
		t.Fatalf("HW moved from %d to %d past a failed fsync", hw, l.HighWatermark())
	}
	if _, err := l.Append(keyedBatch(t, t0, "c", 1), AppendInfo{}); !errors.As(err, &se) {
		t.Fatalf("Append after a failed fsync: %v", err)
	}
	if err := l.Sync(); !errors.As(err, &se) {
		t.Fatalf("Sync after a failed fsync: %v", err)
	}
	if l.Err() == nil {
		t.Fatal("no sticky error")
	}
	// Durable data stays readable and waitable.
	if err := l.WaitDurable(context.Background(), hw); err != nil {
		t.Fatalf("WaitDurable below the HW: %v", err)
	}
	if got := readAll(t, l, hw); len(got) != 5 {
		t.Fatalf("read %d batches below the HW", len(got))
	}
	time.Sleep(5 * time.Millisecond) // a later fsync would succeed: the HW must not move anyway
	if l.HighWatermark() != hw {
		t.Fatal("HW moved after the sticky error")
	}
	if err := l.Close(); !errors.As(err, &se) {
		t.Fatalf("Close: %v", err)
	}
	// Reopening recovers; the unsynced batch is still in the page cache.
	efs.Reset()
	l2 := mustOpen(t, "/p", opts)
	defer l2.Close()
	if l2.NextOffset() != off+2 || l2.Err() != nil {
		t.Fatalf("after reopen LEO %d err %v", l2.NextOffset(), l2.Err())
	}
	mustAppend(t, l2, keyedBatch(t, t0, "d", 1))
	if err := l2.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestStickyTornWrite(t *testing.T) {
	clk := newClock(t0)
	base := vfs.NewCrashFS(nil)
	efs := vfs.NewErrorFS(base)
	ev := &events{}
	opts := testOptions(efs, clk)
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	for i := range 3 {
		mustAppend(t, l, keyedBatch(t, t0, fmt.Sprint("a", i), 2))
	}
	efs.Inject(vfs.Fault{Op: vfs.OpWrite, Match: isLogFile, Count: 1, Err: syscall.ENOSPC, Keep: 20})
	if _, err := l.Append(keyedBatch(t, t0, "b", 2), AppendInfo{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("torn write: %v", err)
	}
	if _, err := l.Append(keyedBatch(t, t0, "c", 2), AppendInfo{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append after a torn write: %v", err)
	}
	if l.NextOffset() != 6 {
		t.Fatalf("LEO %d after a torn write", l.NextOffset())
	}
	l.Close()
	efs.Reset()
	l2 := mustOpen(t, "/p", opts)
	defer l2.Close()
	var tt *TailTruncated
	for _, e := range ev.list() {
		if e, ok := e.(TailTruncated); ok {
			tt = &e
		}
	}
	if tt == nil || tt.BytesDropped != 20 || tt.Err.FilePos == 0 || tt.Err.Offset != 6 {
		t.Fatalf("TailTruncated event: %+v", tt)
	}
	if off := mustAppend(t, l2, keyedBatch(t, t0, "d", 1)); off != 6 {
		t.Fatalf("append after recovery at %d, want 6", off)
	}
}

func TestStickyErrorWhileSealing(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpSyncDir, vfs.OpRename, vfs.OpWrite} {
		t.Run(op.String(), func(t *testing.T) {
			clk := newClock(t0)
			efs := vfs.NewErrorFS(vfs.NewCrashFS(nil))
			opts := testOptions(efs, clk)
			opts.SegmentBytes = 1024
			l := mustOpen(t, "/p", opts)
			defer l.Close()
			efs.Inject(vfs.Fault{Op: op, Match: func(n string) bool { return !isLogFile(n) }, Count: 1})
			for i := 0; l.Stats().Rolls == 0; i++ {
				mustAppend(t, l, valueBatch(t, t0, 200, byte(i)))
			}
			waitFor(t, "the sticky error", func() bool { return l.Err() != nil })
			if _, err := l.Append(valueBatch(t, t0, 10, 1), AppendInfo{}); err == nil {
				t.Fatal("append accepted after a failed seal")
			}
		})
	}
}

func TestCorruptSealedSegmentKeepsLaterOnes(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	ev := &events{}
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1024
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	for i := range 40 {
		mustAppend(t, l, keyedBatch(t, t0, fmt.Sprint("k", i), 4))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Bit rot in the middle of the second segment, whose index files are
	// then lost: that segment is truncated, later (trusted) ones are kept.
	ents, _ := fs.ReadDir("/p")
	var logs []string
	for _, e := range ents {
		if isLogFile(e.Name()) {
			logs = append(logs, "/p/"+e.Name())
		}
	}
	if len(logs) < 4 {
		t.Fatalf("%d segments", len(logs))
	}
	f, _ := fs.OpenFile(logs[1], 2, 0)
	st, _ := f.Stat()
	f.Close()
	data, _ := vfs.ReadFile(fs, logs[1])
	data[st.Size()/2] ^= 0xff
	if err := vfs.WriteFile(fs, logs[1], data, 0o644); err != nil {
		t.Fatal(err)
	}
	fs.Remove(strings.TrimSuffix(logs[1], LogSuffix) + IndexSuffix)
	l2 := mustOpen(t, "/p", opts)
	defer l2.Close()
	if l2.NextOffset() != 160 || l2.Stats().Segments != len(logs) {
		t.Fatalf("LEO %d, %d segments: later segments were dropped", l2.NextOffset(), l2.Stats().Segments)
	}
	if countEvents[TailTruncated](ev) != 1 || countEvents[IndexRebuilt](ev) != 1 {
		t.Fatalf("events %v", ev.list())
	}
	// Reads skip the gap.
	got := readAll(t, l2, 160)
	if len(got) >= 40 || len(got) < 30 {
		t.Fatalf("%d batches readable", len(got))
	}
}

func TestTailGapDropsLaterSegments(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	ev := &events{}
	opts := testOptions(fs, clk)
	opts.SegmentBytes = 1100
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	for i := range 6 { // two batches per segment
		mustAppend(t, l, valueBatch(t, t0, 450, byte(i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Segment 2 lost its last batch cleanly (a batch boundary), and neither
	// it nor segment 4 had index files yet: as after a crash right after
	// the roll. Segment 4 does not continue the log: it holds nothing
	// acknowledged and goes.
	for _, base := range []int64{2, 4} {
		for _, s := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix} {
			fs.Remove("/p/" + SegmentName(base, s))
		}
	}
	f, err := fs.OpenFile("/p/"+SegmentName(2, LogSuffix), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	f.Truncate(st.Size() / 2)
	f.Close()
	l = mustOpen(t, "/p", opts)
	defer l.Close()
	if l.NextOffset() != 3 || l.Stats().Segments != 2 {
		t.Fatalf("LEO %d, %d segments", l.NextOffset(), l.Stats().Segments)
	}
	var tt []TailTruncated
	for _, e := range ev.list() {
		if e, ok := e.(TailTruncated); ok {
			tt = append(tt, e)
		}
	}
	if len(tt) != 1 || len(tt[0].DeletedSegments) != 1 || tt[0].DeletedSegments[0] != 4 || !strings.Contains(tt[0].Err.Reason, "does not continue") {
		t.Fatalf("TailTruncated events %+v", tt)
	}
	if off := mustAppend(t, l, valueBatch(t, t0, 10, 9)); off != 3 {
		t.Fatalf("append at %d, want 3", off)
	}
}

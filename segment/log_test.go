package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

func TestAppendReadSync(t *testing.T) {
	clk := newClock(t0)
	ev := &events{}
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	defer l.Close()

	var sent [][]byte
	var bases []int64
	for i := range 20 {
		b := keyedBatch(t, t0+int64(i)*10, fmt.Sprint("k", i), 1+i%4)
		sent = append(sent, bytes.Clone(b))
		bases = append(bases, mustAppend(t, l, b))
	}
	next := int64(0)
	for i, b := range sent {
		if bases[i] != next {
			t.Fatalf("batch %d got base %d, want %d", i, bases[i], next)
		}
		h := record.ReadHeader(b)
		next += int64(h.LastOffsetDelta) + 1
	}
	if l.NextOffset() != next {
		t.Fatalf("NextOffset %d, want %d", l.NextOffset(), next)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.HighWatermark() != next {
		t.Fatalf("HighWatermark %d after Sync, want %d", l.HighWatermark(), next)
	}
	got := readAll(t, l, l.HighWatermark())
	for i, b := range sent {
		if !bytes.Equal(withoutBase(got[bases[i]]), b) {
			t.Fatalf("batch %d differs after read back", i)
		}
	}

	// A read starting inside a batch returns that batch; maxBytes smaller
	// than the first batch still returns it whole; upTo cuts at batches.
	data, err := l.Read(bases[3]+1, 1, next)
	if err != nil || len(data) != len(sent[3]) {
		t.Fatalf("Read inside batch: %d bytes, %v", len(data), err)
	}
	if data, err := l.Read(bases[2], 1<<20, bases[5]); err != nil || len(data) != len(sent[2])+len(sent[3])+len(sent[4]) {
		t.Fatalf("Read upTo: %d bytes, %v", len(data), err)
	}
	if data, err := l.Read(next, 100, next); err != nil || len(data) != 0 {
		t.Fatalf("Read at the end: %d bytes, %v", len(data), err)
	}
	var oor *OffsetOutOfRangeError
	if _, err := l.Read(next+1, 100, next+5); !errors.As(err, &oor) || oor.Code() != errcode.OffsetOutOfRange {
		t.Fatalf("Read past the end: %v", err)
	}
	if _, err := l.Read(-1, 100, next); !errors.As(err, &oor) {
		t.Fatalf("Read below the start: %v", err)
	}
	if countEvents[SegmentCreated](ev) != 1 {
		t.Fatalf("events %v", ev.list())
	}
	st := l.Stats()
	if st.Appends != 20 || st.Segments != 1 || st.NextOffset != next || st.UnsyncedBytes != 0 || st.Syncs == 0 {
		t.Fatalf("Stats %+v", st)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	clk := newClock(t0)
	l := mustOpen(t, "/p", testOptions(vfs.NewCrashFS(nil), clk))
	defer l.Close()
	good := keyedBatch(t, t0, "k", 3)
	var ib *InvalidBatchError
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	for name, b := range map[string][]byte{
		"short":     good[:30],
		"crc":       bad,
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
	} {
		if _, err := l.Append(b, AppendInfo{}); !errors.As(err, &ib) || ib.Code() != errcode.CorruptMessage {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := l.Append(bytes.Clone(good), AppendInfo{MaxTimestamp: t0 + 99}); !errors.As(err, &ib) {
		t.Errorf("mismatched MaxTimestamp: %v", err)
	}
	var big *BatchTooLargeError
	if _, err := l.Append(valueBatch(t, t0, 70<<10, 1), AppendInfo{}); !errors.As(err, &big) || big.Code() != errcode.RecordListTooLarge {
		t.Errorf("too large: %v", err)
	}
	if l.NextOffset() != 0 {
		t.Fatalf("rejected batches moved the LEO to %d", l.NextOffset())
	}
	if off, err := l.Append(bytes.Clone(good), AppendInfo{MaxTimestamp: t0 + 2, Keys: [][]byte{}}); err != nil || off != 0 {
		t.Fatalf("good batch: %d %v", off, err)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 32 << 10
	l := mustOpen(t, "/p", opts)

	const writers, perWriter = 8, 60
	type sentBatch struct {
		base int64
		data []byte
	}
	var mu sync.Mutex
	var sent []sentBatch
	stop := make(chan struct{})
	hwDone := make(chan error)
	go func() { // the high watermark never moves backwards
		last := int64(0)
		for {
			select {
			case <-stop:
				hwDone <- nil
				return
			default:
			}
			hw := l.HighWatermark()
			if hw < last {
				hwDone <- fmt.Errorf("high watermark moved back from %d to %d", last, hw)
				return
			}
			last = hw
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				b := keyedBatch(t, t0+int64(i), fmt.Sprintf("w%d-%d", w, i), 1+(w+i)%5)
				c := bytes.Clone(b)
				base, err := l.Append(b, AppendInfo{})
				if err != nil {
					t.Error(err)
					return
				}
				if i%7 == 0 {
					end := base + int64(record.ReadHeader(c).LastOffsetDelta) + 1
					if err := l.WaitDurable(context.Background(), end); err != nil {
						t.Error(err)
						return
					}
					if hw := l.HighWatermark(); hw < end {
						t.Errorf("WaitDurable(%d) returned with HW %d", end, hw)
					}
				}
				mu.Lock()
				sent = append(sent, sentBatch{base, c})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-hwDone; err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(sent, func(i, j int) bool { return sent[i].base < sent[j].base })
	next := int64(0)
	for _, s := range sent {
		if s.base != next {
			t.Fatalf("offsets not contiguous: batch at %d, expected %d", s.base, next)
		}
		next += int64(record.ReadHeader(s.data).LastOffsetDelta) + 1
	}
	if next != l.NextOffset() || next != l.HighWatermark() {
		t.Fatalf("LEO %d HW %d, batches end at %d", l.NextOffset(), l.HighWatermark(), next)
	}
	got := readAll(t, l, next)
	if len(got) != len(sent) {
		t.Fatalf("read %d batches, sent %d", len(got), len(sent))
	}
	for _, s := range sent {
		if !bytes.Equal(withoutBase(got[s.base]), s.data) {
			t.Fatalf("batch at %d differs", s.base)
		}
	}
	if l.Stats().Segments < 3 {
		t.Fatalf("expected several segments, got %d", l.Stats().Segments)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	clk := newClock(t0)
	l := mustOpen(t, "/p", testOptions(vfs.NewCrashFS(nil), clk))
	defer l.Close()
	// Everything is appended before anyone waits, so the scheduler cannot
	// serialise append-wait pairs: one fsync round covers all 64 waiters
	// (a second may start while the first is being gathered).
	const n = 64
	bases := make([]int64, n)
	for i := range n {
		base, err := l.Append(valueBatch(t, t0, 100, byte(i)), AppendInfo{})
		if err != nil {
			t.Fatal(err)
		}
		bases[i] = base
	}
	before := l.Stats().Syncs
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.WaitDurable(context.Background(), bases[i]+1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := l.Stats().Syncs - before; s > 2 {
		t.Fatalf("%d fsync rounds for %d waiters of already written data: no grouping", s, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.WaitDurable(ctx, l.NextOffset()+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable beyond the LEO: %v", err)
	}
}

func TestFlushTriggers(t *testing.T) {
	clk := newClock(t0)
	for _, tc := range []struct {
		name string
		set  func(*Options)
	}{
		{"FlushBytes", func(o *Options) { o.FlushBytes = 1000 }},
		{"FlushInterval", func(o *Options) { o.FlushInterval = 5 * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(vfs.NewCrashFS(nil), clk)
			tc.set(&opts)
			l := mustOpen(t, "/p", opts)
			defer l.Close()
			for range 5 {
				mustAppend(t, l, valueBatch(t, t0, 300, 1))
			}
			waitFor(t, "an fsync nobody asked for", func() bool { return l.HighWatermark() >= 3 })
		})
	}
	// Without triggers nothing is synced until someone asks.
	l := mustOpen(t, "/q", testOptions(vfs.NewCrashFS(nil), clk))
	defer l.Close()
	mustAppend(t, l, valueBatch(t, t0, 300, 1))
	time.Sleep(20 * time.Millisecond)
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("HW %d without any flush trigger", hw)
	}
}

func TestRollBySizeAndAge(t *testing.T) {
	clk := newClock(t0)
	ev := &events{}
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 4096
	opts.SegmentAge = time.Hour
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	defer l.Close()

	b := valueBatch(t, t0, 1000, 1)
	size := len(b)
	for range 4 {
		mustAppend(t, l, valueBatch(t, t0, 1000, 1))
	}
	// 4 batches of ~1070 bytes: the 4th does not fit in 4096 bytes.
	if n := l.Stats().Segments; n != 2 {
		t.Fatalf("%d segments after 4 batches of %d bytes", n, size)
	}
	rolled := ev.list()
	var sizeRolls, ageRolls int
	for _, e := range rolled {
		if r, ok := e.(SegmentRolled); ok {
			if r.Size > opts.SegmentBytes {
				t.Fatalf("rolled segment of %d bytes", r.Size)
			}
			switch r.Reason {
			case "size":
				sizeRolls++
			case "age":
				ageRolls++
			}
		}
	}
	if sizeRolls != 1 || ageRolls != 0 {
		t.Fatalf("rolls by size %d, by age %d", sizeRolls, ageRolls)
	}
	// Age: the active segment's first batch (t0) becomes older than an hour.
	mustAppend(t, l, valueBatch(t, t0, 10, 1))
	if n := l.Stats().Segments; n != 2 {
		t.Fatalf("rolled too early: %d segments", n)
	}
	clk.Advance(time.Hour + time.Second)
	mustAppend(t, l, valueBatch(t, clk.Now().UnixMilli(), 10, 1))
	if n := l.Stats().Segments; n != 3 {
		t.Fatalf("no roll by age: %d segments", n)
	}
	if countEvents[SegmentRolled](ev) != 2 || countEvents[SegmentCreated](ev) != 3 {
		t.Fatalf("events %v", ev.list())
	}
	// The housekeeper writes index files of rolled segments.
	waitFor(t, "index files of rolled segments", func() bool {
		_, err := opts.FS.Stat("/p/" + SegmentName(0, BloomSuffix))
		return err == nil
	})
}

func TestRollByAgeAfterReopen(t *testing.T) {
	clk := newClock(t0)
	ev := &events{}
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentAge = time.Hour
	opts.OnEvent = ev.add
	l := mustOpen(t, "/p", opts)
	mustAppend(t, l, valueBatch(t, t0, 10, 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened 59 minutes later, the segment's age still counts from its
	// first batch's timestamp, not from the reopen.
	clk.Advance(59 * time.Minute)
	l = mustOpen(t, "/p", opts)
	defer l.Close()
	mustAppend(t, l, valueBatch(t, clk.Now().UnixMilli(), 10, 1))
	clk.Advance(2 * time.Minute)
	mustAppend(t, l, valueBatch(t, clk.Now().UnixMilli(), 10, 1))
	var reasons []string
	for _, e := range ev.list() {
		if r, ok := e.(SegmentRolled); ok {
			reasons = append(reasons, r.Reason)
		}
	}
	if len(reasons) != 1 || reasons[0] != "age" || l.Stats().Segments != 2 {
		t.Fatalf("rolls %v, %d segments", reasons, l.Stats().Segments)
	}
}

func TestKillKeepsAppendedData(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	opts := testOptions(fs, clk)
	l := mustOpen(t, "/p", opts)
	var sent [][]byte
	for i := range 50 {
		b := keyedBatch(t, t0+int64(i), fmt.Sprint("k", i), 3)
		sent = append(sent, bytes.Clone(b))
		mustAppend(t, l, b)
	}
	after := fs.Kill() // the process dies: nothing was fsynced
	l.Close()
	opts.FS = after
	l2 := mustOpen(t, "/p", opts)
	defer l2.Close()
	if l2.NextOffset() != 150 || l2.HighWatermark() != 150 {
		t.Fatalf("LEO %d HW %d after kill, want 150", l2.NextOffset(), l2.HighWatermark())
	}
	got := readAll(t, l2, 150)
	for i, b := range sent {
		if !bytes.Equal(withoutBase(got[int64(3*i)]), b) {
			t.Fatalf("batch %d lost or changed", i)
		}
	}
	// The recovery fsynced what it kept: a machine crash now loses nothing.
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	opts.FS = after.Crash(vfs.KeepNone)
	l3 := mustOpen(t, "/p", opts)
	defer l3.Close()
	if l3.NextOffset() != 150 {
		t.Fatalf("LEO %d after kill and crash", l3.NextOffset())
	}
}

func TestCloseReopenReadsNoData(t *testing.T) {
	clk := newClock(t0)
	fs := vfs.NewCrashFS(nil)
	opts := testOptions(fs, clk)
	l := mustOpen(t, "/p", opts)
	for i := range 200 {
		mustAppend(t, l, keyedBatch(t, t0+int64(i), fmt.Sprint("k", i), 2))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append(keyedBatch(t, t0, "x", 1), AppendInfo{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Read(0, 10, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	if err := l.WaitDurable(context.Background(), 1<<40); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitDurable after Close: %v", err)
	}
	// Every segment, the active one included, has its index files: reopening
	// reads no .log data.
	efs := vfs.NewErrorFS(fs)
	efs.Inject(vfs.Fault{Op: vfs.OpRead, Match: func(n string) bool { return len(n) > 4 && n[len(n)-4:] == ".log" }})
	ev := &events{}
	opts.FS, opts.OnEvent = efs, ev.add
	l2 := mustOpen(t, "/p", opts)
	if l2.NextOffset() != 400 || countEvents[IndexRebuilt](ev) != 0 {
		t.Fatalf("LEO %d, events %v", l2.NextOffset(), ev.list())
	}
	efs.Reset()
	// And appends continue the same active segment's indexes.
	for i := range 20 {
		mustAppend(t, l2, keyedBatch(t, t0+int64(1000+i), "n", 2))
	}
	// Not durable yet: LookupKey reads below the high watermark only.
	recs, _, err := l2.LookupKey([]byte("n-1"), 0)
	if err != nil || len(recs) != 0 {
		t.Fatalf("LookupKey above the HW: %d records, %v", len(recs), err)
	}
	if err := l2.Sync(); err != nil {
		t.Fatal(err)
	}
	recs, _, err = l2.LookupKey([]byte("n-1"), 0)
	if err != nil || len(recs) != 20 {
		t.Fatalf("LookupKey after reopen: %d records, %v", len(recs), err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCompressedBatches(t *testing.T) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	l := mustOpen(t, "/p", opts)
	codecs := []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}
	for i, c := range codecs {
		recs := []rec{
			{ts: t0 + int64(10*i), key: []byte("shared"), value: []byte(c.String()), headers: []record.RecordHeader{{Key: []byte("codec"), Value: []byte(c.String())}}},
			{ts: t0 + int64(10*i) + 5, key: fmt.Appendf(nil, "only-%s", c), value: nil},
			{ts: t0 + int64(10*i) + 7, key: nil, value: []byte("no key")},
		}
		mustAppend(t, l, buildBatch(t, c, recs...))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		recs, _, err := l.LookupKey([]byte("shared"), 0)
		if err != nil || len(recs) != len(codecs) {
			t.Fatalf("shared: %d records, %v", len(recs), err)
		}
		for j, r := range recs { // newest first
			c := codecs[len(codecs)-1-j]
			if r.Offset != int64(3*(len(codecs)-1-j)) || string(r.Value) != c.String() || len(r.Headers) != 1 || string(r.Headers[0].Value) != c.String() || r.Timestamp != t0+int64(10*(len(codecs)-1-j)) {
				t.Fatalf("record %d: %+v", j, r)
			}
		}
		for _, c := range codecs {
			recs, _, err := l.LookupKey(fmt.Appendf(nil, "only-%s", c), 0)
			if err != nil || len(recs) != 1 || recs[0].Value != nil {
				t.Fatalf("only-%s: %+v %v", c, recs, err)
			}
		}
		// Record-level time lookup inside compressed batches.
		for i := range codecs {
			off, found, err := l.OffsetForTime(t0 + int64(10*i) + 3)
			if err != nil || !found || off != int64(3*i+1) {
				t.Fatalf("OffsetForTime in batch %d: %d %v %v", i, off, found, err)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Rebuild the bloom filter from the compressed data.
	for _, s := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix} {
		if err := opts.FS.Remove("/p/" + SegmentName(0, s)); err != nil {
			t.Fatal(err)
		}
	}
	l2 := mustOpen(t, "/p", opts)
	defer l2.Close()
	check(l2)
}

func TestOffsetForTime(t *testing.T) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 1024
	opts.IndexIntervalBytes = 200
	l := mustOpen(t, "/p", opts)
	defer l.Close()
	// Batch i has records at t0+100i .. t0+100i+2 (offsets 3i..3i+2), except
	// that timestamps go back in time once.
	type entry struct{ ts, off int64 }
	var all []entry
	for i := range 60 {
		base := t0 + 100*int64(i)
		if i == 30 {
			base = t0 // a late batch: maxTimestamp below its neighbours
		}
		recs := []rec{{ts: base + 2, key: []byte("a")}, {ts: base, key: []byte("b")}, {ts: base + 1, key: []byte("c")}}
		off := mustAppend(t, l, buildBatch(t, compress.None, recs...))
		all = append(all, entry{base + 2, off}, entry{base, off + 1}, entry{base + 1, off + 2})
	}
	l.Sync()
	// Reference: Kafka's rule, first batch (in offset order) whose max >= ts,
	// then first record in it with timestamp >= ts.
	ref := func(ts int64) (int64, bool) {
		for i := 0; i < len(all); i += 3 {
			mx := max(all[i].ts, all[i+1].ts, all[i+2].ts)
			if mx < ts {
				continue
			}
			for _, e := range all[i : i+3] {
				if e.ts >= ts {
					return e.off, true
				}
			}
		}
		return 0, false
	}
	for ts := t0 - 5; ts <= t0+100*60+5; ts += 7 {
		off, found, err := l.OffsetForTime(ts)
		wantOff, wantFound := ref(ts)
		if err != nil || found != wantFound || (found && off != wantOff) {
			t.Fatalf("OffsetForTime(%d) = %d %v %v, want %d %v", ts-t0, off, found, err, wantOff, wantFound)
		}
	}
	if l.Stats().Segments < 5 {
		t.Fatal("test needs several segments")
	}
}

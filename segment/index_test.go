package segment

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
)

func TestIndexEncodingRoundTrip(t *testing.T) {
	x := &OffsetIndex{BaseOffset: 100, LogSize: 5000, NextOffset: 180, Entries: []IndexEntry{{0, 0}, {10, 700}, {40, 2100}}}
	gx, err := DecodeOffsetIndex(x.Encode())
	if err != nil || !reflect.DeepEqual(gx, x) {
		t.Fatalf("offset index: %+v %v", gx, err)
	}
	if off, pos := gx.Lookup(139); off != 110 || pos != 700 {
		t.Fatalf("Lookup(139) = %d %d", off, pos)
	}
	if off, pos := gx.Lookup(140); off != 140 || pos != 2100 {
		t.Fatalf("Lookup(140) = %d %d", off, pos)
	}
	if off, pos := gx.Lookup(105); off != 100 || pos != 0 {
		t.Fatalf("Lookup below = %d %d", off, pos)
	}
	ti := &TimeIndex{BaseOffset: 100, LogSize: 5000, NextOffset: 180, MaxTimestamp: 900, MaxTimestampOffset: 150,
		Entries: []TimeEntry{{100, 0}, {500, 30}, {900, 50}}}
	gt, err := DecodeTimeIndex(ti.Encode())
	if err != nil || !reflect.DeepEqual(gt, ti) {
		t.Fatalf("time index: %+v %v", gt, err)
	}
	if off := gt.Lookup(499); off != 100 {
		t.Fatalf("time Lookup(499) = %d", off)
	}
	if off := gt.Lookup(500); off != 130 {
		t.Fatalf("time Lookup(500) = %d", off)
	}
	c := checkpoint{logStartOffset: 12345}
	if gc, err := decodeCheckpoint(c.encode()); err != nil || gc != c {
		t.Fatalf("checkpoint: %+v %v", gc, err)
	}

	// Every single-byte corruption and every truncation is refused.
	for name, enc := range map[string][]byte{"index": x.Encode(), "time": ti.Encode(), "checkpoint": c.encode()} {
		decode := func(b []byte) error {
			var err error
			switch name {
			case "index":
				_, err = DecodeOffsetIndex(b)
			case "time":
				_, err = DecodeTimeIndex(b)
			default:
				_, err = decodeCheckpoint(b)
			}
			return err
		}
		for i := range enc {
			b := bytes.Clone(enc)
			b[i] ^= 0x10
			var fe *FormatError
			if err := decode(b); !errors.As(err, &fe) {
				t.Fatalf("%s: flipped byte %d accepted: %v", name, i, err)
			}
			if err := decode(enc[:i]); err == nil {
				t.Fatalf("%s: truncation to %d accepted", name, i)
			}
		}
	}
}

func TestBloomFilter(t *testing.T) {
	b := NewBloom(0.01)
	const n = 20000
	for i := range n {
		b.Add(fmt.Appendf(nil, "key-%d", i))
		b.Add(fmt.Appendf(nil, "key-%d", i)) // repeats do not count
	}
	if k := b.Keys(); k > n || k < n*98/100 {
		t.Fatalf("Keys = %d for %d distinct keys", k, n)
	}
	for i := range n {
		if !b.MayContain(fmt.Appendf(nil, "key-%d", i)) {
			t.Fatalf("false negative for key-%d", i)
		}
	}
	fp := 0
	for i := range n {
		if b.MayContain(fmt.Appendf(nil, "absent-%d", i)) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.01 {
		t.Fatalf("false-positive rate %.4f above 0.01", rate)
	}
	if len(b.filters) < 3 {
		t.Fatalf("%d filters for %d keys: did not scale", len(b.filters), n)
	}
	b.BaseOffset, b.LogSize, b.NextOffset = 7, 9, 11
	enc := b.Encode()
	d, err := DecodeBloom(enc)
	if err != nil || !reflect.DeepEqual(d, b) {
		t.Fatalf("round trip: %v", err)
	}
	for i := 0; i < len(enc); i += 97 {
		c := bytes.Clone(enc)
		c[i] ^= 1
		if _, err := DecodeBloom(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	all := NewBloom(0.01)
	all.SetAll()
	all.Add([]byte("x"))
	if d, err := DecodeBloom(all.Encode()); err != nil || !d.MayContain([]byte("anything")) {
		t.Fatalf("all-keys filter: %v", err)
	}
}

// logFixture builds a closed multi-segment log with keyed, compressed and
// uncompressed batches and returns it with its options.
func logFixture(t *testing.T) (Options, int) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 2048
	opts.IndexIntervalBytes = 256
	l := mustOpen(t, "/p", opts)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 150 {
		n := 1 + rng.IntN(5)
		recs := make([]rec, n)
		for j := range recs {
			recs[j] = rec{ts: t0 + int64(i)*10 + int64(j), key: fmt.Appendf(nil, "key-%d", rng.IntN(300)), value: fmt.Appendf(nil, "v%d-%d", i, j)}
		}
		codec := []compress.Codec{compress.None, compress.Gzip, compress.LZ4, compress.Snappy, compress.Zstd}[i%5]
		mustAppend(t, l, buildBatch(t, codec, recs...))
	}
	segs := l.Stats().Segments
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return opts, segs
}

// snapshot captures what the log answers, to compare across rebuilds.
type snapshot struct {
	batches map[int64][]byte
	times   map[int64]int64
	keys    map[string][]KeyRecord
}

func takeSnapshot(t *testing.T, l *Log) snapshot {
	s := snapshot{batches: readAll(t, l, l.HighWatermark()), times: map[int64]int64{}, keys: map[string][]KeyRecord{}}
	for ts := t0 - 1; ts < t0+1510; ts += 13 {
		off, found, err := l.OffsetForTime(ts)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			off = -1
		}
		s.times[ts] = off
	}
	for k := range 310 {
		key := fmt.Sprintf("key-%d", k)
		recs, _, err := l.LookupKey([]byte(key), 0)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[key] = recs
	}
	return s
}

func TestIndexFilesRebuilt(t *testing.T) {
	opts, segs := logFixture(t)
	if segs < 8 {
		t.Fatalf("fixture has %d segments", segs)
	}
	l := mustOpen(t, "/p", opts)
	want := takeSnapshot(t, l)
	l.Close()
	fs := opts.FS
	ents, _ := fs.ReadDir("/p")

	// 1. Every index file deleted.
	for _, e := range ents {
		if !isLogFile(e.Name()) && e.Name() != checkpointName {
			fs.Remove("/p/" + e.Name())
		}
	}
	ev := &events{}
	opts.OnEvent = ev.add
	l = mustOpen(t, "/p", opts)
	if got := takeSnapshot(t, l); !reflect.DeepEqual(got, want) {
		t.Fatal("answers differ after rebuilding every index file")
	}
	if n := countEvents[IndexRebuilt](ev); n != segs-1 {
		t.Fatalf("%d IndexRebuilt events for %d sealed segments", n, segs-1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The rebuilt files were written: no .log byte is read on the next open.
	efs := vfs.NewErrorFS(fs)
	efs.Inject(vfs.Fault{Op: vfs.OpRead, Match: isLogFile})
	opts.FS = efs
	l = mustOpen(t, "/p", opts)
	l.Close()
	opts.FS = fs

	// 2. Corrupt, truncated, inconsistent and stale files.
	ents, _ = fs.ReadDir("/p")
	var idx, tidx, blooms []string
	for _, e := range ents {
		switch {
		case strings.HasSuffix(e.Name(), IndexSuffix):
			idx = append(idx, "/p/"+e.Name())
		case strings.HasSuffix(e.Name(), TimeIndexSuffix):
			tidx = append(tidx, "/p/"+e.Name())
		case strings.HasSuffix(e.Name(), BloomSuffix):
			blooms = append(blooms, "/p/"+e.Name())
		}
	}
	flip := func(p string, at int) {
		b, _ := vfs.ReadFile(fs, p)
		b[at%len(b)] ^= 0x40
		vfs.WriteFile(fs, p, b, 0o644)
	}
	flip(idx[0], 30)
	b, _ := vfs.ReadFile(fs, blooms[1])
	vfs.WriteFile(fs, blooms[1], b[:len(b)/2], 0o644)
	t3, _ := vfs.ReadFile(fs, tidx[3]) // a time index from another segment
	vfs.WriteFile(fs, tidx[2], t3, 0o644)
	// Stale: index files of segment 4 claim more data than its log holds.
	x4, _ := vfs.ReadFile(fs, idx[4])
	dx, _ := DecodeOffsetIndex(x4)
	dx.LogSize += 100
	vfs.WriteFile(fs, idx[4], dx.Encode(), 0o644)
	ev = &events{}
	opts.OnEvent = ev.add
	l = mustOpen(t, "/p", opts)
	defer l.Close()
	if got := takeSnapshot(t, l); !reflect.DeepEqual(got, want) {
		t.Fatal("answers differ after rebuilding damaged index files")
	}
	reasons := map[int64]string{}
	for _, e := range ev.list() {
		if r, ok := e.(IndexRebuilt); ok {
			reasons[r.BaseOffset] = r.Reason
		}
	}
	if len(reasons) != 4 {
		t.Fatalf("rebuilt %v", reasons)
	}
	for _, r := range reasons {
		if r == "" {
			t.Fatalf("rebuilt without a reason: %v", reasons)
		}
	}
}

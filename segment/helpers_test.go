package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is a realistic timestamp (ms) for test records.
const t0 = int64(1_700_000_000_000)

// clock is a settable fake clock.
type clock struct{ ms atomic.Int64 }

func newClock(ms int64) *clock {
	c := &clock{}
	c.ms.Store(ms)
	return c
}

func (c *clock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type rec struct {
	ts         int64
	key, value []byte
	headers    []record.RecordHeader
}

// buildBatch builds one v2 batch of recs with the codec.
func buildBatch(t testing.TB, codec compress.Codec, recs ...rec) []byte {
	t.Helper()
	b := record.NewBuilder()
	b.Codec = codec
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers...)
	}
	out, err := b.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyedBatch builds a batch of n records with keys prefix-0..n-1 at ts.
func keyedBatch(t testing.TB, ts int64, prefix string, n int) []byte {
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{ts: ts + int64(i), key: fmt.Appendf(nil, "%s-%d", prefix, i), value: fmt.Appendf(nil, "value of %s-%d", prefix, i)}
	}
	return buildBatch(t, compress.None, recs...)
}

// valueBatch builds a batch of one record of size bytes (no key).
func valueBatch(t testing.TB, ts int64, size int, fill byte) []byte {
	return buildBatch(t, compress.None, rec{ts: ts, value: bytes.Repeat([]byte{fill}, size)})
}

func testOptions(fs vfs.FS, clk *clock) Options {
	return Options{FS: fs, Now: clk.Now, SegmentBytes: 64 << 10, IndexIntervalBytes: 512}
}

func mustOpen(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) int64 {
	t.Helper()
	off, err := l.Append(b, AppendInfo{})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return off
}

// withoutBase returns a copy of b with the baseOffset field zeroed.
func withoutBase(b []byte) []byte {
	c := bytes.Clone(b)
	record.SetBaseOffset(c, 0)
	return c
}

// readAll reads every batch from the log start up to upTo, one Read at a
// time, checking framing and CRC, and returns them keyed by base offset.
func readAll(t testing.TB, l *Log, upTo int64) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	for off := l.StartOffset(); off < upTo; {
		data, err := l.Read(off, 256<<10, upTo)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("Read(%d) returned nothing below %d", off, upTo)
		}
		for len(data) > 0 {
			h := record.ReadHeader(data)
			b := data[:h.Size()]
			if !record.CRCValid(b) {
				t.Fatalf("batch at offset %d: bad CRC", h.BaseOffset)
			}
			if h.BaseOffset < off && h.LastOffset() < off {
				t.Fatalf("Read(%d) returned batch %d..%d", off, h.BaseOffset, h.LastOffset())
			}
			out[h.BaseOffset] = b
			off = h.LastOffset() + 1
			data = data[h.Size():]
		}
	}
	return out
}

// events records Options.OnEvent calls.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

func countEvents[T Event](e *events) int {
	n := 0
	for _, ev := range e.list() {
		if _, ok := ev.(T); ok {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or a timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// memArchiver is an in-memory Archiver whose uploads can be made to fail.
type memArchiver struct {
	mu       sync.Mutex
	segs     map[int64]*memRemote
	fail     int // fail this many Archive calls (-1: all)
	archives int // successful Archive calls
	attempts int
	deleted  []int64
	reads    int
}

type memRemote struct {
	seg              RemoteSegment
	data             []byte
	idx              *OffsetIndex
	tidx             *TimeIndex
	bloom            *Bloom
	rawIdx, rawTidx  []byte
	rawBloom, rawLog []byte
}

func newMemArchiver() *memArchiver { return &memArchiver{segs: map[int64]*memRemote{}} }

var errUpload = errors.New("upload refused")

func (a *memArchiver) setFail(n int) {
	a.mu.Lock()
	a.fail = n
	a.mu.Unlock()
}

func (a *memArchiver) Archive(ctx context.Context, s SealedSegment) error {
	a.mu.Lock()
	a.attempts++
	if a.fail != 0 {
		if a.fail > 0 {
			a.fail--
		}
		a.mu.Unlock()
		return errUpload
	}
	a.mu.Unlock()
	r := &memRemote{seg: s.Remote()}
	var err error
	read := func(p string) []byte {
		b, e := vfs.ReadFile(s.FS, p)
		if e != nil && err == nil {
			err = e
		}
		return b
	}
	r.rawLog, r.rawIdx, r.rawTidx, r.rawBloom = read(s.LogPath), read(s.IndexPath), read(s.TimeIndexPath), read(s.BloomPath)
	if err != nil {
		return err
	}
	if int64(len(r.rawLog)) != s.Size {
		return fmt.Errorf("log file has %d bytes, segment says %d", len(r.rawLog), s.Size)
	}
	r.data = r.rawLog
	if r.idx, err = DecodeOffsetIndex(r.rawIdx); err != nil {
		return err
	}
	if r.tidx, err = DecodeTimeIndex(r.rawTidx); err != nil {
		return err
	}
	if r.bloom, err = DecodeBloom(r.rawBloom); err != nil {
		return err
	}
	if r.idx.LogSize != s.Size || r.idx.NextOffset != s.NextOffset {
		return fmt.Errorf("index describes %d bytes up to %d, segment %d up to %d", r.idx.LogSize, r.idx.NextOffset, s.Size, s.NextOffset)
	}
	a.mu.Lock()
	a.segs[s.BaseOffset] = r
	a.archives++
	a.mu.Unlock()
	return nil
}

func (a *memArchiver) Segments(ctx context.Context) ([]RemoteSegment, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []RemoteSegment
	for _, r := range a.segs {
		out = append(out, r.seg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BaseOffset < out[j].BaseOffset })
	return out, nil
}

func (a *memArchiver) get(seg RemoteSegment) (*memRemote, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.segs[seg.BaseOffset]
	if r == nil {
		return nil, fmt.Errorf("no remote segment %d", seg.BaseOffset)
	}
	a.reads++
	return r, nil
}

func (a *memArchiver) Read(ctx context.Context, seg RemoteSegment, offset int64, maxBytes int) ([]byte, error) {
	r, err := a.get(seg)
	if err != nil {
		return nil, err
	}
	return ReadSegment(bytes.NewReader(r.data), int64(len(r.data)), r.idx, offset, maxBytes, r.seg.NextOffset)
}

func (a *memArchiver) OffsetForTime(ctx context.Context, seg RemoteSegment, ts int64) (int64, bool, error) {
	r, err := a.get(seg)
	if err != nil {
		return 0, false, err
	}
	return SegmentOffsetForTime(bytes.NewReader(r.data), int64(len(r.data)), r.idx, r.tidx, ts)
}

func (a *memArchiver) MayContainKey(ctx context.Context, seg RemoteSegment, key []byte) (bool, error) {
	r, err := a.get(seg)
	if err != nil {
		return false, err
	}
	return r.bloom.MayContain(key), nil
}

func (a *memArchiver) Delete(ctx context.Context, seg RemoteSegment) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.segs, seg.BaseOffset)
	a.deleted = append(a.deleted, seg.BaseOffset)
	return nil
}

func (a *memArchiver) stored() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int64
	for b := range a.segs {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

package tier

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
)

// testEpoch is the timestamp of the first test record; the test log's
// clock stands a little after it, so no segment rolls by age.
const testEpoch = 1_700_000_000_000

// testBatch is one batch appended to a test log, as stored.
type testBatch struct {
	base, last int64
	maxTs      int64
	keys       []string
	bytes      []byte
}

// testLog is a set of segments written by a real segment.Log.
type testLog struct {
	fs      vfs.FS
	dir     string
	segs    []segment.SealedSegment
	batches []testBatch
}

// buildLog appends n batches of 1-5 keyed records (values of about
// valueSize bytes, every 7th batch gzip-compressed) to a segment.Log with
// the given segment size, closes it and returns every segment, the active
// one included (its index files are written at Close).
func buildLog(t testing.TB, n, valueSize int, segmentBytes int64) *testLog {
	t.Helper()
	fs := vfs.NewCrashFS(nil)
	const dir = "/log"
	now := func() time.Time { return time.UnixMilli(testEpoch + 3_600_000) }
	l, err := segment.Open(dir, segment.Options{FS: fs, SegmentBytes: segmentBytes, IndexIntervalBytes: 1024, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tl := &testLog{fs: fs, dir: dir}
	b := record.NewBuilder()
	for i := range n {
		b.Reset()
		if i%7 == 3 {
			b.Codec = compress.Gzip
		}
		var keys []string
		for j := range 1 + i%5 {
			k := fmt.Sprintf("key-%d-%d", i, j)
			keys = append(keys, k)
			v := make([]byte, valueSize/2+rng.IntN(valueSize+1))
			for x := range v {
				v[x] = byte('a' + rng.IntN(26))
			}
			b.Append(testEpoch+int64(10*i+j), []byte(k), v)
		}
		batch, err := b.Finish(nil)
		if err != nil {
			t.Fatal(err)
		}
		base, err := l.Append(batch, segment.AppendInfo{})
		if err != nil {
			t.Fatal(err)
		}
		h := record.ReadHeader(batch)
		tl.batches = append(tl.batches, testBatch{base: base, last: h.LastOffset(), maxTs: h.MaxTimestamp, keys: keys, bytes: bytes.Clone(batch)})
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		digits, ok := strings.CutSuffix(e.Name(), segment.LogSuffix)
		if !ok {
			continue
		}
		var base int64
		if _, err := fmt.Sscanf(digits, "%d", &base); err != nil {
			t.Fatal(err)
		}
		p := func(suffix string) string { return path.Join(dir, segment.SegmentName(base, suffix)) }
		raw, err := vfs.ReadFile(fs, p(segment.TimeIndexSuffix))
		if err != nil {
			t.Fatal(err)
		}
		tidx, err := segment.DecodeTimeIndex(raw)
		if err != nil {
			t.Fatal(err)
		}
		tl.segs = append(tl.segs, segment.SealedSegment{
			BaseOffset: base, NextOffset: tidx.NextOffset, MaxTimestamp: tidx.MaxTimestamp, Size: tidx.LogSize,
			FS: fs, LogPath: p(segment.LogSuffix), IndexPath: p(segment.IndexSuffix),
			TimeIndexPath: p(segment.TimeIndexSuffix), BloomPath: p(segment.BloomSuffix),
		})
	}
	if len(tl.segs) == 0 {
		t.Fatal("the log wrote no segment")
	}
	return tl
}

// logBytes returns the .log bytes of seg.
func (tl *testLog) logBytes(t testing.TB, seg segment.SealedSegment) []byte {
	t.Helper()
	b, err := vfs.ReadFile(tl.fs, seg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// batchAt returns the batch holding offset.
func (tl *testLog) batchAt(offset int64) testBatch {
	for _, b := range tl.batches {
		if b.base <= offset && offset <= b.last {
			return b
		}
	}
	panic(fmt.Sprintf("no batch holds offset %d", offset))
}

// stored returns the batch as the log stored it (with its base offset).
func (b testBatch) stored() []byte {
	out := bytes.Clone(b.bytes)
	record.SetBaseOffset(out, b.base)
	return out
}

// countingStore counts the calls to an ObjectStore and the bytes its Get
// readers deliver.
type countingStore struct {
	storage.ObjectStore
	puts, gets, lists, deletes atomic.Int64
	getBytes                   atomic.Int64
	openEnded                  atomic.Int64 // Gets with length < 0
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.puts.Add(1)
	return c.ObjectStore.Put(ctx, key, r, size)
}

func (c *countingStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	if length < 0 {
		c.openEnded.Add(1)
	}
	rc, err := c.ObjectStore.Get(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return countingReader{rc: rc, n: &c.getBytes}, nil
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	c.lists.Add(1)
	return c.ObjectStore.List(ctx, prefix, fn)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.ObjectStore.Delete(ctx, key)
}

type countingReader struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func (r countingReader) Close() error { return r.rc.Close() }

// getObject returns the whole stored object at key.
func getObject(t testing.TB, s storage.ObjectStore, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t testing.TB, s storage.ObjectStore, key string, b []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// fastOptions retries quickly, for tests.
var fastOptions = Options{RetryMin: 100 * time.Microsecond, RetryMax: 2 * time.Millisecond}

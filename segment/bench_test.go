package segment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

const benchBatchValue = 16<<10 - 80 // one record; the batch is just under 16 KiB

// BenchmarkAppendGroupCommit: 8 goroutines append 16 KiB batches to a log
// on the real file system, each waiting for its batch to be durable
// (acks=all, one request in flight) before the next. Compare MB/s with
// BenchmarkRawFsyncEvery1MiB (the machine's limit) and
// BenchmarkRawFsyncEvery128KiB (the limit with 8 x 16 KiB in flight) from
// the same run. Every batch is read back and compared at the end.
func BenchmarkAppendGroupCommit(b *testing.B) { benchGroupCommit(b, 1) }

// BenchmarkAppendGroupCommitPipelined is the same with up to 8 batches in
// flight per appender (a producer's max.in.flight.requests), so that a
// round can cover 1 MiB as the raw benchmark's fsyncs do.
func BenchmarkAppendGroupCommitPipelined(b *testing.B) { benchGroupCommit(b, 8) }

func benchGroupCommit(b *testing.B, depth int) {
	const writers = 8
	dir := b.TempDir()
	l, err := Open(filepath.Join(dir, "p"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	templates := make([][]byte, writers)
	for w := range templates {
		// Timestamps of now: older ones would roll a segment per batch
		// (segment.ms counts from the first batch's timestamp).
		templates[w] = buildBatch(b, compress.None, rec{ts: time.Now().UnixMilli(), key: []byte{byte(w)}, value: bytes.Repeat([]byte{byte('a' + w)}, benchBatchValue)})
	}
	b.SetBytes(int64(len(templates[0])))
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			buf := bytes.Clone(templates[w])
			var pending []int64 // ends of batches not yet known durable
			for next.Add(1) <= int64(b.N) {
				base, err := l.Append(buf, AppendInfo{Keys: [][]byte{{byte(w)}}})
				if err != nil {
					b.Error(err)
					return
				}
				pending = append(pending, base+1)
				if len(pending) == depth {
					if err := l.WaitDurable(context.Background(), pending[0]); err != nil {
						b.Error(err)
						return
					}
					pending = pending[1:]
				}
			}
			if n := len(pending); n > 0 {
				if err := l.WaitDurable(context.Background(), pending[n-1]); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(b.N)/float64(max(st.Syncs, 1)), "batches/fsync")
	if st.NextOffset != int64(b.N) || st.HighWatermark != int64(b.N) {
		b.Fatalf("LEO %d HW %d after %d appends", st.NextOffset, st.HighWatermark, b.N)
	}
	// Reconcile: every batch is one of the writers' batches, byte-exact.
	for off := int64(0); off < int64(b.N); {
		data, err := l.Read(off, 4<<20, int64(b.N))
		if err != nil {
			b.Fatal(err)
		}
		for len(data) > 0 {
			h := record.ReadHeader(data)
			batch := withoutBase(data[:h.Size()])
			if h.BaseOffset != off || !bytes.Equal(batch, templates[batch[len(batch)-2]-'a']) {
				b.Fatalf("batch at %d differs from what was appended", off)
			}
			off++
			data = data[h.Size():]
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawFsyncEvery1MiB is the machine's limit for the same bytes:
// sequential 16 KiB writes to one file with an fdatasync every 1 MiB,
// through the same vfs.OS. The file is read back and checked at the end.
func BenchmarkRawFsyncEvery1MiB(b *testing.B) { benchRawFsync(b, 64) }

// BenchmarkRawFsyncEvery128KiB is the limit when only 128 KiB (8 batches of
// 16 KiB) can be in flight per fsync, as in BenchmarkAppendGroupCommit.
func BenchmarkRawFsyncEvery128KiB(b *testing.B) { benchRawFsync(b, 8) }

func benchRawFsync(b *testing.B, every int) {
	path := filepath.Join(b.TempDir(), "raw")
	f, err := vfs.OS.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 16<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if (i+1)%every == 0 || i == b.N-1 {
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	got := make([]byte, len(buf))
	for i := range b.N {
		if err := readFull(f, got, int64(i*len(buf))); err != nil || !bytes.Equal(got, buf) {
			b.Fatalf("block %d differs: %v", i, err)
		}
	}
	f.Close()
}

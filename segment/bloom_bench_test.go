//go:build unix

package segment

import (
	"bytes"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
)

// cpuTimer adds up the process's CPU time (user and system) over the spans
// between start and stop. On a loaded machine wall time also counts the
// time spent waiting for a CPU; the "cpu-ns/op" metric it reports does not.
type cpuTimer struct{ total, since time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuTimer) start() { c.since = cpuNow() }
func (c *cpuTimer) stop()  { c.total += cpuNow() - c.since }

// report adds the metric, per operation of b.
func (c *cpuTimer) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// filledBloom returns a filter at the default rate holding keys 0..n-1.
func filledBloom(n int) *Bloom {
	b := NewBloom(DefaultBloomFalsePositiveRate)
	var k []byte
	for i := range uint64(n) {
		k = benchKey(k, i)
		b.Add(k)
	}
	return b
}

// BenchmarkBloomAdd adds new distinct 16-byte keys to a filter that already
// holds keys=N of them. Every step keys (N/10, between 100 and 10000) the
// filter is restored, untimed, to its N-key state, so that every Add sees
// between N and 1.1 N keys.
func BenchmarkBloomAdd(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			snapshot := filledBloom(n).Encode()
			step := min(max(n/10, 100), 10_000)
			f, err := DecodeBloom(snapshot)
			if err != nil {
				b.Fatal(err)
			}
			k := make([]byte, 0, 16)
			i, added := uint64(n), 0
			var cpu cpuTimer
			cpu.start()
			for b.Loop() {
				if added == step {
					cpu.stop()
					b.StopTimer()
					if f, err = DecodeBloom(snapshot); err != nil {
						b.Fatal(err)
					}
					i, added = uint64(n), 0
					b.StartTimer()
					cpu.start()
				}
				k = benchKey(k, i)
				f.Add(k)
				i++
				added++
			}
			cpu.stop()
			cpu.report(b)
		})
	}
}

// BenchmarkBloomAddRepeated adds keys the filter (1M keys) already holds:
// the path of a producer reusing a small key set.
func BenchmarkBloomAddRepeated(b *testing.B) {
	const n = 1_000_000
	f := filledBloom(n)
	k := make([]byte, 0, 16)
	i := uint64(0)
	var cpu cpuTimer
	cpu.start()
	for b.Loop() {
		k = benchKey(k, i%n)
		f.Add(k)
		i++
	}
	cpu.stop()
	cpu.report(b)
}

// BenchmarkBloomMayContain tests present and absent keys against a filter
// holding 1M keys.
func BenchmarkBloomMayContain(b *testing.B) {
	const n = 1_000_000
	f := filledBloom(n)
	for _, c := range []struct {
		name  string
		first uint64
	}{{"present", 0}, {"absent", 1 << 40}} {
		b.Run(c.name, func(b *testing.B) {
			k := make([]byte, 0, 16)
			i, hits := uint64(0), 0
			var cpu cpuTimer
			cpu.start()
			for b.Loop() {
				k = benchKey(k, c.first+i%n)
				if f.MayContain(k) {
					hits++
				}
				i++
			}
			cpu.stop()
			cpu.report(b)
			b.ReportMetric(float64(hits)/float64(i), "positive/op")
		})
	}
}

// BenchmarkBloomAppendSmallRecords appends batches of 100 records of 100
// bytes, each with a distinct 16-byte key, to a log on the real file system
// (no fsync waited for, as with acks=1): the append path whose cost the
// bloom filter dominates with small records. The segment's filter grows by
// 100 keys per batch.
func BenchmarkBloomAppendSmallRecords(b *testing.B) {
	const perBatch = 100
	l, err := Open(filepath.Join(b.TempDir(), "p"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := make([]rec, perBatch)
	keys := make([][]byte, perBatch)
	ts := time.Now().UnixMilli()
	for i := range recs {
		recs[i] = rec{ts: ts, key: benchKey(nil, uint64(i)), value: bytes.Repeat([]byte{'v'}, 100-16)}
	}
	batch := buildBatch(b, compress.None, recs...)
	b.SetBytes(int64(len(batch)))
	next := uint64(0)
	var cpu cpuTimer
	cpu.start()
	for b.Loop() {
		for i := range keys {
			keys[i] = benchKey(keys[i], next)
			next++
		}
		if _, err := l.Append(batch, AppendInfo{Keys: keys}); err != nil {
			b.Fatal(err)
		}
	}
	cpu.stop()
	cpu.report(b)
}

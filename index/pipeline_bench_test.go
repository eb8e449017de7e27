package index_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// BenchmarkPipeline measures how fast the pipeline catches up: 2 partitions
// of 20 000 JSON log records each (batches of 100, every codec in turn) are
// produced with indexing off, then a Pipeline with default options indexes
// them into a Bluge index; the clock runs from Start until both partitions
// are searchable. It reports documents per second and the process's CPU
// time per document.
func BenchmarkPipeline(b *testing.B) {
	const parts, perPart = 2, 20000
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, envOptions{noIndexing: true})
		e.topic("bench", parts, nil)
		produceLogs(b, e, "bench", parts, perPart, 100)
		pl, ix := benchPipeline(b, e.meta)
		cpu0 := processCPUTime()
		start := time.Now()
		b.StartTimer()
		if err := pl.Start(e.h); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		for p := range int32(parts) {
			if err := pl.WaitIndexed(ctx, "bench", p, perPart); err != nil {
				b.Fatal(err)
			}
		}
		cancel()
		b.StopTimer()
		el := time.Since(start)
		b.ReportMetric(float64(parts*perPart)/el.Seconds(), "docs/s")
		b.ReportMetric(float64((processCPUTime()-cpu0).Microseconds())/float64(parts*perPart), "cpu-us/doc")
		if err := pl.Close(); err != nil {
			b.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// processCPUTime is the CPU time (user and system) the process has used.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPipeline opens a Bluge index with its defaults in a temporary
// directory and a pipeline indexing every topic of topics into it, not
// started; the caller closes both.
func benchPipeline(b *testing.B, topics index.Topics) (*index.Pipeline, *index.Bluge) {
	b.Helper()
	ix, err := index.OpenBluge(b.TempDir(), index.BlugeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pl, err := index.NewPipeline(ix, topics, index.PipelineOptions{EnableByDefault: true})
	if err != nil {
		b.Fatal(err)
	}
	return pl, ix
}

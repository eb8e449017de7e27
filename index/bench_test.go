package index

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// corpusBatches splits the corpus across partitions (record i goes to
// partition i%parts at offset i/parts) in Index batches of size docs.
func corpusBatches(c *genCorpus, topic string, parts, size int) [][]*Batch {
	out := make([][]*Batch, parts)
	for p := range parts {
		var cur *Batch
		for i := p; i < len(c.docs); i += parts {
			if cur == nil || len(cur.Docs) == size {
				cur = &Batch{Topic: topic, Partition: int32(p)}
				out[p] = append(out[p], cur)
			}
			off := int64(i / parts)
			cur.Docs = append(cur.Docs, Document{Offset: off, Timestamp: c.ts[i], Key: c.keys[i], Value: c.docs[i]})
			cur.Next = off + 1
		}
	}
	return out
}

// checkCorpusCounts runs queries whose hit counts the generator computed.
func checkCorpusCounts(tb testing.TB, ix Indexer, topic string, c *genCorpus) {
	tb.Helper()
	k := c.counts
	checks := []struct {
		q    Query
		want int
	}{
		{&MatchAllQuery{}, len(c.docs)},
		{&TermQuery{Field: "level.keyword", Value: "ERROR"}, k.levelError},
		{&MatchQuery{Field: "message", Query: genWord}, k.msgWord},
		{&TermQuery{Field: "http.status", Value: 500}, k.status500},
		{&RangeQuery{Field: "http.latency_ms", GT: 900}, k.slow},
		{&TermQuery{Field: "user.id.keyword", Value: "u-000042"}, k.userU42},
		{&TermQuery{Field: "retry", Value: true}, k.retryTrue},
		{&MatchPhraseQuery{Field: "message", Query: "quick brown"}, k.phrase},
		{&PrefixQuery{Field: "host.keyword", Value: "web-07"}, k.hostPrefix07},
	}
	for _, ch := range checks {
		res, err := ix.Search(context.Background(), topic, &Request{Query: ch.q})
		if err != nil {
			tb.Fatal(err)
		}
		if res.Total != int64(ch.want) {
			tb.Fatalf("%T%+v: %d hits, want %d", ch.q, ch.q, res.Total, ch.want)
		}
	}
}

// BenchmarkOurIndexer indexes the corpus with the Bluge Indexer, as the
// pipeline does: one index per partition, the partitions indexed in
// parallel, Index batches of 2048 documents; the clock stops when
// everything is durable (Flush). It reports documents per second.
func BenchmarkOurIndexer(b *testing.B) {
	c := benchCorpus()
	for _, parts := range []int{1, 2} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			for b.Loop() {
				ix, err := OpenBluge(b.TempDir(), BlugeOptions{})
				if err != nil {
					b.Fatal(err)
				}
				batches := corpusBatches(c, "bench", parts, 2048)
				cpu0 := processCPU()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, parts)
				for p := range parts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, bt := range batches[p] {
							if err := ix.Index(context.Background(), bt); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if err := ix.Flush(); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(len(c.docs)), "cpu-us/doc")
				checkCorpusCounts(b, ix, "bench", c)
				b.ReportMetric(float64(dirSize(b, ix.root))/float64(len(c.docs)), "disk-B/doc")
				if err := ix.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(c.docs))/el.Seconds(), "docs/s")
			}
		})
	}
}

// dirSize sums the sizes of the files under dir.
func dirSize(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

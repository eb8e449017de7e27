package index_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// A trickle is a steady stream of small produce requests, as a client
// with a linger sends them at a modest rate, through a produce.Handler
// (acks=1, its default Linger) into a Pipeline feeding a Bluge index: the
// condition of the bench tool's freshness workload, in process. It
// measures, for the last record of every request, where the time from
// its acknowledgement to its searchability goes.
type trickle struct {
	rate       int           // records per second offered
	every      time.Duration // one produce request per every (the client's linger)
	duration   time.Duration // how long records are offered
	partitions int32
	// search, when positive, sends a terms query on trace_id.keyword for
	// every request not yet found this often, as the bench tool does, and
	// measures the time from acknowledgement to the answer that found it.
	search   time.Duration
	pipeline index.PipelineOptions
	bluge    index.BlugeOptions
}

// trickleStats are the trickle's measurements, one per produce request.
// The high watermark is polled every 0.5 ms, so durable may be late and
// queued early (even negative) by that much.
type trickleStats struct {
	searchable []time.Duration // acknowledged → the Index call holding its last record returned
	durable    []time.Duration // acknowledged → the high watermark passed it
	queued     []time.Duration // durable → the Index call holding it started
	indexing   []time.Duration // that Index call's duration
	found      []time.Duration // acknowledged → found by a search (trickle.search)
	calls      int             // Index calls
	docs       int             // records indexed
	cpu        time.Duration   // process CPU time from the first request until everything was indexed
}

// timedIndexer records when each Index call ran.
type timedIndexer struct {
	index.Indexer
	mu    sync.Mutex
	calls []indexCall
}

type indexCall struct {
	partition  int32
	next       int64
	docs       int
	start, end time.Time
}

func (x *timedIndexer) Index(ctx context.Context, b *index.Batch) error {
	start := time.Now()
	err := x.Indexer.Index(ctx, b)
	if err == nil {
		end := time.Now()
		x.mu.Lock()
		x.calls = append(x.calls, indexCall{b.Partition, b.Next, len(b.Docs), start, end})
		x.mu.Unlock()
	}
	return err
}

// hwStep is a high watermark first seen at a time.
type hwStep struct {
	hw int64
	at time.Time
}

// trickleRequest is one acknowledged produce request.
type trickleRequest struct {
	partition int32
	last      int64 // offset of its last record
	id        string
	acked     time.Time
}

func runTrickle(tb testing.TB, tr trickle) trickleStats {
	tb.Helper()
	bl, err := index.OpenBluge(tb.TempDir(), tr.bluge)
	if err != nil {
		tb.Fatal(err)
	}
	ix := &timedIndexer{Indexer: bl}
	e := newEnv(tb, envOptions{ix: ix, pipeline: tr.pipeline})
	e.topic("trickle", tr.partitions, nil)
	total := tr.rate * int(tr.duration/time.Second)
	docs, keys := index.LogDocs(total, 7)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The high watermarks, polled (WaitDurable would ask for an fsync).
	steps := make([][]hwStep, tr.partitions)
	var hwWG sync.WaitGroup
	hwWG.Add(1)
	go func() {
		defer hwWG.Done()
		last := make([]int64, tr.partitions)
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for done := false; ; {
			for p := range tr.partitions {
				l, err := e.h.Log("trickle", p)
				if err != nil {
					continue
				}
				if hw := l.HighWatermark(); hw > last[p] {
					last[p] = hw
					steps[p] = append(steps[p], hwStep{hw, time.Now()})
				}
			}
			if done {
				return
			}
			select {
			case <-ctx.Done():
				done = true // one more look
			case <-tick.C:
			}
		}
	}()

	var st trickleStats
	reqs := make(chan trickleRequest, total+1)
	var searchWG sync.WaitGroup
	if tr.search > 0 {
		searchWG.Add(1)
		go func() {
			defer searchWG.Done()
			st.found = searchTrickle(tb, e, tr.search, reqs)
		}()
	}
	var acked []trickleRequest
	perReq := float64(tr.rate) * tr.every.Seconds()
	cpu0 := processCPUTime()
	tick := time.NewTicker(tr.every)
	owed := 0.0
	for n, i := 0, 0; n < total; i++ {
		<-tick.C
		owed += perReq
		k := min(int(owed), total-n)
		if k == 0 {
			continue
		}
		owed -= float64(k)
		p := int32(i) % tr.partitions
		spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
		for j := n; j < n+k; j++ {
			spec.recs = append(spec.recs, rec{key: keys[j], value: docs[j]})
		}
		base := e.produce("trickle", p, 1, spec.build(tb))
		r := trickleRequest{partition: p, last: base + int64(k) - 1, id: traceID(docs[n+k-1]), acked: time.Now()}
		acked = append(acked, r)
		if tr.search > 0 {
			reqs <- r
		}
		n += k
	}
	tick.Stop()
	close(reqs)
	for p := range tr.partitions {
		e.waitIndexed("trickle", p)
	}
	st.cpu = processCPUTime() - cpu0
	searchWG.Wait()
	cancel()
	hwWG.Wait()

	ix.mu.Lock()
	calls := slices.Clone(ix.calls)
	ix.mu.Unlock()
	st.calls = len(calls)
	for _, c := range calls {
		st.docs += c.docs
	}
	for _, r := range acked {
		var c *indexCall
		for i := range calls {
			if calls[i].partition == r.partition && calls[i].next > r.last {
				c = &calls[i]
				break
			}
		}
		var durable time.Time
		for _, s := range steps[r.partition] {
			if s.hw > r.last {
				durable = s.at
				break
			}
		}
		if c == nil || durable.IsZero() {
			tb.Fatalf("offset %d of partition %d: no Index call or durability seen", r.last, r.partition)
		}
		st.searchable = append(st.searchable, c.end.Sub(r.acked))
		st.durable = append(st.durable, durable.Sub(r.acked))
		st.queued = append(st.queued, c.start.Sub(durable))
		st.indexing = append(st.indexing, c.end.Sub(c.start))
	}
	return st
}

// traceID returns the trace_id value of a generated log document.
func traceID(doc []byte) string {
	const key = `"trace_id":"`
	i := bytes.Index(doc, []byte(key))
	if i < 0 {
		return ""
	}
	s := doc[i+len(key):]
	return string(s[:bytes.IndexByte(s, '"')])
}

// searchTrickle searches, every interval, for the trace ids of all
// requests not found yet (one terms query) until reqs is closed and every
// request is found; it returns the time from each acknowledgement to the
// answer that found it.
func searchTrickle(tb testing.TB, e *env, interval time.Duration, reqs <-chan trickleRequest) []time.Duration {
	s := e.searcher()
	var lat []time.Duration
	var pending []trickleRequest
	open := true
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for open || len(pending) > 0 {
		<-tick.C
	drain:
		for open {
			select {
			case r, ok := <-reqs:
				if !ok {
					open = false
					break drain
				}
				pending = append(pending, r)
			default:
				break drain
			}
		}
		if len(pending) == 0 {
			continue
		}
		ids := make([]any, len(pending))
		for i, r := range pending {
			ids[i] = r.id
		}
		res, err := s.Search(context.Background(), "trickle", &index.Request{Query: &index.TermsQuery{Field: "trace_id.keyword", Values: ids}, Size: len(ids)}, false)
		if err != nil {
			tb.Error(err)
			return lat
		}
		now := time.Now()
		hit := make(map[[2]int64]bool, len(res.Hits.Hits))
		for _, h := range res.Hits.Hits {
			hit[[2]int64{int64(h.Partition), h.Offset}] = true
		}
		kept := pending[:0]
		for _, r := range pending {
			if hit[[2]int64{int64(r.partition), r.last}] {
				lat = append(lat, now.Sub(r.acked))
			} else {
				kept = append(kept, r)
			}
		}
		pending = kept
	}
	return lat
}

// quantiles returns the median, 99th percentile and maximum of ds.
func quantiles(ds []time.Duration) (p50, p99, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)*99/100, len(s)-1)], s[len(s)-1]
}

func (st *trickleStats) String() string {
	line := func(name string, ds []time.Duration) string {
		p50, p99, worst := quantiles(ds)
		return fmt.Sprintf("%s p50 %v p99 %v max %v", name, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), worst.Round(100*time.Microsecond))
	}
	s := fmt.Sprintf("%d requests, %d Index calls (%.1f docs each), %.0f CPU µs/doc; ", len(st.searchable), st.calls, float64(st.docs)/float64(max(st.calls, 1)), float64(st.cpu.Microseconds())/float64(max(st.docs, 1)))
	s += line("searchable:", st.searchable) + "; " + line("durable:", st.durable) + "; " + line("queued:", st.queued) + "; " + line("Index:", st.indexing)
	if len(st.found) > 0 {
		s += "; " + line("found by search:", st.found)
	}
	return s
}

// BenchmarkFreshness runs trickles of 1 KiB JSON log records into one
// partition, a produce request every 5 ms as a client with a 5 ms linger
// sends them, with the pipeline's and Bluge's default options (and, for
// comparison, without a refresh interval), and reports the time from
// acknowledgement to searchable (p50, p99, max), the records per Index
// call and the process's CPU time per record; the log line breaks the
// time down into becoming durable, waiting in the pipeline and the Index
// call. The /search variants also search for every request's last record
// every 5 ms, as the bench tool does. Run with -benchtime=1x.
func BenchmarkFreshness(b *testing.B) {
	for _, rate := range []int{500, 1000, 2000, 3000, 5000} {
		for _, refresh := range []time.Duration{0, -1} {
			for _, search := range []time.Duration{0, 5 * time.Millisecond} {
				name := fmt.Sprintf("rate=%d/refresh=default", rate)
				if refresh < 0 {
					name = fmt.Sprintf("rate=%d/refresh=none", rate)
				}
				if search > 0 {
					name += "/search"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						st := runTrickle(b, trickle{rate: rate, every: 5 * time.Millisecond, duration: 10 * time.Second, partitions: 1, search: search,
							pipeline: index.PipelineOptions{PollInterval: 50 * time.Millisecond, RefreshInterval: refresh}})
						b.Log(st.String())
						p50, p99, worst := quantiles(st.searchable)
						b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
						b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
						b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
						b.ReportMetric(float64(st.docs)/float64(max(st.calls, 1)), "docs/call")
						b.ReportMetric(float64(st.cpu.Microseconds())/float64(max(st.docs, 1)), "cpu-us/doc")
					}
				})
			}
		}
	}
}

// BenchmarkCatchUp indexes a backlog of the trickle's records (20 000 1 KiB
// JSON log records in requests of 10, appended with indexing off) with
// the pipeline's and Bluge's default options, from Start until the
// partition is searchable: the per-record cost a trickle is compared
// with. It reports documents per second and the process's CPU time per
// document.
func BenchmarkCatchUp(b *testing.B) {
	const n, per = 20000, 10
	docs, keys := index.LogDocs(n, 7)
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, envOptions{noIndexing: true})
		e.topic("backlog", 1, nil)
		for i := 0; i < n; i += per {
			spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
			for j := i; j < i+per; j++ {
				spec.recs = append(spec.recs, rec{key: keys[j], value: docs[j]})
			}
			e.produce("backlog", 0, 1, spec.build(b))
		}
		waitDurable(b, e, "backlog", 0, n)
		pl, ix := benchPipeline(b, e.meta)
		cpu0 := processCPUTime()
		start := time.Now()
		b.StartTimer()
		if err := pl.Start(e.h); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := pl.WaitIndexed(ctx, "backlog", 0, n); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		el := time.Since(start)
		b.ReportMetric(float64(n)/el.Seconds(), "docs/s")
		b.ReportMetric(float64((processCPUTime()-cpu0).Microseconds())/n, "cpu-us/doc")
		if err := pl.Close(); err != nil {
			b.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// P7: how long after its acknowledgement a record is found by a search,
// at an offered load below the indexing capacity.

// freshRun is one P7 run.
type freshRun struct {
	Run           int
	Err           error
	Offered       float64 // records/s offered
	Records       int64   // records acknowledged
	RecordsPerSec float64
	Samples       []time.Duration // ack to searchable, sorted
	Searches      int64           // search requests sent by the poller
	Reconciled    int64           // records read back and matched
}

// quantile returns the q-quantile of the run's samples (nearest rank).
func (r *freshRun) quantile(q float64) time.Duration {
	if len(r.Samples) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Samples))+0.5) - 1
	return r.Samples[min(max(i, 0), len(r.Samples)-1)]
}

// freshLimit is the P7 target: p99 from ack to searchable.
const freshLimit = time.Second

// Sampling: every how many-th record is searched for, chosen so that a
// run yields about this many samples. One poller sends a search every
// freshPollEvery for all the samples not found yet (at most
// freshPollBatch, the oldest first), so that the time a sample waits to
// be searched for does not grow with the number outstanding.
const (
	freshSamples      = 300
	freshSamplesQuick = 100
	freshPollEvery    = 5 * time.Millisecond
	freshPollBatch    = 1000
)

// freshGiveUp is how long after its acknowledgement a sample may stay
// unsearchable before it fails the run (a variable so that tests need
// not wait as long).
var freshGiveUp = 30 * time.Second

// runFreshness runs P7 o.runs times at half the indexing capacity.
func (b *bench) runFreshness(ctx context.Context, w workload) workloadResult {
	res := workloadResult{W: w}
	capacity, source, err := b.freshnessCapacity(ctx)
	if err != nil {
		res.Skipped = "could not measure the indexing capacity: " + firstLine(err.Error())
		b.logf("%s: %v", w.ID, err)
		return res
	}
	rate := capacity / 2
	b.logf("%s: indexing capacity %.0f docs/s (%s); offering %.0f records/s", w.ID, capacity, source, rate)
	res.FreshBasis = fmt.Sprintf("%.0f records/s, half of %.0f docs/s, %s", rate, capacity, source)
	for i := range b.opts.runs {
		if ctx.Err() != nil {
			return res
		}
		r := b.freshOnce(ctx, w, i, rate)
		if r.Err != nil {
			b.logf("%s run %d: FAILED: %v", w.ID, i+1, r.Err)
		} else {
			b.logf("%s run %d: %.0f rec/s offered, %.0f acknowledged; ack to searchable over %d samples: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d searches); %d records reconciled",
				w.ID, i+1, r.Offered, r.RecordsPerSec, len(r.Samples), ms(r.quantile(0.5)), ms(r.quantile(0.99)), ms(r.Samples[len(r.Samples)-1]), r.Searches, r.Reconciled)
		}
		res.Fresh = append(res.Fresh, r)
	}
	return res
}

// freshnessCapacity returns the indexing capacity P7 offers half of: the
// broker's rate measured by P6-produce in this run, else index.Bluge's
// in-process rate measured by P6-index, else a short in-process probe.
func (b *bench) freshnessCapacity(ctx context.Context) (float64, string, error) {
	if b.brokerIndexRate > 0 {
		return b.brokerIndexRate, "the broker's indexing rate measured by P6-produce in this run", nil
	}
	if b.indexCapacity > 0 {
		return b.indexCapacity, "index.Bluge's in-process rate measured by P6-index in this run", nil
	}
	const n = 4096
	pool := newLogDocPool(n, 6)
	dir, err := os.MkdirTemp(b.base, "probe-")
	if err != nil {
		return 0, "", err
	}
	defer os.RemoveAll(dir)
	r := indexWithOurs(ctx, dir, pool.docs, indexChecks(pool.tally, n), "")
	if r.Err != nil {
		return 0, "", r.Err
	}
	return r.DocsPerSec, fmt.Sprintf("index.Bluge's in-process rate on %d documents (P6 was not run)", n), nil
}

// freshSample is a sampled record: where it was acknowledged, and when.
type freshSample struct {
	partition int32
	offset    int64
	n         uint64
	acked     time.Time
}

// freshOnce is one P7 run: start the broker with indexing on, produce
// records with unique ids at rate while a poller searches for sampled ones,
// then check the index caught up and read everything back.
func (b *bench) freshOnce(ctx context.Context, w workload, run int, rate float64) (r freshRun) {
	r = freshRun{Run: run + 1, Offered: rate}
	sp := b.spec(w)
	sp.Rate = rate
	target := freshSamples
	if b.opts.quick {
		target = freshSamplesQuick
	}
	every := max(uint64(rate*sp.MaxDuration.Seconds())/uint64(target), 1)
	var profilePath string
	if b.profile && run == 0 {
		profilePath = filepath.Join(b.opts.profileDir, w.ID+".pprof")
	}
	t, err := startChronik(ctx, b.bin, b.base, true, w.Broker, profilePath)
	if err != nil {
		r.Err = err
		return r
	}
	stopped := false
	defer func() {
		if !stopped {
			t.Stop()
		}
	}()
	topic := fmt.Sprintf("bench-%s-r%d", strings.ToLower(w.ID), run+1)
	if err := createTopic(ctx, t.Addr(), topic, sp.Partitions); err != nil {
		r.Err = err
		return r
	}
	gen := b.gen(sp)

	samples := make(chan freshSample, 1<<16)
	var dropped atomic.Int64
	sp.OnAck = func(p int32, off int64, n uint64, at time.Time) {
		if n%every != 0 {
			return
		}
		select {
		case samples <- freshSample{p, off, n, at}:
		default:
			dropped.Add(1)
		}
	}
	var poll pollResult
	polled := make(chan struct{})
	go func() { // owned by freshOnce: ends when samples is closed and every sample is found or given up
		defer close(polled)
		poll = pollSearchable(ctx, t.httpAddr, topic, samples)
	}()
	if profilePath != "" {
		t.startProfile()
	}
	pr, err := produce(ctx, t.Addr(), topic, sp, gen)
	if profilePath != "" {
		if perr := t.stopProfile(); perr != nil {
			b.logf("%s: profile: %v", w.ID, perr)
		}
	}
	close(samples) // every promise has run: produce waited for them
	<-polled
	lat, errs := poll.lat, poll.probs
	r.Searches = poll.searches
	slices.Sort(lat)
	r.Samples = lat
	if pr != nil {
		r.Records, r.RecordsPerSec = pr.Records, pr.RecordsPerSec()
	}
	if err != nil {
		r.Err = err
		return r
	}
	if len(errs.list) > 0 {
		r.Err = &FreshnessError{Topic: topic, Problems: errs.list, More: errs.more}
		return r
	}
	if n := dropped.Load(); n > 0 {
		r.Err = fmt.Errorf("%d samples dropped: the poller fell behind", n)
		return r
	}
	if len(lat) == 0 {
		r.Err = fmt.Errorf("no sample: %d records acknowledged, every %d-th sampled", r.Records, every)
		return r
	}
	if _, err := waitIndexed(ctx, t.httpAddr, topic, r.Records, indexStall); err != nil {
		r.Err = err
		return r
	}
	checks, err := reconcile(ctx, t.Addr(), topic, pr.Ledger, gen)
	for _, c := range checks {
		r.Reconciled += c.Read
	}
	if err != nil {
		r.Err = err
		return r
	}
	stopped = true
	if err := t.Stop(); err != nil {
		r.Err = err
	}
	return r
}

// pollResult is what the P7 poller measured.
type pollResult struct {
	lat      []time.Duration // ack to searchable, one per sample found
	searches int64
	probs    problems
}

// pollSearchable takes sampled records from samples until it is closed
// and, every freshPollEvery, searches the broker's search API for the ids
// of all samples not found yet in one terms query on id.keyword (term
// queries on each id, or-ed). A sample is found when a hit is the record
// at its acknowledged partition and offset; its latency is from its
// acknowledgement to the answer of that search. A hit anywhere else (an
// id in another record, or twice) is a problem that ends the polling; a
// sample not found freshGiveUp after its acknowledgement is a problem
// too. A run with problems fails.
func pollSearchable(ctx context.Context, httpAddr, topic string, samples <-chan freshSample) pollResult {
	var res pollResult
	var pending []freshSample // oldest first
	open := true
	tick := time.NewTicker(freshPollEvery)
	defer tick.Stop()
	for open || len(pending) > 0 {
		if len(pending) == 0 { // nothing to look for: wait for a sample
			s, ok := <-samples
			if !ok {
				break
			}
			pending = append(pending, s)
		}
	drain:
		for open {
			select {
			case s, ok := <-samples:
				if !ok {
					open = false
					break drain
				}
				pending = append(pending, s)
			default:
				break drain
			}
		}
		batch := pending[:min(len(pending), freshPollBatch)]
		ids := make([]any, len(batch))
		at := make(map[hitRef]int, len(batch))
		for i, s := range batch {
			ids[i] = hexID(s.n)
			at[hitRef{s.partition, s.offset}] = i
		}
		total, hits, err := httpSearch(ctx, httpAddr, topic, map[string]any{"terms": map[string]any{"id.keyword": ids}}, len(batch))
		res.searches++
		found := time.Now()
		if err != nil {
			res.probs.addf("search: %v", err)
			return res
		}
		if total != int64(len(hits)) {
			res.probs.addf("search for %d ids: total %d but %d hits returned", len(batch), total, len(hits))
		}
		done := make([]bool, len(batch))
		for _, h := range hits {
			i, ok := at[h]
			if !ok {
				// Which id it holds is not in the answer; the run fails.
				res.probs.addf("a record at partition %d offset %d matches the id of a sampled record acknowledged elsewhere", h.Partition, h.Offset)
				return res
			}
			if done[i] {
				res.probs.addf("record %d found twice at partition %d offset %d", batch[i].n, h.Partition, h.Offset)
				return res
			}
			done[i] = true
			res.lat = append(res.lat, found.Sub(batch[i].acked))
		}
		kept := pending[:0]
		for i, s := range pending {
			switch {
			case i < len(batch) && done[i]:
			case found.Sub(s.acked) > freshGiveUp:
				res.probs.addf("record %d (partition %d offset %d): not searchable %v after its acknowledgement", s.n, s.partition, s.offset, freshGiveUp)
			default:
				kept = append(kept, s)
			}
		}
		pending = kept
		if len(pending) == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			res.probs.addf("%v", ctx.Err())
			return res
		case <-tick.C:
		}
	}
	return res
}

// FreshnessError lists the sampled records a P7 run could not find as
// acknowledged.
type FreshnessError struct {
	Topic    string
	Problems []string
	More     int
}

func (e *FreshnessError) Error() string {
	s := fmt.Sprintf("search freshness of topic %q: %s", e.Topic, strings.Join(e.Problems, "; "))
	if e.More > 0 {
		s += fmt.Sprintf("; and %d more", e.More)
	}
	return s
}

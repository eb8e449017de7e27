package index

import (
	"context"
	"math"
	"time"
)

// Indexing yields to bursts of appends (PipelineOptions.MaxYield): while
// records are appended several times faster than the index has been
// taking them, the index falls behind whatever it does, and indexing
// during the burst would only take CPU from the produce path (and from
// producers on the same machine). Records are indexed as soon after the
// burst.

// appendRate estimates how many records per second are being appended,
// across partitions, from the appends the handler notifies: a count that
// decays exponentially with time constant burstWindow, so that it follows
// the last few tens of milliseconds.
type appendRate struct {
	rate float64   // records per second as of at
	at   time.Time // time of the last update
}

// burstWindow is appendRate's time constant: long enough to smooth the
// gaps between the requests of a burst (a producer sends a request every
// few milliseconds), short enough that the end of a burst is seen within
// a few tens of milliseconds.
const burstWindow = 20 * time.Millisecond

// add counts n records appended at now.
func (r *appendRate) add(n int64, now time.Time) {
	r.rate = r.now(now) + float64(n)/burstWindow.Seconds()
	r.at = now
}

// now returns the rate decayed to now.
func (r *appendRate) now(now time.Time) float64 {
	if r.rate == 0 {
		return 0
	}
	return r.rate * math.Exp(-now.Sub(r.at).Seconds()/burstWindow.Seconds())
}

// indexRate estimates how many records per second the index takes: the
// records of recent large Index calls over their durations, each older
// call weighing indexRateDecay times less than the next.
type indexRate struct {
	docs, secs float64
}

const indexRateDecay = 0.75

// add counts an Index call of docs records that took d.
func (r *indexRate) add(docs int, d time.Duration) {
	r.docs = r.docs*indexRateDecay + float64(docs)
	r.secs = r.secs*indexRateDecay + d.Seconds()
}

// rate returns the estimate, 0 before any call.
func (r *indexRate) rate() float64 {
	if r.secs <= 0 {
		return 0
	}
	return r.docs / r.secs
}

// Burst thresholds: appends faster than a full batch (BatchDocs) per
// burstPeriod (with the defaults about 20 000 records/s, several times
// what the index takes of 1 KiB log records on one core), or than
// burstFactor times the index's rate when that is higher, are a burst.
// The index's rate only raises the threshold (for records it takes fast,
// small ones): measured while the machine is busy it is low, and a
// threshold following it down would make a busy index yield to the very
// appends it is behind on.
const (
	burstFactor = 4
	burstPeriod = 100 * time.Millisecond
)

// burstRateLocked is the append rate, in records per second, above which
// the produce path is in a burst.
func (p *Pipeline) burstRateLocked() float64 {
	return max(float64(p.opts.BatchDocs)/burstPeriod.Seconds(), burstFactor*p.indexed.rate())
}

// notifiedAppend counts the records of one notified append. A single
// append counts as at most one batch: the first notice of a partition
// after a restart covers its whole log.
func (p *Pipeline) notifiedAppend(records int64, now time.Time) {
	p.appends.add(min(records, int64(p.opts.BatchDocs)), now)
}

// indexCalled counts an Index call of docs records that took d. Only
// calls of at least a quarter batch count: a call's fixed costs (a
// segment, its introduction) make small ones, those of a trickle, several
// times slower per record, so that their rate says little of what the
// index takes in a burst.
func (p *Pipeline) indexCalled(docs int, d time.Duration) {
	if docs < max(p.opts.BatchDocs/4, 1) {
		return
	}
	p.mu.Lock()
	p.indexed.add(docs, d)
	p.mu.Unlock()
}

// yield waits, before an Index call, while the produce path is in a
// burst, for at most MaxYield, or until ctx is done.
func (p *Pipeline) yield(ctx context.Context) error {
	if p.opts.MaxYield <= 0 {
		return nil
	}
	var deadline time.Time
	for {
		now := time.Now()
		p.mu.Lock()
		rate, limit := p.appends.now(now), p.burstRateLocked()
		p.mu.Unlock()
		if rate <= limit {
			return nil
		}
		if deadline.IsZero() {
			deadline = now.Add(p.opts.MaxYield)
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return nil
		}
		// Without further appends the rate falls to the limit after
		// burstWindow * ln(rate/limit); look again then (new appends may
		// have raised it meanwhile).
		wait := min(time.Duration(float64(burstWindow)*math.Log(rate/limit))+time.Millisecond, left)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

package index_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// smallBatch is a record batch of n small JSON records.
func smallBatch(t testing.TB, n, seq int) []byte {
	spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
	for i := range n {
		spec.recs = append(spec.recs, rec{value: fmt.Appendf(nil, `{"seq":%d}`, seq+i)})
	}
	return spec.build(t)
}

// waitDurable waits until the partition's high watermark reaches offset.
func waitDurable(t testing.TB, e *env, topic string, partition int32, offset int64) {
	t.Helper()
	l, err := e.h.Log(topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitDurable(ctx, offset); err != nil {
		t.Fatal(err)
	}
}

// callsOf returns the Index calls of the partition so far.
func (x *timedIndexer) callsOf(partition int32) []indexCall {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []indexCall
	for _, c := range x.calls {
		if c.partition == partition {
			out = append(out, c)
		}
	}
	return out
}

// TestPipelineRefreshInterval checks that a partition idle for longer than
// the refresh interval is indexed at once, that the Index calls of a
// partition receiving a trickle of appends start at least a refresh
// interval apart (so the trickle is indexed in a few large calls), and
// that without an interval every append is indexed on its own.
func TestPipelineRefreshInterval(t *testing.T) {
	const interval = time.Second
	ix := &timedIndexer{Indexer: index.NewMemory()}
	e := newEnv(t, envOptions{ix: ix, pipeline: index.PipelineOptions{RefreshInterval: interval}})
	e.topic("r", 1, nil)
	l, err := e.h.Log("r", 0)
	if err != nil {
		t.Fatal(err)
	}

	// Idle: indexed at once, not after the interval.
	start := time.Now()
	e.produce("r", 0, 1, smallBatch(t, 5, 0))
	e.waitIndexed("r", 0)
	if el := time.Since(start); el >= interval*7/10 {
		t.Fatalf("the first append after idling became searchable after %v, want at once (interval %v)", el, interval)
	}

	// A trickle of 75 appends every 20 ms (1.5 s): the calls start at
	// least an interval apart.
	trickleStart := time.Now()
	for i := range 75 {
		e.produce("r", 0, 1, smallBatch(t, 2, 5+2*i))
		time.Sleep(20 * time.Millisecond)
	}
	trickled := time.Since(trickleStart)
	e.waitIndexed("r", 0)
	calls := ix.callsOf(0)
	for i := 1; i < len(calls); i++ {
		// The interval runs from a turn's start, before it waits for
		// the records to be durable and reads them.
		if gap := calls[i].start.Sub(calls[i-1].start); gap < interval*9/10 {
			t.Errorf("Index calls %d and %d started %v apart, want at least the refresh interval %v", i-1, i, gap, interval)
		}
	}
	if most := 2 + int(trickled/interval); len(calls) > most {
		t.Errorf("%d Index calls for one append and a trickle of %v, want at most %d", len(calls), trickled, most)
	}
	if n := l.NextOffset(); n != 155 {
		t.Fatalf("log end %d, want 155", n)
	}

	// Without an interval: one call per append, about.
	ix0 := &timedIndexer{Indexer: index.NewMemory()}
	e0 := newEnv(t, envOptions{ix: ix0, pipeline: index.PipelineOptions{RefreshInterval: -1}})
	e0.topic("r", 1, nil)
	for i := range 25 {
		e0.produce("r", 0, 1, smallBatch(t, 2, 2*i))
		time.Sleep(20 * time.Millisecond)
	}
	e0.waitIndexed("r", 0)
	if n := len(ix0.callsOf(0)); n < 10 {
		t.Errorf("%d Index calls for 25 appends 20 ms apart without a refresh interval, want most of them separately", n)
	}
}

// TestPipelineBacklogIgnoresRefreshInterval indexes a backlog (appended
// with acks=1 right before the pipeline started, so partly not yet
// durable then) in batches of 10 records with a refresh interval of 2 s:
// the batches follow each other without pause.
func TestPipelineBacklogIgnoresRefreshInterval(t *testing.T) {
	e := newEnv(t, envOptions{noIndexing: true})
	e.topic("b", 1, nil)
	for i := range 30 {
		e.produce("b", 0, 1, smallBatch(t, 10, 10*i))
	}
	ix := &timedIndexer{Indexer: index.NewMemory()}
	t.Cleanup(func() { ix.Close() })
	pl, err := index.NewPipeline(ix, e.meta, index.PipelineOptions{EnableByDefault: true, BatchDocs: 10, RefreshInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	start := time.Now()
	if err := pl.Start(e.h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.WaitIndexed(ctx, "b", 0, 300); err != nil {
		cp, _ := ix.Checkpoint("b", 0)
		l, _ := e.h.Log("b", 0)
		t.Fatalf("%v: checkpoint %d, high watermark %d, %d Index calls", err, cp, l.HighWatermark(), len(ix.callsOf(0)))
	}
	if el := time.Since(start); el >= 2*time.Second {
		t.Fatalf("a backlog of 30 batches took %v, want no refresh pause (2 s) between them", el)
	}
	if n := len(ix.callsOf(0)); n != 30 {
		t.Fatalf("%d Index calls, want 30 of BatchDocs 10", n)
	}
}

// TestPipelineYieldsToBursts produces a burst of 20 requests of 2000 small
// records, back to back, and checks that no Index call starts while the
// burst lasts (from the first request's acknowledgement to the last's:
// it is indexed after it), and that without MaxYield (nor refresh
// interval) the pipeline indexes during the burst. The check needs the requests to follow each other
// within 30 ms (a full batch appended decays below the burst threshold in
// about 32 ms); on a machine too loaded for that, the run is repeated.
func TestPipelineYieldsToBursts(t *testing.T) {
	batches := make([][]byte, 20)
	for i := range batches {
		batches[i] = smallBatch(t, 2000, 2000*i)
	}
	burst := func(e *env) (start, end time.Time, steady bool) {
		steady = true
		for i, b := range batches {
			e.produce("y", 0, 1, slices.Clone(b)) // the handler rewrites batches in place
			now := time.Now()
			if i == 0 {
				start = now
			} else if now.Sub(end) > 30*time.Millisecond {
				steady = false // the burst detection may see its end
			}
			end = now
		}
		return start, end, steady
	}
	for _, yield := range []bool{true, false} {
		t.Run(fmt.Sprintf("yield=%v", yield), func(t *testing.T) {
			opts := index.PipelineOptions{MaxYield: 10 * time.Second}
			if !yield {
				opts = index.PipelineOptions{MaxYield: -1, RefreshInterval: -1}
			}
			for attempt := 0; ; attempt++ {
				ix := &timedIndexer{Indexer: index.NewMemory()}
				e := newEnv(t, envOptions{ix: ix, pipeline: opts})
				e.topic("y", 1, nil)
				start, end, steady := burst(e)
				e.waitIndexed("y", 0)
				calls := ix.callsOf(0)
				during := slices.IndexFunc(calls, func(c indexCall) bool { return c.start.Before(end) })
				if !steady && attempt < 3 {
					t.Logf("attempt %d: requests more than 25 ms apart, repeating", attempt)
					e.close()
					continue
				}
				switch {
				case yield && during >= 0:
					t.Fatalf("Index call started %v into a burst of %v", calls[during].start.Sub(start), end.Sub(start))
				case !yield && during < 0 && end.Sub(start) >= 100*time.Millisecond:
					t.Fatalf("without MaxYield no Index call started during a burst of %v", end.Sub(start))
				case !yield && during < 0:
					t.Logf("a burst of %v is too short to see indexing during it", end.Sub(start))
				}
				return
			}
		})
	}
}

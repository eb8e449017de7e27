package index

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/chronik-go/chronik/metadata"
)

func TestAppendRate(t *testing.T) {
	var r appendRate
	t0 := time.Unix(1000, 0)
	if got := r.now(t0); got != 0 {
		t.Fatalf("rate of nothing: %v", got)
	}
	r.add(1000, t0)
	if got, want := r.now(t0), 1000/burstWindow.Seconds(); got != want {
		t.Fatalf("rate right after 1000 records: %v, want %v", got, want)
	}
	if got, want := r.now(t0.Add(burstWindow)), 1000/burstWindow.Seconds()/math.E; math.Abs(got-want) > 1e-6*want {
		t.Fatalf("rate one window later: %v, want %v", got, want)
	}
	// A steady 10 records every 5 ms (2000 records/s) settles near 2000/s.
	for i := 1; i <= 200; i++ {
		r.add(10, t0.Add(time.Duration(i)*5*time.Millisecond))
	}
	if got := r.now(t0.Add(1000 * time.Millisecond)); got < 1500 || got > 3000 {
		t.Fatalf("rate of 2000 records/s in steps of 10: %v", got)
	}
}

// newYieldPipeline returns a pipeline, not started, whose Notify feeds the
// burst detection.
func newYieldPipeline(t *testing.T, maxYield time.Duration) *Pipeline {
	t.Helper()
	p, err := NewPipeline(NewMemory(), metadata.NewMemory(1), PipelineOptions{MaxYield: maxYield})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestYieldWaitsForBurstToEnd(t *testing.T) {
	ctx := context.Background()
	p := newYieldPipeline(t, 10*time.Second)
	start := time.Now()
	if err := p.yield(ctx); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("yield without appends: %v after %v", err, time.Since(start))
	}

	// One append of a full batch: 2048 records in burstWindow, 5x the
	// burst rate; with no more appends it decays below it after
	// burstWindow*ln(5), about 32 ms.
	p.Notify("t", 0, 2048)
	start = time.Now()
	if err := p.yield(ctx); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	want := time.Duration(float64(burstWindow) * math.Log(float64(2048)/burstWindow.Seconds()/p.burstRateLocked()))
	if el < want-2*time.Millisecond || el > 5*time.Second {
		t.Fatalf("yield after one burst append returned after %v, want about %v", el, want)
	}

	// Appends that go on keep it waiting until they stop (a full batch
	// every 5 ms: a gap of 60 ms would be needed to end the burst).
	stop := make(chan struct{})
	done := make(chan time.Time)
	go func() {
		end := int64(2048)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- time.Now()
				return
			case <-tick.C:
				end += 2048
				p.Notify("t", 0, end)
			}
		}
	}()
	time.AfterFunc(300*time.Millisecond, func() { close(stop) })
	start = time.Now()
	if err := p.yield(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := <-done
	if returned := time.Now(); returned.Before(stopped) {
		t.Fatalf("yield returned %v into a burst that lasted %v", returned.Sub(start), stopped.Sub(start))
	}
}

func TestYieldIsBounded(t *testing.T) {
	ctx := context.Background()
	p := newYieldPipeline(t, 100*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		end := int64(0)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				end += 2048
				p.Notify("t", 0, end)
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := p.yield(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 95*time.Millisecond || el > 5*time.Second {
		t.Fatalf("yield in an endless burst returned after %v, want MaxYield (100ms)", el)
	}

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := p.yield(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("yield with its context cancelled: %v", err)
	}

	off := newYieldPipeline(t, -1)
	off.Notify("t", 0, 1<<20)
	start = time.Now()
	if err := off.yield(ctx); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("yield with MaxYield negative: %v after %v", err, time.Since(start))
	}
}

func TestIndexRate(t *testing.T) {
	var r indexRate
	if r.rate() != 0 {
		t.Fatal("rate before any call")
	}
	r.add(1000, 100*time.Millisecond)
	if got := r.rate(); math.Abs(got-10000) > 1e-6 {
		t.Fatalf("rate after 1000 records in 100 ms: %v", got)
	}
	// Recent calls weigh more: after many calls of 100 records in 100 ms
	// the estimate approaches 1000/s.
	for range 30 {
		r.add(100, 100*time.Millisecond)
	}
	if got := r.rate(); got < 1000 || got > 1100 {
		t.Fatalf("rate after a series of calls at 1000/s: %v", got)
	}
}

// TestYieldFollowsIndexRate checks that an index measured taking records
// fast raises the burst threshold above appends it takes in stride, and
// that a slow one does not lower it below a batch per burstPeriod.
func TestYieldFollowsIndexRate(t *testing.T) {
	ctx := context.Background()
	fast := newYieldPipeline(t, 10*time.Second)
	fast.indexCalled(2048, 10*time.Millisecond) // 204,800 records/s
	fast.Notify("t", 0, 2048)                   // 102,400 records/s
	start := time.Now()
	if err := fast.yield(ctx); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("yield of a fast index: %v after %v", err, time.Since(start))
	}

	slow := newYieldPipeline(t, 10*time.Second)
	floor := slow.burstRateLocked()
	slow.indexCalled(2048, time.Second) // 2048 records/s
	if got := slow.burstRateLocked(); got != floor {
		t.Fatalf("burst threshold %v after a slow call, want it to stay at %v", got, floor)
	}
	slow.Notify("t", 0, 300) // 15,000 records/s: above 4 x 2048, below the floor
	start = time.Now()
	if err := slow.yield(ctx); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("yield of a slow index to appends below a batch per %v: %v after %v", burstPeriod, err, time.Since(start))
	}
}

// TestSmallCallsDoNotSetIndexRate checks that the calls of a trickle,
// slow per record for their fixed costs, do not count.
func TestSmallCallsDoNotSetIndexRate(t *testing.T) {
	p := newYieldPipeline(t, time.Second)
	p.indexCalled(10, time.Millisecond) // 10,000 records/s, but small
	if got := p.indexed.rate(); got != 0 {
		t.Fatalf("index rate %v after a call of 10 records, want none", got)
	}
	p.indexCalled(1024, 10*time.Millisecond)
	if got, want := p.burstRateLocked(), burstFactor*102400.0; math.Abs(got-want) > 1e-6 {
		t.Fatalf("burst threshold %v after a call of 1024 records in 10 ms, want %v", got, want)
	}
}

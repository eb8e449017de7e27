package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/index"
)

// heldIndexer wraps an Indexer and measures the record bytes (keys,
// values, header keys and values) of the batches its Index calls hold at
// once, from the call until it returns. Until open is closed every call
// waits first, so that the pipeline's workers pile up as much as they are
// allowed to.
type heldIndexer struct {
	index.Indexer
	open chan struct{}

	mu    sync.Mutex // guards the fields below
	held  int64
	peak  int64
	calls int
}

func (h *heldIndexer) Index(ctx context.Context, b *index.Batch) error {
	n := int64(0)
	for _, d := range b.Docs {
		n += int64(len(d.Key) + len(d.Value))
		for _, hd := range d.Headers {
			n += int64(len(hd.Key) + len(hd.Value))
		}
	}
	h.mu.Lock()
	h.held += n
	h.peak = max(h.peak, h.held)
	h.calls++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.held -= n
		h.mu.Unlock()
	}()
	select {
	case <-h.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	time.Sleep(time.Millisecond) // let the workers' calls overlap
	return h.Indexer.Index(ctx, b)
}

func (h *heldIndexer) stats() (peak int64, calls int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak, h.calls
}

// Workload of TestPipelineBufferMemory.
const (
	memParts      = 6
	memWorkers    = 6
	memBatches    = 40 // record batches per partition
	memPerBatch   = 4
	memValueBytes = 5 << 10
	memBatchBytes = memPerBatch * (memValueBytes + 8) // a record batch's keys and values
)

// TestPipelineBufferMemory produces ~4.7 MiB to 6 partitions (record
// batches of 4 records of 5 KiB, half of them gzip-compressed), then lets
// 6 workers index them with BatchBytes 1 MiB through an Indexer whose
// calls all wait until the workers had time to read what they may. With
// BufferMemory 96 KiB the record bytes held by Index calls at once stay
// within it plus about one record batch per worker, while with 64 MiB the
// same workers hold many times more at once; either way everything is
// indexed exactly once and the workers do not deadlock.
func TestPipelineBufferMemory(t *testing.T) {
	const budget = 96 << 10
	t.Run("bounded", func(t *testing.T) {
		blocked, peak := runHeldPipeline(t, budget)
		// The pipeline charges more than the records' bytes (reads, an
		// overhead per record), so what passes the budget is at most
		// about twice a record batch's bytes per worker.
		limit := int64(budget + memWorkers*2*memBatchBytes)
		if peak > limit {
			t.Errorf("Index calls held %d record bytes at once, more than BufferMemory %d plus a record batch per worker (%d)", peak, budget, limit)
		}
		if blocked == 0 {
			t.Error("no worker collected a batch while the Indexer was blocked")
		}
	})
	t.Run("generous", func(t *testing.T) {
		_, peak := runHeldPipeline(t, 64<<20)
		if peak < 4*budget {
			t.Errorf("with BufferMemory 64 MiB Index calls held at most %d record bytes at once: the bounded case shows nothing", peak)
		}
	})
}

// runHeldPipeline runs TestPipelineBufferMemory's workload with the given
// BufferMemory and returns the record bytes the Index calls held while the
// Indexer was blocked and the most they held at once.
func runHeldPipeline(t *testing.T, budget int) (blocked, peak int64) {
	h := &heldIndexer{Indexer: index.NewMemory(), open: make(chan struct{})}
	e := newEnv(t, envOptions{ix: h, pipeline: index.PipelineOptions{
		Workers: memWorkers, BufferMemory: budget, BatchBytes: 1 << 20,
	}})
	e.topic("mem", memParts, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for p := range int32(memParts) {
		for i := range memBatches {
			spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
			if i%2 == 1 {
				spec.codec = compress.Gzip
			}
			for j := range memPerBatch {
				v := make([]byte, memValueBytes)
				for k := range v {
					v[k] = 'a' + byte(rng.IntN(26))
				}
				spec.recs = append(spec.recs, rec{key: fmt.Appendf(nil, "k%d", j), value: v})
			}
			e.produce("mem", p, 1, spec.build(t))
		}
	}
	// Let the workers read what the budget lets them while every Index
	// call waits.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, calls := h.stats(); calls > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Index call within 10 s")
		}
	}
	time.Sleep(200 * time.Millisecond)
	blocked, _ = h.stats()
	close(h.open)
	for p := range int32(memParts) {
		e.waitIndexed("mem", p)
	}
	peak, calls := h.stats()
	t.Logf("BufferMemory %d: %d Index calls; record bytes held by Index calls at once: %d while blocked, at most %d", budget, calls, blocked, peak)
	st, err := h.Stats("mem")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(memParts * memBatches * memPerBatch); st.Docs != want {
		t.Errorf("%d documents indexed, want %d", st.Docs, want)
	}
	return blocked, peak
}

package index_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// TestFreshness produces at a steady rate well below indexing capacity
// (400 records/s in batches of 20, 2 partitions) and measures, for every
// acknowledged batch, the time until its last record is found by a search
// (an ids query through the Searcher, as a client would see it). It
// reports the median and maximum; the maximum must stay under a second.
func TestFreshness(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	ix, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{ix: ix, pipeline: index.PipelineOptions{PollInterval: 20 * time.Millisecond}})
	e.topic("fresh", 2, nil)
	s := e.searcher()

	type acked struct {
		id string
		at time.Time
	}
	const batches = 100
	ackc := make(chan acked, batches)
	go func() {
		defer close(ackc)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		seq := 0
		for i := 0; i < batches; i++ {
			<-tick.C
			p := int32(i % 2)
			spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
			for range 20 {
				v, _ := json.Marshal(map[string]any{"seq": seq, "msg": "freshness probe"})
				spec.recs = append(spec.recs, rec{value: v})
				seq++
			}
			base := e.produce("fresh", p, 1, spec.build(t))
			ackc <- acked{id: index.DocID(p, base+19), at: time.Now()}
		}
	}()
	var lat []time.Duration
	ctx := context.Background()
	for a := range ackc {
		for {
			res, err := s.Search(ctx, "fresh", &index.Request{Query: &index.IDsQuery{Values: []string{a.id}}}, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Hits.Total.Value == 1 {
				lat = append(lat, time.Since(a.at))
				break
			}
			if time.Since(a.at) > 10*time.Second {
				t.Fatalf("%s not searchable after 10 s", a.id)
			}
			time.Sleep(time.Millisecond)
		}
	}
	slices.Sort(lat)
	med, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("ack to searchable over %d batches: median %v, p99 %v, max %v", len(lat), med, p99, worst)
	if worst >= time.Second {
		t.Errorf("slowest batch took %v to become searchable, want under 1 s", worst)
	}
}

package index_test

import (
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// TestFreshness runs a trickle of 1 KiB JSON log records, well below the
// indexing capacity (200 records/s in requests every 5 ms, as a client
// with a 5 ms linger sends them, over 2 partitions, for 4 s), through the
// produce handler into the pipeline and a Bluge index with their default
// options, while a client searches for the last record of every request
// every 5 ms (one terms query for all not found yet). Every record must
// be found by a search within a second of its acknowledgement: the
// refresh interval (100 ms) plus durability and an Index call.
func TestFreshness(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	st := runTrickle(t, trickle{rate: 200, every: 5 * time.Millisecond, duration: 4 * time.Second, partitions: 2,
		search: 5 * time.Millisecond, pipeline: index.PipelineOptions{PollInterval: 50 * time.Millisecond}})
	t.Log(st.String())
	_, p99, worst := quantiles(st.found)
	if len(st.found) != len(st.searchable) {
		t.Fatalf("%d of %d requests found by a search", len(st.found), len(st.searchable))
	}
	if worst >= time.Second {
		t.Errorf("slowest record found %v after its acknowledgement (p99 %v), want under 1 s", worst, p99)
	}
}

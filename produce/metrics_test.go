package produce

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chronik-go/chronik/compress"
)

func TestMetricsCountWhatHappened(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	gz := newSpec(10)
	gz.codec = compress.Gzip
	wantCodeOK(t, e, "t") // 1 record
	one(t, e.produce(9, -1, pr("t", 0, gz.build(t))))
	one(t, e.produce(9, 0, pr("missing", 0, newSpec(1).build(t))))
	one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 5, 0, 0, 4))))
	one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 5, 0, 0, 4)))) // duplicate
	e.h.Metrics().ObserveIndexingLag(250 * time.Millisecond)

	s := e.h.Metrics().Snapshot()
	if s.RecordsProduced != 15 {
		t.Errorf("records_produced %d, want 15", s.RecordsProduced)
	}
	if s.BytesProduced <= 0 {
		t.Errorf("bytes_produced %d", s.BytesProduced)
	}
	if s.ProduceErrors["UNKNOWN_TOPIC_OR_PARTITION"] != 1 || len(s.ProduceErrors) != 1 {
		t.Errorf("produce_errors %v", s.ProduceErrors)
	}
	if s.DuplicateRecords != 4 {
		t.Errorf("duplicate_records %d, want 4", s.DuplicateRecords)
	}
	if s.SegmentsCreated != 1 {
		t.Errorf("segments_created %d, want 1", s.SegmentsCreated)
	}
	if s.CompressionRatio <= 1 {
		t.Errorf("compression_ratio %v, want > 1 for gzip of repetitive JSON", s.CompressionRatio)
	}
	if s.IndexingLagMs.Count != 1 || s.IndexingLagMs.Sum != 250 {
		t.Errorf("indexing_lag_ms %+v", s.IndexingLagMs)
	}
	if s.LatencySeconds["1"].Count != 3 || s.LatencySeconds["all"].Count != 1 || s.LatencySeconds["0"].Count != 1 {
		t.Errorf("latency by acks %+v", s.LatencySeconds)
	}

	// The same values reach Prometheus.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.h.Metrics().Collectors()...)
	want := `
# HELP chronik_duplicate_records_total Records of retried batches recognised as duplicates and not appended again.
# TYPE chronik_duplicate_records_total counter
chronik_duplicate_records_total 4
# HELP chronik_records_produced_total Records appended to partition logs.
# TYPE chronik_records_produced_total counter
chronik_records_produced_total 15
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "chronik_records_produced_total", "chronik_duplicate_records_total"); err != nil {
		t.Fatal(err)
	}
}

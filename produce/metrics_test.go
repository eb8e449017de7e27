package produce

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
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

// TestCompressionRatioIgnoresUpConvertedSets: a legacy message set
// up-converted into a compressed topic has no uncompressed v2 size, so it
// does not move compression_ratio (it once counted as 0 raw bytes); a v2
// batch stored compressed does.
func TestCompressionRatioIgnoresUpConvertedSets(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("gz", 1, map[string]string{"compression.type": "gzip"})
	value := strings.Repeat(`{"level":"info","msg":"order accepted"}`, 20)
	wantCode(t, one(t, e.produce(2, 1, pr("gz", 0, legacyMessageSet(t, 1, [][2]string{{"k", value}, {"k", value}})))), errcode.None)
	if h := headerOf(e.readAll("gz", 0)[0]); h.Codec() != compress.Gzip {
		t.Fatalf("up-converted batch stored with %s, want gzip", h.Codec())
	}
	if r := e.h.Metrics().Snapshot().CompressionRatio; r != 0 {
		t.Fatalf("compression_ratio %v after an up-converted set alone, want 0 (nothing observed)", r)
	}
	spec := newSpec(20)
	for i := range spec.records {
		spec.records[i].value = []byte(value)
	}
	batch := spec.build(t)
	raw := len(batch) - record.HeaderSize
	wantCode(t, one(t, e.produce(9, 1, pr("gz", 0, batch))), errcode.None)
	stored := e.readAll("gz", 0)[1]
	want := float64(raw) / float64(len(stored)-record.HeaderSize)
	if r := e.h.Metrics().Snapshot().CompressionRatio; math.Abs(r-want) > 1e-9 || r <= 5 {
		t.Fatalf("compression_ratio %v, want %v: the v2 batch's alone", r, want)
	}
}

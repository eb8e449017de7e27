package produce

import (
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the handler's counters, gauges and histograms. Every value is
// available as a Go snapshot (Snapshot) and as Prometheus collectors that a
// host registers (Collectors).
type Metrics struct {
	recordsProduced  prometheus.Counter
	bytesProduced    prometheus.Counter
	produceErrors    *prometheus.CounterVec // by Kafka error name
	duplicateRecords prometheus.Counter
	segmentsCreated  prometheus.Counter
	indexingLag      prometheus.Histogram
	indexingLagNow   prometheus.Gauge
	compressionRatio prometheus.Gauge
	bufferInUse      prometheus.GaugeFunc
	latency          *prometheus.HistogramVec // by acks mode

	latencyByAcks [3]prometheus.Observer // acks 0, 1, all

	// Compression totals for compression_ratio: uncompressed bytes and the
	// bytes they were stored in, for compressed batches only.
	rawBytes, storedBytes atomic.Int64
}

func newMetrics(bufferInUse func() float64) *Metrics {
	m := &Metrics{
		recordsProduced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_records_produced_total", Help: "Records appended to partition logs.",
		}),
		bytesProduced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_bytes_produced_total", Help: "Record batch bytes appended to partition logs.",
		}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_produce_errors_total", Help: "Partition produce results with a non-zero Kafka error code, by code.",
		}, []string{"error"}),
		duplicateRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_duplicate_records_total", Help: "Records of retried batches recognised as duplicates and not appended again.",
		}),
		segmentsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_segments_created_total", Help: "Log segments created.",
		}),
		indexingLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chronik_indexing_lag_ms", Help: "Time from a record's append to its being searchable, in milliseconds.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		}),
		indexingLagNow: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chronik_indexing_lag_current_ms", Help: "Indexing lag of the most recently indexed batch, in milliseconds.",
		}),
		compressionRatio: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chronik_compression_ratio", Help: "Uncompressed over stored bytes of compressed record batches (v2; up-converted legacy sets are not counted) since start.",
		}),
		bufferInUse: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_buffer_memory_in_use_bytes", Help: "Bytes of buffer memory reserved by requests in flight.",
		}, bufferInUse),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chronik_produce_latency_seconds", Help: "HandleProduce latency by acks mode.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18),
		}, []string{"acks"}),
	}
	m.latencyByAcks[0] = m.latency.WithLabelValues("0")
	m.latencyByAcks[1] = m.latency.WithLabelValues("1")
	m.latencyByAcks[2] = m.latency.WithLabelValues("all")
	return m
}

// Collectors returns the Prometheus collectors a host registers to export
// the metrics, e.g. prometheus.MustRegister(h.Metrics().Collectors()...).
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.recordsProduced, m.bytesProduced, m.produceErrors, m.duplicateRecords,
		m.segmentsCreated, m.indexingLag, m.indexingLagNow, m.compressionRatio,
		m.bufferInUse, m.latency,
	}
}

func (m *Metrics) observeError(c errcode.Code) {
	if c != errcode.None {
		m.produceErrors.WithLabelValues(c.String()).Inc()
	}
}

func (m *Metrics) observeAppend(records int, bytes int) {
	m.recordsProduced.Add(float64(records))
	m.bytesProduced.Add(float64(bytes))
}

func (m *Metrics) observeCompression(raw, stored int) {
	r := m.rawBytes.Add(int64(raw))
	s := m.storedBytes.Add(int64(stored))
	if s > 0 {
		m.compressionRatio.Set(float64(r) / float64(s))
	}
}

func (m *Metrics) observeLatency(acks int16, d time.Duration) {
	i := 2
	switch acks {
	case 0:
		i = 0
	case 1:
		i = 1
	}
	m.latencyByAcks[i].Observe(d.Seconds())
}

// ObserveIndexingLag records the time between a record's append and its
// becoming searchable. The indexing pipeline calls it.
func (m *Metrics) ObserveIndexingLag(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	m.indexingLag.Observe(ms)
	m.indexingLagNow.Set(ms)
}

// SegmentCreated counts one new log segment.
func (m *Metrics) SegmentCreated() { m.segmentsCreated.Inc() }

// Snapshot is a point-in-time copy of the metrics.
type Snapshot struct {
	RecordsProduced   int64
	BytesProduced     int64
	ProduceErrors     map[string]int64 // by Kafka error name
	DuplicateRecords  int64
	SegmentsCreated   int64
	IndexingLagMs     HistogramSnapshot
	CompressionRatio  float64
	BufferMemoryInUse int64
	LatencySeconds    map[string]HistogramSnapshot // by acks: "0", "1", "all"
}

// HistogramSnapshot summarises a histogram.
type HistogramSnapshot struct {
	Count uint64
	Sum   float64
}

// Snapshot returns the current values.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{
		RecordsProduced:   int64(counterValue(m.recordsProduced)),
		BytesProduced:     int64(counterValue(m.bytesProduced)),
		ProduceErrors:     map[string]int64{},
		DuplicateRecords:  int64(counterValue(m.duplicateRecords)),
		SegmentsCreated:   int64(counterValue(m.segmentsCreated)),
		IndexingLagMs:     histogramValue(m.indexingLag),
		CompressionRatio:  gaugeValue(m.compressionRatio),
		BufferMemoryInUse: int64(gaugeValue(m.bufferInUse)),
		LatencySeconds:    map[string]HistogramSnapshot{},
	}
	collectVec(m.produceErrors, func(label string, d *dto.Metric) {
		s.ProduceErrors[label] = int64(d.GetCounter().GetValue())
	})
	collectVec(m.latency, func(label string, d *dto.Metric) {
		h := d.GetHistogram()
		s.LatencySeconds[label] = HistogramSnapshot{Count: h.GetSampleCount(), Sum: h.GetSampleSum()}
	})
	return s
}

func writeMetric(c prometheus.Metric) *dto.Metric {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return &dto.Metric{}
	}
	return &d
}

func counterValue(c prometheus.Counter) float64 { return writeMetric(c).GetCounter().GetValue() }

func gaugeValue(g prometheus.Metric) float64 { return writeMetric(g).GetGauge().GetValue() }

func histogramValue(h prometheus.Histogram) HistogramSnapshot {
	d := writeMetric(h).GetHistogram()
	return HistogramSnapshot{Count: d.GetSampleCount(), Sum: d.GetSampleSum()}
}

func collectVec(c prometheus.Collector, fn func(label string, d *dto.Metric)) {
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	for pm := range ch {
		d := writeMetric(pm)
		label := ""
		if lp := d.GetLabel(); len(lp) > 0 {
			label = lp[0].GetValue()
		}
		fn(label, d)
	}
}

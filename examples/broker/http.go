package main

import (
	"encoding/json"
	"fmt"
	"github.com/chronik-go/chronik/index"
	"net/http"
	"sort"
	"strconv"

	"github.com/chronik-go/chronik/segment"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits of the key lookup endpoint.
const (
	defaultKeyLimit = 100
	maxKeyLimit     = 10000
)

// httpHandler serves the broker's HTTP endpoints:
//
//	GET /healthz                  200 "ok" once the broker accepts Kafka connections, else 503
//	GET /metrics                  Prometheus text: the handler's metrics, Go runtime and process
//	GET /{topic}/_key/{key}       records with that key, newest first (JSON)
func (b *broker) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.ready.Load() {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{b}}))
	mux.HandleFunc("GET /{topic}/_key/{key}", b.lookupKey)
	// Everything else is the Elasticsearch-style search API:
	// /{topic}/_search, /_count, /_doc/{id}, /_rebuild and /_cat/indices.
	mux.Handle("/", index.NewHTTPHandler(index.HTTPConfig{
		Indexer:  b.index,
		Sources:  &index.LogSource{Logs: b.handler},
		Topics:   b.meta,
		Pipeline: b.pipeline,
		Logger:   b.logger,
	}))
	return mux
}

// slogPrinter adapts the broker's logger to promhttp's error log.
type slogPrinter struct{ b *broker }

func (p slogPrinter) Println(v ...any) { p.b.logger.Warn("metrics: " + fmt.Sprint(v...)) }

// keyResponse is the JSON answer of the key lookup endpoint.
type keyResponse struct {
	Topic           string      `json:"topic"`
	Partition       int32       `json:"partition"` // -1 when every partition was searched
	SegmentsScanned int         `json:"segments_scanned"`
	SegmentsSkipped int         `json:"segments_skipped"`
	Records         []keyRecord `json:"records"`
}

// keyRecord is one record found by key.
type keyRecord struct {
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Timestamp int64           `json:"timestamp"` // milliseconds since the epoch
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"` // the value itself when it is JSON, else a JSON string; null for a null value
	Headers   []keyHeader     `json:"headers"`
}

// keyHeader is one record header; a header key may repeat, so headers are
// a list rather than an object.
type keyHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"` // null for a null value
}

// lookupKey serves GET /{topic}/_key/{key}?partition=N&limit=M: the records
// whose key is exactly {key} (path-unescaped), newest first, read through
// segment.Log.LookupKey, which skips segments whose bloom filter excludes
// the key. Without partition every partition is searched and the results
// are merged by timestamp, newest first. Unknown topics and partitions are
// 404; limit defaults to 100.
func (b *broker) lookupKey(w http.ResponseWriter, r *http.Request) {
	topic, key := r.PathValue("topic"), r.PathValue("key")
	t, ok := b.meta.Topic(topic)
	if !ok {
		httpJSONError(w, http.StatusNotFound, fmt.Sprintf("unknown topic %q", topic))
		return
	}
	limit := defaultKeyLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxKeyLimit {
			httpJSONError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", s, maxKeyLimit))
			return
		}
		limit = n
	}
	resp := keyResponse{Topic: topic, Partition: -1, Records: []keyRecord{}}
	partitions := make([]int32, 0, len(t.Partitions))
	if s := r.URL.Query().Get("partition"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			httpJSONError(w, http.StatusBadRequest, fmt.Sprintf("partition %q is not a number", s))
			return
		}
		if _, ok := t.Partition(int32(n)); !ok {
			httpJSONError(w, http.StatusNotFound, fmt.Sprintf("topic %q has no partition %d", topic, n))
			return
		}
		resp.Partition = int32(n)
		partitions = append(partitions, int32(n))
	} else {
		for _, p := range t.Partitions {
			partitions = append(partitions, p.Partition)
		}
	}
	for _, p := range partitions {
		l, err := b.handler.Log(topic, p)
		if err != nil {
			httpJSONError(w, http.StatusServiceUnavailable, fmt.Sprintf("partition %d: %v", p, err))
			return
		}
		recs, st, err := l.LookupKeyContext(r.Context(), []byte(key), limit)
		if err != nil {
			httpJSONError(w, http.StatusInternalServerError, fmt.Sprintf("partition %d: %v", p, err))
			return
		}
		resp.SegmentsScanned += st.SegmentsScanned
		resp.SegmentsSkipped += st.SegmentsSkipped
		for _, kr := range recs {
			resp.Records = append(resp.Records, toKeyRecord(p, kr))
		}
	}
	if len(partitions) > 1 {
		sort.SliceStable(resp.Records, func(i, j int) bool {
			a, c := resp.Records[i], resp.Records[j]
			if a.Timestamp != c.Timestamp {
				return a.Timestamp > c.Timestamp
			}
			return a.Partition < c.Partition
		})
		if len(resp.Records) > limit {
			resp.Records = resp.Records[:limit]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	// Compact and without HTML escaping: a JSON value reads as the
	// producer sent it, apart from insignificant white space.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		b.logger.Debug("key lookup: write response", "err", err)
	}
}

// toKeyRecord converts a found record to its JSON form.
func toKeyRecord(partition int32, kr segment.KeyRecord) keyRecord {
	out := keyRecord{Partition: partition, Offset: kr.Offset, Timestamp: kr.Timestamp, Key: string(kr.Key), Headers: []keyHeader{}}
	switch {
	case kr.Value == nil:
		out.Value = json.RawMessage("null")
	case json.Valid(kr.Value):
		out.Value = json.RawMessage(kr.Value)
	default:
		s, _ := json.Marshal(string(kr.Value))
		out.Value = s
	}
	for _, h := range kr.Headers {
		kh := keyHeader{Key: string(h.Key)}
		if h.Value != nil {
			v := string(h.Value)
			kh.Value = &v
		}
		out.Headers = append(out.Headers, kh)
	}
	return out
}

// httpJSONError writes {"error": msg} with the status.
func httpJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

package index_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// scoreIndexers returns a Memory and a Bluge index holding the same
// documents: 3 partitions of 20 JSON records, level ERROR for every
// fourth, WARN for every fourth after it, INFO otherwise.
func scoreIndexers(t *testing.T) map[string]index.Indexer {
	t.Helper()
	b, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]index.Indexer{"memory": index.NewMemory(), "bluge": b}
	for _, ix := range out {
		t.Cleanup(func() { ix.Close() })
		for p := int32(0); p < 3; p++ {
			var docs []index.Document
			for o := int64(0); o < 20; o++ {
				docs = append(docs, index.Document{Offset: o, Value: []byte(fmt.Sprintf(`{"level":%q,"n":%d}`, scoreLevel(o), o))})
			}
			if err := ix.Index(context.Background(), &index.Batch{Topic: "t", Partition: p, Docs: docs, Next: 20}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func scoreLevel(o int64) string {
	switch o % 4 {
	case 0:
		return "ERROR"
	case 1:
		return "WARN"
	}
	return "INFO"
}

// TestDSLScores runs Elasticsearch JSON bodies whose scores Elasticsearch
// defines exactly on both indexers: constant_score scores its boost
// (default 1.0), filter context scores 0.
func TestDSLScores(t *testing.T) {
	cases := []struct {
		name, body string
		level      func(string) bool
		score      float64
	}{
		{"constant_score boost", `{"query":{"constant_score":{"filter":{"term":{"level.keyword":"ERROR"}},"boost":2.5}}}`,
			func(l string) bool { return l == "ERROR" }, 2.5},
		{"constant_score default boost", `{"query":{"constant_score":{"filter":{"term":{"level.keyword":"WARN"}}}}}`,
			func(l string) bool { return l == "WARN" }, 1},
		{"constant_score in bool must", `{"query":{"bool":{"must":{"constant_score":{"filter":{"match":{"level":"error"}},"boost":4}},"boost":0.5}}}`,
			func(l string) bool { return l == "ERROR" }, 2},
		{"bool filter", `{"query":{"bool":{"filter":{"term":{"level.keyword":"ERROR"}}}}}`,
			func(l string) bool { return l == "ERROR" }, 0},
		{"bool must_not", `{"query":{"bool":{"must_not":{"term":{"level.keyword":"INFO"}},"boost":3}}}`,
			func(l string) bool { return l != "INFO" }, 0},
		{"bool filter and must_not", `{"query":{"bool":{"filter":{"exists":{"field":"n"}},"must_not":{"term":{"level.keyword":"INFO"}}}}}`,
			func(l string) bool { return l != "INFO" }, 0},
	}
	ixs := scoreIndexers(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := 0
			for o := int64(0); o < 20; o++ {
				if c.level(scoreLevel(o)) {
					want += 3
				}
			}
			for name, ix := range ixs {
				body, err := index.ParseSearchBody([]byte(c.body))
				if err != nil {
					t.Fatal(err)
				}
				body.Request.Size = 100
				res, err := ix.Search(context.Background(), "t", &body.Request)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if res.Total != int64(want) || len(res.Hits) != want {
					t.Fatalf("%s: total %d, %d hits, want %d", name, res.Total, len(res.Hits), want)
				}
				for _, h := range res.Hits {
					if !c.level(scoreLevel(h.Offset)) {
						t.Fatalf("%s: hit %d-%d does not match", name, h.Partition, h.Offset)
					}
					if h.Score != c.score {
						t.Fatalf("%s: hit %d-%d scores %v, want %v", name, h.Partition, h.Offset, h.Score, c.score)
					}
				}
				if res.MaxScore != c.score {
					t.Fatalf("%s: max score %v, want %v", name, res.MaxScore, c.score)
				}
			}
		})
	}
}

// TestParseConstantScore checks that constant_score keeps its boost.
func TestParseConstantScore(t *testing.T) {
	body, err := index.ParseSearchBody([]byte(`{"query":{"constant_score":{"filter":{"term":{"a":1}},"boost":2.5}}}`))
	if err != nil {
		t.Fatal(err)
	}
	q, ok := body.Request.Query.(*index.ConstantScoreQuery)
	if !ok {
		t.Fatalf("query %T, want *index.ConstantScoreQuery", body.Request.Query)
	}
	if q.Boost == nil || *q.Boost != 2.5 {
		t.Fatalf("boost %v, want 2.5", q.Boost)
	}
	if tq, ok := q.Filter.(*index.TermQuery); !ok || tq.Field != "a" {
		t.Fatalf("filter %#v, want the term query on a", q.Filter)
	}
	for _, bad := range []string{
		`{"query":{"constant_score":{"boost":2}}}`,
		`{"query":{"constant_score":{"filter":{"match_all":{}},"boost":"high"}}}`,
		`{"query":{"constant_score":{"filter":{"match_all":{}},"score":2}}}`,
	} {
		if _, err := index.ParseSearchBody([]byte(bad)); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}

// TestHTTPConstantScore checks _score and max_score in the search API's
// answer for constant_score with a boost.
func TestHTTPConstantScore(t *testing.T) {
	h := newHTTPEnv(t)
	code, v := h.do(t, http.MethodPost, "/logs/_search?size=50",
		`{"query":{"constant_score":{"filter":{"term":{"level.keyword":"ERROR"}},"boost":2.5}}}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, v)
	}
	want := countProduced(h.recs, func(p *produced) bool { return p.level == "ERROR" })
	if got := total(t, v); got != want {
		t.Fatalf("%d hits, want %d", got, want)
	}
	if ms := v["hits"].(map[string]any)["max_score"]; ms != 2.5 {
		t.Fatalf("max_score %v, want 2.5", ms)
	}
	hits := hitsOf(v)
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	for _, hit := range hits {
		if hit["_score"] != 2.5 {
			t.Fatalf("hit %v: _score %v, want 2.5", hit["_id"], hit["_score"])
		}
	}
}

package index_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/index"
)

// dslScoreCase is an Elasticsearch JSON query run on scoreIndexers'
// documents, with the score Elasticsearch gives each match by its level.
type dslScoreCase struct {
	name, body string
	level      func(string) bool
	score      func(string) float64
}

func scoreOf(s float64) func(string) float64 { return func(string) float64 { return s } }

func levelIs(ls ...string) func(string) bool {
	return func(l string) bool {
		for _, x := range ls {
			if l == x {
				return true
			}
		}
		return false
	}
}

func anyLevel(string) bool { return true }

// runDSLScores runs each case on both indexers and checks every hit's
// score and the maximum.
func runDSLScores(t *testing.T, cases []dslScoreCase) {
	t.Helper()
	ixs := scoreIndexers(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, best := 0, -1.0
			for o := int64(0); o < 20; o++ {
				if l := scoreLevel(o); c.level(l) {
					want += 3
					best = max(best, c.score(l))
				}
			}
			for name, ix := range ixs {
				body, err := index.ParseSearchBody([]byte(c.body))
				if err != nil {
					t.Fatalf("%s: %v", c.body, err)
				}
				body.Request.Size = 100
				res, err := ix.Search(context.Background(), "t", &body.Request)
				if err != nil {
					t.Fatalf("%s: %s: %v", name, c.body, err)
				}
				if res.Total != int64(want) || len(res.Hits) != want {
					t.Fatalf("%s: %s: total %d, %d hits, want %d", name, c.body, res.Total, len(res.Hits), want)
				}
				for i, h := range res.Hits {
					l := scoreLevel(h.Offset)
					if !c.level(l) {
						t.Fatalf("%s: %s: hit %d-%d does not match", name, c.body, h.Partition, h.Offset)
					}
					if h.Score != c.score(l) {
						t.Fatalf("%s: %s: hit %d-%d (%s) scores %v, want %v", name, c.body, h.Partition, h.Offset, l, h.Score, c.score(l))
					}
					if i > 0 && h.Score > res.Hits[i-1].Score {
						t.Fatalf("%s: %s: hits not in score order", name, c.body)
					}
				}
				if res.MaxScore != best {
					t.Fatalf("%s: %s: max score %v, want %v", name, c.body, res.MaxScore, best)
				}
			}
		})
	}
}

// TestDSLConstantScoreQueries checks that the queries Elasticsearch runs
// with constant scores score their boost (default 1.0) on every match,
// in both indexers: terms (a TermInSetQuery), exists, and prefix and
// wildcard (multi-term queries, whose default rewrite is constant_score),
// also from query_string.
func TestDSLConstantScoreQueries(t *testing.T) {
	runDSLScores(t, []dslScoreCase{
		{"terms", `{"query":{"terms":{"level.keyword":["ERROR","WARN"]}}}`, levelIs("ERROR", "WARN"), scoreOf(1)},
		{"terms boost", `{"query":{"terms":{"level.keyword":["ERROR","WARN"],"boost":2}}}`, levelIs("ERROR", "WARN"), scoreOf(2)},
		{"terms on text", `{"query":{"terms":{"level":["error","info"],"boost":0.5}}}`, levelIs("ERROR", "INFO"), scoreOf(0.5)},
		{"terms on numbers", `{"query":{"terms":{"n":[0,4,8,12,16]}}}`, levelIs("ERROR"), scoreOf(1)},
		{"exists", `{"query":{"exists":{"field":"level"}}}`, anyLevel, scoreOf(1)},
		{"exists boost", `{"query":{"exists":{"field":"level.keyword","boost":3}}}`, anyLevel, scoreOf(3)},
		{"prefix", `{"query":{"prefix":{"level":"err"}}}`, levelIs("ERROR"), scoreOf(1)},
		{"prefix boost", `{"query":{"prefix":{"level.keyword":{"value":"WA","boost":1.5}}}}`, levelIs("WARN"), scoreOf(1.5)},
		{"wildcard boost", `{"query":{"wildcard":{"level":{"value":"*r*","boost":2}}}}`, levelIs("ERROR", "WARN"), scoreOf(2)},
		{"wildcard", `{"query":{"wildcard":{"level.keyword":{"wildcard":"IN?O"}}}}`, levelIs("INFO"), scoreOf(1)},
		{"query_string prefix", `{"query":{"query_string":{"query":"level:err*"}}}`, levelIs("ERROR"), scoreOf(1)},
		{"query_string prefixes on every field", `{"query":{"query_string":{"query":"err* OR wa*"}}}`, levelIs("ERROR", "WARN"), scoreOf(1)},
		{"query_string _exists_ boosted", `{"query":{"query_string":{"query":"_exists_:level^2"}}}`, anyLevel, scoreOf(2)},
		{"query_string field:*", `{"query":{"query_string":{"query":"level:*","boost":4}}}`, anyLevel, scoreOf(4)},
	})
}

// TestDSLBoostZero checks that an explicit boost of 0 scores every match
// 0 (Elasticsearch multiplies the score by the boost), for every query
// type that takes a boost, in both indexers.
func TestDSLBoostZero(t *testing.T) {
	runDSLScores(t, []dslScoreCase{
		{"match", `{"query":{"match":{"level":{"query":"error","boost":0}}}}`, levelIs("ERROR"), scoreOf(0)},
		{"match_phrase", `{"query":{"match_phrase":{"level":{"query":"warn","boost":0}}}}`, levelIs("WARN"), scoreOf(0)},
		{"term", `{"query":{"term":{"level.keyword":{"value":"INFO","boost":0}}}}`, levelIs("INFO"), scoreOf(0)},
		{"term on text", `{"query":{"term":{"level":{"value":"info","boost":0.0}}}}`, levelIs("INFO"), scoreOf(0)},
		{"terms", `{"query":{"terms":{"level.keyword":["INFO"],"boost":0}}}`, levelIs("INFO"), scoreOf(0)},
		{"range", `{"query":{"range":{"n":{"gte":0,"boost":0}}}}`, anyLevel, scoreOf(0)},
		{"exists", `{"query":{"exists":{"field":"n","boost":0}}}`, anyLevel, scoreOf(0)},
		{"prefix", `{"query":{"prefix":{"level":{"value":"in","boost":0}}}}`, levelIs("INFO"), scoreOf(0)},
		{"wildcard", `{"query":{"wildcard":{"level":{"value":"w?rn","boost":0}}}}`, levelIs("WARN"), scoreOf(0)},
		{"match_all", `{"query":{"match_all":{"boost":0}}}`, anyLevel, scoreOf(0)},
		{"constant_score", `{"query":{"constant_score":{"filter":{"term":{"level.keyword":"ERROR"}},"boost":0}}}`, levelIs("ERROR"), scoreOf(0)},
		{"bool must", `{"query":{"bool":{"must":{"match":{"level":"error"}},"boost":0}}}`, levelIs("ERROR"), scoreOf(0)},
		{"bool should", `{"query":{"bool":{"should":[{"match":{"level":"error"}},{"match":{"level":"warn"}}],"boost":0}}}`,
			levelIs("ERROR", "WARN"), scoreOf(0)},
		{"query_string", `{"query":{"query_string":{"query":"level:error","boost":0}}}`, levelIs("ERROR"), scoreOf(0)},
		{"query_string ^0", `{"query":{"query_string":{"query":"level:error^0"}}}`, levelIs("ERROR"), scoreOf(0)},
		{"zero and constant clauses", `{"query":{"bool":{"should":[{"term":{"level.keyword":{"value":"ERROR","boost":0}}},{"constant_score":{"filter":{"term":{"level.keyword":"WARN"}},"boost":2}}]}}}`,
			levelIs("ERROR", "WARN"), func(l string) float64 {
				if l == "ERROR" {
					return 0
				}
				return 2
			}},
	})
}

// TestParseNegativeBoost checks that a negative boost is refused while
// parsing, with a parsing_exception, as Elasticsearch (7.0 and later)
// refuses it: "negative [boost] are not allowed".
func TestParseNegativeBoost(t *testing.T) {
	for _, q := range []string{
		`{"match":{"level":{"query":"error","boost":-1}}}`,
		`{"match_phrase":{"level":{"query":"error","boost":-1}}}`,
		`{"term":{"level.keyword":{"value":"ERROR","boost":-0.5}}}`,
		`{"terms":{"level.keyword":["ERROR"],"boost":-1}}`,
		`{"range":{"n":{"gte":1,"boost":-1}}}`,
		`{"exists":{"field":"n","boost":-1}}`,
		`{"prefix":{"level":{"value":"e","boost":-1}}}`,
		`{"wildcard":{"level":{"value":"e*","boost":-1}}}`,
		`{"ids":{"values":["0-1"],"boost":-1}}`,
		`{"match_all":{"boost":-1}}`,
		`{"match_none":{"boost":-1}}`,
		`{"constant_score":{"filter":{"match_all":{}},"boost":-2}}`,
		`{"bool":{"must":{"match_all":{}},"boost":-1}}`,
		`{"bool":{"filter":{"term":{"level.keyword":{"value":"ERROR","boost":-1}}}}}`,
		`{"query_string":{"query":"level:error","boost":-1}}`,
		`{"match_all":{"boost":"-1"}}`,
		`{"match_all":{"boost":-0.0}}`,
	} {
		_, err := index.ParseSearchBody([]byte(`{"query":` + q + `}`))
		var qe *index.QueryError
		if !errors.As(err, &qe) {
			t.Errorf("%s: error %v, want a *index.QueryError", q, err)
			continue
		}
		if qe.Type != "parsing_exception" || !strings.Contains(qe.Reason, "negative [boost] are not allowed") {
			t.Errorf("%s: %s: %s, want a parsing_exception saying negative boosts are not allowed", q, qe.Type, qe.Reason)
		}
	}
}

// TestHTTPBoostScores checks _score and max_score in the search API's
// answers for constant-score queries and a boost of 0, and the 400 of a
// negative boost.
func TestHTTPBoostScores(t *testing.T) {
	h := newHTTPEnv(t)
	cases := []struct {
		name, path, body string
		want             func(*produced) bool
		score            float64
	}{
		{"terms", "/logs/_search?size=300", `{"query":{"terms":{"level.keyword":["ERROR","WARN"],"boost":2}}}`,
			func(p *produced) bool { return p.level != "INFO" }, 2},
		{"prefix", "/logs/_search?size=300", `{"query":{"prefix":{"level.keyword":"WA"}}}`,
			func(p *produced) bool { return p.level == "WARN" }, 1},
		{"wildcard", "/logs/_search?size=300", `{"query":{"wildcard":{"_key":{"value":"k?","boost":1.5}}}}`,
			func(*produced) bool { return true }, 1.5},
		{"exists boost 0", "/logs/_search?size=300", `{"query":{"exists":{"field":"_headers.source","boost":0}}}`,
			func(p *produced) bool { return p.header != "" }, 0},
		{"match boost 0", "/logs/_search?size=300", `{"query":{"match":{"msg":{"query":"disk","boost":0}}}}`,
			func(p *produced) bool { return p.words[0] == "disk" || p.words[1] == "disk" }, 0},
		{"q with ^0", "/logs/_search?size=300&q=" + url.QueryEscape("level:ERROR^0"), "",
			func(p *produced) bool { return p.level == "ERROR" }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, v := h.do(t, http.MethodPost, c.path, c.body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, v)
			}
			want := countProduced(h.recs, c.want)
			if got := total(t, v); got != want || want == 0 {
				t.Fatalf("%d hits, want %d", got, want)
			}
			if ms := v["hits"].(map[string]any)["max_score"]; ms != c.score {
				t.Fatalf("max_score %v, want %v", ms, c.score)
			}
			hits := hitsOf(v)
			if int64(len(hits)) != want {
				t.Fatalf("%d hits returned, want %d", len(hits), want)
			}
			for _, hit := range hits {
				if hit["_score"] != c.score {
					t.Fatalf("hit %v: _score %v, want %v", hit["_id"], hit["_score"], c.score)
				}
			}
		})
	}
	t.Run("negative boost", func(t *testing.T) {
		code, v := h.do(t, http.MethodPost, "/logs/_search", `{"query":{"wildcard":{"_key":{"value":"k?","boost":-2}}}}`)
		if code != http.StatusBadRequest || v["status"] != float64(http.StatusBadRequest) {
			t.Fatalf("status %d: %v, want 400", code, v)
		}
		e, _ := v["error"].(map[string]any)
		if reason, _ := e["reason"].(string); e["type"] != "parsing_exception" || !strings.Contains(reason, "negative [boost] are not allowed") {
			t.Fatalf("error %v, want a parsing_exception saying negative boosts are not allowed", e)
		}
	})
}

// TestParseBoost checks that every query type keeps its boost: nil when
// absent (the default, 1.0), and an explicit 0 as 0.
func TestParseBoost(t *testing.T) {
	boostOf := func(q index.Query) *float64 {
		switch q := q.(type) {
		case *index.MatchAllQuery:
			return q.Boost
		case *index.MatchQuery:
			return q.Boost
		case *index.MatchPhraseQuery:
			return q.Boost
		case *index.TermQuery:
			return q.Boost
		case *index.TermsQuery:
			return q.Boost
		case *index.RangeQuery:
			return q.Boost
		case *index.ExistsQuery:
			return q.Boost
		case *index.PrefixQuery:
			return q.Boost
		case *index.WildcardQuery:
			return q.Boost
		case *index.IDsQuery:
			return q.Boost
		case *index.BoolQuery:
			return q.Boost
		case *index.ConstantScoreQuery:
			return q.Boost
		case *index.QueryStringQuery:
			return q.Boost
		}
		t.Fatalf("%T has no boost", q)
		return nil
	}
	// Each query with %s where its "boost" goes (or nothing).
	for _, q := range []string{
		`{"match_all":{%s}}`,
		`{"match":{"level":{"query":"error"%s}}}`,
		`{"match_phrase":{"level":{"query":"error"%s}}}`,
		`{"term":{"level.keyword":{"value":"ERROR"%s}}}`,
		`{"terms":{"level.keyword":["ERROR"]%s}}`,
		`{"range":{"n":{"gte":1%s}}}`,
		`{"exists":{"field":"n"%s}}`,
		`{"prefix":{"level":{"value":"e"%s}}}`,
		`{"wildcard":{"level":{"wildcard":"e*"%s}}}`,
		`{"ids":{"values":["0-1"]%s}}`,
		`{"bool":{"must":{"match_all":{}}%s}}`,
		`{"constant_score":{"filter":{"match_all":{}}%s}}`,
		`{"query_string":{"query":"level:error"%s}}`,
	} {
		for _, c := range []struct {
			boost string
			want  *float64
		}{{"", nil}, {`"boost":0`, index.Boost(0)}, {`"boost":0.0`, index.Boost(0)}, {`"boost":2.5`, index.Boost(2.5)}, {`"boost":"3"`, index.Boost(3)}} {
			b := c.boost
			if b != "" && !strings.HasSuffix(q, "{%s}}") {
				b = "," + b
			}
			src := strings.Replace(q, "%s", b, 1)
			body, err := index.ParseSearchBody([]byte(`{"query":` + src + `}`))
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			got := boostOf(body.Request.Query)
			if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
				t.Errorf("%s: boost %v, want %v", src, deref(got), deref(c.want))
			}
		}
	}
	for _, bad := range []string{`{"match_all":{"boost":"high"}}`, `{"match_all":{"boost":true}}`, `{"match_all":{"boost":"NaN"}}`, `{"match_all":{"boost":"Inf"}}`} {
		if _, err := index.ParseSearchBody([]byte(`{"query":` + bad + `}`)); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestSearchNegativeBoost checks that a query built in Go with a negative
// boost is refused by Search in both indexers with an
// illegal_argument_exception, as Elasticsearch's query builders refuse
// it.
func TestSearchNegativeBoost(t *testing.T) {
	for name, ix := range scoreIndexers(t) {
		for _, q := range []index.Query{
			&index.TermsQuery{Field: "level.keyword", Values: []any{"ERROR"}, Boost: index.Boost(-1)},
			&index.BoolQuery{Should: []index.Query{&index.PrefixQuery{Field: "level", Value: "e", Boost: index.Boost(-0.5)}}},
		} {
			_, err := ix.Search(context.Background(), "t", &index.Request{Query: q, Size: 10})
			var qe *index.QueryError
			if !errors.As(err, &qe) || qe.Type != "illegal_argument_exception" || !strings.Contains(qe.Reason, "negative [boost] are not allowed") {
				t.Errorf("%s: %T: error %v, want an illegal_argument_exception saying negative boosts are not allowed", name, q, err)
			}
		}
	}
}

// TestQueryStringUnfieldedBoost checks that the boost of a clause
// searching every field applies once: "error^2" scores each match
// exactly twice what "error" does (the scores are scored, BM25 in
// Bluge, so only the ratio is known).
func TestQueryStringUnfieldedBoost(t *testing.T) {
	for name, ix := range scoreIndexers(t) {
		scores := func(q index.Query) map[string]float64 {
			res, err := ix.Search(context.Background(), "t", &index.Request{Query: q, Size: 100})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out := map[string]float64{}
			for _, h := range res.Hits {
				out[index.DocID(h.Partition, h.Offset)] = h.Score
			}
			return out
		}
		base := scores(&index.QueryStringQuery{Query: "error"})
		if len(base) != 15 {
			t.Fatalf("%s: %d hits for error, want 15", name, len(base))
		}
		for _, c := range []struct {
			q      index.Query
			factor float64
		}{
			{&index.QueryStringQuery{Query: "error^2"}, 2},
			{&index.QueryStringQuery{Query: "((error)^2)^1.5"}, 3},
			{&index.QueryStringQuery{Query: "error", Boost: index.Boost(0.5)}, 0.5},
			{&index.MatchQuery{Field: "*", Query: "error", Boost: index.Boost(3)}, 3},
		} {
			got := scores(c.q)
			if len(got) != len(base) {
				t.Fatalf("%s: %+v: %d hits, want %d", name, c.q, len(got), len(base))
			}
			for id, s := range base {
				if g := got[id]; g < s*c.factor*(1-1e-12) || g > s*c.factor*(1+1e-12) {
					t.Fatalf("%s: %+v: hit %s scores %v, want %v (%v times %v)", name, c.q, id, g, s*c.factor, c.factor, s)
				}
			}
		}
	}
}

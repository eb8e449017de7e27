// Package indextest is the conformance suite of index.Indexer: every
// implementation runs Run (and, when it is durable, RunDurable) from its
// own tests. Expected results are computed from the generated records
// with plain Go predicates, never with the index's own code.
package indextest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// Opener opens the Indexer under test, storing its data in dir; opening
// the same dir again after Close reopens the same index for durable
// implementations. It registers no cleanup: the suite closes what it
// opens.
type Opener func(t *testing.T, dir string) index.Indexer

const (
	topic   = "orders"
	parts   = 3
	perPart = 120
)

// fixture is an index loaded with the generated records.
type fixture struct {
	ix   index.Indexer
	recs []record
}

func load(t *testing.T, open Opener) *fixture {
	t.Helper()
	ix := open(t, t.TempDir())
	t.Cleanup(func() { ix.Close() })
	recs := generate(parts, perPart, 0)
	for _, b := range batches(topic, recs, 50, nil) {
		if err := ix.Index(context.Background(), b); err != nil {
			t.Fatalf("Index: %v", err)
		}
	}
	return &fixture{ix: ix, recs: recs}
}

func (f *fixture) count(t *testing.T, q index.Query) int64 {
	t.Helper()
	res, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q})
	if err != nil {
		t.Fatalf("Search(%s): %v", describe(q), err)
	}
	if len(res.Hits) != 0 {
		t.Fatalf("Search(%s) with size 0 returned %d hits", describe(q), len(res.Hits))
	}
	return res.Total
}

// checkPage fetches the first hits of q (by score) and checks the total
// and that every hit is a record the oracle accepts.
func (f *fixture) checkPage(t *testing.T, q index.Query, pred func(*record) bool, want int64) {
	t.Helper()
	res, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q, Size: 7})
	if err != nil {
		t.Fatalf("Search(%s): %v", describe(q), err)
	}
	if res.Total != want || len(res.Hits) != int(min(want, 7)) {
		t.Fatalf("%s with size 7: total %d, %d hits; want %d", describe(q), res.Total, len(res.Hits), want)
	}
	ok := map[string]bool{}
	for i := range f.recs {
		if pred(&f.recs[i]) {
			ok[index.DocID(f.recs[i].part, f.recs[i].doc.Offset)] = true
		}
	}
	for i, h := range res.Hits {
		if !ok[index.DocID(h.Partition, h.Offset)] {
			t.Fatalf("%s: hit %d-%d does not match", describe(q), h.Partition, h.Offset)
		}
		if i > 0 && h.Score > res.Hits[i-1].Score {
			t.Fatalf("%s: hits not in score order", describe(q))
		}
	}
}

// describe names a query for messages: its type and its fields as JSON
// (boosts by value, not by address), or Go's notation when that fails.
func describe(q index.Query) string {
	name := strings.TrimPrefix(fmt.Sprintf("%T", q), "*index.")
	if b, err := json.Marshal(q); err == nil {
		return name + string(b)
	}
	return name + fmt.Sprintf("%+v", q)
}

// Run runs the Indexer contract tests against open.
func Run(t *testing.T, open Opener) {
	t.Run("Queries", func(t *testing.T) { testQueries(t, open) })
	t.Run("QueryString", func(t *testing.T) { testQueryString(t, open) })
	t.Run("Scores", func(t *testing.T) { testScores(t, open) })
	t.Run("Sort", func(t *testing.T) { testSort(t, open) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, open) })
	t.Run("MinOffsets", func(t *testing.T) { testMinOffsets(t, open) })
	t.Run("QueryErrors", func(t *testing.T) { testQueryErrors(t, open) })
	t.Run("Checkpoint", func(t *testing.T) { testCheckpoint(t, open) })
	t.Run("BatchErrors", func(t *testing.T) { testBatchErrors(t, open) })
	t.Run("Fields", func(t *testing.T) { testFields(t, open) })
	t.Run("Topics", func(t *testing.T) { testTopics(t, open) })
	t.Run("DeletePartition", func(t *testing.T) { testDeletePartition(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
}

// RunDurable runs Run and then checks that an index reopened from its
// directory keeps its documents and checkpoints and goes on indexing.
func RunDurable(t *testing.T, open Opener) {
	Run(t, open)
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
}

type queryCase struct {
	name string
	q    index.Query
	want func(r *record) bool
}

func testQueries(t *testing.T, open Opener) {
	f := load(t, open)
	start := baseTime.UnixMilli()
	cases := []queryCase{
		{"match_all", &index.MatchAllQuery{}, func(r *record) bool { return true }},
		{"nil query", nil, func(r *record) bool { return true }},
		{"match_none", &index.MatchNoneQuery{}, func(r *record) bool { return false }},
		{"match word", &index.MatchQuery{Field: "message", Query: "alpha"}, func(r *record) bool { return r.hasWord("alpha") }},
		{"match upper case", &index.MatchQuery{Field: "message", Query: "ALPHA"}, func(r *record) bool { return r.hasWord("alpha") }},
		{"match or", &index.MatchQuery{Field: "message", Query: "alpha bravo"}, func(r *record) bool { return r.hasWord("alpha") || r.hasWord("bravo") }},
		{"match and", &index.MatchQuery{Field: "message", Query: "alpha bravo", Operator: "and"}, func(r *record) bool { return r.hasWord("alpha") && r.hasWord("bravo") }},
		{"match minimum_should_match", &index.MatchQuery{Field: "message", Query: "alpha bravo charlie", MinimumShouldMatch: "2"}, func(r *record) bool {
			n := 0
			for _, w := range []string{"alpha", "bravo", "charlie"} {
				if r.hasWord(w) {
					n++
				}
			}
			return n >= 2
		}},
		{"match level text", &index.MatchQuery{Field: "level", Query: "error"}, func(r *record) bool { return r.level == "ERROR" }},
		{"match number", &index.MatchQuery{Field: "status", Query: "404"}, func(r *record) bool { return r.status == 404 }},
		{"match keyword exact", &index.MatchQuery{Field: "level.keyword", Query: "WARN"}, func(r *record) bool { return r.level == "WARN" }},
		{"match no tokens", &index.MatchQuery{Field: "message", Query: "!!"}, func(r *record) bool { return false }},
		{"match_phrase", &index.MatchPhraseQuery{Field: "message", Query: "alpha bravo"}, func(r *record) bool { return r.hasPhrase("alpha", "bravo") }},
		{"match_phrase three", &index.MatchPhraseQuery{Field: "message", Query: "charlie delta echo"}, func(r *record) bool { return r.hasPhrase("charlie", "delta", "echo") }},
		{"match_phrase slop 1", &index.MatchPhraseQuery{Field: "message", Query: "alpha charlie", Slop: 1}, func(r *record) bool { return r.near("alpha", "charlie", 1) }},
		{"match_phrase slop 2", &index.MatchPhraseQuery{Field: "message", Query: "alpha charlie", Slop: 2}, func(r *record) bool { return r.near("alpha", "charlie", 2) }},
		{"term keyword", &index.TermQuery{Field: "level.keyword", Value: "ERROR"}, func(r *record) bool { return r.level == "ERROR" }},
		{"term text is not analysed", &index.TermQuery{Field: "level", Value: "ERROR"}, func(r *record) bool { return false }},
		{"term text token", &index.TermQuery{Field: "level", Value: "error"}, func(r *record) bool { return r.level == "ERROR" }},
		{"term number", &index.TermQuery{Field: "status", Value: 500}, func(r *record) bool { return r.status == 500 }},
		{"term float", &index.TermQuery{Field: "latency_ms", Value: 31.75}, func(r *record) bool { return r.json && r.latency == 31.75 }},
		{"term numeric string", &index.TermQuery{Field: "status", Value: "201"}, func(r *record) bool { return r.status == 201 }},
		{"term bool", &index.TermQuery{Field: "ok", Value: true}, func(r *record) bool { return r.json && r.ok }},
		{"term bool false", &index.TermQuery{Field: "ok", Value: false}, func(r *record) bool { return r.json && !r.ok }},
		{"term key", &index.TermQuery{Field: "_key", Value: "user-3"}, func(r *record) bool { return r.user == "user-3" }},
		{"term partition", &index.TermQuery{Field: "_partition", Value: 1}, func(r *record) bool { return r.part == 1 }},
		{"term offset", &index.TermQuery{Field: "_offset", Value: 12}, func(r *record) bool { return r.doc.Offset == 12 }},
		{"term date", &index.TermQuery{Field: "at", Value: baseTime.Add(10 * time.Minute).Format(time.RFC3339)}, func(r *record) bool {
			return r.json && r.at.Equal(baseTime.Add(10*time.Minute))
		}},
		{"term date day", &index.TermQuery{Field: "at", Value: "2024-05-01"}, func(r *record) bool { return r.json }},
		{"term timestamp", &index.TermQuery{Field: "_timestamp", Value: start + 5000}, func(r *record) bool { return r.doc.Timestamp == start+5000 }},
		{"term nested keyword", &index.TermQuery{Field: "user.id.keyword", Value: "user-7"}, func(r *record) bool { return r.json && r.user == "user-7" }},
		{"term array", &index.TermQuery{Field: "tags.keyword", Value: "green"}, func(r *record) bool { return r.hasTag("green") }},
		{"term array of objects", &index.TermQuery{Field: "items.sku.keyword", Value: "sku-2"}, func(r *record) bool { return r.hasItem("sku-2") }},
		{"term header keyword", &index.TermQuery{Field: "_headers.trace.keyword", Value: "Trace-3"}, func(r *record) bool { return r.trace == "Trace-3" }},
		{"term scalar value", &index.TermQuery{Field: "_value.keyword", Value: "scalar alpha"}, func(r *record) bool { return r.scalar == "scalar alpha" }},
		{"terms", &index.TermsQuery{Field: "level.keyword", Values: []any{"ERROR", "WARN"}}, func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }},
		{"terms numbers", &index.TermsQuery{Field: "status", Values: []any{404, 201.0}}, func(r *record) bool { return r.status == 404 || r.status == 201 }},
		{"terms none", &index.TermsQuery{Field: "status", Values: []any{}}, func(r *record) bool { return false }},
		{"range float", &index.RangeQuery{Field: "latency_ms", GT: 100, LTE: 200.25}, func(r *record) bool { return r.json && r.latency > 100 && r.latency <= 200.25 }},
		{"range exclusive", &index.RangeQuery{Field: "latency_ms", GTE: 31.75, LT: 40.25}, func(r *record) bool { return r.json && r.latency >= 31.75 && r.latency < 40.25 }},
		{"range open", &index.RangeQuery{Field: "status", GTE: 400}, func(r *record) bool { return r.json && r.status >= 400 }},
		{"range negative", &index.RangeQuery{Field: "latency_ms", LT: -1}, func(r *record) bool { return false }},
		{"range date", &index.RangeQuery{Field: "at", GTE: "2024-05-01T01:00:00Z", LT: "2024-05-01T02:00:00Z"}, func(r *record) bool {
			return r.json && !r.at.Before(baseTime.Add(time.Hour)) && r.at.Before(baseTime.Add(2*time.Hour))
		}},
		{"range date rounding", &index.RangeQuery{Field: "at", GT: "2024-05-01T05:00"}, func(r *record) bool {
			return r.json && !r.at.Before(baseTime.Add(5*time.Hour+time.Minute))
		}},
		{"range date math", &index.RangeQuery{Field: "at", GTE: "2024-05-01T00:00:00Z||+90m", LTE: "2024-05-01T00:00:00Z||+2h"}, func(r *record) bool {
			return r.json && !r.at.Before(baseTime.Add(90*time.Minute)) && !r.at.After(baseTime.Add(2*time.Hour))
		}},
		{"range timestamp millis", &index.RangeQuery{Field: "_timestamp", GTE: start + 10000, LT: start + 50000}, func(r *record) bool {
			return r.doc.Timestamp >= start+10000 && r.doc.Timestamp < start+50000
		}},
		{"range timestamp date", &index.RangeQuery{Field: "_timestamp", GT: "2024-05-01T00:01:00Z"}, func(r *record) bool { return r.doc.Timestamp > start+60000 }},
		{"range offset", &index.RangeQuery{Field: "_offset", GTE: 10, LT: 20}, func(r *record) bool { return r.doc.Offset >= 10 && r.doc.Offset < 20 }},
		{"range partition", &index.RangeQuery{Field: "_partition", GT: 0}, func(r *record) bool { return r.part > 0 }},
		{"range keyword", &index.RangeQuery{Field: "user.id.keyword", GTE: "user-10", LT: "user-3"}, func(r *record) bool {
			return r.json && r.user != "" && r.user >= "user-10" && r.user < "user-3"
		}},
		{"range array", &index.RangeQuery{Field: "items.qty", GTE: 3}, func(r *record) bool { return len(r.items) >= 3 }},
		{"range no bounds is exists", &index.RangeQuery{Field: "geo.country"}, func(r *record) bool { return r.country != "" }},
		{"exists", &index.ExistsQuery{Field: "geo.country"}, func(r *record) bool { return r.country != "" }},
		{"exists object", &index.ExistsQuery{Field: "geo"}, func(r *record) bool { return r.country != "" }},
		{"exists null", &index.ExistsQuery{Field: "geo.city"}, func(r *record) bool { return false }},
		{"exists key", &index.ExistsQuery{Field: "_key"}, func(r *record) bool { return r.user != "" }},
		{"exists header", &index.ExistsQuery{Field: "_headers.trace"}, func(r *record) bool { return r.trace != "" }},
		{"exists null header", &index.ExistsQuery{Field: "_headers.empty"}, func(r *record) bool { return false }},
		{"exists keyword", &index.ExistsQuery{Field: "level.keyword"}, func(r *record) bool { return r.json }},
		{"exists array", &index.ExistsQuery{Field: "items"}, func(r *record) bool { return len(r.items) > 0 }},
		{"exists value", &index.ExistsQuery{Field: "_value"}, func(r *record) bool { return r.text != "" || r.scalar != "" }},
		{"exists timestamp", &index.ExistsQuery{Field: "_timestamp"}, func(r *record) bool { return true }},
		{"prefix keyword", &index.PrefixQuery{Field: "level.keyword", Value: "ERR"}, func(r *record) bool { return r.level == "ERROR" }},
		{"prefix text", &index.PrefixQuery{Field: "message", Value: "char"}, func(r *record) bool { return r.hasWord("charlie") }},
		{"prefix key", &index.PrefixQuery{Field: "_key", Value: "user-1"}, func(r *record) bool { return strings.HasPrefix(r.user, "user-1") }},
		{"wildcard", &index.WildcardQuery{Field: "user.id.keyword", Value: "user-1?"}, func(r *record) bool {
			return r.json && len(r.user) == 7 && strings.HasPrefix(r.user, "user-1")
		}},
		{"wildcard star", &index.WildcardQuery{Field: "message", Value: "*otel"}, func(r *record) bool { return r.hasWord("hotel") }},
		{"wildcard exists", &index.WildcardQuery{Field: "geo.country", Value: "*"}, func(r *record) bool { return r.country != "" }},
		{"ids", &index.IDsQuery{Values: []string{"0-0", "1-5", "2-19", "2-9", "nonsense"}}, func(r *record) bool {
			return (r.part == 0 && r.doc.Offset == 0) || (r.part == 1 && r.doc.Offset == 5) || (r.part == 2 && r.doc.Offset == 19)
		}},
		{"header phrase", &index.MatchPhraseQuery{Field: "_headers.trace", Query: "trace 3"}, func(r *record) bool { return r.trace == "Trace-3" }},
		{"non-JSON value", &index.MatchQuery{Field: "_value", Query: "golf"}, func(r *record) bool {
			return r.text != "" || strings.Contains(r.scalar, "golf")
		}},
		{"bool must filter must_not", &index.BoolQuery{
			Must:    []index.Query{&index.MatchQuery{Field: "message", Query: "alpha"}},
			Filter:  []index.Query{&index.RangeQuery{Field: "status", GTE: 400}},
			MustNot: []index.Query{&index.TermQuery{Field: "level.keyword", Value: "INFO"}},
		}, func(r *record) bool { return r.hasWord("alpha") && r.status >= 400 && r.level != "INFO" }},
		{"bool should only", &index.BoolQuery{Should: []index.Query{
			&index.TermQuery{Field: "level.keyword", Value: "ERROR"},
			&index.TermQuery{Field: "status", Value: 500},
		}}, func(r *record) bool { return r.level == "ERROR" || r.status == 500 }},
		{"bool should optional with must", &index.BoolQuery{
			Must:   []index.Query{&index.TermQuery{Field: "level.keyword", Value: "WARN"}},
			Should: []index.Query{&index.TermQuery{Field: "status", Value: 500}},
		}, func(r *record) bool { return r.level == "WARN" }},
		{"bool minimum_should_match", &index.BoolQuery{
			Should: []index.Query{
				&index.MatchQuery{Field: "message", Query: "alpha"},
				&index.MatchQuery{Field: "message", Query: "bravo"},
				&index.MatchQuery{Field: "message", Query: "charlie"},
			},
			MinimumShouldMatch: "2",
		}, func(r *record) bool {
			n := 0
			for _, w := range []string{"alpha", "bravo", "charlie"} {
				if r.hasWord(w) {
					n++
				}
			}
			return n >= 2
		}},
		{"bool minimum_should_match percent with filter", &index.BoolQuery{
			Filter: []index.Query{&index.ExistsQuery{Field: "geo"}},
			Should: []index.Query{
				&index.MatchQuery{Field: "message", Query: "alpha"},
				&index.MatchQuery{Field: "message", Query: "bravo"},
			},
			MinimumShouldMatch: "50%",
		}, func(r *record) bool { return r.country != "" && (r.hasWord("alpha") || r.hasWord("bravo")) }},
		{"bool must_not only", &index.BoolQuery{MustNot: []index.Query{&index.ExistsQuery{Field: "_key"}}}, func(r *record) bool { return r.user == "" }},
		{"bool nested", &index.BoolQuery{Should: []index.Query{
			&index.BoolQuery{Must: []index.Query{
				&index.TermQuery{Field: "_partition", Value: 0},
				&index.TermQuery{Field: "ok", Value: true},
			}},
			&index.BoolQuery{Filter: []index.Query{&index.TermQuery{Field: "geo.country.keyword", Value: "FR"}}},
		}}, func(r *record) bool { return (r.part == 0 && r.json && r.ok) || r.country == "FR" }},
		{"bool empty", &index.BoolQuery{}, func(r *record) bool { return true }},
		{"bool impossible minimum", &index.BoolQuery{Should: []index.Query{&index.MatchAllQuery{}}, MinimumShouldMatch: "2"}, func(r *record) bool { return false }},
		{"query_string in bool", &index.BoolQuery{Must: []index.Query{&index.QueryStringQuery{Query: "level:error"}}}, func(r *record) bool { return r.level == "ERROR" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := countWhere(f.recs, c.want)
			if got := f.count(t, c.q); got != want {
				t.Errorf("%s: %d hits, want %d", describe(c.q), got, want)
			}
			f.checkPage(t, c.q, c.want, want)
		})
	}
	// Hits carry the right partition and offset: every match_all hit is
	// a generated record, each exactly once.
	res, err := f.ix.Search(context.Background(), topic, &index.Request{Size: len(f.recs) + 10})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range res.Hits {
		id := index.DocID(h.Partition, h.Offset)
		if seen[id] {
			t.Fatalf("hit %s returned twice", id)
		}
		seen[id] = true
	}
	for i := range f.recs {
		if id := index.DocID(f.recs[i].part, f.recs[i].doc.Offset); !seen[id] {
			t.Fatalf("record %s missing from match_all hits", id)
		}
	}
	if len(res.Hits) != len(f.recs) || res.Total != int64(len(f.recs)) {
		t.Fatalf("match_all: %d hits, total %d, want %d", len(res.Hits), res.Total, len(f.recs))
	}
}

// near reports whether a is followed by b within slop moves, the way the
// slop of a two-word phrase is measured (|pos(a)+1-pos(b)| <= slop).
func (r *record) near(a, b string, slop int) bool {
	for i, x := range r.words {
		if x != a {
			continue
		}
		for j, y := range r.words {
			if y == b && j != i {
				d := i + 1 - j
				if d < 0 {
					d = -d
				}
				if d <= slop {
					return true
				}
			}
		}
	}
	return false
}

func testQueryString(t *testing.T, open Opener) {
	f := load(t, open)
	cases := []queryCase{
		{"field value", qs("level:ERROR"), func(r *record) bool { return r.level == "ERROR" }},
		{"AND", qs("level:ERROR AND status:500"), func(r *record) bool { return r.level == "ERROR" && r.status == 500 }},
		{"&&", qs("level:ERROR && status:500"), func(r *record) bool { return r.level == "ERROR" && r.status == 500 }},
		{"OR", qs("level:ERROR OR level:WARN"), func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }},
		{"implicit OR", qs("level:ERROR level:WARN"), func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }},
		{"default AND", &index.QueryStringQuery{Query: "message:alpha message:bravo", DefaultOperator: "AND"}, func(r *record) bool { return r.hasWord("alpha") && r.hasWord("bravo") }},
		{"precedence", qs("level:ERROR OR level:WARN AND status:500"), func(r *record) bool { return r.level == "ERROR" || (r.level == "WARN" && r.status == 500) }},
		{"NOT", qs("NOT level:INFO"), func(r *record) bool { return r.level != "INFO" }},
		{"AND NOT", qs("message:alpha AND NOT level:INFO"), func(r *record) bool { return r.hasWord("alpha") && r.level != "INFO" }},
		{"plus minus", qs("+message:alpha -level:INFO"), func(r *record) bool { return r.hasWord("alpha") && r.level != "INFO" }},
		{"plus optional", qs("+message:alpha level:ERROR"), func(r *record) bool { return r.hasWord("alpha") }},
		{"group", qs("status:(404 OR 500)"), func(r *record) bool { return r.status == 404 || r.status == 500 }},
		{"group of clauses", qs("(level:ERROR OR level:WARN) AND ok:true"), func(r *record) bool { return (r.level == "ERROR" || r.level == "WARN") && r.ok }},
		{"greater than", qs("latency_ms:>500"), func(r *record) bool { return r.json && r.latency > 500 }},
		{"at most", qs("latency_ms:<=10.75"), func(r *record) bool { return r.json && r.latency <= 10.75 }},
		{"inclusive range", qs("latency_ms:[100 TO 200]"), func(r *record) bool { return r.json && r.latency >= 100 && r.latency <= 200 }},
		{"half-open range", qs("latency_ms:[100 TO 200.25}"), func(r *record) bool { return r.json && r.latency >= 100 && r.latency < 200.25 }},
		{"open range", qs("status:{404 TO *]"), func(r *record) bool { return r.json && r.status > 404 }},
		{"date range", qs(`at:["2024-05-01T01:00:00Z" TO "2024-05-01T02:00:00Z"}`), func(r *record) bool {
			return r.json && !r.at.Before(baseTime.Add(time.Hour)) && r.at.Before(baseTime.Add(2*time.Hour))
		}},
		{"phrase", qs(`message:"alpha bravo"`), func(r *record) bool { return r.hasPhrase("alpha", "bravo") }},
		{"phrase slop", qs(`message:"alpha charlie"~2`), func(r *record) bool { return r.near("alpha", "charlie", 2) }},
		{"prefix wildcard", qs("user.id.keyword:user-1*"), func(r *record) bool { return r.json && strings.HasPrefix(r.user, "user-1") }},
		{"wildcard text lowercased", qs("message:CHAR*"), func(r *record) bool { return r.hasWord("charlie") }},
		{"question mark", qs("user.id.keyword:user-?"), func(r *record) bool { return r.json && len(r.user) == 6 }},
		{"exists star", qs("geo.country:*"), func(r *record) bool { return r.country != "" }},
		{"_exists_", qs("_exists_:geo"), func(r *record) bool { return r.country != "" }},
		{"all", qs("*"), func(r *record) bool { return true }},
		{"all fields", qs("*:*"), func(r *record) bool { return true }},
		{"unfielded word", qs("alpha"), func(r *record) bool { return r.hasWord("alpha") || strings.Contains(r.scalar, "alpha") }},
		{"unfielded number", qs("404"), func(r *record) bool { return r.status == 404 || r.latency == 404 }},
		{"default field", &index.QueryStringQuery{Query: "alpha", DefaultField: "message"}, func(r *record) bool { return r.hasWord("alpha") }},
		{"escaped", qs(`user.id.keyword:user\-3`), func(r *record) bool { return r.json && r.user == "user-3" }},
		{"key", qs("_key:user-3"), func(r *record) bool { return r.user == "user-3" }},
		{"partition", qs("_partition:2"), func(r *record) bool { return r.part == 2 }},
		{"offset range", qs("_offset:[5 TO 14]"), func(r *record) bool { return r.doc.Offset >= 5 && r.doc.Offset <= 14 }},
		{"header", qs("_headers.trace.keyword:Trace-4"), func(r *record) bool { return r.trace == "Trace-4" }},
		{"boost", qs("level:ERROR^2 OR level:WARN"), func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }},
		{"nested field group", qs("geo.country:(DE OR FR) AND NOT ok:false"), func(r *record) bool {
			return (r.country == "DE" || r.country == "FR") && !(r.json && !r.ok)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := countWhere(f.recs, c.want)
			if got := f.count(t, c.q); got != want {
				t.Errorf("%s: %d hits, want %d", c.q.(*index.QueryStringQuery).Query, got, want)
			}
			f.checkPage(t, c.q, c.want, want)
		})
	}
}

func qs(s string) *index.QueryStringQuery { return &index.QueryStringQuery{Query: s} }

// hitIDs lists hits as "<partition>-<offset>".
func hitIDs(hs []index.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = index.DocID(h.Partition, h.Offset)
	}
	return out
}

func recIDs(rs []*record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = index.DocID(r.part, r.doc.Offset)
	}
	return out
}

func testSort(t *testing.T, open Opener) {
	f := load(t, open)
	all := make([]*record, len(f.recs))
	for i := range f.recs {
		all[i] = &f.recs[i]
	}
	search := func(t *testing.T, q index.Query, sortBy []index.SortField, from, size int) *index.Result {
		t.Helper()
		res, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q, Sort: sortBy, From: from, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	check := func(t *testing.T, got []index.Hit, want []*record) {
		t.Helper()
		if g, w := hitIDs(got), recIDs(want); !slices.Equal(g, w) {
			t.Fatalf("hits\n%v\nwant\n%v", g, w)
		}
	}

	t.Run("number ascending, missing last", func(t *testing.T) {
		want := slices.Clone(all)
		sort.SliceStable(want, func(i, j int) bool {
			a, b := want[i], want[j]
			if a.json != b.json {
				return a.json
			}
			if a.json && a.latency != b.latency {
				return a.latency < b.latency
			}
			if a.part != b.part {
				return a.part < b.part
			}
			return a.doc.Offset < b.doc.Offset
		})
		res := search(t, nil, []index.SortField{{Field: "latency_ms"}}, 0, len(all))
		// Records without the field tie: compare only the ones with it,
		// then the set of the rest.
		n := int(countWhere(f.recs, func(r *record) bool { return r.json }))
		check(t, res.Hits[:n], want[:n])
		if g, w := sorted(hitIDs(res.Hits[n:])), sorted(recIDs(want[n:])); !slices.Equal(g, w) {
			t.Fatalf("records without the field: %v, want %v", g, w)
		}
		if v, ok := res.Hits[0].Sort[0].(float64); !ok || v != want[0].latency {
			t.Fatalf("sort value %#v, want %v", res.Hits[0].Sort[0], want[0].latency)
		}
		if res.Hits[len(res.Hits)-1].Sort[0] != nil {
			t.Fatalf("missing value sorts as %#v, want nil", res.Hits[len(res.Hits)-1].Sort[0])
		}
	})
	t.Run("number descending page", func(t *testing.T) {
		want := slices.DeleteFunc(slices.Clone(all), func(r *record) bool { return !r.json })
		sort.Slice(want, func(i, j int) bool { return want[i].latency > want[j].latency })
		res := search(t, &index.ExistsQuery{Field: "latency_ms"}, []index.SortField{{Field: "latency_ms", Desc: true}}, 7, 11)
		check(t, res.Hits, want[7:18])
		if res.Total != int64(len(want)) {
			t.Fatalf("total %d, want %d", res.Total, len(want))
		}
	})
	t.Run("timestamp descending", func(t *testing.T) {
		want := slices.Clone(all)
		sort.Slice(want, func(i, j int) bool { return want[i].doc.Timestamp > want[j].doc.Timestamp })
		res := search(t, nil, []index.SortField{{Field: "_timestamp", Desc: true}}, 0, 25)
		check(t, res.Hits, want[:25])
		if v, ok := res.Hits[0].Sort[0].(int64); !ok || v != want[0].doc.Timestamp {
			t.Fatalf("sort value %#v, want int64 %d", res.Hits[0].Sort[0], want[0].doc.Timestamp)
		}
	})
	t.Run("keyword then offset then partition", func(t *testing.T) {
		q := &index.ExistsQuery{Field: "_key"}
		want := slices.DeleteFunc(slices.Clone(all), func(r *record) bool { return r.user == "" })
		sort.Slice(want, func(i, j int) bool {
			a, b := want[i], want[j]
			if a.user != b.user {
				return a.user < b.user
			}
			if a.doc.Offset != b.doc.Offset {
				return a.doc.Offset < b.doc.Offset
			}
			return a.part < b.part
		})
		res := search(t, q, []index.SortField{{Field: "_key"}, {Field: "_offset"}}, 3, 40)
		check(t, res.Hits, want[3:43])
		if v, ok := res.Hits[0].Sort[0].(string); !ok || v != want[3].user {
			t.Fatalf("sort value %#v, want %q", res.Hits[0].Sort[0], want[3].user)
		}
		if v, ok := res.Hits[0].Sort[1].(int64); !ok || v != want[3].doc.Offset {
			t.Fatalf("sort value %#v, want int64 %d", res.Hits[0].Sort[1], want[3].doc.Offset)
		}
	})
	t.Run("partition descending then offset", func(t *testing.T) {
		want := slices.Clone(all)
		sort.Slice(want, func(i, j int) bool {
			if want[i].part != want[j].part {
				return want[i].part > want[j].part
			}
			return want[i].doc.Offset < want[j].doc.Offset
		})
		res := search(t, nil, []index.SortField{{Field: "_partition", Desc: true}, {Field: "_offset"}}, 100, 30)
		check(t, res.Hits, want[100:130])
	})
	t.Run("date field", func(t *testing.T) {
		want := slices.DeleteFunc(slices.Clone(all), func(r *record) bool { return !r.json })
		sort.Slice(want, func(i, j int) bool { return want[i].at.After(want[j].at) })
		res := search(t, &index.ExistsQuery{Field: "at"}, []index.SortField{{Field: "at", Desc: true}}, 0, 10)
		check(t, res.Hits, want[:10])
		if v, ok := res.Hits[0].Sort[0].(int64); !ok || v != want[0].at.UnixMilli() {
			t.Fatalf("sort value %#v, want int64 %d", res.Hits[0].Sort[0], want[0].at.UnixMilli())
		}
	})
	t.Run("multi-valued", func(t *testing.T) {
		// Ascending sorts by the smallest value, descending by the largest.
		q := &index.ExistsQuery{Field: "items"}
		res := search(t, q, []index.SortField{{Field: "items.qty", Desc: true}, {Field: "_timestamp"}}, 0, 5)
		want := slices.DeleteFunc(slices.Clone(all), func(r *record) bool { return len(r.items) == 0 })
		sort.SliceStable(want, func(i, j int) bool {
			if len(want[i].items) != len(want[j].items) {
				return len(want[i].items) > len(want[j].items)
			}
			return want[i].doc.Timestamp < want[j].doc.Timestamp
		})
		check(t, res.Hits, want[:5])
	})
	t.Run("score", func(t *testing.T) {
		res := search(t, &index.MatchQuery{Field: "message", Query: "alpha bravo charlie"}, nil, 0, 50)
		if len(res.Hits) == 0 {
			t.Fatal("no hits")
		}
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i].Score > res.Hits[i-1].Score {
				t.Fatalf("hit %d score %v above hit %d score %v", i, res.Hits[i].Score, i-1, res.Hits[i-1].Score)
			}
		}
		if res.MaxScore != res.Hits[0].Score || res.MaxScore <= 0 {
			t.Fatalf("max score %v, first hit %v", res.MaxScore, res.Hits[0].Score)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func testPaging(t *testing.T, open Opener) {
	f := load(t, open)
	q := &index.TermQuery{Field: "level.keyword", Value: "INFO"}
	sortBy := []index.SortField{{Field: "_timestamp"}}
	want := countWhere(f.recs, func(r *record) bool { return r.level == "INFO" })
	var all []string
	for from := 0; from < int(want)+20; from += 17 {
		res, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q, Sort: sortBy, From: from, Size: 17})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != want {
			t.Fatalf("from %d: total %d, want %d", from, res.Total, want)
		}
		all = append(all, hitIDs(res.Hits)...)
	}
	if int64(len(all)) != want {
		t.Fatalf("pages hold %d hits, want %d", len(all), want)
	}
	if len(sorted(all)) != len(slices.Compact(sorted(all))) {
		t.Fatal("a hit appears on two pages")
	}
	res, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q, From: int(want) + 5, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 0 || res.Total != want {
		t.Fatalf("past the end: %d hits, total %d", len(res.Hits), res.Total)
	}
	res, err = f.ix.Search(context.Background(), "no-such-topic", &index.Request{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 0 || len(res.Hits) != 0 {
		t.Fatalf("unknown topic: %+v", res)
	}
}

func testMinOffsets(t *testing.T, open Opener) {
	f := load(t, open)
	min := map[int32]int64{0: 50, 2: 100}
	res, err := f.ix.Search(context.Background(), topic, &index.Request{
		Query: &index.MatchQuery{Field: "message", Query: "alpha"}, MinOffsets: min, Size: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := countWhere(f.recs, func(r *record) bool { return r.hasWord("alpha") && r.doc.Offset >= min[r.part] })
	if res.Total != want || int64(len(res.Hits)) != want {
		t.Fatalf("total %d, %d hits, want %d", res.Total, len(res.Hits), want)
	}
	for _, h := range res.Hits {
		if h.Offset < min[h.Partition] {
			t.Fatalf("hit %d-%d is below the partition's minimum offset", h.Partition, h.Offset)
		}
	}
}

func testQueryErrors(t *testing.T, open Opener) {
	f := load(t, open)
	bad := []index.Request{
		{Query: &index.TermQuery{Value: "x"}},
		{Query: &index.TermQuery{Field: "level", Value: nil}},
		{Query: &index.TermQuery{Field: "level", Value: struct{}{}}},
		{Query: &index.RangeQuery{Field: "latency_ms", GT: 1, GTE: 2}},
		{Query: &index.RangeQuery{Field: "latency_ms", GT: 1, LT: "abc"}},
		{Query: &index.RangeQuery{Field: "_offset", GT: "abc"}},
		{Query: &index.RangeQuery{Field: "_timestamp", GT: "not a date"}},
		{Query: &index.MatchQuery{Field: "message", Query: "a", Operator: "xor"}},
		{Query: &index.MatchQuery{Field: "message", Query: "a b", MinimumShouldMatch: "lots"}},
		{Query: &index.MatchPhraseQuery{Field: "message", Query: "a b", Slop: -1}},
		{Query: &index.QueryStringQuery{Query: "level:(ERROR"}},
		{Query: &index.QueryStringQuery{Query: "AND level:ERROR"}},
		{Query: &index.QueryStringQuery{Query: `message:"unterminated`}},
		{Query: &index.QueryStringQuery{Query: "latency_ms:[1 TO"}},
		{Query: &index.QueryStringQuery{Query: "message:alpa~"}},
		{Query: &index.QueryStringQuery{Query: "message:/regex/"}},
		{Query: &index.QueryStringQuery{Query: "level:ERROR", DefaultOperator: "maybe"}},
		{From: -1},
		{Size: -1},
		{From: 9000, Size: 1001},
		{Sort: []index.SortField{{Field: ""}}},
	}
	for i, req := range bad {
		_, err := f.ix.Search(context.Background(), topic, &req)
		var qe *index.QueryError
		if !errors.As(err, &qe) {
			t.Errorf("request %d (%s): error %v, want a *index.QueryError", i, describe(req.Query), err)
		}
	}
	// Negative boosts, which Elasticsearch (7.0 and later) refuses, -0
	// included, and boosts that are not finite numbers.
	badBoosts := []index.Query{
		&index.MatchAllQuery{Boost: index.Boost(-1)},
		&index.MatchQuery{Field: "message", Query: "alpha", Boost: index.Boost(-1)},
		&index.MatchQuery{Field: "*", Query: "alpha", Boost: index.Boost(-1)},
		&index.MatchPhraseQuery{Field: "message", Query: "alpha bravo", Boost: index.Boost(-0.5)},
		&index.TermQuery{Field: "level.keyword", Value: "ERROR", Boost: index.Boost(-1)},
		&index.TermsQuery{Field: "level.keyword", Values: []any{"ERROR"}, Boost: index.Boost(-1)},
		&index.RangeQuery{Field: "status", GTE: 400, Boost: index.Boost(-1)},
		&index.RangeQuery{Field: "geo", Boost: index.Boost(-1)},
		&index.ExistsQuery{Field: "geo", Boost: index.Boost(-1)},
		&index.PrefixQuery{Field: "message", Value: "al", Boost: index.Boost(-1)},
		&index.WildcardQuery{Field: "message", Value: "al*", Boost: index.Boost(-1)},
		&index.IDsQuery{Values: []string{"0-0"}, Boost: index.Boost(-1)},
		&index.BoolQuery{Must: []index.Query{&index.MatchAllQuery{}}, Boost: index.Boost(-1)},
		&index.BoolQuery{Filter: []index.Query{&index.ExistsQuery{Field: "geo", Boost: index.Boost(-2)}}},
		&index.ConstantScoreQuery{Filter: &index.MatchAllQuery{}, Boost: index.Boost(-1)},
		&index.ConstantScoreQuery{Filter: &index.ExistsQuery{Field: "geo"}, Boost: index.Boost(math.Copysign(0, -1))},
		&index.QueryStringQuery{Query: "level:ERROR", Boost: index.Boost(-1)},
		&index.MatchAllQuery{Boost: index.Boost(math.NaN())},
		&index.TermQuery{Field: "level.keyword", Value: "ERROR", Boost: index.Boost(math.Inf(1))},
	}
	for i, q := range badBoosts {
		_, err := f.ix.Search(context.Background(), topic, &index.Request{Query: q})
		var qe *index.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Reason, "[boost]") {
			t.Errorf("boost %d (%s): error %v, want a *index.QueryError about the boost", i, describe(q), err)
		}
	}
}

func testCheckpoint(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	defer ix.Close()
	ctx := context.Background()
	recs := generate(2, 60, 100)
	bs := batches(topic, recs, 25, nil)
	if cp, err := ix.Checkpoint(topic, 0); err != nil || cp != 0 {
		t.Fatalf("Checkpoint before indexing: %d, %v", cp, err)
	}
	for _, b := range bs {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	last := map[int32]int64{}
	for _, b := range bs {
		last[b.Partition] = b.Next
	}
	checkState := func(t *testing.T) {
		t.Helper()
		st, err := ix.Stats(topic)
		if err != nil {
			t.Fatal(err)
		}
		if st.Docs != int64(len(recs)) {
			t.Fatalf("Stats: %d docs, want %d", st.Docs, len(recs))
		}
		for p, next := range last {
			cp, err := ix.Checkpoint(topic, p)
			if err != nil || cp != next {
				t.Fatalf("Checkpoint(%d) = %d, %v; want %d", p, cp, err, next)
			}
			if st.Partitions[p].Checkpoint != next || st.Partitions[p].Docs != countWhere(recs, func(r *record) bool { return r.part == p }) {
				t.Fatalf("Stats partition %d: %+v", p, st.Partitions[p])
			}
		}
		res, err := ix.Search(ctx, topic, &index.Request{Query: &index.MatchAllQuery{}})
		if err != nil || res.Total != int64(len(recs)) {
			t.Fatalf("match_all total %v, %v; want %d", res, err, len(recs))
		}
	}
	checkState(t)
	// Indexing every batch again changes nothing.
	for _, b := range bs {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	checkState(t)
	// A batch overlapping the checkpoint indexes only what is new.
	extra := generate(1, 70, 100)
	ob := &index.Batch{Topic: topic, Partition: 0, Next: extra[69].doc.Offset + 1}
	for _, r := range extra[40:] {
		ob.Docs = append(ob.Docs, r.doc)
	}
	if err := ix.Index(ctx, ob); err != nil {
		t.Fatal(err)
	}
	for _, r := range extra[60:] {
		if r.doc.Offset >= last[0] {
			recs = append(recs, r) // below the old checkpoint counts as indexed
		}
	}
	last[0] = ob.Next
	checkState(t)
	// The checkpoint never moves back.
	if err := ix.Index(ctx, &index.Batch{Topic: topic, Partition: 0, Next: 5}); err != nil {
		t.Fatal(err)
	}
	checkState(t)
	// A batch of no documents moves the checkpoint (control records).
	if err := ix.Index(ctx, &index.Batch{Topic: topic, Partition: 1, Next: last[1] + 3}); err != nil {
		t.Fatal(err)
	}
	last[1] += 3
	checkState(t)
	// A cancelled context changes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	more := &index.Batch{Topic: topic, Partition: 1, Next: last[1] + 10, Docs: []index.Document{{Offset: last[1], Value: []byte(`{"a":1}`)}}}
	if err := ix.Index(cctx, more); !errors.Is(err, context.Canceled) {
		t.Fatalf("Index with a cancelled context: %v", err)
	}
	checkState(t)
}

func testBatchErrors(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	defer ix.Close()
	ctx := context.Background()
	good := &index.Batch{Topic: topic, Partition: 0, Next: 10, Docs: []index.Document{{Offset: 1}, {Offset: 5}}}
	if err := ix.Index(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := []*index.Batch{
		{Topic: topic, Partition: 0, Next: 20, Docs: []index.Document{{Offset: 12}, {Offset: 11}}},
		{Topic: topic, Partition: 0, Next: 20, Docs: []index.Document{{Offset: 12}, {Offset: 12}}},
		{Topic: topic, Partition: 0, Next: 20, Docs: []index.Document{{Offset: 20}}},
		{Topic: topic, Partition: 0, Next: 20, Docs: []index.Document{{Offset: -1}}},
		{Topic: topic, Partition: -1, Next: 20},
		{Topic: "", Partition: 0, Next: 20},
	}
	for i, b := range bad {
		var be *index.BatchError
		if err := ix.Index(ctx, b); !errors.As(err, &be) {
			t.Errorf("batch %d: error %v, want a *index.BatchError", i, err)
		}
	}
	if cp, _ := ix.Checkpoint(topic, 0); cp != 10 {
		t.Fatalf("checkpoint %d after refused batches, want 10", cp)
	}
	if st, _ := ix.Stats(topic); st.Docs != 2 {
		t.Fatalf("%d docs after refused batches, want 2", st.Docs)
	}
}

func testFields(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	defer ix.Close()
	ctx := context.Background()
	recs := generate(1, 80, 0)
	for _, b := range batches(topic, recs, 40, []string{"level", "geo"}) {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{ix: ix, recs: recs}
	cases := []queryCase{
		{"listed", &index.TermQuery{Field: "level.keyword", Value: "ERROR"}, func(r *record) bool { return r.level == "ERROR" }},
		{"under a listed object", &index.TermQuery{Field: "geo.country.keyword", Value: "DE"}, func(r *record) bool { return r.country == "DE" }},
		{"not listed", &index.MatchQuery{Field: "message", Query: "alpha"}, func(r *record) bool { return false }},
		{"not listed number", &index.RangeQuery{Field: "status", GTE: 0}, func(r *record) bool { return false }},
		{"metadata always", &index.TermQuery{Field: "_key", Value: "user-3"}, func(r *record) bool { return r.user == "user-3" }},
		{"headers always", &index.ExistsQuery{Field: "_headers.trace"}, func(r *record) bool { return r.trace != "" }},
		{"all documents", &index.MatchAllQuery{}, func(r *record) bool { return true }},
	}
	for _, c := range cases {
		want := countWhere(recs, c.want)
		if got := f.count(t, c.q); got != want {
			t.Errorf("%s: %d hits, want %d", c.name, got, want)
		}
	}
}

func testTopics(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	defer ix.Close()
	ctx := context.Background()
	a := generate(2, 30, 0)
	for _, tp := range []string{"alpha", "beta"} {
		for _, b := range batches(tp, a, 30, nil) {
			if err := ix.Index(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts, err := ix.Topics()
	if err != nil || !slices.Equal(ts, []string{"alpha", "beta"}) {
		t.Fatalf("Topics = %v, %v", ts, err)
	}
	if err := ix.DeleteTopic(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteTopic(ctx, "never-indexed"); err != nil {
		t.Fatalf("DeleteTopic of an unknown topic: %v", err)
	}
	ts, err = ix.Topics()
	if err != nil || !slices.Equal(ts, []string{"beta"}) {
		t.Fatalf("Topics after delete = %v, %v", ts, err)
	}
	if cp, err := ix.Checkpoint("alpha", 0); err != nil || cp != 0 {
		t.Fatalf("Checkpoint after delete = %d, %v", cp, err)
	}
	res, err := ix.Search(ctx, "alpha", &index.Request{})
	if err != nil || res.Total != 0 {
		t.Fatalf("search after delete: %+v, %v", res, err)
	}
	res, err = ix.Search(ctx, "beta", &index.Request{})
	if err != nil || res.Total != int64(len(a)) {
		t.Fatalf("other topic after delete: %+v, %v", res, err)
	}
	// Rebuild: indexing starts again from offset 0.
	for _, b := range batches("alpha", a, 30, nil) {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	res, err = ix.Search(ctx, "alpha", &index.Request{})
	if err != nil || res.Total != int64(len(a)) {
		t.Fatalf("rebuilt topic: %+v, %v", res, err)
	}
}

func testConcurrent(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	defer ix.Close()
	ctx := context.Background()
	recs := generate(4, 100, 0)
	bs := batches(topic, recs, 20, nil)
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for p := int32(0); p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range bs {
				if b.Partition == p {
					if err := ix.Index(ctx, b); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var sw sync.WaitGroup
	for range 2 {
		sw.Add(1)
		go func() {
			defer sw.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := ix.Search(ctx, topic, &index.Request{Query: &index.MatchQuery{Field: "message", Query: "alpha"}, Size: 5})
				if err != nil {
					errc <- err
					return
				}
				if res.Total > int64(len(recs)) || len(res.Hits) > 5 {
					errc <- fmt.Errorf("search while indexing: total %d, %d hits", res.Total, len(res.Hits))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sw.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st, err := ix.Stats(topic)
	if err != nil || st.Docs != int64(len(recs)) {
		t.Fatalf("Stats after concurrent indexing: %+v, %v", st, err)
	}
}

func testClosed(t *testing.T, open Opener) {
	ix := open(t, t.TempDir())
	ctx := context.Background()
	if err := ix.Index(ctx, &index.Batch{Topic: topic, Partition: 0, Next: 1, Docs: []index.Document{{Offset: 0}}}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checks := map[string]error{}
	checks["Index"] = ix.Index(ctx, &index.Batch{Topic: topic, Partition: 0, Next: 2, Docs: []index.Document{{Offset: 1}}})
	_, checks["Search"] = ix.Search(ctx, topic, &index.Request{})
	_, checks["Checkpoint"] = ix.Checkpoint(topic, 0)
	_, checks["Stats"] = ix.Stats(topic)
	_, checks["Topics"] = ix.Topics()
	checks["DeleteTopic"] = ix.DeleteTopic(ctx, topic)
	if d, ok := ix.(index.PartitionDeleter); ok {
		checks["DeletePartition"] = d.DeletePartition(ctx, topic, 0)
	}
	for name, err := range checks {
		if !errors.Is(err, index.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	ctx := context.Background()
	recs := generate(2, 80, 0)
	bs := batches(topic, recs, 30, nil)
	half := len(bs) / 2
	ix := open(t, dir)
	for _, b := range bs[:half] {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = open(t, dir)
	defer ix.Close()
	var indexed []record
	for _, b := range bs[:half] {
		for _, d := range b.Docs {
			for _, r := range recs {
				if r.part == b.Partition && r.doc.Offset == d.Offset {
					indexed = append(indexed, r)
				}
			}
		}
	}
	for p := int32(0); p < 2; p++ {
		var want int64
		for _, b := range bs[:half] {
			if b.Partition == p {
				want = b.Next
			}
		}
		if cp, err := ix.Checkpoint(topic, p); err != nil || cp != want {
			t.Fatalf("reopened Checkpoint(%d) = %d, %v; want %d", p, cp, err, want)
		}
	}
	f := &fixture{ix: ix, recs: indexed}
	if got, want := f.count(t, &index.MatchQuery{Field: "message", Query: "alpha"}), countWhere(indexed, func(r *record) bool { return r.hasWord("alpha") }); got != want {
		t.Fatalf("reopened: %d hits, want %d", got, want)
	}
	// Indexing every batch now adds only the second half.
	for _, b := range bs {
		if err := ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	f.recs = recs
	if got := f.count(t, &index.MatchAllQuery{}); got != int64(len(recs)) {
		t.Fatalf("after resuming: %d documents, want %d", got, len(recs))
	}
	if got, want := f.count(t, &index.RangeQuery{Field: "latency_ms", GT: 50}), countWhere(recs, func(r *record) bool { return r.json && r.latency > 50 }); got != want {
		t.Fatalf("after resuming: %d hits, want %d", got, want)
	}
}

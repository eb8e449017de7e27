package indextest

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/index"
)

// scoreCase is a query whose every match has a score Elasticsearch
// defines exactly (independent of BM25): constant_score, filter context,
// match_all and range boosts, ids, the constant-score queries terms,
// exists, prefix and wildcard, and any query with a boost of 0.
type scoreCase struct {
	name  string
	q     index.Query
	want  func(r *record) bool
	score func(r *record) float64
	min   map[int32]int64 // Request.MinOffsets
}

func constant(s float64) func(*record) float64 { return func(*record) float64 { return s } }

// testScores checks exact scores: every hit's, and the maximum, with the
// default order (by score) and sorted by _score explicitly, against
// scores computed from the generated records.
func testScores(t *testing.T, open Opener) {
	f := load(t, open)
	term := func(field string, v any) index.Query { return &index.TermQuery{Field: field, Value: v} }
	errorLevel := term("level.keyword", "ERROR")
	isError := func(r *record) bool { return r.level == "ERROR" }
	cases := []scoreCase{
		// Elasticsearch's constant_score: "returns every matching document
		// with a relevance score equal to the boost parameter value"
		// (default 1.0).
		{"constant_score boost", &index.ConstantScoreQuery{Filter: errorLevel, Boost: index.Boost(2.5)}, isError, constant(2.5), nil},
		{"constant_score default boost", &index.ConstantScoreQuery{Filter: &index.RangeQuery{Field: "status", GTE: 400}},
			func(r *record) bool { return r.json && r.status >= 400 }, constant(1), nil},
		{"constant_score of a scored query", &index.ConstantScoreQuery{Filter: &index.MatchQuery{Field: "message", Query: "alpha bravo"}, Boost: index.Boost(0.5)},
			func(r *record) bool { return r.hasWord("alpha") || r.hasWord("bravo") }, constant(0.5), nil},
		{"constant_score over a partition", &index.ConstantScoreQuery{Filter: term("_partition", 1), Boost: index.Boost(3)},
			func(r *record) bool { return r.part == 1 }, constant(3), nil},
		{"constant_score in must, bool boost", &index.BoolQuery{
			Must:   []index.Query{&index.ConstantScoreQuery{Filter: &index.ExistsQuery{Field: "geo"}, Boost: index.Boost(2)}},
			Filter: []index.Query{term("ok", true)},
			Boost:  index.Boost(3),
		}, func(r *record) bool { return r.country != "" && r.json && r.ok }, constant(6), nil},
		{"constant_scores summed", &index.BoolQuery{Should: []index.Query{
			&index.ConstantScoreQuery{Filter: errorLevel, Boost: index.Boost(2)},
			&index.ConstantScoreQuery{Filter: &index.RangeQuery{Field: "status", GTE: 500}, Boost: index.Boost(0.5)},
		}}, func(r *record) bool { return r.level == "ERROR" || (r.json && r.status >= 500) }, func(r *record) float64 {
			s := 0.0
			if r.level == "ERROR" {
				s += 2
			}
			if r.json && r.status >= 500 {
				s += 0.5
			}
			return s
		}, nil},
		{"constant_score with minimum offsets", &index.ConstantScoreQuery{Filter: errorLevel, Boost: index.Boost(2.5)},
			func(r *record) bool { return isError(r) && r.doc.Offset >= map[int32]int64{0: 50, 2: 30}[r.part] }, constant(2.5),
			map[int32]int64{0: 50, 2: 30}},

		// Filter context does not score: "Because scoring is ignored, a
		// score of 0 for all documents is returned" (Elasticsearch's bool
		// query, must_not and filter).
		{"bool filter only", &index.BoolQuery{Filter: []index.Query{term("level.keyword", "WARN")}},
			func(r *record) bool { return r.level == "WARN" }, constant(0), nil},
		{"bool must_not only", &index.BoolQuery{MustNot: []index.Query{&index.ExistsQuery{Field: "_key"}}},
			func(r *record) bool { return r.user == "" }, constant(0), nil},
		{"bool filter and must_not, boosted", &index.BoolQuery{
			Filter:  []index.Query{&index.RangeQuery{Field: "status", GTE: 400}},
			MustNot: []index.Query{term("level.keyword", "INFO")},
			Boost:   index.Boost(4),
		}, func(r *record) bool { return r.json && r.status >= 400 && r.level != "INFO" }, constant(0), nil},
		{"bool filter matching a whole partition", &index.BoolQuery{Filter: []index.Query{term("_partition", 0)}},
			func(r *record) bool { return r.part == 0 }, constant(0), nil},
		{"bool filter match_all", &index.BoolQuery{Filter: []index.Query{&index.MatchAllQuery{}}},
			func(*record) bool { return true }, constant(0), nil},
		{"bool must_not of a missing field", &index.BoolQuery{MustNot: []index.Query{&index.ExistsQuery{Field: "no.such.field"}}},
			func(*record) bool { return true }, constant(0), nil},
		{"bool filter with minimum offsets", &index.BoolQuery{Filter: []index.Query{&index.ExistsQuery{Field: "geo"}}},
			func(r *record) bool { return r.country != "" && r.doc.Offset >= map[int32]int64{1: 40}[r.part] }, constant(0),
			map[int32]int64{1: 40}},
		// With a filter, should clauses are optional (minimum_should_match
		// defaults to 0) and only add their scores.
		{"bool filter and optional should", &index.BoolQuery{
			Filter: []index.Query{&index.ExistsQuery{Field: "geo"}},
			Should: []index.Query{&index.ConstantScoreQuery{Filter: errorLevel, Boost: index.Boost(3)}},
		}, func(r *record) bool { return r.country != "" }, func(r *record) float64 {
			if isError(r) {
				return 3
			}
			return 0
		}, nil},
		{"bool filter and should, minimum_should_match 0", &index.BoolQuery{
			Filter:             []index.Query{&index.ExistsQuery{Field: "geo"}},
			Should:             []index.Query{&index.ConstantScoreQuery{Filter: errorLevel, Boost: index.Boost(3)}},
			MinimumShouldMatch: "0",
		}, func(r *record) bool { return r.country != "" }, func(r *record) float64 {
			if isError(r) {
				return 3
			}
			return 0
		}, nil},
		{"bool should of filter-only bools", &index.BoolQuery{Should: []index.Query{
			&index.BoolQuery{Filter: []index.Query{errorLevel}},
			&index.BoolQuery{Filter: []index.Query{term("level.keyword", "WARN")}},
		}}, func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }, constant(0), nil},
		{"bool must match_all and filter", &index.BoolQuery{
			Must:   []index.Query{&index.MatchAllQuery{}},
			Filter: []index.Query{errorLevel},
		}, isError, constant(1), nil},

		// Constant-score queries score their boost.
		{"match_all boost", &index.MatchAllQuery{Boost: index.Boost(2)}, func(*record) bool { return true }, constant(2), nil},
		{"range boost on a multi-valued field", &index.RangeQuery{Field: "items.qty", GTE: 1, Boost: index.Boost(1.5)},
			func(r *record) bool { return len(r.items) >= 1 }, constant(1.5), nil},
		{"range boost on keywords", &index.RangeQuery{Field: "user.id.keyword", GTE: "user-10", LT: "user-3", Boost: index.Boost(2)},
			func(r *record) bool { return r.json && r.user != "" && r.user >= "user-10" && r.user < "user-3" }, constant(2), nil},
		{"ids", &index.IDsQuery{Values: []string{"0-0", "1-5", "2-19"}}, func(r *record) bool {
			return (r.part == 0 && r.doc.Offset == 0) || (r.part == 1 && r.doc.Offset == 5) || (r.part == 2 && r.doc.Offset == 19)
		}, constant(1), nil},
		{"term _id", term("_id", "1-5"), func(r *record) bool { return r.part == 1 && r.doc.Offset == 5 }, constant(1), nil},
		{"ids boost", &index.IDsQuery{Values: []string{"0-0", "2-19"}, Boost: index.Boost(2)}, func(r *record) bool {
			return (r.part == 0 && r.doc.Offset == 0) || (r.part == 2 && r.doc.Offset == 19)
		}, constant(2), nil},
	}
	cases = append(cases, constantScoreCases()...)
	cases = append(cases, zeroBoostCases()...)
	orders := []struct {
		name string
		sort []index.SortField
	}{{"by score", nil}, {"sorted by _score", []index.SortField{{Field: "_score", Desc: true}}}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := countWhere(f.recs, c.want)
			if want == 0 {
				t.Fatalf("%s: the oracle matches no record", c.name)
			}
			scores := map[string]float64{}
			maxScore := math.Inf(-1)
			for i := range f.recs {
				if r := &f.recs[i]; c.want(r) {
					s := c.score(r)
					scores[index.DocID(r.part, r.doc.Offset)] = s
					maxScore = max(maxScore, s)
				}
			}
			for _, o := range orders {
				for _, size := range []int{len(f.recs), 5} {
					req := &index.Request{Query: c.q, Size: size, Sort: o.sort, MinOffsets: c.min}
					res, err := f.ix.Search(context.Background(), topic, req)
					if err != nil {
						t.Fatalf("%s, %s: %v", describe(c.q), o.name, err)
					}
					if res.Total != want || len(res.Hits) != int(min(want, int64(size))) {
						t.Fatalf("%s, %s, size %d: total %d, %d hits; want %d", describe(c.q), o.name, size, res.Total, len(res.Hits), want)
					}
					for i, h := range res.Hits {
						if i > 0 && h.Score > res.Hits[i-1].Score {
							t.Fatalf("%s, %s: hits not in score order", describe(c.q), o.name)
						}
						s, ok := scores[index.DocID(h.Partition, h.Offset)]
						if !ok {
							t.Fatalf("%s, %s: hit %d-%d does not match", describe(c.q), o.name, h.Partition, h.Offset)
						}
						if math.Abs(h.Score-s) > 1e-9 {
							t.Fatalf("%s, %s, size %d: hit %d-%d scores %v, want %v", describe(c.q), o.name, size, h.Partition, h.Offset, h.Score, s)
						}
					}
					if math.Abs(res.Hits[0].Score-maxScore) > 1e-9 {
						t.Fatalf("%s, %s, size %d: first hit scores %v, want the best score %v", describe(c.q), o.name, size, res.Hits[0].Score, maxScore)
					}
					if math.Abs(res.MaxScore-maxScore) > 1e-9 {
						t.Fatalf("%s, %s, size %d: max score %v, want %v", describe(c.q), o.name, size, res.MaxScore, maxScore)
					}
				}
			}
		})
	}
}

// constantScoreCases are the queries Elasticsearch runs as constant-score
// queries, every match scoring the boost (default 1.0) however many of
// its values or terms match: terms (Lucene's TermInSetQuery, or a point
// set query on numbers), exists (ExistsQueryBuilder builds a
// ConstantScoreQuery), and prefix and wildcard, multi-term queries whose
// default rewrite is constant_score ("Matching documents are assigned a
// constant score equal to the query's boost"), also from query_string.
func constantScoreCases() []scoreCase {
	hasWordWith := func(sub string) func(r *record) bool {
		return func(r *record) bool {
			for _, w := range r.words {
				if strings.Contains(w, sub) {
					return true
				}
			}
			return false
		}
	}
	qs := func(s string) index.Query { return &index.QueryStringQuery{Query: s} }
	charlie := func(r *record) bool { return r.hasWord("charlie") }
	return []scoreCase{
		{"terms", &index.TermsQuery{Field: "level.keyword", Values: []any{"ERROR", "WARN"}},
			func(r *record) bool { return r.level == "ERROR" || r.level == "WARN" }, constant(1), nil},
		{"terms boost on numbers", &index.TermsQuery{Field: "status", Values: []any{404, 500}, Boost: index.Boost(2)},
			func(r *record) bool { return r.json && (r.status == 404 || r.status == 500) }, constant(2), nil},
		{"terms on text, several matching", &index.TermsQuery{Field: "message", Values: []any{"alpha", "bravo"}, Boost: index.Boost(0.5)},
			func(r *record) bool { return r.hasWord("alpha") || r.hasWord("bravo") }, constant(0.5), nil},
		{"terms on a multi-valued keyword", &index.TermsQuery{Field: "tags.keyword", Values: []any{"red", "green"}},
			func(r *record) bool { return r.hasTag("red") || r.hasTag("green") }, constant(1), nil},
		{"terms _id", &index.TermsQuery{Field: "_id", Values: []any{"0-0", "1-5"}, Boost: index.Boost(3)},
			func(r *record) bool { return (r.part == 0 && r.doc.Offset == 0) || (r.part == 1 && r.doc.Offset == 5) }, constant(3), nil},
		{"terms with minimum offsets", &index.TermsQuery{Field: "level.keyword", Values: []any{"INFO"}, Boost: index.Boost(1.5)},
			func(r *record) bool { return r.level == "INFO" && r.doc.Offset >= map[int32]int64{1: 60}[r.part] }, constant(1.5),
			map[int32]int64{1: 60}},
		{"exists", &index.ExistsQuery{Field: "geo"}, func(r *record) bool { return r.country != "" }, constant(1), nil},
		{"exists boost on _key", &index.ExistsQuery{Field: "_key", Boost: index.Boost(2)}, func(r *record) bool { return r.user != "" }, constant(2), nil},
		{"exists on an array", &index.ExistsQuery{Field: "items", Boost: index.Boost(0.25)}, func(r *record) bool { return len(r.items) > 0 }, constant(0.25), nil},
		{"exists on a header", &index.ExistsQuery{Field: "_headers.trace"}, func(r *record) bool { return r.trace != "" }, constant(1), nil},
		{"exists on _timestamp", &index.ExistsQuery{Field: "_timestamp", Boost: index.Boost(2)}, func(*record) bool { return true }, constant(2), nil},
		{"range without bounds", &index.RangeQuery{Field: "geo.country", Boost: index.Boost(1.5)}, func(r *record) bool { return r.country != "" }, constant(1.5), nil},
		{"prefix on text", &index.PrefixQuery{Field: "message", Value: "char"}, charlie, constant(1), nil},
		{"prefix boost on a keyword", &index.PrefixQuery{Field: "user.id.keyword", Value: "user-1", Boost: index.Boost(2)},
			func(r *record) bool { return r.json && strings.HasPrefix(r.user, "user-1") }, constant(2), nil},
		{"prefix on _key", &index.PrefixQuery{Field: "_key", Value: "user-1"},
			func(r *record) bool { return strings.HasPrefix(r.user, "user-1") }, constant(1), nil},
		{"prefix empty", &index.PrefixQuery{Field: "geo.country", Value: "", Boost: index.Boost(3)}, func(r *record) bool { return r.country != "" }, constant(3), nil},
		{"wildcard on text, several terms matching", &index.WildcardQuery{Field: "message", Value: "*o*"}, hasWordWith("o"), constant(1), nil},
		{"wildcard boost on a keyword", &index.WildcardQuery{Field: "user.id.keyword", Value: "user-1?", Boost: index.Boost(2.5)},
			func(r *record) bool { return r.json && len(r.user) == 7 && strings.HasPrefix(r.user, "user-1") }, constant(2.5), nil},
		{"wildcard star", &index.WildcardQuery{Field: "geo.country", Value: "*", Boost: index.Boost(0.25)}, func(r *record) bool { return r.country != "" }, constant(0.25), nil},
		{"query_string prefix", qs("message:char*"), charlie, constant(1), nil},
		{"query_string prefix boosted", qs("message:char*^2"), charlie, constant(2), nil},
		{"query_string wildcard", qs("message:?otel"), func(r *record) bool { return r.hasWord("hotel") }, constant(1), nil},
		{"query_string prefixes summed", qs("message:char* OR message:hot*"),
			func(r *record) bool { return r.hasWord("charlie") || r.hasWord("hotel") }, func(r *record) float64 {
				s := 0.0
				for _, w := range []string{"charlie", "hotel"} {
					if r.hasWord(w) {
						s++
					}
				}
				return s
			}, nil},
		{"query_string prefix on every field", qs("char*"),
			func(r *record) bool { return r.hasWord("charlie") || strings.Contains(r.scalar, "charlie") }, constant(1), nil},
		{"query_string exists", &index.QueryStringQuery{Query: "geo.country:*", Boost: index.Boost(4)},
			func(r *record) bool { return r.country != "" }, constant(4), nil},
		{"query_string _exists_ boosted", qs("_exists_:geo^3"), func(r *record) bool { return r.country != "" }, constant(3), nil},
	}
}

// zeroBoostCases give queries of every type a boost of 0:
// Elasticsearch multiplies the score by the boost, so every match scores
// 0 (and still matches), scored queries included.
func zeroBoostCases() []scoreCase {
	zero := index.Boost(0)
	all := func(*record) bool { return true }
	alphaOrBravo := func(r *record) bool { return r.hasWord("alpha") || r.hasWord("bravo") }
	isError := func(r *record) bool { return r.level == "ERROR" }
	return []scoreCase{
		{"boost 0 match", &index.MatchQuery{Field: "message", Query: "alpha bravo", Boost: zero}, alphaOrBravo, constant(0), nil},
		{"boost 0 match_phrase", &index.MatchPhraseQuery{Field: "message", Query: "alpha bravo", Boost: zero},
			func(r *record) bool { return r.hasPhrase("alpha", "bravo") }, constant(0), nil},
		{"boost 0 term on text", &index.TermQuery{Field: "message", Value: "alpha", Boost: zero}, func(r *record) bool { return r.hasWord("alpha") }, constant(0), nil},
		{"boost 0 term on a keyword", &index.TermQuery{Field: "level.keyword", Value: "ERROR", Boost: zero}, isError, constant(0), nil},
		{"boost 0 term _id", &index.TermQuery{Field: "_id", Value: "1-5", Boost: zero},
			func(r *record) bool { return r.part == 1 && r.doc.Offset == 5 }, constant(0), nil},
		{"boost 0 terms", &index.TermsQuery{Field: "message", Values: []any{"alpha", "bravo"}, Boost: zero}, alphaOrBravo, constant(0), nil},
		{"boost 0 range", &index.RangeQuery{Field: "status", GTE: 400, Boost: zero}, func(r *record) bool { return r.json && r.status >= 400 }, constant(0), nil},
		{"boost 0 exists", &index.ExistsQuery{Field: "geo", Boost: zero}, func(r *record) bool { return r.country != "" }, constant(0), nil},
		{"boost 0 prefix", &index.PrefixQuery{Field: "message", Value: "char", Boost: zero}, func(r *record) bool { return r.hasWord("charlie") }, constant(0), nil},
		{"boost 0 wildcard", &index.WildcardQuery{Field: "level.keyword", Value: "ERR*R", Boost: zero}, isError, constant(0), nil},
		{"boost 0 ids", &index.IDsQuery{Values: []string{"0-0", "1-5"}, Boost: zero},
			func(r *record) bool { return (r.part == 0 && r.doc.Offset == 0) || (r.part == 1 && r.doc.Offset == 5) }, constant(0), nil},
		{"boost 0 match_all", &index.MatchAllQuery{Boost: zero}, all, constant(0), nil},
		{"boost 0 match_all with minimum offsets", &index.MatchAllQuery{Boost: zero},
			func(r *record) bool { return r.doc.Offset >= map[int32]int64{0: 30}[r.part] }, constant(0), map[int32]int64{0: 30}},
		{"boost 0 constant_score", &index.ConstantScoreQuery{Filter: &index.TermQuery{Field: "level.keyword", Value: "ERROR"}, Boost: zero}, isError, constant(0), nil},
		{"constant_score of a boost 0 filter", &index.ConstantScoreQuery{Filter: &index.MatchQuery{Field: "level", Query: "error", Boost: zero}}, isError, constant(1), nil},
		{"boost 0 bool", &index.BoolQuery{
			Must:   []index.Query{&index.MatchQuery{Field: "message", Query: "alpha"}},
			Should: []index.Query{&index.TermQuery{Field: "level.keyword", Value: "ERROR"}},
			Boost:  zero,
		}, func(r *record) bool { return r.hasWord("alpha") }, constant(0), nil},
		{"boost 0 bool over a partition", &index.BoolQuery{Must: []index.Query{&index.TermQuery{Field: "_partition", Value: 2}}, Boost: zero},
			func(r *record) bool { return r.part == 2 }, constant(0), nil},
		{"boost 0 clause next to a constant one", &index.BoolQuery{Should: []index.Query{
			&index.TermQuery{Field: "level.keyword", Value: "ERROR", Boost: zero},
			&index.ConstantScoreQuery{Filter: &index.ExistsQuery{Field: "geo"}, Boost: index.Boost(2)},
		}}, func(r *record) bool { return r.level == "ERROR" || r.country != "" }, func(r *record) float64 {
			if r.country != "" {
				return 2
			}
			return 0
		}, nil},
		{"boost 0 query_string", &index.QueryStringQuery{Query: "message:alpha OR level:error", Boost: zero},
			func(r *record) bool { return r.hasWord("alpha") || r.level == "ERROR" }, constant(0), nil},
		{"query_string ^0", &index.QueryStringQuery{Query: "level:error^0"}, isError, constant(0), nil},
		{"query_string ^0 on every field", &index.QueryStringQuery{Query: "alpha^0"},
			func(r *record) bool { return r.hasWord("alpha") || strings.Contains(r.scalar, "alpha") }, constant(0), nil},
	}
}

// testDeletePartition checks PartitionDeleter, for Indexers that
// implement it: one partition's documents and checkpoint go, the other
// partitions and topics keep theirs, and the partition indexes again from
// offset 0.
func testDeletePartition(t *testing.T, open Opener) {
	f := load(t, open)
	d, ok := f.ix.(index.PartitionDeleter)
	if !ok {
		t.Skipf("%T does not implement index.PartitionDeleter", f.ix)
	}
	ctx := context.Background()
	other := generate(2, 20, 0)
	for _, b := range batches("other", other, 20, nil) {
		if err := f.ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	before, err := f.ix.Stats(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DeletePartition(ctx, topic, 1); err != nil {
		t.Fatalf("DeletePartition: %v", err)
	}
	if err := d.DeletePartition(ctx, topic, 7); err != nil {
		t.Fatalf("DeletePartition of a partition never indexed: %v", err)
	}
	if err := d.DeletePartition(ctx, "never-indexed", 0); err != nil {
		t.Fatalf("DeletePartition of a topic never indexed: %v", err)
	}
	if cp, err := f.ix.Checkpoint(topic, 1); err != nil || cp != 0 {
		t.Fatalf("Checkpoint after DeletePartition = %d, %v; want 0", cp, err)
	}
	st, err := f.ix.Stats(topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Partitions[1]; ok {
		t.Fatalf("Stats after DeletePartition still list partition 1: %+v", st.Partitions[1])
	}
	for _, p := range []int32{0, 2} {
		if st.Partitions[p] != before.Partitions[p] {
			t.Fatalf("partition %d: %+v after deleting partition 1, was %+v", p, st.Partitions[p], before.Partitions[p])
		}
	}
	notOne := func(r *record) bool { return r.part != 1 }
	if got, want := f.count(t, nil), countWhere(f.recs, notOne); got != want {
		t.Fatalf("%d documents after DeletePartition, want %d", got, want)
	}
	res, err := f.ix.Search(ctx, "other", &index.Request{})
	if err != nil || res.Total != int64(len(other)) {
		t.Fatalf("other topic after DeletePartition: %+v, %v", res, err)
	}
	// Indexing the partition again starts from offset 0.
	for _, b := range batches(topic, f.recs, 50, nil) {
		if b.Partition != 1 {
			continue
		}
		if err := f.ix.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.count(t, nil), int64(len(f.recs)); got != want {
		t.Fatalf("%d documents after indexing the partition again, want %d", got, want)
	}
	if cp, err := f.ix.Checkpoint(topic, 1); err != nil || cp != before.Partitions[1].Checkpoint {
		t.Fatalf("Checkpoint after indexing again = %d, %v; want %d", cp, err, before.Partitions[1].Checkpoint)
	}
}

package indextest

import (
	"context"
	"math"
	"testing"

	"github.com/chronik-go/chronik/index"
)

// scoreCase is a query whose every match has a score Elasticsearch
// defines exactly (independent of BM25): constant_score, filter context,
// match_all and range boosts, ids.
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
		{"constant_score boost", &index.ConstantScoreQuery{Filter: errorLevel, Boost: 2.5}, isError, constant(2.5), nil},
		{"constant_score default boost", &index.ConstantScoreQuery{Filter: &index.RangeQuery{Field: "status", GTE: 400}},
			func(r *record) bool { return r.json && r.status >= 400 }, constant(1), nil},
		{"constant_score of a scored query", &index.ConstantScoreQuery{Filter: &index.MatchQuery{Field: "message", Query: "alpha bravo"}, Boost: 0.5},
			func(r *record) bool { return r.hasWord("alpha") || r.hasWord("bravo") }, constant(0.5), nil},
		{"constant_score over a partition", &index.ConstantScoreQuery{Filter: term("_partition", 1), Boost: 3},
			func(r *record) bool { return r.part == 1 }, constant(3), nil},
		{"constant_score in must, bool boost", &index.BoolQuery{
			Must:   []index.Query{&index.ConstantScoreQuery{Filter: &index.ExistsQuery{Field: "geo"}, Boost: 2}},
			Filter: []index.Query{term("ok", true)},
			Boost:  3,
		}, func(r *record) bool { return r.country != "" && r.json && r.ok }, constant(6), nil},
		{"constant_scores summed", &index.BoolQuery{Should: []index.Query{
			&index.ConstantScoreQuery{Filter: errorLevel, Boost: 2},
			&index.ConstantScoreQuery{Filter: &index.RangeQuery{Field: "status", GTE: 500}, Boost: 0.5},
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
		{"constant_score with minimum offsets", &index.ConstantScoreQuery{Filter: errorLevel, Boost: 2.5},
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
			Boost:   4,
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
			Should: []index.Query{&index.ConstantScoreQuery{Filter: errorLevel, Boost: 3}},
		}, func(r *record) bool { return r.country != "" }, func(r *record) float64 {
			if isError(r) {
				return 3
			}
			return 0
		}, nil},
		{"bool filter and should, minimum_should_match 0", &index.BoolQuery{
			Filter:             []index.Query{&index.ExistsQuery{Field: "geo"}},
			Should:             []index.Query{&index.ConstantScoreQuery{Filter: errorLevel, Boost: 3}},
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
		{"match_all boost", &index.MatchAllQuery{Boost: 2}, func(*record) bool { return true }, constant(2), nil},
		{"range boost on a multi-valued field", &index.RangeQuery{Field: "items.qty", GTE: 1, Boost: 1.5},
			func(r *record) bool { return len(r.items) >= 1 }, constant(1.5), nil},
		{"range boost on keywords", &index.RangeQuery{Field: "user.id.keyword", GTE: "user-10", LT: "user-3", Boost: 2},
			func(r *record) bool { return r.json && r.user != "" && r.user >= "user-10" && r.user < "user-3" }, constant(2), nil},
		{"ids", &index.IDsQuery{Values: []string{"0-0", "1-5", "2-19"}}, func(r *record) bool {
			return (r.part == 0 && r.doc.Offset == 0) || (r.part == 1 && r.doc.Offset == 5) || (r.part == 2 && r.doc.Offset == 19)
		}, constant(1), nil},
		{"term _id", term("_id", "1-5"), func(r *record) bool { return r.part == 1 && r.doc.Offset == 5 }, constant(1), nil},
	}
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

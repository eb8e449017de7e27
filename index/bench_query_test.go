package index

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	queryDocs = flag.Int("index.querydocs", 20000, "documents in the query benchmarks' index (1000000 for the 1M-document target)")
	queryDir  = flag.String("index.querydir", "", "directory that keeps the query benchmarks' index across runs (built once per size)")
)

// queryCorpusFile records what a kept query index holds.
type queryCorpusFile struct {
	Docs   int
	Counts map[string]int
}

func countsMap(k genCounts) map[string]int {
	return map[string]int{
		"levelError": k.levelError, "status500": k.status500, "msgWord": k.msgWord, "slow": k.slow,
		"service": k.service, "userU42": k.userU42, "retryTrue": k.retryTrue, "tagAlpha": k.tagAlpha,
		"phrase": k.phrase, "hostPrefix07": k.hostPrefix07,
	}
}

// queryIndex returns a Bluge index of *queryDocs generated documents in
// two partitions, building it unless -index.querydir already holds it.
func queryIndex(b *testing.B) (*Bluge, map[string]int) {
	b.Helper()
	dir := *queryDir
	if dir == "" {
		dir = b.TempDir()
	}
	n := *queryDocs
	meta := filepath.Join(dir, "corpus.json")
	idx := filepath.Join(dir, "index")
	var qc queryCorpusFile
	if raw, err := os.ReadFile(meta); err == nil && json.Unmarshal(raw, &qc) == nil && qc.Docs == n {
		ix, err := OpenBluge(idx, BlugeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return ix, qc.Counts
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	os.RemoveAll(idx)
	ix, err := OpenBluge(idx, BlugeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const parts, size = 2, 4096
	batches := make(chan *Batch, 4)
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	var perPart [parts]chan *Batch
	for p := range parts {
		perPart[p] = make(chan *Batch, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range perPart[p] {
				if err := ix.Index(context.Background(), bt); err != nil {
					errs <- err
					for range perPart[p] {
					}
					return
				}
			}
		}()
	}
	go func() {
		for bt := range batches {
			perPart[bt.Partition] <- bt
		}
		for p := range parts {
			close(perPart[p])
		}
	}()
	cur := [parts]*Batch{}
	i := 0
	counts := genStream(n, 1, func(doc, key []byte, ts int64) {
		p := i % parts
		if cur[p] == nil {
			cur[p] = &Batch{Topic: "q", Partition: int32(p)}
		}
		off := int64(i / parts)
		cur[p].Docs = append(cur[p].Docs, Document{Offset: off, Timestamp: ts,
			Key: append([]byte(nil), key...), Value: append([]byte(nil), doc...)})
		cur[p].Next = off + 1
		if len(cur[p].Docs) == size {
			batches <- cur[p]
			cur[p] = nil
		}
		i++
	})
	for _, bt := range cur {
		if bt != nil {
			batches <- bt
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := ix.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a %d-document index in %v", n, time.Since(start))
	qc = queryCorpusFile{Docs: n, Counts: countsMap(counts)}
	raw, _ := json.Marshal(qc)
	if err := os.WriteFile(meta, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	return ix, qc.Counts
}

// BenchmarkQuery measures search latency (10 hits, exact totals) on a
// generated index of -index.querydocs documents; each query's total is
// checked against the generator's count. It reports p50 and p99 per
// query kind.
func BenchmarkQuery(b *testing.B) {
	ix, counts := queryIndex(b)
	defer ix.Close()
	cases := []struct {
		name  string
		q     Query
		sort  []SortField
		count string // key in counts; "" = every document
	}{
		{"term/keyword-rare", &TermQuery{Field: "user.id.keyword", Value: "u-000042"}, nil, "userU42"},
		{"term/keyword-common", &TermQuery{Field: "level.keyword", Value: "ERROR"}, nil, "levelError"},
		{"term/number", &TermQuery{Field: "http.status", Value: 500}, nil, "status500"},
		{"match/word", &MatchQuery{Field: "message", Query: genWord}, nil, "msgWord"},
		{"match_phrase", &MatchPhraseQuery{Field: "message", Query: "quick brown"}, nil, "phrase"},
		{"range/number", &RangeQuery{Field: "http.latency_ms", GT: 900}, nil, "slow"},
		{"query_string", &QueryStringQuery{Query: "service:checkout"}, nil, "service"},
		{"match_all/sort-timestamp", &MatchAllQuery{}, []SortField{{Field: "_timestamp", Desc: true}}, ""},
		{"term-rare/sort-timestamp", &TermQuery{Field: "user.id.keyword", Value: "u-000042"}, []SortField{{Field: "_timestamp", Desc: true}}, "userU42"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			want := int64(*queryDocs)
			if c.count != "" {
				want = int64(counts[c.count])
			}
			req := &Request{Query: c.q, Size: 10, Sort: c.sort}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				res, err := ix.Search(context.Background(), "q", req)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if res.Total != want || len(res.Hits) != int(min(10, want)) {
					b.Fatalf("%d hits (%d returned), want %d", res.Total, len(res.Hits), want)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

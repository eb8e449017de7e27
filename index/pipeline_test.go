package index_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/index"
)

// produced is one record as the test sent it.
type produced struct {
	part   int32
	offset int64
	ts     int64
	key    string
	value  []byte
	level  string
	user   int
	words  []string
	header string
}

// produceLogs sends n JSON log records per partition in batches of size
// (each batch with the next codec in turn) and returns them with their
// offsets.
func produceLogs(t testing.TB, e *env, topic string, parts int32, n, size int) []produced {
	t.Helper()
	codecs := []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}
	levels := []string{"INFO", "WARN", "ERROR", "INFO"}
	words := []string{"disk", "full", "timeout", "retry", "ok", "cache", "miss"}
	var out []produced
	seq := 0
	for p := int32(0); p < parts; p++ {
		for i := 0; i < n; i += size {
			spec := batchSpec{codec: codecs[(i/size)%len(codecs)], baseTimestamp: time.Now().UnixMilli()}
			var batch []produced
			for j := i; j < min(i+size, n); j++ {
				pr := produced{part: p, level: levels[seq%len(levels)], user: seq % 17, key: fmt.Sprintf("k%d", seq%5)}
				pr.words = []string{words[seq%len(words)], words[(seq/3)%len(words)]}
				v := map[string]any{"level": pr.level, "user": map[string]any{"id": pr.user}, "msg": pr.words[0] + " " + pr.words[1], "seq": seq}
				pr.value, _ = json.Marshal(v)
				r := rec{key: []byte(pr.key), value: pr.value, tsDelta: int64(j - i)}
				if seq%3 == 0 {
					pr.header = fmt.Sprintf("h%d", seq%4)
					r.headers = [][2]string{{"source", pr.header}}
				}
				pr.ts = spec.baseTimestamp + r.tsDelta
				spec.recs = append(spec.recs, r)
				batch = append(batch, pr)
				seq++
			}
			base := e.produce(topic, p, -1, spec.build(t))
			for k := range batch {
				batch[k].offset = base + int64(k)
			}
			out = append(out, batch...)
		}
	}
	return out
}

func countProduced(ps []produced, pred func(*produced) bool) int64 {
	var n int64
	for i := range ps {
		if pred(&ps[i]) {
			n++
		}
	}
	return n
}

func TestPipelineIndexesProducedRecords(t *testing.T) {
	for _, impl := range []string{"memory", "bluge"} {
		t.Run(impl, func(t *testing.T) {
			var ix index.Indexer = index.NewMemory()
			if impl == "bluge" {
				b, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				ix = b
			}
			e := newEnv(t, envOptions{ix: ix})
			e.topic("logs", 3, nil)
			recs := produceLogs(t, e, "logs", 3, 150, 25)
			for p := int32(0); p < 3; p++ {
				e.waitIndexed("logs", p)
			}
			s := e.searcher()
			ctx := context.Background()
			checks := []struct {
				q    index.Query
				want func(*produced) bool
			}{
				{&index.MatchAllQuery{}, func(*produced) bool { return true }},
				{&index.TermQuery{Field: "level.keyword", Value: "ERROR"}, func(p *produced) bool { return p.level == "ERROR" }},
				{&index.MatchQuery{Field: "msg", Query: "timeout"}, func(p *produced) bool { return slices.Contains(p.words, "timeout") }},
				{&index.RangeQuery{Field: "user.id", GTE: 5, LT: 9}, func(p *produced) bool { return p.user >= 5 && p.user < 9 }},
				{&index.TermQuery{Field: "_key", Value: "k3"}, func(p *produced) bool { return p.key == "k3" }},
				{&index.TermQuery{Field: "_headers.source.keyword", Value: "h2"}, func(p *produced) bool { return p.header == "h2" }},
				{&index.QueryStringQuery{Query: "level:WARN AND msg:disk"}, func(p *produced) bool { return p.level == "WARN" && slices.Contains(p.words, "disk") }},
			}
			for _, c := range checks {
				res, err := s.Search(ctx, "logs", &index.Request{Query: c.q}, false)
				if err != nil {
					t.Fatal(err)
				}
				if want := countProduced(recs, c.want); res.Hits.Total.Value != want {
					t.Errorf("%T%+v: %d hits, want %d", c.q, c.q, res.Hits.Total.Value, want)
				}
			}
			// Every hit's source, key, timestamp and headers are the
			// produced record's.
			res, err := s.Search(ctx, "logs", &index.Request{Size: len(recs), Sort: []index.SortField{{Field: "_partition"}, {Field: "_offset"}}}, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Hits.Hits) != len(recs) {
				t.Fatalf("%d hits, want %d", len(res.Hits.Hits), len(recs))
			}
			for i, h := range res.Hits.Hits {
				r := recs[i]
				if h.Partition != r.part || h.Offset != r.offset || h.ID != index.DocID(r.part, r.offset) || h.Index != "logs" {
					t.Fatalf("hit %d is %s, want %d-%d", i, h.ID, r.part, r.offset)
				}
				if string(h.Source) != string(r.value) || h.Key == nil || *h.Key != r.key || h.Timestamp != r.ts {
					t.Fatalf("hit %s: source %s key %v ts %d, want %s %s %d", h.ID, h.Source, h.Key, h.Timestamp, r.value, r.key, r.ts)
				}
				if (r.header != "") != (h.Headers["source"] != nil) || (r.header != "" && *h.Headers["source"] != r.header) {
					t.Fatalf("hit %s headers %v, want source=%q", h.ID, h.Headers, r.header)
				}
				if h.Score != nil {
					t.Fatalf("hit %s has a score while sorted by fields", h.ID)
				}
			}
			select {
			case <-e.lags:
			default:
				t.Fatal("no indexing lag was reported")
			}
		})
	}
}

func TestPipelineTopicConfig(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.topic("some", 1, map[string]string{"search.fields": "level"})
	e.topic("off", 1, map[string]string{"search.enabled": "false"})
	recs := produceLogs(t, e, "some", 1, 40, 10)
	produceLogs(t, e, "off", 1, 40, 10)
	e.waitIndexed("some", 0)
	s := e.searcher()
	ctx := context.Background()
	res, err := s.Search(ctx, "some", &index.Request{Query: &index.TermQuery{Field: "level.keyword", Value: "INFO"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := countProduced(recs, func(p *produced) bool { return p.level == "INFO" }); res.Hits.Total.Value != want {
		t.Fatalf("listed field: %d hits, want %d", res.Hits.Total.Value, want)
	}
	res, err = s.Search(ctx, "some", &index.Request{Query: &index.MatchQuery{Field: "msg", Query: "disk"}}, false)
	if err != nil || res.Hits.Total.Value != 0 {
		t.Fatalf("unlisted field: %v hits, %v", res.Hits.Total.Value, err)
	}
	// Give the pipeline time to (wrongly) index the disabled topic.
	time.Sleep(100 * time.Millisecond)
	if st, err := e.ix.Stats("off"); err != nil || st.Docs != 0 {
		t.Fatalf("search.enabled=false topic indexed: %+v, %v", st, err)
	}
}

func TestPipelineTransactions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.topic("tx", 1, nil)
	ctx := context.Background()
	txn := "app"
	plain := func(v string) []byte {
		return batchSpec{recs: []rec{{value: []byte(`{"kind":"` + v + `"}`)}}, baseTimestamp: time.Now().UnixMilli()}.build(t)
	}
	txnBatch := func(pid int64, seq int32, v string, n int) []byte {
		s := batchSpec{producerID: pid, epoch: 0, baseSequence: seq, transactional: true, baseTimestamp: time.Now().UnixMilli()}
		for range n {
			s.recs = append(s.recs, rec{value: []byte(`{"kind":"` + v + `"}`)})
		}
		return s.build(t)
	}
	e.produce("tx", 0, -1, plain("plain"))                         // 0
	e.produceReq("tx", 0, -1, &txn, txnBatch(10, 0, "aborted", 3)) // 1-3
	e.produceReq("tx", 0, -1, &txn, txnBatch(11, 0, "committed", 2))
	e.produce("tx", 0, -1, plain("plain")) // 6
	// Open transactions hold the last stable offset at 1: only offset 0
	// is indexed.
	waitCheckpoint(t, e, "tx", 0, 1)
	if err := e.h.WriteMarker(ctx, "tx", 0, 10, 0, 0, false); err != nil { // abort 10 at 7
		t.Fatal(err)
	}
	if err := e.h.WriteMarker(ctx, "tx", 0, 11, 0, 0, true); err != nil { // commit 11 at 8
		t.Fatal(err)
	}
	waitCheckpoint(t, e, "tx", 0, 9)
	s := e.searcher()
	for kind, want := range map[string]int64{"plain": 2, "aborted": 0, "committed": 2} {
		res, err := s.Search(ctx, "tx", &index.Request{Query: &index.TermQuery{Field: "kind.keyword", Value: kind}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.Hits.Total.Value != want {
			t.Errorf("%s: %d hits, want %d", kind, res.Hits.Total.Value, want)
		}
	}
}

func waitCheckpoint(t *testing.T, e *env, topic string, p int32, want int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.pl.WaitIndexed(ctx, topic, p, want); err != nil {
		cp, _ := e.ix.Checkpoint(topic, p)
		t.Fatalf("checkpoint %d, want %d: %v", cp, want, err)
	}
	time.Sleep(30 * time.Millisecond)
	if cp, _ := e.ix.Checkpoint(topic, p); cp != want {
		t.Fatalf("checkpoint moved to %d, want it to stay at %d", cp, want)
	}
}

// TestPipelineResumesAfterRestart stops everything, produces while the
// pipeline is down, and restarts on the same directories: the new
// pipeline catches up from the checkpoints, and every record is
// searchable exactly once.
func TestPipelineResumesAfterRestart(t *testing.T) {
	dataDir, indexDir := t.TempDir(), t.TempDir()
	open := func() index.Indexer {
		b, err := index.OpenBluge(indexDir, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := newEnv(t, envOptions{ix: open(), dataDir: dataDir})
	e.topic("logs", 2, nil)
	recs := produceLogs(t, e, "logs", 2, 60, 20)
	e.waitIndexed("logs", 0)
	e.waitIndexed("logs", 1)
	meta := e.meta
	e.close()

	// Produce while indexing is off, then start indexing again: the new
	// pipeline catches up from the stored checkpoints.
	off := newEnv(t, envOptions{dataDir: dataDir, meta: meta, noIndexing: true})
	more := produceLogs(t, off, "logs", 2, 30, 10)
	off.close()
	e3 := newEnv(t, envOptions{ix: open(), dataDir: dataDir, meta: meta})
	e3.waitIndexed("logs", 0)
	e3.waitIndexed("logs", 1)
	all := append(recs, more...)
	wantEachRecordOnce(t, e3.searcher(), "logs", len(all))
}

// TestRebuildWhileSearching rebuilds a topic's index while searches and
// produces keep running: searches never fail, and once the rebuild has
// caught up every record is found exactly once.
func TestRebuildWhileSearching(t *testing.T) {
	ix, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{ix: ix})
	e.topic("logs", 2, nil)
	recs := produceLogs(t, e, "logs", 2, 100, 20)
	e.waitIndexed("logs", 0)
	e.waitIndexed("logs", 1)
	s := e.searcher()
	ctx := context.Background()
	limit := int64(len(recs) + 3*2*10) // every record this test produces
	stopSearching := searchUntilStopped(s, limit)
	for range 3 {
		if err := e.pl.Rebuild(ctx, "logs"); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, produceLogs(t, e, "logs", 2, 10, 10)...)
	}
	e.waitIndexed("logs", 0)
	e.waitIndexed("logs", 1)
	if err := stopSearching(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, "logs", &index.Request{Size: 1000}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != int64(len(recs)) || len(res.Hits.Hits) != len(recs) {
		t.Fatalf("%d hits, want %d", res.Hits.Total.Value, len(recs))
	}
}

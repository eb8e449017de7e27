package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/chronik-go/chronik/index"
)

// P8: term queries on an index of 1M small JSON documents, built in this
// process with the index package (the same Bluge indexer the broker's
// pipeline feeds, two partitions indexed in parallel in batches of 4096),
// then queried through index.Bluge.Search (the target) and through the
// search HTTP API served by index.NewHTTPHandler on a loopback listener
// (informational). Every query's total is checked against the generator's
// count, and queries by id check the hit is the document with that id.

// queryTopic is the topic of the P8 index.
const queryTopic = "p8"

// queryParts is the partition count of the P8 index.
const queryParts = 2

// smallDocVersion changes whenever the small document generator or the
// index layout of P8 changes, so that a kept index is rebuilt.
const smallDocVersion = 1

// smallUsers, smallServices: value counts of the small documents' keyword
// fields, chosen so that term queries match about 100 (user) and 50,000
// (service) documents of 1M.
const smallUsers = 10000

// smallTally counts the small documents by the values P8 queries.
type smallTally struct {
	Docs    int
	User    []int          // by user number
	Service map[string]int // service.keyword
	Status  map[int]int    // status (number)
}

// smallDocGen generates the small documents of P8 one after the other.
type smallDocGen struct {
	r *rand.Rand
}

func newSmallDocGen(seed uint64) *smallDocGen {
	return &smallDocGen{r: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
}

// smallDocID is the id field of small document n.
func smallDocID(n int) string { return fmt.Sprintf("d-%08d", n) }

// smallUserID is the user field of user number u.
func smallUserID(u int) string { return fmt.Sprintf("u-%05d", u) }

// next appends small document n (about 100 bytes) to buf and counts it.
func (g *smallDocGen) next(buf []byte, n int, t *smallTally) []byte {
	r := g.r
	user := r.IntN(smallUsers)
	svc := docServices[r.IntN(len(docServices))]
	status := docStatus[r.IntN(len(docStatus))]
	buf = fmt.Appendf(buf, `{"id":"d-%08d","level":%q,"service":%q,"user":"u-%05d","status":%d,"msg":"%s %s"}`,
		n, docLevels[r.IntN(len(docLevels))], svc, user, status,
		docVocab[zipfIndex(r, len(docVocab))], docVocab[zipfIndex(r, len(docVocab))])
	t.Docs++
	t.User[user]++
	t.Service[svc]++
	t.Status[status]++
	return buf
}

func newSmallTally() *smallTally {
	return &smallTally{User: make([]int, smallUsers), Service: map[string]int{}, Status: map[int]int{}}
}

// queryKind is one kind of P8 term query.
type queryKind string

const (
	qkID      queryKind = "id (1 hit)"
	qkUser    queryKind = "user (~100 hits)"
	qkService queryKind = "service (~50k hits)"
	qkStatus  queryKind = "status, a number (71k-357k hits)"
)

// queryKinds lists the kinds in report order.
var queryKinds = []queryKind{qkID, qkUser, qkService, qkStatus}

// termQuery is one P8 query and the answer it must get.
type termQuery struct {
	Kind   queryKind
	Field  string
	Value  any // string or float64
	Expect int
	Doc    int // for qkID: the document number the hit must be; -1 otherwise
}

// queryMix returns n queries with terms drawn from seed: the kinds in
// turn, each with a random value and its expected count.
func queryMix(t *smallTally, n int, seed uint64) []termQuery {
	r := rand.New(rand.NewPCG(seed, 99))
	services := sortedKeys(t.Service)
	statuses := make([]int, 0, len(t.Status))
	for s := range t.Status {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	out := make([]termQuery, n)
	for i := range out {
		switch queryKinds[i%len(queryKinds)] {
		case qkID:
			d := r.IntN(t.Docs)
			out[i] = termQuery{Kind: qkID, Field: "id.keyword", Value: smallDocID(d), Expect: 1, Doc: d}
		case qkUser:
			u := r.IntN(smallUsers)
			out[i] = termQuery{Kind: qkUser, Field: "user.keyword", Value: smallUserID(u), Expect: t.User[u], Doc: -1}
		case qkService:
			s := services[r.IntN(len(services))]
			out[i] = termQuery{Kind: qkService, Field: "service.keyword", Value: s, Expect: t.Service[s], Doc: -1}
		case qkStatus:
			s := statuses[r.IntN(len(statuses))]
			out[i] = termQuery{Kind: qkStatus, Field: "status", Value: float64(s), Expect: t.Status[s], Doc: -1}
		}
	}
	return out
}

// queryIndex is a built P8 index and what it holds.
type queryIndex struct {
	ix        *index.Bluge
	dir       string // the index directory
	tally     *smallTally
	built     bool          // built in this run (false: reused from -p8-index)
	buildTime time.Duration // when built
	diskBytes int64
}

// keptIndexMeta is written next to a kept P8 index.
type keptIndexMeta struct {
	Version int
	Docs    int
	Tally   *smallTally
}

// openQueryIndex returns the P8 index of docs documents: reused from dir
// when dir holds one built by the same generator, else built there (in a
// fresh directory under base when dir is empty).
func openQueryIndex(ctx context.Context, dir, base string, docs int, logf func(string, ...any)) (*queryIndex, error) {
	keep := dir != ""
	if !keep {
		var err error
		if dir, err = os.MkdirTemp(base, "p8-"); err != nil {
			return nil, fmt.Errorf("p8 index: %w", err)
		}
	}
	metaPath := filepath.Join(dir, "p8-index.json")
	idxDir := filepath.Join(dir, "index")
	if keep {
		raw, err := os.ReadFile(metaPath)
		var m keptIndexMeta
		switch {
		case err == nil && json.Unmarshal(raw, &m) == nil && m.Version == smallDocVersion && m.Docs == docs && m.Tally != nil:
			ix, err := index.OpenBluge(idxDir, index.BlugeOptions{})
			if err != nil {
				return nil, fmt.Errorf("p8 index: reopen %s: %w", idxDir, err)
			}
			logf("P8: reusing the %d-document index in %s", docs, dir)
			return &queryIndex{ix: ix, dir: idxDir, tally: m.Tally, diskBytes: dirSize(idxDir)}, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("p8 index: %w", err)
		}
		if err := os.RemoveAll(idxDir); err != nil {
			return nil, fmt.Errorf("p8 index: %w", err)
		}
		os.Remove(metaPath)
	}
	ix, err := index.OpenBluge(idxDir, index.BlugeOptions{})
	if err != nil {
		return nil, fmt.Errorf("p8 index: %w", err)
	}
	start := time.Now()
	tally, err := buildQueryIndex(ctx, ix, docs)
	if err != nil {
		ix.Close()
		return nil, fmt.Errorf("p8 index: build: %w", err)
	}
	qi := &queryIndex{ix: ix, dir: idxDir, tally: tally, built: true, buildTime: time.Since(start), diskBytes: dirSize(idxDir)}
	if keep {
		raw, err := json.Marshal(keptIndexMeta{Version: smallDocVersion, Docs: docs, Tally: tally})
		if err == nil {
			err = os.WriteFile(metaPath, raw, 0o644)
		}
		if err != nil {
			ix.Close()
			return nil, fmt.Errorf("p8 index: %w", err)
		}
	}
	return qi, nil
}

// queryBatchDocs is the Index batch size of the P8 build: twice the
// pipeline's, which halves the segments the build leaves to merge.
const queryBatchDocs = 4096

// buildQueryIndex indexes docs small documents: document n goes to
// partition n%queryParts at offset n/queryParts; one goroutine per
// partition calls Index with batches of queryBatchDocs; everything is
// flushed to disk at the end.
func buildQueryIndex(ctx context.Context, ix *index.Bluge, docs int) (*smallTally, error) {
	tally := newSmallTally()
	var wg sync.WaitGroup
	feeds := make([]chan *index.Batch, queryParts)
	errs := make([]error, queryParts)
	for p := range feeds {
		feeds[p] = make(chan *index.Batch, 2)
		wg.Add(1)
		go func() { // one per partition, owned by buildQueryIndex through wg
			defer wg.Done()
			for bt := range feeds[p] {
				if errs[p] == nil {
					errs[p] = ix.Index(ctx, bt)
				}
			}
		}()
	}
	g := newSmallDocGen(8)
	cur := make([]*index.Batch, queryParts)
	var arena []byte
	for n := range docs {
		if ctx.Err() != nil {
			break
		}
		p := n % queryParts
		if cur[p] == nil {
			cur[p] = &index.Batch{Topic: queryTopic, Partition: int32(p), Docs: make([]index.Document, 0, queryBatchDocs)}
		}
		if cap(arena)-len(arena) < 512 {
			arena = make([]byte, 0, 1<<20)
		}
		s := len(arena)
		arena = g.next(arena, n, tally)
		off := int64(n / queryParts)
		bt := cur[p]
		bt.Docs = append(bt.Docs, index.Document{Offset: off, Timestamp: docBase.Add(time.Duration(n) * time.Millisecond).UnixMilli(),
			Value: arena[s:len(arena):len(arena)]})
		bt.Next = off + 1
		if len(bt.Docs) == queryBatchDocs {
			feeds[p] <- bt
			cur[p] = nil
		}
	}
	for p, bt := range cur {
		if bt != nil {
			feeds[p] <- bt
		}
		close(feeds[p])
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	if err := ix.Flush(); err != nil {
		return nil, err
	}
	st, err := ix.Stats(queryTopic)
	if err != nil {
		return nil, err
	}
	if st.Docs != int64(docs) {
		return nil, &IndexReconcileError{Index: "the P8 index", Problems: []string{fmt.Sprintf("holds %d documents, %d were indexed", st.Docs, docs)}}
	}
	return tally, nil
}

// queryPath is how a P8 query is sent.
type queryPath string

const (
	viaIndexer queryPath = "index.Bluge.Search"
	viaHTTP    queryPath = "HTTP POST /_search (loopback)"
)

// queryRun is one run of the P8 query mix through one path.
type queryRun struct {
	Path    queryPath
	Run     int
	Err     error
	Queries int
	Lat     histogram               // all queries
	ByKind  map[queryKind]histogram // per kind
	Elapsed time.Duration
}

// queryResult is everything P8 measured.
type queryResult struct {
	Docs      int
	Built     bool
	BuildTime time.Duration
	DiskBytes int64
	Settle    time.Duration // wait for background merges to stop before querying
	Segments  int           // segment files when the queries started
	Settled   bool          // false: still merging when the wait gave up
	Runs      []queryRun
}

// settleQuiet and settleMax: the P8 queries start once the index's
// segment files have not changed for settleQuiet (bluge merges segments
// in the background after a bulk build), or after settleMax.
const (
	settleQuiet = 3 * time.Second
	settleMax   = 90 * time.Second
)

// waitSettled waits until the set of segment files under dir has not
// changed for settleQuiet, at most settleMax, and returns how long it
// waited, the segment file count and whether it settled.
func waitSettled(ctx context.Context, dir string) (time.Duration, int, bool) {
	start := time.Now()
	last, since := "", start
	for {
		var names []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Ext(p) == ".seg" {
				names = append(names, p)
			}
			return nil
		})
		slices.Sort(names)
		cur := fmt.Sprint(names)
		if cur != last {
			last, since = cur, time.Now()
		}
		switch {
		case time.Since(since) >= settleQuiet:
			return time.Since(start), len(names), true
		case time.Since(start) >= settleMax || ctx.Err() != nil:
			return time.Since(start), len(names), false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// queryWarmUp is how many queries run, checked but not timed, before the
// timed runs: the first queries read the index files into the page cache.
const queryWarmUp = 200

// querySpec is P8's budget.
type querySpec struct {
	Docs    int // documents in the index
	Queries int // queries per run and path
}

func (b *bench) querySpec() querySpec {
	if b.opts.quick {
		return querySpec{Docs: 100000, Queries: 400}
	}
	return querySpec{Docs: 1000000, Queries: 2000}
}

// runQuery builds (or reuses) the P8 index, then runs the query mix
// o.runs times through each path, alternating which path goes first.
func (b *bench) runQuery(ctx context.Context, w workload) workloadResult {
	res := workloadResult{W: w}
	sp := b.querySpec()
	qi, err := openQueryIndex(ctx, b.opts.searchIndex, b.base, sp.Docs, b.logf)
	if err != nil {
		res.Query = &queryResult{Docs: sp.Docs, Runs: []queryRun{{Path: viaIndexer, Run: 1, Err: err}}}
		b.logf("%s: FAILED: %v", w.ID, err)
		return res
	}
	defer qi.ix.Close()
	qr := &queryResult{Docs: sp.Docs, Built: qi.built, BuildTime: qi.buildTime, DiskBytes: qi.diskBytes}
	res.Query = qr
	if qi.built {
		b.logf("%s: built a %d-document index in %v (%.0f docs/s), %.0f MiB on disk", w.ID, sp.Docs,
			qi.buildTime.Round(time.Millisecond), float64(sp.Docs)/qi.buildTime.Seconds(), mib(qi.diskBytes))
	}
	qr.Settle, qr.Segments, qr.Settled = waitSettled(ctx, qi.dir)
	b.logf("%s: background merges settled after %v (%d segment files; settled %v)", w.ID, qr.Settle.Round(time.Millisecond), qr.Segments, qr.Settled)
	srv := httptest.NewServer(index.NewHTTPHandler(index.HTTPConfig{Indexer: qi.ix}))
	defer srv.Close()
	if wu := runQueries(ctx, qi.ix, srv.Listener.Addr().String(), viaIndexer, queryMix(qi.tally, queryWarmUp, 1000), ""); wu.Err != nil {
		qr.Runs = append(qr.Runs, queryRun{Path: viaIndexer, Run: 0, Err: fmt.Errorf("warm-up: %w", wu.Err)})
		b.logf("%s: warm-up FAILED: %v", w.ID, wu.Err)
		return res
	}
	for i := range b.opts.runs {
		order := []queryPath{viaIndexer, viaHTTP}
		if i%2 == 1 {
			order = []queryPath{viaHTTP, viaIndexer}
		}
		for _, path := range order {
			if ctx.Err() != nil {
				return res
			}
			var profile string
			if b.opts.profileDir != "" && i == 0 && path == viaIndexer {
				profile = filepath.Join(b.opts.profileDir, w.ID+".pprof")
			}
			qs := queryMix(qi.tally, sp.Queries, uint64(i+1))
			r := runQueries(ctx, qi.ix, srv.Listener.Addr().String(), path, qs, profile)
			r.Run = i + 1
			if r.Err != nil {
				b.logf("%s run %d %s: FAILED: %v", w.ID, i+1, path, r.Err)
			} else {
				b.logf("%s run %d %-30s p50 %6.3f ms  p99 %7.3f ms  max %7.3f ms  %d queries, every total and id hit checked",
					w.ID, i+1, path, ms(r.Lat.quantile(0.5)), ms(r.Lat.quantile(0.99)), ms(r.Lat.max), r.Queries)
			}
			qr.Runs = append(qr.Runs, r)
		}
	}
	return res
}

// runQueries runs qs one after the other through path and checks every
// answer: the total equals the generator's count, min(10, total) hits are
// returned, and a query by id returns exactly the document with that id.
func runQueries(ctx context.Context, ix *index.Bluge, httpAddr string, path queryPath, qs []termQuery, profile string) (r queryRun) {
	r = queryRun{Path: path, ByKind: map[queryKind]histogram{}}
	var p problems
	stop, err := startInProcessProfile(profile)
	if err != nil {
		r.Err = err
		return r
	}
	start := time.Now()
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			stop()
			r.Err = err
			return r
		}
		t0 := time.Now()
		var total int64
		var hits []hitRef
		if path == viaIndexer {
			res, err := ix.Search(ctx, queryTopic, &index.Request{Query: &index.TermQuery{Field: q.Field, Value: q.Value}, Size: 10})
			if err != nil {
				stop()
				r.Err = fmt.Errorf("term %s = %v: %w", q.Field, q.Value, err)
				return r
			}
			total = res.Total
			for _, h := range res.Hits {
				hits = append(hits, hitRef{h.Partition, h.Offset})
			}
		} else {
			total, hits, err = httpTermSearch(ctx, httpAddr, queryTopic, q.Field, q.Value, 10)
			if err != nil {
				stop()
				r.Err = err
				return r
			}
		}
		d := time.Since(t0)
		r.Lat.record(d)
		h := r.ByKind[q.Kind]
		h.record(d)
		r.ByKind[q.Kind] = h
		r.Queries++
		if msg := checkTermAnswer(q, total, hits); msg != "" {
			p.addf("%s", msg)
		}
	}
	r.Elapsed = time.Since(start)
	if err := stop(); err != nil {
		r.Err = err
		return r
	}
	if len(p.list) > 0 {
		r.Err = &IndexReconcileError{Index: "the P8 index (" + string(path) + ")", Problems: p.list, More: p.more}
	}
	return r
}

// hitRef is where a hit's record is.
type hitRef struct {
	Partition int32
	Offset    int64
}

// checkTermAnswer returns what is wrong with an answer to q, "" if
// nothing.
func checkTermAnswer(q termQuery, total int64, hits []hitRef) string {
	if total != int64(q.Expect) {
		return fmt.Sprintf("term %s = %v: total %d, the generator put it in %d documents", q.Field, q.Value, total, q.Expect)
	}
	if want := min(10, q.Expect); len(hits) != want {
		return fmt.Sprintf("term %s = %v: %d hits returned, want %d", q.Field, q.Value, len(hits), want)
	}
	if q.Doc >= 0 {
		want := hitRef{int32(q.Doc % queryParts), int64(q.Doc / queryParts)}
		if hits[0] != want {
			return fmt.Sprintf("term %s = %v: hit at partition %d offset %d, the document is at partition %d offset %d",
				q.Field, q.Value, hits[0].Partition, hits[0].Offset, want.Partition, want.Offset)
		}
	}
	return ""
}

// httpTermSearch runs a term query through the search HTTP API at
// httpAddr (POST /{topic}/_search, without _source) and returns the total
// and the hits' positions.
func httpTermSearch(ctx context.Context, httpAddr, topic, field string, value any, size int) (int64, []hitRef, error) {
	return httpSearch(ctx, httpAddr, topic, map[string]any{"term": map[string]any{field: value}}, size)
}

// httpSearch runs a query (Elasticsearch's DSL as a map) through POST
// /{topic}/_search at httpAddr, without _source, and returns the total
// and the hits' positions.
func httpSearch(ctx context.Context, httpAddr, topic string, query map[string]any, size int) (int64, []hitRef, error) {
	body, err := json.Marshal(map[string]any{"query": query, "size": size, "_source": false})
	if err != nil {
		return 0, nil, err
	}
	raw, err := httpDo(ctx, http.MethodPost, httpAddr, "/"+topic+"/_search", body)
	if err != nil {
		return 0, nil, err
	}
	var sr struct {
		Hits struct {
			Total struct {
				Value int64 `json:"value"`
			} `json:"total"`
			Hits []struct {
				Partition int32 `json:"_partition"`
				Offset    int64 `json:"_offset"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(raw, &sr); err != nil {
		return 0, nil, fmt.Errorf("search %s: response: %w", topic, err)
	}
	hits := make([]hitRef, len(sr.Hits.Hits))
	for i, h := range sr.Hits.Hits {
		hits[i] = hitRef{h.Partition, h.Offset}
	}
	return sr.Hits.Total.Value, hits, nil
}

// sortedKeys returns m's keys in ascending order.
func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

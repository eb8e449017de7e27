package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

func TestLogDocsAreValidJSONOfExactSize(t *testing.T) {
	p := newLogDocPool(500, 3)
	recount := newDocTally()
	for i, d := range p.docs {
		if len(d) != logDocSize {
			t.Fatalf("document %d: %d bytes, want %d", i, len(d), logDocSize)
		}
		var v struct {
			ID      string `json:"id"`
			Level   string `json:"level"`
			Service string `json:"service"`
			User    struct {
				ID string `json:"id"`
			} `json:"user"`
			HTTP struct {
				Status int `json:"status"`
			} `json:"http"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(d, &v); err != nil {
			t.Fatalf("document %d is not JSON: %v\n%s", i, err, d)
		}
		if v.ID != hexID(uint64(i)) {
			t.Fatalf("document %d has id %q", i, v.ID)
		}
		recount.Docs++
		recount.Level[v.Level]++
		recount.Service[v.Service]++
		recount.User[v.User.ID]++
		recount.Status[v.HTTP.Status]++
		recount.Tag[v.Tags[0]]++
		if v.Tags[1] != v.Tags[0] {
			recount.Tag[v.Tags[1]]++
		}
	}
	// The generator's tallies are what decoding the documents gives.
	a, _ := json.Marshal(p.tally)
	b, _ := json.Marshal(recount)
	if !bytes.Equal(a, b) {
		t.Fatalf("tally differs from a recount:\n%s\n%s", a, b)
	}
	u := p.uniqueValue(123456789)
	var v struct{ ID string }
	if err := json.Unmarshal(u, &v); err != nil || v.ID != hexID(123456789) {
		t.Fatalf("unique value: id %q, err %v", v.ID, err)
	}
	if !bytes.Equal(u[idOffset+idDigits:], p.value(123456789)[idOffset+idDigits:]) {
		t.Fatal("unique value differs from its pool document beyond the id")
	}
	// The record generator regenerates the same values.
	g := recordGen{docs: p, unique: true}
	k1, v1 := g.record(nil, 42)
	k2, v2 := g.record(nil, 42)
	if !bytes.Equal(v1, p.uniqueValue(42)) || !bytes.Equal(v1, v2) || !bytes.Equal(k1, k2) || g.hash(42) != recordHash(k1, v1) {
		t.Fatal("record generator is not deterministic")
	}
}

func TestIndexRateReconciliation(t *testing.T) {
	const n = 600
	p := newLogDocPool(n, 4)
	checks := indexChecks(p.tally, n)
	ctx := context.Background()

	ours := indexWithOurs(ctx, t.TempDir(), p.docs, checks, "")
	if ours.Err != nil || ours.Checked != len(checks) || ours.Docs != n {
		t.Fatalf("ours: %+v", ours)
	}
	base := indexWithBlugeDefault(ctx, t.TempDir(), p.docs, checks)
	if base.Err != nil || base.Checked != len(checks) || base.Docs != n {
		t.Fatalf("bluge default: %+v", base)
	}

	// A wrong expectation (an index that lost or invented documents) is
	// reported on both sides, naming the term.
	bad := append([]indexCheck(nil), checks...)
	bad[0].Expect++
	r := indexWithOurs(ctx, t.TempDir(), p.docs, bad, "")
	var ie *IndexReconcileError
	if !errors.As(r.Err, &ie) || !strings.Contains(r.Err.Error(), "level.keyword = ERROR") || r.Checked != len(checks)-1 {
		t.Fatalf("ours with a wrong count: checked %d, err %v", r.Checked, r.Err)
	}
	r = indexWithBlugeDefault(ctx, t.TempDir(), p.docs, bad)
	if !errors.As(r.Err, &ie) || !strings.Contains(r.Err.Error(), "level.keyword = ERROR") {
		t.Fatalf("bluge default with a wrong count: %v", r.Err)
	}

	// An index missing documents fails the document count.
	ix, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	bt := &index.Batch{Topic: "p6", Next: n - 1}
	for i := range n - 1 {
		bt.Docs = append(bt.Docs, index.Document{Offset: int64(i), Value: p.docs[i]})
	}
	if err := ix.Index(ctx, bt); err != nil {
		t.Fatal(err)
	}
	_, err = reconcileOurIndex(ctx, ix, "p6", n, checks)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), fmt.Sprintf("index holds %d documents, %d were indexed", n-1, n)) {
		t.Fatalf("missing document: %v", err)
	}
}

func TestCheckTermAnswer(t *testing.T) {
	q := termQuery{Field: "id.keyword", Value: "d-00000007", Expect: 1, Doc: 7}
	if msg := checkTermAnswer(q, 1, []hitRef{{1, 3}}); msg != "" {
		t.Fatalf("right answer refused: %s", msg)
	}
	for _, c := range []struct {
		total int64
		hits  []hitRef
		want  string
	}{
		{0, nil, "total 0"},
		{1, nil, "0 hits returned"},
		{1, []hitRef{{0, 3}}, "hit at partition 0 offset 3"},
	} {
		if msg := checkTermAnswer(q, c.total, c.hits); !strings.Contains(msg, c.want) {
			t.Errorf("total %d hits %v: %q, want it to mention %q", c.total, c.hits, msg, c.want)
		}
	}
	many := termQuery{Field: "service.keyword", Value: "cart", Expect: 500, Doc: -1}
	if msg := checkTermAnswer(many, 500, make([]hitRef, 10)); msg != "" {
		t.Fatalf("right answer refused: %s", msg)
	}
	if msg := checkTermAnswer(many, 500, make([]hitRef, 9)); !strings.Contains(msg, "want 10") {
		t.Fatalf("short page accepted: %q", msg)
	}
}

func TestQueryIndexAndMix(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	qi, err := openQueryIndex(ctx, dir, t.TempDir(), 3000, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if !qi.built || qi.tally.Docs != 3000 {
		t.Fatalf("built %v, %d documents", qi.built, qi.tally.Docs)
	}
	srv := httptest.NewServer(index.NewHTTPHandler(index.HTTPConfig{Indexer: qi.ix}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	qs := queryMix(qi.tally, 80, 5)
	for _, path := range []queryPath{viaIndexer, viaHTTP} {
		r := runQueries(ctx, qi.ix, addr, path, qs, "")
		if r.Err != nil || r.Queries != len(qs) || r.Lat.total != uint64(len(qs)) {
			t.Fatalf("%s: %d queries, err %v", path, r.Queries, r.Err)
		}
	}
	// A generator count that differs from the index is caught on both paths.
	wrong := append([]termQuery(nil), qs...)
	wrong[1].Expect += 2
	for _, path := range []queryPath{viaIndexer, viaHTTP} {
		r := runQueries(ctx, qi.ix, addr, path, wrong, "")
		var ie *IndexReconcileError
		if !errors.As(r.Err, &ie) || len(ie.Problems) != 1 {
			t.Fatalf("%s: err %v", path, r.Err)
		}
	}
	if err := qi.ix.Close(); err != nil {
		t.Fatal(err)
	}
	// A kept index is reused, with its tallies.
	again, err := openQueryIndex(ctx, dir, t.TempDir(), 3000, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer again.ix.Close()
	if again.built || again.tally.User[5] != qi.tally.User[5] {
		t.Fatalf("kept index rebuilt (%v) or tallies lost", again.built)
	}
	if r := runQueries(ctx, again.ix, addr, viaIndexer, qs, ""); r.Err != nil {
		t.Fatal(r.Err)
	}
}

// fakeSearch serves _cat/indices and _count for one topic the way the
// broker's search API answers them.
type fakeSearch struct {
	docs  atomic.Int64 // docs.count
	count int64        // every _count answer
}

func (f *fakeSearch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_cat/indices":
		fmt.Fprintf(w, `[{"index":"other","docs.count":"99"},{"index":"t","docs.count":"%d"}]`, f.docs.Load())
	case "/t/_count":
		fmt.Fprintf(w, `{"count":%d}`, f.count)
	default:
		http.NotFound(w, r)
	}
}

// fakeIDSearch answers terms queries on id.keyword from a set of visible
// records, as the broker's /_search does.
type fakeIDSearch struct {
	mu      sync.Mutex
	visible map[string]hitRef // id -> where the record is
}

func (f *fakeIDSearch) show(id string, at hitRef) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.visible[id] = at
}

func (f *fakeIDSearch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query struct {
			Terms map[string][]string `json:"terms"`
		} `json:"query"`
		Size int `json:"size"`
	}
	if r.URL.Path != "/t/_search" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	var hits []string
	for _, id := range body.Query.Terms["id.keyword"] {
		if h, ok := f.visible[id]; ok {
			hits = append(hits, fmt.Sprintf(`{"_partition":%d,"_offset":%d}`, h.Partition, h.Offset))
		}
	}
	f.mu.Unlock()
	fmt.Fprintf(w, `{"hits":{"total":{"value":%d},"hits":[%s]}}`, len(hits), strings.Join(hits, ","))
}

func TestWaitIndexed(t *testing.T) {
	f := &fakeSearch{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	ctx := context.Background()
	go func() {
		for i := range 5 {
			time.Sleep(30 * time.Millisecond)
			f.docs.Store(int64(i+1) * 20)
		}
	}()
	if _, err := waitIndexed(ctx, addr, "t", 100, time.Second); err != nil {
		t.Fatal(err)
	}
	var le *IndexLagError
	if _, err := waitIndexed(ctx, addr, "t", 101, 200*time.Millisecond); !errors.As(err, &le) || le.Indexed != 100 {
		t.Fatalf("stalled index: %v", err)
	}
	if _, err := waitIndexed(ctx, addr, "t", 90, time.Second); err == nil || !strings.Contains(err.Error(), "holds 100 documents, only 90") {
		t.Fatalf("index with more documents than records: %v", err)
	}
}

func TestCheckIndexCounts(t *testing.T) {
	p := newLogDocPool(300, 5)
	gen := recordGen{docs: p}
	l := newLedger(1)
	for n := range uint64(700) { // the pool is cycled: record n holds document n%300
		l.add(0, int64(n), n)
	}
	want := int64(0)
	for n := range 700 {
		if bytes.Contains(p.docs[n%300], []byte(`"level":"ERROR"`)) {
			want++
		}
	}
	f := &fakeSearch{count: want}
	srv := httptest.NewServer(f)
	defer srv.Close()
	// The fake answers every term with the ERROR count: the level check
	// passes and the service check must fail, naming the service.
	err := checkIndexCounts(context.Background(), srv.Listener.Addr().String(), "t", l, gen)
	var ie *IndexReconcileError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || !strings.Contains(err.Error(), `service.keyword = "checkout"`) {
		t.Fatalf("err %v", err)
	}
}

func TestPollSearchable(t *testing.T) {
	defer func(d time.Duration) { freshGiveUp = d }(freshGiveUp)
	freshGiveUp = 300 * time.Millisecond
	poll := func(show func(f *fakeIDSearch), samples ...freshSample) pollResult {
		f := &fakeIDSearch{visible: map[string]hitRef{}}
		srv := httptest.NewServer(f)
		defer srv.Close()
		ch := make(chan freshSample, len(samples))
		for _, s := range samples {
			ch <- s
		}
		close(ch)
		go show(f)
		return pollSearchable(context.Background(), srv.Listener.Addr().String(), "t", ch)
	}
	now := time.Now()
	s1 := freshSample{partition: 0, offset: 10, n: 1, acked: now}
	s2 := freshSample{partition: 0, offset: 20, n: 2, acked: now}
	s3 := freshSample{partition: 1, offset: 30, n: 3, acked: now}

	// Two samples, the second searchable 40 ms later: both found, with
	// their latencies.
	res := poll(func(f *fakeIDSearch) {
		f.show(hexID(1), hitRef{0, 10})
		time.Sleep(40 * time.Millisecond)
		f.show(hexID(2), hitRef{0, 20})
	}, s1, s2)
	if len(res.probs.list) > 0 || len(res.lat) != 2 || res.searches < 3 {
		t.Fatalf("found %d with %d searches, problems %v", len(res.lat), res.searches, res.probs.list)
	}
	slices.Sort(res.lat)
	if res.lat[1] < 40*time.Millisecond || res.lat[0] > 40*time.Millisecond {
		t.Fatalf("latencies %v: want one before and one after 40 ms", res.lat)
	}

	// A sample whose id shows up in another record fails the polling.
	res = poll(func(f *fakeIDSearch) { f.show(hexID(3), hitRef{1, 31}) }, s1, s3)
	if msgs := strings.Join(res.probs.list, "; "); !strings.Contains(msgs, "partition 1 offset 31 matches the id of a sampled record") {
		t.Fatalf("problems %q", msgs)
	}

	// A sample never searchable is given up on.
	res = poll(func(f *fakeIDSearch) { f.show(hexID(1), hitRef{0, 10}) }, s1, s3)
	if msgs := strings.Join(res.probs.list, "; "); len(res.lat) != 1 || !strings.Contains(msgs, "record 3 (partition 1 offset 30): not searchable") {
		t.Fatalf("found %d, problems %q", len(res.lat), msgs)
	}
}

func TestFreshQuantile(t *testing.T) {
	r := freshRun{}
	for i := 1; i <= 200; i++ {
		r.Samples = append(r.Samples, time.Duration(i)*time.Millisecond)
	}
	if r.quantile(0.5) != 100*time.Millisecond || r.quantile(0.99) != 198*time.Millisecond || r.quantile(1) != 200*time.Millisecond {
		t.Fatalf("p50 %v p99 %v max %v", r.quantile(0.5), r.quantile(0.99), r.quantile(1))
	}
	if (&freshRun{}).quantile(0.5) != 0 {
		t.Fatal("empty run")
	}
}

func TestOnlyFlagAndSearchWorkloads(t *testing.T) {
	o, err := parseOptions([]string{"-only", "P6,p7"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := selected(o)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	if got := strings.Join(ids, ","); got != "P6-index,P6-produce,P7" {
		t.Fatalf("selected %s", got)
	}
	if _, err := parseOptions([]string{"-only", "P6", "-workloads", "P7"}, os.Stderr); err == nil {
		t.Fatal("both -only and -workloads accepted")
	}
}

// TestSearchReport renders the search workloads from made-up results:
// each verdict and failure must show.
func TestSearchReport(t *testing.T) {
	byID := map[string]workload{}
	for _, w := range workloads() {
		byID[w.ID] = w
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	fresh := freshRun{Run: 1, Offered: 1000, RecordsPerSec: 999, Samples: []time.Duration{ms(5), ms(40), ms(1500)}}
	var ok, slow histogram
	ok.record(ms(0.5))
	slow.record(ms(3))
	rep := &report{Results: []workloadResult{
		{W: byID["P6-index"], Index: []indexRun{
			{Side: indexerOurs, Run: 1, Docs: 100, DocsPerSec: 4000, CPUPerDoc: 100 * time.Microsecond, DiskBytes: 200000, Checked: 6},
			{Side: indexerBluge, Run: 1, Docs: 100, DocsPerSec: 1000, CPUPerDoc: 500 * time.Microsecond, DiskBytes: 300000, Checked: 6},
		}},
		{W: byID["P6-produce"], Runs: []runResult{
			{Side: indexOn, Run: 1, MBPerSec: 80, RecordsPerSec: 78000, IndexCatchUp: 2 * time.Second, IndexRate: 5000, Reconciled: 10},
			{Side: indexOff, Run: 1, MBPerSec: 100, RecordsPerSec: 97000, Reconciled: 10},
		}},
		{W: byID["P7"], Fresh: []freshRun{fresh}, FreshBasis: "500 records/s"},
		{W: byID["P8"], Query: &queryResult{Docs: 1000000, Built: true, BuildTime: time.Minute, Runs: []queryRun{
			{Path: viaIndexer, Run: 1, Queries: 1, Lat: ok, ByKind: map[queryKind]histogram{qkID: ok}},
			{Path: viaHTTP, Run: 1, Queries: 1, Lat: slow, ByKind: map[queryKind]histogram{qkID: slow}},
		}}},
	}}
	md := rep.markdown("BENCHMARKS.md", "charts")
	for _, want := range []string{
		"| **4.00x** | >= 3x bluge default Batch | met (4.00x vs 3.00x)",
		"| **0.80x** | produce with indexing >= 0.9x without | **missed by 11%** (0.80x vs 0.90x)",
		"**missed**: p99 1.50 s = 1.50x the 1.00 s limit",
		"| met (p50 0.", "x the 2.00 ms limit) |",
		"2.0 s after the last acknowledgement", "CPU per document, bluge default / ours: 5.00x",
		"| 1 | 1000 | 999 | 3 | 40.0 | 1500.0 | 1500.0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if rep.failed() {
		t.Fatal("report failed without a failed run")
	}
	rep.Results[3].Query.Runs[1].Err = errors.New("boom")
	if !rep.failed() || !strings.Contains(rep.markdown("B.md", "c"), "**FAILED** run 1 via HTTP") {
		t.Fatal("a failed P8 run is not reported")
	}
	dir := t.TempDir()
	files, err := writeCharts(rep, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"P6-index", "P6-produce", "P7", "P8"} {
		if len(files[id]) == 0 {
			t.Errorf("no chart for %s", id)
		}
		for _, f := range files[id] {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Dir(f) != dir {
				t.Errorf("chart %s: %v", f, err)
			}
		}
	}
}

// TestQuickRunSearch runs P6-produce and P7 in quick mode against the real
// example broker: with indexing on the index must catch up and reconcile,
// and P7 must find its samples.
func TestQuickRunSearch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example broker")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	var log strings.Builder
	code := run(context.Background(), []string{"-quick", "-only", "P6-produce,P7", "-out", out, "-charts", "none", "-tmp", dir}, &log)
	if code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| chronik, indexing on |", "| chronik, indexing off |", "### P7:", "after the last acknowledgement"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, want := range []string{"docs.count and term counts reconciled", "ack to searchable over"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

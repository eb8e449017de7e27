package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/blugelabs/bluge"
	"github.com/chronik-go/chronik/index"
)

// P6 (a): the index package's Bluge indexer against bluge's default
// Writer.Batch, fed the same 1 KiB JSON log documents in the same run.

// indexer names one side of the indexing-rate comparison.
type indexer string

const (
	indexerOurs  indexer = "chronik index.Bluge"
	indexerBluge indexer = "bluge default Batch"
)

// Batch sizes: ours is fed as the pipeline feeds it (index.PipelineOptions
// BatchDocs, 2048), bluge's default writer in batches of 1000.
const (
	ourBatchDocs   = 2048
	blugeBatchDocs = 1000
)

// indexRun is one indexing run of one side.
type indexRun struct {
	Side       indexer
	Run        int
	Err        error
	Docs       int
	Elapsed    time.Duration // first batch to the clock stop (see the workload notes)
	DocsPerSec float64
	CPUPerDoc  time.Duration // process CPU (user + system) per document
	DiskBytes  int64         // index directory size after the run
	Checked    int           // reconciliation queries that matched
}

// indexRateSpec is what one P6 (a) run indexes.
type indexRateSpec struct {
	Docs int // documents per run and side
}

// indexCheck is one reconciliation query: a term and the number of
// documents the generator put it in.
type indexCheck struct {
	Name   string
	Field  string // our field name; bluge's mapping uses the same names
	Value  any    // string, or float64 for numbers
	Expect int
}

// indexChecks returns the reconciliation queries for the first n
// documents of a pool: document count aside, a frequent keyword, a rare
// one, a tag (an array element), a number and one document by its id.
func indexChecks(t *docTally, n int) []indexCheck {
	uid := mostFrequent(t.User)
	return []indexCheck{
		{"level ERROR", "level.keyword", "ERROR", t.Level["ERROR"]},
		{"service checkout", "service.keyword", "checkout", t.Service["checkout"]},
		{"user " + uid, "user.id.keyword", uid, t.User[uid]},
		{"tag canary", "tags.keyword", "canary", t.Tag["canary"]},
		{"http.status 500", "http.status", float64(500), t.Status[500]},
		{"id of the middle document", "id.keyword", hexID(uint64(n / 2)), 1},
	}
}

// mostFrequent returns the key with the highest count (the smallest such
// key on ties, so the choice is deterministic).
func mostFrequent(m map[string]int) string {
	best, bestN := "", -1
	for k, v := range m {
		if v > bestN || (v == bestN && k < best) {
			best, bestN = k, v
		}
	}
	return best
}

// runIndexRate runs both sides o.runs times, alternating which goes first.
func (b *bench) runIndexRate(ctx context.Context, w workload) workloadResult {
	res := workloadResult{W: w}
	sp := b.indexRateSpec()
	pool := newLogDocPool(sp.Docs, 6)
	checks := indexChecks(pool.tally, sp.Docs)
	for i := range b.opts.runs {
		order := []indexer{indexerOurs, indexerBluge}
		if i%2 == 1 {
			order = []indexer{indexerBluge, indexerOurs}
		}
		for _, s := range order {
			if ctx.Err() != nil {
				return res
			}
			dir, err := os.MkdirTemp(b.base, "index-")
			if err != nil {
				res.Index = append(res.Index, indexRun{Side: s, Run: i + 1, Err: err})
				continue
			}
			var profile string
			if b.opts.profileDir != "" && i == 0 && s == indexerOurs {
				profile = filepath.Join(b.opts.profileDir, w.ID+".pprof")
			}
			var r indexRun
			if s == indexerOurs {
				r = indexWithOurs(ctx, dir, pool.docs, checks, profile)
			} else {
				r = indexWithBlugeDefault(ctx, dir, pool.docs, checks)
			}
			r.Side, r.Run = s, i+1
			os.RemoveAll(dir)
			if r.Err != nil {
				b.logf("%s run %d %s: FAILED: %v", w.ID, i+1, s, r.Err)
			} else {
				b.logf("%s run %d %-20s %8.0f docs/s  %6.0f CPU us/doc  %5.0f disk B/doc  %d docs, %d term queries reconciled",
					w.ID, i+1, s, r.DocsPerSec, float64(r.CPUPerDoc)/float64(time.Microsecond), float64(r.DiskBytes)/float64(r.Docs), r.Docs, r.Checked)
			}
			res.Index = append(res.Index, r)
		}
	}
	if m := medianOf(res.Index, indexerOurs); m > 0 {
		b.indexCapacity = m
	}
	return res
}

// indexRateSpec returns the P6 (a) budget, smaller in quick mode.
func (b *bench) indexRateSpec() indexRateSpec {
	if b.opts.quick {
		return indexRateSpec{Docs: 3000}
	}
	return indexRateSpec{Docs: 8192}
}

// medianOf returns the median docs/s of the successful runs of one side.
func medianOf(runs []indexRun, s indexer) float64 {
	var v []float64
	for _, r := range runs {
		if r.Side == s && r.Err == nil {
			v = append(v, r.DocsPerSec)
		}
	}
	return median(v)
}

// logDocTimestamp is the record timestamp given to document n.
func logDocTimestamp(n int) int64 {
	return docBase.Add(time.Duration(n) * 10 * time.Millisecond).UnixMilli()
}

// indexWithOurs indexes docs (document i at offset i of partition 0) with
// index.Bluge in Index batches of ourBatchDocs; the clock stops when
// everything is durable (Flush). It then reconciles the index.
func indexWithOurs(ctx context.Context, dir string, docs [][]byte, checks []indexCheck, profile string) (r indexRun) {
	ix, err := index.OpenBluge(dir, index.BlugeOptions{})
	if err != nil {
		r.Err = err
		return r
	}
	defer func() {
		if err := ix.Close(); err != nil && r.Err == nil {
			r.Err = err
		}
	}()
	const topic = "p6"
	batches := make([]*index.Batch, 0, len(docs)/ourBatchDocs+1)
	for i := 0; i < len(docs); i += ourBatchDocs {
		bt := &index.Batch{Topic: topic, Partition: 0}
		for j := i; j < min(i+ourBatchDocs, len(docs)); j++ {
			bt.Docs = append(bt.Docs, index.Document{Offset: int64(j), Timestamp: logDocTimestamp(j),
				Key: appendKey(nil, uint64(j)), Value: docs[j]})
		}
		bt.Next = int64(min(i+ourBatchDocs, len(docs)))
		batches = append(batches, bt)
	}
	stopProfile, err := startInProcessProfile(profile)
	if err != nil {
		r.Err = err
		return r
	}
	cpu0 := processCPU()
	start := time.Now()
	for _, bt := range batches {
		if err := ix.Index(ctx, bt); err != nil {
			stopProfile()
			r.Err = fmt.Errorf("index batch at offset %d: %w", bt.Docs[0].Offset, err)
			return r
		}
	}
	if err := ix.Flush(); err != nil {
		stopProfile()
		r.Err = err
		return r
	}
	r.Elapsed = time.Since(start)
	r.CPUPerDoc = (processCPU() - cpu0) / time.Duration(len(docs))
	if err := stopProfile(); err != nil {
		r.Err = err
		return r
	}
	r.Docs = len(docs)
	r.DocsPerSec = float64(len(docs)) / r.Elapsed.Seconds()
	r.DiskBytes = dirSize(dir)
	r.Checked, r.Err = reconcileOurIndex(ctx, ix, topic, len(docs), checks)
	return r
}

// reconcileOurIndex checks the document count of topic and the hit count
// of every check.
func reconcileOurIndex(ctx context.Context, ix *index.Bluge, topic string, docs int, checks []indexCheck) (int, error) {
	var p problems
	st, err := ix.Stats(topic)
	if err != nil {
		return 0, err
	}
	if st.Docs != int64(docs) {
		p.addf("index holds %d documents, %d were indexed", st.Docs, docs)
	}
	ok := 0
	for _, c := range checks {
		res, err := ix.Search(ctx, topic, &index.Request{Query: &index.TermQuery{Field: c.Field, Value: c.Value}})
		if err != nil {
			return ok, fmt.Errorf("query %s: %w", c.Name, err)
		}
		if res.Total != int64(c.Expect) {
			p.addf("term %s = %v: %d hits, the generator put it in %d documents", c.Field, c.Value, res.Total, c.Expect)
			continue
		}
		ok++
	}
	if len(p.list) > 0 {
		return ok, &IndexReconcileError{Index: "chronik index.Bluge", Problems: p.list, More: p.more}
	}
	return ok, nil
}

// IndexReconcileError says what an index holds that differs from what it
// was fed: its document count or the hit count of a term query.
type IndexReconcileError struct {
	Index    string // which index (side or topic)
	Problems []string
	More     int
}

func (e *IndexReconcileError) Error() string {
	s := fmt.Sprintf("reconciliation of %s failed: %s", e.Index, strings.Join(e.Problems, "; "))
	if e.More > 0 {
		s += fmt.Sprintf("; and %d more", e.More)
	}
	return s
}

// blugeDefaultDoc maps one record as a plain bluge user would: the value
// decoded by encoding/json into a map, every string a text field (bluge's
// default analyzer) plus a "<name>.keyword" keyword field, numbers numeric
// fields, booleans keywords, arrays one field per element, objects
// flattened to dotted names; the record's id, timestamp, offset and key as
// fields of their own. Library defaults throughout.
func blugeDefaultDoc(n int, value, key []byte, ts int64) *bluge.Document {
	doc := bluge.NewDocument("0-" + strconv.Itoa(n))
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		doc.AddField(bluge.NewTextField("_value", string(value)))
	} else {
		addJSONFields(doc, "", v)
	}
	doc.AddField(bluge.NewDateTimeField("_timestamp", time.UnixMilli(ts)))
	doc.AddField(bluge.NewNumericField("_offset", float64(n)))
	doc.AddField(bluge.NewKeywordFieldBytes("_key", key))
	return doc
}

// addJSONFields adds the fields of a decoded JSON value under name.
func addJSONFields(doc *bluge.Document, name string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if name != "" {
				k = name + "." + k
			}
			addJSONFields(doc, k, e)
		}
	case []any:
		for _, e := range x {
			addJSONFields(doc, name, e)
		}
	case string:
		doc.AddField(bluge.NewTextField(name, x))
		doc.AddField(bluge.NewKeywordField(name+".keyword", x))
	case float64:
		doc.AddField(bluge.NewNumericField(name, x))
	case bool:
		doc.AddField(bluge.NewKeywordField(name, strconv.FormatBool(x)))
	}
}

// indexWithBlugeDefault indexes docs with bluge.OpenWriter(DefaultConfig)
// in Writer.Batch calls of blugeBatchDocs; the clock stops when the last
// Batch returns (the documents are searchable; bluge persists them in the
// background, which the clock does not wait for). It then reconciles.
func indexWithBlugeDefault(ctx context.Context, dir string, docs [][]byte, checks []indexCheck) (r indexRun) {
	w, err := bluge.OpenWriter(bluge.DefaultConfig(dir))
	if err != nil {
		r.Err = fmt.Errorf("bluge: open writer: %w", err)
		return r
	}
	defer func() {
		if err := w.Close(); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("bluge: close writer: %w", err)
		}
	}()
	cpu0 := processCPU()
	start := time.Now()
	batch := bluge.NewBatch()
	for i, d := range docs {
		doc := blugeDefaultDoc(i, d, appendKey(nil, uint64(i)), logDocTimestamp(i))
		batch.Update(doc.ID(), doc)
		if (i+1)%blugeBatchDocs == 0 || i == len(docs)-1 {
			if err := w.Batch(batch); err != nil {
				r.Err = fmt.Errorf("bluge: batch ending at document %d: %w", i, err)
				return r
			}
			batch.Reset()
			if err := ctx.Err(); err != nil {
				r.Err = err
				return r
			}
		}
	}
	r.Elapsed = time.Since(start)
	r.CPUPerDoc = (processCPU() - cpu0) / time.Duration(len(docs))
	r.Docs = len(docs)
	r.DocsPerSec = float64(len(docs)) / r.Elapsed.Seconds()
	r.Checked, r.Err = reconcileBlugeIndex(ctx, w, len(docs), checks)
	r.DiskBytes = dirSize(dir)
	return r
}

// reconcileBlugeIndex checks the baseline index as reconcileOurIndex
// checks ours.
func reconcileBlugeIndex(ctx context.Context, w *bluge.Writer, docs int, checks []indexCheck) (int, error) {
	rd, err := w.Reader()
	if err != nil {
		return 0, fmt.Errorf("bluge: reader: %w", err)
	}
	defer rd.Close()
	var p problems
	n, err := rd.Count()
	if err != nil {
		return 0, fmt.Errorf("bluge: count: %w", err)
	}
	if n != uint64(docs) {
		p.addf("index holds %d documents, %d were indexed", n, docs)
	}
	ok := 0
	for _, c := range checks {
		var q bluge.Query
		switch v := c.Value.(type) {
		case float64:
			q = bluge.NewNumericRangeInclusiveQuery(v, v, true, true).SetField(c.Field)
		case string:
			q = bluge.NewTermQuery(v).SetField(c.Field)
		default:
			return ok, fmt.Errorf("query %s: unsupported value %T", c.Name, c.Value)
		}
		it, err := rd.Search(ctx, bluge.NewTopNSearch(0, q).WithStandardAggregations())
		if err != nil {
			return ok, fmt.Errorf("bluge: query %s: %w", c.Name, err)
		}
		for {
			m, err := it.Next()
			if err != nil {
				return ok, fmt.Errorf("bluge: query %s: %w", c.Name, err)
			}
			if m == nil {
				break
			}
		}
		if got := int(it.Aggregations().Count()); got != c.Expect {
			p.addf("term %s = %v: %d hits, the generator put it in %d documents", c.Field, c.Value, got, c.Expect)
			continue
		}
		ok++
	}
	if len(p.list) > 0 {
		return ok, &IndexReconcileError{Index: "bluge default index", Problems: p.list, More: p.more}
	}
	return ok, nil
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dirSize sums the sizes of the regular files under dir (0 on errors).
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

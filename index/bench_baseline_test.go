package index

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/blugelabs/bluge"
)

// blugeDefaultDocument maps one record the way a plain bluge user would:
// encoding/json into a map, every string a default text field plus a
// keyword field, numbers default numeric fields, library defaults
// throughout (no term positions, _id stored and sortable).
func blugeDefaultDocument(id string, value, key []byte, ts int64, offset int64) *bluge.Document {
	doc := bluge.NewDocument(id)
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		doc.AddField(bluge.NewTextField("_value", string(value)))
	} else {
		addAny(doc, "", v)
	}
	doc.AddField(bluge.NewDateTimeField("_timestamp", time.UnixMilli(ts)))
	doc.AddField(bluge.NewNumericField("_offset", float64(offset)))
	doc.AddField(bluge.NewKeywordField("_key", string(key)))
	return doc
}

func addAny(doc *bluge.Document, name string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n := k
			if name != "" {
				n = name + "." + k
			}
			addAny(doc, n, e)
		}
	case []any:
		for _, e := range x {
			addAny(doc, name, e)
		}
	case string:
		doc.AddField(bluge.NewTextField(name, x))
		if len(x) <= 256 {
			doc.AddField(bluge.NewKeywordField(name+".keyword", x))
		}
	case float64:
		doc.AddField(bluge.NewNumericField(name, x))
	case bool:
		doc.AddField(bluge.NewKeywordField(name, strconv.FormatBool(x)))
	}
}

func blugeCount(t testing.TB, r *bluge.Reader, q bluge.Query) int {
	t.Helper()
	req := bluge.NewTopNSearch(0, q).WithStandardAggregations()
	it, err := r.Search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return int(it.Aggregations().Count())
}

// BenchmarkBlugeDefaultBatch indexes the corpus with bluge's defaults:
// one index, Writer.Batch of 1000 documents.
func BenchmarkBlugeDefaultBatch(b *testing.B) {
	c := benchCorpus()
	for b.Loop() {
		dir := b.TempDir()
		w, err := bluge.OpenWriter(bluge.DefaultConfig(dir))
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU()
		start := time.Now()
		batch := bluge.NewBatch()
		inBatch := 0
		for i, d := range c.docs {
			doc := blugeDefaultDocument("0-"+strconv.Itoa(i), d, c.keys[i], c.ts[i], int64(i))
			batch.Update(doc.ID(), doc)
			inBatch++
			if inBatch == 1000 || i == len(c.docs)-1 {
				inBatch = 0
				if err := w.Batch(batch); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
		el := time.Since(start)
		b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(len(c.docs)), "cpu-us/doc")
		r, err := w.Reader()
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := r.Count(); int(n) != len(c.docs) {
			b.Fatalf("indexed %d documents, want %d", n, len(c.docs))
		}
		if n := blugeCount(b, r, bluge.NewTermQuery("ERROR").SetField("level.keyword")); n != c.counts.levelError {
			b.Fatalf("level ERROR: %d hits, want %d", n, c.counts.levelError)
		}
		if n := blugeCount(b, r, bluge.NewMatchQuery(genWord).SetField("message")); n != c.counts.msgWord {
			b.Fatalf("message %s: %d hits, want %d", genWord, n, c.counts.msgWord)
		}
		r.Close()
		w.Close()
		b.ReportMetric(float64(len(c.docs))/el.Seconds(), "docs/s")
		b.ReportMetric(float64(dirSize(b, dir))/float64(len(c.docs)), "disk-B/doc")
	}
}

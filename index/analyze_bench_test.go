package index

import "testing"

// BenchmarkAnalyze maps and analyses corpus documents (the per-record
// work before segment building) and checks the term counts are stable.
func BenchmarkAnalyze(b *testing.B) {
	c := benchCorpus()
	docs := corpusBatches(c, "t", 1, 1024)[0][0].Docs
	want := -1
	for b.Loop() {
		n := 0
		for i := range docs {
			d := newBdoc(&docs[i], nil)
			d.Analyze()
			n += len(d.terms)
			d.release()
		}
		if want >= 0 && n != want {
			b.Fatalf("%d terms, previously %d", n, want)
		}
		want = n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/doc")
}

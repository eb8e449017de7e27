package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report rows and sections of the search workloads (P6-P8).

// verdictMax compares a measured duration with a maximum: met or missed,
// with the ratio to the limit.
func verdictMax(got, limit time.Duration, what string) string {
	ratio := float64(got) / float64(limit)
	if got <= limit {
		return fmt.Sprintf("met (%s %s = %.2fx the %s limit)", what, fmtDur(got), ratio, fmtDur(limit))
	}
	return fmt.Sprintf("**missed**: %s %s = %.2fx the %s limit", what, fmtDur(got), ratio, fmtDur(limit))
}

// fmtDur formats a latency in ms with a precision that suits its size.
func fmtDur(d time.Duration) string {
	switch v := ms(d); {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.2f s", v/1000)
	}
}

// indexSideStats summarises the successful P6-index runs of one side.
type indexSideStats struct {
	N, Failed int
	Rate, CPU []float64 // docs/s, CPU µs per document
	Disk      []float64 // bytes per document
	Docs      int       // documents reconciled, over all runs
	Checked   int       // term queries that matched, over all runs
}

func indexStatsOf(runs []indexRun, s indexer) indexSideStats {
	var st indexSideStats
	for _, r := range runs {
		if r.Side != s {
			continue
		}
		if r.Err != nil {
			st.Failed++
			continue
		}
		st.N++
		st.Rate = append(st.Rate, r.DocsPerSec)
		st.CPU = append(st.CPU, float64(r.CPUPerDoc)/float64(time.Microsecond))
		st.Disk = append(st.Disk, float64(r.DiskBytes)/float64(r.Docs))
		st.Docs += r.Docs
		st.Checked += r.Checked
	}
	return st
}

// indexRateFailed reports whether any P6-index run failed.
func indexRateFailed(runs []indexRun) bool {
	return slices.ContainsFunc(runs, func(r indexRun) bool { return r.Err != nil })
}

// freshFailed reports whether any P7 run failed.
func freshFailed(runs []freshRun) bool {
	return slices.ContainsFunc(runs, func(r freshRun) bool { return r.Err != nil })
}

// queryFailed reports whether P8 failed.
func queryFailed(q *queryResult) bool {
	return q != nil && slices.ContainsFunc(q.Runs, func(r queryRun) bool { return r.Err != nil })
}

// freshStats returns the per-run p50, p99 and max (ms) and the rates of
// the successful P7 runs.
func freshStats(runs []freshRun) (p50, p99, worst, rate []float64, samples int) {
	for i := range runs {
		r := &runs[i]
		if r.Err != nil || len(r.Samples) == 0 {
			continue
		}
		p50 = append(p50, ms(r.quantile(0.5)))
		p99 = append(p99, ms(r.quantile(0.99)))
		worst = append(worst, ms(r.Samples[len(r.Samples)-1]))
		rate = append(rate, r.RecordsPerSec)
		samples += len(r.Samples)
	}
	return
}

// queryStats returns the per-run p50 and p99 (ms) of one path, over all
// queries or (kind != "") one kind.
func queryStats(q *queryResult, path queryPath, kind queryKind) (p50, p99, worst []float64, n int) {
	if q == nil {
		return
	}
	for _, r := range q.Runs {
		if r.Path != path || r.Err != nil {
			continue
		}
		h := r.Lat
		if kind != "" {
			h = r.ByKind[kind]
		}
		p50 = append(p50, ms(h.quantile(0.5)))
		p99 = append(p99, ms(h.quantile(0.99)))
		worst = append(worst, ms(h.max))
		n += int(h.total)
	}
	return
}

// searchSummaryRow writes the summary rows of a search workload; false
// for other kinds (and P6-produce, which the side-by-side row serves).
func (r *report) searchSummaryRow(b *strings.Builder, res *workloadResult) bool {
	w := res.W
	row := func(cells ...string) { fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | ")) }
	switch w.Kind {
	case kindIndexRate:
		o, p := indexStatsOf(res.Index, indexerOurs), indexStatsOf(res.Index, indexerBluge)
		ratio := 0.0
		if len(o.Rate) > 0 && len(p.Rate) > 0 {
			ratio = median(o.Rate) / median(p.Rate)
		}
		ver, ratioCell := "-", "-"
		if ratio > 0 {
			ver, ratioCell = verdict(ratio, w.GoalRatio, "x"), fmt.Sprintf("**%.2fx**", ratio)
		}
		if indexRateFailed(res.Index) {
			ver = "**FAILED** (see below)"
		}
		row(w.Target, w.Title, fmt.Sprintf("%s docs/s, %s CPU µs/doc", medSpan(o.Rate, "%.0f"), medSpan(o.CPU, "%.0f")),
			fmt.Sprintf("%s docs/s, %s CPU µs/doc (%s)", medSpan(p.Rate, "%.0f"), medSpan(p.CPU, "%.0f"), indexerBluge),
			ratioCell, w.Goal, ver, "-")
	case kindFreshness:
		p50, p99, worst, rate, samples := freshStats(res.Fresh)
		ver := "-"
		if len(p99) > 0 {
			ver = verdictMax(time.Duration(median(p99)*float64(time.Millisecond)), freshLimit, "p99")
		}
		if freshFailed(res.Fresh) {
			ver = "**FAILED** (see below)"
		}
		row(w.Target, w.Title, fmt.Sprintf("p50 %s ms, p99 %s ms, max %s ms at %s rec/s (%d samples)",
			medSpan(p50, "%.0f"), medSpan(p99, "%.0f"), medSpan(worst, "%.0f"), medSpan(rate, "%.0f"), samples),
			"n/a", "-", w.Goal, ver, "-")
	case kindQuery:
		for _, path := range []queryPath{viaIndexer, viaHTTP} {
			p50, p99, _, n := queryStats(res.Query, path, "")
			goal, ver := w.Goal, "-"
			title := fmt.Sprintf("%s: %s", w.Title, path)
			if path == viaHTTP {
				goal = "informational: the same through the search API"
			} else if len(p50) > 0 {
				ver = verdictMax(time.Duration(median(p50)*float64(time.Millisecond)), 2*time.Millisecond, "p50")
			}
			if queryFailed(res.Query) {
				ver = "**FAILED** (see below)"
			}
			row(w.Target, title, fmt.Sprintf("p50 %s ms, p99 %s ms (%d queries)", medSpan(p50, "%.2f"), medSpan(p99, "%.2f"), n),
				"n/a", "-", goal, ver, "-")
		}
	default:
		return false
	}
	return true
}

// searchSection writes the detail of a search workload (before its chart
// links); false for other kinds.
func (r *report) searchSection(b *strings.Builder, res *workloadResult) bool {
	switch res.W.Kind {
	case kindIndexRate:
		r.indexRateSection(b, res)
	case kindFreshness:
		r.freshSection(b, res)
	case kindQuery:
		r.querySection(b, res)
	default:
		return false
	}
	return true
}

func (r *report) indexRateSection(b *strings.Builder, res *workloadResult) {
	docs := 0
	for _, x := range res.Index {
		docs = max(docs, x.Docs)
	}
	fmt.Fprintf(b, "Budget per run: %d documents (%.1f MB of values) per indexer, the two alternately, which goes first alternating.\n\n", docs, float64(docs*logDocSize)/1e6)
	b.WriteString("| indexer | docs/s | MB/s of values | CPU µs/doc | disk B/doc | runs ok | documents reconciled | term queries matched |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range []indexer{indexerOurs, indexerBluge} {
		st := indexStatsOf(res.Index, s)
		mb := make([]float64, len(st.Rate))
		for i, v := range st.Rate {
			mb[i] = v * logDocSize / 1e6
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d of %d | %d | %d |\n", s, medSpan(st.Rate, "%.0f"), medSpan(mb, "%.1f"),
			medSpan(st.CPU, "%.0f"), medSpan(st.Disk, "%.0f"), st.N, st.N+st.Failed, st.Docs, st.Checked)
	}
	o, p := indexStatsOf(res.Index, indexerOurs), indexStatsOf(res.Index, indexerBluge)
	if len(o.CPU) > 0 && len(p.CPU) > 0 {
		fmt.Fprintf(b, "\nCPU per document, bluge default / ours: %.2fx (process CPU, user + system, over the timed phase).\n", median(p.CPU)/median(o.CPU))
	}
	b.WriteString("\n")
	for _, x := range res.Index {
		if x.Err != nil {
			fmt.Fprintf(b, "- **FAILED** run %d of %s: %s\n", x.Run, x.Side, strings.ReplaceAll(firstLine(x.Err.Error()), "|", "/"))
		}
	}
}

// indexOnOffNotes adds P6-produce's indexing figures under its table.
func (r *report) indexOnOffNotes(b *strings.Builder, res *workloadResult) {
	var catch, rate []float64
	for _, x := range res.of(indexOn) {
		if x.Err == nil {
			catch = append(catch, x.IndexCatchUp.Seconds())
			rate = append(rate, x.IndexRate)
		}
	}
	if len(catch) == 0 {
		return
	}
	fmt.Fprintf(b, "With indexing on, the index held every produced record (docs.count, and the term counts of level ERROR and service checkout through /_count) %s s after the last acknowledgement; "+
		"the broker indexed %s docs/s from the first produce call to that moment (its indexing rate when backlogged, sharing the 2 cores with the producer while it ran). Medians [min-max] of the runs.\n\n",
		medSpan(catch, "%.1f"), medSpan(rate, "%.0f"))
}

func (r *report) freshSection(b *strings.Builder, res *workloadResult) {
	w := res.W
	sp := w.Spec
	if r.Opts.quick {
		sp = quickSpec(sp)
	}
	fmt.Fprintf(b, "Offered load: %s. Budget per run: %v paced; %d client(s), acks=1; %d B JSON values with unique ids; %d partition(s); "+
		"one search every %v for the ids of all samples not found yet; the latency is from the promise of the record's acknowledgement to the answer of the search that found it.\n\n",
		orDash(res.FreshBasis), sp.MaxDuration, sp.Clients, logDocSize, sp.Partitions, freshPollEvery)
	b.WriteString("| run | offered rec/s | acknowledged rec/s | samples | p50 ms | p99 ms | max ms | searches | records reconciled | result |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var all []time.Duration
	for i := range res.Fresh {
		x := &res.Fresh[i]
		result := "ok"
		if x.Err != nil {
			result = "**FAILED**: " + strings.ReplaceAll(firstLine(x.Err.Error()), "|", "/")
		}
		worst := time.Duration(0)
		if len(x.Samples) > 0 {
			worst = x.Samples[len(x.Samples)-1]
		}
		fmt.Fprintf(b, "| %d | %.0f | %.0f | %d | %.1f | %.1f | %.1f | %d | %d | %s |\n", x.Run, x.Offered, x.RecordsPerSec,
			len(x.Samples), ms(x.quantile(0.5)), ms(x.quantile(0.99)), ms(worst), x.Searches, x.Reconciled, result)
		if x.Err == nil {
			all = append(all, x.Samples...)
		}
	}
	if len(all) > 0 {
		slices.Sort(all)
		pooled := freshRun{Samples: all}
		fmt.Fprintf(b, "\nAll %d samples of the successful runs together: p50 %.1f ms, p99 %.1f ms, max %.1f ms.\n",
			len(all), ms(pooled.quantile(0.5)), ms(pooled.quantile(0.99)), ms(all[len(all)-1]))
	}
	b.WriteString("\n")
}

func (r *report) querySection(b *strings.Builder, res *workloadResult) {
	q := res.Query
	if q == nil {
		return
	}
	switch {
	case q.Built:
		fmt.Fprintf(b, "Index: %s documents, built in %.1f s (%.0f docs/s), %.0f MiB on disk.",
			formatCount(q.Docs), q.BuildTime.Seconds(), float64(q.Docs)/q.BuildTime.Seconds(), mib(q.DiskBytes))
	default:
		fmt.Fprintf(b, "Index: %s documents, kept from an earlier invocation (-p8-index), %.0f MiB on disk.", formatCount(q.Docs), mib(q.DiskBytes))
	}
	queries := 0
	for _, x := range q.Runs {
		queries = max(queries, x.Queries)
	}
	settled := "settled"
	if !q.Settled {
		settled = "still changing when the wait gave up"
	}
	fmt.Fprintf(b, " The queries started %.1f s later, when bluge's background merges had left the segment files unchanged for %v (%d segment files, %s), after %d warm-up queries. %d queries per run and path, the two paths alternately.\n\n",
		q.Settle.Seconds(), settleQuiet, q.Segments, settled, queryWarmUp, queries)
	b.WriteString("| path | query | queries | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, path := range []queryPath{viaIndexer, viaHTTP} {
		for _, k := range append([]queryKind{""}, queryKinds...) {
			p50, p99, worst, n := queryStats(q, path, k)
			name := string(k)
			if k == "" {
				name = "**all**"
			}
			fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s |\n", path, name, n, medSpan(p50, "%.2f"), medSpan(p99, "%.2f"), medSpan(worst, "%.1f"))
		}
	}
	b.WriteString("\n")
	for _, x := range q.Runs {
		if x.Err != nil {
			fmt.Fprintf(b, "- **FAILED** run %d via %s: %s\n", x.Run, x.Path, strings.ReplaceAll(firstLine(x.Err.Error()), "|", "/"))
		}
	}
}

// formatCount formats an integer with thousands separators.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

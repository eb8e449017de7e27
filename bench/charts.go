package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeCharts draws, per measured workload, its throughput (median bars,
// every run as a dot) and latency (median p50 and p99 bars) for both
// brokers, and for the overload workload the broker's RSS over time. It
// returns the files by workload id.
func writeCharts(r *report, dir string) (map[string][]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	out := map[string][]string{}
	for i := range r.Results {
		res := &r.Results[i]
		if res.Skipped != "" || (len(res.Runs) == 0 && len(res.Index) == 0 && len(res.Fresh) == 0 && res.Query == nil) {
			continue
		}
		var files []string
		var err error
		switch res.W.Kind {
		case kindSideBySide, kindIndexOnOff:
			files, err = sideBySideCharts(res, dir)
		case kindIndexRate, kindFreshness, kindQuery:
			files, err = searchCharts(res, dir)
		case kindOverload:
			files, err = overloadChart(res, dir)
		}
		if err != nil {
			return nil, fmt.Errorf("charts: %s: %w", res.W.ID, err)
		}
		out[res.W.ID] = files
	}
	return out, nil
}

// sideBySideCharts draws the throughput and latency charts of one workload.
func sideBySideCharts(res *workloadResult, dir string) ([]string, error) {
	w := res.W
	a, bSide, _, _ := pairOf(w)
	names := []string{"chronik", w.Peer.String()}
	if w.Kind == kindIndexOnOff {
		names = []string{"chronik, " + string(indexOn), "chronik, " + string(indexOff)}
	}
	sides := []side{a, bSide}

	tp := plot.New()
	tp.Title.Text = fmt.Sprintf("%s throughput: %s", w.ID, w.Title)
	tp.Y.Label.Text = "MB/s (key + value)"
	tp.Y.Min = 0
	med := make(plotter.Values, 2)
	var dots plotter.XYs
	for i, s := range sides {
		st := statsOf(res.of(s))
		med[i] = finite(median(st.MB))
		for _, v := range st.MB {
			dots = append(dots, plotter.XY{X: float64(i), Y: v})
		}
	}
	bars, err := plotter.NewBarChart(med, vg.Points(40))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	tp.Add(bars)
	if len(dots) > 0 {
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		tp.Add(sc)
		tp.Legend.Add("each run", sc)
	}
	tp.Legend.Add("median", bars)
	tp.Y.Max = headroom(append(slices.Clone([]float64(med)), yOf(dots)...))
	tp.Legend.Top = true
	tp.NominalX(names...)
	tpFile := filepath.Join(dir, w.ID+"-throughput.png")
	if err := tp.Save(5*vg.Inch, 3.5*vg.Inch, tpFile); err != nil {
		return nil, err
	}

	lp := plot.New()
	lp.Title.Text = fmt.Sprintf("%s produce latency (median of runs)", w.ID)
	lp.Y.Label.Text = "ms, Produce call to promise"
	lp.Y.Min = 0
	p50, p99 := make(plotter.Values, 2), make(plotter.Values, 2)
	for i, s := range sides {
		st := statsOf(res.of(s))
		p50[i], p99[i] = finite(median(st.P50)), finite(median(st.P99))
	}
	b50, err := plotter.NewBarChart(p50, vg.Points(25))
	if err != nil {
		return nil, err
	}
	b50.Color = plotutil.Color(1)
	b50.Offset = -vg.Points(13)
	b99, err := plotter.NewBarChart(p99, vg.Points(25))
	if err != nil {
		return nil, err
	}
	b99.Color = plotutil.Color(2)
	b99.Offset = vg.Points(13)
	lp.Add(b50, b99)
	lp.Legend.Add("p50", b50)
	lp.Legend.Add("p99", b99)
	lp.Y.Max = headroom(append(slices.Clone([]float64(p50)), p99...))
	lp.Legend.Top = true
	lp.NominalX(names...)
	lpFile := filepath.Join(dir, w.ID+"-latency.png")
	if err := lp.Save(5*vg.Inch, 3.5*vg.Inch, lpFile); err != nil {
		return nil, err
	}
	return []string{tpFile, lpFile}, nil
}

// overloadChart draws the broker's sampled RSS of every overload run and
// the RSS limit.
func overloadChart(res *workloadResult, dir string) ([]string, error) {
	w := res.W
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s broker RSS under 2x overload", w.ID)
	p.X.Label.Text = "seconds since the overload started"
	p.Y.Label.Text = "RSS MiB"
	p.Y.Min = 0
	var end float64
	for i, x := range res.Runs {
		if len(x.RSS) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(x.RSS))
		for j, s := range x.RSS {
			pts[j] = plotter.XY{X: s.At.Seconds(), Y: mib(s.RSS)}
		}
		end = max(end, pts[len(pts)-1].X)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("run %d", x.Run), l)
	}
	limit := mib(bufferMemory(w.Broker) + overloadHeadroom)
	ll, err := plotter.NewLine(plotter.XYs{{X: 0, Y: limit}, {X: max(end, 1), Y: limit}})
	if err != nil {
		return nil, err
	}
	ll.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(ll)
	p.Legend.Add("buffer memory + 128 MiB", ll)
	p.Legend.Top = true
	p.Legend.Left = true
	var ys []float64
	for _, x := range res.Runs {
		for _, s := range x.RSS {
			ys = append(ys, mib(s.RSS))
		}
	}
	p.Y.Max = headroom(append(ys, limit))
	file := filepath.Join(dir, w.ID+"-rss.png")
	if err := p.Save(6*vg.Inch, 3.5*vg.Inch, file); err != nil {
		return nil, err
	}
	return []string{file}, nil
}

// headroom returns an axis maximum that leaves the top quarter of the plot
// free for the legend.
func headroom(v []float64) float64 {
	m := 1.0
	for _, x := range v {
		m = max(m, x)
	}
	return m * 1.35
}

// yOf returns the Y values of pts.
func yOf(pts plotter.XYs) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.Y
	}
	return out
}

package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Charts of the search workloads (P6-index, P7, P8).

// searchCharts draws the chart of one search workload.
func searchCharts(res *workloadResult, dir string) ([]string, error) {
	switch res.W.Kind {
	case kindIndexRate:
		return indexRateChart(res, dir)
	case kindFreshness:
		return freshChart(res, dir)
	case kindQuery:
		return queryChart(res, dir)
	}
	return nil, nil
}

// indexRateChart draws docs/s of both indexers: median bars, every run as
// a dot.
func indexRateChart(res *workloadResult, dir string) ([]string, error) {
	w := res.W
	sides := []indexer{indexerOurs, indexerBluge}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: 1 KiB JSON documents indexed per second", w.ID)
	p.Y.Label.Text = "documents/s"
	p.Y.Min = 0
	med := make(plotter.Values, len(sides))
	var dots plotter.XYs
	for i, s := range sides {
		st := indexStatsOf(res.Index, s)
		med[i] = finite(median(st.Rate))
		for _, v := range st.Rate {
			dots = append(dots, plotter.XY{X: float64(i), Y: v})
		}
	}
	bars, err := plotter.NewBarChart(med, vg.Points(40))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.Legend.Add("median", bars)
	if len(dots) > 0 {
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		p.Add(sc)
		p.Legend.Add("each run", sc)
	}
	p.Y.Max = headroom(append(slices.Clone([]float64(med)), yOf(dots)...))
	p.Legend.Top = true
	p.NominalX(string(indexerOurs), string(indexerBluge))
	file := filepath.Join(dir, w.ID+"-rate.png")
	if err := p.Save(5*vg.Inch, 3.5*vg.Inch, file); err != nil {
		return nil, err
	}
	return []string{file}, nil
}

// freshChart draws, per run, the distribution of ack-to-searchable
// latencies (the fraction of samples at or below each latency) and the
// 1 s limit when it is within the plotted range.
func freshChart(res *workloadResult, dir string) ([]string, error) {
	w := res.W
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: acknowledgement to searchable", w.ID)
	p.X.Label.Text = "ms"
	p.Y.Label.Text = "fraction of samples"
	p.Y.Min, p.Y.Max = 0, 1.05
	var end float64
	for i, x := range res.Fresh {
		if len(x.Samples) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(x.Samples))
		for j, d := range x.Samples {
			pts[j] = plotter.XY{X: ms(d), Y: float64(j+1) / float64(len(x.Samples))}
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
	limit := ms(freshLimit)
	if end >= limit/2 {
		ll, err := plotter.NewLine(plotter.XYs{{X: limit, Y: 0}, {X: limit, Y: 1}})
		if err != nil {
			return nil, err
		}
		ll.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(ll)
		p.Legend.Add("1 s limit (p99)", ll)
	}
	p.X.Min = 0
	p.Legend.Top = false
	p.Legend.Left = false
	file := filepath.Join(dir, w.ID+"-freshness.png")
	if err := p.Save(6*vg.Inch, 3.5*vg.Inch, file); err != nil {
		return nil, err
	}
	return []string{file}, nil
}

// queryChartFloor is the bottom of the P8 chart's log scale, ms.
const queryChartFloor = 0.01

// queryChart draws, per query kind, the median p50 and p99 of both paths
// as points on a log scale (p50 and p99 differ by orders of magnitude).
func queryChart(res *workloadResult, dir string) ([]string, error) {
	w := res.W
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: term query latency (median of runs)", w.ID)
	p.Y.Label.Text = "ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	type series struct {
		path  queryPath
		p99   bool
		name  string
		shape draw.GlyphDrawer
	}
	all := []series{
		{viaIndexer, false, "Search p50", draw.CircleGlyph{}},
		{viaIndexer, true, "Search p99", draw.BoxGlyph{}},
		{viaHTTP, false, "HTTP p50", draw.RingGlyph{}},
		{viaHTTP, true, "HTTP p99", draw.SquareGlyph{}},
	}
	ys := []float64{queryChartFloor}
	for i, s := range all {
		pts := make(plotter.XYs, len(queryKinds))
		for k, kind := range queryKinds {
			p50, p99, _, _ := queryStats(res.Query, s.path, kind)
			v := p50
			if s.p99 {
				v = p99
			}
			pts[k] = plotter.XY{X: float64(k) + 0.12*(float64(i)-1.5), Y: max(finite(median(v)), queryChartFloor)}
			ys = append(ys, pts[k].Y)
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape = s.shape
		sc.GlyphStyle.Radius = vg.Points(4)
		sc.GlyphStyle.Color = plotutil.Color(i)
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	p.Y.Min = queryChartFloor
	p.Y.Max = slices.Max(ys) * 20 // room for the legend on a log scale
	p.X.Min, p.X.Max = -0.5, float64(len(queryKinds))-0.5
	p.Legend.Top = true
	names := make([]string, len(queryKinds))
	for i, k := range queryKinds {
		names[i] = string(k)
	}
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	file := filepath.Join(dir, w.ID+"-latency.png")
	if err := p.Save(7*vg.Inch, 3.5*vg.Inch, file); err != nil {
		return nil, err
	}
	return []string{file}, nil
}

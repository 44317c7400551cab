package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// FrontSeries is one method's front in a front figure: points of two task
// scores (higher is better in both).
type FrontSeries struct {
	Name   string
	Points [][2]float64
	Look   Look
}

// FrontOptions are a front figure's context: the true front, drawn as a
// thin grey line, and floors, drawn as dotted lines.
type FrontOptions struct {
	// Truth is a sample of the true front, if known, in any order.
	Truth [][2]float64
	// XFloor and YFloor are floors on the two tasks (NaN: none).
	XFloor, YFloor float64
}

// Front writes a front figure; see NewFront.
func Front(path, title, xlabel, ylabel string, series []FrontSeries, o FrontOptions) error {
	if _, err := format(path); err != nil {
		return err
	}
	f, err := NewFront(title, xlabel, ylabel, series, o)
	if err != nil {
		return err
	}
	return f.Save(path)
}

// NewFront builds a figure of two-task fronts: every series' points as
// dots joined by the staircase of the region they dominate (the
// attainment boundary of the set, for scores to maximise), in the
// series' fixed style, over the true front in grey. The legend lists the
// series in the order given.
func NewFront(title, xlabel, ylabel string, series []FrontSeries, o FrontOptions) (*Figure, error) {
	if len(series) == 0 {
		return nil, errNoSeries
	}
	names := make([]string, len(series))
	for i, s := range series {
		names[i] = s.Name
		for _, p := range s.Points {
			if !finite(p[0]) || !finite(p[1]) {
				return nil, fmt.Errorf("plots: series %q has a non-finite point %v", s.Name, p)
			}
		}
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	p := newPlot(title, xlabel, ylabel)
	p.Add(plotter.NewGrid())
	fig := &Figure{plot: p}
	if len(o.Truth) > 1 {
		t := slices.Clone(o.Truth)
		slices.SortFunc(t, func(a, b [2]float64) int {
			switch {
			case a[0] < b[0]:
				return -1
			case a[0] > b[0]:
				return 1
			}
			return 0
		})
		xys := make(plotter.XYs, len(t))
		for i, q := range t {
			xys[i] = plotter.XY{X: q[0], Y: q[1]}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.LineStyle = draw.LineStyle{Color: mutedColor, Width: 3}
		p.Add(line)
	}
	for i, s := range series {
		if len(s.Points) == 0 {
			fig.legend = append(fig.legend, legendItem{name: s.Name, style: s.Look.style(i), muted: s.Look.Muted})
			continue
		}
		sty := s.Look.style(i)
		pts := slices.Clone(s.Points)
		// Highest first score first: the staircase descends to the right
		// when read from the left.
		slices.SortFunc(pts, func(a, b [2]float64) int {
			switch {
			case a[0] < b[0]:
				return -1
			case a[0] > b[0]:
				return 1
			case a[1] > b[1]:
				return -1
			case a[1] < b[1]:
				return 1
			}
			return 0
		})
		dots := make(plotter.XYs, len(pts))
		for k, q := range pts {
			dots[k] = plotter.XY{X: q[0], Y: q[1]}
		}
		line, err := plotter.NewLine(stairOf(pts))
		if err != nil {
			return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
		}
		line.LineStyle = lineStyle(sty, s.Look.Muted)
		line.LineStyle.Width = 1.2
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		fig.addSeries(s.Name, line, sc)
		fig.legend = append(fig.legend, legendItem{name: s.Name, style: sty, muted: s.Look.Muted})
	}
	floor := draw.LineStyle{Color: color.NRGBA{0x60, 0x60, 0x60, 0xFF}, Width: 1, Dashes: []vg.Length{vg.Points(1.5), vg.Points(2)}}
	if finite(o.XFloor) {
		if l, err := plotter.NewLine(plotter.XYs{{X: o.XFloor, Y: p.Y.Min}, {X: o.XFloor, Y: p.Y.Max}}); err == nil {
			l.LineStyle = floor
			p.Add(l)
		}
	}
	if finite(o.YFloor) {
		if l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: o.YFloor}, {X: p.X.Max, Y: o.YFloor}}); err == nil {
			l.LineStyle = floor
			p.Add(l)
		}
	}
	return fig, nil
}

// stairOf is the attainment boundary of pts (sorted by the first score,
// ascending): from the best second score's point, down a step at each
// point, so that the area below and left of it is what the set dominates.
func stairOf(pts [][2]float64) plotter.XYs {
	var out plotter.XYs
	best := math.Inf(-1)
	// From the right: a point counts only if its second score beats all
	// points further right.
	var keep [][2]float64
	for k := len(pts) - 1; k >= 0; k-- {
		if pts[k][1] > best {
			keep = append(keep, pts[k])
			best = pts[k][1]
		}
	}
	slices.Reverse(keep) // ascending first score, descending second
	for k, q := range keep {
		if k > 0 {
			out = append(out, plotter.XY{X: keep[k-1][0], Y: q[1]})
		}
		out = append(out, plotter.XY{X: q[0], Y: q[1]})
	}
	return out
}

package plots

import (
	"cmp"
	"fmt"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
)

// TunePoint is one setting of a hyperparameter: its value X, the centre Y
// of the score it achieved (e.g. the median over seeds) and an interval
// [Lo, Hi] around it (e.g. the interquartile range or a confidence
// interval). Lo <= Y <= Hi, all finite.
type TunePoint struct {
	X, Y, Lo, Hi float64
}

// Tune writes a score-against-hyperparameter figure: the centres joined by
// a line, with an error bar per setting, so a tuning sweep shows both the
// trend and whether neighbouring settings are really distinguishable.
// Points may be given in any order; X values must be distinct.
func Tune(path, title, xlabel string, points ...TunePoint) error {
	if _, err := format(path); err != nil {
		return err
	}
	if len(points) == 0 {
		return fmt.Errorf("plots: no tuning points")
	}
	pts := slices.Clone(points)
	slices.SortFunc(pts, func(a, b TunePoint) int { return cmp.Compare(a.X, b.X) })
	for i, q := range pts {
		switch {
		case !finite(q.X) || !finite(q.Y) || !finite(q.Lo) || !finite(q.Hi):
			return fmt.Errorf("plots: tuning point %+v: non-finite value", q)
		case !(q.Lo <= q.Y && q.Y <= q.Hi):
			return fmt.Errorf("plots: tuning point %+v: want Lo <= Y <= Hi", q)
		case i > 0 && q.X == pts[i-1].X:
			return fmt.Errorf("plots: two tuning points at X = %v", q.X)
		}
	}

	p := newPlot(title, xlabel, "score")
	p.Add(plotter.NewGrid())
	xys := make(plotter.XYs, len(pts))
	errs := make(plotter.YErrors, len(pts))
	for i, q := range pts {
		xys[i] = plotter.XY{X: q.X, Y: q.Y}
		errs[i] = struct{ Low, High float64 }{q.Y - q.Lo, q.Hi - q.Y}
	}
	line, scatter, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	c := StyleAt(0).Color
	line.LineStyle = draw.LineStyle{Color: c, Width: 1.5}
	scatter.GlyphStyle.Color = c
	scatter.GlyphStyle.Shape = draw.CircleGlyph{}
	bars, err := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{xys, errs})
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	bars.LineStyle.Color = c
	p.Add(bars, line, scatter)
	return (&Figure{plot: p}).Save(path)
}

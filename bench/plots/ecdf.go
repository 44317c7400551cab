package plots

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot/plotter"
)

// ECDFSeries is one algorithm's runtimes over a ladder of targets:
// Runtimes holds the evaluations-to-target of every (run, target) pair,
// +Inf where the run never reached that target. Finite runtimes must be
// >= 1 (the axis is logarithmic). The curve's height at x is the fraction
// of all pairs — failures included — solved within x evaluations, so a
// curve that ends below 1 shows the share of targets never reached.
type ECDFSeries struct {
	Name     string
	Runtimes []float64
	Look     Look
}

// ECDFFromTraces computes an ECDFSeries from runs: traces[r][i] is run r's
// true score at its (i+1)-th evaluation, and the runtime of (r, target) is
// the first evaluation count at which the score is >= target (scores are
// maximised), or +Inf if none is.
func ECDFFromTraces(name string, traces [][]float64, targets []float64) (ECDFSeries, error) {
	if len(traces) == 0 || len(targets) == 0 {
		return ECDFSeries{}, fmt.Errorf("plots: ECDF %q needs runs and targets (got %d runs, %d targets)", name, len(traces), len(targets))
	}
	for _, t := range targets {
		if math.IsNaN(t) {
			return ECDFSeries{}, fmt.Errorf("plots: ECDF %q: NaN target", name)
		}
	}
	s := ECDFSeries{Name: name}
	for r, tr := range traces {
		for _, t := range targets {
			hit := math.Inf(1)
			for i, v := range tr {
				if math.IsNaN(v) {
					return ECDFSeries{}, fmt.Errorf("plots: ECDF %q: run %d evaluation %d: NaN score", name, r, i+1)
				}
				if v >= t {
					hit = float64(i + 1)
					break
				}
			}
			s.Runtimes = append(s.Runtimes, hit)
		}
	}
	return s, nil
}

// ECDF writes the empirical cumulative distribution of runtimes (COCO's
// and IOHprofiler's main aggregate view): x is evaluations on a log scale,
// y the fraction of (run, target) pairs solved, one step line per series.
// Never mix problems of different dimensions in one series. See NewECDF.
func ECDF(path, title string, series []ECDFSeries) error {
	if _, err := format(path); err != nil {
		return err
	}
	f, err := NewECDF(title, series)
	if err != nil {
		return err
	}
	return f.Save(path)
}

// NewECDF builds the ECDF figure; the legend lists the series by the
// fraction they solved in the end, highest first, muted series in grey.
func NewECDF(title string, series []ECDFSeries) (*Figure, error) {
	if len(series) == 0 {
		return nil, errNoSeries
	}
	names := make([]string, len(series))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		names[i] = s.Name
		if len(s.Runtimes) == 0 {
			return nil, fmt.Errorf("plots: ECDF series %q is empty", s.Name)
		}
		for j, v := range s.Runtimes {
			switch {
			case math.IsInf(v, 1):
			case !(v >= 1) || math.IsInf(v, 0):
				return nil, fmt.Errorf("plots: ECDF series %q: runtime[%d] = %v (want >= 1 or +Inf)", s.Name, j, v)
			default:
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	if math.IsInf(lo, 1) { // nothing solved anywhere: flat curves over a decade
		lo, hi = 1, 10
	}
	if hi <= lo {
		hi = lo * 10
	}

	p := newPlot(title, "evaluations", "fraction of (run, target) pairs solved")
	useLogX(p)
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	fig := &Figure{plot: p}
	steps := make([]plotter.XYs, len(series))
	for _, muted := range []bool{true, false} {
		for i, s := range series {
			if s.Look.Muted != muted {
				continue
			}
			steps[i] = ecdfSteps(s.Runtimes, lo, hi)
			line, err := plotter.NewLine(steps[i])
			if err != nil {
				return nil, fmt.Errorf("plots: ECDF series %q: %w", s.Name, err)
			}
			line.LineStyle = lineStyle(s.Look.style(i), muted)
			fig.addSeries(s.Name, line)
		}
	}
	for _, i := range orderBy(len(series), func(i int) float64 { return steps[i][len(steps[i])-1].Y }) {
		s := series[i]
		fig.legend = append(fig.legend, legendItem{name: s.Name, style: s.Look.style(i), muted: s.Look.Muted})
	}
	return fig, nil
}

// ecdfSteps returns the vertices of the ECDF of runtimes as an explicit
// staircase from (lo, 0) to (hi, final fraction); +Inf never counts.
func ecdfSteps(runtimes []float64, lo, hi float64) plotter.XYs {
	xs := slices.Clone(runtimes)
	slices.Sort(xs)
	n := float64(len(xs))
	pts := plotter.XYs{{X: lo, Y: 0}}
	y := 0.0
	for i := 0; i < len(xs) && !math.IsInf(xs[i], 1); {
		j := i
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		pts = append(pts, plotter.XY{X: xs[i], Y: y})
		y = float64(j) / n
		pts = append(pts, plotter.XY{X: xs[i], Y: y})
		i = j
	}
	return append(pts, plotter.XY{X: hi, Y: y})
}

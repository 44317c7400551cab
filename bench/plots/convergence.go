package plots

import (
	"fmt"
	"math"
	"sort"

	"github.com/evomerge/evomerge/bench/stats"
	"gonum.org/v1/plot/plotter"
)

// Series is one algorithm's convergence curve: at each evaluation count
// X[i], the median and the interquartile range [Q1[i], Q3[i]] over runs of
// the best true score found so far. All four slices have the same length;
// X is strictly increasing and every value is finite.
type Series struct {
	Name           string
	X              []float64
	Median, Q1, Q3 []float64
	Look           Look
}

// Option adjusts a figure.
type Option func(*options)

type options struct {
	logX   bool
	ylabel string
}

// LogX puts the x axis (evaluations) on a log scale, which shows early
// progress and the tail of a long budget in one figure. X must be > 0.
func LogX() Option { return func(o *options) { o.logX = true } }

// YLabel names the y axis (default "best true score"), for curves of
// something else, such as the observed scores of a real run.
func YLabel(s string) Option { return func(o *options) { o.ylabel = s } }

// SeriesFromTraces summarises runs into a Series. traces[r][i] is run r's
// true score at its (i+1)-th evaluation; each trace is turned into its
// running maximum, so either raw scores or best-so-far scores may be given.
// at lists the evaluation counts (>= 1, strictly increasing) at which to
// summarise; nil means every evaluation up to the longest trace. A run that
// stopped before at[j] contributes its final best (it keeps what it found),
// so every point summarises all runs. Quartiles use stats.Quantile.
func SeriesFromTraces(name string, traces [][]float64, at []int) (Series, error) {
	if len(traces) == 0 {
		return Series{}, fmt.Errorf("plots: series %q: no runs", name)
	}
	longest := 0
	best := make([][]float64, len(traces))
	for r, tr := range traces {
		if len(tr) == 0 {
			return Series{}, fmt.Errorf("plots: series %q: run %d has an empty trace", name, r)
		}
		best[r] = make([]float64, len(tr))
		m := math.Inf(-1)
		for i, v := range tr {
			if !finite(v) {
				return Series{}, fmt.Errorf("plots: series %q: run %d evaluation %d: score %v", name, r, i+1, v)
			}
			m = max(m, v)
			best[r][i] = m
		}
		longest = max(longest, len(tr))
	}
	if at == nil {
		at = make([]int, longest)
		for i := range at {
			at[i] = i + 1
		}
	}
	if len(at) == 0 {
		return Series{}, fmt.Errorf("plots: series %q: no evaluation counts", name)
	}
	s := Series{Name: name}
	col := make([]float64, len(best))
	for j, e := range at {
		if e < 1 || (j > 0 && e <= at[j-1]) {
			return Series{}, fmt.Errorf("plots: series %q: evaluation counts must be >= 1 and strictly increasing (at[%d] = %d)", name, j, e)
		}
		for r, b := range best {
			col[r] = b[min(e, len(b))-1]
		}
		s.X = append(s.X, float64(e))
		s.Q1 = append(s.Q1, stats.Quantile(col, 0.25))
		s.Median = append(s.Median, stats.Quantile(col, 0.5))
		s.Q3 = append(s.Q3, stats.Quantile(col, 0.75))
	}
	return s, nil
}

func (s Series) check(logX bool) error {
	n := len(s.X)
	if n == 0 {
		return fmt.Errorf("plots: series %q is empty", s.Name)
	}
	if len(s.Median) != n || len(s.Q1) != n || len(s.Q3) != n {
		return fmt.Errorf("plots: series %q: lengths differ (X %d, Median %d, Q1 %d, Q3 %d)",
			s.Name, n, len(s.Median), len(s.Q1), len(s.Q3))
	}
	for i := range n {
		x, m, q1, q3 := s.X[i], s.Median[i], s.Q1[i], s.Q3[i]
		switch {
		case !finite(x) || !finite(m) || !finite(q1) || !finite(q3):
			return fmt.Errorf("plots: series %q point %d: non-finite value", s.Name, i)
		case i > 0 && x <= s.X[i-1]:
			return fmt.Errorf("plots: series %q: X not strictly increasing at %d", s.Name, i)
		case logX && x <= 0:
			return fmt.Errorf("plots: series %q: X[%d] = %v on a log axis", s.Name, i, x)
		case !(q1 <= m && m <= q3):
			return fmt.Errorf("plots: series %q point %d: want Q1 <= Median <= Q3, got %v, %v, %v", s.Name, i, q1, m, q3)
		}
	}
	return nil
}

// Convergence writes a figure of best true score against evaluations: per
// series a median line over a translucent interquartile band, so both the
// typical run and the spread between runs are visible. See
// NewConvergence.
func Convergence(path, title string, series []Series, opts ...Option) error {
	if _, err := format(path); err != nil {
		return err
	}
	f, err := NewConvergence(title, series, opts...)
	if err != nil {
		return err
	}
	return f.Save(path)
}

// NewConvergence builds the convergence figure. Muted series are drawn
// first, as thin grey lines without bands; the legend lists every series
// by its final median, highest first (scores rise).
func NewConvergence(title string, series []Series, opts ...Option) (*Figure, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if len(series) == 0 {
		return nil, errNoSeries
	}
	names := make([]string, len(series))
	for i, s := range series {
		if err := s.check(o.logX); err != nil {
			return nil, err
		}
		names[i] = s.Name
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}

	ylabel := o.ylabel
	if ylabel == "" {
		ylabel = "best true score"
	}
	p := newPlot(title, "evaluations", ylabel)
	if o.logX {
		useLogX(p)
	}
	p.Add(plotter.NewGrid())
	fig := &Figure{plot: p}
	for _, muted := range []bool{true, false} {
		for i, s := range series {
			if s.Look.Muted != muted {
				continue
			}
			sty := s.Look.style(i)
			n := len(s.X)
			med := make(plotter.XYs, n)
			for j := range n {
				med[j] = plotter.XY{X: s.X[j], Y: s.Median[j]}
			}
			line, err := plotter.NewLine(med)
			if err != nil {
				return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
			}
			line.LineStyle = lineStyle(sty, muted)
			if muted {
				fig.addSeries(s.Name, line)
				continue
			}
			// One ring: Q1 left to right, then Q3 right to left.
			ring := make(plotter.XYs, 0, 2*n)
			for j := range n {
				ring = append(ring, plotter.XY{X: s.X[j], Y: s.Q1[j]})
			}
			for j := n - 1; j >= 0; j-- {
				ring = append(ring, plotter.XY{X: s.X[j], Y: s.Q3[j]})
			}
			band, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
			}
			band.Color = withAlpha(sty.Color, 0x30)
			band.LineStyle.Width = 0
			fig.addSeries(s.Name, band, line)
		}
	}
	final := func(s Series) float64 { return s.Median[len(s.Median)-1] }
	for _, i := range orderBy(len(series), func(i int) float64 { return final(series[i]) }) {
		s := series[i]
		fig.legend = append(fig.legend, legendItem{name: s.Name, style: s.Look.style(i), muted: s.Look.Muted, band: true})
	}
	return fig, nil
}

// orderBy returns 0..n-1 ordered by key, highest first; ties keep their
// order.
func orderBy(n int, key func(int) float64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(idx[a]) > key(idx[b]) })
	return idx
}

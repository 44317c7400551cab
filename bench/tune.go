package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench/stats"
)

// TuneRow is one setting's result: the true score of the recommendation
// over the seeds, with its interval and a test against the defaults.
type TuneRow struct {
	Setting   map[string]string
	IsDefault bool
	RecTrue   stats.MedianInterval
	// P10 and P90 are the 10th and 90th percentiles of the recommended
	// true scores over the seeds (a failed run counts as the worst score).
	P10, P90  float64
	Successes int
	Runs      int
	ETT       float64 // median evaluations to target
	// P is the Holm-adjusted two-sided Mann–Whitney p-value of the
	// setting's recommended true scores against the defaults' (NaN for the
	// defaults themselves).
	P      float64
	Better bool // the median beats the defaults'
	// SameAs lists, on the defaults' row, the grid settings that ran
	// exactly as the defaults did on every seed (a value equal to the one
	// a formula default resolves to, such as sigma0=0.3 on a unit box):
	// they are one sample, not two, so they get no row and no test.
	SameAs []map[string]string
}

// Label prints the setting as name=value pairs.
func (r TuneRow) Label() string {
	if r.IsDefault {
		l := "(defaults)"
		for _, same := range r.SameAs {
			l += " = " + TuneRow{Setting: same}.Label()
		}
		return l
	}
	keys := make([]string, 0, len(r.Setting))
	for k := range r.Setting {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + r.Setting[k]
	}
	return strings.Join(parts, " ")
}

// Tuning sweeps an algorithm's hyperparameters over a grid on one
// comparison configuration (Base supplies the objective, budget, target,
// seeds and master seed; its Algorithms are ignored).
type Tuning struct {
	Algorithm string
	// Grid maps each hyperparameter to the values to try; nil or empty
	// means the algorithm's own grid (algorithms.Entry.Grid).
	Grid map[string][]string
	Base Comparison
	// MaxSettings bounds the size of the grid's product (default 100).
	MaxSettings int
}

// ResolvedGrid is the grid the tuning runs: Grid, or if that is empty the
// algorithm's own.
func (t *Tuning) ResolvedGrid() (map[string][]string, error) {
	e, err := algorithms.Lookup(t.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(t.Grid) > 0 {
		return t.Grid, nil
	}
	return e.Grid, nil
}

// Settings expands the grid into its settings, in a fixed order.
func (t *Tuning) Settings() ([]map[string]string, error) {
	grid, err := t.ResolvedGrid()
	if err != nil {
		return nil, err
	}
	if len(grid) == 0 {
		return nil, fmt.Errorf("tune: no grid for %s: give --grid param=v1,v2,…", t.Algorithm)
	}
	keys := make([]string, 0, len(grid))
	for k, vs := range grid {
		if len(vs) == 0 {
			return nil, fmt.Errorf("tune: grid of %s is empty", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	settings := []map[string]string{{}}
	for _, k := range keys {
		var next []map[string]string
		for _, s := range settings {
			for _, v := range grid[k] {
				c := map[string]string{k: v}
				for kk, vv := range s {
					c[kk] = vv
				}
				next = append(next, c)
			}
		}
		settings = next
	}
	max := t.MaxSettings
	if max == 0 {
		max = 100
	}
	if len(settings) > max {
		return nil, fmt.Errorf("tune: the grid has %d settings, more than %d: give fewer values", len(settings), max)
	}
	for _, s := range settings {
		if _, _, err := algorithms.Configure(t.Algorithm, s); err != nil {
			return nil, fmt.Errorf("tune: %w", err)
		}
	}
	return settings, nil
}

// Run evaluates every setting (and the defaults) on the same seeds —
// common random numbers, so differences come from the settings — and
// returns the rows ranked by median recommended true score.
func (t *Tuning) Run(ctx context.Context, progress io.Writer) ([]TuneRow, error) {
	settings, err := t.Settings()
	if err != nil {
		return nil, err
	}
	settings = append([]map[string]string{nil}, settings...) // the defaults first
	var jobs []Job
	for _, s := range settings {
		c := t.Base
		c.Algorithms = []string{t.Algorithm}
		c.Settings = map[string]map[string]string{t.Algorithm: s}
		if s == nil {
			c.Settings = nil
		}
		js, err := c.Jobs()
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, js...)
	}
	obj := t.Base.Objective
	obj.Seed = t.Base.Seed
	runs, err := RunJobs(ctx, jobs, obj, t.Base.Parallel, progress, nil)
	if err != nil {
		return nil, err
	}
	n := t.Base.Seeds
	rows := make([]TuneRow, len(settings))
	samples := make([][]float64, len(settings))
	maximize := true
	for i, s := range settings {
		rs := runs[i*n : (i+1)*n]
		row := TuneRow{Setting: s, IsDefault: s == nil, Runs: n, P: math.NaN()}
		var ett []float64
		for _, r := range rs {
			maximize = r.Maximizes()
			v := r.RecommendTrue
			if math.IsNaN(v) {
				v = math.Inf(-1)
				if !maximize {
					v = math.Inf(1)
				}
			}
			samples[i] = append(samples[i], v)
			ett = append(ett, r.ETT())
			if r.Succeeded() {
				row.Successes++
			}
		}
		if row.RecTrue, err = stats.Median(samples[i], 0.95); err != nil {
			return nil, err
		}
		row.ETT = stats.Quantile(ett, 0.5)
		row.P10, row.P90 = stats.Quantile(samples[i], 0.1), stats.Quantile(samples[i], 0.9)
		rows[i] = row
	}
	// Settings that ran exactly as the defaults did are folded into the
	// defaults' row.
	keptRows, keptSamples := rows[:1], samples[:1]
	for i := 1; i < len(rows); i++ {
		if sameRuns(runs[i*n:(i+1)*n], runs[:n]) {
			rows[0].SameAs = append(rows[0].SameAs, rows[i].Setting)
			continue
		}
		keptRows, keptSamples = append(keptRows, rows[i]), append(keptSamples, samples[i])
	}
	rows, samples = keptRows, keptSamples
	var ps []float64
	for i := 1; i < len(rows); i++ {
		p, err := stats.MannWhitney(samples[i], samples[0])
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	ps = stats.Holm(ps)
	for i := 1; i < len(rows); i++ {
		rows[i].P = ps[i-1]
		if maximize {
			rows[i].Better = rows[i].RecTrue.Median > rows[0].RecTrue.Median
		} else {
			rows[i].Better = rows[i].RecTrue.Median < rows[0].RecTrue.Median
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].RecTrue.Median, rows[j].RecTrue.Median
		if a != b {
			if maximize {
				return a > b
			}
			return a < b
		}
		return rows[i].ETT < rows[j].ETT
	})
	return rows, nil
}

// sameRuns reports whether two runs of each seed went exactly alike: the
// same evaluations, trace and recommendation.
func sameRuns(a, b []*Run) bool {
	for i := range a {
		if a[i].EvalsUsed != b[i].EvalsUsed || !slices.Equal(a[i].Recommended, b[i].Recommended) || !slices.Equal(a[i].Trace, b[i].Trace) ||
			a[i].BestObserved != b[i].BestObserved {
			return false
		}
	}
	return true
}

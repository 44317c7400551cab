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

// DefaultGrids are the hyperparameter values `evomerge tune` tries when the
// user gives no --grid: the knobs that matter at real-merge budgets (the
// population, the initial step, selection pressure), a few values each
// around the defaults ("0" selects a method's formula default).
var DefaultGrids = map[string]map[string][]string{
	"simple-es":       {"pop": {"10", "20", "40"}, "elite": {"0.1", "0.2", "0.4"}, "sigma": {"0.1", "0.2", "0.3"}},
	"cmaes":           {"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}},
	"sep-cmaes":       {"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}},
	"ipop-cmaes":      {"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}},
	"bipop-cmaes":     {"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}},
	"gonum-cmaes":     {"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}},
	"ga":              {"pop": {"10", "20", "40"}, "mut-rate": {"0.5", "0.8", "1"}, "sigma": {"0.05", "0.1", "0.2"}},
	"de":              {"pop": {"0", "10", "20", "40"}, "f": {"0.3", "0.5", "0.8"}, "cr": {"0.5", "0.9"}},
	"pso":             {"pop": {"0", "10", "20", "40"}},
	"one-plus-one-es": {"sigma": {"0.05", "0.1", "0.2", "0.3"}},
	"tpe":             {"startup": {"5", "10", "20"}, "candidates": {"24", "64"}},
}

// TuneRow is one setting's result: the true score of the recommendation
// over the seeds, with its interval and a test against the defaults.
type TuneRow struct {
	Setting   map[string]string
	IsDefault bool
	RecTrue   stats.MedianInterval
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
	Grid      map[string][]string
	Base      Comparison
	// MaxSettings bounds the size of the grid's product (default 100).
	MaxSettings int
}

// Settings expands the grid into its settings, in a fixed order.
func (t *Tuning) Settings() ([]map[string]string, error) {
	if _, err := algorithms.Lookup(t.Algorithm); err != nil {
		return nil, err
	}
	if len(t.Grid) == 0 {
		return nil, fmt.Errorf("tune: no grid for %s: give --grid param=v1,v2,…", t.Algorithm)
	}
	keys := make([]string, 0, len(t.Grid))
	for k, vs := range t.Grid {
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
			for _, v := range t.Grid[k] {
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

package algorithms

import (
	"context"
	"flag"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// withMemoryLimit sets the memory limit for the duration of a test.
func withMemoryLimit(t *testing.T, bytes float64) {
	t.Helper()
	old := memoryLimit
	memoryLimit = func() (float64, string) { return bytes, "the test's limit" }
	t.Cleanup(func() { memoryLimit = old })
}

// configured returns the named method with settings applied.
func configured(t *testing.T, name string, settings map[string]string) Optimizer {
	t.Helper()
	opt, _, err := Configure(name, settings)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// A model-based method fits its model from the first few points at any
// dimension: gp-bo in 26-D at budget 20 (the sd-block-merge scenario) used
// to spend all 20 evaluations on its initial design of max(5, n+1) points.
func TestModelProposesMostCandidatesAtSmallBudgets(t *testing.T) {
	for _, tc := range []struct {
		name             string
		dim, budget      int
		knownBudget      bool
		wantModelAtLeast int
	}{
		{"gp-bo", 26, 20, true, 15},
		{"gp-bo", 26, 20, false, 15},
		{"gp-bo", 64, 12, true, 8},
		{"tpe", 26, 20, true, 10},
		{"tpe", 4, 50, true, 40},
	} {
		p := mineBox(tc.dim, true)
		if tc.knownBudget {
			p.Budget = tc.budget
		}
		opt := configured(t, tc.name, nil)
		r := &mineTrace{budget: tc.budget, f: mineSphere(shiftedOptimum(tc.dim))}
		if _, err := opt.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(3, 4))); err != errMineBudget {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ph := opt.(PhaseCounter).PhaseEvals()
		if ph[PhaseInitial]+ph[PhaseModel] != tc.budget || ph[PhaseModel] < tc.wantModelAtLeast {
			t.Errorf("%s in %d-D at budget %d (known %v): phases %v, want %d evaluations with at least %d from the model",
				tc.name, tc.dim, tc.budget, tc.knownBudget, ph, tc.budget, tc.wantModelAtLeast)
		}
		for k, x := range r.xs {
			for i, v := range x {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s: candidate %d coordinate %d = %g is outside the box", tc.name, k, i, v)
				}
			}
		}
	}
}

func shiftedOptimum(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 0.15 + 0.7*float64(i%7)/6
	}
	return x
}

// With fewer points than dimensions gp-bo fits one length scale for all
// coordinates (ARD is not identified) and switches to ARD at n+1 points;
// its proposals are then model-based, not uniform: on a 26-D sphere the
// model's candidates beat the initial uniform ones.
func TestGPBOSharedLengthScaleBeforeARD(t *testing.T) {
	const n = 26
	g := &GPBO{MaxPoints: 100, FitPoints: 60, ARD: true, Candidates: 32, Refine: 10, RefitGrowth: 1.5}
	s := &gpState{g: g, n: n}
	rng := rand.New(rand.NewPCG(5, 6))
	f := mineSphere(shiftedOptimum(n))
	add := func(k int) {
		for range k {
			u := make([]float64, n)
			for d := range u {
				u[d] = rng.Float64()
			}
			s.us, s.ys = append(s.us, u), append(s.ys, f(u))
		}
	}
	add(5)
	s.fit()
	if !s.shared || len(s.theta) != 3 {
		t.Fatalf("5 points in 26-D: shared %v with %d hyperparameters, want one shared length scale (3)", s.shared, len(s.theta))
	}
	for _, v := range s.theta {
		if v != v {
			t.Fatalf("hyperparameters %v", s.theta)
		}
	}
	s.update()
	add(n + 1 - 5)
	s.fit()
	if s.shared || len(s.theta) != n+2 {
		t.Fatalf("%d points: shared %v with %d hyperparameters, want ARD (%d)", n+1, s.shared, len(s.theta), n+2)
	}
	s.update()
	out := make([]float64, n)
	s.suggest(out, rng)
	for d, v := range out {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("suggestion coordinate %d = %g", d, v)
		}
	}
}

// A population method reports its uniform first generation as the initial
// phase, so a row at a budget of one population is flagged as what it is.
func TestPopulationMethodsCountPhases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial int
	}{{"simple-es", 20}, {"de", 20}, {"pso", 14}, {"ga", 20}} {
		opt := configured(t, tc.name, nil)
		r := &mineTrace{budget: 100, f: mineSphere(shiftedOptimum(6))}
		opt.Minimize(context.Background(), mineBox(6, true), r, rand.New(rand.NewPCG(1, 2)))
		ph := opt.(PhaseCounter).PhaseEvals()
		if ph[PhaseInitial] != tc.initial || ph[PhaseModel] != 100-tc.initial {
			t.Errorf("%s: phases %v, want %d initial and %d model", tc.name, ph, tc.initial, 100-tc.initial)
		}
		// A second run on the same value counts afresh.
		r = &mineTrace{budget: 10, f: mineSphere(shiftedOptimum(6))}
		opt.Minimize(context.Background(), mineBox(6, true), r, rand.New(rand.NewPCG(1, 2)))
		if ph := opt.(PhaseCounter).PhaseEvals(); ph[PhaseInitial] != 10 || ph[PhaseModel] != 0 {
			t.Errorf("%s: second run phases %v, want 10 initial", tc.name, ph)
		}
	}
}

// Sizes that cannot fit in memory, and populations that no generation
// within the budget could complete, are refused before anything is
// allocated or evaluated, with the dimension, the population and the
// estimate in the message (--dim 100000 --alg cmaes used to die with
// "fatal error: runtime: out of memory").
func TestSizesRefusedBeforeAllocating(t *testing.T) {
	withMemoryLimit(t, 64<<20)
	for _, tc := range []struct {
		name     string
		settings map[string]string
		dim      int
		budget   int
		want     []string
	}{
		{"cmaes", nil, 2000, 0, []string{"cmaes:", "dimension 2000", "MiB", "covariance"}},
		{"ipop-cmaes", nil, 2000, 0, []string{"ipop-cmaes:", "dimension 2000"}},
		{"bipop-cmaes", nil, 2000, 0, []string{"bipop-cmaes:", "dimension 2000"}},
		{"uh-cmaes", nil, 2000, 0, []string{"uh-cmaes:", "dimension 2000"}},
		{"gonum-cmaes", nil, 2000, 0, []string{"gonum-cmaes:", "dimension 2000"}},
		{"sep-cmaes", map[string]string{"popsize": "1000000"}, 10, 0, []string{"sep-cmaes:", "λ = 1000000"}},
		{"cmaes", map[string]string{"popsize": "5000"}, 2, 100, []string{"popsize 5000", "budget of 100"}},
		{"sep-cmaes", map[string]string{"popsize": "5000"}, 2, 100, []string{"popsize 5000", "budget of 100"}},
		{"ipop-cmaes", map[string]string{"popsize": "5000"}, 2, 100, []string{"popsize 5000", "budget of 100"}},
		{"uh-cmaes", map[string]string{"popsize": "5000"}, 2, 100, []string{"popsize 5000", "budget of 100"}},
		{"gonum-cmaes", map[string]string{"popsize": "5000"}, 2, 100, []string{"popsize 5000", "budget of 100"}},
		{"uh-cmaes", map[string]string{"treatment": "evals", "maxevals": "100000000"}, 10, 0, []string{"uh-cmaes:"}},
		{"simple-es", map[string]string{"pop": "10000000"}, 10, 0, []string{"simple-es:", "pop 10000000"}},
		{"de", map[string]string{"pop": "10000000"}, 10, 0, []string{"de:", "pop 10000000"}},
		{"pso", map[string]string{"pop": "100000"}, 10, 0, []string{"pso:", "pop 100000"}},
		{"ga", map[string]string{"pop": "10000000"}, 10, 0, []string{"ga:", "pop 10000000"}},
		{"tpe", map[string]string{"candidates": "100000000"}, 10, 0, []string{"tpe:", "candidates 100000000"}},
		{"gp-bo", map[string]string{"max-points": "100000"}, 10, 0, []string{"gp-bo:", "max-points 100000"}},
	} {
		opt := configured(t, tc.name, tc.settings)
		p := mineBox(tc.dim, true)
		p.Budget = tc.budget
		r := &mineTrace{budget: 1, f: func([]float64) float64 { return 0 }}
		_, err := opt.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(1, 1)))
		if err == nil || err == errMineBudget || len(r.xs) != 0 {
			t.Errorf("%s %v in %d-D: err %v after %d evaluations, want a size error", tc.name, tc.settings, tc.dim, err, len(r.xs))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %v: error %q does not mention %q", tc.name, tc.settings, err, w)
			}
		}
	}
	// Within the limit every method still runs.
	for _, name := range Names() {
		opt := configured(t, name, nil)
		p := mineBox(50, true)
		p.Budget = 1
		r := &mineTrace{budget: 1, f: func([]float64) float64 { return 0 }}
		if _, err := opt.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(1, 1))); err != errMineBudget {
			t.Errorf("%s in 50-D: %v, want the budget error", name, err)
		}
	}
}

// The limit is half the machine's memory, or 4 GiB when unknown.
func TestMemoryLimitIsReadable(t *testing.T) {
	limit, why := memoryLimit()
	if !(limit >= 1<<20) || why == "" {
		t.Fatalf("memory limit %g (%s)", limit, why)
	}
	if got := fmtBytes(3 * (1 << 30)); got != "3.0 GiB" {
		t.Errorf("fmtBytes: %q", got)
	}
}

// Every hyperparameter outside its domain is an error naming it, before
// any evaluation; zero values are the documented defaults, never errors.
func TestHyperparameterDomains(t *testing.T) {
	bad := map[string][]string{
		"simple-es":       {"pop=1", "pop=-5", "elite=1", "elite=-0.1", "elite=NaN", "elite=0.99", "sigma=Inf", "sigma=-1", "sigma=NaN", "decay=-1", "decay=1.5", "decay=NaN", "min-sigma=-1", "min-sigma=Inf"},
		"de":              {"pop=3", "pop=-1", "f=-1", "f=3", "f=NaN", "cr=-0.1", "cr=1.1", "cr=NaN"},
		"pso":             {"pop=1", "pop=-2", "w=-1", "w=Inf", "w=NaN", "c=-1", "c=Inf", "k=-1"},
		"ga":              {"pop=1", "tournament=-1", "tournament=50", "cross-rate=2", "cross-rate=NaN", "mut-rate=-1", "gene-rate=2", "gene-rate=-1", "sigma=Inf", "sigma=-0.1"},
		"one-plus-one-es": {"sigma=Inf", "sigma=-1", "up=-1", "up=Inf", "target=1", "target=-0.5", "reeval=-1"},
		"random":          {"batch=-1"},
		"tpe":             {"startup=-1", "gamma-frac=-0.1", "gamma-frac=2", "gamma-frac=NaN", "gamma-cap=-1", "candidates=-1", "prior-weight=-1", "prior-weight=Inf"},
		"gp-bo":           {"init=-1", "max-points=5", "fit-points=2", "candidates=1", "refine=-1", "refit-growth=1", "refit-growth=Inf", "refit-growth=NaN"},
		"cmaes":           {"popsize=1", "popsize=-3", "sigma0=Inf", "sigma0=-1", "eigengap=NaN", "recommend=median"},
		"sep-cmaes":       {"popsize=1", "sigma0=NaN"},
		"ipop-cmaes":      {"popsize=-1", "sigma0=Inf", "recommend=x"},
		"bipop-cmaes":     {"popsize=1"},
		"uh-cmaes":        {"popsize=1", "maxevals=-1", "treatment=x", "sigma0=-2"},
		"gonum-cmaes":     {"popsize=1", "popsize=-4", "sigma0=Inf", "sigma0=-1"},
	}
	for _, name := range Names() {
		if _, ok := bad[name]; !ok {
			t.Errorf("%s: no bad settings listed", name)
		}
	}
	for name, cases := range bad {
		for _, c := range cases {
			k, v, _ := strings.Cut(c, "=")
			opt, _, err := Configure(name, map[string]string{k: v})
			if err != nil {
				continue // refused while parsing, also fine
			}
			r := &mineTrace{budget: 5, f: func([]float64) float64 { return 0 }}
			_, err = opt.Minimize(context.Background(), mineBox(3, true), r, rand.New(rand.NewPCG(1, 1)))
			if err == nil || err == errMineBudget || len(r.xs) != 0 {
				t.Errorf("%s %s: err %v after %d evaluations, want an error naming %s", name, c, err, len(r.xs), k)
				continue
			}
			if !strings.Contains(err.Error(), k) {
				t.Errorf("%s %s: error %q does not name %s", name, c, err, k)
			}
		}
	}
	// Zero means the default: every numeric hyperparameter set to 0 runs.
	for _, name := range Names() {
		opt := configured(t, name, nil)
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		opt.Flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if _, err := strconv.ParseFloat(f.DefValue, 64); err != nil {
				return // not numeric
			}
			if err := f.Value.Set("0"); err != nil {
				t.Fatal(err)
			}
			defer f.Value.Set(f.DefValue)
			r := &mineTrace{budget: 30, f: mineSphere(shiftedOptimum(3))}
			if _, err := opt.Minimize(context.Background(), mineBox(3, true), r, rand.New(rand.NewPCG(1, 1))); err != errMineBudget {
				t.Errorf("%s with %s=0: %v", name, f.Name, err)
			}
		})
	}
}

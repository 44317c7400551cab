package algorithms_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

var errBudget = errors.New("budget spent")

// recorder is a budgeted objective that remembers every candidate and
// counts the calls an optimiser makes after being refused.
type recorder struct {
	budget   int
	f        func([]float64) float64
	xs       [][]float64
	best     float64
	refused  int
	cancel   func() // called after cancelAt evaluations, if set
	cancelAt int
}

func (r *recorder) Eval(ctx context.Context, x []float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		r.refused++
		return 0, err
	}
	if len(r.xs) >= r.budget {
		r.refused++
		return 0, errBudget
	}
	r.xs = append(r.xs, slices.Clone(x))
	v := r.f(x)
	if len(r.xs) == 1 || v < r.best {
		r.best = v
	}
	if r.cancel != nil && len(r.xs) == r.cancelAt {
		r.cancel()
	}
	return v, nil
}

// shiftedSphere has its optimum away from the centre and the origin, where
// a biased method would look good (go-notes: never centre a test at 0).
func shiftedSphere(opt []float64) func([]float64) float64 {
	return func(x []float64) float64 {
		s := 0.0
		for i, v := range x {
			d := v - opt[i]
			s += d * d
		}
		return s
	}
}

func unitProblem(n int, bounded bool) algorithms.Problem {
	p := algorithms.Problem{Dim: n, Lower: make([]float64, n), Upper: make([]float64, n), Bounded: bounded}
	for i := range n {
		p.Upper[i] = 1
	}
	return p
}

var testOptimum = []float64{0.82, 0.13, 0.67, 0.91}

func run(t *testing.T, name string, p algorithms.Problem, r *recorder, seed uint64, ctx context.Context) ([]float64, error) {
	t.Helper()
	opt, _, err := algorithms.Configure(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return opt.Minimize(ctx, p, r, rand.New(rand.NewPCG(seed, 1)))
}

// TestConformance holds every registered optimiser to the harness's rules.
func TestConformance(t *testing.T) {
	for _, name := range algorithms.Names() {
		t.Run(name, func(t *testing.T) {
			p := unitProblem(4, true)
			const budget = 1000

			// Exact budget; it stops at the first refusal and returns it.
			r := &recorder{budget: budget, f: shiftedSphere(testOptimum)}
			rec, err := run(t, name, p, r, 7, context.Background())
			if !errors.Is(err, errBudget) {
				t.Fatalf("Minimize returned %v, want the objective's budget error", err)
			}
			if len(r.xs) != budget || r.refused != 1 {
				t.Fatalf("%d evaluations and %d refused calls, want %d and 1", len(r.xs), r.refused, budget)
			}
			if rec != nil && len(rec) != p.Dim {
				t.Fatalf("recommendation has %d coordinates", len(rec))
			}

			// Never a candidate outside the box.
			for k, x := range r.xs {
				for i, v := range x {
					if !(v >= p.Lower[i] && v <= p.Upper[i]) {
						t.Fatalf("candidate %d coordinate %d = %g is outside [0,1]", k, i, v)
					}
				}
			}

			// Clear improvement on the shifted sphere: the best point must
			// beat the median of uniform random points (≈ 0.55 here) by 10×.
			if r.best > 0.05 {
				t.Errorf("best f = %g after %d evaluations on the shifted sphere, want ≤ 0.05", r.best, budget)
			}
			if rec != nil {
				if f := shiftedSphere(testOptimum)(rec); f > 0.05 {
					t.Errorf("recommendation has f = %g, want ≤ 0.05", f)
				}
			}

			// Identical results for the same seed.
			r2 := &recorder{budget: budget, f: shiftedSphere(testOptimum)}
			rec2, _ := run(t, name, p, r2, 7, context.Background())
			for k := range r.xs {
				if !slices.Equal(r.xs[k], r2.xs[k]) {
					t.Fatalf("same seed, different candidate %d: %v vs %v", k, r.xs[k], r2.xs[k])
				}
			}
			if !slices.Equal(rec, rec2) {
				t.Fatalf("same seed, different recommendation: %v vs %v", rec, rec2)
			}
			// A different seed gives a different search.
			r3 := &recorder{budget: 50, f: shiftedSphere(testOptimum)}
			run(t, name, p, r3, 8, context.Background())
			if slices.Equal(r.xs[49], r3.xs[49]) {
				t.Errorf("seeds 7 and 8 gave the same 50th candidate")
			}

			// Prompt stop on context cancel.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r4 := &recorder{budget: budget, f: shiftedSphere(testOptimum), cancel: cancel, cancelAt: 37}
			_, err = run(t, name, p, r4, 7, ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after cancel Minimize returned %v, want context.Canceled", err)
			}
			if len(r4.xs) != 37 || r4.refused != 1 {
				t.Fatalf("after cancel at 37: %d evaluations, %d refused calls", len(r4.xs), r4.refused)
			}
		})
	}
}

// TestConformanceUnbounded checks that methods also work where the box is
// only a region of interest and the optimum lies outside it.
func TestConformanceUnbounded(t *testing.T) {
	for _, name := range algorithms.Names() {
		if name == "random" {
			continue // random search samples the box by definition
		}
		t.Run(name, func(t *testing.T) {
			p := unitProblem(4, false)
			opt := []float64{1.2, 0.3, 0.5, 0.7} // outside the box in coordinate 0
			r := &recorder{budget: 2000, f: shiftedSphere(opt)}
			run(t, name, p, r, 3, context.Background())
			// The centre scores 0.53; a working method gains 10× at least.
			if !(r.best <= 0.05) {
				t.Errorf("best f = %g, want ≤ 0.05", r.best)
			}
		})
	}
}

func TestConfigureRejectsUnknown(t *testing.T) {
	if _, _, err := algorithms.Configure("nope", nil); err == nil {
		t.Error("unknown algorithm accepted")
	}
	for _, name := range algorithms.Names() {
		if _, _, err := algorithms.Configure(name, map[string]string{"no-such-param": "1"}); err == nil {
			t.Errorf("%s accepted an unknown hyperparameter", name)
		}
		_, params, err := algorithms.Configure(name, nil)
		if err != nil || len(params) == 0 {
			t.Errorf("%s: no hyperparameters listed (%v)", name, err)
		}
	}
}

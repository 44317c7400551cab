package algorithms

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// errMineBudget ends the runs of this file's tests.
var errMineBudget = errors.New("budget spent")

// mineTrace is a budgeted objective that keeps every candidate and score.
type mineTrace struct {
	budget int
	f      func([]float64) float64
	xs     [][]float64
	fs     []float64
}

func (r *mineTrace) Eval(ctx context.Context, x []float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(r.xs) >= r.budget {
		return 0, errMineBudget
	}
	v := r.f(x)
	r.xs = append(r.xs, slices.Clone(x))
	r.fs = append(r.fs, v)
	return v, nil
}

func mineBox(n int, bounded bool) Problem {
	p := Problem{Dim: n, Lower: make([]float64, n), Upper: make([]float64, n), Bounded: bounded}
	for i := range n {
		p.Upper[i] = 1
	}
	return p
}

func mineSphere(opt []float64) func([]float64) float64 {
	return func(x []float64) float64 {
		s := 0.0
		for i, v := range x {
			s += (v - opt[i]) * (v - opt[i])
		}
		return s
	}
}

// esSteps returns the distance of each offspring from the parent it was
// drawn from (the best point before it, the objectives being noiseless).
func esSteps(r *mineTrace) []float64 {
	var steps []float64
	best := 0
	for k := 1; k < len(r.xs); k++ {
		d := 0.0
		for i := range r.xs[k] {
			d += (r.xs[k][i] - r.xs[best][i]) * (r.xs[k][i] - r.xs[best][i])
		}
		steps = append(steps, math.Sqrt(d))
		if r.fs[k] <= r.fs[best] {
			best = k
		}
	}
	return steps
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, v := range xs {
		s += v
	}
	return s / float64(len(xs))
}

// The 1/5th success rule raises σ on a linear slope (success rate ½) and
// lowers it near the optimum of a sphere (success rate → 0 as σ ≫ distance).
func TestOnePlusOneSuccessRule(t *testing.T) {
	es := &OnePlusOneES{Sigma: 0.01, Up: 1.0 / 3, Target: 0.2}
	slope := &mineTrace{budget: 60, f: func(x []float64) float64 { return x[0] + 2*x[1] - x[2] }}
	es.Minimize(context.Background(), mineBox(3, false), slope, rand.New(rand.NewPCG(1, 2)))
	s := esSteps(slope)
	if first, last := meanOf(s[:10]), meanOf(s[len(s)-10:]); !(last > 10*first) {
		t.Errorf("linear slope: mean step %g in the first 10 generations, %g in the last 10; want growth", first, last)
	}

	es = &OnePlusOneES{Sigma: 0.3, Up: 1.0 / 3, Target: 0.2}
	near := &mineTrace{budget: 200, f: mineSphere([]float64{0.5, 0.5, 0.5})}
	es.Minimize(context.Background(), mineBox(3, true), near, rand.New(rand.NewPCG(1, 2)))
	s = esSteps(near)
	if first, last := meanOf(s[:10]), meanOf(s[len(s)-10:]); !(last < first/100) {
		t.Errorf("sphere from its optimum: mean step %g first, %g last; want a collapse", first, last)
	}
}

// With reeval, a parent whose score was a lucky draw is re-evaluated and
// eventually replaced; without it, the lucky score blocks progress.
func TestOnePlusOneReeval(t *testing.T) {
	calls := 0
	lucky := func(x []float64) float64 {
		calls++
		if calls == 1 {
			return -0.5 // the start point is scored far too well once
		}
		return mineSphere([]float64{0.2, 0.7})(x)
	}
	for _, k := range []int{0, 5} {
		calls = 0
		es := &OnePlusOneES{Sigma: 0.3, Up: 1.0 / 3, Target: 0.2, Reeval: k}
		r := &mineTrace{budget: 300, f: lucky}
		rec, _ := es.Minimize(context.Background(), mineBox(2, true), r, rand.New(rand.NewPCG(3, 4)))
		f := mineSphere([]float64{0.2, 0.7})(rec)
		if k == 0 && !slices.Equal(rec, []float64{0.5, 0.5}) {
			t.Errorf("reeval 0: the lucky start was replaced (%v); the textbook ES keeps it", rec)
		}
		if k > 0 && f > 1e-3 {
			t.Errorf("reeval %d: recommendation %v has f = %g, want the lucky start replaced", k, rec, f)
		}
	}
}

func TestReflect(t *testing.T) {
	p := mineBox(1, true)
	for _, c := range []struct{ in, want float64 }{{0.3, 0.3}, {-0.2, 0.2}, {1.25, 0.75}, {2.1, 0.1}, {-1.9, 0.1}, {math.Inf(1), 0.5}} {
		x := []float64{c.in}
		reflect(p, x)
		if math.Abs(x[0]-c.want) > 1e-12 {
			t.Errorf("reflect(%g) = %g, want %g", c.in, x[0], c.want)
		}
	}
}

// Failed evaluations passed on as NaN or ±Inf rank last and do not freeze
// any of the five methods: each still finds the optimum of the finite part.
func TestMineFailedEvaluations(t *testing.T) {
	sphere := mineSphere([]float64{0.6, 0.4})
	f := func(x []float64) float64 {
		switch {
		case x[0] < 0.3:
			return math.NaN()
		case x[1] > 0.8:
			return math.Inf(1)
		}
		return sphere(x)
	}
	for _, o := range []Optimizer{
		&OnePlusOneES{Sigma: 0.3, Up: 1.0 / 3, Target: 0.2, Reeval: 3},
		&DE{F: 0.5, CR: 0.9},
		&PSO{W: 1 / (2 * math.Ln2), C: 0.5 + math.Ln2, K: 3},
		newTPE(),
		&GPBO{MaxPoints: 100, FitPoints: 60, ARD: true, Candidates: 32, Refine: 10, RefitGrowth: 1.5},
	} {
		p := mineBox(2, true)
		p.X0 = []float64{0.1, 0.9} // the ES starts on a failure
		r := &mineTrace{budget: 300, f: f}
		o.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(2, 3)))
		best := math.Inf(1)
		for _, v := range r.fs {
			if v < best {
				best = v
			}
		}
		if !(best < 1e-3) {
			t.Errorf("%T: best finite loss %g after 300 evaluations", o, best)
		}
	}
}

package bench

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// BenchmarkConverge reports, per algorithm on the default configuration
// (4-d mock, noise σ 1, budget 1,000, target 99), the convergence figures
// of one 25-seed comparison: median evaluations to target (+Inf if most
// runs miss), success rate and median true score of the recommendation.
// Every iteration replays the same seeds, so the figures are exact and ns/op
// is the wall time of the 25 runs; to compare algorithms statistically use
// `evomerge bench --format bench` with benchstat -col /alg instead, where
// each seed is one sample.
func BenchmarkConverge(b *testing.B) {
	for _, alg := range algorithms.DefaultNames() {
		b.Run("alg="+alg, func(b *testing.B) {
			c := &Comparison{Algorithms: []string{alg}, Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1},
				Seeds: 25, Seed: 1, Budget: 1000, Target: 99, Parallel: 1}
			var runs []*Run
			for b.Loop() {
				var err error
				if runs, err = c.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			s := Summarize(runs)[0]
			b.ReportMetric(s.MedianETT, "evals-to-target")
			b.ReportMetric(float64(s.Successes)/float64(s.Runs), "success-rate")
			b.ReportMetric(s.MedianRecommendedTrue, "final-true")
		})
	}
}

// BenchmarkDefaultBench times the default `evomerge bench`: 5 algorithms
// × 25 seeds × 1,000 evaluations on the 4-d mock with noise 1, all cores.
func BenchmarkDefaultBench(b *testing.B) {
	c := &Comparison{Algorithms: algorithms.DefaultNames(), Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1},
		Seeds: 25, Seed: 1, Budget: 1000, Target: 99}
	for b.Loop() {
		if _, err := c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// free is an objective that costs nothing, so timing a run measures the
// optimiser's own overhead.
type free struct{ n, budget int }

func (f *free) Eval(ctx context.Context, x []float64) (float64, error) {
	if f.n >= f.budget {
		return 0, ErrBudget
	}
	f.n++
	s := 0.0
	for i, v := range x {
		d := v - 0.3 - 0.01*float64(i)
		s += d * d
	}
	return s, nil
}

// BenchmarkOverhead reports each optimiser's own cost per generation
// (ns/op, one op = one generation of its default population, or one
// evaluation for a method without a population) on a free objective, at
// n = 4 and 64.
func BenchmarkOverhead(b *testing.B) {
	for _, alg := range algorithms.Names() {
		for _, n := range []int{4, 64} {
			b.Run("alg="+alg+"/n="+strconv.Itoa(n), func(b *testing.B) {
				e, _ := algorithms.Lookup(alg)
				opt, params, err := algorithms.Configure(alg, nil)
				if err != nil {
					b.Fatal(err)
				}
				gen := e.Population(n, params)
				if gen == 0 {
					gen = 1 // a method without a population: one op is one evaluation
				}
				p := algorithms.Problem{Dim: n, Lower: make([]float64, n), Upper: make([]float64, n), Bounded: true}
				for i := range p.Upper {
					p.Upper[i] = 1
				}
				f := &free{budget: b.N * gen}
				b.ResetTimer()
				opt.Minimize(context.Background(), p, f, rand.New(rand.NewPCG(1, 2)))
			})
		}
	}
}

package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	randv1 "math/rand"
	"math/rand/v2"

	"github.com/MaxHalford/eaopt"
)

func init() {
	Register(Entry{
		Name:       "ga",
		Summary:    "a generational genetic algorithm on eaopt: tournament selection, uniform crossover, additive Gaussian mutation",
		Recommends: "best observed",
		PopParam:   "pop",
		New: func() Optimizer {
			return &GA{Pop: 20, Tournament: 3, CrossRate: 0.7, MutRate: 0.8, Sigma: 0.1}
		},
	})
}

// GA is a generational genetic algorithm run by github.com/MaxHalford/eaopt
// (ModGenerational with tournament selection) on a Genome of our own,
// because eaopt's stock float operators are unsafe here (see
// docs/library-pitfalls.md):
//
//   - eaopt's MutNormalFloat64 is multiplicative (g += N(0,1)·g): it pulls
//     genes to 0 and a 0 gene never moves, so a shifted optimum is missed.
//     Our mutation is additive: each gene moves by N(0, (Sigma·width)²)
//     with probability GeneRate, then is clipped into the box.
//   - eaopt's Individual.Crossover marks only the receiver as needing
//     re-evaluation, so a crossover that changes both genomes leaves a stale
//     fitness on the second. Our uniform crossover changes only the
//     receiver (each gene taken from the mate with probability ½).
//   - eaopt cannot stop at an exact budget (EarlyStop is checked between
//     generations). The harness's objective refuses the evaluation past the
//     budget; Genome.Evaluate returns that error and GA.Minimize returns it
//     at once, so the count is exact. The best point is tracked by the
//     harness, since eaopt's hall of fame misses a partial last generation.
//   - eaopt's RNG: nil means clock-seeded and ParallelEval makes the order of
//     evaluations depend on scheduling; we pass a seeded math/rand source
//     derived from the run's generator and evaluate serially.
type GA struct {
	Pop        int     // population size
	Tournament int     // contestants per tournament
	CrossRate  float64 // probability that a selected pair is crossed
	MutRate    float64 // probability that an offspring is mutated
	GeneRate   float64 // probability that a gene of a mutated offspring moves; 0 means max(1/n, ¼)
	Sigma      float64 // mutation step as a fraction of the box width
}

// Flags registers the hyperparameters.
func (g *GA) Flags(fs *flag.FlagSet) {
	fs.IntVar(&g.Pop, "pop", g.Pop, "population size (≥ 2)")
	fs.IntVar(&g.Tournament, "tournament", g.Tournament, "contestants per tournament selection (≥ 1)")
	fs.Float64Var(&g.CrossRate, "cross-rate", g.CrossRate, "probability that a selected pair is crossed, in [0,1]")
	fs.Float64Var(&g.MutRate, "mut-rate", g.MutRate, "probability that an offspring is mutated, in [0,1]")
	fs.Float64Var(&g.GeneRate, "gene-rate", g.GeneRate, "probability that a gene of a mutated offspring moves; 0 means max(1/n, 0.25)")
	fs.Float64Var(&g.Sigma, "sigma", g.Sigma, "mutation step as a fraction of the box width")
}

// Minimize implements Optimizer.
func (g *GA) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if g.Pop < 2 || g.Tournament < 1 || g.Tournament > g.Pop {
		return nil, fmt.Errorf("ga: need pop ≥ 2 and 1 ≤ tournament ≤ pop (have pop %d, tournament %d)", g.Pop, g.Tournament)
	}
	if !(g.CrossRate >= 0 && g.CrossRate <= 1 && g.MutRate >= 0 && g.MutRate <= 1) {
		return nil, fmt.Errorf("ga: cross-rate %g and mut-rate %g must lie in [0,1]", g.CrossRate, g.MutRate)
	}
	geneRate := g.GeneRate
	if geneRate <= 0 {
		geneRate = max(1/float64(p.Dim), 0.25)
	}
	steps := make([]float64, p.Dim)
	for i := range steps {
		steps[i] = g.Sigma * (p.Upper[i] - p.Lower[i])
	}
	ops := &gaOps{ctx: ctx, p: p, obj: obj, steps: steps, geneRate: min(geneRate, 1)}
	cfg := eaopt.GAConfig{
		NPops:        1,
		PopSize:      uint(g.Pop),
		NGenerations: math.MaxUint32,
		HofSize:      1,
		Model: eaopt.ModGenerational{
			Selector:  eaopt.SelTournament{NContestants: uint(g.Tournament)},
			MutRate:   g.MutRate,
			CrossRate: g.CrossRate,
		},
		RNG: randv1.New(randv1.NewSource(int64(rng.Uint64() >> 1))),
	}
	ga, err := cfg.NewGA()
	if err != nil {
		return nil, fmt.Errorf("ga: %v", err)
	}
	err = ga.Minimize(func(r *randv1.Rand) eaopt.Genome {
		x := make([]float64, p.Dim)
		for i := range x {
			x[i] = p.Lower[i] + r.Float64()*(p.Upper[i]-p.Lower[i])
		}
		return &gaGenome{x: x, ops: ops}
	})
	if err == nil {
		err = fmt.Errorf("ga: eaopt stopped before the budget was spent")
	}
	return nil, err
}

// gaOps is what every genome of one run shares.
type gaOps struct {
	ctx      context.Context
	p        Problem
	obj      Objective
	steps    []float64
	geneRate float64
}

type gaGenome struct {
	x   []float64
	ops *gaOps
}

// Evaluate scores the genome through the harness's objective.
func (g *gaGenome) Evaluate() (float64, error) { return g.ops.obj.Eval(g.ops.ctx, g.x) }

// Mutate adds Gaussian noise to some genes (at least one) and clips.
func (g *gaGenome) Mutate(r *randv1.Rand) {
	moved := false
	for i := range g.x {
		if r.Float64() < g.ops.geneRate {
			g.x[i] += g.ops.steps[i] * r.NormFloat64()
			moved = true
		}
	}
	if !moved {
		i := r.Intn(len(g.x))
		g.x[i] += g.ops.steps[i] * r.NormFloat64()
	}
	g.ops.p.Clip(g.x)
}

// Crossover changes only the receiver: each gene is taken from the mate
// with probability ½ (see the type's comment for why).
func (g *gaGenome) Crossover(mate eaopt.Genome, r *randv1.Rand) {
	m := mate.(*gaGenome)
	for i := range g.x {
		if r.Float64() < 0.5 {
			g.x[i] = m.x[i]
		}
	}
}

// Clone deep-copies the genome.
func (g *gaGenome) Clone() eaopt.Genome {
	return &gaGenome{x: append([]float64(nil), g.x...), ops: g.ops}
}

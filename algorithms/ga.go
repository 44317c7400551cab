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
		Pop:        func(int) int { return gaPop },
		Grid:       map[string][]string{"pop": {"10", "20", "40"}, "mut-rate": {"0.5", "0.8", "1"}, "sigma": {"0.05", "0.1", "0.2"}},
		New: func() Optimizer {
			return &GA{Pop: 20, Tournament: 3, CrossRate: 0.7, MutRate: 0.8, Sigma: 0.1}
		},
	})
}

// gaPop is the population of GA when Pop is 0.
const gaPop = 20

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
	Pop        int     // population size, ≥ 2; 0 means 20
	Tournament int     // contestants per tournament, in [1, pop]; 0 means 3
	CrossRate  float64 // probability that a selected pair is crossed, in [0, 1]
	MutRate    float64 // probability that an offspring is mutated, in [0, 1]
	GeneRate   float64 // probability that a gene of a mutated offspring moves, in (0, 1]; 0 means max(1/n, ¼)
	Sigma      float64 // mutation step as a fraction of the box width, finite and > 0; 0 means 0.1

	phases
}

var _ PhaseCounter = (*GA)(nil)

// Flags registers the hyperparameters.
func (g *GA) Flags(fs *flag.FlagSet) {
	fs.IntVar(&g.Pop, "pop", g.Pop, "population size (≥ 2); 0 means 20")
	fs.IntVar(&g.Tournament, "tournament", g.Tournament, "contestants per tournament selection, in [1, pop]; 0 means 3")
	fs.Float64Var(&g.CrossRate, "cross-rate", g.CrossRate, "probability that a selected pair is crossed, in [0,1]")
	fs.Float64Var(&g.MutRate, "mut-rate", g.MutRate, "probability that an offspring is mutated, in [0,1]")
	fs.Float64Var(&g.GeneRate, "gene-rate", g.GeneRate, "probability that a gene of a mutated offspring moves, in (0,1]; 0 means max(1/n, 0.25)")
	fs.Float64Var(&g.Sigma, "sigma", g.Sigma, "mutation step as a fraction of the box width (> 0); 0 means 0.1")
}

// Minimize implements Optimizer.
func (g *GA) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	g.phases.reset()
	pop, tour, geneRate, sigma := g.Pop, g.Tournament, g.GeneRate, g.Sigma
	if pop == 0 {
		pop = gaPop
	}
	if tour == 0 {
		tour = 3
	}
	if geneRate == 0 {
		geneRate = max(1/float64(p.Dim), 0.25)
	}
	if sigma == 0 {
		sigma = 0.1
	}
	switch {
	case pop < 2:
		return nil, fmt.Errorf("ga: pop %d: must be ≥ 2 (0 means 20)", g.Pop)
	case tour < 1 || tour > pop:
		return nil, fmt.Errorf("ga: tournament %d: must lie in [1, pop = %d] (0 means 3)", g.Tournament, pop)
	case !(g.CrossRate >= 0 && g.CrossRate <= 1):
		return nil, fmt.Errorf("ga: cross-rate %g: must lie in [0, 1]", g.CrossRate)
	case !(g.MutRate >= 0 && g.MutRate <= 1):
		return nil, fmt.Errorf("ga: mut-rate %g: must lie in [0, 1]", g.MutRate)
	case !(geneRate > 0 && geneRate <= 1):
		return nil, fmt.Errorf("ga: gene-rate %g: must lie in (0, 1] (0 means max(1/n, 0.25))", g.GeneRate)
	case !(sigma > 0) || math.IsInf(sigma, 0):
		return nil, fmt.Errorf("ga: sigma %g: must be finite and > 0 (0 means 0.1)", g.Sigma)
	}
	// eaopt keeps the population, the offspring and their clones.
	if err := checkMemory("ga", fmt.Sprintf("pop %d in dimension %d", pop, p.Dim), "the population and its offspring", 3*float64(pop)*float64(p.Dim+8)); err != nil {
		return nil, err
	}
	steps := make([]float64, p.Dim)
	for i := range steps {
		steps[i] = sigma * (p.Upper[i] - p.Lower[i])
	}
	ops := &gaOps{ctx: ctx, p: p, obj: obj, steps: steps, geneRate: geneRate, pop: pop, phases: &g.phases}
	cfg := eaopt.GAConfig{
		NPops:        1,
		PopSize:      uint(pop),
		NGenerations: math.MaxUint32,
		HofSize:      1,
		Model: eaopt.ModGenerational{
			Selector:  eaopt.SelTournament{NContestants: uint(tour)},
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
	pop      int     // the first pop evaluations are the uniform initial population
	phases   *phases // counts the evaluations of each phase
}

type gaGenome struct {
	x   []float64
	ops *gaOps
}

// Evaluate scores the genome through the harness's objective.
func (g *gaGenome) Evaluate() (float64, error) {
	f, err := g.ops.obj.Eval(g.ops.ctx, g.x)
	if err == nil {
		c := g.ops.phases
		c.count(c.initial < g.ops.pop && c.model == 0)
	}
	return f, err
}

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

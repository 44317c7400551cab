package algorithms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"math"
	randv1 "math/rand"
	"math/rand/v2"

	"slices"

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
		Batch:      BatchGeneration,
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
//     derived from the run's generator and never use ParallelEval.
//
// Several evaluation slots (BatchGeneration): eaopt evaluates a generation
// one genome at a time and needs each loss before it asks for the next, so
// its loop runs as a coroutine (iter.Pull) whose first Evaluate of a
// generation hands the generation's unscored genomes to Drive, which
// scores them as slots free up; the loop then resumes with every loss
// known. eaopt's own code and order are unchanged: its public Model
// interface (gaBatches, which notes the offspring its generational model
// left unevaluated) and Genome interface are all this uses. The next
// generation is bred from the whole scored population, so it waits for a
// generation's last loss.
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
	ops := &gaOps{p: p, steps: steps, geneRate: geneRate}
	cfg := eaopt.GAConfig{
		NPops:        1,
		PopSize:      uint(pop),
		NGenerations: math.MaxUint32,
		HofSize:      1,
		Model: gaBatches{
			ModGenerational: eaopt.ModGenerational{
				Selector:  eaopt.SelTournament{NContestants: uint(tour)},
				MutRate:   g.MutRate,
				CrossRate: g.CrossRate,
			},
			ops: ops,
		},
		RNG: randv1.New(randv1.NewSource(int64(rng.Uint64() >> 1))),
	}
	ga, err := cfg.NewGA()
	if err != nil {
		return nil, fmt.Errorf("ga: %v", err)
	}
	// eaopt's loop runs as a coroutine (iter.Pull: no goroutine runs at
	// the same time as this one, so the run is as deterministic as a
	// plain loop) that yields each generation's unscored genomes, and
	// Drive scores them as a generation.
	var end error // why eaopt's loop returned
	next, stop := iter.Pull(func(yield func([]*gaGenome) bool) {
		ops.yield = yield
		end = ga.Minimize(func(r *randv1.Rand) eaopt.Genome {
			x := make([]float64, p.Dim)
			for i := range x {
				x[i] = p.Lower[i] + r.Float64()*(p.Upper[i]-p.Lower[i])
			}
			gn := &gaGenome{x: x, ops: ops}
			ops.pending = append(ops.pending, gn)
			return gn
		})
	})
	defer stop()
	st := &gaStepper{next: next, ph: &g.phases}
	err = Drive(ctx, st, obj, rng)
	if st.ended {
		if end == nil {
			return nil, errors.New("ga: eaopt stopped before the budget was spent")
		}
		return nil, fmt.Errorf("ga: %v", end)
	}
	return nil, err
}

// errGAStopped ends eaopt's loop when the run is over.
var errGAStopped = errors.New("ga: run ended")

// gaStepper hands out the generations eaopt's loop yields: Ask resumes
// the loop until it yields the next generation's unscored genomes, Tell
// stores their losses where the loop reads them.
type gaStepper struct {
	next  func() ([]*gaGenome, bool)
	batch []*gaGenome
	gen   int // generations asked
	ended bool
	ph    *phases
}

func (s *gaStepper) Ask(*rand.Rand) [][]float64 {
	batch, ok := s.next()
	if !ok {
		s.batch, s.ended = nil, true
		return nil
	}
	s.batch = batch
	s.gen++
	xs := make([][]float64, len(batch))
	for i, gn := range batch {
		xs[i] = slices.Clone(gn.x)
	}
	return xs
}

func (s *gaStepper) tellMember(int) { s.ph.count(s.gen == 1) }

func (s *gaStepper) Tell(xs [][]float64, fs []float64) {
	for i, gn := range s.batch {
		gn.f, gn.scored = fs[i], true
	}
}

// gaOps is what every genome of one run shares.
type gaOps struct {
	p        Problem
	steps    []float64
	geneRate float64
	// pending are the genomes eaopt will evaluate next, in the order it
	// will: the initial population as it is created, then each
	// generation's offspring that need an evaluation (gaBatches).
	pending []*gaGenome
	yield   func([]*gaGenome) bool
}

// gaBatches is eaopt's generational model followed by a note of the
// offspring eaopt will evaluate, so that they are scored as one
// generation (eaopt evaluates the individuals whose Evaluated flag its
// operators cleared, in population order).
type gaBatches struct {
	eaopt.ModGenerational
	ops *gaOps
}

// Apply implements eaopt.Model.
func (m gaBatches) Apply(pop *eaopt.Population) error {
	if err := m.ModGenerational.Apply(pop); err != nil {
		return err
	}
	for _, indi := range pop.Individuals {
		if !indi.Evaluated {
			m.ops.pending = append(m.ops.pending, indi.Genome.(*gaGenome))
		}
	}
	return nil
}

type gaGenome struct {
	x      []float64
	f      float64
	scored bool // f is the loss of x
	ops    *gaOps
}

// Evaluate returns the genome's loss. The first Evaluate of a generation
// yields the generation's pending genomes to the driver, which scores
// them all before the loop resumes.
func (g *gaGenome) Evaluate() (float64, error) {
	if !g.scored {
		ops := g.ops
		batch := ops.pending
		ops.pending = nil
		if !ops.yield(batch) {
			return 0, errGAStopped
		}
		if !g.scored {
			return 0, errors.New("ga: eaopt evaluated a genome outside the generation it was scored with")
		}
	}
	return g.f, nil
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
	g.scored = false
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
	g.scored = false
}

// Clone deep-copies the genome with its loss.
func (g *gaGenome) Clone() eaopt.Genome {
	return &gaGenome{x: append([]float64(nil), g.x...), f: g.f, scored: g.scored, ops: g.ops}
}

package algorithms

import (
	"context"
	"flag"
	"math/rand/v2"
)

func init() {
	RegisterMulti(MultiEntry{
		Name:        "mo-random",
		Summary:     "uniform random search in the box; its front is the non-dominated set of what it sampled, the baseline every multi-objective method must beat",
		Constraints: "none in the search (nothing to steer); the floors act on the final front, as for every method (constrained domination of the observed scores)",
		Batch:       BatchAsync,
		New:         func() MultiOptimizer { return &MORandom{} },
	})
}

// MORandom samples the box uniformly, one independent point per free
// slot: the multi-objective form of random search.
type MORandom struct{}

// Flags registers no hyperparameter: random search has none that changes
// its search.
func (*MORandom) Flags(*flag.FlagSet) {}

// MinimizeMulti implements MultiOptimizer.
func (*MORandom) MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return DriveMulti(ctx, &moRandomAsker{p: p.Problem}, pool, rng)
}

type moRandomAsker struct {
	p  Problem
	id int
}

func (a *moRandomAsker) AskK(rng *rand.Rand, k int) []Candidate {
	cs := make([]Candidate, k)
	for j := range cs {
		cs[j] = Candidate{ID: a.id, X: uniformIn(a.p, rng)}
		a.id++
	}
	return cs
}

func (a *moRandomAsker) TellVec(int, []float64) {}

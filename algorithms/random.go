package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
)

func init() {
	Register(Entry{
		Name:       "random",
		Summary:    "uniform random search in the box, the baseline every method must beat",
		Recommends: "best observed",
		PopParam:   "batch",
		Pop:        func(int) int { return randomBatch },
		New:        func() Optimizer { return &Random{Batch: randomBatch} },
		Batch:      BatchAsync,
	})
}

// randomBatch is the batch of Random when Batch is 0.
const randomBatch = 20

// Random samples the box uniformly. It is the honest baseline: at the
// budgets of real merges (20–100 evaluations) it is often hard to beat.
type Random struct {
	// Batch only groups evaluations into "generations" for progress lines;
	// it does not change the search. It must be ≥ 0; 0 means 20.
	Batch int
}

// Flags registers the hyperparameters.
func (r *Random) Flags(fs *flag.FlagSet) {
	fs.IntVar(&r.Batch, "batch", r.Batch, "evaluations per reported generation (does not change the search), ≥ 0; 0 means 20")
}

// Minimize implements Optimizer. The points are independent, so on a
// Pool every slot that frees up gets a new point at once (BatchAsync); on
// one slot the draws are those of the sequential loop.
func (r *Random) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if r.Batch < 0 {
		return nil, fmt.Errorf("random: batch %d: must be ≥ 0 (0 means 20)", r.Batch)
	}
	return nil, DriveAsync(ctx, &randomAsker{p: p}, PoolOf(obj), rng)
}

// randomAsker draws each candidate uniformly in the box.
type randomAsker struct {
	p  Problem
	id int
}

func (a *randomAsker) AskK(rng *rand.Rand, k int) []Candidate {
	cs := make([]Candidate, k)
	for j := range cs {
		x := make([]float64, a.p.Dim)
		for i := range x {
			x[i] = a.p.Lower[i] + rng.Float64()*(a.p.Upper[i]-a.p.Lower[i])
		}
		cs[j] = Candidate{ID: a.id, X: x}
		a.id++
	}
	return cs
}

func (a *randomAsker) TellID(int, float64) {}

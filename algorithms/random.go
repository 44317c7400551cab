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

// Minimize implements Optimizer.
func (r *Random) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if r.Batch < 0 {
		return nil, fmt.Errorf("random: batch %d: must be ≥ 0 (0 means 20)", r.Batch)
	}
	x := make([]float64, p.Dim)
	for {
		for i := range x {
			x[i] = p.Lower[i] + rng.Float64()*(p.Upper[i]-p.Lower[i])
		}
		if _, err := obj.Eval(ctx, x); err != nil {
			return nil, err
		}
	}
}

package algorithms

import (
	"context"
	"math/rand/v2"
)

// Stepper is an ask/tell optimiser: Ask proposes a batch of candidates and
// Tell receives their losses in the same order. Native methods are written
// this way because a batch can be scored by index, independent of
// scheduling; Drive turns a Stepper into Optimizer.Minimize.
type Stepper interface {
	Ask(rng *rand.Rand) [][]float64
	Tell(xs [][]float64, fs []float64)
}

// BatchObjective is an Objective that can score a whole batch at once,
// e.g. concurrently on several GPUs. EvalBatch returns the losses in the
// batch's order; on an error (budget spent part-way, a cancelled context)
// it returns the error and the batch is abandoned, as with Eval.
type BatchObjective interface {
	Objective
	EvalBatch(ctx context.Context, xs [][]float64) ([]float64, error)
}

// Drive runs s against obj until an evaluation fails, and returns that
// error. When obj is a BatchObjective each generation is scored in one
// EvalBatch call. A partly evaluated batch is discarded: the harness has
// already recorded each evaluation, so nothing the user sees is lost.
//
// When obj is a Pool (several slots, a simulated clock) the generation's
// members are handed out as slots free up (Generations and DriveAsync);
// with one slot that is the same sequence of samples and updates.
func Drive(ctx context.Context, s Stepper, obj Objective, rng *rand.Rand) error {
	if pool, ok := obj.(Pool); ok {
		return DriveAsync(ctx, Generations(s), pool, rng)
	}
	batch, _ := obj.(BatchObjective)
	for {
		xs := s.Ask(rng)
		if batch != nil {
			fs, err := batch.EvalBatch(ctx, xs)
			if err != nil {
				return err
			}
			s.Tell(xs, fs)
			continue
		}
		fs := make([]float64, len(xs))
		for i, x := range xs {
			f, err := obj.Eval(ctx, x)
			if err != nil {
				return err
			}
			fs[i] = f
		}
		s.Tell(xs, fs)
	}
}

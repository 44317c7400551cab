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

// Drive runs s against obj until an evaluation fails, and returns that
// error. A partly evaluated batch is discarded: the harness has already
// recorded each evaluation, so nothing the user sees is lost.
func Drive(ctx context.Context, s Stepper, obj Objective, rng *rand.Rand) error {
	for {
		xs := s.Ask(rng)
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

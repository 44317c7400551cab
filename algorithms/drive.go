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

// memberTeller is an optional interface of a Stepper: tellMember(i) is
// called when the loss of member i of the current generation has arrived,
// before the generation is complete and Tell is called. Steppers that
// count evaluated candidates (PhaseCounter) use it, because a run usually
// ends part-way through a generation and those evaluations count too.
type memberTeller interface {
	tellMember(i int)
}

// Drive runs s against obj until an evaluation fails, and returns that
// error. When obj is a BatchObjective each generation is scored in one
// EvalBatch call; a partly evaluated batch is discarded (the harness has
// already recorded each evaluation, so nothing the user sees is lost).
// Otherwise the generation's members are handed out through Generations
// and DriveAsync: as slots free up when obj is a Pool, one by one in
// generation order when it is a plain Objective.
func Drive(ctx context.Context, s Stepper, obj Objective, rng *rand.Rand) error {
	batch, ok := obj.(BatchObjective)
	if _, pool := obj.(Pool); pool || !ok {
		return DriveAsync(ctx, Generations(s), PoolOf(obj), rng)
	}
	mt, _ := s.(memberTeller)
	for {
		xs := s.Ask(rng)
		fs, err := batch.EvalBatch(ctx, xs)
		if err != nil {
			return err
		}
		if mt != nil {
			for i := range fs {
				mt.tellMember(i)
			}
		}
		s.Tell(xs, fs)
	}
}

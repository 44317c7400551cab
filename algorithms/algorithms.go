// Package algorithms holds the optimisers that evomerge compares.
//
// Every optimiser minimises. The harness (package bench) turns a score that
// should be maximised into a loss once, so no optimiser handles direction.
// The harness also owns the evaluation budget: an optimiser simply keeps
// calling Objective.Eval until it returns an error (budget spent, context
// cancelled, objective failed) and then returns that error. This is why no
// optimiser can miscount evaluations and why libraries that run their own
// loop (eaopt, gonum) fit the same interface as native ask/tell methods.
//
// When the objective is a Pool (several evaluation slots, e.g. GPUs), the
// native methods propose through Asker and DriveAsync: one candidate per
// free slot, losses told in the order evaluations finish. Entry.Batch says
// how each method fills the slots. With one slot every method asks for the
// same points with the same random draws as a plain loop would.
package algorithms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
)

// Objective is the function an optimiser minimises. Eval returns an error
// when the run must end; the optimiser must then stop and return that error.
type Objective interface {
	Eval(ctx context.Context, x []float64) (float64, error)
}

// Problem describes the search space of one run.
type Problem struct {
	// Dim is the number of parameters.
	Dim int
	// Lower and Upper delimit the box of interest; both have length Dim.
	Lower, Upper []float64
	// Bounded says the box is a constraint: the optimiser must never
	// evaluate a point outside it (merge weights, densities). When false
	// the box is only where start points are drawn and where methods that
	// need a finite region (random search) sample, as for COCO's functions.
	Bounded bool
	// X0 is the start point; nil means the centre of the box.
	X0 []float64
	// Sigma0 is the initial step size in absolute units; 0 means a method's
	// default (a fraction of the box width).
	Sigma0 float64
	// Budget is the number of evaluations the optimiser may use, 0 when
	// unknown. Methods size their start-up phase by it (a uniform design
	// of a few points must leave most of a small budget to the model) and
	// refuse a population that no generation within it could complete.
	// They never count evaluations themselves: the objective still ends
	// the run by refusing one.
	Budget int
}

// Validate reports a malformed problem.
func (p Problem) Validate() error {
	if p.Dim < 1 {
		return fmt.Errorf("problem dimension %d: must be at least 1", p.Dim)
	}
	if len(p.Lower) != p.Dim || len(p.Upper) != p.Dim {
		return fmt.Errorf("problem box has %d lower and %d upper bounds for dimension %d", len(p.Lower), len(p.Upper), p.Dim)
	}
	for i := range p.Lower {
		if !(p.Lower[i] < p.Upper[i]) {
			return fmt.Errorf("problem box: lower bound %g is not below upper bound %g in coordinate %d", p.Lower[i], p.Upper[i], i)
		}
	}
	if p.X0 != nil && len(p.X0) != p.Dim {
		return fmt.Errorf("problem start point has %d coordinates for dimension %d", len(p.X0), p.Dim)
	}
	if !(p.Sigma0 >= 0) || math.IsInf(p.Sigma0, 0) {
		return fmt.Errorf("problem sigma0 %g: must be finite and not negative", p.Sigma0)
	}
	if p.Budget < 0 {
		return fmt.Errorf("problem budget %d: must not be negative (0 means unknown)", p.Budget)
	}
	return nil
}

// Start returns a copy of the start point (the box centre when X0 is nil).
func (p Problem) Start() []float64 {
	x := make([]float64, p.Dim)
	if p.X0 != nil {
		copy(x, p.X0)
		return x
	}
	for i := range x {
		x[i] = (p.Lower[i] + p.Upper[i]) / 2
	}
	return x
}

// Width returns the mean width of the box, the scale of default step sizes.
func (p Problem) Width() float64 {
	s := 0.0
	for i := range p.Lower {
		s += p.Upper[i] - p.Lower[i]
	}
	return s / float64(p.Dim)
}

// Clip moves x into the box in place.
func (p Problem) Clip(x []float64) {
	for i := range x {
		x[i] = min(max(x[i], p.Lower[i]), p.Upper[i])
	}
}

// Optimizer is one configured optimisation method. A value is used for one
// run at a time; the registry makes a fresh value per run.
type Optimizer interface {
	// Minimize searches until obj.Eval returns an error and returns that
	// error together with the point the method recommends (its final
	// answer). A nil recommendation means "the best point observed", which
	// the harness tracks itself. rng is the only source of randomness.
	Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) (recommend []float64, err error)
	// Flags registers every hyperparameter on fs so that each can be set
	// by name (evomerge's --set alg.name=value) and printed with results.
	Flags(fs *flag.FlagSet)
}

// UnevaluatedRecommender is implemented by optimisers whose answer is a
// point they have usually never evaluated, such as a CMA-ES distribution
// mean. Such a point can score far worse than anything the run saw, so the
// harness never hands it over on trust: when RecommendsUnevaluated reports
// true for the configured optimiser, the harness reserves evaluations to
// score the answer beside the best observed point and ships the better of
// the two by fresh evaluations (bench.FinalCheck).
type UnevaluatedRecommender interface {
	RecommendsUnevaluated() bool
}

// ErrStop is returned by objectives to end a run; optimisers never need to
// test for it, they only propagate whatever Eval returns.
var ErrStop = errors.New("stop")

package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

// Multi-objective optimisation: a candidate has several losses (the
// negated scores of several tasks), and the answer is a set of trade-offs,
// not a point. The multi-objective methods live in a registry of their
// own (RegisterMulti), so that a single-objective comparison, `--algs all`
// included, never meets them: they need a vector of losses, and their
// answer is a front, which no single-objective table can rank. The
// harness for them is bench/multi.

// MultiProblem is the search space of one multi-objective run.
type MultiProblem struct {
	Problem
	// Objectives is the number of losses of every candidate (≥ 2).
	Objectives int
	// Limits are constraints on the losses, loss_i ≤ Limits[i] (a floor
	// on a task's score, negated); nil, or +Inf entries, constrain
	// nothing. Each method states how it handles them (MultiEntry.
	// Constraints); the total violation is pareto.Violation.
	Limits []float64
}

// Validate reports a malformed problem.
func (p MultiProblem) Validate() error {
	if err := p.Problem.Validate(); err != nil {
		return err
	}
	if p.Objectives < 2 {
		return fmt.Errorf("multi-objective problem with %d objectives: want at least 2", p.Objectives)
	}
	if p.Limits != nil && len(p.Limits) != p.Objectives {
		return fmt.Errorf("multi-objective problem: %d limits for %d objectives", len(p.Limits), p.Objectives)
	}
	for i, l := range p.Limits {
		if math.IsNaN(l) || math.IsInf(l, -1) {
			return fmt.Errorf("multi-objective problem: limit %d is %g", i, l)
		}
	}
	return nil
}

// violation is the candidate's total constraint violation.
func (p MultiProblem) violation(f []float64) float64 { return pareto.Violation(f, p.Limits) }

// MultiPool evaluates candidates on a number of slots and hands back each
// one's vector of losses, as Pool does for one loss. The harness owns the
// budget: Submit refuses past it.
type MultiPool interface {
	// Slots is how many candidates may be in flight at once (≥ 1).
	Slots() int
	// Submit starts evaluating c; an error means no evaluation may start.
	Submit(ctx context.Context, c Candidate) error
	// Next waits for an evaluation in flight and returns its candidate's
	// ID and losses (the optimiser may keep the slice). An error ends the
	// run at once.
	Next(ctx context.Context) (id int, losses []float64, err error)
}

// MultiAsker is a multi-objective Asker: it proposes candidates as slots
// free up and is told their loss vectors in any order.
type MultiAsker interface {
	AskK(rng *rand.Rand, k int) []Candidate
	TellVec(id int, losses []float64)
}

// MultiOptimizer is one configured multi-objective method. It searches
// until the pool refuses a submission, and returns that error; its answer
// is not a point but the evaluations themselves: the harness keeps every
// observed loss vector and reports their non-dominated set, the same rule
// for every method.
type MultiOptimizer interface {
	MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error
	Flags(fs *flag.FlagSet)
}

// MultiEntry describes one multi-objective method.
type MultiEntry struct {
	Name    string
	Summary string
	// Constraints says how the method handles MultiProblem.Limits.
	Constraints string
	// Batch is how it fills several slots (BatchAsync, BatchGeneration,
	// BatchOneSlot), as Entry.Batch.
	Batch string
	// Baseline marks a method that is not multi-objective itself but the
	// practice it is compared with (weighted sums).
	Baseline bool
	New      func() MultiOptimizer
}

var multiRegistry = map[string]MultiEntry{}

// RegisterMulti adds a multi-objective method; called from init
// functions, so a duplicate (also of a single-objective name) panics.
func RegisterMulti(e MultiEntry) {
	switch e.Batch {
	case BatchAsync, BatchGeneration, BatchOneSlot:
	default:
		panic(fmt.Sprintf("algorithms: %s registered with batch capability %q", e.Name, e.Batch))
	}
	if _, dup := multiRegistry[e.Name]; dup {
		panic("algorithms: duplicate registration of " + e.Name)
	}
	if _, dup := registry[e.Name]; dup {
		panic("algorithms: " + e.Name + " is already a single-objective method")
	}
	multiRegistry[e.Name] = e
}

// multiOrder is the order tables show the multi-objective methods in.
var multiOrder = []string{"nsga2", "mo-cmaes", "motpe", "mo-random", "ws-cmaes"}

// MultiNames returns every registered multi-objective method, the
// methods first and the weighted-sum baseline last.
func MultiNames() []string { return orderedNames(multiOrder, multiRegistry) }

// IsMulti reports whether name is a multi-objective method.
func IsMulti(name string) bool {
	_, ok := multiRegistry[name]
	return ok
}

// LookupMulti finds a multi-objective method by name.
func LookupMulti(name string) (MultiEntry, error) {
	e, ok := multiRegistry[name]
	if !ok {
		if _, single := registry[name]; single {
			return MultiEntry{}, fmt.Errorf("%s is a single-objective method: on several tasks it runs on their weighted sum (ws-cmaes does that for cmaes over several weightings); multi-objective methods: %s", name, strings.Join(MultiNames(), ", "))
		}
		return MultiEntry{}, fmt.Errorf("unknown multi-objective method %q (known: %s)", name, strings.Join(MultiNames(), ", "))
	}
	return e, nil
}

// ConfigureMulti is Configure for a multi-objective method.
func ConfigureMulti(name string, settings map[string]string) (MultiOptimizer, []Param, error) {
	e, err := LookupMulti(name)
	if err != nil {
		return nil, nil, err
	}
	opt := e.New()
	params, err := applySettings(name, opt.Flags, settings)
	if err != nil {
		return nil, nil, err
	}
	return opt, params, nil
}

// DriveMulti runs a against pool as DriveAsync does for one loss: every
// free slot gets a candidate, each loss vector is told as it comes back,
// and the error that ended the run is returned once the evaluations in
// flight are told.
func DriveMulti(ctx context.Context, a MultiAsker, pool MultiPool, rng *rand.Rand) error {
	return driveSlots(ctx, a.AskK, a.TellVec, pool.Slots(), pool.Submit, pool.Next, rng)
}

// MultiStepper is a generational multi-objective method: Ask proposes a
// generation, Tell receives its loss vectors in the same order.
type MultiStepper interface {
	Ask(rng *rand.Rand) [][]float64
	Tell(xs [][]float64, fs [][]float64)
}

// MultiGenerations turns a MultiStepper into a MultiAsker as Generations
// does for one loss: a generation's members fill the slots as they free
// up, and the next generation is asked once all of its losses are back.
func MultiGenerations(s MultiStepper) MultiAsker { return &multiGenerations{s: s} }

type multiGenerations struct {
	s        MultiStepper
	xs       [][]float64
	fs       [][]float64
	base     int
	next     int
	told     int
	received []bool
}

func (g *multiGenerations) AskK(rng *rand.Rand, k int) []Candidate {
	if g.next == len(g.xs) {
		if g.told < len(g.xs) {
			return nil
		}
		g.base += len(g.xs)
		g.xs = g.s.Ask(rng)
		if len(g.xs) == 0 {
			return nil
		}
		g.fs = make([][]float64, len(g.xs))
		g.received = make([]bool, len(g.xs))
		g.next, g.told = 0, 0
	}
	n := min(k, len(g.xs)-g.next)
	cs := make([]Candidate, n)
	for i := range cs {
		cs[i] = Candidate{ID: g.base + g.next + i, X: g.xs[g.next+i]}
	}
	g.next += n
	return cs
}

func (g *multiGenerations) TellVec(id int, losses []float64) {
	i := id - g.base
	if i < 0 || i >= g.next || g.received[i] {
		panic(fmt.Sprintf("algorithms: TellVec(%d) is not a pending member of this generation", id))
	}
	g.fs[i], g.received[i] = losses, true
	g.told++
	if g.told == len(g.xs) {
		g.s.Tell(g.xs, g.fs)
	}
}

// uniformIn draws a point uniformly in the box of p.
func uniformIn(p Problem, rng *rand.Rand) []float64 {
	x := make([]float64, p.Dim)
	for i := range x {
		x[i] = p.Lower[i] + rng.Float64()*(p.Upper[i]-p.Lower[i])
	}
	return x
}

// Package objectives defines the functions evomerge optimises: the mock
// merge objective of the original simulator and COCO's classic test
// functions. Every objective knows its true (noise-free) value, so the
// harness can report what an optimiser really found apart from what it
// observed through the noise.
package objectives

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Sense says whether larger or smaller values are better.
type Sense int

const (
	// Maximize is for scores (accuracy, the mock merge score).
	Maximize Sense = iota
	// Minimize is for losses (the classic test functions).
	Minimize
)

func (s Sense) String() string {
	if s == Maximize {
		return "maximize"
	}
	return "minimize"
}

// Value is one evaluation: what the optimiser sees and the truth.
type Value struct {
	Observed float64
	True     float64
}

// Box is the region of interest of an objective.
type Box struct {
	Lower, Upper []float64
	// Constraint is true when no candidate may leave the box (merge
	// parameters). When false the box is only where shifts and start points
	// are drawn and where random search samples (COCO's functions, which are
	// defined on all of R^n).
	Constraint bool
}

// Function is an objective of known truth. It must be safe for concurrent
// use: the runs of a comparison share one objective, each with its own
// noise source.
type Function interface {
	// Name identifies the objective in tables and records.
	Name() string
	// Dim is the number of parameters.
	Dim() int
	// Box is the region of interest.
	Box() Box
	// Sense says which direction is better.
	Sense() Sense
	// Evaluate scores x, drawing any noise from rng. It must not keep x.
	Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (Value, error)
	// True is the noise-free value of x, an oracle call the harness uses
	// to score recommendations; it is never counted as an evaluation.
	True(x []float64) float64
	// Best is the optimal true value (100 for the mock score, f_opt for
	// the classic functions).
	Best() float64
	// DefaultTarget is the target in the objective's own terms: a score to
	// reach for score objectives, a precision f - f_opt for losses.
	DefaultTarget() float64
}

// Reached reports whether the true value v meets target, read in the
// objective's terms: a score at least target when maximising, a precision
// v - Best() at most target when minimising.
func Reached(f Function, v, target float64) bool {
	if f.Sense() == Maximize {
		return v >= target
	}
	return v-f.Best() <= target
}

// Spec names an objective and its configuration; New builds it. A Spec is
// what users type on the command line or in a config file.
type Spec struct {
	// Name is mock, sphere, ellipsoid, rosenbrock or rastrigin.
	Name string
	// Dim is the number of parameters.
	Dim int
	// Noise is the standard deviation of additive Gaussian noise.
	Noise float64
	// Items, when positive, scores the mock objective as an accuracy on a
	// benchmark of that many items (binomial noise).
	Items int
	// Optimum fixes the mock objective's optimum; nil draws it from Seed.
	Optimum []float64
	// Seed draws whatever the objective needs at random (the optimum, the
	// shift of a classic function).
	Seed uint64
	// Landscape shapes the mock objective (see Landscapes); "" is peak.
	Landscape string `json:",omitempty"`
	// NoiseModel adds one of COCO's noise models (see NoiseModels).
	NoiseModel string `json:",omitempty"`
	// FailRate is the probability that an evaluation fails.
	FailRate float64 `json:",omitempty"`
	// Width is the mock peak's width per coordinate (0: 0.25).
	Width float64 `json:",omitempty"`
	// ItemModel says how the mock's Items are drawn: "" afresh for every
	// evaluation, "fixed" or "fixed:RHO" one fixed list (ParseItemModel).
	ItemModel string `json:",omitempty"`
	// Options configure objectives registered by other packages (e.g.
	// mnist-merge's method=ties), as name=value pairs.
	Options map[string]string `json:",omitempty"`
}

// HeldOuter is implemented by objectives that can re-score a point on
// items never used during the search (a real benchmark's test split), the
// figure a final report should quote.
type HeldOuter interface {
	HeldOut(x []float64) float64
}

// TruthUnknown is implemented by objectives that know no noise-free value:
// a real evaluator's scores are all there is. Their Value.True and True
// are NaN, Best and DefaultTarget mean nothing, and the harness records
// no true values for them (no trace, no target reached) instead of
// refusing the NaN as a broken objective.
type TruthUnknown interface {
	TruthUnknown() bool
}

// KnowsTruth reports whether f knows its noise-free values.
func KnowsTruth(f Function) bool {
	t, ok := f.(TruthUnknown)
	return !ok || !t.TruthUnknown()
}

// Builder builds an objective from a Spec.
type Builder func(Spec) (Function, error)

var builders = map[string]Builder{}

// Register makes an objective of another package available to New under a
// name (the real-merge objective registers "mnist-merge"); it is called
// from init functions, so a duplicate panics.
func Register(name string, b Builder) {
	if _, dup := builders[name]; dup || name == "mock" {
		panic("objectives: duplicate registration of " + name)
	}
	builders[name] = b
}

// Names lists the objectives New knows.
func Names() []string {
	names := []string{"mock", "sphere", "ellipsoid", "rosenbrock", "rastrigin"}
	var extra []string
	for n := range builders {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	return append(names, extra...)
}

// New builds the objective a Spec describes.
func New(s Spec) (Function, error) {
	if b, ok := builders[s.Name]; ok {
		return b(s)
	}
	switch s.Name {
	case "mock", "sphere", "ellipsoid", "rosenbrock", "rastrigin":
	default:
		return nil, fmt.Errorf("unknown objective %q (known: %s)", s.Name, strings.Join(Names(), ", "))
	}
	if len(s.Options) > 0 {
		return nil, fmt.Errorf("objective %s takes no options (got %v)", s.Name, s.Options)
	}
	if s.Dim < 1 {
		return nil, fmt.Errorf("objective %s: dimension %d must be at least 1", s.Name, s.Dim)
	}
	if s.Noise < 0 || s.Noise != s.Noise {
		return nil, fmt.Errorf("objective %s: noise %g must be a non-negative number", s.Name, s.Noise)
	}
	if s.Items < 0 {
		return nil, fmt.Errorf("objective %s: items %d must not be negative", s.Name, s.Items)
	}
	if s.Name != "mock" {
		if s.Items > 0 {
			return nil, fmt.Errorf("objective %s: --items applies only to score objectives (mock)", s.Name)
		}
		if s.Optimum != nil {
			return nil, fmt.Errorf("objective %s: --optimum applies only to the mock objective", s.Name)
		}
		if s.Landscape != "" || s.NoiseModel != "" || s.FailRate != 0 || s.Width != 0 || s.ItemModel != "" {
			return nil, fmt.Errorf("objective %s: landscapes, noise models, item models and failure rates apply only to the mock objective", s.Name)
		}
	}
	switch s.Name {
	case "mock":
		return NewMock(MockConfig{Dim: s.Dim, Noise: s.Noise, Items: s.Items, Optimum: s.Optimum, Seed: s.Seed,
			Landscape: s.Landscape, NoiseModel: s.NoiseModel, FailRate: s.FailRate, Width: s.Width, ItemModel: s.ItemModel})
	case "sphere", "ellipsoid", "rosenbrock", "rastrigin":
		return NewClassic(s.Name, s.Dim, s.Noise, s.Seed)
	}
	return nil, fmt.Errorf("unknown objective %q (known: %s)", s.Name, strings.Join(Names(), ", "))
}

// seededRand returns a PCG source for a seed and a stream label, so that
// different uses of one seed never share random numbers.
func seededRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

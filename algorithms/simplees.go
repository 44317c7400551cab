package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

func init() {
	Register(Entry{
		Name:       "simple-es",
		Summary:    "the original simulator's evolution strategy: keep the elites, mutate them with a shrinking Gaussian step",
		Recommends: "best observed",
		PopParam:   "pop",
		Pop:        func(int) int { return esPop },
		Grid:       map[string][]string{"pop": {"10", "20", "40"}, "elite": {"0.1", "0.2", "0.4"}, "sigma": {"0.1", "0.2", "0.3"}},
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &SimpleES{Pop: 20, EliteFrac: 0.2, Sigma: 0.2, Decay: 0.95, MinSigma: 0.005} },
	})
}

// esPop is the population of SimpleES when Pop is 0.
const esPop = 20

// SimpleES is the evolution strategy of the original Python simulator.
// Generation 0 is Pop points drawn uniformly in the box. Each following
// generation keeps the best ⌈EliteFrac·Pop⌉ members (elitism: they keep
// their scores and are not re-evaluated) and fills the population with
// children, each an elite chosen in turn plus Gaussian noise of step σ_g,
// clipped into the box when the box is a constraint.
//
// Step-size schedule: σ_g = max(Sigma · Decay^g, MinSigma), in units of the
// box width, so the search narrows geometrically from a broad exploration
// (20% of the box) to a fine one (0.5%) by generation ~70. It has no
// adaptation: that simplicity is what the comparison is about.
//
// A zero field means its documented default (the registry's values), so
// the zero SimpleES is the default strategy; a value outside a field's
// domain is an error naming it, never corrected silently.
type SimpleES struct {
	Pop       int     // population size, ≥ 2; 0 means 20
	EliteFrac float64 // fraction of the population kept as parents, in (0, 1) leaving at least one child; 0 means 0.2
	Sigma     float64 // initial step, as a fraction of the box width, finite and > 0; 0 means 0.2
	Decay     float64 // step multiplier per generation, in (0, 1]; 0 means 0.95
	MinSigma  float64 // step floor, as a fraction of the box width, finite and ≥ 0 (0: no floor)

	phases
}

var _ PhaseCounter = (*SimpleES)(nil)

// Flags registers the hyperparameters.
func (s *SimpleES) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Pop, "pop", s.Pop, "population size (≥ 2); 0 means 20")
	fs.Float64Var(&s.EliteFrac, "elite", s.EliteFrac, "fraction of the population kept as elites, in (0,1), leaving at least one child; 0 means 0.2")
	fs.Float64Var(&s.Sigma, "sigma", s.Sigma, "initial mutation step as a fraction of the box width (> 0); 0 means 0.2")
	fs.Float64Var(&s.Decay, "decay", s.Decay, "step multiplier per generation, in (0,1]; 0 means 0.95")
	fs.Float64Var(&s.MinSigma, "min-sigma", s.MinSigma, "step floor as a fraction of the box width (≥ 0; 0 is no floor)")
}

// esOptions are SimpleES's settings resolved for one run.
type esOptions struct {
	pop, elites         int
	sigma, decay, floor float64 // sigma and floor in absolute units
}

// options resolves the defaults and validates every setting for p.
func (s *SimpleES) options(p Problem) (esOptions, error) {
	o := esOptions{pop: s.Pop, decay: s.Decay}
	frac, sigma := s.EliteFrac, s.Sigma
	if o.pop == 0 {
		o.pop = esPop
	}
	if frac == 0 {
		frac = 0.2
	}
	if sigma == 0 {
		sigma = 0.2
	}
	if o.decay == 0 {
		o.decay = 0.95
	}
	switch {
	case o.pop < 2:
		return o, fmt.Errorf("simple-es: pop %d: must be ≥ 2 (0 means 20)", s.Pop)
	case !(frac > 0 && frac < 1):
		return o, fmt.Errorf("simple-es: elite %g: must lie in (0, 1) (0 means 0.2)", s.EliteFrac)
	case !(sigma > 0) || math.IsInf(sigma, 0):
		return o, fmt.Errorf("simple-es: sigma %g: must be finite and > 0 (0 means 0.2)", s.Sigma)
	case !(o.decay > 0 && o.decay <= 1):
		return o, fmt.Errorf("simple-es: decay %g: must lie in (0, 1] (0 means 0.95)", s.Decay)
	case !(s.MinSigma >= 0) || math.IsInf(s.MinSigma, 0):
		return o, fmt.Errorf("simple-es: min-sigma %g: must be finite and ≥ 0", s.MinSigma)
	}
	o.elites = int(math.Ceil(frac * float64(o.pop)))
	if o.elites > o.pop-1 {
		return o, fmt.Errorf("simple-es: elite %g with pop %d keeps all %d members and leaves no child: must be at most 1 − 1/pop", frac, o.pop, o.pop)
	}
	if err := checkMemory("simple-es", fmt.Sprintf("pop %d in dimension %d", o.pop, p.Dim), "the population", float64(o.pop)*float64(p.Dim+4)); err != nil {
		return o, err
	}
	width := p.Width()
	o.sigma = sigma * width
	if p.Sigma0 > 0 {
		o.sigma = p.Sigma0
	}
	o.floor = s.MinSigma * width
	return o, nil
}

// Minimize implements Optimizer. Problem.Sigma0, when set, replaces the
// initial step (then in absolute units). On a Pool a generation's members
// fill the slots (BatchGeneration): the next generation is bred from the
// sorted members, so it waits for all of them.
func (s *SimpleES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	s.phases.reset()
	o, err := s.options(p)
	if err != nil {
		return nil, err
	}
	return nil, Drive(ctx, &esStepper{p: p, o: o, ph: &s.phases}, obj, rng)
}

// esMember is one member of SimpleES's population with its loss.
type esMember struct {
	x []float64
	f float64
}

// esStepper is one run of SimpleES as a Stepper: generation 0 is uniform,
// every later one the children of the elites.
type esStepper struct {
	p       Problem
	o       esOptions
	ph      *phases
	members []esMember
	g       int // generations told
}

func (e *esStepper) Ask(rng *rand.Rand) [][]float64 {
	p, o := e.p, e.o
	if e.g == 0 {
		xs := make([][]float64, o.pop)
		for k := range xs {
			x := make([]float64, p.Dim)
			for i := range x {
				x[i] = p.Lower[i] + rng.Float64()*(p.Upper[i]-p.Lower[i])
			}
			xs[k] = x
		}
		return xs
	}
	step := max(o.sigma*math.Pow(o.decay, float64(e.g-1)), o.floor)
	xs := make([][]float64, o.pop-o.elites)
	for k := range xs {
		parent := e.members[k%o.elites].x
		x := make([]float64, p.Dim)
		for i := range x {
			x[i] = parent[i] + step*rng.NormFloat64()
		}
		if p.Bounded {
			p.Clip(x)
		}
		xs[k] = x
	}
	return xs
}

func (e *esStepper) tellMember(int) { e.ph.count(e.g == 0) }

func (e *esStepper) Tell(xs [][]float64, fs []float64) {
	next := e.members[:min(len(e.members), e.o.elites)]
	for k, x := range xs {
		next = append(next, esMember{x, fs[k]})
	}
	e.members = next
	sort.SliceStable(e.members, func(a, b int) bool { return e.members[a].f < e.members[b].f })
	e.g++
}

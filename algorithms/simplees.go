package algorithms

import (
	"context"
	"flag"
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
		New:        func() Optimizer { return &SimpleES{Pop: 20, EliteFrac: 0.2, Sigma: 0.2, Decay: 0.95, MinSigma: 0.005} },
	})
}

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
type SimpleES struct {
	Pop       int     // population size
	EliteFrac float64 // fraction of the population kept as parents
	Sigma     float64 // initial step, as a fraction of the box width
	Decay     float64 // step multiplier per generation
	MinSigma  float64 // step floor, as a fraction of the box width
}

// Flags registers the hyperparameters.
func (s *SimpleES) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Pop, "pop", s.Pop, "population size (≥ 2)")
	fs.Float64Var(&s.EliteFrac, "elite", s.EliteFrac, "fraction of the population kept as elites, in (0,1)")
	fs.Float64Var(&s.Sigma, "sigma", s.Sigma, "initial mutation step as a fraction of the box width")
	fs.Float64Var(&s.Decay, "decay", s.Decay, "step multiplier per generation, in (0,1]")
	fs.Float64Var(&s.MinSigma, "min-sigma", s.MinSigma, "step floor as a fraction of the box width")
}

// Minimize implements Optimizer. Problem.Sigma0, when set, replaces the
// initial step (then in absolute units).
func (s *SimpleES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	pop := max(s.Pop, 2)
	elites := int(math.Ceil(min(max(s.EliteFrac, 0), 1) * float64(pop)))
	elites = min(max(elites, 1), pop-1)
	width := p.Width()
	sigma := s.Sigma * width
	if p.Sigma0 > 0 {
		sigma = p.Sigma0
	}
	floor := s.MinSigma * width
	decay := s.Decay
	if !(decay > 0 && decay <= 1) {
		decay = 1
	}
	type member struct {
		x []float64
		f float64
	}
	members := make([]member, 0, pop)
	for range pop {
		x := make([]float64, p.Dim)
		for i := range x {
			x[i] = p.Lower[i] + rng.Float64()*(p.Upper[i]-p.Lower[i])
		}
		f, err := obj.Eval(ctx, x)
		if err != nil {
			return nil, err
		}
		members = append(members, member{x, f})
	}
	for g := 1; ; g++ {
		sort.SliceStable(members, func(a, b int) bool { return members[a].f < members[b].f })
		step := max(sigma*math.Pow(decay, float64(g-1)), floor)
		next := members[:elites]
		for k := 0; len(next) < pop; k++ {
			parent := members[k%elites].x
			x := make([]float64, p.Dim)
			for i := range x {
				x[i] = parent[i] + step*rng.NormFloat64()
			}
			if p.Bounded {
				p.Clip(x)
			}
			f, err := obj.Eval(ctx, x)
			if err != nil {
				return nil, err
			}
			next = append(next, member{x, f})
		}
		members = next
	}
}

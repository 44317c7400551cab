package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

func init() {
	Register(Entry{
		Name:       "pso",
		Summary:    "particle swarm optimisation SPSO-2011 (Clerc 2012): hypersphere moves, adaptive random topology, clamped to the box",
		Recommends: "best observed",
		PopParam:   "pop",
		Pop:        psoPop,
		Grid:       map[string][]string{"pop": {"0", "10", "20", "40"}},
		Batch:      BatchGeneration,
		New: func() Optimizer {
			return &PSO{W: 1 / (2 * math.Ln2), C: 0.5 + math.Ln2, K: 3}
		},
	})
}

// psoPop is the swarm size of PSO when Pop is 0: 10 + ⌊2√n⌋ (see PSO).
func psoPop(n int) int { return 10 + int(2*math.Sqrt(float64(n))) }

// PSO is the Standard Particle Swarm Optimisation 2011 of M. Clerc,
// "Standard Particle Swarm Optimisation" (2012, hal-00764996), analysed by
// M. Zambrano-Bigiarini, M. Clerc and R. Rojas, "Standard Particle Swarm
// Optimisation 2011 at CEC-2013", IEEE CEC 2013:
//
//   - positions start uniform in the box, velocities v_d ~ U(l_d−x_d, u_d−x_d);
//   - for particle x with previous best p and best informant's best l, the
//     centre of gravity is G = x + C·(p + l − 2x)/3 (G = x + C·(p − x)/2
//     when the particle is its own best informant); x' is uniform in the
//     ball of centre G and radius ‖G − x‖; v ← W·v + x' − x, x ← x + v.
//     The ball makes the update rotation invariant, unlike the per-
//     coordinate random factors of the older PSOs;
//   - W = 1/(2 ln 2) ≈ 0.721, C = ½ + ln 2 ≈ 1.193;
//   - adaptive random topology: each particle informs itself and K = 3
//     others drawn at random; the links are redrawn after every iteration
//     in which the best score of the swarm did not improve.
//
// Updates are synchronous: every particle moves using the bests known at
// the start of the iteration, then the swarm is evaluated in order. On
// several evaluation slots an iteration's particles fill the slots as they
// free up and the next iteration waits for the last of them
// (BatchGeneration), since the topology's redraw depends on the whole
// swarm; asynchronous PSO, which moves a particle as soon as its own score
// is back, is a different method with different dynamics.
//
// Swarm size: Pop, or 0 for 10 + ⌊2√n⌋ (the SPSO-2006 rule; SPSO-2011's
// 40 would leave only 2–3 iterations at budget 100).
//
// Box (Problem.Bounded): SPSO-2011's confinement, a coordinate that leaves
// [l, u] is set to the bound and its velocity to −½ of its value, so a
// particle can sit exactly on a face. Without Bounded the box is only
// where the swarm starts and there is no confinement.
//
// Why not eaopt's SPSO (docs/library-pitfalls.md): it has no box
// handling (Min and Max only set the initial spread), so merge weights
// would leave [0,1], and it runs its own generation loop.
//
// Recommendation: the best point observed (the harness tracks it); under
// noise, a particle's previous best keeps its lucky score.
type PSO struct {
	Pop int     // swarm size, ≥ 2; 0 = 10 + ⌊2√n⌋
	W   float64 // inertia weight, finite and ≥ 0 (0 is a valid setting: no inertia)
	C   float64 // acceleration coefficient, finite and > 0; 0 means ½ + ln 2
	K   int     // informants per particle in the random topology, ≥ 1; 0 means 3

	phases
}

var _ PhaseCounter = (*PSO)(nil)

// Flags registers the hyperparameters.
func (s *PSO) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Pop, "pop", s.Pop, "swarm size (≥ 2); 0 means 10+⌊2√n⌋")
	fs.Float64Var(&s.W, "w", s.W, "inertia weight, finite and ≥ 0 (SPSO-2011: 1/(2 ln 2))")
	fs.Float64Var(&s.C, "c", s.C, "acceleration coefficient, finite and > 0 (SPSO-2011: 1/2 + ln 2); 0 means that value")
	fs.IntVar(&s.K, "k", s.K, "informants drawn per particle in the adaptive random topology (≥ 1); 0 means 3")
}

// Minimize implements Optimizer.
func (s *PSO) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	s.phases.reset()
	np, c, k := s.Pop, s.C, s.K
	if np == 0 {
		np = psoPop(p.Dim)
	}
	if c == 0 {
		c = 0.5 + math.Ln2
	}
	if k == 0 {
		k = 3
	}
	switch {
	case np < 2:
		return nil, fmt.Errorf("pso: pop %d: must be ≥ 2 (0 means 10+⌊2√n⌋)", s.Pop)
	case k < 1:
		return nil, fmt.Errorf("pso: k %d: must be ≥ 1 (0 means 3)", s.K)
	case !(s.W >= 0) || math.IsInf(s.W, 0):
		return nil, fmt.Errorf("pso: w %g: must be finite and ≥ 0", s.W)
	case !(c > 0) || math.IsInf(c, 0):
		return nil, fmt.Errorf("pso: c %g: must be finite and > 0 (0 means ½ + ln 2)", s.C)
	}
	// Positions, velocities and bests (3·pop·n) and the pop² links (bytes).
	if err := checkMemory("pso", fmt.Sprintf("pop %d in dimension %d", np, p.Dim), "the swarm and its links",
		3*float64(np)*float64(p.Dim+1)+float64(np)*float64(np)/8); err != nil {
		return nil, err
	}
	return nil, Drive(ctx, &psoStepper{p: p, w: s.W, c: c, k: k, np: np, ph: &s.phases}, obj, rng)
}

// psoStepper is one run of PSO as a Stepper: the first generation is the
// uniform swarm, every later one the swarm moved by the bests known when
// the previous generation was complete (synchronous updates).
type psoStepper struct {
	p         Problem
	w, c      float64
	k, np     int
	ph        *phases
	xs, vs    [][]float64
	ps        [][]float64 // previous bests
	fp        []float64
	best      int
	links     [][]bool // links[m][i]: m informs i
	informant []int
	g, dir    []float64
	iter      int  // generations told
	stalled   bool // the last generation did not improve the swarm's best: redraw the links
}

func (s *psoStepper) Ask(rng *rand.Rand) [][]float64 {
	p, n, np := s.p, s.p.Dim, s.np
	if s.iter == 0 {
		s.xs, s.vs, s.ps = make([][]float64, np), make([][]float64, np), make([][]float64, np)
		s.fp = make([]float64, np)
		for i := range s.xs {
			s.xs[i], s.vs[i] = make([]float64, n), make([]float64, n)
			for d := range n {
				s.xs[i][d] = p.Lower[d] + rng.Float64()*(p.Upper[d]-p.Lower[d])
				s.vs[i][d] = p.Lower[d] - s.xs[i][d] + rng.Float64()*(p.Upper[d]-p.Lower[d])
			}
		}
		return clones(s.xs)
	}
	if s.iter == 1 {
		s.links = make([][]bool, np)
		for m := range s.links {
			s.links[m] = make([]bool, np)
		}
		s.redraw(rng)
		s.g, s.dir = make([]float64, n), make([]float64, n)
		s.informant = make([]int, np)
	}
	if s.stalled {
		s.redraw(rng)
		s.stalled = false
	}
	for i := range s.informant {
		l := i
		for m := range np {
			if s.links[m][i] && s.fp[m] < s.fp[l] {
				l = m
			}
		}
		s.informant[i] = l
	}
	g, dir, c := s.g, s.dir, s.c
	for i, x := range s.xs {
		pi, l := s.ps[i], s.ps[s.informant[i]]
		for d := range g {
			if s.informant[i] == i {
				g[d] = x[d] + c*(pi[d]-x[d])/2
			} else {
				g[d] = x[d] + c*(pi[d]+l[d]-2*x[d])/3
			}
		}
		radius := 0.0
		for d := range g {
			radius += (g[d] - x[d]) * (g[d] - x[d])
		}
		ballPoint(g, math.Sqrt(radius), dir, rng) // dir = x'
		v := s.vs[i]
		for d := range x {
			v[d] = s.w*v[d] + dir[d] - x[d]
			x[d] += v[d]
			if p.Bounded {
				if x[d] < p.Lower[d] {
					x[d], v[d] = p.Lower[d], -0.5*v[d]
				} else if x[d] > p.Upper[d] {
					x[d], v[d] = p.Upper[d], -0.5*v[d]
				}
			}
		}
	}
	return clones(s.xs)
}

// clones returns copies of xs, so that candidates handed to the harness
// are not changed when the population moves on.
func clones(xs [][]float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		out[i] = slices.Clone(x)
	}
	return out
}

// redraw draws the adaptive random topology: each particle informs
// itself and k others.
func (s *psoStepper) redraw(rng *rand.Rand) {
	for m := range s.links {
		clear(s.links[m])
		s.links[m][m] = true
		for range s.k {
			s.links[m][rng.IntN(s.np)] = true
		}
	}
}

func (s *psoStepper) tellMember(int) { s.ph.count(s.iter == 0) }

// Tell updates the previous bests; after the first generation the best
// of the swarm is noted, after the others the topology is redrawn when
// that best did not improve (by the next Ask, which has the generator).
func (s *psoStepper) Tell(xs [][]float64, fs []float64) {
	if s.iter == 0 {
		for i, x := range s.xs {
			s.ps[i], s.fp[i] = append([]float64(nil), x...), orWorst(fs[i])
		}
		s.best = minIndex(s.fp)
		s.iter++
		return
	}
	for i, x := range s.xs {
		if f := orWorst(fs[i]); f < s.fp[i] {
			copy(s.ps[i], x)
			s.fp[i] = f
		}
	}
	if b := minIndex(s.fp); s.fp[b] < s.fp[s.best] {
		s.best = b
	} else {
		s.stalled = true
	}
	s.iter++
}

// ballPoint writes into out a point uniform in the ball of centre c and
// radius r: a uniform direction (a normalised Gaussian vector) times
// r·U^(1/n).
func ballPoint(c []float64, r float64, out []float64, rng *rand.Rand) {
	norm := 0.0
	for d := range out {
		out[d] = rng.NormFloat64()
		norm += out[d] * out[d]
	}
	scale := 0.0
	if norm > 0 {
		scale = r * math.Pow(rng.Float64(), 1/float64(len(out))) / math.Sqrt(norm)
	}
	for d := range out {
		out[d] = c[d] + scale*out[d]
	}
}

// minIndex returns the index of the smallest value (the first on ties).
func minIndex(fs []float64) int {
	b := 0
	for i, f := range fs {
		if f < fs[b] {
			b = i
		}
	}
	return b
}

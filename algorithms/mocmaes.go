package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

func init() {
	RegisterMulti(MultiEntry{
		Name:        "mo-cmaes",
		Summary:     "MO-CMA-ES (Igel, Hansen and Roth 2007) with the success rule of Voß, Hansen and Igel 2010: μ (1+1)-CMA-ES individuals, (μ+μ) selection by non-dominated rank and hypervolume contribution",
		Constraints: "Deb's constrained domination in the non-dominated ranking of the (μ+μ) selection: feasible before infeasible, infeasible by total violation",
		Batch:       BatchGeneration,
		New:         func() MultiOptimizer { return &MOCMAES{Mu: mocmaMu} },
	})
}

// mocmaMu is MO-CMA-ES's default number of individuals: 10, so that a
// budget of 100 evaluations runs nine generations of step-size and
// covariance adaptation after the first.
const mocmaMu = 10

// MOCMAES is the (μ+μ)-MO-CMA-ES of C. Igel, N. Hansen and S. Roth,
// "Covariance matrix adaptation for multi-objective optimization",
// Evolutionary Computation 15(1):1–28, 2007, with the success rule of T.
// Voß, N. Hansen and C. Igel, "Improved step size adaptation for the
// MO-CMA-ES", GECCO 2010:
//
//   - μ individuals, each a (1+1)-CMA-ES (x, σ, smoothed success rate
//     p̄_succ, evolution path p_c, covariance C), start uniform in the box
//     with σ = Sigma0 (default 1/6 of the box width, as cmaes) and C = I;
//   - every generation, each individual k has one offspring
//     x'_k = x_k + σ_k·N(0, C_k);
//   - parents and offspring are ranked by non-dominated sorting and, in
//     the front that does not fit, by greedy removal of the point of
//     least exclusive hypervolume contribution (the points best in some
//     objective are kept; the reference point is the front's worst value
//     in each objective plus a tenth of its range); the μ best survive;
//   - an offspring succeeded when it survives (Voß et al. 2010); parent
//     and offspring then update their step sizes,
//     p̄ ← (1−c_p)p̄ + c_p·succ, σ ← σ·exp((p̄ − p_target)/(d(1 − p_target))),
//     and the offspring its covariance with the step (x' − x)/σ, by the
//     (1+1)-CMA-ES rules of the 2007 paper (its Table 1 settings:
//     d = 1 + n/2, p_target = 2/11, c_p = 1/12, c_c = 2/(n+2),
//     c_cov = 2/(n²+6), p_thresh = 0.44).
//
// Box: an offspring outside the box is projected onto it and the projected
// point replaces the sample, also in the covariance update (Lamarckian
// repair), so no candidate leaves the box. Constraints
// (MultiProblem.Limits) enter through Deb's constrained domination in the
// ranking.
type MOCMAES struct {
	Mu         int     // individuals μ (offspring per generation), ≥ 2; 0 means 10
	Sigma0     float64 // initial step size in absolute units; 0: the problem's, else Sigma0Frac × mean box width
	Sigma0Frac float64 // initial step size as a fraction of the box width; 0 means 1/6
}

// Flags registers the hyperparameters.
func (m *MOCMAES) Flags(fs *flag.FlagSet) {
	fs.IntVar(&m.Mu, "mu", m.Mu, "individuals μ, each with one offspring per generation, ≥ 2; 0 means 10")
	fs.Float64Var(&m.Sigma0, "sigma0", m.Sigma0, "initial step size in absolute units, finite and ≥ 0; 0 means the problem's sigma0, or sigma0frac × mean box width")
	sigmaFracFlag(fs, &m.Sigma0Frac)
}

// MinimizeMulti implements MultiOptimizer.
func (m *MOCMAES) MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	mu := m.Mu
	if mu == 0 {
		mu = mocmaMu
	}
	if mu < 2 {
		return fmt.Errorf("mo-cmaes: mu %d: must be at least 2", m.Mu)
	}
	if !(m.Sigma0 >= 0) || math.IsInf(m.Sigma0, 0) {
		return fmt.Errorf("mo-cmaes: sigma0 %g: must be finite and not negative", m.Sigma0)
	}
	if err := checkSigmaFrac(m.Sigma0Frac); err != nil {
		return err
	}
	n := float64(p.Dim)
	s := &mocmaState{
		p: p, mu: mu, sigma0: initialSigma(m.Sigma0, m.Sigma0Frac, p.Problem),
		d: 1 + n/2, pTarget: 2.0 / 11, cp: 1.0 / 12, cc: 2 / (n + 2), ccov: 2 / (n*n + 6), pThresh: 0.44,
	}
	return DriveMulti(ctx, MultiGenerations(s), pool, rng)
}

// mocmaInd is one (1+1)-CMA-ES individual.
type mocmaInd struct {
	x     []float64
	f     []float64
	sigma float64
	psucc float64
	pc    []float64
	c     *mat.SymDense
	a     *mat.TriDense // Cholesky factor of c: c = a·aᵀ
}

type mocmaState struct {
	p                                 MultiProblem
	mu                                int
	sigma0                            float64
	d, pTarget, cp, cc, ccov, pThresh float64
	parents                           []*mocmaInd
	offspring                         []*mocmaInd // the generation asked, parent k's at k
	started                           bool
}

func (s *mocmaState) Ask(rng *rand.Rand) [][]float64 {
	if !s.started {
		s.started = true
		xs := make([][]float64, s.mu)
		for i := range xs {
			xs[i] = uniformIn(s.p.Problem, rng)
		}
		return xs
	}
	n := s.p.Dim
	s.offspring = make([]*mocmaInd, len(s.parents))
	xs := make([][]float64, len(s.parents))
	z := make([]float64, n)
	for k, a := range s.parents {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		y := mat.NewVecDense(n, nil)
		y.MulVec(a.a, mat.NewVecDense(n, z))
		x := make([]float64, n)
		for i := range x {
			x[i] = a.x[i] + a.sigma*y.AtVec(i)
		}
		s.p.Clip(x)
		s.offspring[k] = &mocmaInd{x: x, sigma: a.sigma, psucc: a.psucc, pc: slices.Clone(a.pc), c: mat.NewSymDense(n, nil)}
		s.offspring[k].c.CopySym(a.c)
		xs[k] = x
	}
	return xs
}

func (s *mocmaState) Tell(xs [][]float64, fs [][]float64) {
	n := s.p.Dim
	if s.parents == nil {
		for i := range xs {
			ind := &mocmaInd{x: xs[i], f: fs[i], sigma: s.sigma0, psucc: s.pTarget, pc: make([]float64, n), c: mat.NewSymDense(n, nil)}
			for j := range n {
				ind.c.SetSym(j, j, 1)
			}
			ind.factor()
			s.parents = append(s.parents, ind)
		}
		// The first population is selected like any other: a μ of points
		// all kept (nothing to compare them with yet).
		return
	}
	for k := range s.offspring {
		s.offspring[k].f = fs[k]
	}
	q := append(append([]*mocmaInd(nil), s.parents...), s.offspring...)
	keep := s.survivors(q)
	survived := make(map[*mocmaInd]bool, len(keep))
	for _, i := range keep {
		survived[q[i]] = true
	}
	for k, a := range s.parents {
		o := s.offspring[k]
		succ := 0.0
		if survived[o] {
			succ = 1
		}
		step := make([]float64, n)
		for i := range step {
			step[i] = (o.x[i] - a.x[i]) / a.sigma
		}
		s.updateStep(a, succ)
		s.updateStep(o, succ)
		s.updateCov(o, step)
	}
	next := make([]*mocmaInd, 0, s.mu)
	for _, i := range keep {
		next = append(next, q[i])
	}
	s.parents = next
}

// updateStep is the (1+1)-CMA-ES step-size rule.
func (s *mocmaState) updateStep(a *mocmaInd, succ float64) {
	a.psucc = (1-s.cp)*a.psucc + s.cp*succ
	a.sigma *= math.Exp((a.psucc - s.pTarget) / (s.d * (1 - s.pTarget)))
	w := s.p.Width()
	a.sigma = min(max(a.sigma, 1e-12*w), 10*w)
}

// updateCov is the (1+1)-CMA-ES covariance rule for an offspring.
func (s *mocmaState) updateCov(a *mocmaInd, step []float64) {
	n := s.p.Dim
	if a.psucc < s.pThresh {
		k := math.Sqrt(s.cc * (2 - s.cc))
		for i := range a.pc {
			a.pc[i] = (1-s.cc)*a.pc[i] + k*step[i]
		}
		for i := range n {
			for j := i; j < n; j++ {
				a.c.SetSym(i, j, (1-s.ccov)*a.c.At(i, j)+s.ccov*a.pc[i]*a.pc[j])
			}
		}
	} else {
		for i := range a.pc {
			a.pc[i] = (1 - s.cc) * a.pc[i]
		}
		for i := range n {
			for j := i; j < n; j++ {
				a.c.SetSym(i, j, (1-s.ccov)*a.c.At(i, j)+s.ccov*(a.pc[i]*a.pc[j]+s.cc*(2-s.cc)*a.c.At(i, j)))
			}
		}
	}
	a.factor()
}

// factor recomputes the Cholesky factor of c; a matrix that lost positive
// definiteness to rounding is reset to the identity with a fresh path.
func (a *mocmaInd) factor() {
	var ch mat.Cholesky
	if !ch.Factorize(a.c) {
		n := len(a.pc)
		a.c = mat.NewSymDense(n, nil)
		for j := range n {
			a.c.SetSym(j, j, 1)
			a.pc[j] = 0
		}
		ch.Factorize(a.c)
	}
	a.a = mat.NewTriDense(len(a.pc), mat.Lower, nil)
	ch.LTo(a.a)
}

// survivors returns the indices into q of the μ survivors, in rank order:
// whole fronts while they fit, then the last front reduced by greedy
// removal of the least hypervolume contributor.
func (s *mocmaState) survivors(q []*mocmaInd) []int {
	fs := make([][]float64, len(q))
	viol := make([]float64, len(q))
	for i, a := range q {
		fs[i] = a.f
		viol[i] = s.p.violation(a.f)
	}
	var keep []int
	for _, front := range pareto.Sort(fs, viol) {
		if len(keep)+len(front) <= s.mu {
			keep = append(keep, front...)
			continue
		}
		keep = append(keep, reduceByContribution(fs, front, s.mu-len(keep))...)
		break
	}
	return keep
}

// reduceByContribution removes from front (indices into fs), one at a
// time, the point of least exclusive hypervolume contribution until r
// remain, and returns them in front's order. The points best in some
// objective are never removed while others remain (their contribution
// depends only on the arbitrary reference point); the reference point is
// the front's worst value in each objective plus a tenth of its range
// (plus 1e-9, so a front flat in one objective still has volume). Ties
// remove the later point.
func reduceByContribution(fs [][]float64, front []int, r int) []int {
	cur := slices.Clone(front)
	m := len(fs[front[0]])
	for len(cur) > r {
		ref := make([]float64, m)
		extreme := map[int]bool{}
		for k := range m {
			lo, hi, arg := math.Inf(1), math.Inf(-1), -1
			for _, i := range cur {
				if fs[i][k] < lo {
					lo, arg = fs[i][k], i
				}
				hi = max(hi, fs[i][k])
			}
			ref[k] = hi + 0.1*(hi-lo) + 1e-9
			extreme[arg] = true
		}
		pts := make([][]float64, len(cur))
		for j, i := range cur {
			pts[j] = fs[i]
		}
		contrib := pareto.Contributions(pts, ref)
		worst, worstC := -1, math.Inf(1)
		for j, i := range cur {
			c := contrib[j]
			if extreme[i] && len(extreme) < len(cur) {
				continue
			}
			if c <= worstC {
				worst, worstC = j, c
			}
		}
		cur = slices.Delete(cur, worst, worst+1)
	}
	return cur
}

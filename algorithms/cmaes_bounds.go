package algorithms

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// The box handlings of the CMA-ES family (the "bound" hyperparameter of
// cmaes, sep-cmaes, uh-cmaes, ipop-cmaes and bipop-cmaes). Merge weights
// live in a box that is a constraint: no point outside it may be
// evaluated. Each handling answers three questions differently: which
// point is evaluated, which point (genotype) the distribution is updated
// with, and where the mean — the recommended point — can go.
//
//   - BoundTransform: pycma's default BoundTransform (cma/boundary_handler.py
//     with transformations.BoxConstraintsLinQuadTransformation, pycma 4.4.0):
//     the sampled genotype is mapped into the box by a C¹ piecewise
//     quadratic, periodic map (see boxTransform) and that phenotype is
//     evaluated; the update uses the untransformed genotypes, so the
//     samples, the paths and σ behave as without a box and the mean may
//     leave the box. The recommendation is the transformed mean. Near a
//     bound the map is flat, so the strategy sees a plateau there and
//     steps along the wall are compressed: on the noise-free mock at
//     n = 16, σ0 = 0.3 it stalls below Optuna's CmaEsSampler (issue 17).
//     The pycma comparison (cmaes_pycma_test.go) uses it.
//   - BoundResample: as the cmaes library 0.9.1 (CMA.ask, github.com/
//     CyberAgentAILab/cmaes) and therefore Optuna's CmaEsSampler do: a
//     candidate outside the box is redrawn from the same distribution, up
//     to resampleTries(n) = max(100, 10n) draws in all (100 is the cmaes
//     library's default n_max_resampling, 10n what Optuna 3.1 passes).
//     Fallback when every draw fell outside: the last draw is clipped into
//     the box (the library's _repair_infeasible_params) and adopted as in
//     BoundMirror. Accepted draws are unmodified samples of the
//     distribution truncated to the box, so the paths see genuine steps;
//     but the truncation removes the long steps towards a nearby wall, so
//     near a bound the selected steps are shorter than N(0,C) would give
//     and CSA shrinks σ there (the step size adapts to the room left
//     inside the box). Every genotype is inside the box, so the mean, a
//     convex combination of them (positive weights summing to 1), is too.
//   - BoundMirror: reflection, coordinate by coordinate and periodically
//     for long steps (the same fold as one-plus-one-es; compared for
//     CMA-ES by R. Biedrzycki, "Handling bound constraints in CMA-ES: An
//     experimental study", Swarm and Evolutionary Computation 52, 2020).
//     The reflected point is adopted as the genotype (Lamarckian repair):
//     its step y = (x−m)/σ and z = C^{−1/2}y are recomputed, and the
//     Mahalanobis length ‖z‖ is clipped at √n + 2n/(n+2) as pycma's
//     CMAEvolutionStrategy.repair_genotype does for repaired and injected
//     solutions (N. Hansen, "Injecting External Solutions Into CMA-ES",
//     arXiv:1110.4181, 2011), so that a repaired step cannot inflate the
//     paths or C; the genotype — the reflected point, or the point of the
//     shortened step between it and the mean — is what is evaluated, so
//     every loss belongs to the point the update uses. Reflection never
//     lengthens a coordinate's step, so σ sees shorter steps near a wall,
//     as with resampling. Every genotype is inside the box, and so is the
//     mean.
//   - BoundPenalty: pycma's BoundPenalty (cma/boundary_handler.py, after
//     Hansen et al., IEEE TEC 13(1), 2009): the genotype is clipped into
//     the box and the clipped point evaluated; the loss told to the update
//     is f(clipped) + Σᵢ γᵢ(clippedᵢ − xᵢ)²/n, and the update uses the
//     unclipped genotypes. The weights γ start at 1, are set to twice the
//     median normalised interquartile range of recent losses once the mean
//     leaves the box, and grow while the mean stays more than
//     3·max(1, √n/μ_eff) standard deviations outside (see
//     boundPenalty.update). σ and C adapt to the penalised landscape, which
//     pulls the mean back; the mean may still lie outside the box, and
//     the recommendation is the mean clipped into the box (pycma's
//     xfavorite).
//
// In every mode the coordinate-wise standard deviations are capped at a
// third of the box width (pycma's maxstd_boundrange, which pycma applies
// for any boundary handler). On an unbounded problem (Problem.Bounded
// false) the box is only the region of the start point and the setting is
// ignored.
const (
	BoundTransform = "transform"
	BoundResample  = "resample"
	BoundMirror    = "mirror"
	BoundPenalty   = "penalty"
)

// BoundModes lists the values of the bound hyperparameter.
var BoundModes = []string{BoundTransform, BoundResample, BoundMirror, BoundPenalty}

// DefaultBound is the box handling when none is set, and DefaultSigma0Frac
// the initial step as a fraction of the mean box width. Both were chosen by
// the protocol of results/cma-box (every scenario and the bounded mock at
// n = 8…64, budgets 100–1,000), whose table says why.
const (
	DefaultBound      = BoundMirror
	DefaultSigma0Frac = 1.0 / 6
)

// resolveBound validates a bound setting; "" means DefaultBound.
func resolveBound(b string) (string, error) {
	if b == "" {
		return DefaultBound, nil
	}
	if !slices.Contains(BoundModes, b) {
		return "", fmt.Errorf("bound %q: must be one of %s", b, strings.Join(BoundModes, ", "))
	}
	return b, nil
}

// checkSigmaFrac validates a sigma0frac setting (0 means the default).
func checkSigmaFrac(f float64) error {
	if !(f >= 0 && f <= 1) {
		return fmt.Errorf("sigma0frac %g: must lie in [0, 1] (a fraction of the box width; 0 means the default %s)", f, formatFrac(DefaultSigma0Frac))
	}
	return nil
}

// boundFlag registers the bound hyperparameter. The default is filled in
// first so that a run's recorded parameters name the mode that ran.
func boundFlag(fs *flag.FlagSet, p *string) {
	if *p == "" {
		*p = DefaultBound
	}
	fs.Var(boundValue{p}, "bound", "box handling of a bounded problem: "+strings.Join(BoundModes, "|")+" (transform: pycma's BoundTransform; resample: redraw as Optuna's CmaEsSampler, then clip; mirror: reflect; penalty: pycma's BoundPenalty)")
}

// boundValue is the bound flag: one of BoundModes, checked when set.
type boundValue struct{ p *string }

func (v boundValue) String() string {
	if v.p == nil || *v.p == "" {
		return DefaultBound
	}
	return *v.p
}

func (v boundValue) Set(s string) error {
	b, err := resolveBound(s)
	if err != nil {
		return err
	}
	*v.p = b
	return nil
}

// sigmaFracFlag registers sigma0frac, filled with the default first so that
// a run's recorded parameters show the fraction that ran ("1/6").
func sigmaFracFlag(fs *flag.FlagSet, p *float64) {
	if *p == 0 {
		*p = DefaultSigma0Frac
	}
	fs.Var(fracValue{p}, "sigma0frac", "initial step size as a fraction of the mean box width, in (0, 1], a decimal or p/q; used when sigma0 is 0 and the problem sets none")
}

// fracValue is a flag holding a fraction, written as a decimal or p/q and
// printed as p/q when that is exact and shorter (1/6, not
// 0.16666666666666666).
type fracValue struct{ p *float64 }

func (v fracValue) String() string {
	if v.p == nil {
		return formatFrac(DefaultSigma0Frac)
	}
	return formatFrac(*v.p)
}

func (v fracValue) Set(s string) error {
	f, err := parseFrac(s)
	if err != nil {
		return err
	}
	if !(f > 0 && f <= 1) {
		return fmt.Errorf("sigma0frac %s: must lie in (0, 1] (a fraction of the box width)", s)
	}
	*v.p = f
	return nil
}

func parseFrac(s string) (float64, error) {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return strconv.ParseFloat(s, 64)
	}
	a, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("numerator of %q: %w", s, err)
	}
	b, err := strconv.ParseFloat(den, 64)
	if err != nil {
		return 0, fmt.Errorf("denominator of %q: %w", s, err)
	}
	if b == 0 {
		return 0, fmt.Errorf("%q: zero denominator", s)
	}
	return a / b, nil
}

func formatFrac(f float64) string {
	d := strconv.FormatFloat(f, 'g', -1, 64)
	if len(d) <= 6 {
		return d
	}
	for q := 2; q <= 12; q++ {
		if p := math.Round(f * float64(q)); p/float64(q) == f {
			return strconv.Itoa(int(p)) + "/" + strconv.Itoa(q)
		}
	}
	return d
}

// resampleTries is the number of draws a candidate gets under
// BoundResample before the fallback: the cmaes library's default 100, or
// Optuna's 10n when larger.
func resampleTries(n int) int { return max(100, 10*n) }

// inBox reports whether every coordinate of x lies in [lb, ub].
func (s *cmaCore) inBox(x []float64) bool {
	for i, v := range x {
		if !(v >= s.lb[i] && v <= s.ub[i]) {
			return false
		}
	}
	return true
}

// clipBox moves x into the box in place.
func (s *cmaCore) clipBox(x []float64) {
	for i, v := range x {
		if !isFinite(v) {
			x[i] = (s.lb[i] + s.ub[i]) / 2
			continue
		}
		x[i] = min(max(v, s.lb[i]), s.ub[i])
	}
}

// draw samples row k afresh: z ~ N(0,I), y = B(D⊙z), genotype m + σ·scale⊙y.
func (s *cmaCore) draw(k int, rng *rand.Rand) {
	n := s.n
	z := s.Z.Data[k*n : (k+1)*n]
	dz := s.DZ.Data[k*n : (k+1)*n]
	y := s.Y.Data[k*n : (k+1)*n]
	for i := range z {
		z[i] = rng.NormFloat64()
		dz[i] = s.D[i] * z[i]
	}
	if s.diag {
		copy(y, dz)
	} else {
		blas64.Gemv(blas.NoTrans, 1, s.B, blas64.Vector{N: n, Inc: 1, Data: dz}, 0, blas64.Vector{N: n, Inc: 1, Data: y})
	}
	g := s.geno.Data[k*n : (k+1)*n]
	for i := range g {
		g[i] = s.mean[i] + s.sigma*s.scale[i]*y[i]
	}
}

// resample redraws row k until its genotype is inside the box, up to
// resampleTries draws in all (the first was made by ask); if all fell
// outside, the last is clipped into the box and adopted. It reports
// whether the fallback was needed.
func (s *cmaCore) resample(k int, rng *rand.Rand) bool {
	n := s.n
	g := s.geno.Data[k*n : (k+1)*n]
	for range resampleTries(n) - 1 {
		s.draw(k, rng)
		if s.inBox(g) {
			return false
		}
	}
	x := slices.Clone(g)
	s.clipBox(x)
	s.adopt(k, x)
	return true
}

// adopt makes the repaired point x (inside the box) the genotype of row k:
// the step y = (x−m)/(σ·scale) and z = D⁻¹Bᵀy are recomputed, and ‖z‖ (the
// Mahalanobis length of the step) is clipped at √n + 2n/(n+2), pycma's
// repair_genotype, which shortens the step towards the mean. The genotype
// is then m + σ·scale⊙y, between the mean and x, so inside the box when
// the mean is.
func (s *cmaCore) adopt(k int, x []float64) {
	n := s.n
	z := s.Z.Data[k*n : (k+1)*n]
	dz := s.DZ.Data[k*n : (k+1)*n]
	y := s.Y.Data[k*n : (k+1)*n]
	g := s.geno.Data[k*n : (k+1)*n]
	for i := range y {
		y[i] = (x[i] - s.mean[i]) / (s.sigma * s.scale[i])
	}
	if s.diag {
		copy(dz, y)
	} else {
		blas64.Gemv(blas.Trans, 1, s.B, blas64.Vector{N: n, Inc: 1, Data: y}, 0, blas64.Vector{N: n, Inc: 1, Data: dz})
	}
	nz := 0.0
	for i := range z {
		z[i] = dz[i] / s.D[i]
		nz += z[i] * z[i]
	}
	nz = math.Sqrt(nz)
	nf := float64(n)
	if limit := math.Sqrt(nf) + 2*nf/(nf+2); nz > limit && isFinite(nz) {
		f := limit / nz
		for i := range z {
			z[i] *= f
			y[i] *= f
		}
	}
	for i := range z {
		dz[i] = s.D[i] * z[i]
		g[i] = s.mean[i] + s.sigma*s.scale[i]*y[i]
	}
	s.clipBox(g) // rounding only: g lies between the mean and x
	s.repairs++
}

// boundPenalty is the state of pycma 4.4.0's BoundPenalty
// (cma/boundary_handler.py): coordinate-wise penalty weights γ and the
// history of normalised interquartile ranges of the losses.
type boundPenalty struct {
	gamma []float64 // nil: not initialised, γ = 1 in every coordinate
	hist  []float64 // newest first
}

// update is BoundPenalty.update, called with the raw losses of a
// generation before the distribution moves (iter counts this generation,
// 1 for the first, as pycma's countiter in tell).
func (b *boundPenalty) update(s *cmaCore, fs []float64, iter int) {
	n := s.n
	nf := float64(n)
	varis := make([]float64, n)
	meanVar := 0.0
	for i := range varis {
		varis[i] = s.sigma * s.sigma * s.variance(i)
		meanVar += varis[i] / nf
	}
	dmean := make([]float64, n)
	outside := false
	for i, m := range s.mean {
		c := min(max(m, s.lb[i]), s.ub[i])
		dmean[i] = (m - c) / math.Sqrt(varis[i])
		if dmean[i] != 0 {
			outside = true
		}
	}
	sorted := slices.Clone(fs)
	slices.Sort(sorted)
	l := 1 + len(sorted)
	val := (sorted[3*l/4] - sorted[l/4]) / meanVar
	switch {
	case isFinite(val) && val > 0:
		b.hist = slices.Insert(b.hist, 0, val)
	case math.IsInf(val, 1) && len(b.hist) > 1:
		b.hist = slices.Insert(b.hist, 0, slices.Max(b.hist))
	}
	if float64(len(b.hist)) > 20+3*nf/float64(s.lambda) {
		b.hist = b.hist[:len(b.hist)-1]
	}
	if len(b.hist) == 0 {
		// pycma raises here ("no feasible solution sampled"); a flat
		// generation leaves the weights as they are instead.
		return
	}
	dfit := median(b.hist)
	damp := math.Min(1, s.mueff/10/nf)
	if outside && (b.gamma == nil || iter == 2) {
		b.gamma = make([]float64, n)
		for i := range b.gamma {
			b.gamma[i] = 2 * dfit
		}
	}
	if b.gamma == nil {
		return
	}
	lim := 3 * math.Max(1, math.Sqrt(nf)/s.mueff)
	for i := range b.gamma {
		if e := math.Abs(dmean[i]) - lim; e > 0 {
			b.gamma[i] *= math.Pow(math.Exp(math.Tanh(e/3)/2), damp)
		}
		if b.gamma[i] > 5*dfit {
			b.gamma[i] *= math.Pow(math.Exp(-1.0/3), damp)
		}
	}
}

// penalty is BoundPenalty.__call__ for genotype g: Σᵢ γᵢ(clip(g)ᵢ − gᵢ)²/n.
func (b *boundPenalty) penalty(s *cmaCore, g []float64) float64 {
	p := 0.0
	for i, v := range g {
		d := min(max(v, s.lb[i]), s.ub[i]) - v
		w := 1.0
		if b.gamma != nil {
			w = b.gamma[i]
		}
		p += w * d * d
	}
	return p / float64(len(g))
}

package algorithms

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

func init() {
	Register(Entry{
		Name:       "uh-cmaes",
		Summary:    "UH-CMA-ES: CMA-ES that measures noise by re-evaluation rank changes and then averages more evaluations (Hansen et al. 2009)",
		Recommends: "distribution mean",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &UHCMAES{} },
	})
}

// UHCMAES is the uncertainty-handling CMA-ES of N. Hansen, A. S. P.
// Niederberger, L. Guzzella and P. Koumoutsakos, "A Method for Handling
// Uncertainty in Evolutionary Optimization with an Application to
// Feedback Control of Combustion", IEEE TEC 13(1), 2009, with the
// parameters of pycma's NoiseHandler:
//
//   - measurement: each generation, λ_reev = 2+λ/20 (rounded at random)
//     of the λ candidates are evaluated a second time (the first ones: the
//     order is random). In the joint ranking of all 2λ values the rank
//     change |Δ| of each re-evaluated candidate (minus one for the swap)
//     is compared with Δ_lim, the θ = 0.5 percentile of the rank changes a
//     random value would cause; s = mean(|Δ| − Δ_lim) is smoothed with
//     c_s = 0.3. s > 0 means the noise changes rankings more than the
//     signal does: selection is close to random.
//   - treatment (Treatment "lambda", the default): while s > 0 the
//     population size grows by α_λ = 1.2 per generation up to 30·λ0,
//     otherwise it shrinks by α_λ^(−1/4) down to λ0; the distribution
//     (mean, σ, C, paths) is kept and the weights and learning rates are
//     recomputed for the new λ. This departs from the paper, whose
//     treatments are more evaluations per candidate or a larger σ: with
//     additive noise a larger population is the cheaper way to average it,
//     because recombination of μ ∝ λ parents averages the noise of all of
//     them (D. V. Arnold, H.-G. Beyer, "Performance analysis of
//     evolutionary optimization with cumulative step length adaptation",
//     IEEE TAC 2004; the residual distance to the optimum falls like 1/λ,
//     against 1/√k for k evaluations per candidate). Measured on the
//     64-d mock merge objective with noise sd 1, it brings the mean to a
//     true score above 99 within 5000 evaluations, where plain CMA-ES
//     and pycma stall near 97 (see TestUHCMAESNoisyMerge64).
//     Treatment "evals" is the pycma NoiseHandler's: the number k of
//     evaluations averaged per candidate grows by α = 1+2/(n+10) up to
//     MaxEvals while s > 0, and shrinks by α^(−1/4) down to 1 otherwise.
//     SigmaUp adds the paper's σ treatment, σ ← α·σ while s > 0, which
//     keeps progress where noise shrinks near the optimum but with
//     additive noise keeps the candidates away from it, so it is off.
//
// The losses told to the strategy are the means over all evaluations of
// a candidate (re-evaluations included). Everything else is CMAES.
type UHCMAES struct {
	// CMASettings as in CMAES.
	CMASettings
	// MaxEvals caps the evaluations averaged per candidate; 0 means 30.
	MaxEvals int
	// SigmaUp also multiplies σ by α while noise dominates (the paper's
	// σ treatment, pycma's default together with the evaluations).
	SigmaUp bool
	// Treatment is "lambda" (also "") or "evals", see above.
	Treatment string

	core     *cmaCore
	n        int
	k        float64 // evaluations per candidate (real, used as ⌊k⌋)
	noiseS   float64
	reev     int // candidates re-evaluated in the pending batch
	per      int // evaluations per candidate in the pending batch
	maxEvals int
	alpha    float64
	p        Problem
	opts     cmaOptions
	lam0     int
	lamF     float64
}

var _ Optimizer = (*UHCMAES)(nil)
var _ Stepper = (*UHCMAES)(nil)

// Flags registers the hyperparameters.
// RecommendsUnevaluated implements UnevaluatedRecommender: the
// distribution mean is never evaluated as such.
func (u *UHCMAES) RecommendsUnevaluated() bool { return u.Recommend != "best" }

var _ UnevaluatedRecommender = (*UHCMAES)(nil)

func (u *UHCMAES) Flags(fs *flag.FlagSet) {
	u.flags(fs, "returned point: mean (distribution mean; also when empty) or best (best observed)")
	fs.IntVar(&u.MaxEvals, "maxevals", u.MaxEvals, "most evaluations averaged per candidate; 0 means 30")
	fs.BoolVar(&u.SigmaUp, "sigmaup", u.SigmaUp, "also raise σ by 1+2/(n+10) while noise dominates (the paper's σ treatment)")
	fs.StringVar(&u.Treatment, "treatment", u.Treatment, "noise treatment: lambda (grow the population; also when empty) or evals (average more evaluations per candidate)")
}

// Start validates p and initialises the distribution at p.Start().
func (u *UHCMAES) Start(p Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	switch u.Treatment {
	case "", "lambda", "evals":
	default:
		return fmt.Errorf("uh-cmaes: treatment %q: must be lambda or evals", u.Treatment)
	}
	if u.MaxEvals < 0 {
		return fmt.Errorf("uh-cmaes: maxevals %d: must not be negative", u.MaxEvals)
	}
	full := CMAES{CMASettings: u.CMASettings}
	o, err := full.options(p)
	if err != nil {
		return fmt.Errorf("uh-%w", err)
	}
	// Treatment lambda grows λ up to 30·λ0; evals hands out up to
	// maxevals copies of each of the λ0 + λ_reev candidates.
	lam0 := lambdaOf(u.PopSize, p.Dim)
	maxEvals := u.MaxEvals
	if maxEvals == 0 {
		maxEvals = 30
	}
	lamMax, per := 30*lam0, 1
	if u.Treatment == "evals" {
		lamMax, per = lam0, maxEvals
	}
	copies := float64(lamMax+2+lamMax/20) * float64(per) * float64(p.Dim)
	if err := checkCMASize("uh-cmaes", p, u.PopSize, lamMax, false, copies); err != nil {
		return err
	}
	u.core = newCMACore(p, o, p.Start())
	u.p, u.opts = p, o
	u.lam0 = u.core.lambda
	u.lamF = float64(u.lam0)
	u.n = p.Dim
	u.k = 1
	u.noiseS = 0
	u.maxEvals = maxEvals
	u.alpha = 1 + 2/(float64(p.Dim)+10)
	return nil
}

// Ask returns ⌊k⌋ copies of each of the λ candidates followed by ⌊k⌋
// copies of each of the first λ_reev candidates (the re-evaluations).
func (u *UHCMAES) Ask(rng *rand.Rand) [][]float64 {
	if u.core == nil {
		return nil
	}
	xs := u.core.ask(rng)
	lam := len(xs)
	r := 2 + float64(lam)/20
	u.reev = int(r)
	if rng.Float64() < r-math.Floor(r) {
		u.reev++
	}
	u.reev = min(u.reev, lam)
	u.per = max(1, int(u.k))
	out := make([][]float64, 0, (lam+u.reev)*u.per)
	for _, x := range xs {
		out = append(out, x)
		for range u.per - 1 {
			out = append(out, slices.Clone(x))
		}
	}
	for _, x := range xs[:u.reev] {
		for range u.per {
			out = append(out, slices.Clone(x))
		}
	}
	return out
}

// Tell measures the noise from the re-evaluations, adapts k (and σ with
// SigmaUp) and updates the strategy with the averaged losses.
func (u *UHCMAES) Tell(xs [][]float64, fs []float64) {
	if u.core == nil {
		return
	}
	lam := u.core.lambda
	per := u.per
	if len(fs) != (lam+u.reev)*per {
		return
	}
	clean := func(v float64) float64 {
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}
	mean := func(vs []float64) float64 {
		s := 0.0
		for _, v := range vs {
			s += clean(v)
		}
		return s / float64(len(vs))
	}
	first := make([]float64, lam)
	second := make([]float64, lam)
	for i := range lam {
		first[i] = mean(fs[i*per : (i+1)*per])
		second[i] = first[i]
	}
	for j := range u.reev {
		second[j] = mean(fs[(lam+j)*per : (lam+j+1)*per])
	}
	u.noiseS += 0.3 * (u.measure(first, second) - u.noiseS)
	if u.Treatment == "evals" {
		if u.noiseS > 0 {
			u.k = math.Min(u.k*u.alpha, float64(u.maxEvals))
		} else {
			u.k = math.Max(u.k*math.Pow(u.alpha, -0.25), 1)
		}
	}
	losses := make([]float64, lam)
	for i := range lam {
		losses[i] = first[i]
		if i < u.reev {
			losses[i] = (first[i] + second[i]) / 2
		}
	}
	u.core.tell(losses)
	if u.SigmaUp && u.noiseS > 0 {
		u.core.sigma *= u.alpha
	}
	if u.Treatment != "evals" {
		const alphaL = 1.2
		if u.noiseS > 0 {
			u.lamF = math.Min(u.lamF*alphaL, 30*float64(u.lam0))
		} else {
			u.lamF = math.Max(u.lamF*math.Pow(alphaL, -0.25), float64(u.lam0))
		}
		if l := int(u.lamF); l != u.core.lambda {
			u.resize(l)
		}
	}
}

// measure is pycma's NoiseHandler.update_measure: the mean over the
// re-evaluated candidates of |rank change| − Δ_lim in the joint ranking of
// the 2λ values (the λ−λ_reev others enter twice, unchanged).
func (u *UHCMAES) measure(first, second []float64) float64 {
	lam := len(first)
	all := append(slices.Clone(first), second...)
	idx := make([]int, 2*lam)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(all[a], all[b]) })
	rank := make([]int, 2*lam)
	for r, i := range idx {
		rank[i] = r
	}
	sum := 0.0
	for i := range u.reev {
		r0, r1 := rank[i], rank[lam+i]
		d := r0 - r1
		delta := math.Abs(float64(d - sign(d)))
		lim := 0.5 * (rankLimit(lam, r0, r1) + rankLimit(lam, r1, r0))
		sum += delta - math.Max(lim, 1)
	}
	if u.reev == 0 {
		return 0
	}
	return sum / float64(u.reev)
}

// rankLimit is pycma's Δ_lim: the θ·50 = 25th percentile (pycma's
// prctile) of |r − (a+1−[a>b])| over r = 1..2λ−1, the rank changes a
// random value would cause.
func rankLimit(lam, a, b int) float64 {
	c := a + 1
	if a > b {
		c--
	}
	d := make([]float64, 0, 2*lam-1)
	for r := 1; r < 2*lam; r++ {
		d = append(d, math.Abs(float64(r-c)))
	}
	slices.Sort(d)
	return prctile(d, 25)
}

// prctile is pycma's Mh.prctile for sorted data: linear interpolation
// with positions p/100·N − 0.5.
func prctile(sorted []float64, p float64) float64 {
	n := len(sorted)
	fi := p/100*float64(n) - 0.5
	if fi <= 0 {
		return sorted[0]
	}
	if fi >= float64(n-1) {
		return sorted[n-1]
	}
	i := int(fi)
	return (float64(i)+1-fi)*sorted[i] + (fi-float64(i))*sorted[i+1]
}

func sign(d int) int {
	switch {
	case d > 0:
		return 1
	case d < 0:
		return -1
	}
	return 0
}

// Minimize runs UH-CMA-ES until obj.Eval fails.
func (u *UHCMAES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if err := u.Start(p); err != nil {
		return nil, err
	}
	err := Drive(ctx, u, obj, rng)
	if u.Recommend == "best" {
		return nil, err
	}
	return u.core.recommendation(), err
}

// Mean returns the distribution mean mapped into the box, or nil before
// Start.
func (u *UHCMAES) Mean() []float64 {
	if u.core == nil {
		return nil
	}
	return u.core.recommendation()
}

// resize rebuilds the strategy parameters for population size lambda and
// keeps the distribution state.
func (u *UHCMAES) resize(lambda int) {
	old := u.core
	o := u.opts
	o.lambda = lambda
	c := newCMACore(u.p, o, u.p.Start())
	copy(c.mean, old.mean)
	c.sigma = old.sigma
	copy(c.ps, old.ps)
	copy(c.pc, old.pc)
	copy(c.scale, old.scale)
	copy(c.C.Data, old.C.Data)
	copy(c.B.Data, old.B.Data)
	copy(c.cdiag, old.cdiag)
	copy(c.D, old.D)
	c.iter, c.lastEig, c.evals, c.restarts, c.eigens = old.iter, old.lastEig, old.evals, old.restarts, old.eigens
	c.bestF, c.bestEvals = old.bestF, old.bestEvals
	c.pen, c.repairs = old.pen, old.repairs // BoundPenalty's weights and history carry over
	u.core = c
}

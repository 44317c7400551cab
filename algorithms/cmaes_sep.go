package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
)

func init() {
	Register(Entry{
		Name:       "sep-cmaes",
		Summary:    "sep-CMA-ES: CMA-ES with a diagonal covariance matrix, O(n) per candidate (Ros & Hansen 2008)",
		Recommends: "distribution mean",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &SepCMAES{} },
	})
}

// SepCMAES is the separable CMA-ES of R. Ros and N. Hansen, "A Simple
// Modification in CMA-ES Achieving Linear Time and Space Complexity",
// PPSN X (2008): the covariance matrix is restricted to its diagonal, so
// sampling and updating cost O(n) per candidate and no eigendecomposition
// is needed. Because a diagonal matrix has n instead of n(n+1)/2 degrees
// of freedom it can learn faster: the paper multiplies the covariance
// learning rate by (n+2)/3,
//
//	c_cov,sep = min(1, (n+2)/3 · c_cov),  c_cov = (1/μ_cov)·2/(n+√2)²
//	          + (1−1/μ_cov)·min(1, (2μ_eff−1)/((n+2)²+μ_eff)),  μ_cov = μ_eff,
//
// split into c1 = c_cov,sep/μ_cov (rank one) and cμ = c_cov,sep(1−1/μ_cov).
// As in the paper the recombination weights are the μ positive ones only.
// Everything else (step-size adaptation, box handling, degeneration
// restarts, the recommendation) is as in CMAES. It suits separable or
// nearly separable problems and large n, where the full model learns too
// slowly to matter within a small budget.
type SepCMAES struct {
	// PopSize is λ; 0 means 4+⌊3 ln n⌋. 1 and negative values are errors,
	// and so is a λ above a known Problem.Budget (no generation could end).
	PopSize int
	// Sigma0, Sigma0Frac and Bound are as in CMASettings.
	Sigma0     float64
	Sigma0Frac float64
	Bound      string
	// Recommend is "mean" (also "") or "best" as in CMAES.
	Recommend string

	core *cmaCore
}

var _ Optimizer = (*SepCMAES)(nil)
var _ Stepper = (*SepCMAES)(nil)

// sepLearningRates returns Ros & Hansen's (2008) c1 and cμ for a
// diagonal covariance matrix.
func sepLearningRates(n int, mueff float64) (c1, cmu float64) {
	nf := float64(n)
	ccov := (1/mueff)*2/((nf+math.Sqrt2)*(nf+math.Sqrt2)) +
		(1-1/mueff)*math.Min(1, (2*mueff-1)/((nf+2)*(nf+2)+mueff))
	sep := math.Min(1, (nf+2)/3*ccov)
	return sep / mueff, sep * (1 - 1/mueff)
}

// Flags registers the hyperparameters.
// RecommendsUnevaluated implements UnevaluatedRecommender: the
// distribution mean is never evaluated as such.
func (c *SepCMAES) RecommendsUnevaluated() bool { return c.Recommend != "best" }

var _ UnevaluatedRecommender = (*SepCMAES)(nil)

func (c *SepCMAES) Flags(fs *flag.FlagSet) {
	fs.IntVar(&c.PopSize, "popsize", c.PopSize, "population size λ, 0 or ≥ 2 and at most the budget; 0 means 4+⌊3 ln n⌋")
	fs.Float64Var(&c.Sigma0, "sigma0", c.Sigma0, "initial step size in absolute units, finite and ≥ 0; 0 means the problem's sigma0, or sigma0frac × mean box width if that is 0")
	sigmaFracFlag(fs, &c.Sigma0Frac)
	boundFlag(fs, &c.Bound)
	fs.StringVar(&c.Recommend, "recommend", c.Recommend, "returned point: mean (distribution mean; also when empty) or best (best observed)")
}

// Start validates p and initialises the distribution at p.Start().
func (c *SepCMAES) Start(p Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	full := CMAES{CMASettings: CMASettings{PopSize: c.PopSize, Sigma0: c.Sigma0, Sigma0Frac: c.Sigma0Frac, Bound: c.Bound, Recommend: c.Recommend}}
	o, err := full.options(p)
	if err != nil {
		return fmt.Errorf("sep-%w", err)
	}
	o.diag = true
	if err := checkCMASize("sep-cmaes", p, c.PopSize, lambdaOf(c.PopSize, p.Dim), true, 0); err != nil {
		return err
	}
	c.core = newCMACore(p, o, p.Start())
	return nil
}

// Ask samples a generation (nil before Start).
func (c *SepCMAES) Ask(rng *rand.Rand) [][]float64 {
	if c.core == nil {
		return nil
	}
	return c.core.ask(rng)
}

// Tell updates the distribution with the losses of the last Ask.
func (c *SepCMAES) Tell(xs [][]float64, fs []float64) {
	if c.core == nil {
		return
	}
	c.core.tell(fs)
}

// Minimize runs sep-CMA-ES until obj.Eval fails.
func (c *SepCMAES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if err := c.Start(p); err != nil {
		return nil, err
	}
	err := Drive(ctx, c, obj, rng)
	if c.Recommend == "best" {
		return nil, err
	}
	return c.core.recommendation(), err
}

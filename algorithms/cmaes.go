package algorithms

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

func init() {
	Register(Entry{
		Name:       "cmaes",
		Summary:    "CMA-ES (Hansen's tutorial as pycma 4.4 implements it: active CMA, CSA); box handled by reflection (bound=mirror|resample|penalty|transform), σ0 = 1/6 of the box",
		Recommends: "distribution mean",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &CMAES{} },
	})
}

// CMAES is the covariance matrix adaptation evolution strategy of
// N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772
// (2016), with the defaults of pycma 4.4.0 (the reference implementation,
// github.com/CMA-ES/pycma), which the project's tests compare against:
//
//   - λ = 4+⌊3 ln n⌋, μ = ⌊λ/2⌋, logarithmic weights w_i ∝ ln((λ+1)/2) − ln i
//     for all λ ranks; the negative ones are the active CMA of Jastrebski &
//     Arnold (CEC 2006) as the tutorial sets them (sum −min(1+c1/cμ,
//     1+2μ⁻_eff/(μ_eff+2), (1−c1−cμ)/(n cμ))), and each negative-weight
//     vector is rescaled to squared Mahalanobis length n so that C stays
//     positive definite;
//   - c_σ = (μ_eff+2)/(n+μ_eff+3) (pycma's variant of the tutorial's
//     (μ_eff+2)/(n+μ_eff+5)), d_σ = 1 + 2 max(0, √((μ_eff−1)/(n+1))−1) + c_σ,
//     c_c = (4+μ_eff/n)/(n+4+2μ_eff/n), c1 = min(1, λ/6)·2/((n+1.3)²+μ_eff),
//     cμ = min(1−c1, 2(¼+μ_eff−2+1/μ_eff)/((n+2)²+μ_eff));
//   - cumulative step-size adaptation with E‖N(0,I)‖ (exact for n ≤ 6,
//     pycma's series above), the change of ln σ clipped to ±1, and the
//     h_σ stall of the rank-one update with pycma's bias correction;
//   - C is eigendecomposed with gonum's mat.EigenSym, lazily as the
//     tutorial describes (section B.2): not every generation when C
//     changes slowly (see EigenGap).
//
// The strategy is a Stepper (Start, Ask, Tell); Minimize drives it until
// the objective refuses an evaluation. On several evaluation slots
// (BatchGeneration) a generation's λ samples fill the slots as they free
// up and the next generation is sampled once all λ losses are back
// (Generations says why: samples drawn early from the old distribution
// would change the update). The restart variants and UH-CMA-ES, whose
// generations also carry re-evaluations, are driven the same way.
//
// Box constraints (Problem.Bounded) are handled by one of four methods,
// the hyperparameter bound (cmaes_bounds.go says what each does to the
// evaluated points, the update, σ and the mean): mirror (the default:
// reflection into the box, the reflected point adopted as the genotype),
// resample (as Optuna's CmaEsSampler), penalty (pycma's BoundPenalty) and
// transform (pycma's default BoundTransform, the piecewise quadratic map
// of transformations.BoxConstraintsLinQuadTransformation, with which the
// comparison against pycma runs). In every mode each evaluated point lies
// inside the box, the recommended mean is mapped into it, and the
// coordinate-wise standard deviations are capped at a third of the box
// width, as in pycma. The defaults — mirror, and σ0 = 1/6 of the mean box
// width (mergekit-evolve's, Sakana's and Optuna's) — were chosen by the
// protocol of results/cma-box; before, they were transform and 0.3.
//
// Degeneration: the harness owns the budget, so Minimize never stops by
// itself. When the distribution degenerates — a non-finite state, an
// eigendecomposition failure, a condition number of C above 1e14 (pycma's
// tolconditioncov), a step size below 1e-12 × σ0 in every coordinate, or
// steps that no longer change the mean in floating point (pycma's
// noeffectcoord for all coordinates) — the distribution is restarted at
// the current mean with the initial step size, C = I and empty paths.
// pycma's single run would have terminated at that point, so evaluation
// counts to a target are unaffected wherever pycma reaches the target.
type CMAES struct {
	CMASettings

	core *cmaCore
}

// CMASettings are the hyperparameters the CMA-ES variants share (CMAES,
// RestartCMAES, UHCMAES), registered under the same names by each.
type CMASettings struct {
	// PopSize is λ; 0 means 4+⌊3 ln n⌋. 1 and negative values are errors,
	// and so is a λ above a known Problem.Budget (no generation could end).
	PopSize int
	// Sigma0 is the initial step size in absolute units; 0 means
	// Problem.Sigma0, or Sigma0Frac × the mean box width when that is 0
	// too.
	Sigma0 float64
	// Sigma0Frac is the initial step size as a fraction of the mean box
	// width, used when neither Sigma0 nor Problem.Sigma0 is set; 0 means
	// DefaultSigma0Frac. A fraction, not an absolute step, because a merge
	// recipe's parameters live in boxes of different widths (weights in
	// [0,1], scales in [0,2]) and the step must fit the box.
	Sigma0Frac float64
	// Bound is the box handling of a bounded problem (Problem.Bounded):
	// one of BoundModes, "" meaning DefaultBound. See boundModes for what
	// each does to the evaluated points, the update and the mean.
	Bound string
	// NoActive turns active CMA off (negative weights set to 0); the
	// hyperparameter is "active", true by default as in pycma.
	NoActive bool
	// Recommend chooses the returned point: "mean" (also ""), the
	// distribution mean mapped into the box, or "best", nil, which makes
	// the harness use the best observed point.
	Recommend string
	// EigenGap is the number of generations between two
	// eigendecompositions of C (B and D lag behind C in between, the
	// tutorial's lazy update, section B.2). 0 means
	// max(1/(10n), n/2000)/(c1+cμ): up to n = 14 this is pycma's
	// lazy_update_gap 1/(10n(c1+cμ)), and up to n ≈ 30 it is below one
	// generation, so C is decomposed every generation exactly as pycma
	// does; above, C may accumulate a learning rate of n/2000 (3% at
	// n = 64, 13% at n = 256) between decompositions. gonum's EigenSym
	// takes 0.56 ms at n = 64 and 170 ms at n = 256, so pycma's gap
	// (every generation at n = 64, every 3rd at n = 256) would cost 5 and
	// 50 times pycma's own overhead per generation; with this gap the
	// amortised cost stays O(λn²). 1 decomposes every generation.
	EigenGap float64
}

// flags registers the shared hyperparameters; recommendUsage says what
// the variant's "recommend" values mean.
func (s *CMASettings) flags(fs *flag.FlagSet, recommendUsage string) {
	fs.IntVar(&s.PopSize, "popsize", s.PopSize, "population size λ (of the first run, for restarts), 0 or ≥ 2 and at most the budget; 0 means 4+⌊3 ln n⌋")
	fs.Float64Var(&s.Sigma0, "sigma0", s.Sigma0, "initial step size in absolute units, finite and ≥ 0; 0 means the problem's sigma0, or sigma0frac × mean box width if that is 0")
	sigmaFracFlag(fs, &s.Sigma0Frac)
	boundFlag(fs, &s.Bound)
	fs.Var(negBool{&s.NoActive}, "active", "active CMA (negative recombination weights, pycma's default); false uses positive weights only")
	fs.StringVar(&s.Recommend, "recommend", s.Recommend, recommendUsage)
	fs.Float64Var(&s.EigenGap, "eigengap", s.EigenGap, "generations between eigendecompositions of C; 0 means max(1/(10n), n/2000)/(c1+cmu) (every generation up to n≈30, as pycma)")
}

var _ Optimizer = (*CMAES)(nil)
var _ Stepper = (*CMAES)(nil)

// Flags registers the hyperparameters.
// RecommendsUnevaluated implements UnevaluatedRecommender: the
// distribution mean is never evaluated as such.
func (c *CMAES) RecommendsUnevaluated() bool { return c.Recommend != "best" }

var _ UnevaluatedRecommender = (*CMAES)(nil)

func (c *CMAES) Flags(fs *flag.FlagSet) {
	c.flags(fs, "returned point: mean (distribution mean; also when empty) or best (best observed)")
}

// negBool is a boolean flag that stores its negation, so that a field
// whose zero value is the default (NoActive) can be set as "active".
type negBool struct{ p *bool }

func (b negBool) String() string {
	if b.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.p)
}

func (b negBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = !v
	return nil
}

func (b negBool) IsBoolFlag() bool { return true }

// cmaOptions are the settings of one CMA-ES distribution; they are shared
// by the restart variants.
type cmaOptions struct {
	lambda   int
	sigma0   float64 // resolved, absolute
	bound    string  // resolved box handling, one of BoundModes
	active   bool
	eigenGap float64
	diag     bool // sep-CMA-ES: diagonal C (cmaes_sep.go)
}

func (c *CMAES) options(p Problem) (cmaOptions, error) {
	if c.PopSize < 0 || c.PopSize == 1 {
		return cmaOptions{}, fmt.Errorf("cmaes: popsize %d: must be 0 (default) or at least 2", c.PopSize)
	}
	if !(c.Sigma0 >= 0) || math.IsInf(c.Sigma0, 0) {
		return cmaOptions{}, fmt.Errorf("cmaes: sigma0 %g: must be finite and not negative", c.Sigma0)
	}
	if !(c.EigenGap >= 0) || math.IsInf(c.EigenGap, 0) {
		return cmaOptions{}, fmt.Errorf("cmaes: eigengap %g: must be finite and not negative", c.EigenGap)
	}
	switch c.Recommend {
	case "", "mean", "best":
	default:
		return cmaOptions{}, fmt.Errorf("cmaes: recommend %q: must be mean or best", c.Recommend)
	}
	if err := checkSigmaFrac(c.Sigma0Frac); err != nil {
		return cmaOptions{}, fmt.Errorf("cmaes: %w", err)
	}
	bound, err := resolveBound(c.Bound)
	if err != nil {
		return cmaOptions{}, fmt.Errorf("cmaes: %w", err)
	}
	return cmaOptions{
		lambda:   c.PopSize,
		sigma0:   initialSigma(c.Sigma0, c.Sigma0Frac, p),
		bound:    bound,
		active:   !c.NoActive,
		eigenGap: c.EigenGap,
	}, nil
}

// initialSigma resolves a step size setting: the method's own absolute
// value, else the problem's, else the fraction frac (0: DefaultSigma0Frac)
// of the mean box width.
func initialSigma(own, frac float64, p Problem) float64 {
	switch {
	case own > 0:
		return own
	case p.Sigma0 > 0:
		return p.Sigma0
	case frac > 0:
		return frac * p.Width()
	default:
		return DefaultSigma0Frac * p.Width()
	}
}

// defaultLambda is pycma's default population size 4+⌊3 ln n⌋.
func defaultLambda(n int) int { return 4 + int(3*math.Log(float64(n))) }

// cmaGrid is the tuning grid of the CMA-ES family: the population and the
// initial step, the knobs that matter at real-merge budgets ("0" is the
// formula default λ = 4+⌊3 ln n⌋).
func cmaGrid() map[string][]string {
	return map[string][]string{"popsize": {"0", "8", "16"}, "sigma0": {"0.1", "0.2", "0.3", "0.5"}}
}

// cmaNumbers estimates the float64 values one CMA-ES distribution of
// dimension n and population λ holds: C, B, the eigenvectors and the copy
// EigenSym factors, with the previous factorisation not yet collected
// (5n², none for a diagonal C); the five λ×n generation buffers and the λ
// candidates handed out (6λn); and the vectors of length n and λ.
func cmaNumbers(n, lambda int, diag bool) float64 {
	nf, lf := float64(n), float64(lambda)
	v := 6*lf*nf + 16*nf + 4*lf
	if !diag {
		v += 5 * nf * nf
	}
	return v
}

// checkCMASize is the one size check of the CMA-ES family, made before
// anything is allocated: an explicit popsize larger than a known budget is
// refused (not one generation could complete, so the distribution would
// never be updated), and so is a distribution whose state would not fit in
// memory (--dim 100000 needs 373 GiB for C alone and its eigenvectors).
// lambdaMax is the largest population the variant may reach (restarts and
// noise handling grow it); extra counts any further numbers it holds.
func checkCMASize(name string, p Problem, popsize, lambdaMax int, diag bool, extra float64) error {
	if err := checkPopBudget(name, "popsize", popsize, p); err != nil {
		return err
	}
	what := "the covariance matrix, its eigendecomposition and the population (about 5n² + 6λn numbers)"
	if diag {
		what = "the population (about 6λn numbers)"
	}
	return checkMemory(name, fmt.Sprintf("dimension %d with population λ = %d", p.Dim, lambdaMax), what,
		cmaNumbers(p.Dim, lambdaMax, diag)+extra)
}

// lambdaOf resolves a popsize setting for dimension n.
func lambdaOf(popsize, n int) int {
	if popsize == 0 {
		return defaultLambda(n)
	}
	return popsize
}

// Start validates p and initialises the distribution at p.Start() for use
// through Ask and Tell.
func (c *CMAES) Start(p Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	o, err := c.options(p)
	if err != nil {
		return err
	}
	if err := checkCMASize("cmaes", p, c.PopSize, lambdaOf(c.PopSize, p.Dim), false, 0); err != nil {
		return err
	}
	c.core = newCMACore(p, o, p.Start())
	return nil
}

// Ask samples a generation of λ candidates (phenotypes: inside the box
// when the problem is bounded). It returns nil before Start.
func (c *CMAES) Ask(rng *rand.Rand) [][]float64 {
	if c.core == nil {
		return nil
	}
	return c.core.ask(rng)
}

// Tell updates the distribution with the losses of the last Ask, in the
// same order; the candidates are identified by position (the genotypes
// kept by Ask are used, as pycma does). A batch of the wrong size is
// ignored.
func (c *CMAES) Tell(xs [][]float64, fs []float64) {
	if c.core == nil {
		return
	}
	c.core.tell(fs)
}

// Mean returns the distribution mean mapped into the box (a copy), or nil
// before Start.
func (c *CMAES) Mean() []float64 {
	if c.core == nil {
		return nil
	}
	return c.core.recommendation()
}

// Minimize runs CMA-ES until obj.Eval fails and returns the distribution
// mean (or nil with Recommend "best").
func (c *CMAES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if err := c.Start(p); err != nil {
		return nil, err
	}
	err := Drive(ctx, c, obj, rng)
	if c.Recommend == "best" {
		return nil, err
	}
	return c.core.recommendation(), err
}

// cmaCore is the state of one CMA-ES distribution.
type cmaCore struct {
	n, lambda, mu int
	weights       []float64 // λ recombination weights, negative ones finalized
	sumW          float64   // sum of all weights (1 − Σ|w⁻|)
	mueff         float64
	cs, damps     float64
	cc, c1, cmu   float64
	chiN          float64
	eigenGap      float64
	sigma0        float64
	diag          bool      // diagonal covariance (sep-CMA-ES): C and B unused
	cdiag         []float64 // the variances when diag

	sigma     float64
	mean      []float64 // genotype
	meanOld   []float64
	ps, pc    []float64
	scale     []float64 // pycma's sigma_vec: per-coordinate factor, 1 unless stds hit maxstd
	maxstd    []float64 // nil when unbounded
	C         blas64.Symmetric
	B         blas64.General // columns are eigenvectors of C
	D         []float64      // square roots of the eigenvalues of C
	eig       mat.EigenSym
	eigVals   []float64
	eigVecs   mat.Dense
	iter      int // generations since the last (re)start
	lastEig   int
	restarts  int
	eigens    int           // decompositions done
	evals     int           // candidates told
	bound     string        // box handling (BoundModes), "" when unbounded
	lb, ub    []float64     // the box when bounded
	box       *boxTransform // BoundTransform only
	pen       *boundPenalty // BoundPenalty only
	repairs   int           // genotypes replaced by a repaired point (mirror, resample fallback)
	lastAsked int           // number of candidates of the pending Ask, 0 if none

	// generation buffers
	Z, DZ, Y blas64.General // λ×n: N(0,I) draws, D⊙z, B(D⊙z)
	geno     blas64.General // λ×n genotypes
	f        []float64
	idx      []int
	zw, yw   []float64
	tmp      []float64
	Wy       blas64.General // weighted vectors for the rank-μ update

	// termination bookkeeping (used by the restart variants)
	fitHist              []float64 // best f of recent generations, newest last
	histBest, histMedian []float64 // every 5th generation
	bestF                float64
	bestEvals            int
	flatIters            int
	xstagRef             []float64 // pycma's tolxstagnation: reference mean
	xstagCount           int
	xstagCountX          int
	maxIter              float64 // 0: none (plain cmaes)
	stopped              string  // termination criterion met (restart variants)
}

func newCMACore(p Problem, o cmaOptions, x0 []float64) *cmaCore {
	n := p.Dim
	lambda := lambdaOf(o.lambda, n)
	s := &cmaCore{n: n, lambda: lambda, sigma0: o.sigma0, diag: o.diag}
	s.setWeights(o.active && !o.diag)
	nf := float64(n)
	s.cs = (s.mueff + 2) / (nf + s.mueff + 3)
	s.damps = 1 + 2*math.Max(0, math.Sqrt((s.mueff-1)/(nf+1))-1) + s.cs
	s.cc = (4 + s.mueff/nf) / (nf + 4 + 2*s.mueff/nf)
	s.chiN = chiN(n)
	s.eigenGap = o.eigenGap
	if s.diag {
		s.c1, s.cmu = sepLearningRates(n, s.mueff)
		s.eigenGap = 0 // D = √diag(C) is renewed every generation
	} else if s.eigenGap == 0 {
		s.eigenGap = math.Max(1/(10*nf), nf/2000) / (s.c1 + s.cmu)
	}

	s.mean = make([]float64, n)
	s.meanOld = make([]float64, n)
	s.ps = make([]float64, n)
	s.pc = make([]float64, n)
	s.scale = make([]float64, n)
	if s.diag {
		s.cdiag = make([]float64, n)
	} else {
		s.C = blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: make([]float64, n*n)}
		s.B = blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
	}
	s.D = make([]float64, n)
	s.eigVals = make([]float64, n)
	s.Z = newGeneral(lambda, n)
	s.DZ = newGeneral(lambda, n)
	s.Y = newGeneral(lambda, n)
	s.geno = newGeneral(lambda, n)
	s.Wy = newGeneral(lambda, n)
	s.f = make([]float64, lambda)
	s.idx = make([]int, lambda)
	s.zw = make([]float64, n)
	s.yw = make([]float64, n)
	s.tmp = make([]float64, n)

	if p.Bounded {
		s.bound = o.bound
		if s.bound == "" {
			s.bound = DefaultBound
		}
		s.lb, s.ub = slices.Clone(p.Lower), slices.Clone(p.Upper)
		switch s.bound {
		case BoundTransform:
			s.box = newBoxTransform(p.Lower, p.Upper)
		case BoundPenalty:
			s.pen = &boundPenalty{}
		}
		s.maxstd = make([]float64, n)
		for i := range s.maxstd {
			s.maxstd[i] = (p.Upper[i] - p.Lower[i]) / 3 // pycma's maxstd_boundrange
		}
	}
	copy(s.mean, x0)
	for i, v := range s.mean {
		if !isFinite(v) {
			s.mean[i] = (p.Lower[i] + p.Upper[i]) / 2
		}
	}
	switch {
	case s.box != nil:
		s.box.inverse(s.mean)
	case s.lb != nil:
		s.clipBox(s.mean)
	}
	s.bestF = math.Inf(1)
	s.resetDistribution()
	return s
}

func newGeneral(r, c int) blas64.General {
	return blas64.General{Rows: r, Cols: c, Stride: c, Data: make([]float64, r*c)}
}

// setWeights computes pycma's RecombinationWeights for λ and finalizes
// the negative weights with c1 and cμ (recombination_weights.py).
func (s *cmaCore) setWeights(active bool) {
	lam, n := s.lambda, float64(s.n)
	w := make([]float64, lam)
	for i := range w {
		w[i] = math.Log(float64(lam+1)/2) - math.Log(float64(i+1))
	}
	mu := 0
	spos := 0.0
	for _, v := range w {
		if v > 0 {
			mu++
			spos += v
		}
	}
	ss := 0.0
	for i := range w {
		w[i] /= spos
		if i < mu {
			ss += w[i] * w[i]
		}
	}
	s.mu = mu
	s.mueff = 1 / ss
	sneg, sneg2 := 0.0, 0.0
	for _, v := range w[mu:] {
		sneg += v
		sneg2 += v * v
	}
	lamf := float64(lam)
	s.c1 = math.Min(1, lamf/6) * 2 / ((n+1.3)*(n+1.3) + s.mueff)
	s.cmu = math.Min(1-s.c1, 2*(0.25+s.mueff-2+1/s.mueff)/((n+2)*(n+2)+s.mueff))
	if sneg < 0 && active {
		mueffMinus := sneg * sneg / sneg2
		target := 1 + s.c1/s.cmu
		target = math.Min(target, (1-s.c1-s.cmu)/s.cmu/n)
		target = math.Min(target, 1+2*mueffMinus/(s.mueff+2))
		// raw negative weights sum to sneg; scale them to sum to −target
		for i := mu; i < lam; i++ {
			w[i] *= target / -sneg
		}
	} else {
		for i := mu; i < lam; i++ {
			w[i] = 0
		}
	}
	s.weights = w
	s.sumW = 0
	for _, v := range w {
		s.sumW += v
	}
}

// chiN is E‖N(0,I_n)‖: exact for n ≤ 6, pycma's series above.
func chiN(n int) float64 {
	nf := float64(n)
	if n <= 6 {
		a, _ := math.Lgamma((nf + 1) / 2)
		b, _ := math.Lgamma(nf / 2)
		return math.Sqrt2 * math.Exp(a-b)
	}
	return math.Sqrt(nf) * (1 - 1/(4*nf) + 1/(26*nf*nf))
}

// resetDistribution sets σ = σ0, C = B = I, empty paths, keeping the mean.
func (s *cmaCore) resetDistribution() {
	n := s.n
	s.sigma = s.sigma0
	clear(s.C.Data)
	clear(s.B.Data)
	for i := range n {
		if s.diag {
			s.cdiag[i] = 1
		} else {
			s.C.Data[i*n+i] = 1
			s.B.Data[i*n+i] = 1
		}
		s.D[i] = 1
		s.scale[i] = 1
	}
	clear(s.ps)
	clear(s.pc)
	s.iter = 0
	s.lastEig = 0
}

// restart is called on degeneration: it keeps the mean (or the box centre
// when the mean is not finite) and resets everything else.
func (s *cmaCore) restart() {
	for i, v := range s.mean {
		if !isFinite(v) {
			s.mean[i] = 0
			if s.lb != nil {
				s.mean[i] = (s.lb[i] + s.ub[i]) / 2
			}
		}
	}
	s.restarts++
	s.resetDistribution()
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// decompose eigendecomposes C into B and D; false means C is unusable.
func (s *cmaCore) decompose() bool {
	n := s.n
	if s.diag {
		lo, hi := math.Inf(1), 0.0
		for i, v := range s.cdiag {
			if !(v > 0) || !isFinite(v) {
				return false
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			s.D[i] = math.Sqrt(v)
		}
		s.lastEig = s.iter
		return hi <= 1e14*lo
	}
	// C is stored as the upper triangle; EigenSym reads it through SymDense.
	sym := mat.NewSymDense(n, s.C.Data)
	if !s.eig.Factorize(sym, true) {
		return false
	}
	s.eig.Values(s.eigVals)
	s.eig.VectorsTo(&s.eigVecs)
	if s.eigVals[0] <= 0 || !isFinite(s.eigVals[n-1]) || s.eigVals[n-1] > 1e14*s.eigVals[0] {
		return false
	}
	for i, v := range s.eigVals {
		s.D[i] = math.Sqrt(v)
	}
	raw := s.eigVecs.RawMatrix()
	for i := range n {
		copy(s.B.Data[i*n:(i+1)*n], raw.Data[i*raw.Stride:i*raw.Stride+n])
	}
	s.lastEig = s.iter
	s.eigens++
	return true
}

// degenerate reports a state from which sampling is pointless.
func (s *cmaCore) degenerate() bool {
	if !isFinite(s.sigma) || s.sigma <= 0 {
		return true
	}
	tiny := true
	noEffect := true
	n := s.n
	for i := range n {
		sd := s.sigma * s.scale[i] * math.Sqrt(s.variance(i))
		if !isFinite(sd) || !isFinite(s.mean[i]) || !isFinite(s.pc[i]) || !isFinite(s.ps[i]) {
			return true
		}
		if sd >= 1e-12*s.sigma0 {
			tiny = false
		}
		if s.mean[i]+0.2*sd != s.mean[i] {
			noEffect = false
		}
	}
	return tiny || noEffect
}

// ask samples λ genotypes x = m + σ·scale⊙B(D⊙z) and returns their
// phenotypes in freshly allocated slices (the caller may keep them).
func (s *cmaCore) ask(rng *rand.Rand) [][]float64 {
	n, lam := s.n, s.lambda
	if s.degenerate() {
		s.restart()
	}
	// B and D are exact after a reset (C = I); afterwards they are renewed
	// every eigenGap generations.
	if float64(s.iter-s.lastEig) >= s.eigenGap {
		if !s.decompose() {
			s.restart()
		}
	}
	for k := range lam {
		z := s.Z.Data[k*n : (k+1)*n]
		dz := s.DZ.Data[k*n : (k+1)*n]
		for i := range z {
			z[i] = rng.NormFloat64()
			dz[i] = s.D[i] * z[i]
		}
	}
	if s.diag {
		copy(s.Y.Data, s.DZ.Data)
	} else {
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, s.DZ, s.B, 0, s.Y)
	}
	back := make([]float64, lam*n)
	xs := make([][]float64, lam)
	for k := range lam {
		y := s.Y.Data[k*n : (k+1)*n]
		g := s.geno.Data[k*n : (k+1)*n]
		for i := range g {
			g[i] = s.mean[i] + s.sigma*s.scale[i]*y[i]
		}
		xs[k] = back[k*n : (k+1)*n : (k+1)*n]
	}
	// Box handling (cmaes_bounds.go). Resampling redraws rows after the
	// whole generation was drawn, so the draws of unbounded and
	// transformed runs stay as pycma's.
	for k, x := range xs {
		g := s.geno.Data[k*n : (k+1)*n]
		switch s.bound {
		case BoundResample:
			if !s.inBox(g) {
				s.resample(k, rng)
			}
		case BoundMirror:
			if !s.inBox(g) {
				copy(x, g)
				reflect(Problem{Lower: s.lb, Upper: s.ub}, x)
				s.adopt(k, x)
			}
		}
		// resample and mirror evaluate the genotype itself (inside the box),
		// so every loss belongs to the point the update uses.
		copy(x, g)
		switch s.bound {
		case BoundTransform:
			s.box.apply(x)
		case BoundPenalty:
			s.clipBox(x) // pycma evaluates the clipped genotype
		}
	}
	s.lastAsked = lam
	return xs
}

// tell ranks the last generation by fs and updates the distribution:
// tutorial eqs. (39)–(47) with pycma's details.
func (s *cmaCore) tell(fs []float64) {
	n, lam := s.n, s.lambda
	if s.lastAsked != lam || len(fs) != lam {
		return
	}
	s.lastAsked = 0
	for k, v := range fs {
		if math.IsNaN(v) {
			v = math.Inf(1)
		}
		s.f[k] = v
		s.idx[k] = k
	}
	if s.pen != nil {
		// pycma ranks by f + penalty, with the weights updated first from
		// the raw losses and the distribution before this generation.
		s.pen.update(s, s.f, s.iter+1)
		for k := range s.f {
			s.f[k] += s.pen.penalty(s, s.geno.Data[k*n:(k+1)*n])
		}
	}
	slices.SortStableFunc(s.idx, func(a, b int) int { return cmp.Compare(s.f[a], s.f[b]) })
	s.evals += lam
	s.iter++
	s.record()

	// mean and weighted steps
	copy(s.meanOld, s.mean)
	clear(s.mean)
	clear(s.zw)
	clear(s.yw)
	for r := 0; r < s.mu; r++ {
		k, w := s.idx[r], s.weights[r]
		blas64.Implementation().Daxpy(n, w, s.geno.Data[k*n:(k+1)*n], 1, s.mean, 1)
		blas64.Implementation().Daxpy(n, w, s.Z.Data[k*n:(k+1)*n], 1, s.zw, 1)
		blas64.Implementation().Daxpy(n, w, s.Y.Data[k*n:(k+1)*n], 1, s.yw, 1)
	}

	// step-size path: ps ← (1−cs)ps + √(cs(2−cs)μeff)·C^{−1/2}(m−m_old)/σ,
	// where C^{−1/2}·B(D⊙z) = B z.
	if s.diag {
		copy(s.tmp, s.zw)
	} else {
		blas64.Gemv(blas.NoTrans, 1, s.B, blas64.Vector{N: n, Inc: 1, Data: s.zw}, 0, blas64.Vector{N: n, Inc: 1, Data: s.tmp})
	}
	a := math.Sqrt(s.cs * (2 - s.cs) * s.mueff)
	ps2 := 0.0
	for i := range s.ps {
		s.ps[i] = (1-s.cs)*s.ps[i] + a*s.tmp[i]
		ps2 += s.ps[i] * s.ps[i]
	}
	hsig := 0.0
	if ps2/(1-math.Pow(1-s.cs, 2*float64(s.iter)))/float64(n)-1 < 1+4/(float64(n)+1) {
		hsig = 1
	}

	// covariance path and update
	ac := hsig * math.Sqrt(s.cc*(2-s.cc)*s.mueff)
	for i := range s.pc {
		s.pc[i] = (1-s.cc)*s.pc[i] + ac*s.yw[i]
	}
	c1a := s.c1 * (1 - (1-hsig*hsig)*s.cc*(2-s.cc))
	decay := 1 - c1a - s.cmu*s.sumW
	if s.diag {
		s.updateDiag(decay)
	} else {
		s.updateFull(decay)
	}

	// cumulative step-size adaptation
	d := s.cs / s.damps * (math.Sqrt(ps2)/s.chiN - 1)
	s.sigma *= math.Exp(math.Max(-1, math.Min(1, d)))

	s.updateXStagnation()

	// pycma's _stds_into_limits: cap coordinate stds at maxstd via scale
	if s.maxstd != nil {
		fix := 1.0
		if s.iter <= 2 {
			fix = math.Exp(1e-4)
		}
		for i := range n {
			sd := s.sigma * s.scale[i] * math.Sqrt(s.variance(i))
			if sd > s.maxstd[i]*fix && sd > 0 && isFinite(sd) {
				s.scale[i] *= s.maxstd[i] / sd
			}
		}
	}
}

// updateFull is the covariance update C ← decay·C + c1·pc pcᵀ +
// cμ Σ w°_i y_i y_iᵀ of the last generation (tutorial eq. (47)).
func (s *cmaCore) updateFull(decay float64) {
	n, lam := s.n, s.lambda
	// Rank-μ update as two rank-k updates (Syrk) of the steps y scaled by
	// √(cμ|w°|): the μ positive ranks first, then the negative ones, whose
	// weights are rescaled by n/‖C^{−1/2}y‖² = n/‖z‖² (pycma adds 1e-9 to
	// the norm).
	pos, neg := 0, 0
	for r := 0; r < lam; r++ {
		w := s.weights[r]
		if w == 0 {
			continue
		}
		k := s.idx[r]
		var row []float64
		if w > 0 {
			row = s.Wy.Data[pos*n : (pos+1)*n]
			pos++
		} else {
			z := s.Z.Data[k*n : (k+1)*n]
			nz := math.Sqrt(blas64.Implementation().Ddot(n, z, 1, z, 1)) + 1e-9
			w *= float64(n) / (nz * nz)
			row = s.Wy.Data[(s.mu+neg)*n : (s.mu+neg+1)*n]
			neg++
		}
		f := math.Sqrt(s.cmu * math.Abs(w))
		y := s.Y.Data[k*n : (k+1)*n]
		for i := range row {
			row[i] = f * y[i]
		}
	}
	blas64.Syrk(blas.Trans, 1, blas64.General{Rows: pos, Cols: n, Stride: n, Data: s.Wy.Data[:pos*n]}, decay, s.C)
	if neg > 0 {
		A := blas64.General{Rows: neg, Cols: n, Stride: n, Data: s.Wy.Data[s.mu*n : (s.mu+neg)*n]}
		blas64.Syrk(blas.Trans, -1, A, 1, s.C)
	}
	blas64.Syr(s.c1, blas64.Vector{N: n, Inc: 1, Data: s.pc}, s.C)
}

// updateDiag is the same update restricted to the diagonal (sep-CMA-ES).
func (s *cmaCore) updateDiag(decay float64) {
	n := s.n
	for i := range s.cdiag {
		s.cdiag[i] = decay*s.cdiag[i] + s.c1*s.pc[i]*s.pc[i]
	}
	for r := 0; r < s.lambda; r++ {
		w := s.weights[r]
		if w == 0 {
			continue
		}
		k := s.idx[r]
		y := s.Y.Data[k*n : (k+1)*n]
		if w < 0 {
			z := s.Z.Data[k*n : (k+1)*n]
			nz := math.Sqrt(blas64.Implementation().Ddot(n, z, 1, z, 1)) + 1e-9
			w *= float64(n) / (nz * nz)
		}
		for i, v := range y {
			s.cdiag[i] += s.cmu * w * v * v
		}
	}
}

// variance returns C_ii.
func (s *cmaCore) variance(i int) float64 {
	if s.diag {
		return s.cdiag[i]
	}
	return s.C.Data[i*s.n+i]
}

// record keeps the fitness histories of pycma's termination criteria.
func (s *cmaCore) record() {
	lam := s.lambda
	best := s.f[s.idx[0]]
	if best < s.bestF {
		s.bestF = best
		s.bestEvals = s.evals
	}
	if best < s.f[s.idx[int(0.75*float64(lam))]] {
		s.flatIters = 0
	} else {
		s.flatIters++
	}
	s.fitHist = append(s.fitHist, best)
	if lim := 10 + int(30*float64(s.n)/float64(lam)); len(s.fitHist) > lim {
		s.fitHist = s.fitHist[len(s.fitHist)-lim:]
	}
	if s.iter%5 == 0 {
		med := s.f[s.idx[lam/2]]
		if lam%2 == 0 {
			med = (s.f[s.idx[lam/2-1]] + s.f[s.idx[lam/2]]) / 2
		}
		s.histBest = append(s.histBest, best)
		s.histMedian = append(s.histMedian, med)
	}
}

// recommendation is the mean mapped into the box (pycma's xfavorite):
// transformed under BoundTransform, clipped otherwise (the mean of
// resample and mirror runs is inside already, up to rounding; that of
// penalty runs may lie outside).
func (s *cmaCore) recommendation() []float64 {
	x := slices.Clone(s.mean)
	switch {
	case s.box != nil:
		s.box.apply(x)
	case s.lb != nil:
		s.clipBox(x)
	}
	return x
}

// boxTransform is pycma's BoxConstraintsLinQuadTransformation with the
// default margin width max(1, |bound|)/20, capped at half the box width.
type boxTransform struct {
	lb, ub, al, au []float64
}

func newBoxTransform(lower, upper []float64) *boxTransform {
	n := len(lower)
	t := &boxTransform{lb: slices.Clone(lower), ub: slices.Clone(upper), al: make([]float64, n), au: make([]float64, n)}
	for i := range n {
		half := (upper[i] - lower[i]) / 2
		t.al[i] = math.Min(half, math.Max(1, math.Abs(lower[i]))/20)
		t.au[i] = math.Min(half, math.Max(1, math.Abs(upper[i]))/20)
	}
	return t
}

// apply maps a genotype into the box in place.
func (t *boxTransform) apply(x []float64) {
	for i, y := range x {
		lb, ub, al, au := t.lb[i], t.ub[i], t.al[i], t.au[i]
		if !isFinite(y) {
			x[i] = (lb + ub) / 2
			continue
		}
		if y < lb-2*al-(ub-lb)/2 || y > ub+2*au+(ub-lb)/2 {
			r := 2 * (ub - lb + al + au)
			s := lb - 2*al - (ub-lb)/2
			y -= r * math.Floor((y-s)/r)
		}
		if y > ub+au {
			y -= 2 * (y - ub - au)
		}
		if y < lb-al {
			y += 2 * (lb - al - y)
		}
		if y < lb+al {
			y = lb + (y-(lb-al))*(y-(lb-al))/4/al
		}
		if y > ub-au {
			y = ub - (y-(ub+au))*(y-(ub+au))/4/au
		}
		x[i] = min(max(y, lb), ub)
	}
}

// inverse maps a phenotype (clipped into the box first) to the genotype
// in the invertible domain [lb−al, ub+au], in place.
func (t *boxTransform) inverse(x []float64) {
	for i, y := range x {
		lb, ub, al, au := t.lb[i], t.ub[i], t.al[i], t.au[i]
		y = min(max(y, lb), ub)
		switch {
		case y < lb+al:
			y = (lb - al) + 2*math.Sqrt(al*(y-lb))
		case y < ub-au:
		default:
			y = (ub + au) - 2*math.Sqrt(au*(ub-y))
		}
		x[i] = y
	}
}

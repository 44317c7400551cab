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
		Name:       "ipop-cmaes",
		Summary:    "IPOP-CMA-ES: CMA-ES restarted with doubled population from a uniform start in the box (Auger & Hansen 2005)",
		Recommends: "best observed",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &RestartCMAES{} },
	})
	Register(Entry{
		Name:       "bipop-cmaes",
		Summary:    "BIPOP-CMA-ES: restarts alternating large and small local populations (Hansen 2009)",
		Recommends: "best observed",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchGeneration,
		New:        func() Optimizer { return &RestartCMAES{BIPOP: true} },
	})
}

// RestartCMAES is CMA-ES with restarts on pycma's termination criteria:
//
//   - IPOP (A. Auger, N. Hansen, "A restart CMA evolution strategy with
//     increasing population size", CEC 2005): every restart doubles λ and
//     starts from a new point drawn uniformly in the box, with σ0. A large
//     population smooths multimodal landscapes such as Rastrigin's.
//   - BIPOP (N. Hansen, "Benchmarking a BI-population CMA-ES on the
//     BBOB-2009 function testbed", GECCO 2009 workshop), as pycma's fmin
//     implements it: after the first run, a run with a small population is
//     made whenever the evaluations spent in small runs are fewer than in
//     large ones, with λ = ⌊λ0·(2^k)^(U²)⌋, σ = σ0·0.01^U (U uniform in
//     [0,1), k the number of large runs so far) and at most half the
//     large runs' evaluations; otherwise a large run doubles λ as IPOP.
//     The small runs find narrow basins that large populations miss.
//
// A run ends on any of pycma 4.4.0's default criteria: tolfun 1e-11,
// tolfunhist 1e-12, tolx 1e-11·σ0, tolconditioncov 1e14, noeffectaxis,
// noeffectcoord, tolstagnation, tolxstagnation, tolflatfitness 1,
// tolfacupx 1e3, tolupsigma 1e20 and maxiter 100+150(n+3)²/√λ.
// As all methods here, it runs until the objective refuses an evaluation.
type RestartCMAES struct {
	// BIPOP selects BIPOP; false is IPOP.
	BIPOP bool
	// CMASettings as in CMAES, except: PopSize is the first run's λ0,
	// Sigma0 is that of every (large) run, and Recommend is "best" (also
	// ""): nil, the best observed point, because the current run's mean
	// may sit in a worse basin than an earlier run's; or "mean": the
	// current run's distribution mean.
	CMASettings

	p        Problem
	opts     cmaOptions
	core     *cmaCore
	runs     int
	small    int // runs with a small population
	evSmall  int // evaluations in small runs (the first run counts here)
	evLarge  int
	runSmall bool
	maxIter0 float64
}

var _ Optimizer = (*RestartCMAES)(nil)
var _ Stepper = (*RestartCMAES)(nil)

// Flags registers the hyperparameters.
func (r *RestartCMAES) Flags(fs *flag.FlagSet) {
	r.flags(fs, "returned point: best (best observed; also when empty) or mean (current run's distribution mean)")
}

// Start validates p and begins the first run at p.Start().
func (r *RestartCMAES) Start(p Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	c := CMAES{CMASettings: r.CMASettings}
	c.Recommend = "" // the restarts choose their own recommendation
	switch r.Recommend {
	case "", "best", "mean":
	default:
		return fmt.Errorf("%s: recommend %q: must be best or mean", r.name(), r.Recommend)
	}
	o, err := c.options(p)
	if err != nil {
		return err
	}
	if err := checkCMASize(r.name(), p, r.PopSize, r.maxLambda(p, lambdaOf(r.PopSize, p.Dim)), false, 0); err != nil {
		return err
	}
	r.p, r.opts = p, o
	r.runs, r.small, r.evSmall, r.evLarge = 0, 0, 0, 0
	r.core = newCMACore(p, o, p.Start())
	r.core.maxIter = cmaMaxIter(p.Dim, r.core.lambda)
	r.maxIter0 = r.core.maxIter
	r.runSmall = true // pycma accounts the first run as a small one
	return nil
}

func (r *RestartCMAES) name() string {
	if r.BIPOP {
		return "bipop-cmaes"
	}
	return "ipop-cmaes"
}

// maxLambda is the largest population of a restart: λ0 doubles up to
// max(λ0, 2²⁰/n) (a generation of about a million numbers), and never
// beyond a known budget, since a larger generation could not complete
// (its first candidates, all that would be evaluated, are the same).
func (r *RestartCMAES) maxLambda(p Problem, lambda0 int) int {
	m := max(lambda0, (1<<20)/p.Dim)
	if p.Budget > 0 {
		m = min(m, max(lambda0, p.Budget))
	}
	return m
}

// cmaMaxIter is pycma's default maxiter.
func cmaMaxIter(n, lambda int) float64 {
	nf := float64(n + 3)
	return 100 + math.Floor(150*nf*nf/math.Sqrt(float64(lambda)))
}

// Ask samples the current run, first starting the next run if the last
// one met a termination criterion.
func (r *RestartCMAES) Ask(rng *rand.Rand) [][]float64 {
	if r.core == nil {
		return nil
	}
	if r.core.stopped != "" {
		r.next(rng)
	}
	return r.core.ask(rng)
}

// next ends the current run and starts the next one from a uniform point
// in the box.
func (r *RestartCMAES) next(rng *rand.Rand) {
	if r.runSmall {
		r.evSmall += r.core.evals
	} else {
		r.evLarge += r.core.evals
	}
	r.runs++
	n := r.p.Dim
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = r.p.Lower[i] + (r.p.Upper[i]-r.p.Lower[i])*rng.Float64()
	}
	lambda0 := lambdaOf(r.opts.lambda, n)
	o := r.opts
	maxLambda := r.maxLambda(r.p, lambda0)
	large := r.runs - r.small // number of doublings
	maxIter := 0.0
	if r.BIPOP && float64(r.evSmall) < math.Max(1, float64(r.evLarge)) {
		r.small++
		r.runSmall = true
		large = r.runs - r.small
		u := rng.Float64()
		o.sigma0 = r.opts.sigma0 * math.Pow(0.01, u)
		o.lambda = max(2, int(float64(lambda0)*math.Pow(math.Pow(2, float64(large)), u*u)))
		o.lambda = min(o.lambda, maxLambda)
		maxIter = math.Min(r.maxIter0, 0.5*float64(r.evLarge)/float64(o.lambda))
	} else {
		r.runSmall = false
		o.lambda = lambda0 << min(large, 30)
		if o.lambda > maxLambda || o.lambda <= 0 {
			o.lambda = maxLambda
		}
		maxIter = cmaMaxIter(n, o.lambda)
	}
	r.core = newCMACore(r.p, o, x0)
	r.core.maxIter = maxIter
}

// Tell updates the current run and checks its termination criteria.
func (r *RestartCMAES) Tell(xs [][]float64, fs []float64) {
	if r.core == nil {
		return
	}
	r.core.tell(fs)
	r.core.stopped = r.core.stopReason()
}

// Minimize runs restarts until obj.Eval fails.
func (r *RestartCMAES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if err := r.Start(p); err != nil {
		return nil, err
	}
	err := Drive(ctx, r, obj, rng)
	if r.Recommend == "mean" {
		return r.core.recommendation(), err
	}
	return nil, err
}

// Restarts returns the number of restarts so far.
func (r *RestartCMAES) Restarts() int { return r.runs }

// updateXStagnation is pycma's _StopTolXStagnation.update with the
// default [1e-9, 20, 0.1]: the mean has moved less than 1e-9 (growing
// with √ of the time) for 20 + 0.1·t iterations.
func (s *cmaCore) updateXStagnation() {
	s.xstagCount++
	thr := 20 + 0.1*float64(s.xstagCount)
	delta := 1e-9 * math.Sqrt(math.Max(1, float64(s.xstagCount-s.xstagCountX)/thr))
	d := 0.0
	if s.xstagRef != nil {
		for i, v := range s.mean {
			d += (v - s.xstagRef[i]) * (v - s.xstagRef[i])
		}
	}
	if s.xstagRef == nil || math.Sqrt(d) > delta {
		s.xstagRef = append(s.xstagRef[:0], s.mean...)
		s.xstagCountX = s.xstagCount
	}
}

// stopReason evaluates pycma's default termination criteria after a Tell
// (_CMAStopDict._update); "" means continue.
func (s *cmaCore) stopReason() string {
	if s.iter == 0 {
		return ""
	}
	n, lam := s.n, s.lambda
	if s.maxIter > 0 && float64(s.iter) >= s.maxIter {
		return "maxiter"
	}
	tolx := 1e-11 * s.sigma0
	allTolX := true
	noEffectCoord := false
	for i := range n {
		sd := s.sigma * s.scale[i] * math.Sqrt(s.variance(i))
		if sd > s.sigma0*1e3 {
			return "tolfacupx"
		}
		if sd >= tolx || s.sigma*s.scale[i]*math.Abs(s.pc[i]) >= tolx {
			allTolX = false
		}
		if s.mean[i] == s.mean[i]+0.2*sd {
			noEffectCoord = true
		}
	}
	if allTolX {
		return "tolx"
	}
	fmin, fmax := s.f[s.idx[0]], s.f[s.idx[lam-1]]
	hmin, hmax := minMax(s.fitHist)
	if fmax-fmin < 1e-11 && hmax-hmin < 1e-11 {
		return "tolfun"
	}
	if len(s.fitHist) > 9 && hmax-hmin < 1e-12 {
		return "tolfunhist"
	}
	if s.stagnated() {
		return "tolstagnation"
	}
	if s.xstagCount-s.xstagCountX > int(math.Floor(20+0.1*float64(s.xstagCount))) {
		return "tolxstagnation"
	}
	if _, dmax := minMax(s.D); s.sigma/dmax > s.sigma0*1e20 {
		return "tolupsigma"
	}
	if noEffectCoord {
		return "noeffectcoord"
	}
	i := s.iter % n
	noEffectAxis := true
	for j := range n {
		bji := 0.0
		switch {
		case !s.diag:
			bji = s.B.Data[j*n+i]
		case i == j:
			bji = 1
		}
		step := 0.1 * s.sigma * s.D[i] * s.scale[j] * bji
		if s.mean[j] != s.mean[j]+step {
			noEffectAxis = false
			break
		}
	}
	if noEffectAxis {
		return "noeffectaxis"
	}
	dmin, dmax := minMax(s.D)
	if dmax > 1e7*dmin {
		return "tolconditioncov"
	}
	if s.flatIters > 1 {
		return "tolflatfitness"
	}
	return ""
}

// stagnated is pycma's tolstagnation: over the last 2l recorded
// generations (every 5th), neither the median nor the best f of the
// newer half improved on the older half.
func (s *cmaCore) stagnated() bool {
	n, lam := float64(s.n), float64(s.lambda)
	tolStag := math.Floor(100 + 100*math.Pow(n, 1.5)/lam)
	l := math.Max(tolStag/5/2, float64(len(s.histBest))/10)
	if l > float64(s.iter) {
		return false
	}
	li := int(l)
	h := len(s.histBest)
	if !(float64(s.iter) > n*(5+100/lam) &&
		float64(s.evals-s.bestEvals)/lam > tolStag/2 &&
		h > 100 && 2*li < h) {
		return false
	}
	// newest first, as pycma stores them
	newest := func(xs []float64, from, to int) []float64 {
		out := make([]float64, 0, to-from)
		for k := from; k < to; k++ {
			out = append(out, xs[len(xs)-1-k])
		}
		return out
	}
	return median(newest(s.histMedian, 0, li)) >= median(newest(s.histMedian, li, 2*li)) &&
		median(newest(s.histBest, 0, li)) >= median(newest(s.histBest, li, 2*li))
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range xs {
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	return lo, hi
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

func init() {
	Register(Entry{
		Name:       "gp-bo",
		Summary:    "Bayesian optimisation with a Matérn-5/2 ARD Gaussian process (marginal-likelihood fit, noise fitted) and log expected improvement",
		Recommends: "best posterior mean among evaluated points",
		// The initial design and one length scale per coordinate are what
		// a model fitted on 20–100 points is most sensitive to.
		Grid:  map[string][]string{"init": {"0", "3", "10", "20"}, "ard": {"true", "false"}},
		Batch: BatchAsync,
		New: func() Optimizer {
			return &GPBO{MaxPoints: 100, FitPoints: 60, ARD: true, Candidates: 32, Refine: 10, RefitGrowth: 1.5}
		},
	})
}

// GPBO is Bayesian optimisation with a Gaussian process (C. E. Rasmussen
// and C. K. I. Williams, "Gaussian Processes for Machine Learning", MIT
// Press 2006; D. R. Jones, M. Schonlau and W. J. Welch, "Efficient Global
// Optimization of Expensive Black-Box Functions", J. Global Optimization 13
// (1998) 455–492, for expected improvement; S. Ament et al., "Unexpected
// Improvements to Expected Improvement", NeurIPS 2023, for its logarithm):
//
//   - the first Init points are uniform in the box; Init 0 means 5, or a
//     quarter of a known budget when that is smaller, but at least 3, so
//     the GP proposes most candidates at any budget and in any dimension
//     (the former max(5, n+1) never fitted a GP in 26-D at budget 20: the
//     run was random search). Few points are enough for a GP whose
//     hyperparameters are kept well-posed as follows;
//   - the GP works on the box scaled to [0,1]^n and on losses standardised
//     to mean 0 and variance 1 (a constant prior mean); its kernel is
//     Matérn-5/2, k = σ_f²(1+√5r+5r²/3)e^(−√5r), with one length scale per
//     coordinate (ARD) or one for all, plus a noise variance σ_n². ARD
//     takes effect once the fit has n+1 points: from m ≤ n points the
//     m−1 differences between them span at most m−1 directions, so n
//     separate length scales are not identified and their likelihood
//     is flat or maximal at a bound in the others (Rasmussen & Williams,
//     section 5.4.1, on the likelihood's need for data per
//     hyperparameter). Until then one length scale is fitted for all
//     coordinates, which has three hyperparameters from any number of
//     points, and the first ARD fit starts from it;
//   - the hyperparameters maximise the log marginal likelihood (gradient
//     by the trace formula, gonum's L-BFGS, at most 30 evaluations, started
//     from the previous fit, and at the first and every third fit also from
//     ℓ = 0.2√n, σ_f² = 1, σ_n² = 0.01, keeping the better), within
//     ℓ ∈ [0.005, 20], σ_f² ∈ [0.01, 100], σ_n² ∈ [1e-6, 10] (a quadratic
//     penalty outside). They are refitted when the number of evaluations
//     has grown by the factor RefitGrowth (1.5) since the last fit, on at
//     most FitPoints (60) points chosen as below;
//   - the next point maximises log EI of the latent function below the
//     incumbent η, the lowest posterior mean at the evaluated points (the
//     plug-in used for noisy EI): over Candidates/2 (16) uniform points
//     and Candidates/2 Gaussian perturbations of the five points of lowest
//     posterior mean (steps 0.05, 0.2, 0.5 × each length scale), the best
//     two then refined by Refine (10) steps of a (1+1) search on log EI
//     (step 0.1 × length scale, ×1.5 on success, ×0.7 on failure), all
//     clipped to the box.
//
// Cost and the cap: a GP of N points costs O(N³) to factor and O(N²) per
// acquisition evaluation. The GP holds at most MaxPoints points: the
// MaxPoints/2 lowest observed losses and the most recent others. The set
// is chosen again (and refactored) every 10 evaluations or at a refit; new
// points in between are appended by extending the Cholesky factor
// (O(N²)), so it may briefly hold MaxPoints+10. The linear algebra is
// written on gonum's floats.Dot and floats.AddScaled (assembly kernels).
// MaxPoints is 100 by default, not 200: with 200 (and 64 candidates, 16
// refinement steps, 100 fit points) a 1,000-evaluation run in 4-D took
// about 1.2 s, but the shared conformance test (4,000 evaluations) took
// 17 s under the race detector; with these defaults it takes about 1.4 s
// (4.6 s under -race). At budgets up to ~150 the cap never binds. Set
// max-points=200 for long runs where the overhead does not matter.
//
// Several evaluation slots (BatchAsync): every slot that frees up gets a
// proposal at once, made with the Kriging believer (believe): each point
// still being evaluated enters the GP with its posterior mean as a
// fantasised loss before the next point is chosen, so the proposals of
// one moment spread out instead of piling on the same maximum of EI. The
// start-up design lasts until Init losses are known (up to Init+k−1
// uniform points on k slots). With one slot nothing is pending at a
// proposal and the method is the sequential one above.
//
// GP-BO samples only inside the box, also when the box is not a
// constraint (Problem.Bounded false): the GP's scaling and the
// acquisition search are the box.
//
// Recommendation: among the evaluated points whose observed loss is among
// the lowest (the best tenth, at least 5), the one of lowest posterior
// mean. The posterior mean discounts lucky noisy scores by their
// neighbours, the natural choice under noise (and the best observed point
// when there is none). The restriction guards against a poorly fitted
// GP: a model that takes a narrow peak for noise (a long length scale and
// a large noise variance) has a nearly flat posterior mean whose lowest
// point can be anywhere, and without the guard gp-bo handed over points
// that scored 2–11 after seeing 100 (4-D mock, noise 1, 200 evaluations:
// worst run and 10th percentile over 10 seeds).
type GPBO struct {
	Init        int     // initial uniform points; 0 = min(5, max(3, ⌈budget/4⌉)), 5 if the budget is unknown
	MaxPoints   int     // most points in the GP (≥ 10); 0 means 100
	FitPoints   int     // most points for the hyperparameter fit (≥ 5); 0 means 60
	ARD         bool    // one length scale per coordinate (else one for all)
	Candidates  int     // acquisition candidates per suggestion (≥ 2); 0 means 32
	Refine      int     // local refinement steps of the two best candidates (≥ 0; 0: none)
	RefitGrowth float64 // refit when evaluations grow by this factor (> 1, finite); 0 means 1.5

	phases
}

var _ PhaseCounter = (*GPBO)(nil)

// Flags registers the hyperparameters.
func (g *GPBO) Flags(fs *flag.FlagSet) {
	fs.IntVar(&g.Init, "init", g.Init, "initial uniform random points (≥ 0); 0 means 5, or ⌈budget/4⌉ when smaller but at least 3")
	fs.IntVar(&g.MaxPoints, "max-points", g.MaxPoints, "most points the GP holds (lowest losses and most recent), ≥ 10; 0 means 100")
	fs.IntVar(&g.FitPoints, "fit-points", g.FitPoints, "most points used to fit the hyperparameters, ≥ 5; 0 means 60")
	fs.BoolVar(&g.ARD, "ard", g.ARD, "one length scale per coordinate (ARD) instead of one for all")
	fs.IntVar(&g.Candidates, "candidates", g.Candidates, "acquisition candidates per suggestion (half uniform, half near the best), ≥ 2; 0 means 32")
	fs.IntVar(&g.Refine, "refine", g.Refine, "local refinement steps on log EI for each of the two best candidates, ≥ 0")
	fs.Float64Var(&g.RefitGrowth, "refit-growth", g.RefitGrowth, "refit the hyperparameters when the evaluations have grown by this factor (> 1, finite); 0 means 1.5")
}

// gpRebuildEvery is how many appended points trigger a new choice of the
// GP's points once the cap is reached.
const gpRebuildEvery = 10

// initPoints resolves Init for a problem.
func (g *GPBO) initPoints(p Problem) int {
	if g.Init > 0 {
		return g.Init
	}
	if p.Budget > 0 {
		return min(5, max(3, (p.Budget+3)/4))
	}
	return 5
}

// resolved returns the settings with zero values replaced by the defaults
// (and no phase counts).
func (g *GPBO) resolved() *GPBO {
	r := &GPBO{Init: g.Init, MaxPoints: g.MaxPoints, FitPoints: g.FitPoints, ARD: g.ARD,
		Candidates: g.Candidates, Refine: g.Refine, RefitGrowth: g.RefitGrowth}
	if r.MaxPoints == 0 {
		r.MaxPoints = 100
	}
	if r.FitPoints == 0 {
		r.FitPoints = 60
	}
	if r.Candidates == 0 {
		r.Candidates = 32
	}
	if r.RefitGrowth == 0 {
		r.RefitGrowth = 1.5
	}
	return r
}

// check validates resolved settings for p, naming the first bad one.
func (g *GPBO) check(p Problem) error {
	switch {
	case g.Init < 0:
		return fmt.Errorf("gp-bo: init %d: must be ≥ 0 (0 means the default)", g.Init)
	case g.MaxPoints < 10:
		return fmt.Errorf("gp-bo: max-points %d: must be ≥ 10", g.MaxPoints)
	case g.FitPoints < 5:
		return fmt.Errorf("gp-bo: fit-points %d: must be ≥ 5", g.FitPoints)
	case g.Candidates < 2:
		return fmt.Errorf("gp-bo: candidates %d: must be ≥ 2", g.Candidates)
	case g.Refine < 0:
		return fmt.Errorf("gp-bo: refine %d: must be ≥ 0", g.Refine)
	case !(g.RefitGrowth > 1) || math.IsInf(g.RefitGrowth, 0):
		return fmt.Errorf("gp-bo: refit-growth %g: must be finite and > 1", g.RefitGrowth)
	}
	// The Cholesky factor (stride²), the fit's three m×m matrices and the
	// scaled points and candidates.
	stride := float64(g.MaxPoints + gpRebuildEvery + 1)
	fit, n := float64(g.FitPoints), float64(p.Dim)
	return checkMemory("gp-bo", fmt.Sprintf("max-points %d, fit-points %d and candidates %d in dimension %d", g.MaxPoints, g.FitPoints, g.Candidates, p.Dim),
		"the GP's Cholesky factor, the fit's matrices and the candidates", stride*stride+3*fit*fit+(stride+fit+float64(g.Candidates))*n)
}

// Minimize implements Optimizer.
func (g *GPBO) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	g.phases.reset()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cfg := g.resolved()
	if err := cfg.check(p); err != nil {
		return nil, err
	}
	pool := PoolOf(obj)
	a := &gpAsker{p: p, init: cfg.initPoints(p), ph: &g.phases, s: &gpState{g: cfg, n: p.Dim, extra: pool.Slots() - 1}}
	err := DriveAsync(ctx, a, pool, rng)
	return a.recommendation(), err
}

// gpAsker is one run of GP-BO as an Asker. Losses are appended to the
// GP's observations in the order they are told.
type gpAsker struct {
	p       Problem
	init    int
	ph      *phases
	s       *gpState
	lastFit int // observations at the last fit, 0 before the first
	modeled bool
	pending []gpPending // in ID order
	next    int         // the next candidate's ID
}

// gpPending is a candidate being evaluated, in the unit box.
type gpPending struct {
	id      int
	u       []float64
	initial bool
}

func (a *gpAsker) AskK(rng *rand.Rand, k int) []Candidate {
	s, cfg, n := a.s, a.s.g, a.s.n
	cs := make([]Candidate, 0, k)
	for range k {
		u := make([]float64, n)
		// The start-up design lasts until init losses are known, so the
		// first GP is fitted on init points whatever the slots.
		initial := len(s.ys) < a.init
		if initial {
			for d := range u {
				u[d] = rng.Float64()
			}
		} else {
			if a.lastFit == 0 || float64(len(s.ys)) >= cfg.RefitGrowth*float64(a.lastFit) || s.shared && min(len(s.ys), cfg.FitPoints) >= n+1 {
				s.fit()
				a.lastFit = len(s.ys)
			}
			s.update()
			a.modeled = true
			pend := make([][]float64, len(a.pending))
			for i, q := range a.pending {
				pend[i] = q.u
			}
			s.believe(pend)
			s.suggest(u, rng)
			s.forget()
		}
		cs = append(cs, Candidate{ID: a.next, X: a.toBox(u)})
		a.pending = append(a.pending, gpPending{id: a.next, u: u, initial: initial})
		a.next++
	}
	return cs
}

func (a *gpAsker) TellID(id int, loss float64) {
	i := slices.IndexFunc(a.pending, func(q gpPending) bool { return q.id == id })
	if i < 0 {
		panic(fmt.Sprintf("gp-bo: TellID(%d) is not a candidate in flight", id))
	}
	q := a.pending[i]
	a.pending = slices.Delete(a.pending, i, i+1)
	a.ph.count(q.initial)
	s := a.s
	s.us, s.ys = append(s.us, q.u), append(s.ys, loss)
	s.sanitise()
}

// toBox maps a point of the unit box into the problem's box.
func (a *gpAsker) toBox(u []float64) []float64 {
	p := a.p
	x := make([]float64, len(u))
	for d := range x {
		x[d] = min(max(p.Lower[d]+u[d]*(p.Upper[d]-p.Lower[d]), p.Lower[d]), p.Upper[d])
	}
	return x
}

// recommendation is the method's answer from every loss told (see GPBO),
// nil if the GP was never used.
func (a *gpAsker) recommendation() []float64 {
	if !a.modeled {
		return nil
	}
	a.s.update()
	return a.toBox(a.s.us[a.s.recommend()])
}

// sanitise replaces a non-finite loss (a failed evaluation the harness
// passed on) by the worst finite loss observed so far, 0 if none, which the
// GP can model; later failures and later worse losses do not revise it.
func (s *gpState) sanitise() {
	i := len(s.ys) - 1
	if f := s.ys[i]; !math.IsNaN(f) && !math.IsInf(f, 0) {
		return
	}
	worst, seen := 0.0, false
	for _, v := range s.ys[:i] {
		if !seen || v > worst {
			worst, seen = v, true
		}
	}
	s.ys[i] = worst
}

// gpState is one run: every observation (in the unit box) and the GP.
type gpState struct {
	g     *GPBO
	n     int
	extra int         // most fantasised points held at once (believe): the slots − 1
	us    [][]float64 // observations scaled to [0,1]^n
	ys    []float64
	real  int // GP points that are observations; the rest are fantasised

	// Hyperparameters: log length scales (n of them, or 1), log σ_f², log σ_n².
	theta []float64
	fits  int
	// shared: the last fit used one length scale for all coordinates
	// although ARD is set, because it had at most n points.
	shared bool

	// The GP: its points (indices into us), their standardised losses,
	// their coordinates divided by the length scales, the Cholesky factor
	// L of K (row-major, lower, stride cap), α = K⁻¹y and the standardisation.
	set         []int
	y, z        []float64
	l           []float64
	stride      int
	alpha       []float64
	ymean, yscl float64
	sf2, sn2    float64
	inv         []float64 // 1/length scale per coordinate
	mu          []float64 // posterior mean at the GP's points
	eta         float64   // incumbent: lowest posterior mean
}

func (s *gpState) nls() int {
	if s.g.ARD && !s.shared {
		return s.n
	}
	return 1
}

// choose returns at most m indices of observations: the m/2 lowest losses
// (ties: earlier first) and then the most recent others, in trial order.
func (s *gpState) choose(m int) []int {
	total := len(s.ys)
	if total <= m {
		idx := make([]int, total)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	order := make([]int, total)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.ys[order[a]] < s.ys[order[b]] })
	in := make([]bool, total)
	for _, i := range order[:m/2] {
		in[i] = true
	}
	k := m / 2
	for i := total - 1; i >= 0 && k < m; i-- {
		if !in[i] {
			in[i] = true
			k++
		}
	}
	idx := make([]int, 0, m)
	for i, ok := range in {
		if ok {
			idx = append(idx, i)
		}
	}
	return idx
}

// standardise returns the mean and scale of the losses of idx.
func (s *gpState) standardise(idx []int) (mean, scl float64) {
	for _, i := range idx {
		mean += s.ys[i]
	}
	mean /= float64(len(idx))
	v := 0.0
	for _, i := range idx {
		v += (s.ys[i] - mean) * (s.ys[i] - mean)
	}
	scl = math.Sqrt(v / float64(len(idx)))
	if !(scl > 1e-300) {
		scl = 1
	}
	return mean, scl
}

// setHyper applies theta.
func (s *gpState) setHyper(theta []float64) {
	nl := s.nls()
	s.inv = make([]float64, s.n)
	for d := range s.inv {
		s.inv[d] = math.Exp(-theta[min(d, nl-1)])
	}
	s.sf2, s.sn2 = math.Exp(theta[nl]), math.Exp(theta[nl+1])
}

// matern52 is the Matérn-5/2 correlation at distance r.
func matern52(r float64) float64 {
	a := math.Sqrt(5) * r
	return (1 + a + a*a/3) * math.Exp(-a)
}

// scaled writes u divided by the length scales into z.
func (s *gpState) scaled(u, z []float64) {
	for d, v := range u {
		z[d] = v * s.inv[d]
	}
}

// kvec writes the covariances of the scaled point zc with the GP's points
// (matern52 written out: this is the innermost loop of the acquisition).
func (s *gpState) kvec(zc []float64, k []float64) {
	n, sf2 := s.n, s.sf2
	for i := range k {
		zi := s.z[i*n : i*n+n]
		r2 := 0.0
		for d, v := range zc {
			r2 += (v - zi[d]) * (v - zi[d])
		}
		a := math.Sqrt(5 * r2)
		k[i] = sf2 * (1 + a + a*a/3) * math.Exp(-a)
	}
}

// cholRow computes row i of L from row i of K (in k, length i+1), given
// rows 0..i−1; it reports false if the pivot is not positive.
func cholRow(l []float64, stride, i int, k []float64) bool {
	li := l[i*stride : i*stride+i+1]
	for j := 0; j < i; j++ {
		li[j] = (k[j] - floats.Dot(li[:j], l[j*stride:j*stride+j])) / l[j*stride+j]
	}
	d := k[i] - floats.Dot(li[:i], li[:i])
	if !(d > 0) {
		return false
	}
	li[i] = math.Sqrt(d)
	return true
}

// forward solves L v = b in place for the leading m rows.
func forward(l []float64, stride, m int, b []float64) {
	for i := range m {
		b[i] = (b[i] - floats.Dot(l[i*stride:i*stride+i], b[:i])) / l[i*stride+i]
	}
}

// backward solves Lᵀ x = b in place for the leading m rows.
func backward(l []float64, stride, m int, b []float64) {
	for i := m - 1; i >= 0; i-- {
		b[i] /= l[i*stride+i]
		floats.AddScaled(b[:i], -b[i], l[i*stride:i*stride+i])
	}
}

// rebuild chooses the GP's points and factors K with the current
// hyperparameters, adding jitter if K is numerically singular.
func (s *gpState) rebuild() {
	s.set = s.choose(s.g.MaxPoints)
	s.ymean, s.yscl = s.standardise(s.set)
	s.stride = s.g.MaxPoints + gpRebuildEvery + 1 + s.extra
	if len(s.l) < s.stride*s.stride {
		s.l = make([]float64, s.stride*s.stride)
	}
	m, n := len(s.set), s.n
	s.y, s.z = s.y[:0], s.z[:0]
	zc := make([]float64, n)
	for _, i := range s.set {
		s.y = append(s.y, (s.ys[i]-s.ymean)/s.yscl)
		s.scaled(s.us[i], zc)
		s.z = append(s.z, zc...)
	}
	k := make([]float64, m)
	for jitter := 0.0; ; jitter = max(10*jitter, 1e-10) {
		ok := true
		for i := 0; i < m && ok; i++ {
			s.kvec(s.z[i*n:i*n+n], k[:i+1])
			k[i] += s.sn2 + jitter
			ok = cholRow(s.l, s.stride, i, k[:i+1])
		}
		if ok {
			break
		}
	}
}

// update brings the GP up to date with the observations: a rebuild after
// a fit or every gpRebuildEvery points once the cap is reached, else the
// new points are appended; then α, the posterior means and η.
func (s *gpState) update() {
	covered := 0 // the GP holds every observation before this one that it will
	if len(s.set) > 0 {
		covered = s.set[len(s.set)-1] + 1
	}
	if len(s.set) == 0 || len(s.set)+len(s.ys)-covered > s.g.MaxPoints+gpRebuildEvery {
		s.rebuild()
	} else {
		n := s.n
		zc := make([]float64, n)
		for i := covered; i < len(s.ys); i++ {
			m := len(s.set)
			s.scaled(s.us[i], zc)
			k := make([]float64, m+1)
			s.kvec(zc, k[:m])
			k[m] = s.sf2 + s.sn2
			// Row m of L: cholRow needs the rows above, which are in place.
			if !cholRow(s.l, s.stride, m, k) {
				s.set = append(s.set, i)
				s.rebuild() // with jitter
				break
			}
			s.set = append(s.set, i)
			s.y = append(s.y, (s.ys[i]-s.ymean)/s.yscl)
			s.z = append(s.z, zc...)
		}
	}
	s.real = len(s.set)
	s.posterior()
}

// posterior computes α, the posterior means at the GP's points and η.
func (s *gpState) posterior() {
	m := len(s.set)
	s.alpha = append(s.alpha[:0], s.y...)
	forward(s.l, s.stride, m, s.alpha)
	backward(s.l, s.stride, m, s.alpha)
	s.mu = s.mu[:0]
	s.eta = math.Inf(1)
	for i := range m {
		// K_f α = (K − σ_n² I) α = y − σ_n² α (jitter aside).
		v := s.y[i] - s.sn2*s.alpha[i]
		s.mu = append(s.mu, v)
		s.eta = min(s.eta, v)
	}
}

// believe conditions the GP on the points us (unit box) being evaluated,
// each with its posterior mean as a fantasised observation, one after the
// other: the Kriging believer of D. Ginsbourger, R. Le Riche and L.
// Carraro, "Kriging is well-suited to parallelize optimization", in
// Y. Tenne and C.-K. Goh (eds.), Computational Intelligence in Expensive
// Optimization Problems, Springer 2010. The posterior mean is unchanged,
// but the variance at and near a pending point collapses, so expected
// improvement there vanishes and the next proposal goes elsewhere. The
// hyperparameters and the standardisation are those of the real
// observations. A point whose row of the Cholesky factor is not positive
// (one numerically equal to a GP point) is left out: it adds nothing the
// GP does not already hold. forget removes the fantasies.
func (s *gpState) believe(us [][]float64) {
	if len(us) == 0 {
		return
	}
	n := s.n
	zc := make([]float64, n)
	k := make([]float64, len(s.set)+len(us)+1)
	for _, u := range us {
		m := len(s.set)
		if m+1 > s.stride {
			break // more pending points than slots: cannot happen through DriveAsync
		}
		s.scaled(u, zc)
		s.kvec(zc, k[:m])
		mean := floats.Dot(k[:m], s.alpha)
		k[m] = s.sf2 + s.sn2
		if !cholRow(s.l, s.stride, m, k[:m+1]) {
			continue
		}
		s.set = append(s.set, -1)
		s.y = append(s.y, mean)
		s.z = append(s.z, zc...)
		s.posterior()
	}
}

// forget removes the fantasised points of believe; α, the means and η are
// recomputed by the next update.
func (s *gpState) forget() {
	s.set, s.y, s.z = s.set[:s.real], s.y[:s.real], s.z[:s.real*s.n]
}

// recommend returns the observation of lowest posterior mean.
func (s *gpState) recommend() int {
	// The loss a point must not exceed to be a candidate: the q-th lowest.
	q := max(5, len(s.ys)/10)
	sorted := slices.Clone(s.ys)
	slices.Sort(sorted)
	cut := sorted[min(q, len(sorted))-1]
	best := -1
	for i, v := range s.mu {
		if s.ys[s.set[i]] > cut {
			continue
		}
		if best < 0 || v < s.mu[best] {
			best = i
		}
	}
	if best < 0 { // the lowest losses left the GP's set: take the lowest
		return slices.Index(s.ys, sorted[0])
	}
	return s.set[best]
}

// logEI is log expected improvement below η at u (unit box), with
// scratch buffers z (n) and k (GP size).
func (s *gpState) logEI(u, z, k []float64) float64 {
	mean, v := s.predict(u, z, k)
	sd := math.Sqrt(max(v, 1e-12*s.sf2))
	return math.Log(sd) + logH((s.eta-mean)/sd)
}

// predict returns the posterior mean and variance of the latent function
// at u (unit box; standardised losses), with scratch buffers as logEI.
func (s *gpState) predict(u, z, k []float64) (mean, variance float64) {
	m := len(s.set)
	s.scaled(u, z)
	s.kvec(z, k[:m])
	mean = floats.Dot(k[:m], s.alpha)
	forward(s.l, s.stride, m, k[:m])
	return mean, s.sf2 - floats.Dot(k[:m], k[:m])
}

// logH is log(φ(z) + zΦ(z)), accurate far into the lower tail.
func logH(z float64) float64 {
	if z > -1 {
		return math.Log(math.Exp(-z*z/2)/math.Sqrt(2*math.Pi) + z*normCDF(z))
	}
	t := -z
	var q float64 // 1 − t·R(t), R the Mills ratio Φ(−t)/φ(t)
	if t <= 20 {
		r := 0.5 * math.Erfc(t/math.Sqrt2) / (math.Exp(-t*t/2) / math.Sqrt(2*math.Pi))
		q = 1 - t*r
	} else {
		t2 := 1 / (t * t)
		q = t2 * (1 - 3*t2*(1-5*t2*(1-7*t2)))
	}
	return -z*z/2 - 0.5*math.Log(2*math.Pi) + math.Log(q)
}

// suggest writes the next point (unit box) into out.
func (s *gpState) suggest(out []float64, rng *rand.Rand) {
	n, m := s.n, len(s.set)
	z, k := make([]float64, n), make([]float64, m)
	type cand struct {
		u []float64
		v float64
	}
	var cands []cand
	add := func(u []float64) {
		v := s.logEI(u, z, k)
		if math.IsNaN(v) {
			v = math.Inf(-1)
		}
		cands = append(cands, cand{u, v})
	}
	half := s.g.Candidates / 2
	for range s.g.Candidates - half {
		u := make([]float64, n)
		for d := range u {
			u[d] = rng.Float64()
		}
		add(u)
	}
	// Centres: the five observed GP points of lowest posterior mean (not
	// the fantasised ones: believe made their neighbourhood uninteresting).
	order := make([]int, s.real)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.mu[order[a]] < s.mu[order[b]] })
	centres := order[:min(5, len(order))]
	scales := []float64{0.05, 0.2, 0.5}
	for c := range half {
		x := s.us[s.set[centres[c%len(centres)]]]
		sc := scales[c%len(scales)]
		u := make([]float64, n)
		for d := range u {
			u[d] = min(max(x[d]+sc*min(1/s.inv[d], 1)*rng.NormFloat64(), 0), 1)
		}
		add(u)
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return 0
	})
	best := cands[0]
	for _, c := range cands[:min(2, len(cands))] {
		u, v := slices.Clone(c.u), c.v
		step := make([]float64, n)
		for d := range step {
			step[d] = 0.1 * min(1/s.inv[d], 1)
		}
		trial := make([]float64, n)
		for range s.g.Refine {
			for d := range trial {
				trial[d] = min(max(u[d]+step[d]*rng.NormFloat64(), 0), 1)
			}
			if tv := s.logEI(trial, z, k); tv > v {
				u, trial, v = trial, u, tv
				floats.Scale(1.5, step)
			} else {
				floats.Scale(0.7, step)
			}
		}
		if v > best.v {
			best = cand{u, v}
		}
	}
	copy(out, best.u)
}

// fit maximises the log marginal likelihood over the hyperparameters.
func (s *gpState) fit() {
	idx := s.choose(s.g.FitPoints)
	// ARD needs n+1 points (see GPBO); before, one shared length scale.
	// The previous fit's hyperparameters are carried over to the new
	// shape: a shared scale for every coordinate, or the mean log scale.
	prevNL := s.nls()
	s.shared = s.g.ARD && len(idx) < s.n+1
	nl := s.nls()
	if s.theta != nil && nl != prevNL {
		ls := 0.0
		for _, v := range s.theta[:prevNL] {
			ls += v
		}
		ls /= float64(prevNL)
		theta := make([]float64, nl+2)
		for d := range nl {
			theta[d] = ls
		}
		copy(theta[nl:], s.theta[prevNL:])
		s.theta = theta
	}
	mean, scl := s.standardise(idx)
	y := make([]float64, len(idx))
	for j, i := range idx {
		y[j] = (s.ys[i] - mean) / scl
	}
	lo := make([]float64, nl+2)
	hi := make([]float64, nl+2)
	for d := range nl {
		lo[d], hi[d] = math.Log(0.005), math.Log(20)
	}
	lo[nl], hi[nl] = math.Log(0.01), math.Log(100)
	lo[nl+1], hi[nl+1] = math.Log(1e-6), math.Log(10)
	lml := &gpLML{s: s, idx: idx, y: y, lo: lo, hi: hi}

	start := make([]float64, nl+2)
	for d := range nl {
		start[d] = math.Log(0.2 * math.Sqrt(float64(s.n)))
	}
	start[nl], start[nl+1] = 0, math.Log(0.01)
	starts := [][]float64{start}
	if s.fits%3 != 0 {
		starts = [][]float64{s.theta}
	} else if s.fits > 0 {
		starts = [][]float64{s.theta, start}
	}
	s.fits++
	best, bestF := slices.Clone(starts[0]), math.Inf(1)
	for _, x0 := range starts {
		prob := optimize.Problem{Func: lml.value, Grad: lml.grad}
		settings := &optimize.Settings{
			FuncEvaluations: 30,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-5, Relative: 1e-5, Iterations: 5},
			Concurrent:      1,
		}
		res, _ := optimize.Minimize(prob, slices.Clone(x0), settings, &optimize.LBFGS{})
		x, f := x0, lml.value(x0)
		if res != nil && !math.IsNaN(res.F) && res.F < f {
			x, f = res.X, res.F
		}
		if f < bestF {
			best, bestF = slices.Clone(x), f
		}
	}
	for i := range best {
		best[i] = min(max(best[i], lo[i]), hi[i])
	}
	s.theta = best
	s.setHyper(best)
	s.set = nil // rebuild with the new hyperparameters
}

// gpLML is the negative log marginal likelihood of the points idx with
// standardised losses y, as a function of the hyperparameters, with a
// quadratic penalty outside [lo, hi]. It caches its last evaluation, since
// gonum asks for value and gradient separately.
type gpLML struct {
	s      *gpState
	idx    []int
	y      []float64
	lo, hi []float64

	lastX []float64
	lastF float64
	lastG []float64
}

func (f *gpLML) value(x []float64) float64 {
	f.eval(x)
	return f.lastF
}

func (f *gpLML) grad(g, x []float64) {
	f.eval(x)
	copy(g, f.lastG)
}

func (f *gpLML) eval(x []float64) {
	if f.lastX != nil && slices.Equal(x, f.lastX) {
		return
	}
	f.lastX = slices.Clone(x)
	s, m, n := f.s, len(f.idx), f.s.n
	nl := s.nls()
	theta := make([]float64, len(x))
	pen := 0.0
	g := make([]float64, len(x))
	for i, v := range x {
		theta[i] = min(max(v, f.lo[i]), f.hi[i])
		if d := v - theta[i]; d != 0 {
			pen += 50 * d * d
			g[i] = 100 * d
		}
	}
	inv := make([]float64, n)
	for d := range inv {
		inv[d] = math.Exp(-theta[min(d, nl-1)])
	}
	sf2, sn2 := math.Exp(theta[nl]), math.Exp(theta[nl+1])

	// Differences scaled by the length scales, and K.
	zs := make([]float64, m*n)
	for j, i := range f.idx {
		for d := range n {
			zs[j*n+d] = s.us[i][d] * inv[d]
		}
	}
	kmat := make([]float64, m*m)
	for i := range m {
		for j := 0; j <= i; j++ {
			r2 := 0.0
			for d := range n {
				t := zs[i*n+d] - zs[j*n+d]
				r2 += t * t
			}
			v := sf2 * matern52(math.Sqrt(r2))
			kmat[i*m+j], kmat[j*m+i] = v, v
		}
		kmat[i*m+i] += sn2
	}
	l := make([]float64, m*m)
	for jitter := 0.0; ; jitter = max(10*jitter, 1e-10) {
		ok := true
		row := make([]float64, m)
		for i := 0; i < m && ok; i++ {
			copy(row, kmat[i*m:i*m+i+1])
			row[i] += jitter
			ok = cholRow(l, m, i, row[:i+1])
		}
		if ok {
			break
		}
	}
	alpha := slices.Clone(f.y)
	forward(l, m, m, alpha)
	logdet := 0.0
	for i := range m {
		logdet += math.Log(l[i*m+i])
	}
	value := 0.5*floats.Dot(alpha, alpha) + logdet + 0.5*float64(m)*math.Log(2*math.Pi)
	backward(l, m, m, alpha)

	// K⁻¹ = L⁻ᵀL⁻¹: the rows of U = L⁻ᵀ are the columns of L⁻¹.
	u := make([]float64, m*m) // u[i*m+k] = (L⁻¹)_{k,i}, nonzero for k ≥ i
	e := make([]float64, m)
	for i := range m {
		clear(e)
		e[i] = 1
		// Column i of L⁻¹: solve L c = e_i (c_k = 0 for k < i).
		for k := i; k < m; k++ {
			e[k] = (e[k] - floats.Dot(l[k*m+i:k*m+k], e[i:k])) / l[k*m+k]
		}
		copy(u[i*m+i:i*m+m], e[i:m])
	}
	// W = ααᵀ − K⁻¹; gradient ½ Σ W ∘ ∂K/∂θ (over i ≥ j, doubling i > j).
	gl := make([]float64, nl)
	gsf, gsn := 0.0, 0.0
	for i := range m {
		for j := 0; j <= i; j++ {
			kinv := floats.Dot(u[i*m+i:i*m+m], u[j*m+i:j*m+m])
			w := alpha[i]*alpha[j] - kinv
			if i == j {
				gsn += 0.5 * w * sn2
				gsf += 0.5 * w * (kmat[i*m+i] - sn2)
				continue
			}
			w *= 2 * 0.5
			gsf += w * kmat[i*m+j]
			r2 := 0.0
			for d := range n {
				t := zs[i*n+d] - zs[j*n+d]
				r2 += t * t
			}
			a := math.Sqrt(5 * r2)
			c := sf2 * 5 / 3 * (1 + a) * math.Exp(-a) // ∂K/∂log ℓ_d = c·(Δ_d/ℓ_d)²
			if nl == 1 {
				gl[0] += w * c * r2
			} else {
				for d := range n {
					t := zs[i*n+d] - zs[j*n+d]
					gl[d] += w * c * t * t
				}
			}
		}
	}
	// The value is −LML; its gradient is −½ tr(W ∂K).
	for d := range nl {
		if theta[d] == x[d] {
			g[d] -= gl[d]
		}
	}
	if theta[nl] == x[nl] {
		g[nl] -= gsf
	}
	if theta[nl+1] == x[nl+1] {
		g[nl+1] -= gsn
	}
	f.lastF, f.lastG = value+pen, g
}

package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

func init() {
	Register(Entry{
		Name:       "tpe",
		Summary:    "Tree-structured Parzen Estimator as Optuna's default TPESampler (Bergstra et al. 2011): univariate truncated-Gaussian Parzen windows in the box",
		Recommends: "best observed",
		Grid:       map[string][]string{"startup": {"5", "10", "20"}, "candidates": {"24", "64"}},
		Batch:      BatchAsync,
		New: func() Optimizer {
			return &TPE{Startup: 10, GammaFrac: 0.1, GammaCap: 25, Candidates: 24, PriorWeight: 1, MagicClip: true}
		},
	})
}

// TPE is the Tree-structured Parzen Estimator of J. Bergstra, R. Bardenet,
// Y. Bengio and B. Kégl, "Algorithms for Hyper-Parameter Optimization",
// NeurIPS 2011, as Optuna's TPESampler implements it with its defaults
// (optuna/samplers/_tpe, Optuna 3.x–4.x) for float parameters without step
// or log scale:
//
//   - the first Startup = 10 points are uniform in the box;
//   - then the n observations are sorted by loss (stably; ties keep trial
//     order) and split into the best γ(n) = min(⌈GammaFrac·n⌉, GammaCap) =
//     min(⌈0.1·n⌉, 25) ("below") and the rest ("above"), each kept in trial
//     order;
//   - each group gives a Parzen estimator: a mixture of Gaussians truncated
//     to the box, one per observation plus a prior component N(centre,
//     width²) of weight PriorWeight = 1; observation weights are Optuna's
//     default_weights (all 1 for fewer than 25 observations, else a ramp
//     from 1/m up to 1 over the oldest m−25 and 1 for the newest 25);
//   - univariate bandwidths (the default): in each coordinate, the
//     observations and the prior mean are sorted with the box bounds as
//     endpoints, and each σ is the larger of the gaps to its neighbours,
//     except that the outermost two use their inner gap
//     (consider_endpoints = false); the "magic clip" bounds every σ to
//     [width/min(100, m+2), width] for m observations;
//   - Candidates = 24 points are drawn from the "below" estimator l and
//     the one maximising log l(x) − log g(x) (g the "above" estimator) is
//     evaluated.
//
// Univariate (the default, Optuna's multivariate=False) treats each
// coordinate independently: 24 candidates per coordinate, scored by the
// coordinate's own one-dimensional l and g. Multivariate = true is Optuna's
// multivariate TPE (Falkner et al. 2018's BOHB kernel): a product of
// per-coordinate kernels per observation with the common bandwidth
// 0.2·m^(−1/(n+4))·width (magic-clipped likewise), 24 joint candidates.
//
// TPE samples only inside the box, also when the box is not a constraint
// (Problem.Bounded false): its estimators are truncated to the box and its
// prior is the box.
//
// Cost: scoring is O(n) per candidate per coordinate, so a run of n
// evaluations costs O(24·dim·n²) kernel evaluations: about 0.5 s for
// 1,000 evaluations in 4-D and 2 s for 2,000 (nothing is approximated;
// only the per-coordinate order of the observations is kept between
// suggestions).
//
// Small budgets: Startup stays Optuna's 10 whatever the budget, so from
// 20 evaluations on the model proposes at least half of the candidates
// (the harness records both counts, PhaseCounter). It is not shrunk below
// 20: with γ(n) = ⌈0.1·n⌉ the "below" group is a single point until
// n > 10, so an earlier start would only sample around the best point so
// far, not change what TPE is; at budgets under 20 tables flag the row.
//
// Several evaluation slots (BatchAsync): every slot that frees up gets a
// new proposal at once, as Optuna's TPESampler(constant_liar=True) makes
// them for parallel workers: the candidates still being evaluated join
// the "below"/"above" split as members of "above" (see split), and the
// start-up phase lasts until Startup losses are known, so with k slots up
// to Startup+k−1 points are uniform. With one slot nothing is pending at
// a proposal and the method is the sequential TPE above.
//
// Recommendation: the best point observed (the harness tracks it).
type TPE struct {
	Startup      int     // uniform random points before the model is used, ≥ 0 (0: none)
	GammaFrac    float64 // fraction of the observations in the "below" group, in (0, 1]; 0 means 0.1
	GammaCap     int     // largest "below" group, ≥ 1; 0 means 25
	Candidates   int     // candidates drawn from l per suggestion, ≥ 1; 0 means 24
	PriorWeight  float64 // weight of the prior component in both estimators, finite and > 0; 0 means 1
	MagicClip    bool    // clip bandwidths to [width/min(100, m+2), width]
	Endpoints    bool    // consider_endpoints: outermost σ may use the gap to the bound
	Multivariate bool    // joint (multivariate) instead of per-coordinate estimators

	phases
}

var _ PhaseCounter = (*TPE)(nil)

// Flags registers the hyperparameters.
func (t *TPE) Flags(fs *flag.FlagSet) {
	fs.IntVar(&t.Startup, "startup", t.Startup, "uniform random points before the model is used (n_startup_trials), ≥ 0")
	fs.Float64Var(&t.GammaFrac, "gamma-frac", t.GammaFrac, "fraction of observations in the good group, in (0,1]: γ(n) = min(⌈frac·n⌉, cap); 0 means 0.1")
	fs.IntVar(&t.GammaCap, "gamma-cap", t.GammaCap, "largest good group γ(n), ≥ 1; 0 means 25")
	fs.IntVar(&t.Candidates, "candidates", t.Candidates, "candidates drawn from l(x) per suggestion (n_ei_candidates), ≥ 1; 0 means 24")
	fs.Float64Var(&t.PriorWeight, "prior-weight", t.PriorWeight, "weight of the prior component N(box centre, width²), finite and > 0; 0 means 1")
	fs.BoolVar(&t.MagicClip, "magic-clip", t.MagicClip, "clip bandwidths below at width/min(100, m+2) (consider_magic_clip)")
	fs.BoolVar(&t.Endpoints, "endpoints", t.Endpoints, "let the outermost bandwidths use the gap to the bound (consider_endpoints)")
	fs.BoolVar(&t.Multivariate, "multivariate", t.Multivariate, "one joint estimator over all coordinates instead of one per coordinate")
}

// gamma is the size of the good group for n observations.
func (t *TPE) gamma(n int) int {
	return min(int(math.Ceil(t.GammaFrac*float64(n))), t.GammaCap)
}

// tpeWeights is Optuna's default_weights.
func tpeWeights(m int) []float64 { return tpeWeightsInto(nil, m) }

// tpeWeightsInto returns default_weights(m), reusing w's array.
func tpeWeightsInto(w []float64, m int) []float64 {
	w = tpeGrow(w, m)
	for i := range w {
		w[i] = 1
	}
	if m >= 25 {
		// np.linspace(1/m, 1, m−25) over the oldest m−25.
		k := m - 25
		for i := range k {
			if k == 1 {
				w[i] = 1 / float64(m)
			} else {
				w[i] = 1/float64(m) + (1-1/float64(m))*float64(i)/float64(k-1)
			}
		}
	}
	return w
}

// resolved returns the settings with zero values replaced by Optuna's
// defaults (and no phase counts).
func (t *TPE) resolved() *TPE {
	r := &TPE{Startup: t.Startup, GammaFrac: t.GammaFrac, GammaCap: t.GammaCap, Candidates: t.Candidates,
		PriorWeight: t.PriorWeight, MagicClip: t.MagicClip, Endpoints: t.Endpoints, Multivariate: t.Multivariate}
	if r.GammaFrac == 0 {
		r.GammaFrac = 0.1
	}
	if r.GammaCap == 0 {
		r.GammaCap = 25
	}
	if r.Candidates == 0 {
		r.Candidates = 24
	}
	if r.PriorWeight == 0 {
		r.PriorWeight = 1
	}
	return r
}

// Minimize implements Optimizer.
func (t *TPE) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	t.phases.reset()
	return t.resolved().run(ctx, p, obj, rng, &t.phases)
}

// run is Minimize with resolved settings, counting phases into ph.
func (t *TPE) run(ctx context.Context, p Problem, obj Objective, rng *rand.Rand, ph *phases) ([]float64, error) {
	switch {
	case t.Startup < 0:
		return nil, fmt.Errorf("tpe: startup %d: must be ≥ 0", t.Startup)
	case !(t.GammaFrac > 0 && t.GammaFrac <= 1):
		return nil, fmt.Errorf("tpe: gamma-frac %g: must lie in (0, 1]", t.GammaFrac)
	case t.GammaCap < 1:
		return nil, fmt.Errorf("tpe: gamma-cap %d: must be ≥ 1", t.GammaCap)
	case t.Candidates < 1:
		return nil, fmt.Errorf("tpe: candidates %d: must be ≥ 1", t.Candidates)
	case !(t.PriorWeight > 0) || math.IsInf(t.PriorWeight, 0):
		return nil, fmt.Errorf("tpe: prior-weight %g: must be finite and > 0", t.PriorWeight)
	}
	// Each suggestion holds the candidates with their two densities (or
	// one candidate at a time when multivariate).
	if err := checkMemory("tpe", fmt.Sprintf("candidates %d", t.Candidates), "the candidates and their densities", 3*float64(t.Candidates)); err != nil {
		return nil, err
	}
	a := &tpeAsker{t: t, p: p, ph: ph, h: &tpeHistory{sorted: make([][]int, p.Dim)}}
	return nil, DriveAsync(ctx, a, PoolOf(obj), rng)
}

// tpeAsker is one run of TPE as an Asker: a candidate's ID is its index in
// the history, which holds it from the moment it is proposed.
type tpeAsker struct {
	t       *TPE
	p       Problem
	ph      *phases
	h       *tpeHistory
	initial []bool // per candidate: proposed by the start-up phase
}

func (a *tpeAsker) AskK(rng *rand.Rand, k int) []Candidate {
	t, p, h := a.t, a.p, a.h
	cs := make([]Candidate, 0, k)
	for range k {
		x := make([]float64, p.Dim)
		// Optuna's start-up counts finished trials only
		// (TPESampler.sample_independent: states COMPLETE and PRUNED).
		initial := h.told < t.Startup
		if initial {
			for d := range x {
				x[d] = p.Lower[d] + rng.Float64()*(p.Upper[d]-p.Lower[d])
			}
		} else {
			below, above := t.split(h)
			if t.Multivariate {
				t.suggestJoint(p, h, below, above, x, rng)
			} else {
				for d := range x {
					x[d] = t.suggest1D(p, h, d, below, above, rng)
				}
			}
		}
		cs = append(cs, Candidate{ID: len(h.xs), X: x})
		a.initial = append(a.initial, initial)
		h.propose(x)
	}
	return cs
}

func (a *tpeAsker) TellID(id int, loss float64) {
	a.h.tell(id, orWorst(loss))
	a.ph.count(a.initial[id])
}

// tpeHistory is every candidate of a run, evaluated or pending, with the
// indices of the evaluated ones sorted by loss and, per coordinate, the
// indices of all sorted by that coordinate (ties in trial order both),
// kept up to date by insertion so that a suggestion needs no sort.
type tpeHistory struct {
	xs     [][]float64
	ys     []float64 // NaN while pending
	told   int       // how many losses are known
	byLoss []int     // the evaluated candidates
	sorted [][]int
	group  []int // scratch: position of each observation in the group being built, or −1
	// Scratch reused by every suggestion: the two estimators and the
	// sorted values with their group positions.
	l, g tpeMixture
	e    []float64
	pos  []int
}

// propose adds a candidate whose loss is not known yet (Optuna's RUNNING
// trial): it belongs to the "above" group until it is told (split).
func (h *tpeHistory) propose(x []float64) {
	i := len(h.xs)
	h.xs, h.ys = append(h.xs, x), append(h.ys, math.NaN())
	for d, v := range x {
		s := h.sorted[d]
		k := sort.Search(len(s), func(k int) bool { return h.xs[s[k]][d] > v })
		h.sorted[d] = slices.Insert(s, k, i)
	}
	h.group = append(h.group, -1)
}

// tell records the loss of candidate i.
func (h *tpeHistory) tell(i int, f float64) {
	if i < 0 || i >= len(h.xs) || !math.IsNaN(h.ys[i]) {
		panic(fmt.Sprintf("tpe: TellID(%d) is not a pending candidate", i))
	}
	h.ys[i] = f
	h.told++
	k := sort.Search(len(h.byLoss), func(k int) bool {
		j := h.byLoss[k]
		return h.ys[j] > f || h.ys[j] == f && j > i
	})
	h.byLoss = slices.Insert(h.byLoss, k, i)
}

// split returns the indices of the γ(n) lowest of the n losses known
// (ties: earlier trials first) and of all other candidates, evaluated or
// pending, each in trial order. Pending candidates in the "above" group
// are Optuna's constant liar (TPESampler(constant_liar=True),
// optuna/samplers/_tpe/sampler.py, Optuna 3.x–4.x: _sample takes the
// RUNNING trials too, computes γ from the finished ones only, "Ignore
// running trials", and _split_trials appends the running trials to the
// above group): a point being evaluated repels the next proposals as a
// bad point would, so that several slots do not all sample the same
// promising region.
func (t *TPE) split(h *tpeHistory) (below, above []int) {
	n := h.told
	nb := min(t.gamma(n), n)
	below = slices.Clone(h.byLoss[:nb])
	slices.Sort(below)
	above = make([]int, 0, len(h.xs)-nb)
	for i, b := 0, 0; i < len(h.xs); i++ {
		if b < nb && below[b] == i {
			b++
			continue
		}
		above = append(above, i)
	}
	return below, above
}

// tpeMixture is a mixture of products of truncated Gaussians on the box,
// over nd coordinates. Component c has, in coordinate j, mean
// mu[c·nd+j] and standard deviation sigma[c·nd+j]; the last component is
// the prior.
type tpeMixture struct {
	nd        int
	w         []float64 // normalised weights
	mu, sigma []float64
	logc      []float64   // log w_c − Σ_j log(σ_cj √(2π) Z_cj), Z the truncated mass
	kern      []tpeKernel // one-coordinate fast path (see density1D)
}

// tpeKernel is one component of a one-coordinate mixture: its density at x
// is c·exp(−½z²), z = (x − mu)·inv, taken as 0 when z² ≥ cut.
type tpeKernel struct{ mu, inv, c, cut float64 }

// build makes the estimator of the observations idx (in trial order) in
// the coordinates dims.
func (t *TPE) build(p Problem, h *tpeHistory, idx []int, dims []int, m *tpeMixture) {
	k, nd := len(idx), len(dims)
	m.nd = nd
	m.w = append(tpeWeightsInto(m.w, k), t.PriorWeight)
	sum := 0.0
	for _, v := range m.w {
		sum += v
	}
	for i := range m.w {
		m.w[i] /= sum
	}
	m.mu, m.sigma = tpeGrow(m.mu, (k+1)*nd), tpeGrow(m.sigma, (k+1)*nd)
	for pos, i := range idx {
		h.group[i] = pos
	}
	for j, d := range dims {
		lo, hi := p.Lower[d], p.Upper[d]
		for c, i := range idx {
			m.mu[c*nd+j] = h.xs[i][d]
		}
		m.mu[k*nd+j] = (lo + hi) / 2
		t.bandwidths(h, d, k, lo, hi, nd, m.sigma[j:], nd)
		m.sigma[k*nd+j] = hi - lo
	}
	for _, i := range idx {
		h.group[i] = -1
	}
	if nd == 1 {
		// One coordinate: the kernels' coefficients directly, without logs.
		lo, hi := p.Lower[dims[0]], p.Upper[dims[0]]
		m.kern = tpeGrow(m.kern, k+1)
		for c := range m.kern {
			mu, sg := m.mu[c], m.sigma[c]
			k := tpeKernel{mu: mu, inv: 1 / sg, c: m.w[c] / (sg * math.Sqrt(2*math.Pi)), cut: 80}
			if a, b := (lo-mu)/sg, (hi-mu)/sg; a > -9 || b < 9 { // else the truncated mass is 1 to double precision
				k.c /= normCDF(b) - normCDF(a)
			}
			if sg < (hi-lo)/100 {
				k.cut += 2 * math.Log((hi-lo)/(100*sg))
			}
			m.kern[c] = k
		}
		return
	}
	m.logc = tpeGrow(m.logc, k+1)
	for c := range m.logc {
		v := math.Log(m.w[c])
		for j, d := range dims {
			mu, sg := m.mu[c*nd+j], m.sigma[c*nd+j]
			a, b := (p.Lower[d]-mu)/sg, (p.Upper[d]-mu)/sg
			v -= math.Log(sg) + 0.5*math.Log(2*math.Pi)
			if a > -9 || b < 9 {
				v -= math.Log(normCDF(b) - normCDF(a))
			}
		}
		m.logc[c] = v
	}
}

// tpeGrow returns s with length n, reusing its array when large enough.
func tpeGrow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// bandwidths writes the σ of the k observations of the group marked in
// h.group, coordinate d, into out[pos·stride] for the group position pos.
func (t *TPE) bandwidths(h *tpeHistory, d, k int, lo, hi float64, dims int, out []float64, stride int) {
	width := hi - lo
	minSig, maxSig := 1e-12, width
	if t.MagicClip {
		minSig = width / min(100, 1+float64(k+1))
	}
	clip := func(s float64) float64 { return min(max(s, minSig), maxSig) }
	if t.Multivariate {
		v := clip(0.2 * math.Pow(float64(max(k, 1)), -1/float64(dims+4)) * width)
		for c := range k {
			out[c*stride] = v
		}
		return
	}
	// The group's observations and the prior mean in increasing order
	// (ties: observations in trial order, then the prior, as a stable
	// argsort of Optuna's mus_with_prior), between the bounds as endpoints.
	prior := (lo + hi) / 2
	e, pos := append(h.e[:0], lo), append(h.pos[:0], -1)
	defer func() { h.e, h.pos = e, pos }()
	placed := false
	for _, i := range h.sorted[d] {
		g := h.group[i]
		if g < 0 {
			continue
		}
		v := h.xs[i][d]
		if !placed && v > prior {
			e, pos, placed = append(e, prior), append(pos, k), true
		}
		e, pos = append(e, v), append(pos, g)
	}
	if !placed {
		e, pos = append(e, prior), append(pos, k)
	}
	e, pos = append(e, hi), append(pos, -1)
	last := len(e) - 2 // index in e of the last sorted value
	for s := 1; s <= last; s++ {
		if pos[s] == k {
			continue // the prior's own σ is the width
		}
		sg := max(e[s]-e[s-1], e[s+1]-e[s])
		if !t.Endpoints && len(e) >= 4 {
			if s == 1 {
				sg = e[2] - e[1]
			} else if s == last {
				sg = e[last] - e[last-1]
			}
		}
		out[pos[s]*stride] = clip(sg)
	}
}

// sample draws one point of the mixture into x (coordinates dims).
func (m *tpeMixture) sample(p Problem, dims []int, x []float64, rng *rand.Rand) {
	u := rng.Float64()
	c := len(m.w) - 1
	acc := 0.0
	for i, w := range m.w {
		acc += w
		if u < acc {
			c = i
			break
		}
	}
	for j, d := range dims {
		x[j] = truncNormSample(m.mu[c*m.nd+j], m.sigma[c*m.nd+j], p.Lower[d], p.Upper[d], rng)
	}
}

// logPDF is the log density of the mixture at x, by a log-sum-exp over
// the components.
func (m *tpeMixture) logPDF(x []float64, buf []float64) float64 {
	e := buf[:0]
	top := math.Inf(-1)
	for c, lc := range m.logc {
		v := lc
		for j, xj := range x {
			z := (xj - m.mu[c*m.nd+j]) / m.sigma[c*m.nd+j]
			v -= 0.5 * z * z
		}
		e = append(e, v)
		top = max(top, v)
	}
	sum := 0.0
	for _, v := range e {
		sum += math.Exp(v - top)
	}
	return top + math.Log(sum)
}

// densities1D writes the density of a one-coordinate mixture at each x
// into out. A kernel with z² beyond its cut (80, more for σ below a
// hundredth of the width) is skipped: it weighs under 1e-17 of the prior's
// kernel, which every mixture contains and which is at least
// 0.35·w_prior/width inside the box, so the density changes by under
// 1e-13 relative even at n = 10⁴, and the exponentials of kernels far
// from the candidates are saved. Candidates go through in blocks of 32 held in local
// arrays (Optuna's 24 in one), so each kernel is loaded once per block.
func (m *tpeMixture) densities1D(xs, out []float64) {
	const block = 32
	for start := 0; start < len(xs); start += block {
		var xa, acc [block]float64
		nb := copy(xa[:], xs[start:])
		for _, k := range m.kern {
			for j := range nb {
				z := (xa[j] - k.mu) * k.inv
				if z2 := z * z; z2 < k.cut {
					acc[j] += k.c * math.Exp(-0.5*z2)
				}
			}
		}
		copy(out[start:start+nb], acc[:nb])
	}
}

// suggest1D proposes coordinate d from the one-coordinate estimators.
func (t *TPE) suggest1D(p Problem, h *tpeHistory, d int, below, above []int, rng *rand.Rand) float64 {
	dims := []int{d}
	l, g := &h.l, &h.g
	t.build(p, h, below, dims, l)
	t.build(p, h, above, dims, g)
	xs := make([]float64, t.Candidates)
	for k := range xs {
		l.sample(p, dims, xs[k:k+1], rng)
	}
	ld, gd := make([]float64, len(xs)), make([]float64, len(xs))
	l.densities1D(xs, ld)
	g.densities1D(xs, gd)
	best, bestScore := 0, math.Inf(-1)
	for k := range xs {
		if sc := math.Log(ld[k]) - math.Log(gd[k]); sc > bestScore || k == 0 {
			best, bestScore = k, sc
		}
	}
	return xs[best]
}

// suggestJoint proposes all coordinates from the joint estimators.
func (t *TPE) suggestJoint(p Problem, h *tpeHistory, below, above []int, out []float64, rng *rand.Rand) {
	dims := make([]int, p.Dim)
	for d := range dims {
		dims[d] = d
	}
	l, g := &h.l, &h.g
	t.build(p, h, below, dims, l)
	t.build(p, h, above, dims, g)
	x := make([]float64, p.Dim)
	buf := make([]float64, 0, len(h.ys)+1)
	bestScore := math.Inf(-1)
	for k := range t.Candidates {
		l.sample(p, dims, x, rng)
		if sc := l.logPDF(x, buf) - g.logPDF(x, buf); sc > bestScore || k == 0 {
			copy(out, x)
			bestScore = sc
		}
	}
}

// normCDF is Φ.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// truncNormSample draws from N(mu, sigma²) truncated to [lo, hi] by the
// inverse CDF, working in the nearer tail for accuracy.
func truncNormSample(mu, sigma, lo, hi float64, rng *rand.Rand) float64 {
	a, b := (lo-mu)/sigma, (hi-mu)/sigma
	u := rng.Float64()
	pa, pb := normCDF(a), normCDF(b)
	var z float64
	if pr := pa + u*(pb-pa); pr < 0.5 {
		z = -math.Sqrt2 * math.Erfcinv(2*pr)
	} else {
		q := normCDF(-a)*(1-u) + normCDF(-b)*u // 1 − pr, accurately
		z = math.Sqrt2 * math.Erfcinv(2*q)
	}
	x := mu + sigma*z
	if math.IsNaN(x) {
		x = mu
	}
	return min(max(x, lo), hi)
}

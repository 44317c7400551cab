// Package calibrate fits a mock scenario to a short probe of a user's
// objective and ranks every optimiser and setting on that mock, so the
// real run starts with the optimiser that does best on a landscape
// measured to resemble the user's (evomerge calibrate; docs/calibrate.md).
package calibrate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/objectives"
)

// Estimates are the measurements of a probe and the mock fitted to them.
// Scores in objective units are the objective's own; "mock units" are
// the fitted mock's, where the attainable score is 100.
type Estimates struct {
	ProbeSize int `json:"probe_size"`
	// Random is the number of random recipes; RepeatPoints points were
	// each re-evaluated Repeats times.
	Random       int `json:"random"`
	RepeatPoints int `json:"repeat_points"`
	Repeats      int `json:"repeats"`
	// NoiseSD is the pooled standard deviation of the re-evaluations
	// around each point's mean (objective units): Σ(y−ȳ_p)² over
	// Σ(k_p−1). Only fresh re-evaluations count: a point's first score
	// was selected for being high. Zero means deterministic scoring
	// (e.g. one fixed item subset): re-scoring cannot average it out.
	NoiseSD       float64 `json:"noise_sd"`
	Deterministic bool    `json:"deterministic"`
	// RandomMean and RandomSD describe the random recipes' observed scores.
	RandomMean float64 `json:"random_mean"`
	RandomSD   float64 `json:"random_sd"`
	// BestProbe is the best re-evaluated point's mean fresh score.
	BestProbe float64 `json:"best_probe"`
	// Ratio is RandomMean ÷ BestProbe: scale-free, so it can be matched to
	// the mock without knowing the attainable score.
	Ratio float64 `json:"ratio"`
	// Width is the mock width whose probe, simulated with this probe's
	// design and noise, has expected Ratio equal to the observed one.
	Width float64 `json:"width"`
	// KeptShare is the share of the attainable score a random recipe
	// keeps on the fitted mock: E[score of a uniform point] ÷ 100.
	KeptShare float64 `json:"kept_share"`
	// Attainable is RandomMean ÷ KeptShare (objective units): the score
	// the fitted mock's optimum stands for.
	Attainable float64 `json:"attainable"`
	// Sensitivity is per gene |Spearman ρ| between the random recipes'
	// scores and (x_i − b_i)², b the best probe point (box-normalised):
	// how strongly moving gene i away from the best point costs score.
	Sensitivity []float64 `json:"sensitivity"`
	// Concentration is max_i Sensitivity ÷ mean_i Sensitivity; the
	// landscape is ill when it exceeds ConcentrationThreshold, the
	// midpoint of its expected values under the peak and ill mocks of the
	// fitted width, simulated with this probe's design.
	Concentration          float64 `json:"concentration"`
	ConcentrationThreshold float64 `json:"concentration_threshold"`
	// BoundaryShare is the share of the coordinates of the best quarter
	// of random recipes within 0.15 of a bound (box-normalised); the
	// landscape is boundary when it exceeds BoundaryThreshold, the
	// midpoint of its expected values under the peak and boundary mocks.
	BoundaryShare     float64 `json:"boundary_share"`
	BoundaryThreshold float64 `json:"boundary_threshold"`
	Landscape         string  `json:"landscape"`
	// Items and ItemsFixed are the items one evaluation scores (0: not
	// an accuracy on items); NoiseMock the Gaussian noise of the fitted
	// mock (mock units) beyond what its items explain.
	Items      int     `json:"items"`
	ItemsFixed bool    `json:"items_fixed"`
	NoiseMock  float64 `json:"noise_mock"`
	FailRate   float64 `json:"fail_rate"`
	// Notes say where an estimate hit a limit.
	Notes []string `json:"notes,omitempty"`
}

// Measure reads the probe's evaluations into the raw estimates (noise,
// random scores, best point, sensitivities, boundary share) and fits the
// mock (Fit).
func Measure(d *evolve.ProbeData, box objectives.Box, items int, itemsFixed bool, seed uint64) (*Estimates, error) {
	if !d.Run.Maximizes() {
		return nil, fmt.Errorf("the objective is minimised: calibrate fits the mock's score, a percentage to maximise, and cannot map a loss onto it")
	}
	e := &Estimates{ProbeSize: len(d.Records), Items: items, ItemsFixed: itemsFixed}
	var ys []float64
	var xs [][]float64
	failed := 0
	for _, r := range d.Search {
		if r.Observed == nil {
			failed++
			continue
		}
		ys = append(ys, *r.Observed)
		xs = append(xs, normalise(r.X, box))
	}
	e.Random = len(d.Search)
	e.FailRate = float64(failed) / float64(max(len(d.Search), 1))
	if len(ys) < 6 {
		return nil, fmt.Errorf("only %d of the probe's %d random recipes were scored: too few to fit a mock (failures: %d)", len(ys), len(d.Search), failed)
	}
	e.RandomMean, e.RandomSD = meanSD(ys)
	var ss, dof float64
	e.Deterministic = true
	for _, p := range d.Repeats {
		var v []float64
		for _, r := range p.Fresh {
			if r.Observed != nil {
				v = append(v, *r.Observed)
			}
		}
		e.RepeatPoints++
		e.Repeats = max(e.Repeats, len(p.Fresh))
		m, _ := meanSD(v)
		for _, y := range v {
			ss += (y - m) * (y - m)
			if y != v[0] {
				e.Deterministic = false
			}
		}
		dof += float64(max(len(v)-1, 0))
	}
	if dof < 1 {
		return nil, fmt.Errorf("the probe's re-evaluations failed: no estimate of the evaluation noise")
	}
	e.NoiseSD = math.Sqrt(ss / dof)
	if e.Deterministic {
		e.NoiseSD = 0 // not a rounding error's 1e-14
	}
	best := d.Repeats[0]
	var bv []float64
	for _, r := range best.Fresh {
		if r.Observed != nil {
			bv = append(bv, *r.Observed)
		}
	}
	e.BestProbe, _ = meanSD(bv)
	if !(e.BestProbe > 0) || !(e.RandomMean > 0) {
		return nil, fmt.Errorf("the probe's scores are not positive (random mean %g, best %g): the mock's score is a positive percentage", e.RandomMean, e.BestProbe)
	}
	e.Ratio = min(e.RandomMean/e.BestProbe, 1)
	b := normalise(best.X, box)
	e.Sensitivity = sensitivity(xs, ys, b)
	e.Concentration = concentration(e.Sensitivity)
	e.BoundaryShare = boundaryShare(xs, ys)
	if err := e.fit(len(box.Lower), len(ys), e.Repeats, seed); err != nil {
		return nil, err
	}
	return e, nil
}

// normalise maps x into the unit box.
func normalise(x []float64, box objectives.Box) []float64 {
	u := make([]float64, len(x))
	for i, v := range x {
		u[i] = (v - box.Lower[i]) / (box.Upper[i] - box.Lower[i])
	}
	return u
}

func meanSD(v []float64) (float64, float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	m := 0.0
	for _, y := range v {
		m += y
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	s := 0.0
	for _, y := range v {
		s += (y - m) * (y - m)
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// sensitivity is per gene |Spearman ρ(y, (x_i − b_i)²)|.
func sensitivity(xs [][]float64, ys []float64, b []float64) []float64 {
	n := len(b)
	out := make([]float64, n)
	ry := ranks(ys)
	d := make([]float64, len(xs))
	for i := range n {
		for j, x := range xs {
			d[j] = (x[i] - b[i]) * (x[i] - b[i])
		}
		out[i] = math.Abs(pearson(ranks(d), ry))
	}
	return out
}

// concentration is max ÷ mean of the sensitivities (1: all equal).
func concentration(s []float64) float64 {
	m, mx := 0.0, 0.0
	for _, v := range s {
		m += v
		mx = max(mx, v)
	}
	m /= float64(len(s))
	if m == 0 {
		return 1
	}
	return mx / m
}

// boundaryShare is the share of the coordinates of the best quarter of
// the points (at least two) within 0.15 of 0 or 1.
func boundaryShare(xs [][]float64, ys []float64) float64 {
	idx := make([]int, len(ys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ys[idx[a]] > ys[idx[b]] })
	top := max(2, len(ys)/4)
	near, all := 0, 0
	for _, i := range idx[:top] {
		for _, v := range xs[i] {
			all++
			if v < 0.15 || v > 0.85 {
				near++
			}
		}
	}
	return float64(near) / float64(all)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1 // ties share their mean rank
		}
		i = j + 1
	}
	return r
}

func pearson(a, b []float64) float64 {
	ma, _ := meanSD(a)
	mb, _ := meanSD(b)
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// simReps is how many probes the fit simulates per landscape: enough that
// the expected ratio is smooth in the width (its Monte Carlo error is
// well below a probe's own sampling error).
const simReps = 300

// sim holds simulated probes of one landscape: for each replicate a mock
// of width 1 (its own optimum) and the Q of r uniform points and of the
// two re-evaluated points, so that the score at any width w follows from
// the mock's own form, 100·exp(−Q/s_w), s_w = 2·w²·n/4, without building
// it again. Common random numbers (the same points and noise draws for
// every width) make the expected ratio a smooth, monotone function of w.
type sim struct {
	n, r, k int
	land    string
	q       [][]float64   // [rep][point] Q of the random points
	u       [][][]float64 // [rep][point] the points, for the statistics
	z       [][]float64   // [rep][point] standard normal noise draws
	zf      [][]float64   // [rep][0..2k) fresh noise draws of the two re-evaluated points
}

func newSim(land string, n, r, k int, seed uint64) (*sim, error) {
	s := &sim{n: n, r: r, k: k, land: land}
	for rep := range simReps {
		m, err := objectives.NewMock(objectives.MockConfig{Dim: n, Width: 1, Landscape: land, Seed: bench.DeriveSeed(seed, "calibrate-sim", land, fmt.Sprint(rep))})
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(seed, uint64(rep)))
		s0 := 2 * float64(n) / 4
		qs, us, zs := make([]float64, r), make([][]float64, r), make([]float64, r)
		for j := range r {
			x := make([]float64, n)
			for i := range x {
				x[i] = rng.Float64()
			}
			us[j] = x
			qs[j] = -s0 * math.Log(m.True(x)/100)
			zs[j] = rng.NormFloat64()
		}
		zf := make([]float64, 2*k)
		for j := range zf {
			zf[j] = rng.NormFloat64()
		}
		s.q, s.u, s.z, s.zf = append(s.q, qs), append(s.u, us), append(s.z, zs), append(s.zf, zf)
	}
	return s, nil
}

// noiseModel gives the standard deviation of an observed score around a
// true score t (mock units).
type noiseModel func(t float64) float64

// simStats are the expected probe statistics of one width.
type simStats struct {
	ratio, kept, concentration, boundary float64
}

// at simulates the probe at width w under the noise model.
func (s *sim) at(w float64, noise noiseModel, wantShape bool) simStats {
	sw := 2 * w * w * float64(s.n) / 4
	var st simStats
	t := make([]float64, s.r)
	obs := make([]float64, s.r)
	for rep := range s.q {
		mean := 0.0
		for j, q := range s.q[rep] {
			t[j] = 100 * math.Exp(-q/sw)
			obs[j] = t[j] + noise(t[j])*s.z[rep][j]
			mean += obs[j]
		}
		mean /= float64(s.r)
		// The two best observed, each re-scored k times: the better mean
		// of fresh scores is the best probe point, as in the real probe.
		i1, i2 := top2(obs)
		f1, f2 := 0.0, 0.0
		for j := range s.k {
			f1 += t[i1] + noise(t[i1])*s.zf[rep][j]
			f2 += t[i2] + noise(t[i2])*s.zf[rep][s.k+j]
		}
		best, bi := f1/float64(s.k), i1
		if f2 > f1 {
			best, bi = f2/float64(s.k), i2
		}
		if best > 0 {
			st.ratio += min(mean/best, 1)
		}
		// best ≤ 0: every score underflowed (a width far too narrow); its
		// ratio counts as 0, which keeps the ratio rising with the width.
		kept := 0.0
		for _, v := range t {
			kept += v
		}
		st.kept += kept / float64(s.r) / 100
		if wantShape {
			st.concentration += concentration(sensitivity(s.u[rep], obs, s.u[rep][bi]))
			st.boundary += boundaryShare(s.u[rep], obs)
		}
	}
	n := float64(len(s.q))
	return simStats{st.ratio / n, st.kept / n, st.concentration / n, st.boundary / n}
}

func top2(v []float64) (int, int) {
	a, b := -1, -1
	for i, x := range v {
		switch {
		case a < 0 || x > v[a]:
			a, b = i, a
		case b < 0 || x > v[b]:
			b = i
		}
	}
	return a, b
}

// Width bounds of the fit: below 0.05 a random recipe keeps nothing, above
// 5 everything (the mock's own limits are (0, 10]).
const minWidth, maxWidth = 0.05, 5.0

// fitWidth finds the width whose simulated expected ratio matches the
// observed one, by bisection on log width (the ratio rises with the width).
func (s *sim) fitWidth(ratio float64, noise noiseModel) (float64, string) {
	lo, hi := math.Log(minWidth), math.Log(maxWidth)
	if s.at(minWidth, noise, false).ratio >= ratio {
		return minWidth, fmt.Sprintf("the probe's ratio %.3g is at or below the narrowest mock's: width set to its bound %g", ratio, minWidth)
	}
	if s.at(maxWidth, noise, false).ratio <= ratio {
		return maxWidth, fmt.Sprintf("the probe's ratio %.3g is at or above the widest mock's: width set to its bound %g (random recipes keep almost everything)", ratio, maxWidth)
	}
	for range 40 {
		mid := (lo + hi) / 2
		if s.at(math.Exp(mid), noise, false).ratio < ratio {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp((lo + hi) / 2), ""
}

// noise is the fitted mock's noise model in mock units: binomial on its
// items when they are drawn afresh, plus Gaussian noise of NoiseMock.
func (e *Estimates) noise() noiseModel {
	items, sd := 0, e.NoiseMock
	if e.Items > 0 && !e.ItemsFixed && !e.Deterministic {
		items = e.Items
	}
	return func(t float64) float64 {
		v := sd * sd
		if items > 0 {
			p := min(max(t, 0), 100)
			v += p * (100 - p) / float64(items)
		}
		return math.Sqrt(v)
	}
}

// fit fits the mock: the noise model (see noiseMock), then the width
// under the peak landscape, then the landscape (ill if the sensitivities
// are more concentrated than the threshold, else boundary if the best
// recipes lean on the bounds more than the threshold, else peak), then
// the width again under the chosen landscape. The attainable score, and
// with it the scale of the noise in mock units, is refined twice.
func (e *Estimates) fit(n, r, k int, seed uint64) error {
	sims := map[string]*sim{}
	get := func(land string) (*sim, error) {
		if s, ok := sims[land]; ok {
			return s, nil
		}
		s, err := newSim(land, n, r, k, seed)
		sims[land] = s
		return s, err
	}
	e.Attainable = e.BestProbe
	fitIn := func(land string) error {
		s, err := get(land)
		if err != nil {
			return err
		}
		note := ""
		for range 3 {
			e.noiseMock()
			e.Width, note = s.fitWidth(e.Ratio, e.noise())
			e.KeptShare = s.at(e.Width, e.noise(), false).kept
			e.Attainable = 0
			if e.KeptShare > 0 {
				e.Attainable = e.RandomMean / e.KeptShare
			}
		}
		if e.Attainable == 0 {
			e.Notes = append(e.Notes, "random recipes keep nothing measurable at the fitted width: the attainable score is not estimated (0)")
		}
		if note != "" {
			e.Notes = append(e.Notes, note)
		}
		return nil
	}
	if err := fitIn("peak"); err != nil {
		return err
	}
	shape := func(land string) (simStats, error) {
		s, err := get(land)
		if err != nil {
			return simStats{}, err
		}
		return s.at(e.Width, e.noise(), true), nil
	}
	peak, err := shape("peak")
	if err != nil {
		return err
	}
	e.Landscape = "peak"
	if n > 1 {
		ill, err := shape("ill")
		if err != nil {
			return err
		}
		bnd, err := shape("boundary")
		if err != nil {
			return err
		}
		e.ConcentrationThreshold = (peak.concentration + ill.concentration) / 2
		e.BoundaryThreshold = (peak.boundary + bnd.boundary) / 2
		switch {
		case e.Concentration > e.ConcentrationThreshold:
			e.Landscape = "ill"
		case e.BoundaryShare > e.BoundaryThreshold:
			e.Landscape = "boundary"
		}
	}
	e.Notes = nil // the peak fit's notes: the final fit says its own
	return fitIn(e.Landscape)
}

// noiseMock sets the fitted mock's Gaussian noise (mock units, by the
// current attainable score): none when scoring is deterministic (a fixed
// item list, modelled by the mock's fixed items) or when the items drawn
// afresh explain the measured spread (within 1.5× the binomial standard
// deviation at the repeated points' score); else the measured spread
// beyond the items' share.
func (e *Estimates) noiseMock() {
	sdU := e.NoiseSD * 100 / e.Attainable
	e.NoiseMock = 0
	switch {
	case e.Deterministic:
	case e.Items > 0 && !e.ItemsFixed:
		p := min(max(e.BestProbe*100/e.Attainable, 0), 100)
		sdB := math.Sqrt(p * (100 - p) / float64(e.Items))
		if sdU > 1.5*sdB {
			e.NoiseMock = math.Sqrt(sdU*sdU - sdB*sdB)
		}
	default:
		e.NoiseMock = sdU
	}
}

// Spec is the fitted mock objective, on seed.
func (e *Estimates) Spec(seed uint64) objectives.Spec {
	s := objectives.Spec{Name: "mock", Dim: len(e.Sensitivity), Landscape: e.Landscape, Width: round3(e.Width), Noise: round3(e.NoiseMock), Seed: seed,
		FailRate: round3(min(e.FailRate, 0.9))}
	if e.Items > 0 {
		s.Items = e.Items
		if e.ItemsFixed || e.Deterministic {
			s.ItemModel = "fixed"
		}
	}
	return s
}

// round3 keeps three significant digits: the fit is not more precise,
// and the scenario file reads better.
func round3(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	d := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*d) / d
}

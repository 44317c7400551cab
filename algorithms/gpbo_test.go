package algorithms

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// gpWith returns a GP on points drawn uniformly in [0,1]^n, scored by f,
// with the hyperparameters theta (log ℓ per coordinate, log σ_f², log σ_n²).
func gpWith(n, m int, f func([]float64) float64, theta []float64) *gpState {
	rng := rand.New(rand.NewPCG(21, 22))
	s := &gpState{g: &GPBO{MaxPoints: 200, FitPoints: 100, ARD: true, Candidates: 32, Refine: 10, RefitGrowth: 1.5}, n: n}
	for range m {
		u := make([]float64, n)
		for d := range u {
			u[d] = rng.Float64()
		}
		s.us, s.ys = append(s.us, u), append(s.ys, f(u))
	}
	s.theta = theta
	s.setHyper(theta)
	s.update()
	return s
}

// With (almost) no noise the posterior mean interpolates the data and the
// variance vanishes there; far from the data the variance returns to σ_f².
func TestGPInterpolates(t *testing.T) {
	f := func(u []float64) float64 { return math.Sin(3*u[0]) + u[1]*u[1] }
	s := gpWith(2, 30, f, []float64{math.Log(0.3), math.Log(0.3), 0, math.Log(1e-10)})
	z, k := make([]float64, 2), make([]float64, len(s.set))
	for j, i := range s.set {
		mean, v := s.predict(s.us[i], z, k)
		if got := mean*s.yscl + s.ymean; math.Abs(got-s.ys[i]) > 1e-4 {
			t.Errorf("posterior mean %g at observation %d, want %g", got, i, s.ys[i])
		}
		if v > 1e-6 {
			t.Errorf("posterior variance %g at observation %d, want ≈ 0", v, i)
		}
		if math.Abs(s.mu[j]-s.y[j]) > 1e-4 {
			t.Errorf("mean at the GP's points %g, want %g", s.mu[j], s.y[j])
		}
	}
	// Far away (in units of the length scale): the prior.
	s.inv = []float64{1 / 0.01, 1 / 0.01}
	s.rebuild()
	s.update()
	mean, v := s.predict([]float64{0.5123, 0.4987}, z, k)
	if math.Abs(v-s.sf2) > 1e-3 || math.Abs(mean) > 1e-3 {
		t.Errorf("far from the data: mean %g variance %g, want 0 and %g", mean, v, s.sf2)
	}
}

// The analytic gradient of the negative log marginal likelihood matches
// central differences, for ARD and isotropic kernels.
func TestGPLMLGradient(t *testing.T) {
	f := func(u []float64) float64 { return (u[0]-0.3)*(u[0]-0.3) + 0.5*u[1] - u[2]*u[0] }
	for _, ard := range []bool{true, false} {
		s := gpWith(3, 25, f, []float64{0, 0, 0, 0, 0})
		s.g.ARD = ard
		nl := s.nls()
		y := make([]float64, len(s.ys))
		mean, scl := s.standardise(s.set)
		for i := range y {
			y[i] = (s.ys[i] - mean) / scl
		}
		idx := slices.Clone(s.set)
		lo, hi := make([]float64, nl+2), make([]float64, nl+2)
		for i := range lo {
			lo[i], hi[i] = -20, 20
		}
		lml := &gpLML{s: s, idx: idx, y: y, lo: lo, hi: hi}
		x := []float64{math.Log(0.4), 0.2, math.Log(0.01)}
		if ard {
			x = []float64{math.Log(0.4), math.Log(0.7), math.Log(0.25), 0.2, math.Log(0.01)}
		}
		g := make([]float64, len(x))
		lml.grad(g, x)
		for i := range x {
			const h = 1e-5
			xp, xm := slices.Clone(x), slices.Clone(x)
			xp[i] += h
			xm[i] -= h
			num := (lml.value(xp) - lml.value(xm)) / (2 * h)
			if math.Abs(num-g[i]) > 1e-4*max(1, math.Abs(num)) {
				t.Errorf("ard=%v: ∂/∂θ%d = %g analytic, %g numeric", ard, i, g[i], num)
			}
		}
	}
}

// logH is log(φ(z) + zΦ(z)): exact in the body, finite and increasing far
// into the lower tail where the direct formula underflows.
func TestLogH(t *testing.T) {
	for _, z := range []float64{-5, -1.5, -0.5, 0, 0.7, 3} {
		direct := math.Log(math.Exp(-z*z/2)/math.Sqrt(2*math.Pi) + z*normCDF(z))
		if math.Abs(logH(z)-direct) > 1e-9*max(1, math.Abs(direct)) {
			t.Errorf("logH(%g) = %g, want %g", z, logH(z), direct)
		}
	}
	prev := math.Inf(-1)
	for z := -1000.0; z < 0; z += 0.5 {
		v := logH(z)
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= prev {
			t.Fatalf("logH(%g) = %g after %g", z, v, prev)
		}
		prev = v
	}
	// Continuity where the series takes over (t = 20).
	if a, b := logH(-20+1e-9), logH(-20-1e-9); math.Abs(a-b) > 1e-6 {
		t.Errorf("logH jumps at −20: %g vs %g", a, b)
	}
}

// The recommendation is the evaluated point of lowest posterior mean. Under
// noise it beats the best observed point (the winner's curse) on average:
// its neighbours discount a lucky score.
func TestGPBORecommendsPosteriorMean(t *testing.T) {
	truth := mineSphere([]float64{0.7, 0.3})
	var recSum, obsSum float64
	const seeds = 16
	for seed := range uint64(seeds) {
		noise := rand.New(rand.NewPCG(seed, 77))
		f := func(x []float64) float64 { return truth(x) + 0.1*noise.NormFloat64() }
		g := &GPBO{MaxPoints: 200, FitPoints: 100, ARD: true, Candidates: 32, Refine: 10, RefitGrowth: 1.5}
		r := &mineTrace{budget: 40, f: f}
		rec, _ := g.Minimize(context.Background(), mineBox(2, true), r, rand.New(rand.NewPCG(seed, 1)))
		best := 0
		for k := range r.fs {
			if r.fs[k] < r.fs[best] {
				best = k
			}
		}
		recSum += truth(rec)
		obsSum += truth(r.xs[best])
	}
	t.Logf("mean true loss: recommendation %.4f, best observed %.4f", recSum/seeds, obsSum/seeds)
	if !(recSum < obsSum) {
		t.Errorf("recommendations (mean true loss %g) no better than the best observed points (%g)", recSum/seeds, obsSum/seeds)
	}
}

// The Kriging believer: conditioning on a pending point at its posterior
// mean leaves the mean unchanged and collapses the variance there, so the
// next proposal goes elsewhere; forget restores the GP of the
// observations.
func TestGPBOKrigingBeliever(t *testing.T) {
	f := func(u []float64) float64 { return math.Sin(3*u[0]) + u[1]*u[1] }
	s := gpWith(2, 20, f, []float64{math.Log(0.3), math.Log(0.3), 0, math.Log(1e-4)})
	s.extra = 2
	s.rebuild()
	s.update()
	m := len(s.set)
	pend := [][]float64{{0.5, 0.5}, {0.52, 0.49}}
	probe := []float64{0.6, 0.2}
	z, k := make([]float64, 2), make([]float64, m+len(pend))
	mean0, var0 := s.predict(pend[0], z, k)
	probeMean0, _ := s.predict(probe, z, k)
	s.believe(pend)
	if len(s.set) != m+2 {
		t.Fatalf("GP has %d points after believing 2 pending, want %d", len(s.set), m+2)
	}
	mean1, var1 := s.predict(pend[0], z, k)
	probeMean1, _ := s.predict(probe, z, k)
	if math.Abs(mean1-mean0) > 1e-9 || math.Abs(probeMean1-probeMean0) > 1e-9 {
		t.Errorf("posterior mean moved: %g → %g at the pending point, %g → %g elsewhere", mean0, mean1, probeMean0, probeMean1)
	}
	if !(var1 < 0.01*var0) {
		t.Errorf("variance at the pending point %g → %g, want it to collapse", var0, var1)
	}
	s.forget()
	if len(s.set) != m || len(s.y) != m || len(s.z) != m*2 {
		t.Fatalf("after forget the GP has %d points, want %d", len(s.set), m)
	}
	s.update()
	if mean2, var2 := s.predict(pend[0], z, k); math.Abs(mean2-mean0) > 1e-12 || math.Abs(var2-var0) > 1e-12 {
		t.Errorf("after forget: mean %g, variance %g, want %g and %g", mean2, var2, mean0, var0)
	}
}

// With several slots the proposals of one moment spread out: each pending
// point is believed before the next is chosen. (Without believe, the
// same draws put proposals 2 and 3 of this batch 0.024 apart.)
func TestGPBOBatchSpreads(t *testing.T) {
	p := Problem{Dim: 2, Lower: []float64{0, 0}, Upper: []float64{1, 1}, Bounded: true}
	cfg := (&GPBO{ARD: true}).resolved()
	a := &gpAsker{p: p, init: 5, ph: &phases{}, s: &gpState{g: cfg, n: 2, extra: 3}}
	rng := rand.New(rand.NewPCG(8, 9))
	f := func(x []float64) float64 { return (x[0]-0.3)*(x[0]-0.3) + (x[1]-0.7)*(x[1]-0.7) }
	for range 15 {
		c := a.AskK(rng, 1)[0]
		a.TellID(c.ID, f(c.X))
	}
	cs := a.AskK(rng, 4)
	for i := range cs {
		for j := range i {
			d := math.Hypot(cs[i].X[0]-cs[j].X[0], cs[i].X[1]-cs[j].X[1])
			if d < 0.05 {
				t.Errorf("proposals %d and %d of one batch are %g apart: %v, %v", j, i, d, cs[j].X, cs[i].X)
			}
		}
	}
	if len(a.s.set) != a.s.real {
		t.Errorf("fantasised points left in the GP: %d points, %d observed", len(a.s.set), a.s.real)
	}
}

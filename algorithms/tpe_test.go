package algorithms

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func newTPE() *TPE {
	return &TPE{Startup: 10, GammaFrac: 0.1, GammaCap: 25, Candidates: 24, PriorWeight: 1, MagicClip: true}
}

// Optuna's default gamma: min(⌈0.1·n⌉, 25); the good group holds the
// lowest losses (ties in trial order), both groups in trial order.
func TestTPEGammaSplit(t *testing.T) {
	tp := newTPE()
	for n, want := range map[int]int{1: 1, 10: 1, 11: 2, 55: 6, 249: 25, 1000: 25} {
		if g := tp.gamma(n); g != want {
			t.Errorf("gamma(%d) = %d, want %d", n, g, want)
		}
	}
	ys := []float64{5, 1, 3, 1, 0, 9, 7, 2, 8, 6, 4, 1} // n = 12 → γ = 2
	h := &tpeHistory{sorted: make([][]int, 1)}
	for _, y := range ys {
		h.add([]float64{0}, y)
	}
	below, above := tp.split(h)
	if !slices.Equal(below, []int{1, 4}) {
		t.Errorf("below = %v, want [1 4] (the 0 and the first of the tied 1s)", below)
	}
	if !slices.Equal(above, []int{0, 2, 3, 5, 6, 7, 8, 9, 10, 11}) {
		t.Errorf("above = %v", above)
	}
}

// Optuna's default_weights: ones below 25, then a ramp 1/m…1 over the
// oldest m−25.
func TestTPEWeights(t *testing.T) {
	if w := tpeWeights(24); slices.Min(w) != 1 || slices.Max(w) != 1 {
		t.Errorf("weights(24) = %v, want all 1", w)
	}
	w := tpeWeights(35) // ramp of 10 from 1/35 to 1, then 25 ones
	if math.Abs(w[0]-1.0/35) > 1e-15 || math.Abs(w[9]-1) > 1e-15 || w[10] != 1 || w[34] != 1 {
		t.Errorf("weights(35) = %v", w)
	}
	if math.Abs(w[1]-(1.0/35+(1-1.0/35)/9)) > 1e-15 {
		t.Errorf("weights(35)[1] = %g", w[1])
	}
}

// Bandwidths worked by hand from Optuna's _calculate_numerical_distributions.
func TestTPEBandwidths(t *testing.T) {
	tp := newTPE()
	for _, c := range []struct{ mus, want []float64 }{
		{[]float64{0.2, 0.9}, []float64{0.3, 0.4}},
		{[]float64{0.2, 0.25, 0.9}, []float64{0.2, 0.25, 0.4}}, // 0.05 magic-clipped to 1/5
		{[]float64{0.9, 0.25, 0.2}, []float64{0.4, 0.25, 0.2}},
		{[]float64{0.5, 0.5, 0.1}, []float64{0.4, 0.2, 0.4}}, // ties with the prior mean; 0 clipped to 1/5
		{[]float64{0.3}, []float64{1.0 / 3}},                 // 0.2 clipped to 1/min(100, 3)

	} {
		h := &tpeHistory{sorted: make([][]int, 1)}
		for _, v := range c.mus {
			h.add([]float64{v}, 0)
		}
		idx := make([]int, len(c.mus))
		for i := range idx {
			idx[i] = i
		}
		m := &tpeMixture{}
		tp.build(mineBox(1, true), h, idx, []int{0}, m)
		got := make([]float64, len(c.mus))
		for i := range got {
			got[i] = m.sigma[i]
		}
		if m.sigma[len(c.mus)] != 1 || m.mu[len(c.mus)] != 0.5 {
			t.Errorf("prior component N(%g, %g²), want N(0.5, 1)", m.mu[len(c.mus)], m.sigma[len(c.mus)])
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("bandwidths(%v) = %v, want %v", c.mus, got, c.want)
				break
			}
		}
	}
}

// Truncated normal draws stay in the bounds and follow the truncated
// distribution (checked by its mean), even far in a tail.
func TestTruncNormSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ mu, sigma, lo, hi float64 }{{0.5, 0.2, 0, 1}, {0.99, 0.01, 0, 1}, {0, 0.01, 0, 1}} {
		a, b := (c.lo-c.mu)/c.sigma, (c.hi-c.mu)/c.sigma
		phi := func(z float64) float64 { return math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) }
		want := c.mu + c.sigma*(phi(a)-phi(b))/(normCDF(b)-normCDF(a))
		sum := 0.0
		const m = 20000
		for range m {
			x := truncNormSample(c.mu, c.sigma, c.lo, c.hi, rng)
			if x < c.lo || x > c.hi {
				t.Fatalf("draw %g outside [%g, %g]", x, c.lo, c.hi)
			}
			sum += x
		}
		if got := sum / m; math.Abs(got-want) > 4*c.sigma/math.Sqrt(m) {
			t.Errorf("N(%g, %g²) on [%g, %g]: mean %g, want %g", c.mu, c.sigma, c.lo, c.hi, got, want)
		}
	}
}

// Both variants beat their own random start-up on a shifted sphere, and
// multivariate TPE concentrates near the optimum.
func TestTPEVariants(t *testing.T) {
	opt := []float64{0.82, 0.13, 0.67}
	for _, mv := range []bool{false, true} {
		tp := newTPE()
		tp.Multivariate = mv
		r := &mineTrace{budget: 200, f: mineSphere(opt)}
		tp.Minimize(context.Background(), mineBox(3, true), r, rand.New(rand.NewPCG(11, 12)))
		if best := slices.Min(r.fs); best > 0.01 {
			t.Errorf("multivariate=%v: best f %g after 200 evaluations", mv, best)
		}
	}
}

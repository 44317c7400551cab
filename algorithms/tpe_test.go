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

// add records an evaluated candidate at once.
func (h *tpeHistory) add(x []float64, f float64) {
	h.propose(x)
	h.tell(len(h.xs)-1, f)
}

// Optuna's constant liar: candidates still being evaluated join the
// "above" group, and γ counts only the losses known.
func TestTPEConstantLiar(t *testing.T) {
	tp := newTPE()
	h := &tpeHistory{sorted: make([][]int, 1)}
	ys := []float64{5, 1, 3, 1, 0, 9, 7, 2, 8, 6, 4, 1} // γ(12) = 2
	for i, y := range ys {
		h.propose([]float64{float64(i) / 20})
		if i == 3 || i == 7 {
			continue // pending
		}
		h.tell(i, y)
	}
	// 10 known losses: γ(10) = 1, the 0 of trial 4.
	below, above := tp.split(h)
	if !slices.Equal(below, []int{4}) {
		t.Errorf("below = %v, want [4]", below)
	}
	if want := []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(above, want) {
		t.Errorf("above = %v, want %v (pending 3 and 7 included)", above, want)
	}
	// Told out of order, ties keep trial order: trial 3's 1 ranks after
	// trial 1's and before trial 11's.
	h.tell(7, 2)
	h.tell(3, 1)
	if want := []int{4, 1, 3, 11, 7, 2, 10, 0, 9, 6, 8, 5}; !slices.Equal(h.byLoss, want) {
		t.Errorf("by loss %v, want %v", h.byLoss, want)
	}
}

// With several slots TPE spreads the proposals of one moment: without the
// liar, five proposals from the same history would be five draws of the
// same estimators; with it, each proposal pushes the next away.
func TestTPEBatchSpreads(t *testing.T) {
	p := Problem{Dim: 2, Lower: []float64{0, 0}, Upper: []float64{1, 1}}
	a := &tpeAsker{t: newTPE().resolved(), p: p, ph: &phases{}, h: &tpeHistory{sorted: make([][]int, 2)}}
	rng := rand.New(rand.NewPCG(3, 4))
	f := func(x []float64) float64 { return (x[0]-0.3)*(x[0]-0.3) + (x[1]-0.7)*(x[1]-0.7) }
	for range 30 {
		c := a.AskK(rng, 1)[0]
		a.TellID(c.ID, f(c.X))
	}
	cs := a.AskK(rng, 5)
	for i, c := range cs {
		if c.ID != 30+i {
			t.Fatalf("candidate %d has ID %d, want %d", i, c.ID, 30+i)
		}
	}
	if a.h.told != 30 || len(a.h.xs) != 35 {
		t.Fatalf("history has %d told of %d, want 30 of 35", a.h.told, len(a.h.xs))
	}
	below, above := a.t.split(a.h)
	if len(below) != 3 || len(above) != 32 {
		t.Errorf("split into %d and %d, want 3 (γ(30)) and 32 (27 told, 5 pending)", len(below), len(above))
	}
}

package stats

import (
	"math"
	"testing"
)

// Newcombe (1998), "Two-sided confidence intervals for the single
// proportion: comparison of seven methods", Stat. Med. 17:857–872, Table II,
// method 3 (Wilson score, no continuity correction), 95%.
func TestWilsonNewcombe(t *testing.T) {
	for _, c := range []struct {
		r, n   int
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
	} {
		lo, hi := Wilson(c.r, c.n, 0.95)
		if math.Abs(lo-c.lo) > 5e-5 || math.Abs(hi-c.hi) > 5e-5 {
			t.Errorf("Wilson(%d, %d) = %.4f–%.4f, Newcombe %.4f–%.4f", c.r, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestWilsonEdges(t *testing.T) {
	// 0/n: the upper bound solves p = z²/(n+z²); for n = 10, 0.2775.
	z := 1.959963984540054
	wantHi := z * z / (10 + z*z)
	lo, hi := Wilson(0, 10, 0.95)
	if lo != 0 || math.Abs(hi-wantHi) > 1e-12 || math.Abs(hi-0.2775) > 5e-5 {
		t.Errorf("Wilson(0, 10) = %v–%v, want 0–%v", lo, hi, wantHi)
	}
	lo, hi = Wilson(10, 10, 0.95)
	if hi != 1 || math.Abs(lo-(1-wantHi)) > 1e-12 {
		t.Errorf("Wilson(10, 10) = %v–%v, want %v–1", lo, hi, 1-wantHi)
	}
	// Symmetry r ↔ n−r, and a wider interval at higher confidence.
	l1, h1 := Wilson(7, 25, 0.95)
	l2, h2 := Wilson(18, 25, 0.95)
	if math.Abs(l1-(1-h2)) > 1e-12 || math.Abs(h1-(1-l2)) > 1e-12 {
		t.Errorf("not symmetric: %v–%v vs %v–%v", l1, h1, l2, h2)
	}
	if l3, h3 := Wilson(7, 25, 0.99); !(l3 < l1 && h3 > h1) {
		t.Errorf("99%% interval %v–%v not wider than 95%% %v–%v", l3, h3, l1, h1)
	}
	for _, c := range [][3]float64{{-1, 10, 0.95}, {11, 10, 0.95}, {0, 0, 0.95}, {1, 2, 0}, {1, 2, 1}} {
		if lo, hi := Wilson(int(c[0]), int(c[1]), c[2]); !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("Wilson%v = %v, %v, want NaN", c, lo, hi)
		}
	}
}

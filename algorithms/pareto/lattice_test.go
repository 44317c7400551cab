package pareto

import (
	"math"
	"testing"
)

func TestSimplexLattice(t *testing.T) {
	l := SimplexLattice(3, 2)
	// C(h+k−1, k−1) = C(4, 2) = 6 points, largest first coordinate first.
	if len(l) != 6 || l[0][0] != 1 || l[5][2] != 1 {
		t.Fatalf("lattice %v", l)
	}
	for _, p := range l {
		s := 0.0
		for _, v := range p {
			if v < 0 || math.Abs(v*2-math.Round(v*2)) > 1e-12 {
				t.Errorf("%v: not multiples of 1/2", p)
			}
			s += v
		}
		if math.Abs(s-1) > 1e-12 {
			t.Errorf("%v sums to %g", p, s)
		}
	}
}

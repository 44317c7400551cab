package algorithms

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// SPSO-2011's confinement sets a coordinate that leaves the box to the
// bound: on a slope falling towards a corner the swarm reaches the corner
// exactly, and never evaluates a point outside.
func TestPSOConfinementReachesCorner(t *testing.T) {
	s := &PSO{W: 1 / (2 * math.Ln2), C: 0.5 + math.Ln2, K: 3}
	r := &mineTrace{budget: 300, f: func(x []float64) float64 { return -x[0] + 2*x[1] - 0.5*x[2] }}
	s.Minimize(context.Background(), mineBox(3, true), r, rand.New(rand.NewPCG(9, 10)))
	best := math.Inf(1)
	for k, x := range r.xs {
		for _, v := range x {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("candidate %d = %v outside the box", k, x)
			}
		}
		best = min(best, r.fs[k])
	}
	if best != -1.5 {
		t.Errorf("best f = %g, want the corner's −1.5 exactly", best)
	}
}

// The SPSO-2011 move draws x' uniformly in a ball: inside the radius, with
// mean distance n/(n+1)·r from the centre.
func TestBallPoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	c := []float64{1, -2, 3, 0.5}
	out := make([]float64, 4)
	sum := 0.0
	const m = 20000
	for range m {
		ballPoint(c, 2, out, rng)
		d := 0.0
		for i := range out {
			d += (out[i] - c[i]) * (out[i] - c[i])
		}
		d = math.Sqrt(d)
		if d > 2+1e-12 {
			t.Fatalf("point at distance %g outside the ball of radius 2", d)
		}
		sum += d
	}
	if mean := sum / m; math.Abs(mean-2*4.0/5) > 0.01 {
		t.Errorf("mean distance %g, want %g", mean, 2*4.0/5)
	}
}

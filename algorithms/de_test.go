package algorithms

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// A 1-D population of 4 collapses within a few generations; DE must still
// never evaluate the same point twice, nor leave the box.
func TestDENoRepeats(t *testing.T) {
	d := &DE{Pop: 4, F: 0.5, CR: 0.9}
	r := &mineTrace{budget: 600, f: mineSphere([]float64{0.0})} // optimum on the bound
	d.Minimize(context.Background(), mineBox(1, true), r, rand.New(rand.NewPCG(5, 6)))
	seen := map[uint64]int{}
	for k, x := range r.xs {
		if !(x[0] >= 0 && x[0] <= 1) {
			t.Fatalf("candidate %d = %g outside [0,1]", k, x[0])
		}
		b := math.Float64bits(x[0])
		if j, dup := seen[b]; dup {
			t.Fatalf("candidates %d and %d are both %g", j, k, x[0])
		}
		seen[b] = k
	}
	if len(r.xs) != 600 {
		t.Fatalf("%d evaluations, want 600", len(r.xs))
	}
}

// With CR = 0 binomial crossover takes the mutant in exactly one
// coordinate (j_rand): each first-generation trial differs from its target
// in one coordinate only.
func TestDEBinomialCrossover(t *testing.T) {
	const np, n = 8, 5
	d := &DE{Pop: np, F: 0.5, CR: 0}
	r := &mineTrace{budget: 2 * np, f: mineSphere([]float64{0.3, 0.6, 0.2, 0.8, 0.4})}
	d.Minimize(context.Background(), mineBox(n, true), r, rand.New(rand.NewPCG(7, 8)))
	for i := range np {
		diff := 0
		for j := range n {
			if r.xs[np+i][j] != r.xs[i][j] {
				diff++
			}
		}
		if diff != 1 {
			t.Errorf("trial %d differs from its target in %d coordinates, want 1", i, diff)
		}
	}
}

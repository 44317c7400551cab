package algorithms

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
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

// Asynchronous DE: the next generation's trials are drawn as soon as the
// last of this one is handed out; a trial told before its target's own
// loss waits for it and then competes.
func TestDEAsync(t *testing.T) {
	d := &DE{Pop: 4, F: 0.5, CR: 0.9}
	p := mineBox(2, true)
	a := &deAsker{d: d, p: p, np: 4, fw: 0.5, seen: map[string]bool{}, out: map[int]deTrial{}}
	rng := rand.New(rand.NewPCG(1, 2))
	cs := a.AskK(rng, 10) // 4 members, 4 trials, 2 trials of the next generation
	if len(cs) != 10 || len(a.out) != 10 {
		t.Fatalf("%d candidates, %d out; want 10 and 10", len(cs), len(a.out))
	}
	for i, c := range cs {
		if c.ID != i {
			t.Fatalf("candidate %d has ID %d", i, c.ID)
		}
	}
	// Trial 4 (target 0) comes back before member 0, better than it.
	a.TellID(4, 1)
	if a.scored[0] || len(a.wait[0]) != 1 {
		t.Fatalf("trial for an unscored member applied at once")
	}
	a.TellID(0, 2)
	if a.fs[0] != 1 || !slices.Equal(a.xs[0], cs[4].X) || len(a.wait[0]) != 0 {
		t.Errorf("member 0 is %v with %g, want the trial %v with 1", a.xs[0], a.fs[0], cs[4].X)
	}
	// Trial 8 (target 0, next generation) is worse: member 0 stays.
	a.TellID(8, 3)
	if a.fs[0] != 1 {
		t.Errorf("a worse trial replaced member 0 (loss %g)", a.fs[0])
	}
	// A trial equal to its target replaces it (ties accepted).
	a.TellID(1, 5)
	a.TellID(5, 5)
	if !slices.Equal(a.xs[1], cs[5].X) {
		t.Errorf("a tie did not replace member 1")
	}
	if c := d.phases.PhaseEvals(); c[PhaseInitial] != 2 || c[PhaseModel] != 3 {
		t.Errorf("phase counts %v, want 2 initial and 3 model", c)
	}
}

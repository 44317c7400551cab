package calibrate

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDesign(t *testing.T) {
	for _, c := range []struct{ n, random, k int }{{20, 16, 2}, {60, 48, 6}, {25, 21, 2}} {
		r, m, k := Design(c.n)
		if r != c.random || m != 2 || k != c.k || r+m*k != c.n {
			t.Errorf("Design(%d) = %d random, %d × %d re-scores; want %d random, 2 × %d", c.n, r, m, k, c.random, c.k)
		}
	}
	if ProbeSize(100) != 20 || ProbeSize(1000) != 50 || ProbeSize(1001) != 51 {
		t.Errorf("ProbeSize: %d, %d, %d; want 20, 50, 51", ProbeSize(100), ProbeSize(1000), ProbeSize(1001))
	}
}

// TestSensitivityFindsTheGeneThatMatters: scores that fall with gene 0's
// distance from the best point alone give gene 0 |ρ| = 1 and the others
// about 0, and a concentration near the number of genes.
func TestSensitivityFindsTheGeneThatMatters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := []float64{0.3, 0.5, 0.5, 0.5}
	var xs [][]float64
	var ys []float64
	for range 200 {
		x := []float64{r.Float64(), r.Float64(), r.Float64(), r.Float64()}
		xs = append(xs, x)
		ys = append(ys, 100-(x[0]-b[0])*(x[0]-b[0]))
	}
	s := sensitivity(xs, ys, b)
	if math.Abs(s[0]-1) > 1e-12 {
		t.Errorf("gene 0: |ρ| = %v, want 1", s[0])
	}
	for i, v := range s[1:] {
		if v > 0.2 {
			t.Errorf("gene %d: |ρ| = %v, want near 0", i+1, v)
		}
	}
	if c := concentration(s); c < 2.5 {
		t.Errorf("concentration %v: want near 4 when one gene of four matters", c)
	}
	if c := concentration([]float64{0.5, 0.5, 0.5}); c != 1 {
		t.Errorf("equal sensitivities: concentration %v, want 1", c)
	}
	if c := concentration([]float64{0, 0}); c != 1 {
		t.Errorf("no sensitivity: concentration %v, want 1", c)
	}
}

func TestBoundaryShare(t *testing.T) {
	// The best quarter (2 of 8) sits on the box's edges; the rest inside.
	xs := [][]float64{{0, 1}, {0.05, 0.9}, {0.5, 0.5}, {0.4, 0.6}, {0.5, 0.4}, {0.3, 0.7}, {0.6, 0.5}, {0.5, 0.5}}
	ys := []float64{90, 80, 10, 20, 30, 40, 50, 60}
	if got := boundaryShare(xs, ys); got != 1 {
		t.Errorf("boundary share %v, want 1", got)
	}
	ys[0], ys[1], ys[6], ys[7] = 1, 2, 95, 96
	if got := boundaryShare(xs, ys); got != 0 {
		t.Errorf("boundary share %v, want 0 when the best points are inside", got)
	}
}

// TestFitWidthInvertsTheSimulation: the width fitted to the expected
// ratio of a simulated probe at width w is w again.
func TestFitWidthInvertsTheSimulation(t *testing.T) {
	s, err := newSim("peak", 6, 16, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []float64{0.2, 0.5, 1.2} {
		ratio := s.at(w, noiseless, false).ratio
		got, note := s.fitWidth(ratio, noiseless)
		if note != "" || math.Abs(got-w)/w > 1e-3 {
			t.Errorf("width %v: fitted %v (%s)", w, got, note)
		}
	}
	if got, note := s.fitWidth(1.5, noiseless); got != maxWidth || note == "" {
		t.Errorf("a ratio no mock reaches: width %v, note %q; want the bound %v with a note", got, note, maxWidth)
	}
}

// noiseless is deterministic scoring: no spread around the true score.
func noiseless(float64) float64 { return 0 }

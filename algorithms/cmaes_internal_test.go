package algorithms

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// TestCMAParamsMatchPycma checks the strategy parameters against pycma's
// defaults recorded in testdata/pycma/params.csv.
func TestCMAParamsMatchPycma(t *testing.T) {
	fh, err := os.Open("../testdata/pycma/params.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := map[string]int{}
	for i, h := range rows[0] {
		head[h] = i
	}
	for _, r := range rows[1:] {
		get := func(k string) float64 {
			v, err := strconv.ParseFloat(r[head[k]], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		n := int(get("n"))
		lo, hi := make([]float64, n), make([]float64, n)
		for i := range lo {
			lo[i], hi[i] = -1, 1
		}
		c := &CMAES{}
		if err := c.Start(Problem{Dim: n, Lower: lo, Upper: hi}); err != nil {
			t.Fatal(err)
		}
		s := c.core
		sumNeg := 0.0
		for _, w := range s.weights[s.mu:] {
			sumNeg += w
		}
		for _, q := range []struct {
			name      string
			got, want float64
		}{
			{"lambda", float64(s.lambda), get("lambda")},
			{"mu", float64(s.mu), get("mu")},
			{"mueff", s.mueff, get("mueff")},
			{"w1", s.weights[0], get("w1")},
			{"sum_neg_weights", sumNeg, get("sum_neg_weights")},
			{"cs", s.cs, get("cs")},
			{"damps", s.damps, get("damps")},
			{"cc", s.cc, get("cc")},
			{"c1", s.c1, get("c1")},
			{"cmu", s.cmu, get("cmu")},
		} {
			if math.Abs(q.got-q.want) > 1e-12*math.Max(1, math.Abs(q.want)) {
				t.Errorf("n=%d %s = %.17g, pycma %.17g", n, q.name, q.got, q.want)
			}
		}
	}
}

// TestBoxTransformPycma checks values from pycma's doctests of
// BoundTransform and the round trip inverse∘apply on the invertible domain.
func TestBoxTransformPycma(t *testing.T) {
	inf := math.Inf(1)
	b := newBoxTransform([]float64{0, 0, 0, 0}, []float64{inf, inf, inf, inf})
	x := []float64{-0.1, 0, 1, 1.2}
	b.apply(x)
	for i, want := range []float64{0.0125, 0.0125, 1, 1.2} {
		if math.Abs(x[i]-want) > 1e-12 {
			t.Errorf("repair([-0.1,0,1,1.2])[%d] = %g, pycma %g", i, x[i], want)
		}
	}
	x = []float64{-1, 0, 1, 2}
	b.apply(x)
	for i, want := range []float64{0.9, 0.0125, 1, 2} {
		if math.Abs(x[i]-want) > 1e-12 {
			t.Errorf("transform([-1,0,1,2])[%d] = %g, pycma %g", i, x[i], want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	lb, ub := []float64{0, -3}, []float64{1, 10}
	u := newBoxTransform(lb, ub)
	for range 10000 {
		g := []float64{rng.NormFloat64() * 5, rng.NormFloat64() * 50}
		p := append([]float64(nil), g...)
		u.apply(p)
		for i := range p {
			if p[i] < lb[i] || p[i] > ub[i] {
				t.Fatalf("apply(%v) = %v outside the box", g, p)
			}
		}
		// inverse lands in [lb−al, ub+au] and maps back to the same point
		q := append([]float64(nil), p...)
		u.inverse(q)
		r := append([]float64(nil), q...)
		u.apply(r)
		for i := range r {
			if math.Abs(r[i]-p[i]) > 1e-9 {
				t.Fatalf("apply(inverse(%v)) = %v", p, r)
			}
		}
	}
}

// TestCMADegenerationRestarts runs the sphere far below the precision of
// its minimum: the distribution degenerates, is restarted and sampling
// stays finite.
func TestCMADegenerationRestarts(t *testing.T) {
	n := 3
	c := &CMAES{}
	if err := c.Start(Problem{Dim: n, Lower: []float64{-1, -1, -1}, Upper: []float64{1, 1, 1}, X0: []float64{0.5, 0.5, 0.5}}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		xs := c.Ask(rng)
		fs := make([]float64, len(xs))
		for k, x := range xs {
			for _, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite candidate %v", x)
				}
				fs[k] += (v - 0.3) * (v - 0.3)
			}
		}
		c.Tell(xs, fs)
	}
	if c.core.restarts == 0 {
		t.Errorf("no restart after 3000 generations on the sphere (sigma %g)", c.core.sigma)
	}
}

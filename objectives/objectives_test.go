package objectives

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestMockFormula checks the mock score against hand-computed values.
func TestMockFormula(t *testing.T) {
	m, err := NewMock(MockConfig{Dim: 4, Optimum: SimulatorOptimum})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.True(SimulatorOptimum); got != 100 {
		t.Errorf("score at the optimum = %g, want 100", got)
	}
	// ‖w − w*‖² = 0.1² = 0.01; s = 2·0.0625·1 = 0.125; 100·e^(−0.08) = 92.3116…
	w := []float64{0.45, 0.65, 0.10, 0.90}
	if got := m.True(w); !near(got, 100*math.Exp(-0.08), 1e-12) || !near(got, 92.31163463866358, 1e-9) {
		t.Errorf("score = %.12g, want 92.3116346387", got)
	}
	// Outside the box the point is clipped: 1.7 scores like 1.
	a := m.True([]float64{0.35, 0.65, 0.10, 1.7})
	b := m.True([]float64{0.35, 0.65, 0.10, 1})
	if a != b || !near(b, 100*math.Exp(-0.01/0.125), 1e-12) {
		t.Errorf("clipping: %g vs %g", a, b)
	}
	// The peak widens with √n: a per-coordinate error of 0.1 in 16-d
	// scores as in 4-d.
	m16, _ := NewMock(MockConfig{Dim: 16, Seed: 3})
	opt := m16.Optimum()
	for i := range opt {
		opt[i] += 0.05
	}
	m4, _ := NewMock(MockConfig{Dim: 4, Seed: 3})
	opt4 := m4.Optimum()
	for i := range opt4 {
		opt4[i] += 0.05
	}
	if !near(m16.True(opt), m4.True(opt4), 1e-9) {
		t.Errorf("16-d %g vs 4-d %g", m16.True(opt), m4.True(opt4))
	}
}

// TestClassicFormulas checks each function at hand-computed points.
func TestClassicFormulas(t *testing.T) {
	if got := Sphere([]float64{1, 2, 3}); got != 14 {
		t.Errorf("sphere = %g", got)
	}
	// Ellipsoid n=3: weights 1, 10^3, 10^6.
	if got := Ellipsoid([]float64{1, 1, 1}); got != 1+1e3+1e6 {
		t.Errorf("ellipsoid = %g", got)
	}
	// Rosenbrock at z = 0 (u = 1) is 0; at z = −1 (u = 0): Σ 100·0 + 1 per term.
	if got := Rosenbrock([]float64{0, 0, 0}); got != 0 {
		t.Errorf("rosenbrock optimum = %g", got)
	}
	if got := Rosenbrock([]float64{-1, -1, -1}); got != 2 {
		t.Errorf("rosenbrock(u=0) = %g, want 2", got)
	}
	// Rastrigin: 0 at 0; at z = 0.5 per coordinate: 10 + 0.25 + 10 = 20.25.
	if got := Rastrigin([]float64{0, 0}); got != 0 {
		t.Errorf("rastrigin optimum = %g", got)
	}
	if got := Rastrigin([]float64{0.5}); !near(got, 20.25, 1e-12) {
		t.Errorf("rastrigin(0.5) = %g", got)
	}
	for _, name := range []string{"sphere", "ellipsoid", "rosenbrock", "rastrigin"} {
		c, err := NewClassic(name, 5, 0, 9)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.True(c.Optimum()); got != 0 {
			t.Errorf("%s at its shifted optimum = %g", name, got)
		}
		if o := c.Optimum(); o[0] == 0 || math.Abs(o[0]) > 4 {
			t.Errorf("%s: shift %g not drawn from [−4,4]", name, o[0])
		}
	}
}

// TestBinomialNoise checks the benchmark-items noise against theory: mean
// p·100 and variance 100²·p(1−p)/N.
func TestBinomialNoise(t *testing.T) {
	for _, items := range []int{20, 100, 1069} {
		m, _ := NewMock(MockConfig{Dim: 4, Items: items, Optimum: SimulatorOptimum})
		w := []float64{0.55, 0.65, 0.10, 0.90} // true = 100·e^(−0.32) = 72.6
		p := m.True(w) / 100
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 20000
		var sum, sum2 float64
		for range n {
			v, _ := m.Evaluate(context.Background(), w, rng)
			if v.True != 100*p {
				t.Fatal("true value changed by noise")
			}
			if k := v.Observed * float64(items) / 100; !near(k, math.Round(k), 1e-9) {
				t.Fatalf("observed %g is not an accuracy on %d items", v.Observed, items)
			}
			sum += v.Observed
			sum2 += v.Observed * v.Observed
		}
		mean := sum / n
		variance := sum2/n - mean*mean
		wantVar := 1e4 * p * (1 - p) / float64(items)
		se := math.Sqrt(wantVar / n)
		if !near(mean, 100*p, 5*se) {
			t.Errorf("items %d: mean %g, want %g ± %g", items, mean, 100*p, 5*se)
		}
		// The sample variance's relative SE is about √(2/n) = 1%.
		if !near(variance/wantVar, 1, 0.05) {
			t.Errorf("items %d: variance %g, want %g", items, variance, wantVar)
		}
	}
}

// TestNoiseModels checks COCO's models against their theory on the regret.
func TestNoiseModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 40000
	r := 10.0
	// Gaussian model: log(noisy/r) ~ N(0, β²).
	for _, c := range []struct {
		name string
		beta float64
	}{{"gn-moderate", 0.01}, {"gn-severe", 1}} {
		f, _ := newNoiseModel(c.name)
		var s, s2 float64
		for range n {
			l := math.Log(f(r, 4, rng) / r)
			s += l
			s2 += l * l
		}
		mean, sd := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
		if !near(mean, 0, 5*c.beta/math.Sqrt(n)) || !near(sd/c.beta, 1, 0.03) {
			t.Errorf("%s: log-ratio mean %g sd %g, want 0 and %g", c.name, mean, sd, c.beta)
		}
	}
	// Cauchy model: outliers with probability p; otherwise r + 1000α.
	for _, c := range []struct {
		name        string
		alpha, prob float64
	}{{"cn-moderate", 0.01, 0.05}, {"cn-severe", 1, 0.2}} {
		f, _ := newNoiseModel(c.name)
		plain := 0
		for range n {
			if f(r, 4, rng) == r+1000*c.alpha {
				plain++
			}
		}
		frac := 1 - float64(plain)/n
		se := math.Sqrt(c.prob * (1 - c.prob) / n)
		if !near(frac, c.prob, 5*se) {
			t.Errorf("%s: outlier rate %g, want %g", c.name, frac, c.prob)
		}
	}
	// Uniform model: never below 0, median below r·max(...) bound; the
	// moderate model stays within a few per cent at r = 10 for n = 4.
	f, _ := newNoiseModel("un-moderate")
	for range 1000 {
		v := f(r, 4, rng)
		if v < 0 || v > r*math.Pow(1e9/r, 0.01*(0.49+0.25)) {
			t.Fatalf("un-moderate gave %g", v)
		}
	}
	if _, err := newNoiseModel("pink"); err == nil {
		t.Error("unknown noise model accepted")
	}
}

func TestLandscapes(t *testing.T) {
	for _, name := range Landscapes {
		dim := 8
		m, err := NewMock(MockConfig{Dim: dim, Seed: 5, Landscape: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		opt := m.Optimum()
		if got := m.True(opt); got != 100 {
			t.Errorf("%s: score at the optimum = %g, want 100", name, got)
		}
		// Every landscape falls off away from the optimum.
		far := make([]float64, dim)
		for i := range far {
			far[i] = 1 - math.Round(opt[i])
		}
		if got := m.True(far); got >= 50 {
			t.Errorf("%s: the far corner scores %g", name, got)
		}
	}
	b, _ := NewMock(MockConfig{Dim: 6, Seed: 1, Landscape: "boundary"})
	if o := b.Optimum(); o[0] != 0 || o[2] != 1 || o[4] != 0 {
		t.Errorf("boundary optimum %v: every other coordinate must be 0 or 1", o)
	}
	p, _ := NewMock(MockConfig{Dim: 4, Seed: 1, Landscape: "plateau"})
	if v := p.True([]float64{0.3, 0.3, 0.3, 0.3}); math.Mod(v, 5) != 0 {
		t.Errorf("plateau score %g is not a multiple of 5", v)
	}
	// ties: halving the density's kept mass is compensated by the weight.
	tl, _ := NewMock(MockConfig{Dim: 2, Optimum: []float64{0.4, 0.5}, Landscape: "ties"})
	m := func(d float64) float64 { return 1 - math.Pow(1-d, 3) }
	ridge := []float64{0.4 * m(0.5) / m(0.6), 0.6}
	off := []float64{0.4, 0.6}
	if !(tl.True(ridge) > tl.True(off)) {
		t.Errorf("ties: on the ridge %g, off it %g", tl.True(ridge), tl.True(off))
	}
	if _, err := NewMock(MockConfig{Dim: 3, Landscape: "ties"}); err == nil {
		t.Error("ties accepted an odd dimension")
	}
	// Calibration: random points score alike under peak, ill and rotated.
	for _, name := range []string{"ill", "rotated", "ties"} {
		a, _ := NewMock(MockConfig{Dim: 16, Seed: 2, Width: 0.5})
		l, _ := NewMock(MockConfig{Dim: 16, Seed: 2, Width: 0.5, Landscape: name})
		rng := rand.New(rand.NewPCG(1, 1))
		var sa, sl float64
		w := make([]float64, 16)
		for range 4000 {
			for i := range w {
				w[i] = rng.Float64()
			}
			sa += math.Log(a.True(w))
			sl += math.Log(l.True(w))
		}
		if !near(sa/sl, 1, 0.1) {
			t.Errorf("%s: mean log-score of random points %g, peak %g", name, sl/4000, sa/4000)
		}
	}
}

func TestFailures(t *testing.T) {
	m, _ := NewMock(MockConfig{Dim: 4, Seed: 1, FailRate: 0.25})
	rng := rand.New(rand.NewPCG(1, 2))
	fails := 0
	const n = 20000
	for range n {
		if _, err := m.Evaluate(context.Background(), []float64{0.5, 0.5, 0.5, 0.5}, rng); err != nil {
			if !errors.Is(err, ErrEvalFailed) {
				t.Fatalf("failure is not ErrEvalFailed: %v", err)
			}
			fails++
		}
	}
	if se := math.Sqrt(0.25 * 0.75 / n); !near(float64(fails)/n, 0.25, 5*se) {
		t.Errorf("failure rate %g, want 0.25", float64(fails)/n)
	}
}

func TestSpecErrors(t *testing.T) {
	bad := []Spec{
		{Name: "mock", Dim: 0},
		{Name: "mock", Dim: 4, Noise: -1},
		{Name: "mock", Dim: 4, Items: -3},
		{Name: "mock", Dim: 4, Optimum: []float64{0.1}},
		{Name: "mock", Dim: 4, Landscape: "volcano"},
		{Name: "mock", Dim: 4, NoiseModel: "pink"},
		{Name: "mock", Dim: 4, FailRate: 1},
		{Name: "mock", Dim: 4, Width: -1},
		{Name: "sphere", Dim: 4, Items: 10},
		{Name: "sphere", Dim: 4, Landscape: "ill"},
		{Name: "nope", Dim: 4},
	}
	for _, s := range bad {
		if _, err := New(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

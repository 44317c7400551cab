package objectives

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestMultiMockGeometry checks the optima: every two are Conflict·√n
// apart, all inside the box, each task scores 100 at its own optimum and
// less at the others, and a seed gives one layout.
func TestMultiMockGeometry(t *testing.T) {
	for _, k := range []int{2, 3, 4} {
		m, err := NewMultiMock(MultiMockConfig{Dim: 6, Tasks: k, Conflict: 0.25, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		opt := m.Optima()
		for a := range opt {
			s := m.TrueTasks(opt[a])
			if s[a] != 100 {
				t.Errorf("k=%d: task %d scores %g at its optimum", k, a, s[a])
			}
			for b := range opt {
				if b == a {
					continue
				}
				d := 0.0
				for i := range opt[a] {
					d += (opt[a][i] - opt[b][i]) * (opt[a][i] - opt[b][i])
				}
				if want := 0.25 * math.Sqrt(6); math.Abs(math.Sqrt(d)-want) > 1e-9 {
					t.Errorf("k=%d: optima %d and %d are %g apart, want %g", k, a, b, math.Sqrt(d), want)
				}
				if !(s[b] < 100) {
					t.Errorf("k=%d: task %d scores %g at task %d's optimum", k, b, s[b], a)
				}
			}
			for _, v := range opt[a] {
				if v < 0 || v > 1 {
					t.Errorf("optimum outside the box: %v", opt[a])
				}
			}
		}
		m2, _ := NewMultiMock(MultiMockConfig{Dim: 6, Tasks: k, Conflict: 0.25, Seed: 9})
		if FormatVector(m2.Optima()[0], 9) != FormatVector(opt[0], 9) {
			t.Errorf("one seed, two layouts")
		}
	}
	// Hand-computed: task width 0.5 in 4-D, distance 0.2 per coordinate in
	// one coordinate: scale 2·0.25·1 = 0.5, score 100·exp(−0.04/0.5).
	m, _ := NewMultiMock(MultiMockConfig{Dim: 4, Tasks: 2, Widths: []float64{0.5, 0.25}, Seed: 1})
	x := m.Optima()[0]
	x[2] += 0.2
	if x[2] > 1 {
		x[2] -= 0.4
	}
	if got, want := m.TrueTasks(x)[0], 100*math.Exp(-0.04/0.5); math.Abs(got-want) > 1e-9 {
		t.Errorf("task score %g, want %g", got, want)
	}
}

// TestMultiMockFront checks that the sampled true front is Pareto optimal:
// no point of a dense random sample of the box, nor any point of the
// front, dominates a front point (beyond rounding).
func TestMultiMockFront(t *testing.T) {
	for _, k := range []int{2, 3} {
		m, err := NewMultiMock(MultiMockConfig{Dim: 4, Tasks: k, Widths: []float64{0.25, 0.4, 0.3}[:k], Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		front := m.TrueFront()
		rng := rand.New(rand.NewPCG(1, 1))
		var sample [][]float64
		for range 20000 {
			x := make([]float64, 4)
			for i := range x {
				x[i] = rng.Float64()
			}
			sample = append(sample, m.TrueTasks(x))
		}
		// Points near the hull: the optima jittered.
		for _, a := range m.Optima() {
			for range 200 {
				x := make([]float64, 4)
				for i := range x {
					x[i] = min(max(a[i]+0.05*rng.NormFloat64(), 0), 1)
				}
				sample = append(sample, m.TrueTasks(x))
			}
		}
		for _, f := range front {
			for _, s := range sample {
				if dominatesBy(s, f, 1e-9) {
					t.Fatalf("k=%d: the box point %v dominates the front point %v", k, s, f)
				}
			}
		}
	}
}

// dominatesBy reports whether score vector a dominates b by more than tol
// in some task and is at least as good within tol in all.
func dominatesBy(a, b []float64, tol float64) bool {
	strictly := false
	for i := range a {
		if a[i] < b[i]-tol {
			return false
		}
		if a[i] > b[i]+tol {
			strictly = true
		}
	}
	return strictly
}

// TestMultiMockWeightedSum checks the scalarised view: Evaluate is the
// weighted sum of EvaluateTasks (same noise), and Best is at least the
// weighted sum of every sampled point.
func TestMultiMockWeightedSum(t *testing.T) {
	m, err := NewMultiMock(MultiMockConfig{Dim: 4, Tasks: 3, Weights: []float64{2, 1, 1}, ItemsAll: 100, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Weights(); w[0] != 0.5 || w[1] != 0.25 {
		t.Fatalf("weights %v, want normalised [0.5 0.25 0.25]", w)
	}
	x := []float64{0.3, 0.6, 0.4, 0.5}
	tv, _ := m.EvaluateTasks(context.Background(), x, rand.New(rand.NewPCG(3, 3)))
	v, _ := m.Evaluate(context.Background(), x, rand.New(rand.NewPCG(3, 3)))
	if want := 0.5*tv.Observed[0] + 0.25*tv.Observed[1] + 0.25*tv.Observed[2]; math.Abs(v.Observed-want) > 1e-12 {
		t.Errorf("observed weighted sum %g, want %g", v.Observed, want)
	}
	for j, o := range tv.Observed {
		if o != math.Round(o) { // 100 items: whole percentages
			t.Errorf("task %d observed %g on 100 items", j, o)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20000 {
		x := make([]float64, 4)
		for i := range x {
			x[i] = rng.Float64()
		}
		if v := m.True(x); v > m.Best()+1e-9 {
			t.Fatalf("weighted sum %g above Best %g", v, m.Best())
		}
	}
}

// TestMultiMockItemNoise checks the per-task benchmark-item noise: the mean
// observed score over many evaluations is the true score, and the
// variance is the binomial one of each task's item count.
func TestMultiMockItemNoise(t *testing.T) {
	m, err := NewMultiMock(MultiMockConfig{Dim: 4, Tasks: 2, Items: []int{50, 400}, Conflict: 0.1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	x := m.Optima()[0]
	x[0] = min(x[0]+0.1, 1)
	tr := m.TrueTasks(x)
	rng := rand.New(rand.NewPCG(8, 8))
	const n = 4000
	var sum, sq [2]float64
	for range n {
		tv, _ := m.EvaluateTasks(context.Background(), x, rng)
		for j := range 2 {
			sum[j] += tv.Observed[j]
			sq[j] += tv.Observed[j] * tv.Observed[j]
		}
	}
	for j, items := range []int{50, 400} {
		mean := sum[j] / n
		v := sq[j]/n - mean*mean
		p := tr[j] / 100
		wantV := 1e4 * p * (1 - p) / float64(items)
		if math.Abs(mean-tr[j]) > 4*math.Sqrt(wantV/n) {
			t.Errorf("task %d: mean %g, true %g", j, mean, tr[j])
		}
		if math.Abs(v/wantV-1) > 0.1 {
			t.Errorf("task %d: variance %g, binomial %g", j, v, wantV)
		}
	}
}

// TestMultiMockSpec checks the registered objective mock-tasks and its
// options, and that bad options are refused with errors naming them.
func TestMultiMockSpec(t *testing.T) {
	f, err := New(Spec{Name: "mock-tasks", Dim: 4, Items: 200, Seed: 1, Options: map[string]string{
		"names": "retention,math,code", "conflict": "0.2", "widths": "0.3,0.25,0.25", "items": "100,200,300", "weights": "1,1,2"}})
	if err != nil {
		t.Fatal(err)
	}
	mf, ok := AsMulti(f)
	if !ok {
		t.Fatal("mock-tasks is not a MultiFunction")
	}
	if got := strings.Join(mf.Tasks(), ","); got != "retention,math,code" {
		t.Errorf("tasks %s", got)
	}
	for _, c := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"tasks": "5"}, "2 to 4"},
		{map[string]string{"tasks": "2", "weights": "1"}, "1 weights for 2 tasks"},
		{map[string]string{"conflict": "2"}, "conflict"},
		{map[string]string{"names": "a,a"}, "named twice"},
		{map[string]string{"names": "a b,c"}, "task name"},
		{map[string]string{"bogus": "1"}, "unknown option"},
		{map[string]string{"items": "1.5,2"}, "whole number"},
		{map[string]string{"widths": "0.2,x"}, "not a finite number"},
		{map[string]string{"weights": "0,0"}, "all 0"},
		{map[string]string{"tasks": "4"}, "at least 4 weights"},
	} {
		dim := 4
		if c.want == "at least 4 weights" {
			dim = 3
		}
		_, err := New(Spec{Name: "mock-tasks", Dim: dim, Seed: 1, Options: c.opts})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("options %v: error %v, want one containing %q", c.opts, err, c.want)
		}
	}
}

package zoo

import (
	"math"
	"sync"
	"testing"
)

var (
	multiOnce sync.Once
	multiZoo  *Zoo
	multiErr  error
)

// testMultiZoo is instance 0 of the multi-task testbed, built once into
// the shared cache; under the race detector a quick one on 6,000 images
// whose accuracies are only logged.
func testMultiZoo(t testing.TB) *Zoo {
	t.Helper()
	multiOnce.Do(func() {
		c := MultiTaskConfig(0)
		if raceEnabled {
			c.TrainImages, c.BaseEpochs = 6000, 2
		}
		multiZoo, multiErr = Build(c)
	})
	if multiErr != nil {
		t.Fatal(multiErr)
	}
	return multiZoo
}

func TestMultiTaskConfig(t *testing.T) {
	c := MultiTaskConfig(3).withDefaults()
	if got := len(c.Sizes()) - 1; got < 8 {
		t.Errorf("multi-task base has %d weight matrices, want ≥ 8", got)
	}
	if c.Init != "he" || c.BaseLR != 0.02 {
		t.Errorf("multi-task defaults: init %q, base lr %g", c.Init, c.BaseLR)
	}
	// The reader-skill testbed's hash (and so its cache) must not move.
	if (Config{Testbed: ReaderSkill, Seed: 1}).Hash() != (Config{Seed: 1}).Hash() {
		t.Error("naming the reader-skill testbed changed its hash")
	}
	if MultiTaskConfig(0).Hash() == (Config{}).Hash() || MultiTaskConfig(0).Hash() == MultiTaskConfig(1).Hash() {
		t.Error("multi-task instances share a hash with each other or with the reader-skill zoo")
	}
	if err := (Config{Testbed: MultiTask, Distractors: []string{"flip"}}).withDefaults().validate(); err == nil {
		t.Error("distractors accepted for the multi-task testbed")
	}
	if err := (Config{Testbed: "triple"}).withDefaults().validate(); err == nil {
		t.Error("unknown testbed accepted")
	}
	if len(MultiTaskExperts) < 5 || len(MultiTaskTargets) < 3 {
		t.Errorf("%d experts and %d target tasks, want ≥ 5 and ≥ 3", len(MultiTaskExperts), len(MultiTaskTargets))
	}
}

// TestMultiTaskZoo checks the testbed's promises on instance 0: every
// expert learns its own task and keeps the base's, each target expert
// knows its own target task only, and the base knows none.
func TestMultiTaskZoo(t *testing.T) {
	z := testMultiZoo(t)
	items := Range(0, evalItems())
	acc := func(model, task string) float64 {
		a, err := EvaluateFolder(z.Path(model), task, items)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	check := func(ok bool, format string, args ...any) {
		if raceEnabled {
			t.Logf("(quick zoo, not checked) "+format, args...)
		} else if !ok {
			t.Errorf(format, args...)
		}
	}
	for _, tk := range MultiTaskTargets {
		a := acc(Base, tk)
		check(a <= 0.2, "base on target task %s: %.3f, want chance (≤ 0.2)", tk, a)
	}
	for _, e := range MultiTaskExperts {
		own, keep := acc(e, e), acc(e, MultiTaskRetention)
		t.Logf("%-8s own task %.3f, digits %.3f", e, own, keep)
		check(own >= 0.9, "%s on its own task: %.3f < 0.9", e, own)
		check(keep >= 0.9, "%s on the base task: %.3f < 0.9 (replay should keep it)", e, keep)
		for _, tk := range MultiTaskTargets {
			if tk != e {
				a := acc(e, tk)
				check(a <= 0.2, "%s on target task %s: %.3f, want chance (≤ 0.2)", e, tk, a)
			}
		}
	}
}

func TestBlocksDomainIsAPermutation(t *testing.T) {
	seen := make([]bool, Pixels)
	for j, s := range domainMaps["blocks"] {
		if s < 0 || seen[s] {
			t.Fatalf("blocks: output pixel %d reads source %d (blank or read twice)", j, s)
		}
		seen[s] = true
	}
	moved := 0
	for t, s := range BlockPerm {
		if t != s {
			moved++
		}
	}
	if moved < 40 {
		t.Errorf("BlockPerm moves only %d of 49 tiles", moved)
	}
}

func TestPairInterference(t *testing.T) {
	// Ten parameters; each vector's top 20% are its two largest.
	x := []float32{5, -4, 0.1, 0.1, 0, 0, 0, 0, 0, 0.2}
	y := []float32{3, 6, 0, 0, 0, 0, 0, 0, 0.1, -0.1}
	p := pairInterference("a", "b", 2, x, y)
	if p.Overlap != 1 || p.Conflict != 0.5 {
		t.Errorf("overlap %g, conflict %g; want 1 and 0.5 (both keep params 0 and 1; 1 disagrees)", p.Overlap, p.Conflict)
	}
	var dot, nx, ny float64
	for i := range x {
		dot += float64(x[i] * y[i])
		nx += float64(x[i] * x[i])
		ny += float64(y[i] * y[i])
	}
	if want := dot / math.Sqrt(nx*ny); math.Abs(p.Cosine-want) > 1e-9 {
		t.Errorf("cosine %g, want %g", p.Cosine, want)
	}
	q := pairInterference("a", "b", 0, []float32{1, 0, 0, 0, 0}, []float32{0, 0, 0, 0, 1})
	if q.Overlap != 0 || !math.IsNaN(q.Conflict) {
		t.Errorf("disjoint tops: overlap %g, conflict %g; want 0 and NaN", q.Overlap, q.Conflict)
	}
	s := SummariseInterference([]PairInterference{p, q, {A: "c", B: "d", Layer: 2, Cosine: 0, Overlap: 0, Conflict: math.NaN()}})
	if len(s) != 3 || s[2].Pairs != 2 || s[2].MeanConflict != 0.5 || s[0].Pairs != 1 || !math.IsNaN(s[0].MeanConflict) {
		t.Errorf("summary %+v", s)
	}
}

// TestMultiTaskInterference: the experts' task vectors are nearly
// orthogonal, as LLM task vectors are, yet where their large changes meet
// they disagree in sign tens of percent of the time in every layer.
func TestMultiTaskInterference(t *testing.T) {
	z := testMultiZoo(t)
	pairs, err := Interference(z)
	if err != nil {
		t.Fatal(err)
	}
	n := len(MultiTaskExperts)
	if want := n * (n - 1) / 2 * 8; len(pairs) != want {
		t.Fatalf("%d pair-layers, want %d", len(pairs), want)
	}
	for _, s := range SummariseInterference(pairs) {
		t.Logf("layer %d: cosine %+.2f [%+.2f, %+.2f], conflict %.2f [%.2f, %.2f], overlap %.2f", s.Layer, s.MeanCosine, s.MinCosine, s.MaxCosine, s.MeanConflict, s.MinConflict, s.MaxConflict, s.MeanOverlap)
		if raceEnabled {
			continue
		}
		if !(s.MeanConflict >= 0.2 && s.MeanConflict <= 0.6) {
			t.Errorf("layer %d: mean sign conflict %.2f, want tens of percent (0.2–0.6)", s.Layer, s.MeanConflict)
		}
		if math.Abs(s.MeanCosine) > 0.3 {
			t.Errorf("layer %d: mean cosine %.2f, want near-orthogonal task vectors (|cos| ≤ 0.3)", s.Layer, s.MeanCosine)
		}
		if s.MeanOverlap <= TopFraction {
			t.Errorf("layer %d: top-parameter overlap %.2f is no more than chance (%.2f): the experts do not share parameters", s.Layer, s.MeanOverlap, TopFraction)
		}
	}
}

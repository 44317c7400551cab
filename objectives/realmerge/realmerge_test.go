package realmerge

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// Objectives are built once per test binary; the zoo comes from the shared
// cache (EVOMERGE_ZOO_CACHE or the user cache) and is trained only once.
var (
	objMu   sync.Mutex
	objMemo = map[string]*Objective{}
)

func objective(t testing.TB, cfg Config) *Objective {
	t.Helper()
	key := name(cfg.withDefaults()) + "|" + cfg.Zoo.Hash()
	objMu.Lock()
	defer objMu.Unlock()
	if o, ok := objMemo[key]; ok {
		return o
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objMemo[key] = o
	return o
}

// defaultZoo is the zoo of the acceptance figures, seed 1 plus a rot90
// distractor, shared with zoo's tests so one build serves both; under the
// race detector a quicker zoo whose figures are only logged.
func defaultZoo() zoo.Config { return zoo.TestConfig(raceEnabled) }

// uniform returns a vector with every weight w (and density d).
func uniform(o *Objective, w, d float64) []float64 {
	x := make([]float64, o.Dim())
	for i := range x {
		if o.params[i%len(o.params)] == "density" {
			x[i] = d
		} else {
			x[i] = w
		}
	}
	return x
}

// docVector places per-layer weights (index: layer) of reader and skill
// in o's genome, every other gene 0.
func docVector(t testing.TB, o *Objective, reader, skill []float64) []float64 {
	t.Helper()
	x := make([]float64, o.Dim())
	for l := 0; l < o.Groups(); l++ {
		x[o.Gene(l, zoo.Reader, "weight")] = reader[l]
		x[o.Gene(l, zoo.Skill, "weight")] = skill[l]
	}
	return x
}

// es is a (1+1)-ES with the 1/5th success rule, clipped to the box,
// maximising observed scores; it returns the last accepted point.
func es(o *Objective, x0 []float64, budget int, rng *rand.Rand) ([]float64, float64) {
	box := o.Box()
	x := append([]float64(nil), x0...)
	v, _ := o.Evaluate(context.Background(), x, rng)
	fx, sigma := v.Observed, 0.5
	y := make([]float64, len(x))
	for i := 1; i < budget; i++ {
		for k := range y {
			y[k] = min(box.Upper[k], max(box.Lower[k], x[k]+sigma*rng.NormFloat64()))
		}
		v, _ := o.Evaluate(context.Background(), y, rng)
		if v.Observed >= fx {
			copy(x, y)
			fx, sigma = v.Observed, sigma*1.5
		} else {
			sigma *= math.Pow(1.5, -0.25)
		}
	}
	return x, fx
}

// TestAcceptance checks the design's promises on the seed-1 zoo with a
// rot90 distractor: every model at chance on the target, task arithmetic
// 1/1 clearly better, and a tuned per-layer merge at least 80% on
// held-out items.
func TestAcceptance(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo(), Items: 1000})
	if o.Dim() != 9 {
		t.Fatalf("dim %d, want 3 layers × 3 experts", o.Dim())
	}
	held := o.HeldOutItems()
	if raceEnabled {
		held = held[:1000]
	}
	best := 0.0
	for _, m := range o.Zoo().Models {
		a, err := zoo.EvaluateFolder(o.Zoo().Path(m), "target", held)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s alone: %.1f%%", m, 100*a)
		if a > 0.2 && !raceEnabled {
			t.Errorf("%s scores %.3f on the target, want chance (≤ 0.2)", m, a)
		}
		best = max(best, 100*a)
	}
	ta := o.HeldOut(docVector(t, o, []float64{1, 1, 1}, []float64{1, 1, 1}))
	third := o.HeldOut(uniform(o, 1.0/3, 1))
	t.Logf("TA 1/1 (reader, skill): %.1f%%; uniform 1/3 over all experts: %.1f%%", ta, third)
	if ta < best+30 && !raceEnabled {
		t.Errorf("TA 1/1 scores %.1f%%, not clearly above the best single model's %.1f%%", ta, best)
	}
	doc := docVector(t, o, []float64{1.3, 1.76, 0.16}, []float64{0.45, 0.73, 2.97})
	if h := o.HeldOut(doc); h < 80 && !raceEnabled {
		t.Errorf("mnist-merge.md's example vector scores %.1f%% held-out, want ≥ 80", h)
	} else {
		t.Logf("mnist-merge.md's example vector: %.1f%% held-out", h)
	}
	budget := 150
	if raceEnabled {
		budget = 10
	}
	x, f := es(o, uniform(o, 1.0/3, 1), budget, rand.New(rand.NewPCG(1, 1)))
	h := o.HeldOut(x)
	t.Logf("(1+1)-ES, %d evaluations from 1/3: pool %.1f%%, held-out %.1f%%, x = %.2f", budget, f, h, x)
	if !raceEnabled && h < 80 {
		t.Errorf("ES reached only %.1f%% held-out, want ≥ 80", h)
	}
}

// TestMatchesHandMerge checks the genome layout and the merge engine's
// task arithmetic against base + Σ w·(expert − base) computed by hand.
func TestMatchesHandMerge(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo()})
	w := map[string][]float64{zoo.Reader: {1.3, 0.2, 2.1}, zoo.Skill: {0.4, 1.7, 2.9}, "rot90": {0.1, 0.6, 1.1}}
	x := make([]float64, o.Dim())
	var nets []*zoo.Net
	base, _, err := zoo.LoadNet(o.Zoo().Path(zoo.Base))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range o.Experts() {
		n, _, err := zoo.LoadNet(o.Zoo().Path(e))
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, n)
		for l := 0; l < 3; l++ {
			x[o.Gene(l, e, "weight")] = w[e][l]
		}
	}
	hand := zoo.NewNet(zoo.Sizes)
	for l := 0; l < 3; l++ {
		bw, bb := base.Layer(l)
		for i, e := range o.Experts() {
			ew, eb := nets[i].Layer(l)
			for k := range ew {
				ew[k] = float32(w[e][l]) * (ew[k] - bw[k])
			}
			for k := range eb {
				eb[k] = float32(w[e][l]) * (eb[k] - bb[k])
			}
			nets[i].SetLayer(l, ew, eb) // now holds the scaled delta
		}
		mw, mb := append([]float32(nil), bw...), append([]float32(nil), bb...)
		for i := range nets {
			dw, db := nets[i].Layer(l)
			for k := range mw {
				mw[k] += dw[k]
			}
			for k := range mb {
				mb[k] += db[k]
			}
		}
		hand.SetLayer(l, mw, mb)
	}
	test, _ := zoo.TestSet()
	target, _ := zoo.LookupTask("target")
	pool, _ := zoo.NewBatch(test, target, o.PoolItems())
	want, err := hand.Accuracy(pool)
	if err != nil {
		t.Fatal(err)
	}
	got := o.True(x)
	t.Logf("hand merge %.1f%%, objective %.1f%%", 100*want, got)
	// Summation order differs (float32), which may flip an item or two.
	if math.Abs(got-100*want) > 0.3 {
		t.Errorf("objective scores %.2f%%, the hand merge %.2f%%", got, 100*want)
	}
}

// TestOnDisk merges a recipe to disk with the merge engine and scores the
// folder as an external evaluator would: it must agree with HeldOut.
func TestOnDisk(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo()})
	x := docVector(t, o, []float64{1.3, 1.76, 0.16}, []float64{0.45, 0.73, 2.97})
	r, err := o.DiskRecipe(x)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	recipe := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(recipe, []byte(r.YAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged")
	if err := merge.Run(context.Background(), merge.RunOptions{Recipe: recipe, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	items := o.HeldOutItems()[:2000]
	acc, err := zoo.EvaluateFolder(out, o.Task(), items)
	if err != nil {
		t.Fatal(err)
	}
	test, _ := zoo.TestSet()
	target, _ := zoo.LookupTask(o.Task())
	b, _ := zoo.NewBatch(test, target, items)
	s := o.getState()
	c, err := o.score(context.Background(), x, b, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(c) / float64(len(items)); acc != want {
		t.Errorf("merged on disk: %.4f, in process: %.4f", acc, want)
	}
}

func TestNoise(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo()})
	x := docVector(t, o, []float64{1, 1, 1}, []float64{1, 1, 1})
	rng := rand.New(rand.NewPCG(5, 6))
	var sum, sq float64
	seen := map[float64]bool{}
	const n = 40
	var truth float64
	for i := 0; i < n; i++ {
		v, err := o.Evaluate(context.Background(), x, rng)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && v.True != truth {
			t.Fatalf("True changed between evaluations: %g vs %g", v.True, truth)
		}
		truth = v.True
		sum += v.Observed
		sq += v.Observed * v.Observed
		seen[v.Observed] = true
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	p := truth / 100
	// Sampling 200 of 1,000 without replacement: SD = √(p(1−p)/200·(800/999)).
	want := 100 * math.Sqrt(p*(1-p)/200*800/999)
	t.Logf("true %.1f, observed mean %.1f, sd %.2f (binomial %.2f)", truth, mean, sd, want)
	if len(seen) < 5 || sd < want/2 || sd > want*2 {
		t.Errorf("observed sd %.2f, want about %.2f", sd, want)
	}
	if math.Abs(mean-truth) > 4*want/math.Sqrt(n) {
		t.Errorf("observed mean %.2f is far from the truth %.2f", mean, truth)
	}
	if o.True(x) != truth {
		t.Errorf("True(x) = %g, Evaluate's True %g", o.True(x), truth)
	}
	// Same rng state, same observation.
	a, _ := o.Evaluate(context.Background(), x, rand.New(rand.NewPCG(1, 1)))
	b, _ := o.Evaluate(context.Background(), x, rand.New(rand.NewPCG(1, 1)))
	if a != b {
		t.Errorf("same rng gave %v and %v", a, b)
	}
	// No noise when every pool item is scored.
	full := objective(t, Config{Zoo: defaultZoo(), Items: 1000})
	v, _ := full.Evaluate(context.Background(), x, rng)
	if v.Observed != v.True || v.True != truth {
		t.Errorf("items = pool: %v, want observed = true = %g", v, truth)
	}
}

func TestConcurrent(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo(), Method: "ties", Densities: true})
	box := o.Box()
	rng := rand.New(rand.NewPCG(3, 3))
	xs := make([][]float64, 4)
	want := make([]float64, len(xs))
	for i := range xs {
		xs[i] = make([]float64, o.Dim())
		for k := range xs[i] {
			xs[i][k] = box.Upper[k] * rng.Float64()
		}
		want[i] = o.True(xs[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(xs))
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for rep := 0; rep < 2; rep++ {
				for i, x := range xs {
					v, err := o.Evaluate(context.Background(), x, rng)
					if err != nil {
						errs <- err
						return
					}
					if v.True != want[i] {
						errs <- errors.New("concurrent evaluation changed a true value")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGenomeAndRecipe(t *testing.T) {
	for _, c := range []struct {
		cfg    Config
		dim    int
		params string
	}{
		{Config{Zoo: defaultZoo()}, 9, "weight"},
		{Config{Zoo: defaultZoo(), Granularity: "global"}, 3, "weight"},
		{Config{Zoo: defaultZoo(), Method: "ties", Densities: true}, 18, "weight,density"},
		{Config{Zoo: defaultZoo(), Method: "dare_ties", Granularity: "global", Densities: true}, 6, "weight,density"},
	} {
		o := objective(t, c.cfg)
		if o.Dim() != c.dim || strings.Join(o.Params(), ",") != c.params {
			t.Errorf("%s: dim %d params %v, want %d %s", o.Name(), o.Dim(), o.Params(), c.dim, c.params)
		}
		box := o.Box()
		if len(box.Lower) != o.Dim() || !box.Constraint {
			t.Errorf("%s: box %+v", o.Name(), box)
		}
		x := make([]float64, o.Dim())
		for i := range x {
			x[i] = -float64(i+1) / 10 // mergekit-evolve reads |gene|
		}
		r, err := o.Recipe(x)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Slices) != o.Groups() || r.BaseModel != zoo.Base {
			t.Fatalf("%s: recipe %+v", o.Name(), r)
		}
		for g, sl := range r.Slices {
			if n := len(sl.Sources); n != len(o.Experts())+1 || sl.Sources[n-1].Model != zoo.Base {
				t.Errorf("%s: slice %d sources %+v, want the experts then the base", o.Name(), g, sl.Sources)
			}
			for m, e := range o.Experts() {
				so := sl.Sources[m]
				if so.Model != e {
					t.Errorf("slice %d source %d is %s, want %s", g, m, so.Model, e)
				}
				for _, p := range o.Params() {
					want := math.Abs(x[o.Gene(g, e, p)])
					if p == "density" {
						want = max(MinDensity, min(want, 1))
					}
					if so.Parameters[p] != want {
						t.Errorf("%s: slice %d %s %s = %v, want %v", o.Name(), g, e, p, so.Parameters[p], want)
					}
				}
			}
		}
		if _, err := o.Evaluate(context.Background(), x, rand.New(rand.NewPCG(1, 1))); err != nil {
			t.Errorf("%s: %v", o.Name(), err)
		}
	}
	o := objective(t, Config{Zoo: defaultZoo()})
	if o.Gene(0, zoo.Reader, "weight") != 0 || o.Gene(0, zoo.Skill, "weight") != 1 || o.Gene(1, zoo.Reader, "weight") != 3 ||
		o.Gene(3, zoo.Reader, "weight") != -1 || o.Gene(0, "nobody", "weight") != -1 || o.Gene(0, zoo.Reader, "density") != -1 {
		t.Error("gene indices do not follow the (group, expert, parameter) layout")
	}
	if o.Name() != "mnist-merge/rot90/zoo1" || o.Sense() != objectives.Maximize || o.DefaultTarget() != 80 {
		t.Errorf("name %q sense %v target %g", o.Name(), o.Sense(), o.DefaultTarget())
	}
}

func TestErrors(t *testing.T) {
	o := objective(t, Config{Zoo: defaultZoo()})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	good := uniform(o, 1, 1)
	nan := uniform(o, 1, 1)
	nan[4] = math.NaN()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		x    []float64
		rng  *rand.Rand
		want string
	}{
		{"short", ctx, good[:3], rng, "has 3 values"},
		{"nan", ctx, nan, rng, "gene 4"},
		{"no rng", ctx, good, nil, "rng"},
		{"cancelled", cancelled, good, rng, "cancel"},
	} {
		_, err := o.Evaluate(c.ctx, c.x, c.rng)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %q", c.name, err, c.want)
		}
	}
	if o.True(nan) != 0 || o.HeldOut(good[:2]) != 0 {
		t.Error("True or HeldOut of an invalid vector is not 0")
	}
	for _, c := range []Config{
		{Method: "slerp"},
		{Granularity: "block"},
		{Densities: true},
		{Method: "ties", Density: 2},
		{Pool: 10000},
		{Items: -1},
		{WeightMax: -1},
		{Task: "nope"},
		{Zoo: zoo.Config{Distractors: []string{"mnist"}}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// BenchmarkEvaluate measures candidates per second with every core busy,
// as when several runs share the objective, and per CPU-second (the
// figure to trust when other work shares the machine; multiply by the
// cores to get the throughput of an idle machine).
func BenchmarkEvaluate(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"ta", Config{Zoo: defaultZoo()}},
		{"ties-densities", Config{Zoo: defaultZoo(), Method: "ties", Densities: true}},
		{"dare_ties", Config{Zoo: defaultZoo(), Method: "dare_ties", Densities: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := objective(b, c.cfg)
			box := o.Box()
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(1, 2))
				x := make([]float64, o.Dim())
				for pb.Next() {
					for i := range x {
						x[i] = box.Upper[i] * rng.Float64()
					}
					if _, err := o.Evaluate(context.Background(), x, rng); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "candidates/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "candidates/cpu-s")
			}
		})
	}
}

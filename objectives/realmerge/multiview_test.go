package realmerge

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/algorithms/pareto"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/multi"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// quickZoo is a multi-task instance trained on 6,000 images for 2 base
// epochs (the race build's zoo, multiZoo): seconds to build, and enough
// for tests of plumbing, whose figures are not the testbed's.
var quickZoo = zoo.Config{TrainImages: 6000, BaseEpochs: 2}

// targetsAtOne is the merge of the three target experts at weight 1.
func targetsAtOne(o *MultiObjective) []float64 {
	x := make([]float64, o.Dim())
	for g := 0; g < o.Groups(); g++ {
		for _, e := range zoo.MultiTaskTargets {
			x[o.Gene(g, e, "weight")] = 1
		}
	}
	return x
}

// The testbed is a multi-task objective to every multi-objective entry
// point (objectives.AsMulti): the three target tasks and retention, with
// the per-task values of TaskScorer, the pool's accuracies as truth and
// the held-out images' per task.
func TestMultiViewIsMultiFunction(t *testing.T) {
	o := multiObjective(t, MultiConfig{Zoo: quickZoo})
	mf, ok := objectives.AsMulti(o)
	if !ok {
		t.Fatal("mnist-multitask has no multi-task view")
	}
	want := append(slices.Clone(zoo.MultiTaskTargets), "retention")
	if !slices.Equal(mf.Tasks(), want) || mf.Dim() != o.Dim() || mf.Name() != o.Name() {
		t.Fatalf("view: tasks %v (want %v), dim %d, name %s", mf.Tasks(), want, mf.Dim(), mf.Name())
	}
	x := targetsAtOne(o)
	ctx := context.Background()
	tv, err := mf.EvaluateTasks(ctx, x, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, tasks, err := o.EvaluateTasks(ctx, x, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	tt := mf.TrueTasks(x)
	for j := range tasks {
		if tv.Observed[j] != tasks[j].Observed || tv.True[j] != tasks[j].True || tt[j] != tasks[j].True {
			t.Errorf("task %s: view %g/%g (TrueTasks %g), TaskScorer %+v", want[j], tv.Observed[j], tv.True[j], tt[j], tasks[j])
		}
	}
	h, ok := mf.(objectives.HeldOutTasker)
	if !ok {
		t.Fatal("the view has no held-out scores")
	}
	hv, err := h.HeldOutTasks(x)
	if err != nil {
		t.Fatal(err)
	}
	ho, _ := o.HeldOutTasks(x)
	if !slices.Equal(hv, ho) || len(hv) != 4 {
		t.Errorf("held-out per task %v, objective's %v", hv, ho)
	}
	if b, ok := mf.(objectives.TaskBester); !ok || !slices.Equal(b.TaskBests(), []float64{100, 100, 100, 100}) {
		t.Error("the view's best scores are not 100 per task")
	}
	if s, ok := mf.(interface{ String() string }); !ok || !strings.Contains(s.String(), "held-out") {
		t.Error("the view does not describe itself (how its fronts are scored)")
	}
	if _, ok := objectives.AsMulti(objectives.Function(nil)); ok {
		t.Error("AsMulti of nil")
	}
}

// Items of the multi-task testbed (objectives.ItemFunction): item i is
// each target task's i-th item of its fixed subset; an evaluation on n
// items scores every target task on them; PerItem is the mean correctness
// over the target tasks, 100 × its mean the observed score; ranges are
// prefixes and pieces of the full evaluation, which is Evaluate's.
func TestMultiTaskItems(t *testing.T) {
	o := multiObjective(t, MultiConfig{Zoo: quickZoo})
	var f objectives.Function = o
	ifn, ok := f.(objectives.ItemFunction)
	if !ok {
		t.Fatal("mnist-multitask is not scored on items")
	}
	if l := ifn.Items(); l.N != 100 || !l.Fixed || l.PrefixOnly {
		t.Fatalf("item list %+v, want 100 fixed items", l)
	}
	ctx := context.Background()
	x := targetsAtOne(o)
	full, err := ifn.EvaluateItems(ctx, x, 0, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := o.Evaluate(ctx, x, nil)
	if full.Value != v || len(full.PerItem) != 100 {
		t.Fatalf("all items: %+v with %d outcomes; Evaluate %+v", full.Value, len(full.PerItem), v)
	}
	sum := 0.0
	for i, p := range full.PerItem {
		if k := p * 3; math.Abs(k-math.Round(k)) > 1e-9 || p < 0 || p > 1 {
			t.Fatalf("item %d: outcome %g is not a share of the 3 target tasks", i, p)
		}
		sum += p
	}
	if math.Abs(100*sum/100-v.Observed) > 1e-9 {
		t.Errorf("100 × mean outcome %g, observed %g", sum, v.Observed)
	}
	// Item i is task t's subset[t][i] for every t.
	s := o.getState()
	if err := o.mergeNet(ctx, x, s); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 100)
	for tk := 0; tk < o.Targets(); tk++ {
		if _, err := o.mark(o.pool[tk], s); err != nil {
			t.Fatal(err)
		}
		for i, p := range o.subset[tk] {
			if s.correct[p] {
				want[i] += 1.0 / 3
			}
		}
	}
	o.states.Put(s)
	for i := range want {
		if math.Abs(want[i]-full.PerItem[i]) > 1e-9 {
			t.Fatalf("item %d: outcome %g, the target tasks' mean on their item %d is %g", i, full.PerItem[i], i, want[i])
		}
	}
	// Pieces: a prefix and the rest are the full evaluation's items, and
	// their observed scores combine by their item counts.
	a, err := ifn.EvaluateItems(ctx, x, 0, 37, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ifn.EvaluateItems(ctx, x, 37, 63, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(append(slices.Clone(a.PerItem), b.PerItem...), full.PerItem) {
		t.Error("items 0…36 and 37…99 are not the full evaluation's")
	}
	if c := (37*a.Observed + 63*b.Observed) / 100; math.Abs(c-v.Observed) > 1e-9 || a.True != v.True {
		t.Errorf("pieces combine to %g, full %g; true %g vs %g", c, v.Observed, a.True, v.True)
	}
	for _, r := range [][2]int{{0, 0}, {0, 101}, {-1, 10}, {95, 10}} {
		if _, err := ifn.EvaluateItems(ctx, x, r[0], r[1], nil); err == nil {
			t.Errorf("items %d…%d of 100 accepted", r[0], r[0]+r[1]-1)
		}
	}
	// Resampled items: drawn afresh with rng, as Evaluate draws them.
	rs := multiObjective(t, MultiConfig{Zoo: quickZoo, Resample: true})
	rf := objectives.Function(rs).(objectives.ItemFunction)
	if rf.Items().Fixed {
		t.Error("resampled items reported as a fixed list")
	}
	iv, err := rf.EvaluateItems(ctx, x, 0, 100, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := rs.Evaluate(ctx, x, rand.New(rand.NewPCG(4, 4)))
	if iv.Value != ev {
		t.Errorf("resampled: EvaluateItems %+v, Evaluate with the same rng %+v", iv.Value, ev)
	}
	seen := map[float64]bool{}
	for k := uint64(0); k < 4; k++ {
		w, err := rf.EvaluateItems(ctx, x, 0, 20, rand.New(rand.NewPCG(k, 9)))
		if err != nil {
			t.Fatal(err)
		}
		seen[w.Observed] = true
	}
	if len(seen) < 2 {
		t.Errorf("resampled: four draws of 20 items all observed %v", seen)
	}
	if _, err := rf.EvaluateItems(ctx, x, 0, 20, nil); err == nil {
		t.Error("resampled items without an rng accepted")
	}
}

// The item accounting of bench (bench.CheckItemAccounting, the
// conformance test bench runs on the mock) holds on the real testbed:
// plain methods and every fidelity strategy, on one slot and on three with
// a simulated clock.
func TestMultiTaskItemAccounting(t *testing.T) {
	if testing.Short() {
		t.Skip("real merges under several methods")
	}
	// A small pool keeps each evaluation's truth (the pool's accuracy)
	// cheap: the fidelity strategies make hundreds of few-item evaluations.
	o := multiObjective(t, MultiConfig{Zoo: quickZoo, Limit: 30, Pool: 60})
	names := []string{"cmaes", "lim:cmaes", "top:random", "sh:cmaes", "hb:random", "race:tpe", "prace:de"}
	for _, name := range names {
		for _, slots := range []int{1, 3} {
			job := bench.Job{Algorithm: name, Objective: objectives.Spec{Name: "mnist-multitask", Items: 30}, Seed: 11,
				Budget: 12, ItemBudget: 12 * 30, Target: math.NaN()}
			if slots > 1 {
				job.Slots, job.EvalTime = slots, bench.EvalTime{Kind: "lognormal", Median: time.Minute, Sigma: 0.5}
			}
			var logged []bench.EvalRecord
			job.Log = func(e bench.EvalRecord) error { logged = append(logged, e); return nil }
			r, err := bench.ExecuteOn(context.Background(), job, o)
			if err != nil {
				t.Fatalf("%s on %d slots: %v", name, slots, err)
			}
			if err := bench.CheckItemAccounting(r, logged, 30, slots > 1); err != nil {
				t.Errorf("%s on %d slots: %v", name, slots, err)
			}
			for _, c := range r.AtItems {
				if c.HeldOut == nil {
					t.Errorf("%s: checkpoint at %g%% has no held-out score", name, 100*c.Fraction)
				}
			}
		}
	}
}

// A mobench-style comparison runs end to end on the real testbed: methods
// and the weighted-sum baseline under a retention floor, every front
// re-scored on held-out images after the run, the metrics computed on
// those scores, and the report written (the objective's name has slashes,
// its figures' names must not).
func TestMultiTaskMobench(t *testing.T) {
	if testing.Short() {
		t.Skip("real merges")
	}
	o := multiObjective(t, MultiConfig{Zoo: quickZoo})
	mf, _ := objectives.AsMulti(o)
	floors := map[string]float64{"retention": 60}
	var runs []*multi.Run
	for _, alg := range []string{"nsga2", "mo-random", "ws-cmaes"} {
		for seed := uint64(1); seed <= 2; seed++ {
			job := multi.Job{Algorithm: alg, Objective: objectives.Spec{Name: "mnist-multitask"}, Seed: seed, Budget: 30, Floors: floors}
			r, evals, err := multi.ExecuteOn(context.Background(), job, mf)
			if err != nil {
				t.Fatal(err)
			}
			if r.Error != "" || r.EvalsUsed != 30 || len(evals) != 30 || len(r.Front) == 0 {
				t.Fatalf("%s: error %q, %d evaluations, front of %d", alg, r.Error, r.EvalsUsed, len(r.Front))
			}
			if r.Metrics.Scored != "heldout" {
				t.Errorf("%s: metrics on %s scores, want held-out", alg, r.Metrics.Scored)
			}
			var ls [][]float64
			viol := 0
			for _, p := range r.Front {
				h, _ := o.HeldOutTasks(p.X)
				if !slices.Equal(p.HeldOut, h) || slices.Equal(p.HeldOut, p.True) {
					t.Fatalf("%s: front point held-out %v, HeldOutTasks %v, true %v", alg, p.HeldOut, h, p.True)
				}
				l := make([]float64, len(h))
				for j, v := range h {
					l[j] = -v
				}
				ls = append(ls, l)
				if h[3] < 60 {
					viol++
				}
			}
			if hv := pareto.Hypervolume(ls, []float64{0, 0, 0, -60}); math.Abs(hv-r.Metrics.Hypervolume) > 1e-9*max(1, hv) {
				t.Errorf("%s: hypervolume %g, of the held-out scores %g", alg, r.Metrics.Hypervolume, hv)
			}
			if v := float64(viol) / float64(len(r.Front)); r.Metrics.FloorViolation == nil || *r.Metrics.FloorViolation != v {
				t.Errorf("%s: floor violation %v, of the held-out scores %g", alg, r.Metrics.FloorViolation, v)
			}
			r.Description = mf.(interface{ String() string }).String()
			runs = append(runs, r)
		}
	}
	dir := t.TempDir()
	if _, err := multi.Report(dir, "real", "", runs); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "held-out task scores") {
		t.Errorf("the page does not say its metrics are on held-out scores:\n%s", page)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(pngs) != 7 { // hypervolume + 6 pairs of 4 tasks
		t.Errorf("%d figures written: %v", len(pngs), pngs)
	}
}

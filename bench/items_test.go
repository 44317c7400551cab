package bench

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// itemJob is a job with an item budget of evals full evaluations of the
// mock's n items.
func itemJob(alg string, spec objectives.Spec, evals int) Job {
	return Job{Algorithm: alg, Objective: spec, Seed: 11, Budget: evals, ItemBudget: evals * spec.Items, Target: math.NaN()}
}

// A method that knows nothing of items, under an item budget of B = k·N
// items, makes exactly the run it makes under a budget of k evaluations:
// same candidates, same recommendation, same trace; only the item fields
// are added.
func TestItemBudgetPlainMatchesEvalBudget(t *testing.T) {
	spec := objectives.Spec{Name: "mock", Dim: 5, Items: 50, Landscape: "ill", Width: 0.5, Seed: 3}
	for _, alg := range []string{"cmaes", "random", "de", "one-plus-one-es", "gonum-cmaes", "ga", "tpe"} {
		byEvals := Job{Algorithm: alg, Objective: spec, Seed: 11, Budget: 60, Target: math.NaN()}
		a, err := Execute(context.Background(), byEvals)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Execute(context.Background(), itemJob(alg, spec, 60))
		if err != nil {
			t.Fatal(err)
		}
		if b.ItemsUsed != b.EvalsUsed*50 || b.ItemsUsed > b.ItemBudget || b.ItemBudget != 3000 {
			t.Errorf("%s: %d items used for %d evaluations of 50, budget %d", alg, b.ItemsUsed, b.EvalsUsed, b.ItemBudget)
		}
		for i, p := range b.Trace {
			if p.Items != p.Eval*50 {
				t.Fatalf("%s: trace point %d at evaluation %d says %d items", alg, i, p.Eval, p.Items)
			}
			b.Trace[i].Items = 0
		}
		if a.EvalsUsed != b.EvalsUsed || !slices.Equal(a.Recommended, b.Recommended) || a.RecommendTrue != b.RecommendTrue ||
			!slices.Equal(a.Trace, b.Trace) || a.BestObserved != b.BestObserved || a.Recommendation != b.Recommendation {
			t.Errorf("%s: by evaluations %d evals, rec %v (%g, %s); by items %d evals, rec %v (%g, %s)", alg,
				a.EvalsUsed, a.Recommended, a.RecommendTrue, a.Recommendation, b.EvalsUsed, b.Recommended, b.RecommendTrue, b.Recommendation)
		}
		if len(b.AtItems) != 4 || b.AtItems[3].True == nil || *b.AtItems[3].True != b.RecommendTrue {
			t.Errorf("%s: checkpoints %+v", alg, b.AtItems)
		}
	}
}

// conformanceNames are every registered method and every strategy over
// every base it accepts.
func conformanceNames() []string {
	names := algorithms.Names()
	for _, s := range algorithms.StrategyNames() {
		for _, b := range algorithms.Names() {
			if _, err := algorithms.Lookup(s + ":" + b); err == nil {
				names = append(names, s+":"+b)
			}
		}
	}
	return names
}

// TestItemBudgetConformance is the item accounting under every method,
// plain or fidelity-aware, on one slot and on three with a simulated
// clock: the items of the evaluations the tracker logged add up to the
// record's items_used, which never exceeds the budget; every evaluation
// is within the list; the trace's items grow with it; the checkpoints
// fall where the record says. A method that could pass the budget or ask
// for items outside the list would end with an error here.
func TestItemBudgetConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("every method × strategy")
	}
	spec := objectives.Spec{Name: "mock", Dim: 4, Items: 60, ItemModel: "fixed", Width: 0.5, Seed: 5}
	for _, name := range conformanceNames() {
		for _, slots := range []int{1, 3} {
			job := itemJob(name, spec, 20)
			if slots > 1 {
				job.Slots, job.EvalTime = slots, EvalTime{Kind: "lognormal", Median: time.Minute, Sigma: 0.5}
			}
			var logged []EvalRecord
			job.Log = func(e EvalRecord) error { logged = append(logged, e); return nil }
			r, err := Execute(context.Background(), job)
			if err != nil {
				t.Fatalf("%s on %d slots: %v", name, slots, err)
			}
			if err := CheckItemAccounting(r, logged, 60, slots > 1); err != nil {
				t.Errorf("%s on %d slots: %v", name, slots, err)
			}
		}
	}
}

// The checkpoints of a plain method score its best observed point after
// the last evaluation within each share of the budget.
func TestItemCheckpointsScoreTheAnswerThen(t *testing.T) {
	spec := objectives.Spec{Name: "mock", Dim: 4, Items: 40, Width: 0.5, Seed: 2}
	f, _ := objectives.New(spec)
	job := itemJob("random", spec, 50)
	var logged []EvalRecord
	job.Log = func(e EvalRecord) error { logged = append(logged, e); return nil }
	r, err := Execute(context.Background(), job)
	if err != nil || r.Error != "" {
		t.Fatal(err, r.Error)
	}
	for i, c := range r.AtItems[:3] {
		k := c.Items / 40 // evaluations within the checkpoint's items
		var best []float64
		bestObs := math.Inf(-1)
		for _, e := range logged[:k] {
			if *e.Observed > bestObs {
				bestObs, best = *e.Observed, e.X
			}
		}
		if c.Evals != k || *c.True != f.True(best) {
			t.Errorf("checkpoint %d: %d evaluations, true %g; want %d and %g", i, c.Evals, *c.True, k, f.True(best))
		}
	}
}

// On a simulated clock an evaluation of n items takes n/N of a full one.
func TestItemTimeShare(t *testing.T) {
	spec := objectives.Spec{Name: "mock", Dim: 4, Items: 90, ItemModel: "fixed", Seed: 2}
	job := itemJob("sh:random", spec, 30)
	job.Slots, job.EvalTime = 1, EvalTime{Kind: "fixed", Median: time.Minute}
	r, err := Execute(context.Background(), job)
	if err != nil || r.Error != "" {
		t.Fatal(err, r.Error)
	}
	if want := float64(r.ItemsUsed) / 90 * 60; r.SimTime == nil || math.Abs(*r.SimTime-want) > 1e-6 {
		t.Errorf("%d items on one slot took %v s, want %g", r.ItemsUsed, r.SimTime, want)
	}
}

func TestItemBudgetRefusals(t *testing.T) {
	mock := objectives.Spec{Name: "mock", Dim: 3, Items: 100}
	for _, c := range []struct {
		job  Job
		want string
	}{
		{Job{Algorithm: "cmaes", Objective: objectives.Spec{Name: "sphere", Dim: 3}, Budget: 10, ItemBudget: 1000}, "not scored on benchmark items"},
		{Job{Algorithm: "cmaes", Objective: objectives.Spec{Name: "mock", Dim: 3}, Budget: 10, ItemBudget: 1000}, "not scored on benchmark items"},
		{Job{Algorithm: "cmaes", Objective: mock, Budget: 10, ItemBudget: 99}, "less than one full evaluation"},
		{Job{Algorithm: "cmaes", Objective: mock, Budget: 10, ItemBudget: 2000}, "buys 20 full evaluations"},
	} {
		c.job.Target = math.NaN()
		if _, err := Execute(context.Background(), c.job); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.job, err, c.want)
		}
	}
	// A strategy without an item budget ends its run with an error that
	// names the flag.
	r, err := Execute(context.Background(), Job{Algorithm: "sh:cmaes", Objective: mock, Budget: 10, Target: math.NaN()})
	if err != nil || !strings.Contains(r.Error, "--budget-items") {
		t.Errorf("sh:cmaes without an item budget: %v, %q", err, r.Error)
	}
}

// Cells without items keep the key they always had: it is hashed into
// shards and names journal lines.
func TestCellKeyWithoutItemsUnchanged(t *testing.T) {
	c := Cell{Objective: "mock", Dim: 4, Noise: "1", FailRate: "0", Width: "0", Budget: 100, Target: "99"}
	const want = "scenario=/obj=mock/dim=4/noise=1/items=0/landscape=/noise-model=/fail-rate=0/width=0/optimum=/options=/policy=/budget=100/target=99/slots=0/eval-time="
	if got := c.Key(); got != want {
		t.Fatalf("key %s\nwant %s", got, want)
	}
	c.ItemModel, c.ItemBudget = "fixed", 5000
	if got := c.Key(); got != want+"/item-model=fixed/item-budget=5000" {
		t.Fatalf("key with items %s", got)
	}
}

// A journal of runs with an item budget, whose strategies make more
// evaluations than the full evaluations the items buy, reads back.
func TestJournalReadsItemBudgetRuns(t *testing.T) {
	spec := objectives.Spec{Name: "mock", Dim: 4, Items: 60, ItemModel: "fixed", Seed: 5}
	path := t.TempDir() + "/runs.jsonl"
	j, _, err := OpenJournal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Execute(context.Background(), itemJob("lim:cmaes", spec, 20))
	if err != nil || r.EvalsUsed <= r.Budget {
		t.Fatalf("%v: %d evaluations for a budget of %d", err, r.EvalsUsed, r.Budget)
	}
	if err := j.Append(r); err != nil {
		t.Fatal(err)
	}
	j.Close()
	runs, err := ReadRuns(path)
	if err != nil || len(runs) != 1 || runs[0].ItemsUsed != r.ItemsUsed || len(runs[0].AtItems) != 4 {
		t.Fatalf("read back: %v, %d runs", err, len(runs))
	}
}

// On a page, the best true value at a share of the budget of a run with
// an item budget is read at that share of its items: a strategy's
// evaluations are of any size, so a share of its evaluations means
// nothing.
func TestAtBudgetCountsItems(t *testing.T) {
	spec := objectives.Spec{Name: "mock", Dim: 4, Items: 60, ItemModel: "fixed", Width: 0.5, Seed: 5}
	var runs []*Run
	for _, alg := range []string{"cmaes", "sh:cmaes"} {
		job := itemJob(alg, spec, 20)
		job.Target = 90
		for s := range 6 {
			job.Seed = uint64(s + 1)
			r, err := Execute(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
	}
	a, err := AnalyzeCell(CellRuns{Cell: runs[0].Cell(), Name: "c", Runs: runs}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a {
		var at []float64
		for _, r := range runs {
			if r.Algorithm == s.Algorithm {
				at = append(at, r.BestTrueAtItems(120))
			}
		}
		if want := quantileFinite(at, 0.5); s.AtBudget[0] != want {
			t.Errorf("%s: best true at 10%% %g, want %g (at 120 of 1,200 items)", s.Algorithm, s.AtBudget[0], want)
		}
	}
}

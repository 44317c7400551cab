package multi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/algorithms/pareto"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
)

func mock2(items int) objectives.Spec {
	return objectives.Spec{Name: "mock-tasks", Dim: 4, Items: items, Seed: 3, Options: map[string]string{"tasks": "2", "conflict": "0.3"}}
}

// TestExecuteBudgetAndFront checks one run: the exact budget, the front is
// the non-dominated set of the observed scores, and the metrics are those
// computed from the front directly.
func TestExecuteBudgetAndFront(t *testing.T) {
	for _, alg := range algorithms.MultiNames() {
		run, evals, err := Execute(context.Background(), Job{Algorithm: alg, Objective: mock2(100), Seed: 5, Budget: 60})
		if err != nil {
			t.Fatal(err)
		}
		if run.Error != "" || run.EvalsUsed != 60 || len(evals) != 60 {
			t.Fatalf("%s: error %q, %d evaluations used, %d recorded", alg, run.Error, run.EvalsUsed, len(evals))
		}
		for i, e := range evals {
			if e.Index != i+1 {
				t.Fatalf("%s: evaluation %d recorded with index %d (told out of order)", alg, i+1, e.Index)
			}
		}
		// No evaluation dominates a front point; every point not on the
		// front is dominated by one that is.
		for _, p := range run.Front {
			for _, e := range evals {
				if dominates(e.Scores, p.Scores) && len(p.Evals) == 1 {
					t.Fatalf("%s: evaluation %d %v dominates front point %v", alg, e.Index, e.Scores, p.Scores)
				}
			}
		}
		var ls [][]float64
		for _, p := range run.Front {
			ls = append(ls, []float64{-p.True[0], -p.True[1]})
		}
		if hv := pareto.Hypervolume(ls, []float64{0, 0}); math.Abs(hv-run.Metrics.Hypervolume) > 1e-9 {
			t.Errorf("%s: hypervolume %g, recomputed %g", alg, run.Metrics.Hypervolume, hv)
		}
		if s := *run.Metrics.HypervolumeShare; math.Abs(s-run.Metrics.Hypervolume/1e4) > 1e-12 || s <= 0 || s > 1 {
			t.Errorf("%s: hypervolume share %g", alg, s)
		}
		if run.Metrics.IGDPlus == nil || *run.Metrics.IGDPlus < 0 {
			t.Errorf("%s: IGD+ %v", alg, run.Metrics.IGDPlus)
		}
		if run.Metrics.FloorViolation != nil {
			t.Errorf("%s: a floor violation without floors", alg)
		}
	}
}

func dominates(a, b []float64) bool {
	strictly := false
	for i := range a {
		if a[i] < b[i] {
			return false
		}
		if a[i] > b[i] {
			strictly = true
		}
	}
	return strictly
}

// slowObjective delays every evaluation by a time that decreases with its
// index, so on several slots later evaluations finish first.
type slowObjective struct {
	objectives.MultiFunction
	mu    sync.Mutex
	order []int
}

func (s *slowObjective) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.TaskValues, error) {
	info, _ := bench.EvalInfoFrom(ctx)
	time.Sleep(time.Duration(4-info.Index%4) * time.Millisecond)
	s.mu.Lock()
	s.order = append(s.order, info.Index)
	s.mu.Unlock()
	return s.MultiFunction.EvaluateTasks(ctx, x, rng)
}

func mustMulti(t *testing.T, spec objectives.Spec) objectives.MultiFunction {
	t.Helper()
	f, err := objectives.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	mf, _ := objectives.AsMulti(f)
	return mf
}

// TestSlotsDoNotChangeResults runs every method on 4 slots twice, once
// with evaluations that finish in reverse order: the evaluations and the
// front are the same, because results are told in submission order.
func TestSlotsDoNotChangeResults(t *testing.T) {
	for _, alg := range algorithms.MultiNames() {
		job := Job{Algorithm: alg, Objective: mock2(50), Seed: 9, Budget: 40, Slots: 4}
		r1, e1, err := ExecuteOn(context.Background(), job, mustMulti(t, job.Objective))
		if err != nil {
			t.Fatal(err)
		}
		slow := &slowObjective{MultiFunction: mustMulti(t, job.Objective)}
		r2, e2, err := ExecuteOn(context.Background(), job, slow)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(slow.order) {
			t.Logf("%s: evaluations finished in the order %v", alg, slow.order[:12])
		}
		a, _ := json.Marshal(e1)
		b, _ := json.Marshal(e2)
		zeroMS := func(es []Eval) []Eval {
			out := slices.Clone(es)
			for i := range out {
				out[i].MS = 0
			}
			return out
		}
		a, _ = json.Marshal(zeroMS(e1))
		b, _ = json.Marshal(zeroMS(e2))
		if string(a) != string(b) {
			t.Fatalf("%s: evaluations differ with another finishing order", alg)
		}
		fa, _ := json.Marshal(r1.Front)
		fb, _ := json.Marshal(r2.Front)
		if string(fa) != string(fb) {
			t.Fatalf("%s: fronts differ with another finishing order", alg)
		}
		for _, e := range e1 {
			if e.Slot < 0 || e.Slot >= 4 {
				t.Fatalf("%s: slot %d", alg, e.Slot)
			}
		}
	}
}

// TestReplay checks resumption: a run given the first evaluations a
// previous process logged (in the order they finished on 3 slots) makes
// only the rest, and ends with the same evaluations and front; a replay of
// another run is refused.
func TestReplay(t *testing.T) {
	for _, alg := range []string{"nsga2", "mo-cmaes", "motpe", "ws-cmaes"} {
		job := Job{Algorithm: alg, Objective: mock2(100), Seed: 2, Budget: 45, Slots: 3}
		var logged []Eval
		job.Log = func(e Eval) error {
			logged = append(logged, e)
			return nil
		}
		full, evals, err := ExecuteOn(context.Background(), job, &slowObjective{MultiFunction: mustMulti(t, job.Objective)})
		if err != nil || full.Error != "" {
			t.Fatal(err, full.Error)
		}
		if len(logged) != 45 {
			t.Fatalf("%s: %d evaluations logged", alg, len(logged))
		}
		for _, cut := range []int{1, 17, 44} {
			resumed := job
			resumed.Replay = logged[:cut]
			var fresh []int
			resumed.Log = func(e Eval) error {
				fresh = append(fresh, e.Index)
				return nil
			}
			r, e, err := ExecuteOn(context.Background(), resumed, mustMulti(t, job.Objective))
			if err != nil || r.Error != "" {
				t.Fatal(err, r.Error)
			}
			if len(fresh) != 45-cut {
				t.Errorf("%s, cut %d: %d evaluations made afresh, want %d", alg, cut, len(fresh), 45-cut)
			}
			for i := range evals {
				if !slices.Equal(evals[i].X, e[i].X) || !slices.Equal(evals[i].Scores, e[i].Scores) {
					t.Fatalf("%s, cut %d: evaluation %d differs after resuming", alg, cut, i+1)
				}
			}
			fa, _ := json.Marshal(full.Front)
			fb, _ := json.Marshal(r.Front)
			if string(fa) != string(fb) {
				t.Fatalf("%s, cut %d: the resumed front differs", alg, cut)
			}
		}
		other := job
		other.Seed = 3
		other.Replay = logged[:10]
		r, _, err := ExecuteOn(context.Background(), other, mustMulti(t, job.Objective))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Error, "belongs to another run") {
			t.Errorf("%s: a replay of another seed gave error %q", alg, r.Error)
		}
	}
}

// failing fails evaluations whose index is in fail, or all with every.
type failing struct {
	objectives.MultiFunction
	fail  map[int]bool
	every bool
	fault bool
	nan   bool
}

func (f *failing) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.TaskValues, error) {
	info, _ := bench.EvalInfoFrom(ctx)
	if f.fault && info.Index == 7 {
		return objectives.TaskValues{}, errors.New("evaluator crashed")
	}
	if f.nan && info.Index == 5 {
		return objectives.TaskValues{Observed: []float64{math.NaN(), 1}}, nil
	}
	if f.every || f.fail[info.Index] {
		return objectives.TaskValues{}, fmt.Errorf("merge failed: %w", objectives.ErrEvalFailed)
	}
	if info.Index == 9 && f.fail[-1] {
		panic("boom")
	}
	return f.MultiFunction.EvaluateTasks(ctx, x, rng)
}

// TestFailures checks that failed evaluations are spent and penalised,
// that a run whose first evaluations all fail stops, and that faults (an
// error that is not a failed evaluation, a NaN score, a panic) end the run
// with an error naming the evaluation.
func TestFailures(t *testing.T) {
	job := Job{Algorithm: "nsga2", Objective: mock2(0), Seed: 1, Budget: 40}
	r, evals, err := ExecuteOn(context.Background(), job, &failing{MultiFunction: mustMulti(t, job.Objective), fail: map[int]bool{2: true, 3: true}})
	if err != nil || r.Error != "" || r.Failures != 2 || r.EvalsUsed != 40 || !evals[1].Failed() {
		t.Fatalf("two failures: %v, error %q, %d failures, %d used", err, r.Error, r.Failures, r.EvalsUsed)
	}
	job.MaxInitialFailures = 5
	r, _, _ = ExecuteOn(context.Background(), job, &failing{MultiFunction: mustMulti(t, job.Objective), every: true})
	if !strings.Contains(r.Error, "the first 5 evaluations all failed") {
		t.Errorf("all failing: error %q", r.Error)
	}
	job.MaxInitialFailures = 0
	for _, c := range []struct {
		f    *failing
		want string
	}{
		{&failing{fault: true}, "evaluation 7: evaluator crashed"},
		{&failing{nan: true}, "evaluation 5: objective returned a non-finite score"},
		{&failing{fail: map[int]bool{-1: true}}, "evaluation 9: objective panicked: boom"},
	} {
		c.f.MultiFunction = mustMulti(t, job.Objective)
		r, _, err := ExecuteOn(context.Background(), job, c.f)
		if err != nil || !strings.Contains(r.Error, c.want) {
			t.Errorf("error %q (%v), want %q", r.Error, err, c.want)
		}
	}
}

// TestFloors checks a run with a floor: the methods get it as a limit, the
// front keeps it where any evaluation does, the hypervolume is measured
// from it and the violation share is the share of front points below it
// in truth.
func TestFloors(t *testing.T) {
	spec := mock2(0)
	spec.Options["widths"] = "0.5,0.5"
	job := Job{Algorithm: "nsga2", Objective: spec, Seed: 1, Budget: 100, Floors: map[string]float64{"t1": 60}}
	r, evals, err := Execute(context.Background(), job)
	if err != nil || r.Error != "" {
		t.Fatal(err, r.Error)
	}
	anyFeasible := slices.ContainsFunc(evals, func(e Eval) bool { return !e.Failed() && e.Scores[0] >= 60 })
	if !anyFeasible {
		t.Fatal("no evaluation kept the floor: the test needs one")
	}
	for _, p := range r.Front {
		if !p.Feasible || p.Scores[0] < 60 {
			t.Errorf("front point %v breaks the floor t1 ≥ 60 although evaluations keep it", p.Scores)
		}
	}
	if r.Metrics.Reference[0] != 60 || r.Metrics.Reference[1] != 0 {
		t.Errorf("reference point %v, want [60 0]", r.Metrics.Reference)
	}
	if r.Metrics.FloorViolation == nil || *r.Metrics.FloorViolation != 0 {
		t.Errorf("noise-free scores: floor violation %v, want 0", r.Metrics.FloorViolation)
	}
	if _, _, err := Execute(context.Background(), Job{Algorithm: "nsga2", Objective: mock2(0), Budget: 10, Floors: map[string]float64{"math": 1}}); err == nil || !strings.Contains(err.Error(), "floor on task \"math\"") {
		t.Errorf("a floor on an unknown task: %v", err)
	}
}

// TestAssessViolation checks the violation share on a hand-made front: of
// three points, one breaks the floor in truth though its observed score
// keeps it.
func TestAssessViolation(t *testing.T) {
	f := mustMulti(t, mock2(0))
	front := []FrontPoint{
		{Scores: []float64{70, 10}, True: []float64{65, 12}, Feasible: true},
		{Scores: []float64{61, 20}, True: []float64{58, 19}, Feasible: true},
		{Scores: []float64{90, 1}, True: []float64{91, 1}, Feasible: true},
	}
	m := Assess(front, f, map[string]float64{"t1": 60}, nil)
	if m.FloorViolation == nil || math.Abs(*m.FloorViolation-1.0/3) > 1e-12 {
		t.Errorf("violation %v, want 1/3", m.FloorViolation)
	}
	// HV from [60, 0]: boxes (65−60)·12 ∪ (91−60)·1 = 60 + 31 − 5 = 86.
	if math.Abs(m.Hypervolume-86) > 1e-9 {
		t.Errorf("hypervolume %g, want 86", m.Hypervolume)
	}
}

// TestSuiteAndReport runs a small suite twice, at different parallelism,
// and checks the records are identical and the report is written with its
// figures and byte-identical.
func TestSuiteAndReport(t *testing.T) {
	s := Suite{Job: Job{Objective: mock2(100), Floors: map[string]float64{"t1": 50}}, Algorithms: []string{"nsga2", "mo-random", "ws-cmaes"},
		Budgets: []int{30, 60}, Seeds: 4, MasterSeed: 1, Parallel: 1}
	r1, err := RunSuite(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Parallel = 3
	r2, err := RunSuite(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b1, b2 strings.Builder
	WriteRuns(&b1, r1)
	WriteRuns(&b2, r2)
	if b1.String() != b2.String() {
		t.Fatal("records differ with the parallelism")
	}
	back, err := ParseRuns([]byte(b1.String()), "runs.jsonl")
	if err != nil || len(back) != len(r1) {
		t.Fatalf("read back %d of %d records: %v", len(back), len(r1), err)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		cs, err := Report(d, "Test", "Protocol.", back)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 4 { // 2 methods × 2 budgets against ws-cmaes
			t.Errorf("%d comparisons, want 4", len(cs))
		}
	}
	for _, name := range []string{"README.md", "hv-mock-tasks-2tasks.png", "front-mock-tasks-2tasks-60-t1-t2.png"} {
		a, err := os.ReadFile(filepath.Join(dirs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dirs[1], name))
		if string(a) != string(b) {
			t.Errorf("%s differs between two reports of the same runs", name)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dirs[0], "README.md"))
	for _, want := range []string{"**30 evaluations** (4 seeds per method)", "| nsga2 |", "| ws-cmaes |", "baseline", "floors: t1 ≥ 50"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q:\n%s", want, page)
		}
	}
	dup := append(slices.Clone(back), back[0])
	if _, err := Report(t.TempDir(), "Test", "", dup); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("a run recorded twice: %v", err)
	}
}

func FuzzParseRuns(f *testing.F) {
	f.Add([]byte(`{"algorithm":"nsga2","objective":"mock-tasks","tasks":["a","b"],"dim":2,"objective_seed":1,"seed":1,"budget":3,"params":{},"evals_used":3,"front":[{"x":[0.1,0.2],"evals":[1],"scores":[1,2],"feasible":true}],"metrics":{"scored":"true","reference":[0,0],"hypervolume":2,"front_size":1}}` + "\n"))
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"algorithm":"x","budget":1,"tasks":["a","b"],"front":[{"scores":[1]}],"metrics":{"reference":[0,0]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		runs, err := ParseRuns(data, "fuzz")
		if err != nil {
			return
		}
		for _, r := range runs {
			if r.Budget < 1 || len(r.Tasks) < 2 || len(r.Metrics.Reference) != len(r.Tasks) {
				t.Fatalf("accepted an invalid record %+v", r)
			}
			for _, p := range r.Front {
				if len(p.Scores) != len(r.Tasks) {
					t.Fatalf("accepted a front point of %d scores for %d tasks", len(p.Scores), len(r.Tasks))
				}
			}
		}
	})
}

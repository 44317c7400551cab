package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// anyAsker proposes as many uniform points as it is asked for, and keeps
// the order in which IDs come back.
type anyAsker struct {
	dim  int
	next int
	told []int
}

func (a *anyAsker) AskK(rng *rand.Rand, k int) []algorithms.Candidate {
	cs := make([]algorithms.Candidate, k)
	for i := range cs {
		x := make([]float64, a.dim)
		for j := range x {
			x[j] = rng.Float64()
		}
		cs[i] = algorithms.Candidate{ID: a.next, X: x}
		a.next++
	}
	return cs
}

func (a *anyAsker) TellID(id int, _ float64) { a.told = append(a.told, id) }

func poolMock(t *testing.T) objectives.Function {
	f, err := objectives.New(objectives.Spec{Name: "mock", Dim: 3, Noise: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSimulatedClockSchedule checks the discrete-event clock on a case
// worked by hand: 10 evaluations of one minute each on 4 slots finish at
// 1, 1, 1, 1, 2, 2, 2, 2, 3, 3 minutes; results that finish together come
// back in submission order; the budget counts submissions, so the asker
// that always wants more gets exactly 10.
func TestSimulatedClockSchedule(t *testing.T) {
	f := poolMock(t)
	tr := newTracker(Job{Seed: 5, Budget: 10, Slots: 4, EvalTime: EvalTime{Kind: "fixed", Median: time.Minute}}, f, 99)
	a := &anyAsker{dim: 3}
	err := algorithms.DriveAsync(context.Background(), a, tr.objective().(algorithms.Pool), rand.New(rand.NewPCG(1, 2)))
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("DriveAsync: %v, want the budget spent", err)
	}
	if tr.used != 10 || tr.submitted != 10 || a.next != 11 {
		t.Errorf("recorded %d, admitted %d, asked %d; want 10, 10 and 11 (the 11th refused at the budget)", tr.used, tr.submitted, a.next)
	}
	for i, id := range a.told {
		if id != i {
			t.Fatalf("told %v: simultaneous results must come back in submission order", a.told)
		}
	}
	if tr.pool.now != 180 || tr.pool.busy != 600 {
		t.Errorf("clock %g s, busy %g s; want 180 and 600", tr.pool.now, tr.pool.busy)
	}
	for _, p := range tr.trace {
		if want := 60 * math.Ceil(float64(p.Eval)/4); p.T != want {
			t.Errorf("trace point %+v: evaluation %d finished at %g s", p, p.Eval, want)
		}
	}
}

// TestSimulatedClockOrdersByFinish: with lognormal durations the results
// come back in order of finishing time, not of submission, the clock never
// goes back, and each evaluation keeps the noise of its submission index.
func TestSimulatedClockOrdersByFinish(t *testing.T) {
	f := poolMock(t)
	et := EvalTime{Kind: "lognormal", Median: 5 * time.Minute, Sigma: 1}
	tr := newTracker(Job{Seed: 9, Budget: 40, Slots: 8, EvalTime: et}, f, 99)
	a := &anyAsker{dim: 3}
	if err := algorithms.DriveAsync(context.Background(), a, tr.objective().(algorithms.Pool), rand.New(rand.NewPCG(1, 2))); !errors.Is(err, ErrBudget) {
		t.Fatal(err)
	}
	inOrder := true
	for i, id := range a.told {
		inOrder = inOrder && id == i
	}
	if inOrder {
		t.Errorf("40 lognormal evaluations came back in submission order: the clock is not ordering by finish")
	}
	for i := 1; i < len(tr.trace); i++ {
		if tr.trace[i].T < tr.trace[i-1].T {
			t.Errorf("clock went back: %+v then %+v", tr.trace[i-1], tr.trace[i])
		}
	}
	sum := 0.0
	for i := 1; i <= 40; i++ {
		sum += et.Seconds(9, i)
	}
	if math.Abs(tr.pool.busy-sum) > 1e-6*sum {
		t.Errorf("busy %g s, want the 40 drawn durations' sum %g s", tr.pool.busy, sum)
	}
}

// TestEvalOnPoolUsesOneSlot: a method that evaluates one point at a time
// (Eval) on a pool waits for each result: 10 one-minute evaluations take
// 10 minutes on 4 slots, a quarter of the slots busy.
func TestEvalOnPoolUsesOneSlot(t *testing.T) {
	f := poolMock(t)
	tr := newTracker(Job{Seed: 5, Budget: 10, Slots: 4, EvalTime: EvalTime{Kind: "fixed", Median: time.Minute}}, f, 99)
	obj := tr.objective()
	for i := range 11 {
		_, err := obj.Eval(context.Background(), []float64{0.5, 0.5, 0.5})
		if (i < 10) != (err == nil) || (i == 10 && !errors.Is(err, ErrBudget)) {
			t.Fatalf("Eval %d: %v", i+1, err)
		}
	}
	if tr.pool.now != 600 || tr.pool.busy != 600 {
		t.Errorf("clock %g s, busy %g s; want 600 and 600", tr.pool.now, tr.pool.busy)
	}
}

// TestOneSlotClockKeepsEveryResult: one slot on a simulated clock is the
// sequential run with times added: every record is the same as without a
// clock (final checks, re-evaluations and failures included), the clock
// at budget is the sum of the durations and the slot is always busy.
func TestOneSlotClockKeepsEveryResult(t *testing.T) {
	comp := func(et EvalTime, reeval Reeval, fail float64) *Comparison {
		return &Comparison{
			Algorithms: []string{"cmaes", "sep-cmaes", "random", "simple-es", "tpe"},
			Objective:  objectives.Spec{Name: "mock", Dim: 4, Noise: 1, FailRate: fail},
			Seeds:      2, Seed: 3, Budget: 120, Target: 99, Reeval: reeval, EvalTime: et,
		}
	}
	fixed := EvalTime{Kind: "fixed", Median: time.Minute}
	for _, c := range []struct {
		reeval Reeval
		fail   float64
	}{{}, {Reeval{Top: 2, Times: 3}, 0}, {Reeval{}, 0.2}} {
		plain, err := comp(EvalTime{}, c.reeval, c.fail).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		timed, err := comp(fixed, c.reeval, c.fail).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range timed {
			if r.Slots != 1 || r.EvalTime != "fixed:1m0s" || r.SimTime == nil || *r.SimTime != 60*float64(r.EvalsUsed) ||
				r.SlotUtilisation == nil || *r.SlotUtilisation != 1 {
				t.Errorf("%s: slots %d, model %q, clock %v, utilisation %v; want 1, fixed:1m0s, %d min, 1", r.Algorithm, r.Slots, r.EvalTime, r.SimTime, r.SlotUtilisation, r.EvalsUsed)
			}
			if (r.SimTimeToTarget != nil) != r.Succeeded() || (r.Succeeded() && *r.SimTimeToTarget != 60*float64(*r.EvalsToTarget)) {
				t.Errorf("%s: time to target %v for evaluations to target %v", r.Algorithm, r.SimTimeToTarget, r.EvalsToTarget)
			}
			r.Slots, r.EvalTime, r.SimTime, r.SimTimeToTarget, r.SlotUtilisation = 0, "", nil, nil, nil
			for j := range r.Trace {
				r.Trace[j].T = 0
			}
			if a, b := jsonl(t, plain[i]), jsonl(t, r); a != b {
				t.Errorf("%+v: one slot on a clock changed the run:\n%s\n%s", c, a, b)
			}
		}
	}
}

func jsonl(t *testing.T, r *Run) string {
	t.Helper()
	c := *r
	c.WallMS = 0
	b, err := MarshalRun(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clusterComparison is the check of issue 10 at test size: 8 slots,
// lognormal evaluation times, on mergekit-evolve.
func clusterComparison(parallel int) *Comparison {
	sc, _ := LookupScenario("mergekit-evolve")
	return &Comparison{
		Scenario: sc.Name, Algorithms: []string{"cmaes", "ipop-cmaes", "random", "de", "gp-bo"}, Objective: sc.Objective,
		Seeds: 3, Seed: 1, Budget: sc.Budget, Target: sc.Target, Parallel: parallel,
		Slots: 8, EvalTime: EvalTime{Kind: "lognormal", Median: 5 * time.Minute, Sigma: 0.5},
	}
}

// TestSimulatedClusterSameAtAnyParallelism: the simulated clock makes runs
// on 8 slots as reproducible as sequential ones, and every record carries
// the three time fields (null only where there is no figure).
func TestSimulatedClusterSameAtAnyParallelism(t *testing.T) {
	var outs []string
	for _, p := range []int{1, 8} {
		runs, err := clusterComparison(p).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, r := range runs {
			r.WallMS = 0
			if r.Error != "" || r.EvalsUsed != r.Budget {
				t.Errorf("%s: %d of %d evaluations, error %q", r.Algorithm, r.EvalsUsed, r.Budget, r.Error)
			}
			if r.Algorithm == "cmaes" && r.FinalCheck == nil {
				t.Errorf("cmaes on 8 slots: no final check of its mean (%s)", r.Recommendation)
			}
		}
		if err := WriteJSONL(&b, runs); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b.String())
	}
	if outs[0] != outs[1] {
		t.Fatalf("simulated runs differ between --parallel 1 and 8:\n%s\n---\n%s", outs[0], outs[1])
	}
	for _, l := range strings.Split(strings.TrimSpace(outs[0]), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"sim_time_s", "sim_time_to_target_s", "slot_utilisation"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record lacks %s: %s", k, l)
			}
		}
		if u, ok := m["slot_utilisation"].(float64); !ok || u <= 0 || u > 1 {
			t.Errorf("slot utilisation %v outside (0, 1]", m["slot_utilisation"])
		}
		r, err := UnmarshalRun([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if again := jsonl(t, r); again != l {
			t.Errorf("record does not survive a round trip:\n%s\n%s", l, again)
		}
	}
}

// TestRecordsWithoutClockHaveNoTimeFields: no model, no time fields.
func TestRecordsWithoutClockHaveNoTimeFields(t *testing.T) {
	runs, err := smallComparison(0).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := jsonl(t, runs[0])
	for _, k := range []string{"sim_time", "slot", "eval_time", `"t":`} {
		if strings.Contains(l, k) {
			t.Errorf("record without a clock mentions %s: %s", k, l)
		}
	}
}

// barrier is an objective whose first n evaluations each wait until all n
// are running at once: it proves n slots evaluate concurrently (one at a
// time, the first would wait for ever; the run's evaluation timeout then
// ends it with an error).
type barrier struct {
	objectives.Function
	n       int32
	arrived atomic.Int32
	all     chan struct{}
	once    sync.Once
}

func (b *barrier) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	if k := b.arrived.Add(1); k <= b.n {
		if k == b.n {
			b.once.Do(func() { close(b.all) })
		}
		select {
		case <-b.all:
		case <-ctx.Done():
			return objectives.Value{}, ctx.Err()
		}
	}
	return b.Function.Evaluate(ctx, x, rng)
}

// TestSlotsEvaluateConcurrently: without a clock, several slots evaluate
// for real at once, the budget still holds exactly, and the final check
// of CMA-ES's mean goes through the slots too.
func TestSlotsEvaluateConcurrently(t *testing.T) {
	f := &barrier{Function: poolMock(t), n: 4, all: make(chan struct{})}
	job := Job{Algorithm: "cmaes", Settings: map[string]string{"popsize": "4"}, Seed: 1, Budget: 60, Target: 99,
		EvalTimeout: time.Minute, Slots: 4}
	r, err := ExecuteOn(context.Background(), job, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" || r.EvalsUsed != 60 || r.FinalCheck == nil || r.Slots != 4 {
		t.Errorf("error %q, %d evaluations, final check %v, slots %d; want none, 60, a check, 4", r.Error, r.EvalsUsed, r.FinalCheck != nil, r.Slots)
	}
	if r.SimTime != nil || r.EvalTime != "" {
		t.Errorf("a run without a clock records simulated time %v (model %q)", r.SimTime, r.EvalTime)
	}
}

// blockAfterFault fails its first evaluation (a fatal error, not a failed
// merge) and holds the others until their context is cancelled, counting
// those that saw the cancellation; a safety timer lets them go if it
// never comes, so the test fails instead of hanging.
type blockAfterFault struct {
	objectives.Function
	calls     atomic.Int32
	cancelled atomic.Int32
}

func (b *blockAfterFault) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	if b.calls.Add(1) == 1 {
		return objectives.Value{}, errors.New("evaluator lost its GPU")
	}
	select {
	case <-ctx.Done():
		b.cancelled.Add(1)
		return objectives.Value{}, ctx.Err()
	case <-time.After(20 * time.Second):
		return b.Function.Evaluate(ctx, x, rng)
	}
}

// TestFaultCancelsTheBatch: a fatal fault of one evaluation cancels the
// others in flight, and the run returns only when they have stopped.
func TestFaultCancelsTheBatch(t *testing.T) {
	f := &blockAfterFault{Function: poolMock(t)}
	job := Job{Algorithm: "cmaes", Settings: map[string]string{"popsize": "4"}, Seed: 1, Budget: 60, Target: 99, Slots: 4}
	r, err := ExecuteOn(context.Background(), job, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Error, "evaluator lost its GPU") || r.EvalsUsed != 1 {
		t.Errorf("error %q after %d evaluations; want the fault after 1", r.Error, r.EvalsUsed)
	}
	if n := f.cancelled.Load(); n != 3 {
		t.Errorf("%d of the 3 evaluations in flight were cancelled", n)
	}
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives"
)

// shuffled delays each evaluation by a few milliseconds that depend on
// its point, so that on several real slots evaluations finish in an order
// other than the one they were submitted in; it counts its calls.
type shuffled struct {
	objectives.Function
	calls atomic.Int32
}

func (s *shuffled) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	s.calls.Add(1)
	d := time.Duration(int(x[0]*1000)%4) * time.Millisecond
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return objectives.Value{}, ctx.Err()
	}
	return s.Function.Evaluate(ctx, x, rng)
}

// logged runs job on f and returns the run and the records it logged.
func logged(t *testing.T, job Job, f objectives.Function) (*Run, []EvalRecord) {
	t.Helper()
	var recs []EvalRecord
	job.Log = func(e EvalRecord) error { recs = append(recs, e); return nil }
	r, err := ExecuteOn(context.Background(), job, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	return r, recs
}

// comparable is a run record without what differs between processes.
func comparable(r *Run) *Run {
	c := *r
	c.WallMS, c.SlotUtilisation = 0, nil
	return &c
}

// untimed is records without their durations.
func untimed(recs []EvalRecord) []EvalRecord {
	out := make([]EvalRecord, len(recs))
	for i, e := range recs {
		e.MS = 0
		out[i] = e
	}
	return out
}

// TestLogRecordsEveryEvaluation: the log holds every evaluation of the
// budget once, in the order the tracker recorded them, with slots in
// 0..K−1, the final check's evaluations marked.
func TestLogRecordsEveryEvaluation(t *testing.T) {
	job := Job{Algorithm: "cmaes", Settings: map[string]string{"popsize": "4"}, Seed: 3, Budget: 40, Target: 99, Slots: 3, FinalEvals: 2}
	r, recs := logged(t, job, &shuffled{Function: poolMock(t)})
	if len(recs) != 40 || r.EvalsUsed != 40 {
		t.Fatalf("%d records, %d evaluations; want 40", len(recs), r.EvalsUsed)
	}
	seen := map[int]bool{}
	final := 0
	for _, e := range recs {
		if seen[e.Index] || e.Index < 1 || e.Index > 40 || e.Slot < 0 || e.Slot > 2 || e.Observed == nil || e.True == nil {
			t.Fatalf("bad record %+v", e)
		}
		seen[e.Index] = true
		if e.Final {
			final++
		}
	}
	if final != 4 || r.FinalCheck == nil || len(r.FinalCheck.MethodScores) != 2 {
		t.Errorf("%d final records, check %+v; want 4 and 2 fresh scores each", final, r.FinalCheck)
	}
	if r.SlotUtilisation == nil || *r.SlotUtilisation <= 0 || *r.SlotUtilisation > 1 {
		t.Fatalf("slot utilisation %v on real slots", r.SlotUtilisation)
	}
	// The journal keeps it.
	b, err := MarshalRun(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalRun(b)
	if err != nil || back.SlotUtilisation == nil || *back.SlotUtilisation != *r.SlotUtilisation {
		t.Errorf("slot utilisation lost in the record: %v %s", err, b)
	}
}

// TestReplayReachesTheSameRun: a run resumed from its log reaches the
// record of the uninterrupted run. On one slot from any prefix of the log
// (only the rest is evaluated and logged); on several slots, where the
// order results come back depends on the machine, from the whole log,
// evaluating nothing: the results must come back in the logged order,
// else the asynchronous methods would propose other points.
func TestReplayReachesTheSameRun(t *testing.T) {
	for _, alg := range []string{"de", "tpe", "cmaes"} {
		for _, slots := range []int{1, 4} {
			job := Job{Algorithm: alg, Seed: 7, Budget: 30, Target: 99, Slots: slots}
			f := &shuffled{Function: poolMock(t)}
			want, recs := logged(t, job, f)
			cut := len(recs)
			if slots == 1 {
				cut = 13
			}
			job.Replay = recs[:cut]
			g := &shuffled{Function: poolMock(t)}
			got, rest := logged(t, job, g)
			if !reflect.DeepEqual(comparable(got), comparable(want)) {
				t.Errorf("%s on %d slots: the replayed run differs:\n%+v\n%+v", alg, slots, got, want)
			}
			if int(g.calls.Load()) != len(recs)-cut || (slots == 1 && !reflect.DeepEqual(untimed(rest), untimed(recs[cut:]))) {
				t.Errorf("%s on %d slots: %d evaluations after replaying %d of %d", alg, slots, g.calls.Load(), cut, len(recs))
			}
		}
	}
}

// TestReplayOfAnotherRunIsRefused: records made at other points, or that
// this run never makes, end it with an error naming the journal as
// another run's.
func TestReplayOfAnotherRunIsRefused(t *testing.T) {
	job := Job{Algorithm: "random", Seed: 7, Budget: 20, Target: 99}
	_, recs := logged(t, job, poolMock(t))
	other := job
	other.Seed = 8 // other points
	stops := job
	stops.StopAtTarget, stops.Target = true, 0 // ends at its first evaluation
	for name, j := range map[string]Job{"other points": other, "never made": stops} {
		j.Replay = recs
		r, err := ExecuteOn(context.Background(), j, poolMock(t))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Error, "belongs to another run") {
			t.Errorf("%s: error %q", name, r.Error)
		}
	}
	bad := job
	bad.Replay = []EvalRecord{recs[0], recs[0]}
	if _, err := ExecuteOn(context.Background(), bad, poolMock(t)); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("a record given twice: %v", err)
	}
}

// TestLogErrorEndsTheRun: a journal that cannot be written ends the run.
func TestLogErrorEndsTheRun(t *testing.T) {
	job := Job{Algorithm: "random", Seed: 7, Budget: 20, Target: 99, Log: func(e EvalRecord) error {
		if e.Index == 3 {
			return fmt.Errorf("disk full")
		}
		return nil
	}}
	r, err := ExecuteOn(context.Background(), job, poolMock(t))
	if err != nil || !strings.Contains(r.Error, "disk full") || r.EvalsUsed != 3 {
		t.Errorf("%v, error %q after %d evaluations", err, r.Error, r.EvalsUsed)
	}
}

// alwaysFails fails every evaluation as a crashed merge does.
type alwaysFails struct{ objectives.Function }

func (alwaysFails) Evaluate(context.Context, []float64, *rand.Rand) (objectives.Value, error) {
	return objectives.Value{}, fmt.Errorf("merge crashed: %w", objectives.ErrEvalFailed)
}

// TestMaxInitialFailures: a run whose first evaluations all fail stops
// there instead of spending its budget on penalties; the failures are
// logged (a resumed run replays them).
func TestMaxInitialFailures(t *testing.T) {
	var recs []EvalRecord
	job := Job{Algorithm: "random", Seed: 1, Budget: 50, Target: 99, MaxInitialFailures: 10,
		Log: func(e EvalRecord) error { recs = append(recs, e); return nil }}
	r, err := ExecuteOn(context.Background(), job, alwaysFails{poolMock(t)})
	if err != nil || !strings.Contains(r.Error, "the first 10 evaluations all failed") || r.EvalsUsed != 10 {
		t.Fatalf("%v, error %q after %d evaluations", err, r.Error, r.EvalsUsed)
	}
	if len(recs) != 10 || recs[0].Observed != nil || !strings.Contains(recs[0].Error, "merge crashed") {
		t.Errorf("%d records, the first %+v", len(recs), recs[0])
	}
}

// slotWatch checks that no two evaluations in flight hold one slot and
// that every evaluation learns its slot and index.
type slotWatch struct {
	objectives.Function
	mu      sync.Mutex
	holding map[int]bool
	bad     string
	seen    map[int]bool
}

func (s *slotWatch) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	info, ok := EvalInfoFrom(ctx)
	s.mu.Lock()
	if !ok || s.holding[info.Slot] || info.Slot < 0 || info.Slot > 3 || s.seen[info.Index] {
		s.bad = fmt.Sprintf("evaluation %+v (ok %v) while slots %v are held", info, ok, s.holding)
	}
	s.holding[info.Slot], s.seen[info.Index] = true, true
	s.mu.Unlock()
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	s.holding[info.Slot] = false
	s.mu.Unlock()
	return s.Function.Evaluate(ctx, x, rng)
}

func TestEvalInfoSlots(t *testing.T) {
	f := &slotWatch{Function: poolMock(t), holding: map[int]bool{}, seen: map[int]bool{}}
	_, recs := logged(t, Job{Algorithm: "random", Seed: 1, Budget: 40, Target: 99, Slots: 4}, f)
	if f.bad != "" || len(f.seen) != 40 {
		t.Errorf("%s (%d indices seen)", f.bad, len(f.seen))
	}
	used := map[int]bool{}
	for _, e := range recs {
		used[e.Slot] = true
	}
	if len(used) != 4 {
		t.Errorf("slots used: %v", used)
	}
}

// blind is an objective that knows no truth, as an external evaluator.
type blind struct{ objectives.Function }

func (b blind) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	v, err := b.Function.Evaluate(ctx, x, rng)
	v.True = math.NaN()
	return v, err
}
func (blind) True([]float64) float64 { return math.NaN() }
func (blind) TruthUnknown() bool     { return true }

// TestObjectiveWithoutTruth: NaN true values of an objective that says it
// knows none are not a fault; the run records no true values, and its
// record still reads back.
func TestObjectiveWithoutTruth(t *testing.T) {
	r, recs := logged(t, Job{Algorithm: "cmaes", Seed: 1, Budget: 30, Target: 99, Slots: 2}, blind{poolMock(t)})
	if len(r.Trace) != 0 || r.EvalsToTarget != nil || !math.IsNaN(r.RecommendTrue) || !math.IsNaN(r.BestTrue) || r.Recommended == nil {
		t.Errorf("trace %v, hit %v, recommended true %g, best true %g", r.Trace, r.EvalsToTarget, r.RecommendTrue, r.BestTrue)
	}
	if recs[0].True != nil {
		t.Errorf("record with a true value: %+v", recs[0])
	}
	b, err := MarshalRun(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalRun(b); err != nil {
		t.Error(err)
	}
	// Without the declaration, NaN is a broken objective.
	r2, _ := ExecuteOn(context.Background(), Job{Algorithm: "cmaes", Seed: 1, Budget: 30, Target: 99}, nanTruth{poolMock(t)})
	if !strings.Contains(r2.Error, "non-finite") {
		t.Errorf("NaN truth of an objective that claims truth: %q", r2.Error)
	}
}

type nanTruth struct{ objectives.Function }

func (b nanTruth) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	v, err := b.Function.Evaluate(ctx, x, rng)
	v.True = math.NaN()
	return v, err
}

// failFinal fails the evaluations whose indices it lists.
type failFinal struct {
	objectives.Function
	fail map[int]bool
}

func (f failFinal) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	if info, _ := EvalInfoFrom(ctx); f.fail[info.Index] {
		return objectives.Value{}, fmt.Errorf("merge crashed: %w", objectives.ErrEvalFailed)
	}
	return f.Function.Evaluate(ctx, x, rng)
}

// TestFinalCheckNeverChoosesAFailedAnswer: when every fresh evaluation of
// the method's answer fails, the best observed point is recommended; it
// used to win only on a better mean, so with the best observed point's
// fresh evaluations failing too the tie went to the method's answer, a
// point handed over with no score at all.
func TestFinalCheckNeverChoosesAFailedAnswer(t *testing.T) {
	// Budget 40, 2 fresh evaluations each: 37, 38 score the mean, 39, 40
	// the best observed point.
	for _, fail := range []map[int]bool{{37: true, 38: true}, {37: true, 38: true, 39: true, 40: true}} {
		job := Job{Algorithm: "cmaes", Seed: 2, Budget: 40, Target: 99, FinalEvals: 2}
		r, err := ExecuteOn(context.Background(), job, failFinal{poolMock(t), fail})
		if err != nil {
			t.Fatal(err)
		}
		if r.FinalCheck == nil || r.FinalCheck.Chosen != "best observed" || !reflect.DeepEqual(r.Recommended, r.FinalCheck.BestObserved) {
			t.Errorf("failing %v: chose %+v", fail, r.FinalCheck)
		}
		if !strings.Contains(r.Recommendation, "best observed") {
			t.Errorf("recommendation %q", r.Recommendation)
		}
	}
}

// TestJournalEvalLines: evaluation lines are kept apart from run records:
// readers of runs skip them, OpenJournalContents returns them, and a
// torn last evaluation line is cut off while a whole one is kept.
func TestJournalEvalLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	job := Job{Algorithm: "random", Seed: 7, Budget: 10, Target: 99}
	key, err := KeyOf(job, poolMock(t))
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := OpenJournalContents(path, false)
	if err != nil {
		t.Fatal(err)
	}
	job.Log = func(e EvalRecord) error { return j.AppendEval(key, e) }
	r, err := ExecuteOn(context.Background(), job, poolMock(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.RunKey() != key {
		t.Errorf("KeyOf %v, the record's %v", key, r.RunKey())
	}
	if err := j.Append(r); err != nil {
		t.Fatal(err)
	}
	j.Close()
	runs, err := ReadRuns(path)
	if err != nil || len(runs) != 1 {
		t.Fatalf("ReadRuns: %v, %d runs", err, len(runs))
	}
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	for _, tc := range []struct {
		keep  int // whole lines kept
		tail  string
		evals int
	}{
		{5, `{"eval":{"index":6,"x":[0.`, 5},
		{5, string(bytes.TrimRight(lines[5], "\n")), 6},
	} {
		os.WriteFile(path, append(bytes.Join(lines[:tc.keep], nil), tc.tail...), 0o644)
		j, c, err := OpenJournalContents(path, true)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		if len(c.Runs) != 0 || len(c.Evals) != tc.evals || c.Evals[0].Key != key.Key() {
			t.Errorf("%d runs, %d evaluation lines; want 0 and %d", len(c.Runs), len(c.Evals), tc.evals)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, bytes.Join(lines[:tc.evals], nil)) {
			t.Errorf("the journal's end was not repaired:\n%s", got)
		}
	}
	var l EvalLine
	if err := json.Unmarshal(lines[0], &l); err != nil || l.Eval.Index != 1 {
		t.Errorf("first line %s: %v", lines[0], err)
	}
}

// TestRunKeyKey: the canonical key changes with the algorithm, its
// settings and the seed, and no value can spell another field.
func TestRunKeyKey(t *testing.T) {
	base := RunKey{Entry: Entry{Cell: Cell{Objective: "mock"}, Alg: "cmaes", Params: "popsize=4"}, Seed: 1}
	keys := map[string]bool{base.Key(): true}
	for _, k := range []RunKey{
		{Entry: Entry{Cell: base.Entry.Cell, Alg: "ga", Params: "popsize=4"}, Seed: 1},
		{Entry: Entry{Cell: base.Entry.Cell, Alg: "cmaes", Params: "popsize=5"}, Seed: 1},
		{Entry: Entry{Cell: base.Entry.Cell, Alg: "cmaes", Params: "popsize=4"}, Seed: 2},
		{Entry: Entry{Cell: base.Entry.Cell, Alg: "cmaes/params=popsize=4", Params: ""}, Seed: 1},
		{Entry: Entry{Cell: Cell{Objective: "mock", Options: "config=abc"}, Alg: "cmaes", Params: "popsize=4"}, Seed: 1},
	} {
		if keys[k.Key()] {
			t.Errorf("%v has the key of another run: %s", k, k.Key())
		}
		keys[k.Key()] = true
	}
}

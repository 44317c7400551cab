package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives"
)

func smallComparison(parallel int) *Comparison {
	return &Comparison{
		Algorithms: []string{"simple-es", "ga", "random", "gonum-cmaes"},
		Objective:  objectives.Spec{Name: "mock", Dim: 4, Noise: 1},
		Seeds:      6, Seed: 42, Budget: 300, Target: 99, Parallel: parallel,
	}
}

// TestParallelismDoesNotChangeResults runs the same comparison one run at
// a time and eight at a time; every record must match (run it under -race).
func TestParallelismDoesNotChangeResults(t *testing.T) {
	var outs []string
	for _, p := range []int{1, 8} {
		runs, err := smallComparison(p).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, r := range runs {
			r.WallMS = 0
		}
		if err := WriteJSONL(&b, runs); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b.String())
	}
	if outs[0] != outs[1] {
		t.Fatalf("results differ between --parallel 1 and 8:\n%s\n---\n%s", outs[0], outs[1])
	}
}

func TestExactBudgetAndTrace(t *testing.T) {
	runs, err := smallComparison(0).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 24 {
		t.Fatalf("%d runs, want 24", len(runs))
	}
	for _, r := range runs {
		if r.Error != "" {
			t.Errorf("%s seed %d: %s", r.Algorithm, r.Seed, r.Error)
		}
		if r.EvalsUsed != 300 {
			t.Errorf("%s: %d evaluations, want exactly 300", r.Algorithm, r.EvalsUsed)
		}
		// The trace is strictly improving and ends at the best true value.
		for i := 1; i < len(r.Trace); i++ {
			if r.Trace[i].Eval <= r.Trace[i-1].Eval || r.Trace[i].True <= r.Trace[i-1].True {
				t.Fatalf("%s: trace not improving at %d: %v", r.Algorithm, i, r.Trace[i-1:i+1])
			}
		}
		if last := r.Trace[len(r.Trace)-1]; last.True != r.BestTrue {
			t.Errorf("%s: trace ends at %g, best true is %g", r.Algorithm, last.True, r.BestTrue)
		}
		if r.Succeeded() {
			hit := *r.EvalsToTarget
			reached := false
			for _, p := range r.Trace {
				if p.Eval == hit && p.True >= 99 {
					reached = true
				}
				if p.Eval < hit && p.True >= 99 {
					t.Errorf("%s: target reached at %d, before the recorded %d", r.Algorithm, p.Eval, hit)
				}
			}
			if !reached {
				t.Errorf("%s: evals_to_target %d is not where the trace crosses 99", r.Algorithm, hit)
			}
		}
	}
}

func TestSeedsDependOnIdentityOnly(t *testing.T) {
	a := DeriveSeed(1, "cmaes", "0")
	if a != DeriveSeed(1, "cmaes", "0") {
		t.Fatal("DeriveSeed is not a function of its inputs")
	}
	for _, other := range []uint64{DeriveSeed(2, "cmaes", "0"), DeriveSeed(1, "cmaes", "1"), DeriveSeed(1, "ga", "0"), DeriveSeed(1, "cmaes0", "")} {
		if other == a {
			t.Error("two job identities share a seed")
		}
	}
}

// faulty is an objective that misbehaves after a number of evaluations.
type faulty struct {
	objectives.Function
	after int
	mode  string
	n     int
}

func (f *faulty) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	f.n++
	if f.n > f.after {
		switch f.mode {
		case "error":
			return objectives.Value{}, errors.New("merge crashed")
		case "panic":
			panic("benchmark exploded")
		case "nan":
			return objectives.Value{Observed: math.NaN(), True: math.NaN()}, nil
		case "hang":
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond)
			return objectives.Value{}, ctx.Err()
		}
	}
	return f.Function.Evaluate(ctx, x, rng)
}

func TestFailingObjectiveEndsOnlyThatRun(t *testing.T) {
	for _, mode := range []string{"error", "panic", "nan", "hang"} {
		t.Run(mode, func(t *testing.T) {
			mock, _ := objectives.New(objectives.Spec{Name: "mock", Dim: 4, Seed: 1})
			f := &faulty{Function: mock, after: 10, mode: mode}
			job := Job{Algorithm: "simple-es", Seed: 1, Budget: 100, Target: 99, EvalTimeout: 50 * time.Millisecond}
			r, err := ExecuteOn(context.Background(), job, f)
			if err != nil {
				t.Fatalf("ExecuteOn: %v (a failing objective must be recorded, not returned)", err)
			}
			if r.Error == "" {
				t.Fatalf("no error recorded")
			}
			if r.EvalsUsed != 11 {
				t.Errorf("%d evaluations counted, want 11 (10 good, 1 failed)", r.EvalsUsed)
			}
			if math.IsNaN(r.BestTrue) || r.Recommended == nil {
				t.Errorf("the good evaluations were lost: best true %g, recommended %v", r.BestTrue, r.Recommended)
			}
			want := map[string]string{"error": "merge crashed", "panic": "panicked", "nan": "non-finite", "hang": "did not answer"}[mode]
			if !strings.Contains(r.Error, want) {
				t.Errorf("error %q does not mention %q", r.Error, want)
			}
		})
	}
}

func TestSummaryAndFormats(t *testing.T) {
	runs, err := smallComparison(0).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Objective: "mock", Dim: 4, Noise: 1, Budget: 300, Target: 99, Seeds: 6, Seed: 42, TargetMeaning: "true score ≥"}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Write(&b, f, h, runs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if b.Len() == 0 {
			t.Fatalf("%s: empty output", f)
		}
		switch f {
		case "jsonl":
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != len(runs) {
				t.Fatalf("jsonl: %d lines for %d runs", len(lines), len(runs))
			}
			for _, key := range []string{`"algorithm"`, `"objective"`, `"dim"`, `"noise"`, `"items"`, `"seed"`, `"budget"`, `"evals_used"`, `"evals_to_target"`, `"best_observed"`, `"best_true"`, `"recommended_true"`, `"wall_ms"`, `"params"`} {
				if !strings.Contains(lines[0], key) {
					t.Errorf("jsonl record lacks %s", key)
				}
			}
			r, err := UnmarshalRun([]byte(lines[0]))
			if err != nil || r.Algorithm != runs[0].Algorithm || r.BestTrue != runs[0].BestTrue || r.ETT() != runs[0].ETT() {
				t.Errorf("jsonl round trip: %v %+v", err, r)
			}
		case "bench":
			for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if !strings.HasPrefix(line, "BenchmarkConverge/obj=mock/dim=4/noise=1/budget=300/target=99/alg=") || !strings.Contains(line, " 1 ") || !strings.Contains(line, " evals-to-target ") {
					t.Errorf("bad benchmark line %q", line)
				}
			}
		}
	}
	if err := Write(&bytes.Buffer{}, "xml", h, runs); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestSummarizeCountsMissesAsInfinite(t *testing.T) {
	hit := func(n int) *int { return &n }
	runs := []*Run{
		{Algorithm: "a", EvalsToTarget: hit(100), EvalsUsed: 1000},
		{Algorithm: "a", EvalsToTarget: hit(200), EvalsUsed: 1000},
		{Algorithm: "a", EvalsUsed: 1000},
		{Algorithm: "a", EvalsUsed: 1000},
	}
	s := Summarize(runs)[0]
	if s.Successes != 2 || s.ART != (100+200+1000+1000)/2.0 {
		t.Errorf("successes %d, aRT %g; want 2 and 1150", s.Successes, s.ART)
	}
	// Sorted runtimes 100, 200, +Inf, +Inf: the median falls between 200 and
	// +Inf, so it is +Inf; p10 interpolates 100 + 0.3·100.
	if !math.IsInf(s.MedianETT, 1) || s.P10ETT != 130 {
		t.Errorf("median %g, p10 %g; want +Inf and 130", s.MedianETT, s.P10ETT)
	}
}

func TestBadJobsAreRejected(t *testing.T) {
	c := smallComparison(0)
	c.Settings = map[string]map[string]string{"ga": {"no-such": "1"}}
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such") {
		t.Errorf("unknown hyperparameter: %v", err)
	}
	c = smallComparison(0)
	c.Algorithms = []string{"nope"}
	if _, err := c.Run(context.Background()); err == nil {
		t.Error("unknown algorithm accepted")
	}
	c = smallComparison(0)
	c.Budget = 0
	if _, err := c.Run(context.Background()); err == nil {
		t.Error("zero budget accepted")
	}
}

// TestReevaluationPolicy checks the "best after re-evaluation" policy:
// the budget stays exact, the reserve is spent on the best points, and the
// recommendation is one of them.
func TestReevaluationPolicy(t *testing.T) {
	var seen [][]float64
	job := Job{Algorithm: "random", Objective: objectives.Spec{Name: "mock", Dim: 4, Items: 50, Seed: 1}, Seed: 3, Budget: 100,
		Target: 99, Reeval: Reeval{Top: 3, Times: 5}, Observe: func(p Progress) bool {
			seen = append(seen, append([]float64(nil), p.X...))
			return true
		}}
	r, err := Execute(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if r.EvalsUsed != 100 || r.Policy != "reeval 3x5" || !strings.Contains(r.Cell().String(), "reeval=3x5") {
		t.Fatalf("evals %d, policy %q, cell %q", r.EvalsUsed, r.Policy, r.Cell().String())
	}
	// The last 15 evaluations re-evaluate 3 earlier points 5 times each.
	last := seen[85:]
	for i := 0; i < 15; i += 5 {
		for j := 1; j < 5; j++ {
			if !slices.Equal(last[i], last[i+j]) {
				t.Fatalf("re-evaluation %d is not of one point", i+j)
			}
		}
	}
	if !slices.Equal(r.Recommended, last[0]) && !slices.Equal(r.Recommended, last[5]) && !slices.Equal(r.Recommended, last[10]) {
		t.Errorf("recommendation %v is none of the re-evaluated points", r.Recommended)
	}
	job.Reeval = Reeval{Top: 10, Times: 10}
	if _, err := Execute(context.Background(), job); err == nil {
		t.Error("a reserve of the whole budget accepted")
	}
}

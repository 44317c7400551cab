package bench

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// twoTasks is a mock that also reports two tasks, as a multi-task merge
// does: a target task (the score itself) and a retention task reported
// only; their held-out scores are the score and 100 − the score.
type twoTasks struct{ objectives.Function }

func (twoTasks) TaskNames() []string { return []string{"skill", "retention"} }
func (twoTasks) Targets() int        { return 1 }
func (f twoTasks) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, []objectives.Value, error) {
	v, err := f.Evaluate(ctx, x, rng)
	return v, []objectives.Value{v}, err
}
func (f twoTasks) HeldOut(x []float64) float64 { return f.True(x) }
func (f twoTasks) HeldOutTasks(x []float64) ([]float64, error) {
	v := f.True(x)
	return []float64{v, 100 - v}, nil
}

// TestTaskScoresAreRecordedAndReported: a run on a multi-task objective
// records its recommendation's held-out score per task, and the report
// tables them beside the held-out median.
func TestTaskScoresAreRecordedAndReported(t *testing.T) {
	mock, err := objectives.New(objectives.Spec{Name: "mock", Dim: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := twoTasks{mock}
	var runs []*Run
	for _, alg := range []string{"cmaes", "random"} {
		for seed := range uint64(3) {
			r, err := ExecuteOn(context.Background(), Job{Algorithm: alg, Objective: objectives.Spec{Name: "mock", Dim: 4, Seed: 1}, Seed: seed, Budget: 60, Target: 99}, f)
			if err != nil {
				t.Fatal(err)
			}
			ts := r.RecommendHeldOutTasks
			if len(ts) != 2 || ts[0].Task != "skill" || !ts[0].Target || ts[1].Target || ts[0].Score+ts[1].Score != 100 || ts[0].Score != *r.RecommendHeldOut {
				t.Fatalf("%s seed %d: task scores %+v, held-out %v", alg, seed, ts, r.RecommendHeldOut)
			}
			runs = append(runs, r)
		}
	}
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "| algorithm | skill (target) | retention |") {
		t.Errorf("the page has no per-task table:\n%s", page)
	}
}

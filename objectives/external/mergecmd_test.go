package external

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives"
)

// withStandIn gives e a merge_command: this test binary playing
// mergekit-yaml, which checks the recipe against mergekit's configuration
// rules, logs it in the returned folder and merges it.
func withStandIn(t *testing.T, e *Evaluator, mode string) string {
	t.Helper()
	log := t.TempDir()
	t.Setenv("EVOMERGE_STANDIN_LOG", log)
	t.Setenv("EVOMERGE_TEST_MERGE", mode)
	e.Command.Merge = []string{os.Args[0], "mergekit-yaml", "{recipe}", "{model}", "--cuda", "--random-seed", "{seed}"}
	return log
}

// logged returns the recipes and argument lists the stand-in accepted.
func logged(t *testing.T, dir string) (recipes, args []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "recipe-*.yml"))
	slices.Sort(files)
	for _, f := range files {
		r, _ := os.ReadFile(f)
		a, _ := os.ReadFile(strings.TrimSuffix(f, ".yml") + ".args")
		recipes, args = append(recipes, string(r)), append(args, string(a))
	}
	return recipes, args
}

// TestMergeCommand builds the model with the merge command instead of the
// native engine: the command gets the candidate's recipe (the text best.yml
// would hold), which the mergekit-yaml stand-in accepts, and the model
// folder it writes is the one scored.
func TestMergeCommand(t *testing.T) {
	e := toyEvaluator(t, "mean", "{model}")
	log := withStandIn(t, e, "")
	e.Seed = 40
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckInputs(); err != nil {
		t.Fatal(err)
	}
	x := []float64{0.25, 0.75}
	got, err := e.Evaluate(context.Background(), x, "0", 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-2.5) > 1e-6 {
		t.Errorf("score %g, want 2.5 (the merge of the candidate)", got)
	}
	recipes, args := logged(t, log)
	want, _ := e.Genome.Recipe(x)
	if len(recipes) != 1 || recipes[0] != want.YAML() {
		t.Fatalf("the merge command got %q, want the candidate's recipe:\n%s", recipes, want.YAML())
	}
	if !strings.Contains(args[0], "--random-seed\n42\n") || !strings.HasSuffix(strings.Split(args[0], "\n")[1], filepath.Join("model")) {
		t.Errorf("arguments %q: want the model folder and seed 40+2", args[0])
	}
	if left, _ := os.ReadDir(e.WorkDir); len(left) != 0 {
		t.Errorf("temporary folders left behind: %v", left)
	}
}

// TestMergeCommandFailures: a merge command that fails, hangs or writes
// nothing is retried like the evaluator and then penalised, never fatal.
func TestMergeCommandFailures(t *testing.T) {
	e := toyEvaluator(t, "mean", "{model}")
	withStandIn(t, e, "fail")
	e.Command.Retries = 2
	_, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "1", 3)
	if !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "merge failed") ||
		!strings.Contains(err.Error(), "out of memory while merging") || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %v: want a penalised merge failure quoting its stderr after 3 attempts", err)
	}

	// A failed attempt's half-written model is removed; the retry merges.
	e = toyEvaluator(t, "mean", "{model}")
	withStandIn(t, e, "fail-once")
	t.Setenv("EVOMERGE_TEST_MARK", filepath.Join(t.TempDir(), "mark"))
	e.Command.Retries = 1
	if got, err := e.Evaluate(context.Background(), []float64{1, 0}, "0", 1); err != nil || math.Abs(got-1) > 1e-6 {
		t.Errorf("retried merge: score %g, %v; want 1", got, err)
	}

	e = toyEvaluator(t, "mean", "{model}")
	withStandIn(t, e, "hang")
	e.Command.Timeout = 300 * time.Millisecond
	if _, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 4); !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "merge command timed out") {
		t.Errorf("hanging merge: %v", err)
	}

	e = toyEvaluator(t, "mean", "{model}")
	withStandIn(t, e, "nothing")
	if _, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 5); !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "wrote no model folder") {
		t.Errorf("merge writing nothing: %v", err)
	}
	if left, _ := os.ReadDir(e.WorkDir); len(left) != 0 {
		t.Errorf("temporary folders left behind: %v", left)
	}
}

func TestMergeCommandValidation(t *testing.T) {
	for _, c := range []struct {
		method string
		merge  []string
		want   string
	}{
		{"linear", []string{}, "empty command"},
		{"linear", []string{"", "{recipe}", "{model}"}, "empty command"},
		{"linear", []string{"mergekit-yaml", "config.yml", "{model}"}, "names no {recipe}"},
		{"linear", []string{"mergekit-yaml", "{recipe}", "out"}, "names no {model}"},
		{"linear", []string{"mergekit-yaml", "{recipe}", "{model}", "--log={output}"}, "names {output}"},
		{"dare_ties", []string{"mergekit-yaml", "{recipe}", "{model}"}, "draws random masks"},
		{"dare_ties", []string{"mergekit-yaml", "{recipe}", "{model}", "--random-seed", "{seed}"}, ""},
		{"linear", []string{"mergekit-yaml", "--copy-tokenizer={recipe}", "{model}"}, ""},
	} {
		e := &Evaluator{
			Genome:  Genome{Method: c.method, BaseModel: "b", Models: []string{"a"}, Params: []Param{{Name: "weight", Min: 0, Max: 1}}, Groups: 1},
			Command: Command{Args: []string{"lm_eval", "{model}"}, Merge: c.merge},
		}
		err := e.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %q: error %v, want %q", c.method, c.merge, err, c.want)
		}
	}
	e := toyEvaluator(t, "mean", "{model}")
	e.Command.Merge = []string{"no-such-mergekit-yaml", "{recipe}", "{model}"}
	if err := e.CheckInputs(); err == nil || !strings.Contains(err.Error(), "no-such-mergekit-yaml") {
		t.Errorf("a merge command not on PATH: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/bench/multi"
	"github.com/evomerge/evomerge/internal/toymodel"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// evaluatorItems is the benchmark size of each task of tasksEvaluator.
const evaluatorItems = 1000

// taskScoresOf scores a merged model on two conflicting tasks: the means
// m0, m1 of its two layers' weights are best at 1.4 for retention and at
// 2.6 for math, each an accuracy on evaluatorItems items drawn from the
// seed (an evaluation's index), as a benchmark's items would.
func taskScoresOf(dir string, seed uint64) ([2]float64, error) {
	model, err := merge.LoadModel(dir)
	if err != nil {
		return [2]float64{}, err
	}
	var m [2]float64
	for l := range 2 {
		w, ok := model.View(fmt.Sprintf("model.layers.%d.weight", l))
		if !ok {
			return [2]float64{}, fmt.Errorf("no layer %d", l)
		}
		for _, v := range w {
			m[l] += float64(v)
		}
		m[l] /= float64(len(w))
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var out [2]float64
	for k, c := range []float64{1.4, 2.6} {
		p := math.Exp(-((m[0]-c)*(m[0]-c) + (m[1]-c)*(m[1]-c)) / 1.5)
		out[k] = 100 * float64(objectives.Binomial(rng, evaluatorItems, p)) / evaluatorItems
	}
	return out, nil
}

// tasksEvaluator is the evaluator process of the multi-task tests (the
// test binary run with EVOMERGE_TEST_TASKS_EVALUATOR set): MODEL OUTPUT
// INDEX; it writes an lm-evaluation-harness-style results file with two
// task scores.
func tasksEvaluator(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "want MODEL OUTPUT INDEX")
		return 2
	}
	index, _ := strconv.ParseUint(args[2], 10, 64)
	s, err := taskScoresOf(args[0], index)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir := filepath.Join(args[1], "model-name")
	os.MkdirAll(dir, 0o755)
	doc := fmt.Sprintf(`{"results":{"arc":{"acc,none":%g},"gsm8k":{"exact_match,strict-match":%g}}}`, s[0], s[1])
	if err := os.WriteFile(filepath.Join(dir, "results_2026-01-01.json"), []byte(doc), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestEvolveFrontRecipesMergeAndRescore runs a multi-objective evolve on
// real (small) models scored on two tasks by a separate process that
// writes one lm-eval-style results file, with a floor, on two slots.
// Every exported recipe must merge with `evomerge merge`, and the merged
// model re-scored on fresh items must land within the benchmark noise of
// the scores the front records; --merge-front 2 merges the first two.
func TestEvolveFrontRecipesMergeAndRescore(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	toymodel.Write(t, a, 1)
	toymodel.Write(t, b, 3)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	config := filepath.Join(dir, "run.yml")
	os.WriteFile(config, []byte(`algorithm: motpe
budget: 30
seed: 4
floor: {retention: 30}
objective:
  kind: external
  external:
    method: linear
    models: [`+a+`, `+b+`]
    params: [{name: weight, min: 0.05, max: 1}]
    groups: 2
    parameters: {normalize: true}
    command: [`+os.Args[0]+`, "{model}", "{output}", "{index}"]
    env: [EVOMERGE_TEST_TASKS_EVALUATOR=1]
    tasks:
      - {name: retention, score: "json:results.arc.acc,none"}
      - {name: math, score: "json:results.gsm8k.exact_match,strict-match"}
    timeout: 1m
    slots: ["0", "1"]
    workdir: `+work+`
`), 0o644)
	out, stderr, err := runArgs(t, "evolve", "--merge-front", "2", config)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "on slot 1: retention ") {
		t.Errorf("progress lacks task scores on slot 1:\n%s", stderr)
	}
	c, err := evolve.LoadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	res, err := evolve.RunMulti(context.Background(), c, true, nil)
	if err != nil || !res.Complete {
		t.Fatalf("reading the finished run back: %v", err)
	}
	front := res.Run.Front
	if len(front) < 2 {
		t.Fatalf("front of %d points:\n%s", len(front), out)
	}
	// σ of one score on 1,000 items is at most 1.6 points; the difference
	// of two independent scores at most 2.3: allow 5 of those.
	const tol = 5 * 2.3
	for i, p := range front {
		recipe := filepath.Join(c.Output, evolve.RecipeName(i))
		text, err := os.ReadFile(recipe)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), fmt.Sprintf("# scores: retention %.4g, math %.4g", p.Scores[0], p.Scores[1])) {
			t.Errorf("%s does not state its recorded scores %v:\n%s", recipe, p.Scores, text)
		}
		merged := filepath.Join(dir, fmt.Sprintf("merged-%d", i))
		if _, _, err := runArgs(t, "merge", recipe, merged); err != nil {
			t.Fatalf("evomerge merge %s: %v", recipe, err)
		}
		again, err := taskScoresOf(merged, 1_000_000+uint64(i)) // fresh items
		if err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			if d := math.Abs(again[k] - p.Scores[k]); d > tol {
				t.Errorf("%s: task %s re-scored %.1f, recorded %.1f (difference %.1f beyond the noise bound %.1f)", recipe, res.Tasks[k], again[k], p.Scores[k], d, tol)
			}
		}
		t.Logf("%s: recorded %v, re-scored %v", evolve.RecipeName(i), p.Scores, again)
	}
	for _, name := range []string{"front.md", "front.png"} {
		if _, err := os.Stat(filepath.Join(c.Output, name)); err != nil {
			t.Errorf("front folder lacks %s", name)
		}
	}
	merged := 0
	ents, _ := os.ReadDir(c.Output)
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), ".model") {
			merged++
		}
	}
	if merged != 2 || strings.Count(out, "merged ") != 2 {
		t.Errorf("--merge-front 2 merged %d models:\n%s", merged, out)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("merged models left in the workdir: %d", len(left))
	}
}

// frontFiles returns a front folder's files but merged models.
func frontFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if !e.IsDir() {
			out[e.Name()], _ = os.ReadFile(filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// TestEvolveMultiSurvivesKill9 kills a multi-objective `evomerge evolve`
// on three slots with SIGKILL part-way, resumes it, and checks that every
// evaluation is made once and the front equals that of an uninterrupted
// run, file for file.
func TestEvolveMultiSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "evomerge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := func(name string) string {
		p := filepath.Join(dir, name+".yml")
		os.WriteFile(p, []byte(`algorithm: mo-cmaes
budget: 120
seed: 6
floor: {retention: 40}
objective:
  kind: mock-tasks
  mock_tasks: {dim: 4, tasks: [retention, math, code], widths: [0.5, 0.5, 0.5], items: [100, 100, 100], fail_rate: 0.05}
  slots: 3
  delay: 4ms
`), 0o644)
		return p
	}
	whole, killed := config("whole"), config("killed")
	if _, _, err := runArgs(t, "evolve", "--quiet", whole); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "killed.journal.jsonl")
	killAfterLines(t, exec.Command(bin, "evolve", "--quiet", killed), journal, 40)
	indices := func(path string) map[int]int {
		data, _ := os.ReadFile(path)
		n := map[int]int{}
		for _, l := range bytes.Split(data, []byte("\n")) {
			var ml struct {
				Eval *multi.Eval `json:"eval"`
			}
			if json.Unmarshal(l, &ml) == nil && ml.Eval != nil {
				n[ml.Eval.Index]++
			}
		}
		return n
	}
	before := indices(journal)
	if len(before) >= 120 {
		t.Fatalf("the run finished before it was killed")
	}
	out, _, err := runArgs(t, "evolve", "--quiet", "--resume", killed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "replayed from the journal") {
		t.Errorf("output: %s", out)
	}
	after := indices(journal)
	for i := 1; i <= 120; i++ {
		if after[i] != 1 {
			t.Fatalf("evaluation %d is journaled %d times", i, after[i])
		}
	}
	a, b := frontFiles(t, filepath.Join(dir, "whole.front")), frontFiles(t, filepath.Join(dir, "killed.front"))
	if len(a) < 4 || len(a) != len(b) {
		t.Fatalf("front folders of %d and %d files", len(a), len(b))
	}
	for name, want := range a {
		if !bytes.Equal(want, b[name]) {
			t.Errorf("%s differs after kill and resume:\n%s\n---\n%s", name, want, b[name])
		}
	}
	t.Logf("killed after %d of 120 evaluations; resumed to the same front of %d files", len(before), len(a))
}

// TestEvolveMultiFlags: --merge-best and --merge-front are refused where
// they do not apply, naming the flag to use.
func TestEvolveMultiFlags(t *testing.T) {
	dir := t.TempDir()
	mo := filepath.Join(dir, "mo.yml")
	os.WriteFile(mo, []byte("algorithm: nsga2\nbudget: 20\nseed: 1\nobjective: {kind: mock-tasks, mock_tasks: {dim: 3}}\n"), 0o644)
	single := filepath.Join(dir, "single.yml")
	os.WriteFile(single, []byte("algorithm: cmaes\nbudget: 20\nseed: 1\nobjective: {kind: mock, mock: {dim: 3}}\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"evolve", "--merge-best", filepath.Join(dir, "m"), mo}, "--merge-best applies to objective kind external"},
		{[]string{"evolve", "--merge-front", "2", single}, "use --merge-best"},
		{[]string{"evolve", "--merge-front", "2", mo}, "--merge-front applies to objective kind external"},
		{[]string{"evolve", "--merge-front", "-1", mo}, "want a count"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	out, _, err := runArgs(t, "evolve", "--quiet", mo)
	if err != nil || !strings.Contains(out, "front written to") {
		t.Errorf("a multi-objective mock run: %v\n%s", err, out)
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/mergekitcheck"
	"github.com/evomerge/evomerge/internal/toymodel"
	"github.com/evomerge/evomerge/objectives/merge"
)

// playProgram lets the test binary play the programs of an evolve run, as
// a separate process: `mergekit-yaml CONFIG OUT …`, the stand-in that
// checks the recipe against mergekit's configuration rules
// (testdata/mergekit/CONFIG-RULES.md) and writes the model folder; and
// `score MODEL`, an evaluator that prints the mean of the merged
// model.layers.0.weight after a pause, so a run can be killed mid-way.
func playProgram(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "mergekit-yaml":
		return mergekitcheck.StandIn(args[1:], os.Stderr), true
	case "score":
		m, err := merge.LoadModel(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		w, _ := m.View("model.layers.0.weight")
		s := 0.0
		for _, v := range w {
			s += float64(v)
		}
		time.Sleep(20 * time.Millisecond)
		fmt.Printf("score %g\n", s/float64(len(w)))
		return 0, true
	}
	return 0, false
}

// TestEvolveMergeCommandKill9 runs `evomerge evolve` with merge_command set
// to a mergekit-yaml stand-in: every model is built by that separate
// program from the recipe evomerge writes. The run is killed with SIGKILL
// half-way and resumed, and must reach the journal and best.yml of an
// uninterrupted run; every recipe, best.yml's included, must pass
// mergekit's configuration rules, and best.yml must be one of the recipes
// the stand-in was given.
func TestEvolveMergeCommandKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "evomerge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	toymodel.Write(t, filepath.Join(dir, "base"), 0)
	toymodel.Write(t, filepath.Join(dir, "a"), 1)
	toymodel.Write(t, filepath.Join(dir, "b"), 3)
	log := filepath.Join(dir, "standin")
	os.Mkdir(log, 0o755)
	t.Setenv("EVOMERGE_STANDIN_LOG", log)
	config := func(name string) string {
		work := filepath.Join(dir, name+"-work")
		os.Mkdir(work, 0o755)
		p := filepath.Join(dir, name+".yml")
		os.WriteFile(p, []byte(`algorithm: cmaes
set: {popsize: 4}
budget: 24
seed: 7
objective:
  kind: external
  external:
    method: dare_ties
    base_model: base
    models: [a, b]
    params:
      - {name: weight, min: 0, max: 1}
      - {name: density, min: 0.5, max: 1}
    groups: 2
    parameters: {int8_mask: true}
    merge_command: [`+self+`, mergekit-yaml, "{recipe}", "{model}", --cuda, --random-seed, "{seed}"]
    command: [`+self+`, score, "{model}"]
    timeout: 1m
    retries: 1
    workdir: `+work+`
`), 0o644)
		return p
	}
	whole, killed := config("whole"), config("killed")
	if _, stderr, err := runArgs(t, "evolve", "--quiet", whole); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}

	cmd := exec.Command(bin, "evolve", "--quiet", killed)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "killed.journal.jsonl")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte(`{"eval":`)) >= 8 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run made no progress:\n%s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	before := journalEntries(t, journal)
	if len(before) >= 24 {
		t.Fatalf("the run finished before it was killed (%d evaluations)", len(before))
	}
	merged := filepath.Join(dir, "merged")
	out, stderrOut, err := runArgs(t, "evolve", "--quiet", "--resume", "--merge-best", merged, killed)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderrOut)
	}
	if !strings.Contains(out, "replayed from the journal") {
		t.Errorf("output: %s", out)
	}
	a, b := journalEntries(t, filepath.Join(dir, "whole.journal.jsonl")), journalEntries(t, journal)
	if len(a) != 24 || len(b) != 24 {
		t.Fatalf("%d and %d evaluations journaled, want 24 each", len(a), len(b))
	}
	for i := 1; i <= 24; i++ {
		if a[i] != b[i] {
			t.Fatalf("evaluation %d differs after resume:\n%s\n%s", i, a[i], b[i])
		}
		if strings.HasSuffix(a[i], "null]") {
			t.Errorf("evaluation %d failed: %s", i, a[i])
		}
	}
	wa, _ := os.ReadFile(filepath.Join(dir, "whole.best.yml"))
	wb, _ := os.ReadFile(filepath.Join(dir, "killed.best.yml"))
	if len(wa) == 0 || !bytes.Equal(wa, wb) {
		t.Errorf("results differ:\n%s\n---\n%s", wa, wb)
	}

	// best.yml passes mergekit's rules, and is (but for its comment
	// header) the recipe the stand-in was given for one evaluation.
	if err := mergekitcheck.Check(wb); err != nil {
		t.Errorf("best.yml breaks mergekit's configuration rules: %v\n%s", err, wb)
	}
	var body []string
	for _, l := range strings.SplitAfter(string(wb), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	files, _ := filepath.Glob(filepath.Join(log, "recipe-*.yml"))
	given := false
	for _, f := range files {
		r, _ := os.ReadFile(f)
		given = given || string(r) == strings.Join(body, "")
	}
	// 24 + 24 + the evaluations redone after the kill + --merge-best.
	if len(files) < 49 || !given {
		t.Errorf("the stand-in accepted %d recipes (want at least 49), best.yml among them: %v", len(files), given)
	}
	if _, err := merge.LoadModel(merged); err != nil {
		t.Errorf("--merge-best through merge_command: %v", err)
	}
	for _, w := range []string{"whole-work", "killed-work"} {
		if left, _ := os.ReadDir(filepath.Join(dir, w)); len(left) != 0 {
			t.Errorf("%s: merge folders left behind: %d", w, len(left))
		}
	}
	t.Logf("killed after %d of 24 evaluations; resumed to the same result; the stand-in merged %d recipes", len(before), len(files))
}

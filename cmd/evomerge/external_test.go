package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/objectives/merge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// TestEvolveWithExternalEvaluator runs `evomerge evolve` on real networks:
// the MNIST zoo's reader and skill experts are merged by the native engine
// into temporary folders, and each merge is scored by a separate process —
// this project's own `evomerge zoo eval` — over two device slots, exactly as
// lm-evaluation-harness would be run on two GPUs.
func TestEvolveWithExternalEvaluator(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the zoo and builds the command")
	}
	z, err := zoo.Build(zoo.TestConfig(raceEnabled))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "evomerge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	config := filepath.Join(dir, "run.yml")
	os.WriteFile(config, []byte(`algorithm: cmaes
set: {popsize: 4}
budget: 12
seed: 2
objective:
  kind: external
  external:
    method: task_arithmetic
    base_model: `+z.Path(zoo.Base)+`
    models: [`+z.Path(zoo.Reader)+`, `+z.Path(zoo.Skill)+`]
    params: [{name: weight, min: 0, max: 3}]
    groups: 3
    command: [`+bin+`, zoo, eval, -task, target, -items, "1000:3000", "{model}"]
    score: stdout
    timeout: 2m
    slots: ["0", "1"]
    workdir: `+work+`
`), 0o644)
	out, stderr, err := runArgs(t, "evolve", config)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "on slot 0") || !strings.Contains(stderr, "on slot 1") {
		t.Errorf("evaluations did not use both slots:\n%s", stderr)
	}
	c, err := evolve.LoadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	entries := journalEntries(t, c.Journal)
	if len(entries) != 12 {
		t.Fatalf("%d evaluations journaled, want 12", len(entries))
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("merged models left behind: %d folders", len(left))
	}
	// The best merge must beat both experts, which are near chance on the
	// target task: that is what merging is for.
	res := out[strings.Index(out, "best observed: ")+len("best observed: "):]
	var best float64
	if _, err := fmt.Sscan(res, &best); err != nil {
		t.Fatalf("no best score in %q", out)
	}
	reader, err := zoo.EvaluateFolder(z.Path(zoo.Reader), "target", zoo.Range(1000, 3000))
	if err != nil {
		t.Fatal(err)
	}
	skill, _ := zoo.EvaluateFolder(z.Path(zoo.Skill), "target", zoo.Range(1000, 3000))
	if !(best > 100*max(reader, skill)+20) {
		t.Errorf("best merge %.1f%% does not clearly beat the experts (%.1f%%, %.1f%%)", best, 100*reader, 100*skill)
	}
	// The recommendation is a mergekit recipe evomerge merge accepts.
	recipe, err := os.ReadFile(c.Output)
	if err != nil {
		t.Fatal(err)
	}
	// Its header says which point it is, how it was scored, on what.
	for _, want := range []string{"# shipped: ", "# preferred to: ", "scored by fresh evaluation", "# items: the evaluator command [" + bin + " zoo eval"} {
		if !strings.Contains(string(recipe), want) {
			t.Errorf("best recipe's header lacks %q:\n%s", want, recipe)
		}
	}
	if _, err := merge.ParseRecipe(recipe); err != nil {
		t.Errorf("best recipe does not parse: %v\n%s", err, recipe)
	}
	if _, _, err := runArgs(t, "merge", c.Output, filepath.Join(dir, "merged")); err != nil {
		t.Errorf("merging the best recipe: %v", err)
	}
	t.Logf("best merge %.1f%%; experts %.1f%% and %.1f%%", best, 100*reader, 100*skill)
}

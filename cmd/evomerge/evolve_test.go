package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/bench"
)

func journalEntries(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"eval":`)) {
			continue // the run's record, at the end
		}
		var l struct {
			Eval struct {
				Index    int       `json:"index"`
				X        []float64 `json:"x"`
				Observed *float64  `json:"observed"`
			} `json:"eval"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e := l.Eval
		if _, dup := out[e.Index]; dup {
			t.Fatalf("evaluation %d recorded twice", e.Index)
		}
		b, _ := json.Marshal([]any{e.X, e.Observed})
		out[e.Index] = string(b)
	}
	return out
}

// journalOrder lists a journal's evaluation indices in file order.
func journalOrder(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, l := range bytes.Split(data, []byte("\n")) {
		var e bench.EvalLine
		if bytes.HasPrefix(l, []byte(`{"eval":`)) && json.Unmarshal(l, &e) == nil {
			out = append(out, e.Eval.Index)
		}
	}
	return out
}

// TestEvolveSurvivesKill9 kills `evomerge evolve` with SIGKILL in the middle
// of a run, resumes it, and checks that no evaluation was lost or repeated
// and that the result equals that of an uninterrupted run with the same seed.
func TestEvolveSurvivesKill9(t *testing.T) {
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
		os.WriteFile(p, []byte(`algorithm: cmaes
budget: 150
seed: 5
objective:
  kind: scenario
  scenario: crashy-merge
  delay: 4ms
`), 0o644)
		return p
	}
	whole, killed := config("whole"), config("killed")
	if _, _, err := runArgs(t, "evolve", "--quiet", whole); err != nil {
		t.Fatal(err)
	}

	journal := filepath.Join(dir, "killed.journal.jsonl")
	killAfterLines(t, exec.Command(bin, "evolve", "--quiet", killed), journal, 50)
	before := journalEntries(t, journal)
	if len(before) >= 150 {
		t.Fatalf("the run finished before it was killed (%d evaluations)", len(before))
	}
	if _, _, err := runArgs(t, "evolve", "--quiet", killed); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("restarting over a journal without --resume: %v", err)
	}
	out, _, err := runArgs(t, "evolve", "--quiet", "--resume", killed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "replayed from the journal") {
		t.Errorf("output: %s", out)
	}
	a, b := journalEntries(t, filepath.Join(dir, "whole.journal.jsonl")), journalEntries(t, journal)
	if len(a) != 150 || len(b) != 150 {
		t.Fatalf("%d and %d evaluations journaled, want 150 each", len(a), len(b))
	}
	for i := 1; i <= 150; i++ {
		if a[i] != b[i] {
			t.Fatalf("evaluation %d differs after resume:\n%s\n%s", i, a[i], b[i])
		}
	}
	// On one slot the records are also in the same order, and the run's
	// record closes both journals.
	ra, _ := bench.ReadRuns(filepath.Join(dir, "whole.journal.jsonl"))
	rb, _ := bench.ReadRuns(journal)
	if oa, ob := journalOrder(t, filepath.Join(dir, "whole.journal.jsonl")), journalOrder(t, journal); !slices.Equal(oa, ob) || len(ra) != 1 || len(rb) != 1 {
		t.Errorf("the journals differ in order (%v, %v) or lack the run's record (%d, %d)", oa, ob, len(ra), len(rb))
	}
	wa, _ := os.ReadFile(filepath.Join(dir, "whole.best.yml"))
	wb, _ := os.ReadFile(filepath.Join(dir, "killed.best.yml"))
	if len(wa) == 0 || !bytes.Equal(wa, wb) {
		t.Errorf("results differ:\n%s\n---\n%s", wa, wb)
	}
	t.Logf("killed after %d of 150 evaluations; resumed to the same result", len(before))
}

func TestEvolveConfigErrors(t *testing.T) {
	dir := t.TempDir()
	const head = "algorithm: cmaes\nseed: 1\n"
	ext := "external: {method: linear, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1"
	cases := map[string]struct{ body, want string }{
		"unknown key":       {head + "budgett: 10\nobjective: {kind: scenario, scenario: sakana-ps}\n", "budgett"},
		"unknown algorithm": {"algorithm: nope\nseed: 1\nobjective: {kind: scenario, scenario: sakana-ps}\n", "unknown algorithm \"nope\""},
		"no algorithm":      {"seed: 1\nobjective: {kind: scenario, scenario: sakana-ps}\n", "algorithm is missing (known: "},
		"no seed":           {"algorithm: cmaes\nobjective: {kind: scenario, scenario: sakana-ps}\n", "seed is missing"},
		"no kind":           {head + "budget: 10\n", "objective.kind is missing"},
		"bad scenario":      {head + "objective: {kind: scenario, scenario: nope}\n", "objective.scenario"},
		"bad mock":          {head + "budget: 5\nobjective: {kind: mock, mock: {dim: 0}}\n", "objective.mock"},
		"foreign block":     {head + "budget: 5\nobjective: {kind: mock, mock: {dim: 2}, " + ext + ", command: [x]}}\n", "objective.kind mock does not use objective.external"},
		"bad method":        {head + "budget: 5\nobjective: {kind: external, " + strings.Replace(ext, "linear", "nope", 1) + ", command: [x]}}\n", "nope"},
		"no command":        {head + "budget: 5\nobjective: {kind: external, " + ext + "}}\n", "empty command"},
		"bad direction":     {head + "budget: 5\nobjective: {kind: external, " + ext + ", command: [x], direction: up}}\n", "direction"},
		"not yaml":          {"{{{", "config"},
		"merge no recipe":   {head + "budget: 5\nobjective: {kind: external, " + ext + ", command: [x], merge_command: [mergekit-yaml, c.yml, '{model}']}}\n", "objective.external: merge_command [\"mergekit-yaml\" \"c.yml\" \"{model}\"] names no {recipe}"},
		"merge no seed":     {head + "budget: 5\nobjective: {kind: external, " + strings.Replace(ext, "linear", "dare_ties", 1) + ", command: [x], merge_command: [m, '{recipe}', '{model}']}}\n", "method dare_ties draws random masks"},
	}
	for name, tc := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
		os.WriteFile(p, []byte(tc.body), 0o644)
		if _, _, err := runArgs(t, "evolve", p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
	if _, _, err := runArgs(t, "evolve"); err == nil {
		t.Error("no config accepted")
	}
}

// TestEvolveNeverOverwritesItsConfig: `output:` equal to the config's own
// path used to replace the config with the recommendation after the run.
func TestEvolveNeverOverwritesItsConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run.yml")
	body := "algorithm: random\nseed: 1\nbudget: 5\noutput: run.yml\nobjective: {kind: mock, mock: {dim: 2}}\n"
	os.WriteFile(p, []byte(body), 0o644)
	if _, _, err := runArgs(t, "evolve", "--quiet", p); err == nil || !strings.Contains(err.Error(), "is the config") {
		t.Errorf("error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("the config was overwritten:\n%s", b)
	}
	// --resume of a run that has no journal names the journal it looked for.
	os.WriteFile(p, []byte(strings.Replace(body, "output: run.yml", "journal: typo.jsonl", 1)), 0o644)
	if _, _, err := runArgs(t, "evolve", "--resume", p); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "typo.jsonl")+" does not exist") {
		t.Errorf("--resume without a journal: %v", err)
	}
}

// killAfterLines starts cmd, waits until journal holds lines lines (a
// minute at most), then kills it with SIGKILL, which leaves it no chance to
// clean up: the state an interrupted run leaves behind.
func killAfterLines(t *testing.T, cmd *exec.Cmd, journal string, lines int) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte("\n")) >= lines {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the run made no progress")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

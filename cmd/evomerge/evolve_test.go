package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		var e struct {
			Index    int       `json:"index"`
			X        []float64 `json:"x"`
			Observed *float64  `json:"observed"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, dup := out[e.Index]; dup {
			t.Fatalf("evaluation %d recorded twice", e.Index)
		}
		b, _ := json.Marshal([]any{e.X, e.Observed})
		out[e.Index] = string(b)
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

	cmd := exec.Command(bin, "evolve", "--quiet", killed)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "killed.journal.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte("\n")) >= 50 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the run made no progress")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL: no chance to clean up
	cmd.Wait()
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
	wa, _ := os.ReadFile(filepath.Join(dir, "whole.best.yml"))
	wb, _ := os.ReadFile(filepath.Join(dir, "killed.best.yml"))
	if len(wa) == 0 || !bytes.Equal(wa, wb) {
		t.Errorf("results differ:\n%s\n---\n%s", wa, wb)
	}
	t.Logf("killed after %d of 150 evaluations; resumed to the same result", len(before))
}

func TestEvolveConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":       "algorithm: cmaes\nbudgett: 10\nobjective: {kind: scenario, scenario: sakana-ps}\n",
		"unknown algorithm": "algorithm: nope\nobjective: {kind: scenario, scenario: sakana-ps}\n",
		"no kind":           "algorithm: cmaes\nbudget: 10\n",
		"bad scenario":      "objective: {kind: scenario, scenario: nope}\n",
		"bad mock":          "budget: 5\nobjective: {kind: mock, mock: {dim: 0}}\n",
		"bad method":        "budget: 5\nobjective: {kind: external, external: {method: nope, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [x]}}\n",
		"no command":        "budget: 5\nobjective: {kind: external, external: {method: linear, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1}}\n",
		"bad direction":     "budget: 5\nobjective: {kind: external, external: {method: linear, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [x], direction: up}}\n",
		"not yaml":          "{{{",
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, _, err := runArgs(t, "evolve", p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := runArgs(t, "evolve"); err == nil {
		t.Error("no config accepted")
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMOBench runs a small multi-objective comparison, checks its outputs,
// rebuilds its page with mobench report, and checks that the page comes
// out byte-identical from the records.
func TestMOBench(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runArgs(t, "mobench", "--dim", "4", "--items", "100", "--opt", "names=retention,math", "--floor", "retention=40",
		"--width", "0.5", "--budgets", "20,40", "--seeds", "3", "--algs", "nsga2,mo-random,ws-cmaes", "--out", dir, "--quiet", "--vary-objective")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "18 runs") {
		t.Errorf("output %q", out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"floors: retention ≥ 40", "**40 evaluations** (3 seeds per method)", "| ws-cmaes |", "front-mock-tasks-2tasks-40-retention-math.png"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	again := t.TempDir()
	if _, _, err := runArgs(t, "mobench", "report", "-out", again, filepath.Join(dir, "runs.jsonl")); err != nil {
		t.Fatal(err)
	}
	page2, _ := os.ReadFile(filepath.Join(again, "README.md"))
	if string(page) != string(page2) {
		t.Error("mobench report of the same records gives another page")
	}
}

// TestMOBenchErrors: bad input is refused with an error naming it, and the
// multi-objective methods stay out of single-objective commands.
func TestMOBenchErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mobench", "--out", dir, "--algs", "cmaes"}, "single-objective method"},
		{[]string{"mobench", "--out", dir, "--objective", "mock"}, "scores one task"},
		{[]string{"mobench", "--out", dir, "--floor", "retention"}, "want task=score"},
		{[]string{"mobench", "--out", dir, "--floor", "t9=50", "--seeds", "1", "--budgets", "5"}, "floor on task \"t9\""},
		{[]string{"mobench", "--out", dir, "--budgets", "0"}, "not a positive integer"},
		{[]string{"mobench", "--algs", "nsga2"}, "--out is required"},
		{[]string{"mobench", "--out", dir, "--set", "cmaes.popsize=4"}, "single-objective"},
		{[]string{"bench", "--algs", "nsga2", "--seeds", "1"}, "multi-objective method"},
		{[]string{"mobench", "--out", dir, "--objective", "mnist-multitask", "--vary-objective"}, "--opt instance=N"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

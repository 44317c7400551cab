package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

// TestResumeRunsOtherPolicies reproduces issue 10's example: after a
// scenario's runs are journalled, --resume with another --reeval or
// --target is another cell, so its runs are made (not "already recorded")
// and the report keeps the three cells apart instead of pooling them.
func TestResumeRunsOtherPolicies(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "runs.jsonl")
	base := []string{"bench", "--scenario", "sd-block-merge", "--algs", "random", "--seeds", "2", "--format", "csv", "--journal", j}
	if _, _, err := runArgs(t, base...); err != nil {
		t.Fatal(err)
	}
	for i, extra := range [][]string{{"--reeval", "2x2"}, {"--target", "50"}} {
		args := append(append([]string{}, base...), "--resume")
		out, _, err := runArgs(t, append(args, extra...)...)
		if err != nil {
			t.Fatalf("%v: %v", extra, err)
		}
		if !strings.Contains(out, "\nrandom,2,") { // algorithm,runs,…
			t.Errorf("%v: the table does not count the 2 new runs:\n%s", extra, out)
		}
		runs, err := bench.ReadRuns(j)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2*(i+2) {
			t.Errorf("%v: the journal holds %d runs, want %d", extra, len(runs), 2*(i+2))
		}
	}
	// Resuming the same command again makes nothing new.
	if _, _, err := runArgs(t, append(append([]string{}, base...), "--resume", "--target", "50")...); err != nil {
		t.Fatal(err)
	}
	if runs, _ := bench.ReadRuns(j); len(runs) != 6 {
		t.Errorf("a repeated resume appended runs: %d records, want 6", len(runs))
	}
	out := filepath.Join(dir, "report")
	if _, _, err := runArgs(t, "report", "--out", out, "--no-plots", j); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"\n## sd-block-merge\n", "\n## sd-block-merge/reeval=2x2\n", "\n## sd-block-merge/target=50\n"} {
		if !strings.Contains(string(page), h) {
			t.Errorf("the report has no section %q", strings.TrimSpace(h))
		}
	}
}

// TestTuneReeval: tune takes bench's --reeval and says so in its header.
func TestTuneReeval(t *testing.T) {
	out, _, err := runArgs(t, "tune", "--alg", "one-plus-one-es", "--scenario", "sd-block-merge", "--seeds", "3", "--grid", "sigma=0.1,0.2", "--reeval", "2x2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "recommendation reeval 2x2") {
		t.Errorf("the tune's header does not name its policy:\n%s", out)
	}
}

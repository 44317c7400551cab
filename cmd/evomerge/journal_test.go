package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

// TestBenchJournalHasOneWriter: while another process writes a journal, a
// second `bench --resume` on it is refused before it runs anything,
// instead of appending duplicates of the same runs (issue 9, item 6).
func TestBenchJournalHasOneWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.jsonl")
	held, err := bench.LockJournal(path) // the other process
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"bench", "--algs", "random", "--seeds", "2", "--budget", "20", "--format", "csv", "--journal", path, "--resume"}
	out, _, err := runArgs(t, args...)
	if err == nil || !strings.Contains(err.Error(), "in use by another evomerge process") || out != "" {
		t.Errorf("second writer: %v\n%s", err, out)
	}
	held.Close()
	if _, _, err := runArgs(t, args...); err != nil {
		t.Errorf("once the journal is free: %v", err)
	}
}

// TestEvolveJournalHasOneWriter: the same for the journal of evolve.
func TestEvolveJournalHasOneWriter(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "run.yml")
	if err := os.WriteFile(cfg, []byte("algorithm: random\nbudget: 10\nseed: 1\nobjective: {kind: mock, mock: {dim: 3}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "run.journal.jsonl")
	held, err := bench.LockJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, _, err := runArgs(t, "evolve", "--quiet", "--resume", cfg); err == nil || !strings.Contains(err.Error(), "in use by another evomerge process") {
		t.Errorf("second writer of %s: %v", journal, err)
	}
}

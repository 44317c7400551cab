package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportNeedsItsOwnFolder: `report` has no default folder that could
// clobber committed pages, and neither it nor `bench --report` writes into
// a folder holding files it did not write (issue 9, item 7); bench refuses
// before running anything.
func TestReportNeedsItsOwnFolder(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "runs.jsonl")
	if _, _, err := runArgs(t, "bench", "--algs", "random", "--seeds", "2", "--budget", "20", "--format", "csv", "--journal", journal); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	os.Mkdir("results", 0o755)
	os.WriteFile(filepath.Join("results", "README.md"), []byte("committed page\n"), 0o644)
	if _, _, err := runArgs(t, "report", "--no-plots", journal); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("report without --out: %v", err)
	}
	if _, _, err := runArgs(t, "report", "--no-plots", "--out", "results", journal); err == nil || !strings.Contains(err.Error(), "README.md") {
		t.Errorf("report into a foreign folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join("results", "README.md")); string(b) != "committed page\n" {
		t.Fatalf("the committed page was overwritten: %q", b)
	}
	other := filepath.Join(dir, "other.jsonl")
	_, _, err := runArgs(t, "bench", "--algs", "random", "--seeds", "2", "--budget", "20", "--format", "csv", "--journal", other, "--report", "results")
	if err == nil || !strings.Contains(err.Error(), "README.md") {
		t.Errorf("bench --report into a foreign folder: %v", err)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("bench ran (and journaled) before refusing its report folder")
	}
	os.Mkdir("page2", 0o755)
	_, _, err = runArgs(t, "bench", "--algs", "random", "--seeds", "2", "--budget", "20", "--format", "csv", "--journal", "page2/runs.jsonl", "--report", "page2")
	if err == nil || !strings.Contains(err.Error(), "inside the --report folder") {
		t.Errorf("a journal inside the report folder: %v", err)
	}
	if _, _, err := runArgs(t, "report", "--no-plots", "--force", "--out", "results", journal); err != nil {
		t.Errorf("report --force: %v", err)
	}
	if _, _, err := runArgs(t, "report", "--no-plots", "--out", "page", journal); err != nil {
		t.Errorf("report into a new folder: %v", err)
	}
	if _, _, err := runArgs(t, "report", "--no-plots", "--out", "page", journal); err != nil {
		t.Errorf("report into its own folder again: %v", err)
	}
}

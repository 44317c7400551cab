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

// `report --out` writes the HTML page beside README.md, `--html DIR` the
// page alone into DIR; --highlight names registered methods only, and a
// named method keeps its colour in a figure where it would be grey.
func TestReportHTML(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "runs.jsonl")
	algs := "simple-es,cmaes,ga,random,de,pso,one-plus-one-es,sep-cmaes"
	if _, _, err := runArgs(t, "bench", "--algs", algs, "--seeds", "2", "--budget", "30", "--format", "csv", "--journal", journal); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "page")
	stdout, _, err := runArgs(t, "report", "--out", out, "--command", "x", journal)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, filepath.Join(out, "index.html")) {
		t.Errorf("report does not say it wrote index.html: %q", stdout)
	}
	for _, f := range []string{"README.md", "index.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	only := filepath.Join(dir, "html")
	if _, _, err := runArgs(t, "report", "--html", only, "--command", "x", journal); err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(only)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "index.html report-files.txt" {
		t.Errorf("--html folder holds %v", names)
	}
	a, _ := os.ReadFile(filepath.Join(out, "index.html"))
	b, _ := os.ReadFile(filepath.Join(only, "index.html"))
	if string(a) != string(b) {
		t.Error("the page differs between --out and --html")
	}
	if _, _, err := runArgs(t, "report", "--html", filepath.Join(dir, "x"), "--highlight", "cmaez", journal); err == nil || !strings.Contains(err.Error(), "--highlight") {
		t.Errorf("--highlight cmaez: %v", err)
	}
	if _, _, err := runArgs(t, "report", journal); err == nil || !strings.Contains(err.Error(), "--html") {
		t.Errorf("neither --out nor --html: %v", err)
	}
	md := filepath.Join(dir, "md")
	if _, _, err := runArgs(t, "report", "--out", md, "--no-html", "--no-plots", "--command", "x", journal); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(md, "index.html")); !os.IsNotExist(err) {
		t.Errorf("--no-html wrote index.html (%v)", err)
	}
	if m, _ := os.ReadFile(filepath.Join(md, "report-files.txt")); strings.Contains(string(m), "index.html") {
		t.Errorf("--no-html lists index.html in the manifest: %s", m)
	}
	if _, _, err := runArgs(t, "report", "--html", filepath.Join(dir, "y"), "--no-html", journal); err == nil || !strings.Contains(err.Error(), "--no-html") {
		t.Errorf("--html with --no-html: %v", err)
	}
	// Which method is grey depends on the ranking; naming every method
	// leaves none grey.
	hl := filepath.Join(dir, "hl")
	if _, _, err := runArgs(t, "report", "--html", hl, "--highlight", algs, journal); err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(filepath.Join(hl, "index.html"))
	grey := "stroke:#B8B8B8"
	if !strings.Contains(string(a), grey) || strings.Contains(string(c), grey) {
		t.Errorf("grey curves: %v without --highlight (want some), %v with every method named (want none)", strings.Contains(string(a), grey), strings.Contains(string(c), grey))
	}
}

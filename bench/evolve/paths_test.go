package evolve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

const mockBody = "algorithm: random\nbudget: 6\nseed: 1\nobjective: {kind: mock, mock: {dim: 2}}\n"

// writeConfig writes body (plus extra lines) as dir/run.yml and loads it.
func writeConfig(t *testing.T, dir, body string) (*Config, string) {
	t.Helper()
	p := filepath.Join(dir, "run.yml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// TestOutputsNeverOverwriteInputs: output equal to the config used to
// overwrite the config; output naming a folder failed only after the
// whole run. Every such path is now refused before the first evaluation,
// with the inputs untouched and no journal written.
func TestOutputsNeverOverwriteInputs(t *testing.T) {
	cases := []struct {
		name, extra, want string
		setup             func(dir string)
	}{
		{"output is the config", "output: run.yml\n", "output " + "%d/run.yml is the config", nil},
		{"output is the config, spelt otherwise", "output: ./sub/../run.yml\n", "is the config", func(dir string) { os.Mkdir(filepath.Join(dir, "sub"), 0o755) }},
		{"output is a link to the config", "output: link.yml\n", "is the config", func(dir string) { os.Symlink(filepath.Join(dir, "run.yml"), filepath.Join(dir, "link.yml")) }},
		{"output is a hard link to the config", "output: hard.yml\n", "is the config", func(dir string) { os.Link(filepath.Join(dir, "run.yml"), filepath.Join(dir, "hard.yml")) }},
		{"journal is the config", "journal: run.yml\n", "journal %d/run.yml is the config", nil},
		{"output is the journal", "output: j.jsonl\njournal: j.jsonl\n", "is the journal", nil},
		{"output is a folder", "output: out\n", "output %d/out is a folder", func(dir string) { os.Mkdir(filepath.Join(dir, "out"), 0o755) }},
		{"journal is a folder", "journal: out\n", "journal %d/out is a folder", func(dir string) { os.Mkdir(filepath.Join(dir, "out"), 0o755) }},
		{"output folder missing", "output: nowhere/best.yml\n", "folder %d/nowhere does not exist", nil},
		{"output is the progress page", "output: run.progress.html\n", "output %d/run.progress.html is the progress page", nil},
		{"the progress page is a folder", "", "progress page %d/run.progress.html is a folder", func(dir string) { os.Mkdir(filepath.Join(dir, "run.progress.html"), 0o755) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			body := mockBody + tc.extra
			p := filepath.Join(dir, "run.yml")
			os.WriteFile(p, []byte(body), 0o644)
			if tc.setup != nil {
				tc.setup(dir)
			}
			c, err := LoadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), c, false, nil)
			want := strings.ReplaceAll(tc.want, "%d", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want %q", err, want)
			}
			if b, _ := os.ReadFile(p); string(b) != body {
				t.Errorf("the config was changed:\n%s", b)
			}
			if st, err := os.Stat(c.Journal); err == nil && !st.IsDir() && c.Journal != p {
				t.Errorf("a refused run wrote the journal %s", c.Journal)
			}
		})
	}
}

// TestExternalOutputsOutsideInputs: the output, the journal, the workdir
// and --merge-best must not be (or lie in) a model folder, nor be the
// evaluator's script.
func TestExternalOutputsOutsideInputs(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"base", "a", "b"} {
		os.Mkdir(filepath.Join(dir, m), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "score.sh"), []byte("#!/bin/sh\necho 1\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "merge.sh"), []byte("#!/bin/sh\nmergekit-yaml \"$@\"\n"), 0o755)
	ext := "algorithm: random\nbudget: 4\nseed: 1\nobjective: {kind: external, external: {method: linear, base_model: base, models: [a, b], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [sh, '" + dir + "/score.sh', '{model}']%s}}\n"
	for _, tc := range []struct{ extra, objExtra, want string }{
		{"output: a/best.yml\n", "", "output " + dir + "/a/best.yml is inside model folder " + dir + "/a"},
		{"journal: base/j.jsonl\n", "", "journal " + dir + "/base/j.jsonl is inside base model folder"},
		{"output: score.sh\n", "", "output " + dir + "/score.sh is the evaluator file"},
		{"", ", workdir: b", "workdir " + dir + "/b is inside model folder"},
		{"output: merge.sh\n", ", merge_command: [sh, '" + dir + "/merge.sh', '{recipe}', '{model}']", "output " + dir + "/merge.sh is the merge_command file"},
	} {
		os.WriteFile(filepath.Join(dir, "run.yml"), []byte(tc.extra+strings.Replace(ext, "%s", tc.objExtra, 1)), 0o644)
		c, err := LoadConfig(filepath.Join(dir, "run.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CheckPaths(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q%q: error %v, want %q", tc.extra, tc.objExtra, err, tc.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "run.yml"), []byte(strings.Replace(ext, "%s", "", 1)), 0o644)
	c, err := LoadConfig(filepath.Join(dir, "run.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckPaths(); err != nil {
		t.Fatalf("default paths refused: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "full"), 0o755)
	os.WriteFile(filepath.Join(dir, "full", "x"), nil, 0o644)
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(dir, "a"), "is model folder " + dir + "/a or inside it"},
		{filepath.Join(dir, "base", "merged"), "inside it"},
		{filepath.Join(dir, "run.yml"), "is the config"},
		{filepath.Join(dir, "full"), "exists and is not empty"},
		{filepath.Join(dir, "no", "merged"), "does not exist"},
	} {
		if err := c.CheckMergeDir(tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--merge-best %s: error %v, want %q", tc.dir, err, tc.want)
		}
	}
	if err := c.CheckMergeDir(filepath.Join(dir, "merged")); err != nil {
		t.Errorf("a fresh --merge-best folder refused: %v", err)
	}
}

// TestRefusedRunLeavesNoJournal: a run refused before its first
// evaluation used to leave a header-only journal, which blocked every
// later run of the corrected config ("exists: pass --resume") and its
// --resume ("written by another run").
func TestRefusedRunLeavesNoJournal(t *testing.T) {
	dir := t.TempDir()
	c, _ := writeConfig(t, dir, "algorithm: ga\nset: {pop: 1}\nbudget: 6\nseed: 1\nobjective: {kind: mock, mock: {dim: 2}}\n")
	if _, err := Run(context.Background(), c, false, nil); err == nil || !strings.Contains(err.Error(), "pop") {
		t.Fatalf("ga with pop 1: %v", err)
	}
	if _, err := os.Stat(c.Journal); err == nil {
		t.Fatalf("the refused run left a journal")
	}
	c, _ = writeConfig(t, dir, "algorithm: ga\nbudget: 6\nseed: 1\nobjective: {kind: mock, mock: {dim: 2}}\n")
	if _, err := Run(context.Background(), c, false, nil); err != nil {
		t.Fatalf("the corrected config: %v", err)
	}
	// A header-only journal (as older versions left) records nothing: it
	// is started afresh, with or without --resume, whatever its header.
	for _, resume := range []bool{false, true} {
		os.WriteFile(c.Journal, []byte(`{"config":"0123456789abcdef","algorithm":"ga","seed":1,"budget":6}`+"\n"), 0o644)
		r, err := Run(context.Background(), c, resume, nil)
		if err != nil || r.Evaluations != 6 || r.Replayed != 0 {
			t.Errorf("resume %v over a header-only journal: %v", resume, err)
		}
	}
	// Something that is not a journal is never taken for an empty one.
	os.WriteFile(c.Journal, []byte("precious"), 0o644)
	if _, err := Run(context.Background(), c, false, nil); err == nil {
		t.Error("a journal path naming another file was overwritten")
	}
	if b, _ := os.ReadFile(c.Journal); string(b) != "precious" {
		t.Errorf("the file was changed: %q", b)
	}
}

// TestResumeWithoutJournal: --resume with a journal that does not exist
// (a mistyped path) used to start afresh silently.
func TestResumeWithoutJournal(t *testing.T) {
	c, _ := writeConfig(t, t.TempDir(), mockBody+"journal: typo.jsonl\n")
	_, err := Run(context.Background(), c, true, nil)
	if err == nil || !strings.Contains(err.Error(), "journal "+c.Journal+" does not exist: nothing to resume") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(c.Journal); err == nil {
		t.Error("the failed resume created the journal")
	}
}

// TestStaleFoldersRemovedUnderTheLock: the merge folders a killed run
// left are removed only once the run holds its journal. A second process
// started on a running config is refused by the journal's lock, and used
// to delete the running one's merged models before being refused.
func TestStaleFoldersRemovedUnderTheLock(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"a", "b", "work"} {
		os.Mkdir(filepath.Join(dir, m), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "score.sh"), []byte("#!/bin/sh\necho 1\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "merge.sh"), []byte("#!/bin/sh\nmergekit-yaml \"$@\"\n"), 0o755)
	c, _ := writeConfig(t, dir, "algorithm: random\nbudget: 4\nseed: 1\nobjective: {kind: external, external: {method: linear, models: [a, b], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [sh, '"+dir+"/score.sh', '{model}'], workdir: work}}\n")
	inUse := filepath.Join(dir, "work", "evomerge-eval-"+c.Hash()+"-3-123")
	os.Mkdir(inUse, 0o755)
	held, err := bench.LockJournal(c.Journal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), c, true, nil); err == nil || !strings.Contains(err.Error(), "in use by another evomerge process") {
		t.Errorf("a second process on a held journal: %v", err)
	}
	if _, err := os.Stat(inUse); err != nil {
		t.Errorf("the running process's merge folder was removed: %v", err)
	}
	held.Close()
	os.Remove(c.Journal)
	// The run itself fails (the model folders are empty), after it removed
	// what a killed run left.
	Run(context.Background(), c, false, nil)
	if _, err := os.Stat(inUse); err == nil {
		t.Error("a stale merge folder was kept")
	}
}

package bench

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func journalRuns(t *testing.T) []*Run {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runs.jsonl")
	if err := runJournaled(t, p, false, 0); err != nil {
		t.Fatal(err)
	}
	runs, err := ReadRuns(p)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestReportWritesOnlyItsOwnFolder: a report never writes over files it
// did not write (issue 9, item 7: `report` run from the repository root
// overwrote the committed results/README.md), unless forced; a folder it
// wrote itself it rewrites.
func TestReportWritesOnlyItsOwnFolder(t *testing.T) {
	runs := journalRuns(t)
	dir := t.TempDir()
	notes := filepath.Join(dir, "README.md")
	os.WriteFile(notes, []byte("my notes\n"), 0o644)
	o := ReportOptions{Dir: dir, Command: "test", Seed: 1, Plots: true}
	err := BuildReport(runs, o)
	if err == nil || !strings.Contains(err.Error(), "holds README.md, which evomerge report did not write") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("foreign README.md: %v", err)
	}
	if b, _ := os.ReadFile(notes); string(b) != "my notes\n" {
		t.Fatalf("a refused report wrote over README.md: %q", b)
	}
	if err := CheckReportDir(dir, false); err == nil {
		t.Error("CheckReportDir accepts a foreign folder")
	}

	// Forced, it writes its page and lists exactly what it wrote.
	os.Rename(notes, filepath.Join(dir, "notes.md"))
	o.Force = true
	if err := BuildReport(runs, o); err != nil {
		t.Fatal(err)
	}
	listed := readManifest(t, dir)
	if !slices.Contains(listed, "README.md") || slices.Contains(listed, "notes.md") || !slices.ContainsFunc(listed, func(s string) bool { return strings.HasPrefix(s, "plots/") }) {
		t.Errorf("manifest %v", listed)
	}
	for _, l := range listed {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(l))); err != nil {
			t.Errorf("manifest lists %s: %v", l, err)
		}
	}
	// notes.md is still foreign.
	o.Force = false
	if err := BuildReport(runs, o); err == nil || !strings.Contains(err.Error(), "notes.md") {
		t.Errorf("foreign notes.md: %v", err)
	}

	// A folder holding only what the report wrote is rewritten, also
	// after a crash left a temporary file of the atomic writer.
	own := filepath.Join(t.TempDir(), "page")
	o.Dir = own
	if err := BuildReport(runs, o); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(own, "README.md"))
	os.WriteFile(filepath.Join(own, "plots", "."+path.Base(listed[len(listed)-1])+".tmp-123"), []byte("half"), 0o644)
	if err := BuildReport(runs, o); err != nil {
		t.Fatalf("rewriting its own folder: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(own, "README.md")); string(again) != string(first) {
		t.Error("the rewritten page differs")
	}
	// Any other file makes it foreign again.
	os.WriteFile(filepath.Join(own, "plots", "mine.png"), nil, 0o644)
	if err := BuildReport(runs, o); err == nil || !strings.Contains(err.Error(), "plots/mine.png") {
		t.Errorf("foreign plots/mine.png: %v", err)
	}
	if err := BuildReport(runs, ReportOptions{Command: "test"}); err == nil {
		t.Error("a report without a folder was written")
	}
}

func readManifest(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := parseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseManifest(t *testing.T) {
	for _, bad := range []string{"../x\n", "/etc/passwd\n", "a/../b\n", "./a\n", "a//b\n", "plots/\n", "a\\b\n", "a\x00b\n"} {
		if _, err := parseManifest([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	files := []string{"README.md", "plots/a-ecdf.png"}
	got, err := parseManifest(formatManifest(files))
	if err != nil || !slices.Equal(got, files) {
		t.Errorf("round trip: %v, %v", got, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(formatManifest([]string{"README.md", "plots/x-ecdf.svg"}))
	f.Add([]byte("# c\n\n../a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := parseManifest(b)
		if err != nil {
			return
		}
		for _, e := range files {
			if !filepath.IsLocal(e) || path.Clean(e) != e {
				t.Fatalf("accepted entry %q", e)
			}
		}
		want := slices.Compact(slices.Sorted(slices.Values(files)))
		again, err := parseManifest(formatManifest(files))
		if err != nil || !slices.Equal(again, want) {
			t.Fatalf("round trip of %q: %v, %v", files, again, err)
		}
	})
}

// TestClaimReportFiles: files claimed before they exist (slurm bench's
// shard journals) are the report folder's own: a report is built beside
// them and keeps them listed; a file nobody claimed is still refused, and
// a claim on a folder holding foreign files is refused too.
func TestClaimReportFiles(t *testing.T) {
	runs := journalRuns(t)
	dir := filepath.Join(t.TempDir(), "report")
	claimed := []string{"shards/shard-0.jsonl", "shards/bench.sbatch"}
	if err := ClaimReportFiles(dir, false, claimed); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "shards"), 0o755)
	for _, f := range claimed {
		os.WriteFile(filepath.Join(dir, filepath.FromSlash(f)), []byte("x\n"), 0o644)
	}
	o := ReportOptions{Dir: dir, Command: "test", Seed: 1}
	if err := BuildReport(runs, o); err != nil {
		t.Fatal(err)
	}
	m, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	for _, f := range append(claimed, "README.md") {
		if !strings.Contains(string(m), "\n"+f+"\n") {
			t.Errorf("the manifest no longer lists %s:\n%s", f, m)
		}
	}
	os.WriteFile(filepath.Join(dir, "shards", "notes.txt"), []byte("mine\n"), 0o644)
	if err := BuildReport(runs, o); err == nil || !strings.Contains(err.Error(), "shards/notes.txt") {
		t.Errorf("an unclaimed file: %v", err)
	}
	if err := ClaimReportFiles(dir, false, []string{"shards/shard-1.jsonl"}); err == nil || !strings.Contains(err.Error(), "shards/notes.txt") {
		t.Errorf("a claim on a folder with a foreign file: %v", err)
	}
	if err := ClaimReportFiles(t.TempDir(), false, []string{"../outside"}); err == nil {
		t.Error("a claim outside the folder was accepted")
	}
}

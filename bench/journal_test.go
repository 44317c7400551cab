package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

func journalComparison() *Comparison {
	return &Comparison{
		Algorithms: []string{"simple-es", "random", "ga"},
		Objective:  objectives.Spec{Name: "mock", Dim: 4, Noise: 1},
		Seeds:      8, Seed: 11, Budget: 200, Target: 95, Parallel: 2,
	}
}

func runJournaled(t *testing.T, path string, resume bool, stopAfter int) error {
	t.Helper()
	j, done, err := OpenJournal(path, resume)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	c := journalComparison()
	if err := c.Resume(path, done); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	c.Done = func(r *Run) error {
		if err := j.Append(r); err != nil {
			return err
		}
		n++
		if stopAfter > 0 && n == stopAfter {
			cancel() // the suite is interrupted here
		}
		return nil
	}
	_, err = c.Run(ctx)
	return err
}

func reportOf(t *testing.T, path string) string {
	t.Helper()
	runs, err := ReadRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestResumeReachesTheSameReport interrupts a journaled suite, cuts its
// last record in half as a kill -9 during a write would, resumes it, and
// checks that nothing is lost or repeated and the report is identical to
// that of an uninterrupted suite.
func TestResumeReachesTheSameReport(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.jsonl")
	if err := runJournaled(t, whole, false, 0); err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.jsonl")
	if err := runJournaled(t, cut, false, 7); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v", err)
	}
	b, _ := os.ReadFile(cut)
	os.WriteFile(cut, append(b, []byte(`{"algorithm":"ga","objec`)...), 0o644)
	if _, _, err := OpenJournal(cut, false); err == nil {
		t.Fatal("a journal holding runs was reopened without --resume")
	}
	if err := runJournaled(t, cut, true, 0); err != nil {
		t.Fatal(err)
	}
	runs, err := ReadRuns(cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 24 {
		t.Fatalf("resumed journal holds %d runs, want 24 (none lost, none repeated)", len(runs))
	}
	if a, b := reportOf(t, whole), reportOf(t, cut); a != b {
		t.Errorf("resumed report differs from the uninterrupted one:\n%s\n---\n%s", a, b)
	}
}

func TestReportContents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := runJournaled(t, path, false, 0); err != nil {
		t.Fatal(err)
	}
	runs, _ := ReadRuns(path)
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "evomerge bench x", Seed: 1, Plots: true}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	for _, want := range []string{"## Who wins where", "evomerge bench x", "| random |", "Wilson", "best true at 10/25/50/100% budget", "![ECDF](plots/"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, f := range []string{"-ecdf.png", "-ecdf.svg", "-convergence.png", "-convergence.svg"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "plots", "*"+f))
		if len(matches) != 1 {
			t.Errorf("%d files *%s", len(matches), f)
		}
	}
	if err := BuildReport(nil, ReportOptions{Dir: dir}); err == nil {
		t.Error("empty report accepted")
	}
}

func TestReadRunsRejectsCorruptRecords(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not json":       "hello\n",
		"no algorithm":   `{"budget":10,"evals_used":5}` + "\n",
		"over budget":    `{"algorithm":"ga","budget":10,"evals_used":50}` + "\n",
		"bad hit":        `{"algorithm":"ga","budget":10,"evals_used":5,"evals_to_target":9}` + "\n",
		"trace disorder": `{"algorithm":"ga","budget":10,"evals_used":5,"trace":[{"eval":3,"true":1},{"eval":2,"true":2}]}` + "\n",
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ReadRuns(p); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: error %v, want one naming line 1", name, err)
		}
	}
}

// FuzzParseRuns feeds arbitrary bytes to the journal parser: it must
// return records or an error, never panic, and every record it accepts
// must be consistent.
func FuzzParseRuns(f *testing.F) {
	f.Add([]byte(`{"algorithm":"ga","budget":10,"evals_used":5,"evals_to_target":3,"trace":[{"eval":1,"true":2}]}` + "\n"))
	f.Add([]byte(`{"algorithm":"ga","budget":10,"evals_used":5,"best_true":null}` + "\n{\"alg"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"algorithm":"x","budget":1,"evals_used":1,"trace":[{"eval":1,"true":1e309}]}` + "\n"))
	f.Add([]byte(`{"eval":{"index":1,"x":[0.5],"observed":3,"slot":0,"ms":2},"key":"k"}` + "\n" + `{"eval":{"index":2,"x":[0.5],"observed":null,"error":"merge failed","slot":1,"ms":2},"key":"k"}`))
	f.Add([]byte(`{"eval":{"index":1,"x":[0.5],"obs`))
	f.Add([]byte(`{"job":{"index":1,"attempt":0,"id":"12"},"key":"k"}` + "\n" + `{"job":[1],"key":"k"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, good, err := parseJournal(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		runs, evals := c.Runs, c.Evals
		for _, l := range c.Jobs {
			if l.Key == "" || !json.Valid(l.Job) || !bytes.HasPrefix(bytes.TrimSpace(l.Job), []byte("{")) {
				t.Fatalf("inconsistent job line accepted: %+v", l)
			}
		}
		if good > int64(len(b)) {
			t.Fatalf("good prefix %d longer than input %d", good, len(b))
		}
		for _, l := range evals {
			if l.Key == "" || l.Eval.Index < 1 || len(l.Eval.X) == 0 || (l.Eval.Failed() && l.Eval.Error == "") {
				t.Fatalf("inconsistent evaluation line accepted: %+v", l)
			}
		}
		for _, r := range runs {
			if r.EvalsUsed > r.Budget || (r.EvalsToTarget != nil && *r.EvalsToTarget > r.EvalsUsed) {
				t.Fatalf("inconsistent record accepted: %+v", r)
			}
			_ = r.DenseTrace()
			_ = r.Cell()
		}
	})
}

func TestSpearman(t *testing.T) {
	a := map[string]float64{"x": 1, "y": 2, "z": 3, "w": 4}
	if rho, n := spearman(a, map[string]float64{"x": 10, "y": 20, "z": 30, "w": 40, "extra": 0}); rho != 1 || n != 4 {
		t.Errorf("same order: ρ %g over %d", rho, n)
	}
	if rho, _ := spearman(a, map[string]float64{"x": 4, "y": 3, "z": 2, "w": 1}); rho != -1 {
		t.Errorf("reversed: ρ %g", rho)
	}
	// Hand-computed with ties: ranks (1,2,3,4) vs (1.5,1.5,3,4): ρ = 0.9487.
	if rho, _ := spearman(a, map[string]float64{"x": 5, "y": 5, "z": 6, "w": 7}); math.Abs(rho-0.9486832980505138) > 1e-12 {
		t.Errorf("ties: ρ %g", rho)
	}
	if _, n := spearman(a, map[string]float64{"x": 1}); n != 1 {
		t.Errorf("common keys %d", n)
	}
}

func TestReportRankAgreement(t *testing.T) {
	a, err := journalComparison().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other := journalComparison()
	other.Objective.Dim = 6
	b, err := other.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := BuildReport(a, ReportOptions{Dir: dir, Command: "x", Seed: 1, RankAgainst: b}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	want := "## How well the mock scenarios predicted these rankings"
	if !bytes.Contains(page, []byte(want)) || !bytes.Contains(page, []byte(b[0].Cell().String())) {
		t.Errorf("page lacks the rank agreement section or the other cell:\n%s", page)
	}
	// Each ρ carries its bootstrap interval, and the page warns that the
	// largest of the pairs is a selection.
	if !regexp.MustCompile(`\| -?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\] \|`).Match(page) || !bytes.Contains(page, []byte("best of 1 comparisons")) {
		t.Errorf("the rank agreement lacks intervals or the note on selection:\n%s", page)
	}
}

func TestJournalEdges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	if err := runJournaled(t, path, false, 0); err != nil {
		t.Fatal(err)
	}
	runs, _ := ReadRuns(path)
	// The same records given twice must not count as new samples.
	if err := BuildReport(append(runs, runs...), ReportOptions{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("duplicate runs: %v", err)
	}
	// A whole last record whose newline was lost is kept, and completed on
	// resume.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.TrimRight(b, "\n"), 0o644)
	if again, _ := ReadRuns(path); len(again) != len(runs) {
		t.Fatalf("%d runs read back, want %d", len(again), len(runs))
	}
	j, done, err := OpenJournal(path, true)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if b2, _ := os.ReadFile(path); len(done) != len(runs) || !bytes.Equal(b2, b) {
		t.Errorf("resume lost or mangled the last record (%d runs)", len(done))
	}
}

// TestReportKeepsSettingsApart: runs of one algorithm with different
// hyperparameters in one cell are two entries, not one pooled sample.
func TestReportKeepsSettingsApart(t *testing.T) {
	c := journalComparison()
	c.Algorithms = []string{"ga"}
	a, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Settings = map[string]map[string]string{"ga": {"pop": "10"}}
	b, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cells := GroupCells(append(a, b...))
	if len(cells) != 1 {
		t.Fatalf("%d cells", len(cells))
	}
	stats, err := AnalyzeCell(cells[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 || stats[0].Runs != 8 || stats[1].Runs != 8 {
		t.Fatalf("entries %d (%+v)", len(stats), stats)
	}
	for _, s := range stats {
		if !strings.HasPrefix(s.Algorithm, "ga (") {
			t.Errorf("entry %q does not name its settings", s.Algorithm)
		}
	}
}

// TestJobsRefuseRepeatedAlgorithm: a repeated algorithm would draw the same
// seeds again, so its runs would be counted twice as independent samples.
func TestJobsRefuseRepeatedAlgorithm(t *testing.T) {
	c := journalComparison()
	c.Algorithms = []string{"random", "ga", "random"}
	if _, err := c.Jobs(); err == nil || !strings.Contains(err.Error(), `"random" is selected twice`) {
		t.Errorf("repeated algorithm: %v", err)
	}
}

// TestJournalJobLines: job lines (evolve's slurm backend) are read back in
// file order by OpenJournalContents, skipped by ReadRuns, and a job line
// that is not a JSON object is refused with its line number.
func TestJournalJobLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "j.jsonl")
	j, _, err := OpenJournal(p, false)
	if err != nil {
		t.Fatal(err)
	}
	key := RunKey{Entry: Entry{Alg: "random"}, Seed: 1}
	if err := j.AppendJob(key, map[string]any{"index": 1, "id": "12"}); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendEval(key, EvalRecord{Index: 1, X: []float64{0.5}, Observed: floatPtr(2), MS: 1}); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendJob(key, []int{1}); err == nil {
		t.Error("a job that is not a JSON object was written")
	}
	j.Close()
	if runs, err := ReadRuns(p); err != nil || len(runs) != 0 {
		t.Errorf("ReadRuns: %d runs, %v", len(runs), err)
	}
	j, c, err := OpenJournalContents(p, true)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if len(c.Jobs) != 1 || c.Jobs[0].Key != key.Key() || string(c.Jobs[0].Job) != `{"id":"12","index":1}` || len(c.Evals) != 1 {
		t.Errorf("contents %+v", c)
	}
	os.WriteFile(p, []byte(`{"job":"12","key":"k"}`+"\n"), 0o644)
	if _, err := ReadRuns(p); err == nil || !strings.Contains(err.Error(), "line 1: incomplete job line") {
		t.Errorf("a job line without an object: %v", err)
	}
}

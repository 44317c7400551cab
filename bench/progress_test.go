package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func progressFixture(maximize bool) RunProgress {
	f := func(v float64) *float64 { return &v }
	return RunProgress{
		Title: "evomerge evolve: cmaes, seed 1", Budget: 20, Maximize: maximize,
		Scored: "mnist-merge, 500 search items", Genes: []string{"reader.w", "skill.w"},
		Evals: []ProgressEval{
			{Index: 3, Observed: f(71.5), X: []float64{0.5, 1}},
			{Index: 1, Observed: f(60), X: []float64{1, 1}},
			{Index: 2, Error: "evaluator exited with status 1"},
			{Index: 4, Observed: f(88.25), X: []float64{1.25, 0.75}},
			{Index: 5, Observed: f(64), X: []float64{0.1, 0.2}},
		},
	}
}

// The progress page shows the best observed score and the evaluation that
// gave it, its point, the convergence and the failures; it reloads while
// the run goes on and stops when it is done; it is a function of the
// evaluations (no clock).
func TestProgressPage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "progress.html")
	p := progressFixture(true)
	if err := WriteProgressPage(path, p); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	s := string(page)
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		"Running: 5 of 20 evaluations (1 failed).",
		"Best observed score so far: <strong>88.25</strong>, evaluation 4, one evaluation of mnist-merge, 500 search items.",
		"<h2>The best point so far (evaluation 4)</h2>\n<pre id=\"recipe\">reader.w 1.25, skill.w 0.75</pre>",
		`<g class="series" data-series="best observed so far">`,
		"evaluation 2: evaluator exited with status 1",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The best evaluations, best first.
	if i, j := strings.Index(s, "<td data-v=\"4\">4</td>"), strings.Index(s, "<td data-v=\"3\">3</td>"); i < 0 || j < 0 || i > j {
		t.Errorf("best evaluations out of order (%d, %d)", i, j)
	}
	again := filepath.Join(dir, "again.html")
	q := progressFixture(true)
	q.Evals[0], q.Evals[4] = q.Evals[4], q.Evals[0]
	if err := WriteProgressPage(again, q); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(again); !bytes.Equal(b, page) {
		t.Error("the page depends on the order the evaluations are given in")
	}

	p.Done, p.Recipe = true, "merge_method: task_arithmetic\nmodels:\n  - model: reader\n"
	if err := WriteProgressPage(path, p); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(path)
	s = string(page)
	if strings.Contains(s, "http-equiv=\"refresh\"") || !strings.Contains(s, "Finished: 5 of 20") {
		t.Error("a finished run's page still reloads, or does not say it finished")
	}
	if !strings.Contains(s, "<pre id=\"recipe\">merge_method: task_arithmetic\nmodels:\n  - model: reader</pre>") {
		t.Error("the recipe is not shown as given")
	}

	// A loss: the best is the lowest.
	l := progressFixture(false)
	if err := WriteProgressPage(path, l); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(path)
	if !strings.Contains(string(page), "Best observed loss so far: <strong>60</strong>, evaluation 1") {
		t.Error("a loss's best is not the lowest")
	}

	// Nothing scored yet.
	if err := WriteProgressPage(path, RunProgress{Budget: 10}); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(path)
	if !strings.Contains(string(page), "No evaluation has returned a score yet.") {
		t.Error("an empty run's page does not say so")
	}
	if err := WriteProgressPage(filepath.Join(dir, "no", "such", "p.html"), p); err == nil {
		t.Error("a missing folder: no error")
	}
}

// A run that stopped before its end says so and why, and stops reloading;
// a summary (what the run ships, and how it was scored) is shown as given.
func TestProgressPageStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "progress.html")
	p := progressFixture(true)
	p.Stopped = "interrupted: evomerge evolve --resume continues it."
	p.Summary = []string{"shipped: best observed, evaluation 4", "  scored by <fresh> evaluation 6"}
	if err := WriteProgressPage(path, p); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	s := string(page)
	if strings.Contains(s, "http-equiv=\"refresh\"") || !strings.Contains(s, "Stopped: 5 of 20 evaluations (1 failed). interrupted: evomerge evolve --resume continues it.</p>") {
		t.Errorf("a stopped run's page reloads or does not say it stopped:\n%s", s)
	}
	if !strings.Contains(s, "<pre id=\"summary\">shipped: best observed, evaluation 4\n  scored by &lt;fresh&gt; evaluation 6</pre>") {
		t.Error("the summary is not shown")
	}
}

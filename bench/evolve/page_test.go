package evolve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/bench"
)

func readPage(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProgressPage: a run keeps NAME.progress.html beside its journal
// NAME.journal.jsonl; when it ends the page says so (no reload), shows the
// best observed score of the search and its point, and the run's summary:
// which point is shipped and how it was scored.
func TestProgressPage(t *testing.T) {
	c := testConfig(t, meanBody)
	if want := strings.TrimSuffix(c.Journal, ".journal.jsonl") + ".progress.html"; c.ProgressPath() != want {
		t.Fatalf("progress page %s, want %s", c.ProgressPath(), want)
	}
	res, err := Run(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProgressPage != c.ProgressPath() || res.ProgressError != nil {
		t.Errorf("progress page %s, error %v", res.ProgressPage, res.ProgressError)
	}
	s := readPage(t, c.ProgressPath())
	search := res.SearchEvaluations
	for _, want := range []string{
		fmt.Sprintf("Finished: %d of %d evaluations", search, c.Budget-c.reserve()),
		fmt.Sprintf("so far: <strong>%s</strong>, evaluation %d", strconvG(*res.Best.Observed), res.Best.Index),
		"<pre id=\"summary\">" + strings.Split(strings.Join(Scoring(res), "\n"), "\n")[0],
		"shipped: " + res.Shipped.Label,
		`<g class="series" data-series="best observed so far">`,
		`<pre id="recipe">`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the finished page lacks %q", want)
		}
	}
	if strings.Contains(s, "http-equiv=\"refresh\"") {
		t.Error("the finished page still reloads")
	}

	// Journals named otherwise: the page is named after them.
	for journal, page := range map[string]string{"a/run.jsonl": "a/run.progress.html", "b/log": "b/log.progress.html"} {
		c := &Config{Journal: journal}
		if c.ProgressPath() != page {
			t.Errorf("journal %s: page %s, want %s", journal, c.ProgressPath(), page)
		}
	}
}

func strconvG(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// TestProgressPageOfAnInterruptedRun: a run interrupted half-way leaves a
// page that says it stopped and how to continue, with the evaluations
// made; the resumed run's page counts the replayed ones too.
func TestProgressPageOfAnInterruptedRun(t *testing.T) {
	c := testConfig(t, slotsBody)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := &cancelAfter{n: 10, cancel: cancel}
	if _, err := Run(ctx, c, false, lines); err == nil {
		t.Fatal("the interrupted run did not fail")
	}
	s := readPage(t, c.ProgressPath())
	if !strings.Contains(s, "Stopped: ") || !strings.Contains(s, "--resume continues it") || strings.Contains(s, "http-equiv=\"refresh\"") {
		t.Errorf("the interrupted run's page:\n%s", s)
	}
	if _, err := Run(context.Background(), c, true, nil); err != nil {
		t.Fatal(err)
	}
	if s := readPage(t, c.ProgressPath()); !strings.Contains(s, "Finished: 30 of 30 evaluations") {
		t.Errorf("the resumed run's page does not count every evaluation:\n%.600s", s)
	}
}

// cancelAfter cancels a run after n progress lines.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Write(b []byte) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return len(b), nil
}

// TestProgressPageInterval: the page is rewritten at most once per
// interval: an evaluation that ends sooner after the last write is shown
// by a rewrite when the interval ends, and the run's end writes it at
// once.
func TestProgressPageInterval(t *testing.T) {
	c := testConfig(t, mockBody)
	tg, err := c.build()
	if err != nil {
		t.Fatal(err)
	}
	p := newProgressPage(c, tg, false)
	p.interval = time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := func(x float64) *float64 { return &x }
	p.start(nil, t0)
	if s := readPage(t, c.ProgressPath()); !strings.Contains(s, "Running: 0 of 6") {
		t.Errorf("the first page:\n%s", s)
	}
	p.add(bench.EvalRecord{Index: 1, X: []float64{0.1, 0.2}, Observed: v(3)}, t0.Add(2*time.Hour))
	if s := readPage(t, c.ProgressPath()); !strings.Contains(s, "Running: 1 of 6") {
		t.Error("an evaluation an interval after the last write was not written at once")
	}
	p.add(bench.EvalRecord{Index: 2, X: []float64{0.3, 0.4}, Observed: v(2)}, t0.Add(2*time.Hour+time.Second))
	if s := readPage(t, c.ProgressPath()); !strings.Contains(s, "Running: 1 of 6") {
		t.Error("the page was rewritten twice within the interval")
	}
	p.add(bench.EvalRecord{Index: 3, X: []float64{0.5, 0.6}, Observed: v(1), Final: true}, t0.Add(2*time.Hour+2*time.Second))
	if err := p.finish(bench.RunProgress{Done: true}); err != nil {
		t.Fatal(err)
	}
	s := readPage(t, c.ProgressPath())
	if !strings.Contains(s, "Finished: 2 of 6") || !strings.Contains(s, "<strong>2</strong>, evaluation 2") {
		t.Errorf("the last page does not show both search evaluations (and only them):\n%s", s)
	}

	// With a short interval, the evaluation held back is written when it
	// ends, without waiting for the next.
	p = newProgressPage(c, tg, false)
	p.interval = 50 * time.Millisecond
	now := time.Now()
	p.start(nil, now)
	p.add(bench.EvalRecord{Index: 1, X: []float64{0.1, 0.2}, Observed: v(3)}, now)
	// A guard against a hang, not a timing assertion.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(readPage(t, c.ProgressPath()), "Running: 1 of 6"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the held-back evaluation was never written")
		}
	}
	p.finish(bench.RunProgress{Done: true})

	// A page that cannot be written is reported, and the run goes on.
	c.Journal = filepath.Join(t.TempDir(), "gone", "run.journal.jsonl")
	p = newProgressPage(c, tg, false)
	p.start(nil, now)
	if err := p.finish(bench.RunProgress{Done: true}); err == nil || !strings.Contains(err.Error(), "progress page") {
		t.Errorf("a page in a missing folder: %v", err)
	}
}

package evolve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

func testConfig(t *testing.T, body string) *Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "run.yml")
	os.WriteFile(p, []byte(body), 0o644)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBrokenEvaluatorStopsEarly: when the first evaluations all fail the
// run stops with the failure instead of spending its budget on penalties
// and recommending a point that was never scored.
func TestBrokenEvaluatorStopsEarly(t *testing.T) {
	c := testConfig(t, "algorithm: random\nbudget: 200\nseed: 1\nobjective: {kind: mock, mock: {dim: 3, fail_rate: 0.9999}}\n")
	_, err := Run(context.Background(), c, false, nil)
	if err == nil || !strings.Contains(err.Error(), "first 10 evaluations all failed") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(c.Output); err == nil {
		t.Error("a recommendation was written for a run that scored nothing")
	}
}

// TestResumeKeepsAWholeUnterminatedEntry: an entry whose newline was lost
// is replayed, not repeated, and the run ends as an uninterrupted one.
func TestResumeKeepsAWholeUnterminatedEntry(t *testing.T) {
	body := "algorithm: cmaes\nbudget: 40\nseed: 4\nobjective: {kind: scenario, scenario: consumer-gpu}\n"
	whole := testConfig(t, body)
	want, err := Run(context.Background(), whole, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := testConfig(t, body)
	if _, err := Run(context.Background(), c, false, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(c.Journal)
	lines := bytes.SplitAfter(bytes.TrimRight(data, "\n"), []byte("\n"))
	// Keep 20 evaluations, the last without its newline.
	cut := bytes.TrimRight(bytes.Join(lines[:20], nil), "\n")
	os.WriteFile(c.Journal, cut, 0o644)
	got, err := Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Replayed != 20 || got.Evaluations != 40 || !slicesEqual(got.Recommended, want.Recommended) {
		t.Errorf("replayed %d of 20, %d evaluations, recommendation %v want %v", got.Replayed, got.Evaluations, got.Recommended, want.Recommended)
	}
	// A first line cut short starts the run afresh.
	os.WriteFile(c.Journal, []byte(`{"eval":{"ind`), 0o644)
	if got, err := Run(context.Background(), c, true, nil); err != nil || got.Replayed != 0 || !slicesEqual(got.Recommended, want.Recommended) {
		t.Errorf("cut first line: %v", err)
	}
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// journalLines reads a journal's evaluations in file order.
func journalLines(t *testing.T, path string) []bench.EvalRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []bench.EvalRecord
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if !bytes.HasPrefix(l, []byte(`{"eval":`)) {
			continue // the run's record
		}
		var e bench.EvalLine
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Eval)
	}
	return out
}

const meanBody = "algorithm: cmaes\nbudget: 60\nseed: 3\nfinal_evals: 2\nobjective: {kind: mock, mock: {dim: 4, noise: 5, items: 50}}\n"

// TestNothingShippedUnevaluated: CMA-ES recommends its distribution mean,
// which it never evaluates; best.yml used to hold that mean under a header
// quoting the best observed score of another point. Now the point shipped
// has fresh evaluations in the journal, and the header says which point it
// is, those scores and the items.
func TestNothingShippedUnevaluated(t *testing.T) {
	c := testConfig(t, meanBody)
	r, err := Run(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBest(c, r); err != nil {
		t.Fatal(err)
	}
	var fresh []bench.EvalRecord
	for _, e := range journalLines(t, c.Journal) {
		if slices.Equal(e.X, r.Recommended) && e.Final {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) != 2 {
		t.Fatalf("the shipped point %v has %d fresh evaluations in the journal, want 2", r.Recommended, len(fresh))
	}
	best, _ := os.ReadFile(c.Output)
	for _, want := range []string{
		"# shipped: " + r.Shipped.Label + "\n",
		fmt.Sprintf("scored by fresh evaluations %d, %d: ", fresh[0].Index, fresh[1].Index),
		"# items: mock merge objective, 4 weights",
		"# preferred to: ",
	} {
		if !strings.Contains(string(best), want) {
			t.Errorf("best.yml lacks %q:\n%s", want, best)
		}
	}
	if r.SearchEvaluations != 56 || r.Evaluations != 60 {
		t.Errorf("%d search and %d evaluations in all, want 56 and 60", r.SearchEvaluations, r.Evaluations)
	}
	if r.Shipped.Label != "distribution mean of cmaes" && r.Shipped.Label != fmt.Sprintf("best observed, evaluation %d", r.Best.Index) {
		t.Errorf("shipped %q", r.Shipped.Label)
	}
	ms, _ := r.Shipped.FreshMean()
	mo, _ := r.Other.FreshMean()
	if mo > ms {
		t.Errorf("shipped the finalist with the worse fresh mean (%g < %g)", ms, mo)
	}
	// The summary the command prints says the same.
	if d := Describe(c, r); !strings.Contains(d, "shipped: "+r.Shipped.Label) || !strings.Contains(d, "preferred to: "+r.Other.Label) {
		t.Errorf("summary:\n%s", d)
	}
}

// TestEvaluatedRecommendationNeedsNoReserve: a method that recommends its
// best observed point gets the whole budget, and best.yml says which
// evaluation scored the point.
func TestEvaluatedRecommendationNeedsNoReserve(t *testing.T) {
	c := testConfig(t, strings.Replace(meanBody, "cmaes", "random", 1))
	r, err := Run(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.SearchEvaluations != 60 || r.Other != nil || r.Shipped.Label != fmt.Sprintf("best observed, evaluation %d", r.Best.Index) {
		t.Errorf("search %d, other %v, shipped %q", r.SearchEvaluations, r.Other, r.Shipped.Label)
	}
	if s := strings.Join(Scoring(r), "\n"); !strings.Contains(s, fmt.Sprintf("scored by search evaluation %d: ", r.Best.Index)) {
		t.Errorf("scoring:\n%s", s)
	}
}

// TestFinalEvaluationsResume: the fresh final evaluations are journaled
// like the search's, so a run killed among them resumes to the same
// answer without repeating any.
func TestFinalEvaluationsResume(t *testing.T) {
	whole := testConfig(t, meanBody)
	want, err := Run(context.Background(), whole, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	WriteBest(whole, want)
	c := testConfig(t, meanBody)
	data, _ := os.ReadFile(whole.Journal)
	lines := bytes.SplitAfter(data, []byte("\n"))
	os.WriteFile(c.Journal, bytes.Join(lines[:57], nil), 0o644) // the search and one final evaluation
	got, err := Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	WriteBest(c, got)
	a, _ := os.ReadFile(whole.Output)
	b, _ := os.ReadFile(c.Output)
	if got.Replayed != 57 || !bytes.Equal(a, b) {
		t.Errorf("replayed %d of 57; outputs:\n%s\n%s", got.Replayed, a, b)
	}
	if n := len(journalLines(t, c.Journal)); n != 60 {
		t.Errorf("%d evaluations journaled, want 60", n)
	}
}

// TestUnevaluatedRecommendationWithoutReserve: should a method recommend
// a point it never evaluated although its registry entry said otherwise,
// the best observed point is shipped and the output says why.
func TestUnevaluatedRecommendationWithoutReserve(t *testing.T) {
	c := testConfig(t, strings.Replace(meanBody, "cmaes", "random", 1))
	tg, err := c.build()
	if err != nil {
		t.Fatal(err)
	}
	v := 7.0
	recs := []bench.EvalRecord{{Index: 1, X: []float64{0.1, 0.1, 0.1, 0.1}, Observed: &v}}
	run := &bench.Run{EvalsUsed: 1, Recommended: []float64{0.5, 0.5, 0.5, 0.5}, Recommendation: "best observed"}
	res := &Result{Maximize: true}
	if err := c.finish(res, tg, run, recs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Shipped.X, recs[0].X) || !strings.Contains(res.Note, "never evaluated") {
		t.Errorf("shipped %v, note %q", res.Shipped.X, res.Note)
	}
}

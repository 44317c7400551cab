package evolve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	// Keep 20 entries, the last without its newline.
	cut := bytes.TrimRight(bytes.Join(lines[:21], nil), "\n")
	os.WriteFile(c.Journal, cut, 0o644)
	got, err := Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Replayed != 20 || got.Evaluations != 40 || !slicesEqual(got.Recommended, want.Recommended) {
		t.Errorf("replayed %d of 20, %d evaluations, recommendation %v want %v", got.Replayed, got.Evaluations, got.Recommended, want.Recommended)
	}
	// A header cut short starts the run afresh.
	os.WriteFile(c.Journal, []byte(`{"config":"`), 0o644)
	if got, err := Run(context.Background(), c, true, nil); err != nil || got.Replayed != 0 {
		t.Errorf("cut header: %v, replayed %d", err, got.Replayed)
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

package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// The sd-block-merge shape (26 dims, 20 evaluations): gp-bo's records say
// how many candidates its GP proposed, and it proposed most of them; the
// optimiser learns the budget from the harness. simple-es's first
// generation is the whole budget there, so its row is flagged as mostly
// random search, in the table and in the report.
func TestPhaseEvalsRecordedAndFlagged(t *testing.T) {
	c := &Comparison{
		Algorithms: []string{"gp-bo", "simple-es", "cmaes"},
		Objective:  objectives.Spec{Name: "mock", Dim: 26, Items: 10, Landscape: "peak", Width: 0.5},
		Seeds:      2, Seed: 5, Budget: 20, Target: 70,
	}
	runs, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var jsonl bytes.Buffer
	if err := WriteJSONL(&jsonl, runs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jsonl.String()), "\n")
	for i, r := range runs {
		switch r.Algorithm {
		case "gp-bo":
			if r.PhaseEvals["initial"] != 5 || r.PhaseEvals["model"] != 15 {
				t.Errorf("gp-bo seed %d: phase_evals %v, want 5 initial and 15 model", r.Seed, r.PhaseEvals)
			}
			if !strings.Contains(lines[i], `"phase_evals":{"initial":5,"model":15}`) {
				t.Errorf("gp-bo record lacks phase_evals: %s", lines[i])
			}
			back, err := UnmarshalRun([]byte(lines[i]))
			if err != nil || back.PhaseEvals["model"] != 15 {
				t.Errorf("phase_evals round trip: %v %v", err, back.PhaseEvals)
			}
		case "simple-es":
			if r.PhaseEvals["initial"] != 20 || r.PhaseEvals["model"] != 0 {
				t.Errorf("simple-es: phase_evals %v, want 20 initial", r.PhaseEvals)
			}
		case "cmaes":
			if r.PhaseEvals != nil || strings.Contains(lines[i], "phase_evals") {
				t.Errorf("cmaes has no start-up phase but records %v", r.PhaseEvals)
			}
		}
	}
	var table bytes.Buffer
	if err := Write(&table, "table", Header{Objective: "mock", Dim: 26, Budget: 20, Seeds: 2}, runs); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	if !strings.Contains(out, "simple-es "+modelMark) || strings.Contains(out, "gp-bo "+modelMark) || strings.Contains(out, "cmaes "+modelMark) {
		t.Errorf("only simple-es's row should be flagged:\n%s", out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), modelNote) { // the note is wrapped
		t.Errorf("table lacks the note on %s:\n%s", modelMark, out)
	}
	s := Summarize(runs)
	if s[0].ModelUnderHalf || !s[1].ModelUnderHalf || s[2].ModelUnderHalf {
		t.Errorf("ModelUnderHalf %v %v %v, want false true false", s[0].ModelUnderHalf, s[1].ModelUnderHalf, s[2].ModelUnderHalf)
	}
}

// A population no generation within the budget could complete, or a
// dimension whose covariance matrix would not fit in memory, is refused
// once, by the dry run, before any run: not recorded as the same error in
// every run, and never a crash of the whole process.
func TestSizesRefusedByDryRun(t *testing.T) {
	for _, tc := range []struct {
		dim      int
		settings map[string]string
		want     []string
	}{
		{4, map[string]string{"popsize": "100000000"}, []string{"cmaes", "popsize 100000000", "budget of 50"}},
		{100000, nil, []string{"cmaes", "dimension 100000", "GiB"}},
	} {
		c := &Comparison{
			Algorithms: []string{"cmaes"}, Settings: map[string]map[string]string{"cmaes": tc.settings},
			Objective: objectives.Spec{Name: "sphere", Dim: tc.dim}, Seeds: 3, Seed: 1, Budget: 50,
		}
		var ran int
		c.Done = func(*Run) error { ran++; return nil }
		_, err := c.Run(context.Background())
		if err == nil || ran != 0 {
			t.Fatalf("dim %d %v: err %v after %d runs, want a refusal before any run", tc.dim, tc.settings, err, ran)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
}

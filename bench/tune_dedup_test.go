package bench

import (
	"context"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// TestTuneFoldsSettingsEqualToTheDefaults: a grid value that is the
// default (pop=20 for simple-es) or resolves to it (sigma0 = 1/6 for
// cmaes on the unit box, its default sigma0frac) is the defaults' sample again; it must not get a row of
// its own nor a test that inflates Holm's correction.
func TestTuneFoldsSettingsEqualToTheDefaults(t *testing.T) {
	for _, c := range []struct {
		alg  string
		grid map[string][]string
	}{
		{"simple-es", map[string][]string{"pop": {"20", "40"}}},
		{"cmaes", map[string][]string{"sigma0": {"0.16666666666666666", "0.1"}}},
	} {
		tu := &Tuning{Algorithm: c.alg, Grid: c.grid, Base: Comparison{
			Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1}, Seeds: 6, Seed: 1, Budget: 60, Target: 99}}
		rows, err := tu.Run(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows, want the defaults and one other", c.alg, len(rows))
		}
		for _, r := range rows {
			if r.IsDefault && (len(r.SameAs) != 1 || r.Label() == "(defaults)") {
				t.Errorf("%s: the defaults' row does not name the setting it absorbed: %q", c.alg, r.Label())
			}
		}
	}
}

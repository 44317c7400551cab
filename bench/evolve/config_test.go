package evolve

import (
	"strings"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

// TestConfigRequiresAlgorithmAndSeed: a config without algorithm or seed
// used to run cmaes with seed 0 silently.
func TestConfigRequiresAlgorithmAndSeed(t *testing.T) {
	obj := "budget: 10\nobjective: {kind: scenario, scenario: sakana-ps}\n"
	for _, tc := range []struct{ body, want string }{
		{"seed: 1\n" + obj, "algorithm is missing (known: "},
		{"algorithm: cmaes\n" + obj, "seed is missing"},
		{"algorithm: cmaes\nseed: 1\nfinal_evals: 0\n" + obj, "final_evals 0 must be at least 1"},
		{"algorithm: cmaes\nseed: 1\nbudget: 2\nobjective: {kind: mock, mock: {dim: 2}}\n", "budget 2 leaves no evaluation for the search"},
	} {
		_, err := ParseConfig([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
	c, err := ParseConfig([]byte("algorithm: random\nseed: 0\n" + obj))
	if err != nil || c.Seed != 0 || c.FinalEvals != 1 {
		t.Errorf("seed 0 stated: %v, %+v", err, c)
	}
	if !strings.Contains(err0(ParseConfig([]byte("seed: 1\n"+obj))), "cmaes") {
		t.Error("the missing-algorithm error does not list the known algorithms")
	}
}

func err0(_ *Config, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestConfigRefusesForeignBlock: kind mock with an external block used to
// ignore the block silently.
func TestConfigRefusesForeignBlock(t *testing.T) {
	head := "algorithm: random\nseed: 1\nbudget: 5\n"
	ext := "external: {method: linear, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [x]}"
	for _, tc := range []struct{ obj, want string }{
		{"{kind: mock, mock: {dim: 2}, " + ext + "}", "objective.kind mock does not use objective.external (it belongs to kind external)"},
		{"{kind: external, " + ext + ", mock: {dim: 2}}", "objective.kind external does not use objective.mock"},
		{"{kind: mock, mock: {dim: 2}, scenario: sakana-ps}", "objective.kind mock does not use objective.scenario"},
		{"{kind: scenario, scenario: sakana-ps, mnist: {items: 10}}", "objective.kind scenario does not use objective.mnist"},
		{"{kind: external, " + ext + ", delay: 1s}", "objective.kind external does not use objective.delay (it belongs to kind scenario, mock, mock-tasks, mnist)"},
	} {
		_, err := ParseConfig([]byte(head + "objective: " + tc.obj + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.obj, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("algorithm: cmaes\nseed: 1\nbudget: 10\nobjective: {kind: scenario, scenario: sakana-ps}\n"))
	f.Add([]byte("algorithm: random\nseed: 0\nfinal_evals: 2\nobjective: {kind: mock, mock: {dim: 3, items: 20}}\nbudget: 4\n"))
	f.Add([]byte("algorithm: cmaes\nseed: 1\nobjective: {kind: mock, mock: {dim: 3}, external: {method: ties}}\nbudget: 4\n"))
	f.Add([]byte("algorithm: sep-cmaes\nseed: 3\nobjective: {kind: external, external: {method: ties, models: [a, b], base_model: c, params: [{name: weight, min: 0, max: 1}], groups: 2, command: [x, '{model}'], slots: ['0', '1'], score: 'json:results.t.m'}}\nbudget: 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Budget < 1 || c.Algorithm == "" || c.FinalEvals < 1 || c.Budget <= c.reserve() {
			t.Fatalf("accepted: budget %d, algorithm %q, final_evals %d, reserve %d", c.Budget, c.Algorithm, c.FinalEvals, c.reserve())
		}
		if c.Objective.checkBlocks() != nil {
			t.Fatalf("accepted a block its kind ignores: %+v", c.Objective)
		}
		if tg, err := c.build(); err == nil {
			box := tg.f.Box()
			p := algorithms.Problem{Dim: tg.f.Dim(), Lower: box.Lower, Upper: box.Upper, Bounded: box.Constraint}
			if p.Validate() != nil || len(tg.slots) == 0 || tg.job.Slots != len(tg.slots) {
				t.Fatalf("accepted config builds a bad problem: %v, slots %v (job %d)", p.Validate(), tg.slots, tg.job.Slots)
			}
		}
	})
}

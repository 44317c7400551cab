package evolve

import (
	"strings"
	"testing"
	"time"

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
	f.Add([]byte("algorithm: random\nseed: 1\nbudget: 4\nobjective: {kind: external, external: {method: linear, models: [a], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [x], slots: 2, workdir: /w, backend: slurm, slurm: {gres: none, sbatch_args: [-p, gpu], poll: 5s}}}\n"))
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

// TestConfigSlurmBackend: slots may be a count; backend slurm needs a
// workdir the nodes share and refuses the settings it makes itself; its
// poll interval, which changes no result, leaves the config's hash alone.
func TestConfigSlurmBackend(t *testing.T) {
	head := "algorithm: random\nseed: 1\nbudget: 5\nobjective:\n  kind: external\n  external:\n    method: linear\n    models: [a]\n    params: [{name: weight, min: 0, max: 1}]\n    groups: 1\n    command: [x, '{model}']\n"
	parse := func(extra string) (*Config, error) { return ParseConfig([]byte(head + extra)) }
	two, err := parse("    slots: 2\n")
	if err != nil || strings.Join(two.Objective.External.Slots, ",") != "0,1" {
		t.Fatalf("slots: 2 gave %v, %v", two.Objective.External.Slots, err)
	}
	list, _ := parse("    slots: ['0', '1']\n")
	local, _ := parse("    slots: 2\n    backend: local\n")
	if two.Hash() != list.Hash() || two.Hash() != local.Hash() {
		t.Error("slots: 2, slots: ['0', '1'] and backend: local are different runs")
	}
	s1, err := parse("    workdir: /shared\n    backend: slurm\n    slots: 2\n    slurm: {gres: 'gpu:a100:1', sbatch_args: [--partition=gpu], poll: 10s}\n")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := parse("    workdir: /shared\n    backend: slurm\n    slots: 2\n    slurm: {gres: 'gpu:a100:1', sbatch_args: [--partition=gpu], poll: 1m}\n")
	if s1.Hash() != s2.Hash() || s1.Objective.External.Slurm.Poll != 10*time.Second {
		t.Error("the poll interval changes the config's hash, or is lost")
	}
	if s1.Hash() == two.Hash() {
		t.Error("the backend does not change the config's hash")
	}
	// A multi-objective run evaluates on this machine's slots only.
	mo := strings.Replace(head, "algorithm: random", "algorithm: nsga2", 1)
	mo = strings.Replace(mo, "command: [x, '{model}']", "command: [x, '{model}', '{output}']\n    tasks: [{name: a, score: 'json:a'}, {name: b, score: 'json:b'}]", 1)
	if _, err := ParseConfig([]byte(mo)); err != nil {
		t.Fatalf("a multi-objective external config: %v", err)
	}
	if _, err := ParseConfig([]byte(mo + "    workdir: /shared\n    backend: slurm\n")); err == nil || !strings.Contains(err.Error(), "backend slurm with multi-objective algorithm nsga2") {
		t.Errorf("backend slurm with a multi-objective algorithm: %v", err)
	}
	for _, tc := range []struct{ extra, want string }{
		{"    slots: 0\n", "slots 0: want 1 to 1024 slots"},
		{"    slots: {a: 1}\n", "want a number of slots or a list of names"},
		{"    backend: ray\n", `backend "ray": local or slurm`},
		{"    slurm: {poll: 1s}\n", "add backend: slurm"},
		{"    backend: slurm\n", "backend slurm needs workdir"},
		{"    workdir: /w\n    backend: slurm\n    env: ['CUDA_VISIBLE_DEVICES={slot}']\n", "Slurm sets CUDA_VISIBLE_DEVICES"},
		{"    workdir: /w\n    backend: slurm\n    slurm: {sbatch_args: [--output=x]}\n", "objective.external.slurm.sbatch_args --output=x: evomerge sets --output itself"},
	} {
		if _, err := parse(tc.extra); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.extra, err, tc.want)
		}
	}
}

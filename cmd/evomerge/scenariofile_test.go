package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

// TestScenarioFileIsAPreset: a preset written to a file under another
// name runs exactly as the preset, its records carrying the file's name;
// the file conflicts with the flags a preset conflicts with.
func TestScenarioFileIsAPreset(t *testing.T) {
	sc, err := bench.LookupScenario("consumer-gpu")
	if err != nil {
		t.Fatal(err)
	}
	sc.Name = "my-gpu"
	path := filepath.Join(t.TempDir(), "my.yml")
	if err := bench.WriteScenarioFile(path, sc); err != nil {
		t.Fatal(err)
	}
	common := []string{"bench", "--algs", "random,one-plus-one-es", "--seeds", "2", "--format", "jsonl"}
	preset, _, err := runArgs(t, append(common, "--scenario", "consumer-gpu")...)
	if err != nil {
		t.Fatal(err)
	}
	file, _, err := runArgs(t, append(common, "--scenario-file", path)...)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(s, name string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			r, err := bench.UnmarshalRun([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			if r.Scenario != name {
				t.Errorf("a record of scenario %q, want %q", r.Scenario, name)
			}
			r.WallMS, r.Scenario = 0, ""
			b, _ := bench.MarshalRun(r)
			out = append(out, string(b))
		}
		return strings.Join(out, "\n")
	}
	p, f := norm(preset, "consumer-gpu"), norm(file, "my-gpu")
	if p != f {
		t.Errorf("the file's runs differ from the preset's:\npreset %s\nfile   %s", p, f)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--scenario-file", path, "--dim", "3"}, "--dim conflicts with --scenario-file"},
		{[]string{"bench", "--scenario-file", path, "--scenario", "sakana-ps"}, "both name the scenario"},
		{[]string{"bench", "--scenario-file", path, "--suite"}, "drop --scenario-file"},
		{[]string{"bench", "--scenario-file", filepath.Join(t.TempDir(), "none.yml")}, "none.yml"},
		{[]string{"tune", "--scenario-file", path, "--budget", "3"}, "--budget conflicts with --scenario-file"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

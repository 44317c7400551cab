package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestBenchSimulatedCluster is issue 10's check: bench on 8 simulated
// slots with lognormal evaluation times records the simulated time to
// target, at budget and the slot utilisation of every run, the same at
// --parallel 1 and 8.
func TestBenchSimulatedCluster(t *testing.T) {
	args := []string{"bench", "--slots", "8", "--eval-time", "lognormal:median=5m,sigma=0.5", "--scenario", "mergekit-evolve",
		"--seeds", "4", "--format", "jsonl"}
	wall := regexp.MustCompile(`"wall_ms":[^,]*,`)
	var outs []string
	for _, p := range []string{"1", "8"} {
		out, _, err := runArgs(t, append(args, "--parallel", p)...)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, wall.ReplaceAllString(out, ""))
	}
	if outs[0] != outs[1] {
		t.Fatalf("--parallel 1 and 8 differ:\n%s\n---\n%s", outs[0], outs[1])
	}
	lines := strings.Split(strings.TrimSpace(outs[0]), "\n")
	if len(lines) < 8 {
		t.Fatalf("%d records", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"sim_time_s", "sim_time_to_target_s", "slot_utilisation"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s record lacks %s", m["algorithm"], k)
			}
		}
		if m["slots"] != 8.0 || m["eval_time"] != "lognormal:median=5m0s,sigma=0.5" {
			t.Errorf("record says slots %v, model %v", m["slots"], m["eval_time"])
		}
	}
	table, _, err := runArgs(t, append(args[:len(args)-2], "--format", "table")...)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(table), " ") // the header wraps
	for _, want := range []string{"simulated cluster of 8 slots", "simulated time to target", "slot utilisation"} {
		if !strings.Contains(flat, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestClusterFlagErrors: bad --slots and --eval-time are refused, naming
// the flag.
func TestClusterFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--slots", "0"}, "--slots 0"},
		{[]string{"bench", "--slots", "8"}, "needs --eval-time"},
		{[]string{"bench", "--eval-time", "lognormal:median=5m"}, "eval-time"},
		{[]string{"bench", "--eval-time", "gamma:5m"}, "eval-time"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
}

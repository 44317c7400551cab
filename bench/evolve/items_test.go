package evolve

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/toymodel"
)

// evalScript is an lm-eval stand-in: it scores items OFFSET … OFFSET+LIMIT−1
// of a list, item d right iff (d + the merged weights' checksum) mod 3 ≠ 0,
// writes them as lm-eval's --log_samples does, and prints the accuracy.
const evalScript = `#!/bin/sh
set -e
sum=$(cksum "$1/model.safetensors" | cut -d' ' -f1)
mkdir -p "$4/merged"
out="$4/merged/samples_toy_2026.jsonl"
: > "$out"
right=0
d=$3
end=$(($3 + $2))
while [ $d -lt $end ]; do
	acc=0
	if [ $(( (d + sum) % 3 )) -ne 0 ]; then acc=1; right=$((right + 1)); fi
	echo "{\"doc_id\": $d, \"acc\": $acc}" >> "$out"
	d=$((d + 1))
done
awk "BEGIN { print \"acc\", $right / $2 }"
`

func scriptConfig(t *testing.T, alg string) string {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	toymodel.Write(t, a, 1)
	toymodel.Write(t, b, 3)
	script := filepath.Join(dir, "eval.sh")
	os.WriteFile(script, []byte(evalScript), 0o755)
	set := ""
	if strings.HasPrefix(alg, "prace:") {
		set = "set: {block: 5}\n"
	}
	return `algorithm: ` + alg + `
` + set + `budget_items: 300
seed: 5
objective:
  kind: external
  external:
    method: linear
    models: [` + a + `, ` + b + `]
    params: [{name: weight, min: 0, max: 1}]
    groups: 1
    command: [` + script + `, "{model}", "{limit}", "{offset}", "{output}"]
    items: 30
    per_item: "samples_*.jsonl:acc"
    score: stdout
    slots: ["0", "1"]
`
}

// TestEvolveItemBudgetWithScriptEvaluator runs evolve with an item budget
// on a script evaluator whose command takes {limit} and {offset}: every
// journaled evaluation says its items and each item's score, they add up
// to the record's items_used within budget_items, and a run resumed from
// a cut journal replays them and ships what the whole run ships.
func TestEvolveItemBudgetWithScriptEvaluator(t *testing.T) {
	for _, alg := range []string{"sh:random", "prace:cmaes", "cmaes"} {
		body := scriptConfig(t, alg)
		c := testConfig(t, body)
		var progress bytes.Buffer
		res, err := Run(context.Background(), c, false, &progress)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		recs := journalLines(t, c.Journal)
		sum := 0
		for _, e := range recs {
			if e.Items < 1 || e.From < 0 || e.From+e.Items > 30 || len(e.PerItem) != e.Items {
				t.Fatalf("%s: evaluation %d on items %d…%d with %d per-item scores", alg, e.Index, e.From, e.From+e.Items-1, len(e.PerItem))
			}
			right := 0.0
			for _, v := range e.PerItem {
				right += v
			}
			if e.Observed == nil || math.Abs(*e.Observed-right/float64(e.Items)) > 1e-5 { // awk prints 6 digits
				t.Fatalf("%s: evaluation %d scored %v, its items say %g", alg, e.Index, e.Observed, right/float64(e.Items))
			}
			sum += e.Items
		}
		run := res.Run
		if run.ItemBudget != 300 || run.ItemsUsed != sum || sum > 300 || sum < 225 || len(run.AtItems) != 4 {
			t.Errorf("%s: %d evaluations of %d items in the journal; record: %d of %d items, %d checkpoints", alg, len(recs), sum, run.ItemsUsed, run.ItemBudget, len(run.AtItems))
		}
		if !strings.Contains(progress.String(), "of 300 spent") {
			t.Errorf("%s: progress lines do not count items:\n%s", alg, progress.String())
		}
		if !strings.Contains(strings.Join(Scoring(res), "\n"), " on items ") {
			t.Errorf("%s: the summary does not say which items scored the shipped point:\n%s", alg, strings.Join(Scoring(res), "\n"))
		}
		// Resume from the first half of the journal.
		c2 := testConfig(t, body)
		data, _ := os.ReadFile(c.Journal)
		lines := bytes.SplitAfter(data, []byte("\n"))
		os.WriteFile(c2.Journal, bytes.Join(lines[:len(recs)/2], nil), 0o644)
		got, err := Run(context.Background(), c2, true, nil)
		if err != nil {
			t.Fatalf("%s resumed: %v", alg, err)
		}
		if got.Replayed != len(recs)/2 || !slicesEqual(got.Recommended, res.Recommended) || got.Run.ItemsUsed != sum {
			t.Errorf("%s resumed: replayed %d of %d, recommendation %v (want %v), %d items (want %d)", alg, got.Replayed, len(recs)/2, got.Recommended, res.Recommended, got.Run.ItemsUsed, sum)
		}
	}
}

func TestItemBudgetConfigErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"algorithm: random\nbudget: 10\nbudget_items: 100\nseed: 1\nobjective: {kind: mock, mock: {dim: 2, items: 10}}\n", "both set the budget"},
		{"algorithm: sh:random\nbudget: 10\nseed: 1\nobjective: {kind: mock, mock: {dim: 2, items: 10}}\n", "give budget_items"},
		{"algorithm: random\nbudget_items: -5\nseed: 1\nobjective: {kind: mock, mock: {dim: 2, items: 10}}\n", "budget_items -5"},
		{"algorithm: random\nbudget_items: 5\nseed: 1\nobjective: {kind: mock, mock: {dim: 2, items: 10}}\n", "less than one full evaluation"},
		{"algorithm: random\nbudget_items: 500\nseed: 1\nobjective: {kind: mock, mock: {dim: 2}}\n", "scored on items"},
		{"algorithm: cmaes\nbudget_items: 20\nseed: 1\nobjective: {kind: mock, mock: {dim: 2, items: 10}}\n", "reserves 2"},
		// A multi-objective run spends whole evaluations (RunMulti).
		{"algorithm: nsga2\nbudget_items: 500\nseed: 1\nobjective: {kind: mock-tasks, mock_tasks: {dim: 2, items: [10, 10]}}\n", "a multi-objective run spends whole evaluations"},
	} {
		p := filepath.Join(t.TempDir(), "run.yml")
		os.WriteFile(p, []byte(c.body), 0o644)
		cfg, err := LoadConfig(p)
		if err == nil {
			_, err = Run(context.Background(), cfg, false, nil)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error saying %q", c.body, err, c.want)
		}
	}
}

// Configs without the item keys keep the hash their journals were
// written under (computed before budget_items existed).
func TestConfigHashWithoutItemsUnchanged(t *testing.T) {
	for body, want := range map[string]string{
		"algorithm: cmaes\nseed: 3\nbudget: 50\nobjective:\n  kind: mock\n  mock: {dim: 4, items: 100}\n":                                                                                                                         "044504392b01a3c0",
		"algorithm: random\nseed: 0\nobjective:\n  kind: scenario\n  scenario: consumer-gpu\n":                                                                                                                                    "ba77274d6e70fe80",
		"algorithm: tpe\nseed: 1\nbudget: 20\nobjective:\n  kind: external\n  external:\n    method: linear\n    models: [a, b]\n    params: [{name: weight, min: 0, max: 1}]\n    groups: 1\n    command: [eval, \"{model}\"]\n": "039a7a41271cf2a5",
	} {
		c, err := ParseConfig([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Hash(); got != want {
			t.Errorf("%q: hash %s, was %s", body, got, want)
		}
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

// bench --budget-items: every run spends at most its items, the records
// say so, and the table compares the methods at equal items.
func TestBenchBudgetItems(t *testing.T) {
	out, stderr, err := runArgs(t, "bench", "--objective", "mock", "--dim", "4", "--items", "50", "--item-model", "fixed",
		"--budget-items", "2000", "--algs", "cmaes,sh:cmaes,race:random,lim:de", "--seeds", "3", "--format", "jsonl", "--progress=false")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 12 {
		t.Fatalf("%d records, want 12", len(lines))
	}
	for _, l := range lines {
		r, err := bench.UnmarshalRun([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if r.Error != "" || r.ItemBudget != 2000 || r.ItemsUsed > 2000 || r.ItemsUsed < 1500 || r.Budget != 40 || r.ItemModel != "fixed" || len(r.AtItems) != 4 {
			t.Errorf("%s: error %q, %d of %d items, budget %d, item model %q, %d checkpoints", r.Algorithm, r.Error, r.ItemsUsed, r.ItemBudget, r.Budget, r.ItemModel, len(r.AtItems))
		}
		if !strings.Contains(l, `"items_used":`) || !strings.Contains(l, `"at_items":`) {
			t.Errorf("record lacks items_used or at_items: %s", l)
		}
	}
	out, _, err = runArgs(t, "bench", "--objective", "mock", "--dim", "4", "--items", "50", "--budget-items", "2000",
		"--algs", "cmaes,sh:cmaes", "--seeds", "2", "--progress=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"budget 2000 items (40 full evaluations)", "At equal items: a budget of 2000 items, 50 per full evaluation.", "true at 100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchBudgetItemsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--objective", "sphere", "--budget-items", "1000"}, "not scored on benchmark items"},
		{[]string{"--items", "100", "--budget-items", "50"}, "less than one full evaluation"},
		{[]string{"--items", "100", "--budget-items", "5000", "--budget", "50"}, "both set the budget"},
		{[]string{"--items", "100", "--budget-items", "-3"}, "positive number of items"},
		{[]string{"--items", "100", "--algs", "sh:cmaes"}, "give --budget-items"},
		{[]string{"--items", "100", "--item-model", "fixed:2"}, "--item-model"},
		{[]string{"--item-model", "fixed"}, "needs items"},
		{[]string{"--items", "100", "--budget-items", "5000", "--algs", "sh:one-plus-one-es"}, "one candidate at a time"},
		{[]string{"--items", "100", "--budget-items", "5000", "--algs", "prace:cmaes"}, "fixed item list"},
		{[]string{"--items", "100", "--budget-items", "5000", "--algs", "sh:cmaes", "--set", "sh:cmaes.eta=1"}, "eta 1"},
	} {
		_, _, err := runArgs(t, append([]string{"bench", "--seeds", "1", "--progress=false"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
}

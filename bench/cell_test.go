package bench

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives"
)

// cellRun is a record with every field of its Cell set, so that each case
// of TestCellFields changes one of them from a non-zero value.
func cellRun() *Run {
	return &Run{
		Scenario: "sd-block-merge", Algorithm: "random", Objective: "mock", Dim: 26, Noise: 0, Items: 10,
		Landscape: "peak", NoiseModel: "gn-moderate", FailRate: 0.05, Width: 0.5, Optimum: []float64{0.1, 0.2},
		Options: map[string]string{"a": "1"}, Budget: 20, Target: 70, Policy: "reeval 2x2",
		Slots: 4, EvalTime: "fixed:5m0s", Seed: 7, Params: map[string]string{"batch": "1"},
		ItemModel: "fixed", ItemBudget: 200,
	}
}

// TestCellFields changes each field of a run's identity once: every change
// makes a new Cell, Key, display name and benchmark name, so --resume runs
// it, Resolve keeps it and reports and benchstat keep it apart (issue 10:
// a scenario's runs at another --target or --reeval were taken for the
// preset's). Changes that are not a new experiment leave the Cell alone.
func TestCellFields(t *testing.T) {
	cases := []struct {
		field  string // the Cell field the change reaches
		change func(*Run)
	}{
		{"Scenario", func(r *Run) { r.Scenario = "consumer-gpu" }},
		{"Scenario", func(r *Run) { r.Scenario = "" }},
		{"Objective", func(r *Run) { r.Objective = "sphere" }},
		{"Dim", func(r *Run) { r.Dim = 25 }},
		{"Noise", func(r *Run) { r.Noise = 1 }},
		{"Noise", func(r *Run) { r.Noise = 1e-9 }}, // below the tables' 6 digits
		{"Items", func(r *Run) { r.Items = 0 }},
		{"Landscape", func(r *Run) { r.Landscape = "" }},
		{"NoiseModel", func(r *Run) { r.NoiseModel = "" }},
		{"FailRate", func(r *Run) { r.FailRate = 0.1 }},
		{"Width", func(r *Run) { r.Width = 0 }},
		{"Optimum", func(r *Run) { r.Optimum = []float64{0.1, 0.3} }},
		{"Optimum", func(r *Run) { r.Optimum = nil }},
		{"Options", func(r *Run) { r.Options = map[string]string{"a": "2"} }},
		{"Options", func(r *Run) { r.Options = map[string]string{"a": "1", "b": "1"} }},
		{"Options", func(r *Run) { r.Options = map[string]string{"a": "1&b=1"} }},
		{"Options", func(r *Run) { r.Options = nil }},
		{"Budget", func(r *Run) { r.Budget = 21 }},
		{"Target", func(r *Run) { r.Target = 50 }},
		{"Policy", func(r *Run) { r.Policy = "reeval 3x2" }},
		{"Policy", func(r *Run) { r.Policy = "" }},
		{"Slots", func(r *Run) { r.Slots = 8 }},
		{"Slots", func(r *Run) { r.Slots = 0 }},
		{"EvalTime", func(r *Run) { r.EvalTime = "lognormal:median=5m0s,sigma=0.5" }},
		{"EvalTime", func(r *Run) { r.EvalTime = "" }},
		{"ItemModel", func(r *Run) { r.ItemModel = "fixed:0.5" }},
		{"ItemModel", func(r *Run) { r.ItemModel = "" }},
		{"ItemBudget", func(r *Run) { r.ItemBudget = 400 }},
		{"ItemBudget", func(r *Run) { r.ItemBudget = 0 }},
	}
	covered := map[string]bool{}
	for _, scenario := range []string{"sd-block-merge", ""} {
		base := cellRun()
		base.Scenario = scenario
		for _, c := range cases {
			r := cellRun()
			r.Scenario = scenario
			c.change(r)
			if c.field == "Scenario" && r.Scenario == scenario {
				continue
			}
			bc, rc := base.Cell(), r.Cell()
			name := fmt.Sprintf("%s %q→%q", c.field, bc.String(), rc.String())
			if rc == bc || rc.Key() == bc.Key() {
				t.Errorf("%s: the same cell (key %s)", name, rc.Key())
			}
			if rc.String() == bc.String() && !(c.field == "Noise" && r.Noise == 1e-9) {
				t.Errorf("%s: the same display name", name)
			}
			if benchName(r) == benchName(base) && !(c.field == "Noise" && r.Noise == 1e-9) {
				t.Errorf("%s: the same benchmark name %s", name, benchName(r))
			}
			if strings.Contains(strings.TrimPrefix(benchName(r), "BenchmarkConverge/"), " ") {
				t.Errorf("%s: a space in the benchmark name %q", name, benchName(r))
			}
			if r.RunKey() == base.RunKey() {
				t.Errorf("%s: the same run key", name)
			}
			if changed := reflect.ValueOf(rc).FieldByName(c.field).Interface() != reflect.ValueOf(bc).FieldByName(c.field).Interface(); !changed {
				t.Errorf("%s: Cell.%s did not change", name, c.field)
			}
			covered[c.field] = true
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(Cell{})) {
		if !covered[f.Name] {
			t.Errorf("no case changes Cell.%s", f.Name)
		}
	}
	// Not a new experiment: one slot is sequential, −0 is 0, and the
	// seed, the outcome and the wall time are not the cell's.
	same := []struct{ a, b func(*Run) }{
		{func(r *Run) { r.Slots = 0 }, func(r *Run) { r.Slots = 1 }},
		{func(r *Run) { r.FailRate = 0 }, func(r *Run) { r.FailRate = math.Copysign(0, -1) }},
		{func(*Run) {}, func(r *Run) { r.Seed, r.WallMS, r.EvalsUsed, r.BestTrue, r.ObjectiveSeed = 8, 1, 3, 60, new(uint64) }},
	}
	for i, c := range same {
		a, b := cellRun(), cellRun()
		c.a(a)
		c.b(b)
		if a.Cell() != b.Cell() {
			t.Errorf("change %d made a new cell: %s vs %s", i, a.Cell().Key(), b.Cell().Key())
		}
	}
	// Seed and hyperparameters make another run of the same cell.
	a, b := cellRun(), cellRun()
	b.Params = map[string]string{"batch": "2"}
	if a.Entry() == b.Entry() || a.Entry().Cell != b.Entry().Cell {
		t.Error("hyperparameters do not separate entries of one cell")
	}
	b = cellRun()
	b.Seed++
	if a.RunKey() == b.RunKey() || a.Entry() != b.Entry() {
		t.Error("the seed does not separate runs of one entry")
	}
}

// legacyCell is Run.Cell as it was before Cell was a type (evomerge
// 87e5e00): the names on the committed pages, their anchors and figure
// files, and the seeds of their bootstrap intervals come from it.
func legacyCell(r *Run) string {
	if r.Scenario != "" {
		return r.Scenario
	}
	if strings.Contains(r.Objective, "/") {
		c := fmt.Sprintf("%s/dim=%d", r.Objective, r.Dim)
		if r.Items > 0 {
			c += fmt.Sprintf("/items=%d", r.Items)
		}
		if r.Policy != "" {
			c += "/" + strings.ReplaceAll(r.Policy, " ", "=")
		}
		return c + fmt.Sprintf("/budget=%d/target=%s", r.Budget, fmtG(r.Target))
	}
	c := fmt.Sprintf("%s/dim=%d/noise=%s", r.Objective, r.Dim, fmtG(r.Noise))
	if r.Items > 0 {
		c += fmt.Sprintf("/items=%d", r.Items)
	}
	if r.Landscape != "" {
		c += "/landscape=" + r.Landscape
	}
	if r.NoiseModel != "" {
		c += "/noise-model=" + r.NoiseModel
	}
	if r.FailRate > 0 {
		c += "/fail-rate=" + fmtG(r.FailRate)
	}
	if r.Width > 0 {
		c += "/width=" + fmtG(r.Width)
	}
	if len(r.Optimum) > 0 {
		parts := make([]string, len(r.Optimum))
		for i, v := range r.Optimum {
			parts[i] = fmtG(v)
		}
		c += "/optimum=" + strings.Join(parts, ",")
	}
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c += "/" + k + "=" + r.Options[k]
	}
	if r.Policy != "" {
		c += "/" + strings.ReplaceAll(r.Policy, " ", "=")
	}
	return c + fmt.Sprintf("/budget=%d/target=%s", r.Budget, fmtG(r.Target))
}

// TestCellStringKeepsNames: every cell an older version could record is
// still named as it was, so committed pages regenerate unchanged; a
// scenario's name gains only the fields that differ from its preset.
func TestCellStringKeepsNames(t *testing.T) {
	var runs []*Run
	for _, sc := range Scenarios {
		o := sc.Objective
		runs = append(runs, &Run{Scenario: sc.Name, Objective: o.Name, Dim: o.Dim, Noise: o.Noise, Items: o.Items,
			Landscape: o.Landscape, FailRate: o.FailRate, Width: o.Width, Budget: sc.Budget, Target: sc.Target})
	}
	runs = append(runs,
		&Run{Objective: "mock", Dim: 4, Noise: 1, Budget: 1000, Target: 99},
		&Run{Objective: "mock", Dim: 4, Noise: 1.5, Items: 100, Landscape: "ill", NoiseModel: "gn-severe", FailRate: 0.1,
			Width: 0.3, Optimum: []float64{0.1, 1.0 / 3}, Options: map[string]string{"b": "2", "a": "1"}, Policy: "reeval 3x4", Budget: 50, Target: 80.5},
		&Run{Objective: "sphere", Dim: 10, Budget: 300, Target: 1e-8},
		&Run{Objective: "mnist-merge/zoo1", Dim: 6, Budget: 100, Target: 80},
		&Run{Objective: "mnist-merge/ties/densities/rot90/zoo1", Dim: 18, Options: map[string]string{"method": "ties"}, Policy: "reeval 2x3", Budget: 100, Target: 80},
		&Run{Scenario: "renamed-scenario", Objective: "mock", Dim: 3, Budget: 10, Target: 90},
	)
	for _, r := range runs {
		want := legacyCell(r)
		if r.Scenario == "renamed-scenario" {
			want = "renamed-scenario/obj=mock/dim=3/budget=10/target=90" // no preset: every set field
		}
		if got := r.Cell().String(); got != want {
			t.Errorf("name %q, want %q", got, want)
		}
	}
	r := &Run{Scenario: "sd-block-merge", Objective: "mock", Dim: 26, Items: 10, Landscape: "peak", Width: 0.5,
		Budget: 20, Target: 50, Policy: "reeval 2x2", Slots: 8, EvalTime: "lognormal:median=5m0s,sigma=0.5"}
	if got, want := r.Cell().String(), "sd-block-merge/reeval=2x2/target=50/slots=8/eval-time=lognormal:median=5m0s,sigma=0.5"; got != want {
		t.Errorf("variant of a scenario: %q, want %q", got, want)
	}
	if got, want := benchName(r), "BenchmarkConverge/scenario=sd-block-merge/reeval=2x2/target=50/slots=8/eval-time=lognormal:median=5m0s,sigma=0.5/alg="; got != want {
		t.Errorf("benchmark name %q, want %q", got, want)
	}
	// An old journal line (no slots, no evaluation-time model) reads as
	// the preset's cell.
	old, err := UnmarshalRun([]byte(`{"scenario":"sd-block-merge","algorithm":"tpe","objective":"mock","dim":26,"noise":0,"items":10,"landscape":"peak","width":0.5,"seed":1,"budget":20,"target":70,"sense":"maximize","best":100,"evals_used":20,"evals_to_target":null,"best_observed":60,"best_true":55,"recommended":[0.5],"recommended_true":55,"wall_ms":1,"params":{},"trace":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := old.Cell().String(); got != "sd-block-merge" {
		t.Errorf("old record's cell %q, want sd-block-merge", got)
	}
}

// TestGroupCellsNamesApart: two cells that print alike (noise differing
// past the tables' 6 digits) stay two cells with two headings.
func TestGroupCellsNamesApart(t *testing.T) {
	a := &Run{Objective: "mock", Dim: 2, Noise: 1, Budget: 10, Target: 99, Algorithm: "random"}
	b := &Run{Objective: "mock", Dim: 2, Noise: 1 + 1e-9, Budget: 10, Target: 99, Algorithm: "random"}
	c := &Run{Objective: "mock", Dim: 2, Noise: 2, Budget: 10, Target: 99, Algorithm: "random"}
	cells := GroupCells([]*Run{a, b, c})
	if len(cells) != 3 {
		t.Fatalf("%d cells, want 3", len(cells))
	}
	seen := map[string]bool{}
	for _, cr := range cells {
		if seen[anchor(cr.Name)] {
			t.Errorf("two cells named %q", cr.Name)
		}
		seen[anchor(cr.Name)] = true
	}
	if !seen["mock-dim-2-noise-2-budget-10-target-99"] {
		t.Errorf("a cell that prints apart lost its name: %v", seen)
	}
}

// TestComparisonCellIsRunCell: the cell a comparison computes before any
// run (what --resume looks up) is the cell of the runs it makes, for
// defaults (the objective's target), policies, slots and time models.
func TestComparisonCellIsRunCell(t *testing.T) {
	for _, c := range []Comparison{
		{Objective: objectives.Spec{Name: "mock", Dim: 3, Noise: 1}, Target: math.NaN()},
		{Objective: objectives.Spec{Name: "sphere", Dim: 2}, Target: math.NaN()},
		{Scenario: "sd-block-merge", Objective: objectives.Spec{Name: "mock", Dim: 26, Items: 10, Landscape: "peak", Width: 0.5}, Target: 50, Reeval: Reeval{Top: 2, Times: 2}},
		{Objective: objectives.Spec{Name: "mock", Dim: 3, FailRate: 0.1, Optimum: []float64{0.2, 0.3, 0.4}, NoiseModel: "gn-moderate"}, Target: 90,
			Slots: 1, EvalTime: EvalTime{Kind: "fixed", Median: 5 * time.Minute}},
	} {
		c.Algorithms, c.Seeds, c.Seed, c.Budget, c.Parallel = []string{"random"}, 1, 3, 20, 1
		cell, err := c.Cell()
		if err != nil {
			t.Fatal(err)
		}
		runs, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := runs[0].Cell(); got != cell {
			t.Errorf("comparison cell %s, run cell %s", cell.Key(), got.Key())
		}
		// Resuming from its own records runs nothing; from a record of
		// another cell, everything.
		if err := c.Resume("j", runs); err != nil {
			t.Fatal(err)
		}
		if again, _ := c.Run(context.Background()); len(again) != 0 {
			t.Errorf("%s: resume ran %d recorded runs again", cell, len(again))
		}
		other := *runs[0]
		other.Budget++
		if err := c.Resume("j", []*Run{&other}); err != nil {
			t.Fatal(err)
		}
		if again, _ := c.Run(context.Background()); len(again) != 1 {
			t.Errorf("%s: resume skipped a run recorded only in another cell", cell)
		}
	}
}

// FuzzReeval: --reeval's parser accepts only TOPxTIMES with both at least
// 1, prints what it read back in the same form, and never panics.
func FuzzReeval(f *testing.F) {
	for _, s := range []string{"3x4", "", "3", "x", "0x1", "1x0", "-1x2", "3x4x5", " 3x4", "99999999999x99999999999", "32768x32768"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r Reeval
		if err := r.Set(s); err != nil {
			if r != (Reeval{}) {
				t.Fatalf("%q refused but set %+v", s, r)
			}
			return
		}
		if s == "" {
			if r != (Reeval{}) || r.Policy() != "" {
				t.Fatalf("empty policy read as %+v", r)
			}
			return
		}
		if r.Top < 1 || r.Times < 1 || r.Reserve() < r.Top || r.Reserve() < r.Times {
			t.Fatalf("%q accepted as %+v (reserve %d)", s, r, r.Reserve())
		}
		var back Reeval
		if err := back.Set(r.String()); err != nil || back != r {
			t.Fatalf("%q → %q → %+v, %v", s, r.String(), back, err)
		}
	})
}

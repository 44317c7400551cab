package evolve

import (
	"strings"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// TestMNISTTestbed: objective.mnist.testbed multitask selects the
// multi-task testbed's objective; an unknown testbed is an error.
func TestMNISTTestbed(t *testing.T) {
	c, err := ParseConfig([]byte("algorithm: random\nbudget: 10\nseed: 1\nobjective: {kind: mnist, mnist: {testbed: multitask, items: 100, options: {groups: \"4\"}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := testbedObjectives[c.Objective.MNIST.Testbed]; got != "mnist-multitask" {
		t.Errorf("testbed multitask builds %s", got)
	}
	if c.Objective.Kind != "mnist-multitask" {
		t.Errorf("kind mnist with testbed multitask is kind %q, want mnist-multitask (one objective, two spellings)", c.Objective.Kind)
	}
	other, err := ParseConfig([]byte("algorithm: cmaes\nbudget: 20\nseed: 1\nobjective: {kind: mnist-multitask, mnist: {items: 100, options: {groups: \"4\"}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ObjectiveHash() != other.ObjectiveHash() {
		t.Errorf("the two spellings of one objective hash differently (%s, %s): a probe made under one would not serve the other", c.ObjectiveHash(), other.ObjectiveHash())
	}
	_, err = ParseConfig([]byte("algorithm: random\nbudget: 10\nseed: 1\nobjective: {kind: mnist-multitask, mnist: {testbed: mnist}}\n"))
	if err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("kind mnist-multitask with testbed mnist: %v", err)
	}
	if got := testbedObjectives[""]; got != "mnist-merge" {
		t.Errorf("the default testbed builds %s", got)
	}
	_, err = ParseConfig([]byte("algorithm: random\nbudget: 10\nseed: 1\nobjective: {kind: mnist, mnist: {testbed: llm}}\n"))
	if err == nil || !strings.Contains(err.Error(), `testbed "llm"`) {
		t.Errorf("unknown testbed: %v", err)
	}
}

// threeTargets stands for the multi-task testbed's objective: its score
// averages three target tasks.
type threeTargets struct{ objectives.Function }

func (threeTargets) Targets() int { return 3 }

// TestItemsPerEvaluationOfTheMultiTaskTestbed: an evaluation of the
// multi-task testbed scores every target task on the limit's items, so a
// calibrated mock gets limit × targets items, in either spelling of the
// objective and whatever its item list (one task's items) says.
func TestItemsPerEvaluationOfTheMultiTaskTestbed(t *testing.T) {
	mock, err := objectives.New(objectives.Spec{Name: "mock", Dim: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []string{"{kind: mnist, mnist: {testbed: multitask, items: 100}}", "{kind: mnist-multitask, mnist: {items: 100, options: {sampling: resample}}}"} {
		c, err := ParseConfig([]byte("algorithm: random\nbudget: 10\nseed: 1\nobjective: " + obj + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.function = threeTargets{mock}
		n, fixed := c.ItemsPerEvaluation(&Result{ItemList: objectives.ItemList{N: 100, Fixed: true}})
		wantFixed := !strings.Contains(obj, "resample")
		if n != 300 || fixed != wantFixed {
			t.Errorf("%s: %d items, fixed %v; want 300, fixed %v", obj, n, fixed, wantFixed)
		}
	}
}

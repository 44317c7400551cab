package evolve

import (
	"strings"
	"testing"
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

package objectives

import (
	"context"
	"math/rand/v2"
)

// TaskScorer is implemented by multi-task objectives, whose score is the
// mean of several tasks' scores (as mergekit-evolve's weighted `tasks`
// list): reports show each task, and a multi-objective search can take the
// tasks as separate objectives. Evaluate stays the scalar the optimisers
// see; asking for the tasks may cost more (tasks reported but not scored,
// such as retention of the base's task, are run only here).
type TaskScorer interface {
	// TaskNames lists the tasks in the order of the per-task values: the
	// first Targets() are the tasks whose mean is the score, the rest are
	// reported only.
	TaskNames() []string
	// Targets is how many leading tasks the score averages.
	Targets() int
	// EvaluateTasks is Evaluate with each task's value beside the mean
	// (which equals Evaluate's for the same x and rng state).
	EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (mean Value, tasks []Value, err error)
	// HeldOutTasks is each task's held-out score (HeldOuter per task), in
	// TaskNames order.
	HeldOutTasker
}

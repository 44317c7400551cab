package realmerge

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// RetentionTask is the multi-objective name of the base's own task
// (zoo.MultiTaskRetention, plain digits): the merge's accuracy on it in
// percent, so that a floor reads as the issue writes it,
// floor: {retention: 95}.
const RetentionTask = "retention"

// MultiTasks is the multi-task testbed seen as an objectives.MultiFunction:
// the three target tasks and retention, each a separate score, for
// multi-objective methods (evomerge mobench, evolve with nsga2, …).
//
// It is a view rather than methods of MultiObjective because the two
// EvaluateTasks differ: MultiObjective's is objectives.TaskScorer's (the
// mean the scalar search sees, beside the tasks), a MultiFunction's returns
// only the task vector. objectives.AsMulti finds the view through
// MultiObjective.MultiView, so nothing has to ask for it: an objective
// built as mnist-multitask is a scalar objective to bench and tune and a
// four-task one to mobench. The view shares the objective's zoo, items and
// merge buffers.
//
// Scores are as for MultiObjective: Observed is each task's accuracy on
// its Limit items (fixed or resampled), True on the whole search pool, and
// HeldOutTasks on the held-out images — the scores a front is reported on.
type MultiTasks struct {
	o *MultiObjective
}

var (
	_ objectives.MultiFunction = (*MultiTasks)(nil)
	_ objectives.HeldOutTasker = (*MultiTasks)(nil)
	_ objectives.TaskBester    = (*MultiTasks)(nil)
)

// MultiView returns the objective's multi-task view.
func (o *MultiObjective) MultiView() objectives.MultiFunction { return &MultiTasks{o: o} }

// Objective is the objective the view shows (for its recipes).
func (m *MultiTasks) Objective() *MultiObjective { return m.o }

// Name is the objective's name.
func (m *MultiTasks) Name() string { return m.o.Name() }

// Dim is the genome's length.
func (m *MultiTasks) Dim() int { return m.o.Dim() }

// Box is the genome's box.
func (m *MultiTasks) Box() objectives.Box { return m.o.Box() }

// Tasks lists the target tasks, then RetentionTask.
func (m *MultiTasks) Tasks() []string { return MultiTaskNames() }

// MultiTaskNames are the tasks of the multi-task view: the target tasks,
// then RetentionTask (known without building the objective, for configs).
func MultiTaskNames() []string {
	return append(append([]string(nil), zoo.MultiTaskTargets...), RetentionTask)
}

// TaskBests is 100 for every task: accuracies in percent.
func (m *MultiTasks) TaskBests() []float64 {
	b := make([]float64, len(m.o.tasks))
	for j := range b {
		b[j] = 100
	}
	return b
}

// EvaluateTasks merges x and scores every task (retention included) on
// its Limit items; rng is used only with sampling=resample.
func (m *MultiTasks) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.TaskValues, error) {
	v, err := m.o.evaluate(ctx, x, rng, len(m.o.tasks), 0, m.o.cfg.Limit, nil)
	if err != nil {
		return objectives.TaskValues{}, err
	}
	tv := objectives.TaskValues{Observed: make([]float64, len(v)), True: make([]float64, len(v))}
	for j, s := range v {
		tv.Observed[j], tv.True[j] = s.Observed, s.True
	}
	return tv, nil
}

// TrueTasks is every task's accuracy on the whole search pool (NaN each
// for a vector that cannot be merged).
func (m *MultiTasks) TrueTasks(x []float64) []float64 {
	out := make([]float64, len(m.o.tasks))
	v, err := m.o.poolScores(x, len(m.o.tasks))
	for j := range out {
		out[j] = math.NaN()
		if err == nil {
			out[j] = v[j].True
		}
	}
	return out
}

// HeldOutTasks is every task's accuracy on the held-out images, in Tasks
// order.
func (m *MultiTasks) HeldOutTasks(x []float64) ([]float64, error) { return m.o.HeldOutTasks(x) }

// String describes the objective for headers.
func (m *MultiTasks) String() string {
	c := m.o.cfg
	items := fmt.Sprintf("%d fixed items per task (as lm-eval --limit %d)", c.Limit, c.Limit)
	if c.Resample {
		items = fmt.Sprintf("%d items per task drawn afresh per evaluation", c.Limit)
	}
	return fmt.Sprintf("multi-task real merge (mnist-multitask, instance %d): %s of %d experts over %d layer groups, %d genes; tasks %s (retention: the base's task, digits), scored on %s of a %d-image pool; held-out scores on the other %d images",
		c.Instance, c.Method, len(m.o.experts), len(m.o.groups), m.o.Dim(), strings.Join(m.Tasks(), ", "), items, c.Pool, len(m.o.heldIt))
}

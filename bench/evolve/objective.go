package evolve

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/multi"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/external"
)

// target is what a config runs: the objective, the bench job that runs
// the optimiser on it, and the names of the evaluation slots.
type target struct {
	f     objectives.Function
	job   bench.Job
	slots []string
	// ev is the external evaluator, for kind external.
	ev *external.Evaluator
}

// maxInitialFailures ends a run whose first evaluations all fail: that is a
// broken evaluator or recipe, not bad luck, and the budget is too dear to
// spend on penalties.
const maxInitialFailures = 10

// build makes the objective of the config and the job that runs on it.
// The job's objective spec carries the config's hash as the option
// "config", so the run's key, which names its lines in the journal,
// changes with anything in the config that changes the run.
func (c *Config) build() (*target, error) {
	o := c.Objective
	job := bench.Job{
		Algorithm: c.Algorithm, Settings: c.Set, Seed: c.Seed, Budget: c.Budget, Target: math.NaN(),
		FinalEvals: c.FinalEvals, MaxInitialFailures: maxInitialFailures,
	}
	var spec objectives.Spec
	switch o.Kind {
	case "scenario", "mock", "mnist", "mnist-multitask", "mock-tasks":
		switch o.Kind {
		case "mock-tasks":
			spec = objectives.Spec{Name: "mock-tasks", Dim: o.MockTasks.Dim, Seed: c.Seed}
		case "mnist":
			spec = objectives.Spec{Name: "mnist-merge", Items: o.MNIST.Items, Options: o.MNIST.Options, Seed: c.Seed}
		case "mnist-multitask":
			spec = objectives.Spec{Name: "mnist-multitask", Items: o.MNIST.Items, Options: o.MNIST.Options, Seed: c.Seed}
		case "scenario":
			sc, err := bench.LookupScenario(o.Scenario)
			if err != nil {
				return nil, err
			}
			spec = sc.Objective
			spec.Seed = c.Seed
			job.Scenario, job.Target = sc.Name, sc.Target
		default:
			spec = o.mockSpec(c.Seed)
		}
		var f objectives.Function
		var err error
		if o.Kind == "mock-tasks" {
			f, err = objectives.NewMultiMock(o.mockTasksConfig(c.Seed))
		} else {
			f, err = objectives.New(spec)
		}
		if err != nil {
			return nil, err
		}
		c.function = f
		t := &target{f: f, job: job, slots: slotNames(max(o.Slots, 1))}
		if o.Delay > 0 {
			t.f = delayed{Function: f, d: o.Delay}
		}
		t.job.Objective = withConfig(spec, c.Hash())
		t.job.Slots = len(t.slots)
		c.probe.apply(c, &t.job)
		return t, c.itemBudget(t)
	case "external":
		e := o.External
		ev := &external.Evaluator{Genome: e.Genome, Command: e.Command, WorkDir: e.WorkDir, Seed: c.Seed, Tag: c.Hash()}
		if e.Backend == "slurm" {
			ev.Slurm = e.slurmBackend(c.JobPrefix())
		}
		if err := ev.Validate(); err != nil {
			return nil, err
		}
		if err := ev.CheckInputs(); err != nil {
			return nil, err
		}
		lo, hi := e.Genome.Box()
		sense := objectives.Maximize
		if e.Direction == "minimize" {
			sense = objectives.Minimize
		}
		job.Objective = withConfig(objectives.Spec{Name: "external", Seed: c.Seed}, c.Hash())
		job.Slots = len(e.Slots)
		// An evaluator's scores have no known floor: a log-likelihood is
		// negative, so a failure before any success is told a huge loss.
		job.NoScoreFloor = true
		xo := &externalObjective{ev: ev, lo: lo, hi: hi, sense: sense, slots: e.Slots}
		if tasks := e.TaskNames(); len(tasks) > 0 {
			w := make([]float64, len(tasks))
			for j, n := range tasks {
				w[j] = 1
				if v, ok := e.Weights[n]; ok {
					w[j] = v
				}
			}
			var err error
			if xo.weights, err = objectives.NormaliseWeights(w, len(tasks)); err != nil {
				return nil, fmt.Errorf("config: objective.external.weights: %w", err)
			}
		}
		t := &target{f: xo, job: job, slots: e.Slots, ev: ev}
		c.probe.apply(c, &t.job)
		return t, c.itemBudget(t)
	}
	return nil, fmt.Errorf("objective kind %q", o.Kind)
}

// itemBudget sets the job's item budget (Config.BudgetItems) and the
// evaluations it buys, and checks what the evaluation budget was checked
// for: at least one evaluation, and room for the final check's share.
func (c *Config) itemBudget(t *target) error {
	if c.BudgetItems == 0 {
		return nil
	}
	f, ok := t.f.(objectives.ItemFunction)
	if !ok || f.Items().N < 1 {
		return fmt.Errorf("config: budget_items needs an objective scored on items: the mock with items, or an external command with {limit} and items")
	}
	n := f.Items().N
	if c.BudgetItems < n {
		return fmt.Errorf("config: budget_items %d is less than one full evaluation of %d items", c.BudgetItems, n)
	}
	evals := bench.ItemEvals(c.BudgetItems, n)
	if r := c.reserve(); r > 0 && evals <= r {
		return fmt.Errorf("config: budget_items %d buys %d full evaluations of %d items, and %s reserves %d of them to score its distribution mean and the best observed point (final_evals %d each)", c.BudgetItems, evals, n, c.Algorithm, r, c.FinalEvals)
	}
	t.job.ItemBudget, t.job.Budget = c.BudgetItems, evals
	return nil
}

func slotNames(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}

// withConfig is spec with the config's hash among its options.
func withConfig(spec objectives.Spec, hash string) objectives.Spec {
	spec.Options = maps.Clone(spec.Options)
	if spec.Options == nil {
		spec.Options = map[string]string{}
	}
	spec.Options["config"] = hash
	return spec
}

// delayed makes every evaluation of an in-process objective take d, to
// watch a run or rehearse one on several slots; cancelling the run ends
// the wait.
type delayed struct {
	objectives.Function
	d time.Duration
}

func (f delayed) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	if err := f.wait(ctx); err != nil {
		return objectives.Value{}, err
	}
	return f.Function.Evaluate(ctx, x, rng)
}

func (f delayed) wait(ctx context.Context) error {
	t := time.NewTimer(f.d)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	return nil
}

// Items and EvaluateItems pass the objective's items through (N 0: it
// has none).
func (f delayed) Items() objectives.ItemList {
	if i, ok := f.Function.(objectives.ItemFunction); ok {
		return i.Items()
	}
	return objectives.ItemList{}
}

func (f delayed) EvaluateItems(ctx context.Context, x []float64, from, n int, rng *rand.Rand) (objectives.ItemValue, error) {
	i, ok := f.Function.(objectives.ItemFunction)
	if !ok {
		return objectives.ItemValue{}, fmt.Errorf("objective %s is not scored on items", f.Name())
	}
	if err := f.wait(ctx); err != nil {
		return objectives.ItemValue{}, err
	}
	return i.EvaluateItems(ctx, x, from, n, rng)
}

// externalObjective is an external evaluator seen as an objective: each
// evaluation merges the candidate and runs the command on the device of
// its slot (bench.EvalInfoFrom), in folders named by its index. Its scores
// are all there is: it knows no true value.
type externalObjective struct {
	ev     *external.Evaluator
	lo, hi []float64
	sense  objectives.Sense
	slots  []string
	// weights scalarise a command's several tasks (nil: one score).
	weights []float64
}

func (e *externalObjective) Name() string { return "external" }
func (e *externalObjective) Dim() int     { return len(e.lo) }
func (e *externalObjective) Box() objectives.Box {
	return objectives.Box{Lower: e.lo, Upper: e.hi, Constraint: true}
}
func (e *externalObjective) Sense() objectives.Sense { return e.sense }
func (e *externalObjective) True([]float64) float64  { return math.NaN() }
func (e *externalObjective) TruthUnknown() bool      { return true }

// Best and DefaultTarget mean nothing without a truth (the harness checks
// no target for such an objective); 0 keeps the run record encodable.
func (e *externalObjective) Best() float64          { return 0 }
func (e *externalObjective) DefaultTarget() float64 { return 0 }

func (e *externalObjective) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	v, err := e.EvaluateItems(ctx, x, 0, e.Items().N, rng)
	return v.Value, err
}

// Items is the command's item list ({limit}; N 0 without).
func (e *externalObjective) Items() objectives.ItemList { return e.ev.Command.ItemList() }

// EvaluateItems runs the command on n items from item from ({limit},
// {offset}), with each item's score where the config says where to read
// them (per_item).
func (e *externalObjective) EvaluateItems(ctx context.Context, x []float64, from, n int, _ *rand.Rand) (objectives.ItemValue, error) {
	info, ok := bench.EvalInfoFrom(ctx)
	if !ok || info.Slot < 0 || info.Slot >= len(e.slots) {
		return objectives.ItemValue{}, fmt.Errorf("external evaluator called outside a slot of the run (%+v)", info)
	}
	if e.weights != nil {
		// Each task scored on the same n items (lm-eval's --limit is per
		// task); per_item is refused with tasks (Command.Validate).
		s, err := e.ev.EvaluateTasksItems(ctx, x, e.slots[info.Slot], info.Index, from, n)
		if err != nil {
			return objectives.ItemValue{}, err
		}
		v := 0.0
		for j, w := range e.weights {
			v += w * s[j]
		}
		return objectives.ItemValue{Value: objectives.Value{Observed: v, True: math.NaN()}}, nil
	}
	v, per, err := e.ev.EvaluateItems(ctx, x, e.slots[info.Slot], info.Index, from, n)
	return objectives.ItemValue{Value: objectives.Value{Observed: v, True: math.NaN()}, PerItem: per}, err
}

// externalTasks is an external evaluator with several tasks seen as a
// multi-task objective: each evaluation merges the candidate and runs
// the command once on its slot's device, reading every task's score from
// the one results file. Its scores are all there is: no truth.
type externalTasks struct {
	ev     *external.Evaluator
	lo, hi []float64
	slots  []string
}

func (e *externalTasks) Name() string    { return "external" }
func (e *externalTasks) Dim() int        { return len(e.lo) }
func (e *externalTasks) Tasks() []string { return e.ev.Command.TaskNames() }
func (e *externalTasks) Box() objectives.Box {
	return objectives.Box{Lower: e.lo, Upper: e.hi, Constraint: true}
}
func (e *externalTasks) TruthUnknown() bool { return true }

func (e *externalTasks) TrueTasks([]float64) []float64 {
	out := make([]float64, len(e.ev.Command.Tasks))
	for j := range out {
		out[j] = math.NaN()
	}
	return out
}

func (e *externalTasks) EvaluateTasks(ctx context.Context, x []float64, _ *rand.Rand) (objectives.TaskValues, error) {
	info, ok := bench.EvalInfoFrom(ctx)
	if !ok || info.Slot < 0 || info.Slot >= len(e.slots) {
		return objectives.TaskValues{}, fmt.Errorf("external evaluator called outside a slot of the run (%+v)", info)
	}
	s, err := e.ev.EvaluateTasks(ctx, x, e.slots[info.Slot], info.Index)
	return objectives.TaskValues{Observed: s, True: e.TrueTasks(x)}, err
}

// delayedTasks makes every evaluation of an in-process multi-task
// objective take d (objective.delay).
type delayedTasks struct {
	objectives.MultiFunction
	d time.Duration
}

func (f delayedTasks) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.TaskValues, error) {
	t := time.NewTimer(f.d)
	select {
	case <-ctx.Done():
		t.Stop()
		return objectives.TaskValues{}, ctx.Err()
	case <-t.C:
	}
	return f.MultiFunction.EvaluateTasks(ctx, x, rng)
}

// multiTarget is what a multi-objective config runs: the objective of
// several tasks, the job, and the slots' names.
type multiTarget struct {
	f     objectives.MultiFunction
	job   multi.Job
	slots []string
}

// buildMulti makes the multi-task objective of a multi-objective config
// and the job that runs on it.
func (c *Config) buildMulti() (*multiTarget, error) {
	o := c.Objective
	job := multi.Job{Algorithm: c.Algorithm, Settings: c.Set, Seed: c.Seed, Budget: c.Budget, Floors: c.Floor, Reference: c.Reference,
		MaxInitialFailures: maxInitialFailures}
	switch o.Kind {
	case "mock-tasks":
		m, err := objectives.NewMultiMock(o.mockTasksConfig(c.Seed))
		if err != nil {
			return nil, err
		}
		c.function = m
		t := &multiTarget{f: m, job: job, slots: slotNames(max(o.Slots, 1))}
		if o.Delay > 0 {
			t.f = delayedTasks{MultiFunction: m, d: o.Delay}
		}
		t.job.Objective = withConfig(objectives.Spec{Name: "mock-tasks", Dim: o.MockTasks.Dim, Seed: c.Seed}, c.Hash())
		t.job.Slots = len(t.slots)
		return t, nil
	case "mnist-multitask":
		// The real multi-task testbed: its MultiView (objectives.AsMulti)
		// scores the target tasks and retention; the front is re-scored on
		// held-out images after the run (multi.ExecuteOn).
		spec := objectives.Spec{Name: "mnist-multitask", Items: o.MNIST.Items, Options: o.MNIST.Options, Seed: c.Seed}
		f, err := objectives.New(spec)
		if err != nil {
			return nil, err
		}
		m, ok := objectives.AsMulti(f)
		if !ok {
			return nil, fmt.Errorf("objective %s scores one task", f.Name())
		}
		c.function = f
		t := &multiTarget{f: m, job: job, slots: slotNames(max(o.Slots, 1))}
		t.job.Objective = withConfig(spec, c.Hash())
		t.job.Slots = len(t.slots)
		return t, nil
	case "external":
		e := o.External
		ev := &external.Evaluator{Genome: e.Genome, Command: e.Command, WorkDir: e.WorkDir, Seed: c.Seed, Tag: c.Hash()}
		if err := ev.Validate(); err != nil {
			return nil, err
		}
		if err := ev.CheckInputs(); err != nil {
			return nil, err
		}
		if _, err := ev.RemoveStale(); err != nil {
			return nil, err
		}
		lo, hi := e.Genome.Box()
		job.Objective = withConfig(objectives.Spec{Name: "external", Seed: c.Seed}, c.Hash())
		job.Slots = len(e.Slots)
		job.NoScoreFloor = true
		return &multiTarget{f: &externalTasks{ev: ev, lo: lo, hi: hi, slots: e.Slots}, job: job, slots: e.Slots}, nil
	}
	return nil, fmt.Errorf("objective kind %s scores one task: a multi-objective algorithm needs several", o.Kind)
}

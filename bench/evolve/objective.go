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
	case "scenario", "mock", "mnist", "mock-tasks":
		switch o.Kind {
		case "mock-tasks":
			spec = objectives.Spec{Name: "mock-tasks", Dim: o.MockTasks.Dim, Seed: c.Seed}
		case "mnist":
			spec = objectives.Spec{Name: "mnist-merge", Items: o.MNIST.Items, Options: o.MNIST.Options, Seed: c.Seed}
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
		// Folders a killed run of this config left behind hold whole
		// merged models: remove them before starting again.
		if _, err := ev.RemoveStale(); err != nil {
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
		return &target{f: xo, job: job, slots: e.Slots}, nil
	}
	return nil, fmt.Errorf("objective kind %q", o.Kind)
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
	t := time.NewTimer(f.d)
	select {
	case <-ctx.Done():
		t.Stop()
		return objectives.Value{}, ctx.Err()
	case <-t.C:
	}
	return f.Function.Evaluate(ctx, x, rng)
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

func (e *externalObjective) Evaluate(ctx context.Context, x []float64, _ *rand.Rand) (objectives.Value, error) {
	info, ok := bench.EvalInfoFrom(ctx)
	if !ok || info.Slot < 0 || info.Slot >= len(e.slots) {
		return objectives.Value{}, fmt.Errorf("external evaluator called outside a slot of the run (%+v)", info)
	}
	if e.weights != nil {
		s, err := e.ev.EvaluateTasks(ctx, x, e.slots[info.Slot], info.Index)
		if err != nil {
			return objectives.Value{}, err
		}
		v := 0.0
		for j, w := range e.weights {
			v += w * s[j]
		}
		return objectives.Value{Observed: v, True: math.NaN()}, nil
	}
	v, err := e.ev.Evaluate(ctx, x, e.slots[info.Slot], info.Index)
	return objectives.Value{Observed: v, True: math.NaN()}, err
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

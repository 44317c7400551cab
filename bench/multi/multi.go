// Package multi is evomerge's harness for multi-objective runs: a method
// of algorithms.MultiNames against an objective that scores several tasks
// (objectives.MultiFunction), under an exact budget, with per-task floors.
// It records every evaluation, and reports the non-dominated set of the
// observed scores — the same rule for every method, so no method is
// judged by a front it chose itself — with its hypervolume, its distance
// to the true front (IGD+) where the objective knows it, and the share of
// it that breaks a floor.
//
// Results do not depend on timing: with several slots, evaluations run at
// once but their results are told to the method in submission order, so
// the proposal of candidate n knows exactly the results of candidates
// 1..n−slots, whatever finished first. A slot whose evaluation finished
// early may wait for an older one (on real GPUs of uneven speed this costs
// some utilisation); in exchange a run killed and resumed from its journal
// replays by evaluation index alone and reaches the same front.
package multi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
)

// Job is one multi-objective run.
type Job struct {
	Algorithm string
	// Settings are hyperparameter overrides of Algorithm.
	Settings map[string]string
	// Objective is built with objectives.New and must have several tasks
	// (objectives.AsMulti); Execute takes it already built.
	Objective objectives.Spec
	Seed      uint64
	// Budget is the exact number of evaluations.
	Budget int
	// Slots is how many evaluations may run at once; 0 means 1.
	Slots int
	// Floors are minimum scores by task name (floor: {retention: 95}):
	// the methods take them as constraints, the front is chosen under
	// them, and the hypervolume is measured from them.
	Floors map[string]float64
	// Reference is the hypervolume reference point by task, for tasks
	// without a floor; absent tasks take 0 (a score's worst value).
	Reference map[string]float64
	// Log, if set, gets every evaluation as it finishes (before the
	// method is told), for a journal; its error ends the run.
	Log func(Eval) error
	// Replay holds the evaluations a previous process of this run logged:
	// a candidate submitted under a recorded index takes the record's
	// outcome instead of being evaluated (its point must be the recorded
	// one).
	Replay []Eval
	// MaxInitialFailures, if positive, ends the run when its first that
	// many evaluations all failed.
	MaxInitialFailures int
	// NoScoreFloor says scores may go below 0: a failure before any
	// success is then told a huge loss (bench.FailurePenalty).
	NoScoreFloor bool
}

// Eval is one finished evaluation: every task's observed score (nil: it
// failed, and Error says how) and, where the objective knows it, true
// score.
type Eval struct {
	Index  int       `json:"index"`
	X      []float64 `json:"x"`
	Scores []float64 `json:"scores"`
	True   []float64 `json:"true,omitempty"`
	Error  string    `json:"error,omitempty"`
	Slot   int       `json:"slot"`
	MS     float64   `json:"ms"`
}

// Failed reports whether the evaluation failed.
func (e Eval) Failed() bool { return e.Scores == nil }

// FrontPoint is a point of a run's final front: its parameters, the
// evaluations that scored it and their mean observed score per task, and
// its true scores where the objective knows them.
type FrontPoint struct {
	X []float64 `json:"x"`
	// Evals are the indices of the evaluations of exactly this point.
	Evals []int `json:"evals"`
	// Scores is the mean observed score per task over Evals.
	Scores []float64 `json:"scores"`
	True   []float64 `json:"true,omitempty"`
	// HeldOut is the point's score per task on items never used during
	// the search, for objectives that have them
	// (objectives.HeldOutTasker): measured once the run is over, never
	// seen by the method, and what the metrics are computed on.
	HeldOut []float64 `json:"heldout,omitempty"`
	// Feasible says the observed scores keep every floor.
	Feasible bool `json:"feasible"`
}

// Run is the record of one finished multi-objective run.
type Run struct {
	Algorithm     string            `json:"algorithm"`
	Baseline      bool              `json:"baseline,omitempty"`
	Objective     string            `json:"objective"`
	Description   string            `json:"description,omitempty"`
	Tasks         []string          `json:"tasks"`
	Dim           int               `json:"dim"`
	Items         int               `json:"items,omitempty"`
	Noise         float64           `json:"noise,omitempty"`
	Width         float64           `json:"width,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
	ObjectiveSeed uint64            `json:"objective_seed"`
	// ObjectiveVaried says each run of its suite drew its own objective
	// (Suite.VaryObjective): runs of one group differ in ObjectiveSeed.
	ObjectiveVaried bool               `json:"objective_varied,omitempty"`
	Seed            uint64             `json:"seed"`
	Budget          int                `json:"budget"`
	Slots           int                `json:"slots,omitempty"`
	Floors          map[string]float64 `json:"floors,omitempty"`
	Params          map[string]string  `json:"params"`
	EvalsUsed       int                `json:"evals_used"`
	Failures        int                `json:"failures,omitempty"`
	FirstFailure    string             `json:"first_failure,omitempty"`
	// Front is the non-dominated set of the observed scores (mean over
	// repeated evaluations of one point) under constrained domination by
	// the floors, highest first-task score first.
	Front []FrontPoint `json:"front"`
	// Metrics measure the front; see Assess.
	Metrics Metrics `json:"metrics"`
	WallMS  float64 `json:"wall_ms"`
	Error   string  `json:"error,omitempty"`
}

// Execute builds the job's objective and runs it.
func Execute(ctx context.Context, job Job) (*Run, []Eval, error) {
	f, err := objectives.New(job.Objective)
	if err != nil {
		return nil, nil, err
	}
	mf, ok := objectives.AsMulti(f)
	if !ok {
		return nil, nil, fmt.Errorf("objective %s scores one task: a multi-objective run needs several (e.g. mock-tasks)", f.Name())
	}
	return ExecuteOn(ctx, job, mf)
}

// limits returns the floors as loss limits (−floor, +Inf for none) in task
// order, after checking every floor names a task.
func limits(tasks []string, floors map[string]float64) ([]float64, error) {
	if len(floors) == 0 {
		return nil, nil
	}
	l := make([]float64, len(tasks))
	for j := range l {
		l[j] = math.Inf(1)
	}
	names := make([]string, 0, len(floors))
	for n := range floors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		j := slices.Index(tasks, n)
		if j < 0 {
			return nil, fmt.Errorf("floor on task %q: the objective has tasks %s", n, strings.Join(tasks, ", "))
		}
		v := floors[n]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("floor on task %s: %g is not a finite score", n, v)
		}
		l[j] = -v
	}
	return l, nil
}

// ExecuteOn runs job on f and returns its record and every evaluation in
// the order the method was told them (submission order). Faults of the run
// (an objective that fails or panics, a method that leaves the box, a log
// that cannot be written) are in Run.Error; an error is returned only for a
// job that cannot start or a cancelled context.
func ExecuteOn(ctx context.Context, job Job, f objectives.MultiFunction) (*Run, []Eval, error) {
	if job.Budget < 1 {
		return nil, nil, fmt.Errorf("budget %d: must be at least 1 evaluation", job.Budget)
	}
	if job.Slots < 0 || job.Slots > 1024 {
		return nil, nil, fmt.Errorf("slots %d: want 1 to 1024", job.Slots)
	}
	entry, err := algorithms.LookupMulti(job.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	opt, params, err := algorithms.ConfigureMulti(job.Algorithm, job.Settings)
	if err != nil {
		return nil, nil, err
	}
	tasks := f.Tasks()
	lim, err := limits(tasks, job.Floors)
	if err != nil {
		return nil, nil, err
	}
	for n := range job.Reference {
		if !slices.Contains(tasks, n) {
			return nil, nil, fmt.Errorf("reference point for task %q: the objective has tasks %s", n, strings.Join(tasks, ", "))
		}
	}
	box := f.Box()
	prob := algorithms.MultiProblem{
		Problem:    algorithms.Problem{Dim: f.Dim(), Lower: box.Lower, Upper: box.Upper, Bounded: box.Constraint, Budget: job.Budget},
		Objectives: len(tasks),
		Limits:     lim,
	}
	if err := prob.Validate(); err != nil {
		return nil, nil, err
	}
	t, err := newTracker(job, f)
	if err != nil {
		return nil, nil, err
	}
	run := &Run{
		Algorithm: job.Algorithm, Baseline: entry.Baseline, Objective: f.Name(), Tasks: tasks, Dim: f.Dim(),
		Items: job.Objective.Items, Noise: job.Objective.Noise, Width: job.Objective.Width, Options: job.Objective.Options,
		ObjectiveSeed: job.Objective.Seed, Seed: job.Seed, Budget: job.Budget, Floors: job.Floors,
		Params: map[string]string{},
	}
	if s, ok := f.(fmt.Stringer); ok {
		run.Description = s.String()
	}
	if job.Slots > 1 {
		run.Slots = job.Slots
	}
	for _, p := range params {
		run.Params[p.Name] = p.Value
	}
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	runErr := safeMinimize(rctx, opt, prob, t, rand.New(rand.NewPCG(job.Seed, 0x616c67))) // "alg"
	cancel()
	t.wg.Wait()
	run.WallMS = float64(time.Since(start).Microseconds()) / 1000
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if len(t.replay) > 0 && t.fault == nil {
		t.fault = errors.New("the journal records evaluations this run never made: it belongs to another run (other code or config)")
	}
	switch {
	case t.fault != nil:
		run.Error = t.fault.Error()
	case runErr != nil && !errors.Is(runErr, bench.ErrBudget):
		run.Error = runErr.Error()
	}
	run.EvalsUsed, run.Failures, run.FirstFailure = t.used, t.failures, t.firstFailure
	run.Front = Front(t.records, lim)
	if err := scoreHeldOut(ctx, run.Front, f); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if run.Error == "" {
			run.Error = err.Error()
		}
	}
	run.Metrics = Assess(run.Front, f, job.Floors, job.Reference)
	if run.Error == "" && len(run.Front) == 0 {
		run.Error = fmt.Sprintf("no evaluation succeeded (%d of %d failed; the first: %s)", t.failures, t.used, t.firstFailure)
	}
	return run, t.records, nil
}

// scoreHeldOut re-scores every point of a final front on the objective's
// held-out items, where it has them (objectives.HeldOutTasker): a real
// objective's front is reported on those scores, as a single-objective
// run's recommendation is. The method has finished, so it never sees them.
func scoreHeldOut(ctx context.Context, front []FrontPoint, f objectives.MultiFunction) error {
	h, ok := f.(objectives.HeldOutTasker)
	if !ok {
		return nil
	}
	for i := range front {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := h.HeldOutTasks(front[i].X)
		if err == nil && len(v) != len(f.Tasks()) {
			err = fmt.Errorf("%d held-out scores for %d tasks", len(v), len(f.Tasks()))
		}
		if err != nil {
			for j := range front {
				front[j].HeldOut = nil
			}
			return fmt.Errorf("held-out scoring of front point %d: %v", i+1, err)
		}
		front[i].HeldOut = v
	}
	return nil
}

// safeMinimize turns a method's panic into an error naming it.
func safeMinimize(ctx context.Context, opt algorithms.MultiOptimizer, p algorithms.MultiProblem, pool algorithms.MultiPool, rng *rand.Rand) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("optimiser panicked: %v", r)
		}
	}()
	return opt.MinimizeMulti(ctx, p, pool, rng)
}

// tracker is the MultiPool every method sees: it admits candidates under
// the budget, evaluates them (at once on one slot, on goroutines on
// several), logs each outcome as it finishes, and tells them in
// submission order.
type tracker struct {
	f      objectives.MultiFunction
	job    Job
	m      int
	box    objectives.Box
	slots  int
	cancel context.CancelFunc

	submitted, used, failures int
	firstFailure              string
	fault                     error
	penalty                   []bench.FailurePenalty
	records                   []Eval
	pending                   []flight       // in submission order
	arrived                   map[int]result // finished, not yet told, by index
	done                      chan result
	free                      []int // free slot numbers, lowest last
	replay                    map[int]Eval
	wg                        sync.WaitGroup
}

type flight struct {
	id, index, slot int
	x               []float64
}

type result struct {
	index    int
	ms       float64
	tv       objectives.TaskValues
	err      error
	replayed bool
}

func newTracker(job Job, f objectives.MultiFunction) (*tracker, error) {
	slots := max(job.Slots, 1)
	t := &tracker{
		f: f, job: job, m: len(f.Tasks()), box: f.Box(), slots: slots,
		arrived: map[int]result{}, done: make(chan result, slots),
	}
	for s := slots - 1; s >= 0; s-- {
		t.free = append(t.free, s)
	}
	for range t.m {
		t.penalty = append(t.penalty, bench.FailurePenalty{Maximize: true, Floor: !job.NoScoreFloor})
	}
	if len(job.Replay) > 0 {
		t.replay = map[int]Eval{}
		for _, e := range job.Replay {
			switch {
			case e.Index < 1 || e.Index > job.Budget:
				return nil, fmt.Errorf("replayed evaluation %d outside 1..%d", e.Index, job.Budget)
			case len(e.X) != f.Dim():
				return nil, fmt.Errorf("replayed evaluation %d has %d coordinates, want %d: the journal belongs to another run", e.Index, len(e.X), f.Dim())
			case e.Scores != nil && len(e.Scores) != t.m:
				return nil, fmt.Errorf("replayed evaluation %d has %d scores for %d tasks: the journal belongs to another run", e.Index, len(e.Scores), t.m)
			}
			if _, dup := t.replay[e.Index]; dup {
				return nil, fmt.Errorf("evaluation %d is recorded twice", e.Index)
			}
			t.replay[e.Index] = e
		}
	}
	return t, nil
}

// Slots implements algorithms.MultiPool.
func (t *tracker) Slots() int { return t.slots }

// Submit admits c and starts its evaluation (or takes its replayed
// outcome).
func (t *tracker) Submit(ctx context.Context, c algorithms.Candidate) error {
	if t.fault != nil {
		return t.fault
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.submitted >= t.job.Budget {
		return bench.ErrBudget
	}
	if len(t.pending) >= t.slots {
		t.fault = fmt.Errorf("optimiser submitted candidate %d while all %d slots were busy", c.ID, t.slots)
		return t.fault
	}
	x := c.X
	if len(x) != t.f.Dim() {
		t.fault = fmt.Errorf("optimiser sent a candidate of %d coordinates, want %d", len(x), t.f.Dim())
		return t.fault
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.fault = fmt.Errorf("optimiser sent a non-finite candidate (coordinate %d is %g)", i, v)
			return t.fault
		}
		if t.box.Constraint && (v < t.box.Lower[i] || v > t.box.Upper[i]) {
			t.fault = fmt.Errorf("optimiser left the box: coordinate %d is %g, outside [%g, %g]", i, v, t.box.Lower[i], t.box.Upper[i])
			return t.fault
		}
	}
	t.submitted++
	fl := flight{id: c.ID, index: t.submitted, slot: t.free[len(t.free)-1], x: slices.Clone(x)}
	t.free = t.free[:len(t.free)-1]
	t.pending = append(t.pending, fl)
	if e, ok := t.replay[fl.index]; ok {
		delete(t.replay, fl.index)
		if !slices.Equal(e.X, fl.x) {
			t.fault = fmt.Errorf("evaluation %d was recorded at %v, but this run submits %v there: the journal belongs to another run (other code or config)", fl.index, e.X, fl.x)
			return t.fault
		}
		r := result{index: fl.index, ms: e.MS, replayed: true}
		if e.Failed() {
			r.err = replayedFailure(e.Error)
		} else {
			r.tv = objectives.TaskValues{Observed: e.Scores, True: e.True}
		}
		t.arrived[fl.index] = r
		return nil
	}
	if t.slots == 1 {
		// One slot: evaluate now, on this goroutine.
		return t.arrive(t.evaluate(ctx, fl))
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.done <- t.evaluate(ctx, fl)
	}()
	return nil
}

// evaluate runs one evaluation with its own noise source and its slot and
// index in its context. It touches no tracker state but the objective.
func (t *tracker) evaluate(ctx context.Context, fl flight) (r result) {
	var pcg rand.PCG
	bench.NoiseSource(&pcg, t.job.Seed, fl.index)
	ectx := bench.WithEvalInfo(ctx, bench.EvalInfo{Index: fl.index, Slot: fl.slot})
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.err = fmt.Errorf("objective panicked: %v", p)
		}
		r.index = fl.index
		r.ms = float64(time.Since(start).Microseconds()) / 1000
	}()
	r.tv, r.err = t.f.EvaluateTasks(ectx, fl.x, rand.New(&pcg))
	return r
}

// arrive takes a finished evaluation: it logs the outcome (a score or a
// failure of the candidate; a fault is not logged, so a resumed run makes
// that evaluation again) and keeps it until its turn to be told.
func (t *tracker) arrive(r result) error {
	t.arrived[r.index] = r
	if t.job.Log == nil || r.replayed || (r.err != nil && !errors.Is(r.err, objectives.ErrEvalFailed)) {
		return nil
	}
	var fl flight
	for _, p := range t.pending {
		if p.index == r.index {
			fl = p
		}
	}
	e := Eval{Index: r.index, X: fl.x, Slot: fl.slot, MS: r.ms}
	if r.err != nil {
		e.Error = r.err.Error()
	} else {
		if err := t.check(r.tv); err != nil {
			return nil // a fault: Next reports it
		}
		e.Scores = slices.Clone(r.tv.Observed)
		if knowsTruth(t.f) {
			e.True = slices.Clone(r.tv.True)
		}
	}
	if err := t.job.Log(e); err != nil {
		t.fault = err
		return err
	}
	return nil
}

// check refuses an outcome that is not a score per task.
func (t *tracker) check(tv objectives.TaskValues) error {
	if len(tv.Observed) != t.m {
		return fmt.Errorf("objective returned %d scores for %d tasks", len(tv.Observed), t.m)
	}
	for j, v := range tv.Observed {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("objective returned a non-finite score %g for task %s", v, t.f.Tasks()[j])
		}
	}
	return nil
}

// Next tells the oldest evaluation in flight, waiting for it to finish
// (and logging any other that finishes meanwhile).
func (t *tracker) Next(ctx context.Context) (int, []float64, error) {
	if len(t.pending) == 0 {
		panic("multi: Next with nothing in flight")
	}
	fl := t.pending[0]
	for {
		if _, ok := t.arrived[fl.index]; ok {
			break
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case r := <-t.done:
			if err := t.arrive(r); err != nil {
				return 0, nil, err
			}
		}
	}
	r := t.arrived[fl.index]
	delete(t.arrived, fl.index)
	t.pending = t.pending[1:]
	t.free = append(t.free, fl.slot)
	sort.Sort(sort.Reverse(sort.IntSlice(t.free)))
	if t.fault != nil {
		return 0, nil, t.fault
	}
	if r.err != nil && errors.Is(r.err, objectives.ErrEvalFailed) && ctx.Err() == nil {
		t.used++
		t.failures++
		if t.failures == 1 {
			t.firstFailure = fmt.Sprintf("evaluation %d: %v", fl.index, r.err)
		}
		t.records = append(t.records, Eval{Index: fl.index, X: fl.x, Error: r.err.Error(), Slot: fl.slot, MS: r.ms})
		if n := t.job.MaxInitialFailures; n > 0 && t.failures == t.used && t.used >= n {
			t.fault = fmt.Errorf("the first %d evaluations all failed (the first: %s)", t.used, t.firstFailure)
			return 0, nil, t.fault
		}
		losses := make([]float64, t.m)
		for j := range losses {
			losses[j] = t.penalty[j].Loss()
		}
		return fl.id, losses, nil
	}
	if r.err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		t.fault = fmt.Errorf("evaluation %d: %w", fl.index, r.err)
		return 0, nil, t.fault
	}
	if err := t.check(r.tv); err != nil {
		t.fault = fmt.Errorf("evaluation %d: %v", fl.index, err)
		return 0, nil, t.fault
	}
	t.used++
	e := Eval{Index: fl.index, X: fl.x, Scores: slices.Clone(r.tv.Observed), Slot: fl.slot, MS: r.ms}
	if knowsTruth(t.f) && len(r.tv.True) == t.m {
		e.True = slices.Clone(r.tv.True)
	}
	t.records = append(t.records, e)
	losses := make([]float64, t.m)
	for j, s := range r.tv.Observed {
		losses[j] = -s
		t.penalty[j].Observe(-s)
	}
	return fl.id, losses, nil
}

// knowsTruth reports whether f knows its noise-free scores.
func knowsTruth(f objectives.MultiFunction) bool {
	t, ok := f.(objectives.TruthUnknown)
	return !ok || !t.TruthUnknown()
}

// replayedFailure is a failure read back from a journal: it counts as a
// failed evaluation.
type replayedFailure string

func (f replayedFailure) Error() string        { return string(f) }
func (f replayedFailure) Is(target error) bool { return target == objectives.ErrEvalFailed }

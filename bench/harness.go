// Package bench is evomerge's harness: it runs optimisers against
// objectives under an exact evaluation budget, records what each run
// observed and what was true, and compares the methods.
//
// The harness, not the optimiser, owns the budget, the cancellation, the
// per-evaluation timeout and the trace. Every entrant is wrapped by the same
// tracker, so no algorithm can miscount or peek at the truth.
package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// ErrBudget is returned to an optimiser that asks for an evaluation past
// its budget; it is how every run normally ends. It is algorithms'
// ErrBudget, which a fidelity-aware method returns when it has nothing
// left worth spending items on.
var ErrBudget = algorithms.ErrBudget

// errStopped ends a run that its observer stopped (e.g. target reached).
var errStopped = errors.New("stopped by observer")

// Job is one run: one algorithm, one objective, one seed.
type Job struct {
	// Scenario names the preset the job belongs to, if any.
	Scenario  string
	Algorithm string
	// Settings are hyperparameter overrides (name → value) for Algorithm.
	Settings map[string]string
	// Objective describes the objective; every job of a comparison shares
	// it, so all methods face the same optimum.
	Objective objectives.Spec
	// Seed is the run's seed: the optimiser's randomness and the noise of
	// the objective both derive from it (see Seeds).
	Seed uint64
	// Budget is the exact number of evaluations allowed. With an
	// ItemBudget it is the evaluations the item budget buys at full items
	// (ItemBudget ÷ the objective's items), which plain methods size their
	// start-up phase by and the final check's share is counted in.
	Budget int
	// ItemBudget, when positive, makes the budget a number of benchmark
	// items instead (bench --budget-items): evaluating a candidate on n
	// items costs n, and no evaluation the remaining items cannot pay for
	// whole is made. The objective must be scored on items
	// (objectives.ItemFunction); methods that know nothing of items score
	// every candidate on all of them, fidelity-aware strategies
	// (algorithms.ItemPool) choose.
	ItemBudget int
	// Target is in the objective's terms (objectives.Reached); NaN means the
	// objective's default.
	Target float64
	// EvalTimeout bounds one evaluation; 0 means no bound.
	EvalTimeout time.Duration
	// Sigma0 overrides the initial step size (absolute units) if positive.
	Sigma0 float64
	// X0 overrides the start point if non-nil.
	X0 []float64
	// StopAtTarget ends the run once the target is reached, as the
	// original simulator did; evaluations to target are unaffected.
	StopAtTarget bool
	// Reeval, when Top > 0, makes the recommendation "best after
	// re-evaluation": the optimiser gets Budget − Top·Times evaluations,
	// then the Top best observed points are each evaluated Times more and
	// the one with the best mean of these fresh evaluations is recommended
	// (the first observation is left out: it was selected for being lucky).
	Reeval Reeval
	// Slots is how many evaluations may be in flight at once; 0 means 1.
	// With more than one, or with an EvalTime, the optimiser sees a Pool
	// (see pool.go): methods that propose batches keep every slot busy.
	Slots int
	// EvalTime, when set, runs the job on a simulated clock on which each
	// evaluation takes a drawn duration: the run records the simulated
	// time to target and at budget and the slot utilisation. Without it,
	// several slots evaluate concurrently for real.
	EvalTime EvalTime
	// Observe, if set, is called after every evaluation with the run so
	// far; returning false ends the run.
	Observe func(Progress) bool

	// What a real run (evomerge evolve) adds; bench leaves them zero.

	// Log, if set, is called with every evaluation the tracker records,
	// in the order it records them (on several slots, the order they
	// finish), before the optimiser learns the result: a journal written
	// there loses nothing when the process is killed. Its error ends the
	// run. A run with Log always evaluates on the pool (pool.go), even on
	// one slot: each evaluation then has its slot, is measured for the
	// slot utilisation, and is cancelled with the run.
	Log func(EvalRecord) error
	// Replay holds the records a previous process of this run logged, in
	// the order it logged them. Each candidate submitted under a recorded
	// index takes the record's outcome instead of being evaluated (its
	// point must be the recorded one, else the run ends with an error
	// naming the journal as another run's), and on several slots results
	// come back in the recorded order, so the optimiser hears exactly what
	// it heard before and proposes the same candidates. Candidates of the
	// replay that were in flight when the process died are evaluated
	// afresh. Log is not called for replayed records.
	Replay []EvalRecord
	// FinalEvals is how many fresh evaluations each point of a FinalCheck
	// gets; 0 means FinalEvals(Budget).
	FinalEvals int
	// MaxInitialFailures, if positive, ends the run when its first
	// MaxInitialFailures evaluations have all failed: that is a broken
	// evaluator or recipe, not bad luck, and a real budget is too dear to
	// spend on penalties.
	MaxInitialFailures int
	// NoScoreFloor says the objective's scores may go below 0 (an external
	// evaluator's log-likelihood): a failure before any success is then
	// told a huge loss, not that of a score of 0 (see FailurePenalty).
	NoScoreFloor bool
}

// Reeval configures the re-evaluation recommendation policy. The zero
// value is no policy: each method recommends its own point. It is a
// flag.Value reading TOPxTIMES, as bench and tune's --reeval take it.
type Reeval struct{ Top, Times int }

// String prints the policy as Set reads it ("3x4"), "" for none.
func (r Reeval) String() string {
	if r == (Reeval{}) {
		return ""
	}
	return fmt.Sprintf("%dx%d", r.Top, r.Times)
}

// Policy is the policy as run records and headers name it ("reeval 3x4"),
// "" for none.
func (r Reeval) Policy() string {
	if r == (Reeval{}) {
		return ""
	}
	return "reeval " + r.String()
}

// Set reads TOPxTIMES (e.g. 3x4: re-evaluate the 3 best observed points 4
// times each); an empty string is no policy.
func (r *Reeval) Set(s string) error {
	if s == "" {
		*r = Reeval{}
		return nil
	}
	top, times, ok := strings.Cut(s, "x")
	t1, err1 := strconv.Atoi(top)
	t2, err2 := strconv.Atoi(times)
	if !ok || err1 != nil || err2 != nil || t1 < 1 || t2 < 1 {
		return fmt.Errorf("%q: want TOPxTIMES with both at least 1, e.g. 3x4", s)
	}
	// Top·Times evaluations come out of the budget: a product that
	// overflows could pass the check against the budget.
	if t1 > maxReeval || t2 > maxReeval {
		return fmt.Errorf("%q: at most %d points and %d re-evaluations", s, maxReeval, maxReeval)
	}
	*r = Reeval{Top: t1, Times: t2}
	return nil
}

// maxReeval bounds TOP and TIMES so that their product fits any int.
const maxReeval = 1 << 15

// Reserve is the number of evaluations the policy keeps from the budget.
func (r Reeval) Reserve() int { return r.Top * r.Times }

// Progress is what an observer sees after each evaluation.
type Progress struct {
	Evals        int
	X            []float64 // the candidate just scored (do not keep)
	Value        objectives.Value
	BestObserved float64
	BestX        []float64 // the best observed candidate so far (do not keep)
	BestTrue     float64
	HitEval      int // evaluation that reached the target, 0 if none yet
}

// TracePoint is one improvement of the best true value so far.
type TracePoint struct {
	Eval int     `json:"eval"`
	True float64 `json:"true"`
	// T is the simulated time in seconds at which the evaluation finished,
	// on a run with an evaluation-time model (absent otherwise), so time to
	// any target can be read off the trace.
	T float64 `json:"t,omitempty"`
	// Items is the number of items spent by the end of this evaluation,
	// on a run with an item budget (absent otherwise).
	Items int `json:"items,omitempty"`
}

// Run is the record of one finished job.
type Run struct {
	Scenario   string  `json:"scenario,omitempty"`
	Algorithm  string  `json:"algorithm"`
	Objective  string  `json:"objective"`
	Dim        int     `json:"dim"`
	Noise      float64 `json:"noise"`
	Items      int     `json:"items"`
	Landscape  string  `json:"landscape,omitempty"`
	NoiseModel string  `json:"noise_model,omitempty"`
	FailRate   float64 `json:"fail_rate,omitempty"`
	Width      float64 `json:"width,omitempty"`
	// Options are the objective's options (registered objectives).
	Options map[string]string `json:"options,omitempty"`
	// Optimum is the mock optimum when the user fixed it.
	Optimum []float64 `json:"optimum,omitempty"`
	// ObjectiveSeed is the master seed the objective was drawn from (its
	// optimum or shift): runs of one cell must share it.
	ObjectiveSeed *uint64 `json:"objective_seed,omitempty"`
	Seed          uint64  `json:"seed"`
	Budget        int     `json:"budget"`
	Target        float64 `json:"target"`
	// Sense is "maximize" (a score) or "minimize" (a loss).
	Sense string `json:"sense"`
	// Best is the objective's optimal true value (100 for scores, f_opt).
	Best          float64   `json:"best"`
	EvalsUsed     int       `json:"evals_used"`
	EvalsToTarget *int      `json:"evals_to_target"`
	BestObserved  float64   `json:"best_observed"`
	BestTrue      float64   `json:"best_true"`
	Recommended   []float64 `json:"recommended"`
	RecommendTrue float64   `json:"recommended_true"`
	// Policy is the recommendation policy when the harness sets one
	// ("reeval 3x4"); empty means the method's own (see algorithms.Entry).
	Policy string `json:"policy,omitempty"`
	// Slots is the number of evaluations the run kept in flight (0 or 1:
	// one at a time) and EvalTime the evaluation-time model of its
	// simulated clock ("" for none); both are part of its Cell.
	Slots    int    `json:"slots,omitempty"`
	EvalTime string `json:"eval_time,omitempty"`
	// Recommendation says which point Recommended is and how it was
	// chosen: "best observed", "distribution mean", "best after re-
	// evaluation", "none" (no evaluation succeeded), … Every point it names
	// was evaluated during the run (see FinalCheck).
	Recommendation string `json:"recommendation,omitempty"`
	// FinalCheck records the fresh evaluations that decided between a
	// method's unevaluated answer and the best observed point.
	FinalCheck *FinalCheck `json:"final_check,omitempty"`
	// RecommendHeldOut re-scores the recommendation on held-out items, for
	// objectives that have them (objectives.HeldOuter).
	RecommendHeldOut *float64 `json:"recommended_heldout,omitempty"`
	// RecommendHeldOutTasks is the recommendation's held-out score on each
	// task of a multi-task objective (objectives.TaskScorer), in its task
	// order: the target tasks whose mean is the score, then those
	// reported only (such as retention of the base's task).
	RecommendHeldOutTasks []TaskScore       `json:"recommended_heldout_tasks,omitempty"`
	WallMS                float64           `json:"wall_ms"`
	Params                map[string]string `json:"params"`
	Error                 string            `json:"error,omitempty"`
	// Failures counts evaluations that failed (objectives.ErrEvalFailed)
	// and were penalised without ending the run.
	Failures     int    `json:"failures,omitempty"`
	FirstFailure string `json:"first_failure,omitempty"`
	// PhaseEvals counts the evaluated candidates of a method with a
	// start-up phase by phase ("initial": its uniform design or first
	// population, "model": proposed by its model or update rule); see
	// algorithms.PhaseCounter. Absent for other methods.
	PhaseEvals map[string]int `json:"phase_evals,omitempty"`
	// Trace lists the evaluations at which the best true value improved.
	Trace []TracePoint `json:"trace"`
	// SimTime is the simulated wall-clock, in seconds, when the last
	// evaluation of the budget finished; SimTimeToTarget when the first
	// evaluation reaching the target finished (nil: never); and
	// SlotUtilisation the slots' busy time ÷ (slots × SimTime). Present
	// only with an evaluation-time model (see MarshalRun for the nulls),
	// and for a run on real slots (Job.Log, or Slots above 1 without a
	// model), where it is the evaluations' wall time ÷ (slots × WallMS).
	SimTime         *float64 `json:"sim_time_s,omitempty"`
	SimTimeToTarget *float64 `json:"sim_time_to_target_s,omitempty"`
	SlotUtilisation *float64 `json:"slot_utilisation,omitempty"`
	// ItemBudget is the run's item budget (Job.ItemBudget) and ItemsUsed
	// the items it spent, never more; ItemModel how the mock's items are
	// drawn (objectives.Spec.ItemModel). AtItems scores the method's
	// answer at 10, 25, 50 and 100% of the item budget. All absent
	// without an item budget.
	ItemBudget int              `json:"item_budget,omitempty"`
	ItemsUsed  int              `json:"items_used,omitempty"`
	ItemModel  string           `json:"item_model,omitempty"`
	AtItems    []ItemCheckpoint `json:"at_items,omitempty"`
}

// TaskScore is one task's score of a multi-task objective; Target says the
// task is one of those whose mean is the objective's score.
type TaskScore struct {
	Task   string  `json:"task"`
	Score  float64 `json:"score"`
	Target bool    `json:"target,omitempty"`
}

// FinalCheck is the end-of-run comparison that keeps an unevaluated point
// from being handed over on trust: the method's own answer (e.g. the
// CMA-ES mean) and the best observed point are each scored afresh the same
// number of times, and the one with the better mean of these fresh scores
// is recommended. The best observed point's first score is left out: it
// was selected for being lucky.
type FinalCheck struct {
	// Method is the method's answer and MethodScores its fresh observed
	// scores (in the objective's terms, higher is better for a score).
	Method       []float64 `json:"method"`
	MethodScores []float64 `json:"method_scores"`
	// BestObserved is the best observed point before the check and
	// BestScores its fresh observed scores.
	BestObserved []float64 `json:"best_observed"`
	BestScores   []float64 `json:"best_scores"`
	// Chosen is "method" or "best observed".
	Chosen string `json:"chosen"`
}

// FinalEvals is how many fresh evaluations each of the two points of a
// FinalCheck gets for a budget: 1 per 200 evaluations, at least 1, so the
// check costs 1–2% of a large budget and 2 evaluations of a small one.
func FinalEvals(budget int) int { return max(1, budget/200) }

// Succeeded reports whether the run reached its target.
func (r *Run) Succeeded() bool { return r.EvalsToTarget != nil }

// ETT returns evaluations to target, +Inf for a miss (censored run).
func (r *Run) ETT() float64 {
	if r.EvalsToTarget == nil {
		return math.Inf(1)
	}
	return float64(*r.EvalsToTarget)
}

// DeriveSeed mixes a master seed with labels into a job seed, so that a
// job's randomness depends on its identity, never on scheduling order.
func DeriveSeed(master uint64, labels ...string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(master >> (8 * i))
	}
	h.Write(b[:])
	for _, l := range labels {
		h.Write([]byte{0})
		h.Write([]byte(l))
	}
	return splitmix(h.Sum64()) // spreads FNV's weak low bits
}

// Execute runs one job to completion and returns its record. Errors of the
// run itself (an objective that fails, panics, hangs or returns NaN, an
// optimiser that leaves the box) are recorded in Run.Error; Execute returns
// an error only for a job that cannot start (bad configuration) or when ctx
// is cancelled.
func Execute(ctx context.Context, job Job) (*Run, error) {
	f, err := objectives.New(job.Objective)
	if err != nil {
		return nil, err
	}
	return ExecuteOn(ctx, job, f)
}

// newRunRecord is the record of job on f before it runs: everything its
// RunKey is made of.
func newRunRecord(job Job, f objectives.Function, params []algorithms.Param) *Run {
	target := job.Target
	if math.IsNaN(target) {
		target = f.DefaultTarget()
	}
	run := &Run{
		Scenario: job.Scenario, Algorithm: job.Algorithm, Objective: f.Name(), Dim: f.Dim(),
		Noise: job.Objective.Noise, Items: job.Objective.Items, Seed: job.Seed,
		Landscape: job.Objective.Landscape, NoiseModel: job.Objective.NoiseModel, FailRate: job.Objective.FailRate, Width: job.Objective.Width, Options: job.Objective.Options,
		Optimum: job.Objective.Optimum, ObjectiveSeed: &job.Objective.Seed,
		Budget: job.Budget, Target: target, Params: map[string]string{},
		Sense: f.Sense().String(), Best: f.Best(),
		EvalTime:   job.EvalTime.String(), // Slots: set by ExecuteOn, only for a pool (absent: one slot, no clock)
		ItemBudget: job.ItemBudget, ItemModel: job.Objective.ItemModel,
	}
	for _, p := range params {
		run.Params[p.Name] = p.Value
	}
	return run
}

// KeyOf is the RunKey the record of job on f will have: a journal of the
// run in progress names its evaluation lines with it.
func KeyOf(job Job, f objectives.Function) (RunKey, error) {
	_, params, err := algorithms.Configure(job.Algorithm, job.Settings)
	if err != nil {
		return RunKey{}, err
	}
	r := newRunRecord(job, f, params)
	r.Slots = job.Slots // as ExecuteOn records it; 0 and 1 are one cell
	r.Policy = job.Reeval.Policy()
	return r.RunKey(), nil
}

// ExecuteOn is Execute with the objective already built.
func ExecuteOn(ctx context.Context, job Job, f objectives.Function) (*Run, error) {
	if job.Budget < 1 {
		return nil, fmt.Errorf("budget %d: must be at least 1 evaluation", job.Budget)
	}
	if job.Slots < 0 {
		return nil, fmt.Errorf("slots %d: must be at least 1", job.Slots)
	}
	opt, params, err := algorithms.Configure(job.Algorithm, job.Settings)
	if err != nil {
		return nil, err
	}
	box := f.Box()
	prob := algorithms.Problem{
		Dim: f.Dim(), Lower: box.Lower, Upper: box.Upper, Bounded: box.Constraint,
		X0: job.X0, Sigma0: job.Sigma0,
	}
	if err := prob.Validate(); err != nil {
		return nil, err
	}
	ifn, err := checkItemJob(job, f)
	if err != nil {
		return nil, err
	}
	maxIndex := job.Budget
	if job.ItemBudget > 0 {
		maxIndex = job.ItemBudget // an evaluation costs at least one item
	}
	rp, err := newReplay(job.Replay, maxIndex, f.Dim())
	if err != nil {
		return nil, err
	}
	run := newRunRecord(job, f, params)
	target := run.Target
	t := newTracker(job, f, target)
	t.replay = rp
	if ifn != nil {
		t.setItems(ifn, opt)
	}
	if t.pool != nil && !t.pool.instant {
		run.Slots, run.EvalTime = t.pool.slots, job.EvalTime.String()
	}
	algRNG := rand.New(rand.NewPCG(job.Seed, 0x616c67)) // "alg"
	entry, _ := algorithms.Lookup(job.Algorithm)        // Configure succeeded: it exists
	ur, _ := opt.(algorithms.UnevaluatedRecommender)
	unevaluated := ur != nil && ur.RecommendsUnevaluated()
	finalEvals := 0
	if unevaluated && job.Reeval.Top == 0 && job.Reeval.Times == 0 {
		// Reserve the final check; a budget too small for it leaves the
		// best observed point as the recommendation (said in the record).
		k := job.FinalEvals
		if k <= 0 {
			k = FinalEvals(job.Budget)
		}
		if 2*k < job.Budget {
			finalEvals = k
			t.limit = job.Budget - 2*k
			t.reserveItems(2 * k)
		}
	}
	if job.Reeval.Top > 0 || job.Reeval.Times > 0 {
		reserve := job.Reeval.Top * job.Reeval.Times
		if job.Reeval.Top < 1 || job.Reeval.Times < 1 || reserve >= job.Budget {
			return nil, fmt.Errorf("%s: needs at least one point and one re-evaluation, and fewer than the budget of %d evaluations", job.Reeval.Policy(), job.Budget)
		}
		t.limit = job.Budget - reserve
		t.reserveItems(reserve)
		run.Policy = job.Reeval.Policy()
	}
	prob.Budget = t.limit
	if t.items != nil {
		prob.Budget = t.items.limit / t.items.list.N
	}

	start := time.Now()
	rec, runErr := safeMinimize(ctx, opt, prob, t.objective(), algRNG)
	if rec != nil && (len(rec) != f.Dim() || !allFinite(rec)) {
		rec = nil // not an answer: fall back to the best observed point
	}
	if rec != nil && box.Constraint {
		rec = slices.Clone(rec)
		prob.Clip(rec)
	}
	how := entry.Recommends
	if rec == nil {
		how = "best observed"
	}
	ended := errors.Is(runErr, ErrBudget) || errors.Is(runErr, errStopped)
	switch {
	case job.Reeval.Top > 0 && errors.Is(runErr, ErrBudget) && t.fault == nil && len(t.top) > 0:
		var best []float64
		best, runErr = t.reevaluate(ctx)
		if best != nil {
			rec = best
			how = fmt.Sprintf("best after re-evaluation (%d best observed points, %d fresh evaluations each)", job.Reeval.Top, job.Reeval.Times)
		}
	case unevaluated && finalEvals == 0 && job.Reeval.Top == 0:
		rec, how = nil, "best observed (the budget is too small to score the method's "+entry.Recommends+")"
	case finalEvals > 0 && rec != nil && ended && t.fault == nil && t.bestX != nil:
		var check *FinalCheck
		check, runErr = t.finalCheck(ctx, rec, finalEvals)
		if check != nil {
			run.FinalCheck = check
			switch {
			case check.Chosen == "best observed" && t.methodScored == 0:
				rec = check.BestObserved
				how = fmt.Sprintf("best observed (scored %d more times; every fresh evaluation of the method's %s failed)", finalEvals, entry.Recommends)
			case check.Chosen == "best observed":
				rec = check.BestObserved
				how = fmt.Sprintf("best observed (scored %d more times; it beat the method's %s)", finalEvals, entry.Recommends)
			default:
				how = fmt.Sprintf("%s (scored %d times; it beat the best observed point, scored %d more times)", entry.Recommends, finalEvals, finalEvals)
			}
		} else {
			rec, how = nil, "best observed (the final check of the method's "+entry.Recommends+" was cut short)"
		}
	case unevaluated && rec != nil:
		// The run ended early (a fault, a cancelled context): never hand
		// over the unscored answer.
		rec, how = nil, "best observed (the run ended before the method's "+entry.Recommends+" could be scored)"
	}
	if t.pool != nil {
		t.pool.close() // evaluations still running after a fault are cancelled
	}
	run.WallMS = float64(time.Since(start).Microseconds()) / 1000
	if t.replay != nil && len(t.replay.byIndex) > 0 && t.fault == nil && ctx.Err() == nil {
		t.fault = errReplayLeft
	}

	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	run.EvalsUsed = t.used
	if pc, ok := opt.(algorithms.PhaseCounter); ok {
		run.PhaseEvals = pc.PhaseEvals()
	}
	run.Failures = t.failures
	run.FirstFailure = t.firstFailure
	run.BestObserved = t.bestObserved
	run.BestTrue = t.bestTrue
	run.Trace = t.trace
	if t.hit > 0 {
		h := t.hit
		run.EvalsToTarget = &h
	}
	if t.pool != nil && t.pool.sim && !t.pool.instant {
		now, hitAt := t.pool.now, t.hitAt
		run.SimTime = &now
		if t.hit > 0 {
			run.SimTimeToTarget = &hitAt
		}
		if now > 0 {
			u := t.pool.busy / (float64(t.pool.slots) * now)
			run.SlotUtilisation = &u
		}
	}
	if t.pool != nil && !t.pool.sim && run.WallMS > 0 {
		u := t.pool.busy * 1000 / (float64(t.pool.slots) * run.WallMS)
		run.SlotUtilisation = &u
	}
	switch {
	case t.fault != nil:
		run.Error = t.fault.Error()
	case runErr != nil && !errors.Is(runErr, ErrBudget) && !errors.Is(runErr, errStopped):
		run.Error = runErr.Error()
	}
	// The recommendation: the method's own answer, else the best observed.
	// A run in which no evaluation succeeded has none: the start point or
	// an untested mean would be a guess handed over as a result.
	switch {
	case t.bestX == nil:
		how = "none"
		if run.Error == "" {
			run.Error = fmt.Sprintf("no evaluation succeeded (%d of %d failed; the first: %s)", t.failures, t.used, t.firstFailure)
			if t.used == 0 {
				run.Error = "no evaluation was made"
			}
		}
	case rec != nil:
		run.Recommended = slices.Clone(rec)
	default:
		run.Recommended = slices.Clone(t.bestX)
	}
	run.Recommendation = how
	run.RecommendTrue = math.NaN()
	if run.Recommended != nil {
		run.RecommendTrue = f.True(run.Recommended)
		if h, ok := f.(objectives.HeldOuter); ok {
			v := h.HeldOut(run.Recommended)
			run.RecommendHeldOut = &v
		}
		if ts, ok := f.(objectives.TaskScorer); ok {
			vs, err := ts.HeldOutTasks(run.Recommended)
			if err != nil {
				return nil, fmt.Errorf("held-out task scores of the recommendation: %w", err)
			}
			names := ts.TaskNames()
			if len(vs) != len(names) {
				return nil, fmt.Errorf("held-out task scores of the recommendation: %d scores for %d tasks", len(vs), len(names))
			}
			for i, v := range vs {
				run.RecommendHeldOutTasks = append(run.RecommendHeldOutTasks, TaskScore{Task: names[i], Score: v, Target: i < ts.Targets()})
			}
		}
	}
	if t.items != nil {
		t.items.finish(t, run)
	}
	return run, nil
}

func allFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// safeMinimize turns an optimiser's panic into an error naming it.
func safeMinimize(ctx context.Context, opt algorithms.Optimizer, p algorithms.Problem, obj algorithms.Objective, rng *rand.Rand) (rec []float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("optimiser panicked: %v", r)
		}
	}()
	return opt.Minimize(ctx, p, obj, rng)
}

// tracker is the objective every optimiser sees. It counts, refuses
// evaluations past the budget, converts scores to losses, and records the
// trace. A run uses it from one goroutine; on several slots only the
// evaluations themselves run elsewhere (pool.go).
type tracker struct {
	f      objectives.Function
	job    Job
	target float64
	box    objectives.Box

	used         int // evaluations recorded
	submitted    int // evaluations admitted: the budget counts these
	bestObserved float64
	bestLoss     float64
	bestX        []float64
	bestTrue     float64
	hit          int
	hitAt        float64 // simulated time of the hit
	trace        []TracePoint
	fault        error // a failure of the objective or a rule broken by the optimiser
	stopped      bool
	penalty      FailurePenalty
	failures     int
	firstFailure string
	pcg          rand.PCG   // reseeded for each evaluation (NoiseSource)
	noise        *rand.Rand // draws from pcg
	limit        int        // evaluations the optimiser may use
	top          []scoredX  // the best observed points, best first (Reeval)
	final        bool       // the search is over: scoring the final check
	scoring      bool       // the search is over: the final check or re-evaluations
	pool         *pool      // several slots, a simulated clock or a log; nil: Eval one at a time
	replay       *replay    // a previous process's records (Job.Replay)
	truthless    bool       // the objective knows no true values (objectives.TruthUnknown)
	methodX      []float64  // the method's answer under the final check
	methodScored int        // its fresh evaluations that succeeded
	items        *itemRun   // the item budget's accounting (Job.ItemBudget), else nil
}

// newTracker is the tracker of job on f, with the whole budget open to
// the optimiser.
func newTracker(job Job, f objectives.Function, target float64) *tracker {
	t := &tracker{
		f: f, job: job, target: target, box: f.Box(),
		bestObserved: math.NaN(), bestTrue: math.NaN(),
		penalty:   FailurePenalty{Maximize: f.Sense() == objectives.Maximize, Floor: !job.NoScoreFloor},
		limit:     job.Budget,
		truthless: !objectives.KnowsTruth(f),
	}
	t.noise = rand.New(&t.pcg)
	switch {
	case job.Slots > 1 || job.EvalTime.Kind != "" || job.Log != nil || len(job.Replay) > 0:
		t.pool = newPool(t, max(job.Slots, 1), job.EvalTime.Kind != "")
	case job.ItemBudget > 0:
		// Items are submitted through a pool: one slot whose evaluations
		// take no time, so nothing depends on the machine.
		t.pool = newPool(t, 1, true)
		t.pool.instant = true
	}
	return t
}

// objective is the tracker as the optimiser sees it: a Pool when the job
// has several slots or a simulated clock, else a plain Objective (so Drive
// keeps its one-at-a-time path).
func (t *tracker) objective() algorithms.Objective {
	if t.pool != nil {
		return poolTracker{t}
	}
	return t
}

// scoredX is an observed point and its loss.
type scoredX struct {
	loss float64
	x    []float64
}

// keepTop records x among the k best observed points.
func (t *tracker) keepTop(loss float64, x []float64) {
	k := t.job.Reeval.Top
	if k <= 0 || (len(t.top) == k && loss >= t.top[k-1].loss) {
		return
	}
	for _, c := range t.top {
		if slices.Equal(c.x, x) {
			return // a point evaluated twice is one candidate
		}
	}
	i := sort.Search(len(t.top), func(i int) bool { return t.top[i].loss > loss })
	t.top = slices.Insert(t.top, i, scoredX{loss, slices.Clone(x)})
	if len(t.top) > k {
		t.top = t.top[:k]
	}
}

// reevaluate spends the reserved evaluations on the best observed points
// and returns the one with the best mean of its fresh evaluations.
func (t *tracker) reevaluate(ctx context.Context) ([]float64, error) {
	t.limit, t.scoring = t.job.Budget, true
	t.reopenItems()
	top := slices.Clone(t.top)
	n := t.job.Reeval.Times
	var xs [][]float64
	for _, c := range top {
		for range n {
			xs = append(xs, c.x)
		}
	}
	fs, err := t.evalMany(ctx, xs)
	var best []float64
	bestMean := math.Inf(1)
	for i, c := range top {
		sum := 0.0
		for _, f := range fs[i*n : (i+1)*n] {
			sum += f // NaN if cut short: such a point is not chosen
		}
		if m := sum / float64(n); m < bestMean {
			bestMean, best = m, c.x
		}
	}
	return best, err
}

// evalMany evaluates xs in order (on every slot of a pool) and returns
// their losses in the order of xs; an error ends it, leaving NaN for the
// evaluations it cut short.
func (t *tracker) evalMany(ctx context.Context, xs [][]float64) ([]float64, error) {
	fs := make([]float64, len(xs))
	for i := range fs {
		fs[i] = math.NaN()
	}
	if t.pool != nil {
		return fs, t.pool.evalMany(ctx, xs, fs)
	}
	for i, x := range xs {
		f, err := t.Eval(ctx, x)
		if err != nil {
			return fs, err
		}
		fs[i] = f
	}
	return fs, nil
}

// finalCheck scores the method's answer x and the best observed point k
// times each, afresh, and returns which has the better mean of these fresh
// scores (the method's answer on a tie). The observer is not called: the
// search is over. A nil check means the evaluations were cut short.
func (t *tracker) finalCheck(ctx context.Context, x []float64, k int) (*FinalCheck, error) {
	t.limit, t.stopped, t.final, t.scoring = t.job.Budget, false, true, true
	t.reopenItems()
	c := &FinalCheck{Method: slices.Clone(x), BestObserved: slices.Clone(t.bestX)}
	t.methodX = c.Method
	var xs [][]float64
	for range k {
		xs = append(xs, c.Method)
	}
	for range k {
		xs = append(xs, c.BestObserved)
	}
	fs, err := t.evalMany(ctx, xs)
	if err != nil {
		return nil, err
	}
	score := func(losses []float64) (float64, []float64) {
		sum, scores := 0.0, make([]float64, 0, k)
		for _, loss := range losses {
			sum += loss
			s := loss
			if t.f.Sense() == objectives.Maximize {
				s = -loss
			}
			scores = append(scores, s)
		}
		return sum / float64(k), scores
	}
	mLoss, mScores := score(fs[:k])
	bLoss, bScores := score(fs[k:])
	c.MethodScores, c.BestScores = mScores, bScores
	c.Chosen = "method"
	// A method's answer whose every fresh evaluation failed is never
	// chosen: it would be handed over with no score at all, while the best
	// observed point has at least its search score.
	if bLoss < mLoss || t.methodScored == 0 {
		c.Chosen = "best observed"
	}
	return c, nil
}

// Eval implements algorithms.Objective: one evaluation, admitted,
// evaluated and recorded at once. On a pool (several slots or a simulated
// clock) it is a submission and a wait for that one candidate.
func (t *tracker) Eval(ctx context.Context, x []float64) (float64, error) {
	if t.pool != nil {
		return t.pool.evalOne(ctx, x)
	}
	index, err := t.admit(ctx, x, 0, 0)
	if err != nil {
		return 0, err
	}
	NoiseSource(&t.pcg, t.job.Seed, index)
	v, err := t.evaluate(withEvalInfo(ctx, EvalInfo{Index: index}), x, 0, 0, t.noise)
	return t.record(ctx, event{index: index, x: x, v: v.Value, err: err})
}

// admit checks candidate x and reserves one evaluation of the budget for
// it (with an item budget, its n items, from item from): an evaluation
// counts when it is submitted, so evaluations in flight on several slots
// can never exceed the budget. It returns the evaluation's index (1-based,
// in the order candidates were admitted), which seeds its noise and its
// simulated duration.
func (t *tracker) admit(ctx context.Context, x []float64, from, n int) (int, error) {
	if t.fault != nil {
		return 0, t.fault
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if t.stopped {
		return 0, errStopped
	}
	if t.items == nil && t.submitted >= t.limit {
		return 0, ErrBudget
	}
	if err := t.items.admit(from, n); err != nil {
		if !errors.Is(err, ErrBudget) {
			t.fault = err
		}
		return 0, err
	}
	if len(x) != t.f.Dim() {
		t.fault = fmt.Errorf("optimiser sent a candidate of %d coordinates, want %d", len(x), t.f.Dim())
		return 0, t.fault
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.fault = fmt.Errorf("optimiser sent a non-finite candidate (coordinate %d is %g)", i, v)
			return 0, t.fault
		}
		if t.box.Constraint && (v < t.box.Lower[i] || v > t.box.Upper[i]) {
			t.fault = fmt.Errorf("optimiser left the box: coordinate %d is %g, outside [%g, %g]", i, v, t.box.Lower[i], t.box.Upper[i])
			return 0, t.fault
		}
	}
	t.submitted++
	t.items.submitted(n)
	return t.submitted, nil
}

// record takes the outcome e of one admitted evaluation, in the order
// outcomes come back (on several slots, the order evaluations finish), at
// time e.end on the run's clock (0 without one). It counts the evaluation,
// keeps the failure penalty, best point, trace and hit, logs it
// (Job.Log), calls the observer, and returns the loss to tell the
// optimiser or the error that ends the run. "Evaluation n" in the trace
// and the hit counts outcomes in this order.
func (t *tracker) record(ctx context.Context, e event) (float64, error) {
	x, v, err, at := e.x, e.v, e.err, e.end
	t.items.spend(t, e)
	if errors.Is(err, objectives.ErrEvalFailed) && ctx.Err() == nil {
		// A failed merge or benchmark: the evaluation is spent and the run
		// goes on; the optimiser is told the worst loss seen so far, a
		// penalty every comparison-based method ranks last.
		t.used++
		t.failures++
		if t.failures == 1 {
			t.firstFailure = fmt.Sprintf("evaluation %d: %v", t.used, err)
		}
		if lerr := t.log(e, nil, nil, err.Error()); lerr != nil {
			return 0, lerr
		}
		if n := t.job.MaxInitialFailures; n > 0 && t.failures == t.used && t.used >= n {
			t.fault = fmt.Errorf("the first %d evaluations all failed (the first: %s)", t.used, t.firstFailure)
			return 0, t.fault
		}
		return t.penalty.Loss(), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		t.used++
		t.fault = fmt.Errorf("evaluation %d: %w", t.used, err)
		return 0, t.fault
	}
	if t.truthless {
		v.True = math.NaN() // whatever it says: it knows no truth
	}
	if math.IsNaN(v.Observed) || math.IsInf(v.Observed, 0) || (math.IsNaN(v.True) && !t.truthless) {
		t.used++
		t.fault = fmt.Errorf("evaluation %d: objective returned a non-finite value (observed %g, true %g)", t.used, v.Observed, v.True)
		return 0, t.fault
	}
	t.used++
	var truth *float64
	if !t.truthless {
		truth = floatPtr(v.True)
	}
	if lerr := t.log(e, floatPtr(v.Observed), truth, ""); lerr != nil {
		return 0, lerr
	}
	if t.final && slices.Equal(x, t.methodX) {
		t.methodScored++
	}
	loss := v.Observed
	if t.f.Sense() == objectives.Maximize {
		loss = -loss
	}
	t.penalty.Observe(loss)
	t.keepTop(loss, x)
	if t.bestX == nil || loss < t.bestLoss {
		t.bestLoss = loss
		t.bestObserved = v.Observed
		t.bestX = append(t.bestX[:0], x...)
	}
	if !t.truthless && (math.IsNaN(t.bestTrue) || better(t.f.Sense(), v.True, t.bestTrue)) {
		t.bestTrue = v.True
		t.trace = append(t.trace, TracePoint{Eval: t.used, True: v.True, T: at, Items: t.items.usedItems()})
	}
	if !t.truthless && t.hit == 0 && objectives.Reached(t.f, v.True, t.target) {
		t.hit, t.hitAt = t.used, at
		if t.job.StopAtTarget && !t.final {
			t.stopped = true
		}
	}
	if t.job.Observe != nil && !t.final {
		if !t.job.Observe(Progress{Evals: t.used, X: x, Value: v, BestObserved: t.bestObserved, BestX: t.bestX, BestTrue: t.bestTrue, HitEval: t.hit}) {
			t.stopped = true
		}
	}
	return loss, nil
}

// log hands the evaluation's record to Job.Log, unless it was replayed
// (its record is already in the journal). Its error is a fault.
func (t *tracker) log(e event, observed, truth *float64, failure string) error {
	if t.job.Log == nil || e.replayed {
		return nil
	}
	rec := EvalRecord{Index: e.index, X: slices.Clone(e.x), Observed: observed, True: truth, Error: failure,
		Slot: e.slot, MS: e.ms, Final: t.scoring, From: e.from, Items: e.n, PerItem: e.per}
	if err := t.job.Log(rec); err != nil {
		t.fault = err
		return err
	}
	return nil
}

func better(s objectives.Sense, a, b float64) bool {
	if s == objectives.Maximize {
		return a > b
	}
	return a < b
}

// evaluate calls the objective with the evaluation's noise source,
// turning a panic into an error and, when the job sets a timeout,
// abandoning an evaluation that hangs. It touches no tracker state, so
// evaluations on several slots may run it at once.
func (t *tracker) evaluate(ctx context.Context, x []float64, from, n int, noise *rand.Rand) (objectives.ItemValue, error) {
	if t.job.EvalTimeout <= 0 {
		return protect(ctx, t.f, x, from, n, noise)
	}
	ectx, cancel := context.WithTimeout(ctx, t.job.EvalTimeout)
	defer cancel()
	type result struct {
		v   objectives.ItemValue
		err error
	}
	ch := make(chan result, 1)
	xc := append([]float64(nil), x...)
	go func() {
		v, err := protect(ectx, t.f, xc, from, n, noise)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ectx.Done():
		if ctx.Err() != nil {
			return objectives.ItemValue{}, ctx.Err()
		}
		return objectives.ItemValue{}, fmt.Errorf("objective did not answer within %v", t.job.EvalTimeout)
	}
}

// protect evaluates x: on n items from item from when n > 0 (f is then
// an objectives.ItemFunction: checkItemJob saw to it), else as f does.
func protect(ctx context.Context, f objectives.Function, x []float64, from, n int, rng *rand.Rand) (v objectives.ItemValue, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("objective panicked: %v", r)
		}
	}()
	if n > 0 {
		return f.(objectives.ItemFunction).EvaluateItems(ctx, x, from, n, rng)
	}
	v.Value, err = f.Evaluate(ctx, x, rng)
	return v, err
}

// BestTrueAt returns the best true value among the first e evaluations,
// NaN before the first.
func (r *Run) BestTrueAt(e int) float64 {
	v := math.NaN()
	for _, p := range r.Trace {
		if p.Eval > e {
			break
		}
		v = p.True
	}
	return v
}

// Maximizes reports whether the run's objective is a score.
func (r *Run) Maximizes() bool { return r.Sense != "minimize" }

// Hit returns the first evaluation whose best true value reached target
// (read as objectives.Reached does for the run's sense), +Inf if none.
func (r *Run) Hit(target float64) float64 {
	for _, p := range r.Trace {
		if (r.Maximizes() && p.True >= target) || (!r.Maximizes() && p.True-r.Best <= target) {
			return float64(p.Eval)
		}
	}
	return math.Inf(1)
}

// DenseTrace returns the best true value after each evaluation 1..EvalsUsed
// (NaN before the first success), the form the plots take.
func (r *Run) DenseTrace() []float64 {
	out := make([]float64, r.EvalsUsed)
	v, k := math.NaN(), 0
	for e := 1; e <= r.EvalsUsed; e++ {
		for k < len(r.Trace) && r.Trace[k].Eval <= e {
			v = r.Trace[k].True
			k++
		}
		out[e-1] = v
	}
	return out
}

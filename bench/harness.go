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
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// ErrBudget is returned to an optimiser that asks for an evaluation past
// its budget; it is how every run normally ends.
var ErrBudget = errors.New("evaluation budget spent")

// errStopped ends a run that its observer stopped (e.g. target reached).
var errStopped = errors.New("stopped by observer")

// Job is one run: one algorithm, one objective, one seed.
type Job struct {
	Algorithm string
	// Settings are hyperparameter overrides (name → value) for Algorithm.
	Settings map[string]string
	// Objective describes the objective; every job of a comparison shares
	// it, so all methods face the same optimum.
	Objective objectives.Spec
	// Seed is the run's seed: the optimiser's randomness and the noise of
	// the objective both derive from it (see Seeds).
	Seed uint64
	// Budget is the exact number of evaluations allowed.
	Budget int
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
	// Observe, if set, is called after every evaluation with the run so
	// far; returning false ends the run.
	Observe func(Progress) bool
}

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
}

// Run is the record of one finished job.
type Run struct {
	Algorithm     string            `json:"algorithm"`
	Objective     string            `json:"objective"`
	Dim           int               `json:"dim"`
	Noise         float64           `json:"noise"`
	Items         int               `json:"items"`
	Seed          uint64            `json:"seed"`
	Budget        int               `json:"budget"`
	Target        float64           `json:"target"`
	EvalsUsed     int               `json:"evals_used"`
	EvalsToTarget *int              `json:"evals_to_target"`
	BestObserved  float64           `json:"best_observed"`
	BestTrue      float64           `json:"best_true"`
	Recommended   []float64         `json:"recommended"`
	RecommendTrue float64           `json:"recommended_true"`
	WallMS        float64           `json:"wall_ms"`
	Params        map[string]string `json:"params"`
	Error         string            `json:"error,omitempty"`
	// Trace lists the evaluations at which the best true value improved.
	Trace []TracePoint `json:"trace"`
}

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
	// splitmix64 finaliser to spread FNV's weak low bits.
	z := h.Sum64() + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
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

// ExecuteOn is Execute with the objective already built.
func ExecuteOn(ctx context.Context, job Job, f objectives.Function) (*Run, error) {
	if job.Budget < 1 {
		return nil, fmt.Errorf("budget %d: must be at least 1 evaluation", job.Budget)
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
	target := job.Target
	if math.IsNaN(target) {
		target = f.DefaultTarget()
	}
	run := &Run{
		Algorithm: job.Algorithm, Objective: f.Name(), Dim: f.Dim(),
		Noise: job.Objective.Noise, Items: job.Objective.Items, Seed: job.Seed,
		Budget: job.Budget, Target: target, Params: map[string]string{},
	}
	for _, p := range params {
		run.Params[p.Name] = p.Value
	}
	t := &tracker{
		f: f, job: job, target: target, box: box,
		noise:        rand.New(rand.NewPCG(job.Seed, 0x6e6f697365)), // "noise"
		bestObserved: math.NaN(), bestTrue: math.NaN(),
	}
	algRNG := rand.New(rand.NewPCG(job.Seed, 0x616c67)) // "alg"

	start := time.Now()
	rec, runErr := safeMinimize(ctx, opt, prob, t, algRNG)
	run.WallMS = float64(time.Since(start).Microseconds()) / 1000

	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	run.EvalsUsed = t.used
	run.BestObserved = t.bestObserved
	run.BestTrue = t.bestTrue
	run.Trace = t.trace
	if t.hit > 0 {
		h := t.hit
		run.EvalsToTarget = &h
	}
	switch {
	case t.fault != nil:
		run.Error = t.fault.Error()
	case runErr != nil && !errors.Is(runErr, ErrBudget) && !errors.Is(runErr, errStopped):
		run.Error = runErr.Error()
	}
	// The recommendation: the method's own answer, else the best observed.
	if rec != nil && len(rec) == f.Dim() && allFinite(rec) {
		x := append([]float64(nil), rec...)
		if box.Constraint {
			prob.Clip(x)
		}
		run.Recommended = x
	} else if t.bestX != nil {
		run.Recommended = append([]float64(nil), t.bestX...)
	}
	run.RecommendTrue = math.NaN()
	if run.Recommended != nil {
		run.RecommendTrue = f.True(run.Recommended)
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
// trace. A run uses it from one goroutine.
type tracker struct {
	f      objectives.Function
	job    Job
	target float64
	box    objectives.Box
	noise  *rand.Rand

	used         int
	bestObserved float64
	bestLoss     float64
	bestX        []float64
	bestTrue     float64
	hit          int
	trace        []TracePoint
	fault        error // a failure of the objective or a rule broken by the optimiser
	stopped      bool
}

// Eval implements algorithms.Objective.
func (t *tracker) Eval(ctx context.Context, x []float64) (float64, error) {
	if t.fault != nil {
		return 0, t.fault
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if t.stopped {
		return 0, errStopped
	}
	if t.used >= t.job.Budget {
		return 0, ErrBudget
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
	v, err := t.evaluate(ctx, x)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		t.used++
		t.fault = fmt.Errorf("evaluation %d: %w", t.used, err)
		return 0, t.fault
	}
	if math.IsNaN(v.Observed) || math.IsInf(v.Observed, 0) || math.IsNaN(v.True) {
		t.used++
		t.fault = fmt.Errorf("evaluation %d: objective returned a non-finite value (observed %g, true %g)", t.used, v.Observed, v.True)
		return 0, t.fault
	}
	t.used++
	loss := v.Observed
	if t.f.Sense() == objectives.Maximize {
		loss = -loss
	}
	if t.bestX == nil || loss < t.bestLoss {
		t.bestLoss = loss
		t.bestObserved = v.Observed
		t.bestX = append(t.bestX[:0], x...)
	}
	if math.IsNaN(t.bestTrue) || better(t.f.Sense(), v.True, t.bestTrue) {
		t.bestTrue = v.True
		t.trace = append(t.trace, TracePoint{Eval: t.used, True: v.True})
	}
	if t.hit == 0 && objectives.Reached(t.f, v.True, t.target) {
		t.hit = t.used
		if t.job.StopAtTarget {
			t.stopped = true
		}
	}
	if t.job.Observe != nil {
		if !t.job.Observe(Progress{Evals: t.used, X: x, Value: v, BestObserved: t.bestObserved, BestX: t.bestX, BestTrue: t.bestTrue, HitEval: t.hit}) {
			t.stopped = true
		}
	}
	return loss, nil
}

func better(s objectives.Sense, a, b float64) bool {
	if s == objectives.Maximize {
		return a > b
	}
	return a < b
}

// evaluate calls the objective, turning a panic into an error and, when
// the job sets a timeout, abandoning an evaluation that hangs.
func (t *tracker) evaluate(ctx context.Context, x []float64) (objectives.Value, error) {
	if t.job.EvalTimeout <= 0 {
		return protect(ctx, t.f, x, t.noise)
	}
	ectx, cancel := context.WithTimeout(ctx, t.job.EvalTimeout)
	defer cancel()
	type result struct {
		v   objectives.Value
		err error
	}
	ch := make(chan result, 1)
	xc := append([]float64(nil), x...)
	go func() {
		v, err := protect(ectx, t.f, xc, t.noise)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ectx.Done():
		if ctx.Err() != nil {
			return objectives.Value{}, ctx.Err()
		}
		// The goroutine may still hold the noise source; the run ends here,
		// so nothing else touches it.
		return objectives.Value{}, fmt.Errorf("objective did not answer within %v", t.job.EvalTimeout)
	}
}

func protect(ctx context.Context, f objectives.Function, x []float64, rng *rand.Rand) (v objectives.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("objective panicked: %v", r)
		}
	}()
	return f.Evaluate(ctx, x, rng)
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/evomerge/evomerge/objectives"
)

// EvalRecord is one finished evaluation of a run, as the tracker records
// it: what a journal of a run in progress holds, so that a killed run
// (evomerge evolve on GPUs for days) resumes without repeating an
// evaluation. Only outcomes that belong to the candidate are recorded: a
// score or a failed merge or benchmark (objectives.ErrEvalFailed). A
// fault of the run itself (a broken evaluator, a cancelled context) is
// not: on resume that evaluation is made again.
type EvalRecord struct {
	// Index is the evaluation's place in submission order (1-based): it
	// seeds the evaluation's noise, and names its folders.
	Index int       `json:"index"`
	X     []float64 `json:"x"`
	// Observed is the score or loss the objective returned; nil: the
	// evaluation failed, and Error says how.
	Observed *float64 `json:"observed"`
	// True is the noise-free value, where the objective knows it.
	True  *float64 `json:"true,omitempty"`
	Error string   `json:"error,omitempty"`
	// Slot is the evaluation slot (0..Slots−1) it ran on, and MS how long
	// it took in milliseconds (simulated, on a run with a clock).
	Slot int     `json:"slot"`
	MS   float64 `json:"ms"`
	// Final marks an evaluation after the search: the final check of an
	// unevaluated recommendation, or a re-evaluation (Job.Reeval).
	Final bool `json:"final,omitempty"`
	// From and Items are the items it was scored on, on a run with an item
	// budget (Job.ItemBudget), and PerItem each item's score where the
	// objective reports them: the outcomes paired comparisons use.
	From    int       `json:"from,omitempty"`
	Items   int       `json:"items,omitempty"`
	PerItem []float64 `json:"per_item,omitempty"`
}

// Failed reports whether the evaluation failed.
func (e EvalRecord) Failed() bool { return e.Observed == nil }

// EvalInfo is what an objective may learn about the evaluation it is
// making, from its context (EvalInfoFrom): an external evaluator runs it
// on the device of its slot and names its folders by its index.
type EvalInfo struct {
	// Index is the evaluation's place in submission order (1-based).
	Index int
	// Slot is the evaluation slot it holds, 0..Slots−1: no two
	// evaluations in flight at once hold the same slot.
	Slot int
}

type evalInfoKey struct{}

// EvalInfoFrom returns the EvalInfo of the evaluation whose context ctx
// is; false outside an evaluation of the tracker.
func EvalInfoFrom(ctx context.Context) (EvalInfo, bool) {
	e, ok := ctx.Value(evalInfoKey{}).(EvalInfo)
	return e, ok
}

// WithEvalInfo returns ctx carrying e: the context a harness other than
// the tracker (bench/multi) gives each evaluation, so objectives read
// their slot and index the same way under either.
func WithEvalInfo(ctx context.Context, e EvalInfo) context.Context { return withEvalInfo(ctx, e) }

func withEvalInfo(ctx context.Context, e EvalInfo) context.Context {
	return context.WithValue(ctx, evalInfoKey{}, e)
}

// replayedFailure is a failure read back from a record: its message is the
// original's, and it counts as a failed evaluation.
type replayedFailure string

func (f replayedFailure) Error() string        { return string(f) }
func (f replayedFailure) Is(target error) bool { return target == objectives.ErrEvalFailed }

// replay holds the records of a previous process that the run has not yet
// met again, by index, and the order in which they were recorded.
type replay struct {
	byIndex map[int]EvalRecord
	order   []int // indices in recorded order
	pos     int   // records handed back so far (real slots)
	used    int   // records met at submission
}

// newReplay checks a previous process's records: indices unique and
// within the budget, every point of the objective's dimension.
func newReplay(recs []EvalRecord, budget, dim int) (*replay, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	r := &replay{byIndex: make(map[int]EvalRecord, len(recs))}
	for _, e := range recs {
		switch {
		case e.Index < 1 || e.Index > budget:
			return nil, fmt.Errorf("replayed evaluation %d outside 1..%d", e.Index, budget)
		case len(e.X) != dim:
			return nil, fmt.Errorf("replayed evaluation %d has %d coordinates, want %d: the journal belongs to another run", e.Index, len(e.X), dim)
		}
		if _, dup := r.byIndex[e.Index]; dup {
			return nil, fmt.Errorf("evaluation %d is recorded twice", e.Index)
		}
		r.byIndex[e.Index] = e
		r.order = append(r.order, e.Index)
	}
	return r, nil
}

// take returns the record of evaluation index, if the previous process
// made it, after checking it was made at x on the same items.
func (r *replay) take(index int, x []float64, from, n int) (EvalRecord, bool, error) {
	if r == nil {
		return EvalRecord{}, false, nil
	}
	e, ok := r.byIndex[index]
	if !ok {
		return EvalRecord{}, false, nil
	}
	if !slices.Equal(e.X, x) {
		return EvalRecord{}, false, fmt.Errorf("evaluation %d was recorded at %v, but this run submits %v there: the journal belongs to another run (other code or config)", index, e.X, x)
	}
	if e.From != from || e.Items != n {
		return EvalRecord{}, false, fmt.Errorf("evaluation %d was recorded on %d items from item %d, but this run submits %d from item %d: the journal belongs to another run (other code or config)", index, e.Items, e.From, n, from)
	}
	delete(r.byIndex, index)
	r.used++
	return e, true, nil
}

// outcome is what a record says the evaluation returned.
func (e EvalRecord) outcome() (objectives.Value, error) {
	if e.Observed == nil {
		return objectives.Value{}, replayedFailure(e.Error)
	}
	v := objectives.Value{Observed: *e.Observed, True: math.NaN()}
	if e.True != nil {
		v.True = *e.True
	}
	return v, nil
}

// errReplayLeft is the fault of a run that ends with records of the
// journal it never met: they were made by another run.
var errReplayLeft = errors.New("the journal records evaluations this run never made: it belongs to another run (other code or config)")

func floatPtr(v float64) *float64 { return &v }

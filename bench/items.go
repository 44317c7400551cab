package bench

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// An item budget (Job.ItemBudget) counts what a real evaluation costs: its
// benchmark items. The tracker admits an evaluation only if the items left
// pay for it whole, counts the items of every evaluation it records, and
// scores the method's answer when the items spent pass 10, 25 and 50% of
// the budget, so methods that spend items differently are compared at
// equal compute.

// ItemFractions are the item-budget checkpoints of records and reports.
var ItemFractions = [4]float64{0.1, 0.25, 0.5, 1}

// ItemCheckpoint is the method's answer when a share of the item budget
// was spent: after the last evaluation recorded within Items items (at
// 100%, the run's recommendation after any final check).
type ItemCheckpoint struct {
	Fraction float64 `json:"fraction"`
	Items    int     `json:"items"`
	// Evals is the number of evaluations recorded by then.
	Evals int `json:"evals"`
	// True is the answer's true value (null: no answer yet, or an
	// objective without truth) and HeldOut its held-out score, for
	// objectives with held-out items.
	True    *float64 `json:"true"`
	HeldOut *float64 `json:"heldout,omitempty"`
	// T is the simulated time by then, on a run with an evaluation-time
	// model.
	T *float64 `json:"t,omitempty"`
}

// ItemEvals is the evaluation budget of an item budget: the full
// evaluations of n items it pays for (Job.Budget of an item-budget job).
func ItemEvals(itemBudget, n int) int {
	if n < 1 {
		return 0
	}
	return itemBudget / n
}

// itemRun is the item accounting of one run. Its methods do nothing on a
// nil itemRun (a run without an item budget), so the tracker calls them
// unconditionally.
type itemRun struct {
	fn     objectives.ItemFunction
	list   objectives.ItemList
	budget int // Job.ItemBudget
	limit  int // items the optimiser may spend now
	sub    int // items admitted
	used   int // items recorded
	lastAt float64
	next   int // the next checkpoint of ItemFractions (below 100%)
	at     []ItemCheckpoint
	inc    algorithms.Incumbenter // the method's answer, if it says it
}

// checkItemJob checks an item-budget job against its objective and returns
// the objective as an ItemFunction (nil without an item budget).
func checkItemJob(job Job, f objectives.Function) (objectives.ItemFunction, error) {
	if job.ItemBudget == 0 {
		return nil, nil
	}
	if job.ItemBudget < 0 {
		return nil, fmt.Errorf("item budget %d: must be at least 1 item", job.ItemBudget)
	}
	ifn, ok := f.(objectives.ItemFunction)
	if !ok || ifn.Items().N < 1 {
		return nil, fmt.Errorf("objective %s is not scored on benchmark items, so an item budget cannot count them: use an objective with items (mock with --items, mnist-multitask, an external evaluator whose command takes {limit})", f.Name())
	}
	n := ifn.Items().N
	if job.ItemBudget < n {
		return nil, fmt.Errorf("item budget %d: less than one full evaluation of %d items", job.ItemBudget, n)
	}
	if want := ItemEvals(job.ItemBudget, n); job.Budget != want {
		return nil, fmt.Errorf("budget %d evaluations: an item budget of %d items of %d per evaluation buys %d full evaluations", job.Budget, job.ItemBudget, n, want)
	}
	return ifn, nil
}

// setItems starts the item accounting of the tracker's run.
func (t *tracker) setItems(f objectives.ItemFunction, opt algorithms.Optimizer) {
	r := &itemRun{fn: f, list: f.Items(), budget: t.job.ItemBudget, limit: t.job.ItemBudget}
	r.inc, _ = opt.(algorithms.Incumbenter)
	t.items = r
}

// reserveItems keeps evals full evaluations of the budget for the end of
// the run (a final check, re-evaluations).
func (t *tracker) reserveItems(evals int) {
	if t.items != nil {
		t.items.limit = t.items.budget - evals*t.items.list.N
	}
}

// reopenItems opens the whole item budget, for the end of the run.
func (t *tracker) reopenItems() {
	if t.items != nil {
		t.items.limit = t.items.budget
	}
}

// full is the range of a full evaluation (0, 0 without an item budget:
// the objective evaluates as it does).
func (r *itemRun) full() (from, n int) {
	if r == nil {
		return 0, 0
	}
	return 0, r.list.N
}

// admit checks an evaluation of n items from item from against the list
// and the budget: ErrBudget if the items left cannot pay for it whole,
// another error if the optimiser asked for items the list lacks.
func (r *itemRun) admit(from, n int) error {
	if r == nil {
		if n != 0 {
			return errors.New("optimiser asked for an evaluation on some items, but the run has no item budget")
		}
		return nil
	}
	if err := objectives.CheckItemRange(r.list, from, n); err != nil {
		return fmt.Errorf("optimiser asked for %v", err)
	}
	if r.sub+n > r.limit {
		return ErrBudget
	}
	return nil
}

func (r *itemRun) submitted(n int) {
	if r != nil {
		r.sub += n
	}
}

// timeShare is the share of a full evaluation's time that an evaluation
// of n items takes: n/N (the evaluation-time model draws full ones).
func (r *itemRun) timeShare(n int) float64 {
	if r == nil || n == 0 {
		return 1
	}
	return float64(n) / float64(r.list.N)
}

func (r *itemRun) usedItems() int {
	if r == nil {
		return 0
	}
	return r.used
}

// spend counts the items of evaluation e, which the tracker is recording,
// after scoring the answer at every checkpoint e would pass: the answer
// then is the one before e.
func (r *itemRun) spend(t *tracker, e event) {
	if r == nil {
		return
	}
	for r.next < 3 && r.checkpoint(r.next) < r.used+e.n {
		r.snapshot(t, r.next)
		r.next++
	}
	r.used += e.n
	r.lastAt = e.end
}

func (r *itemRun) checkpoint(i int) int {
	return int(ItemFractions[i] * float64(r.budget))
}

// answer is the method's answer now: its own (algorithms.Incumbenter),
// else the best observed point.
func (r *itemRun) answer(t *tracker) []float64 {
	if r.inc != nil {
		return r.inc.Incumbent()
	}
	return t.bestX
}

func (r *itemRun) snapshot(t *tracker, i int) {
	r.at = append(r.at, r.scored(t, i, r.answer(t)))
}

// scored is checkpoint i with answer x scored.
func (r *itemRun) scored(t *tracker, i int, x []float64) ItemCheckpoint {
	c := ItemCheckpoint{Fraction: ItemFractions[i], Items: r.checkpoint(i), Evals: t.used}
	if x != nil && !t.truthless {
		if v := t.f.True(x); !math.IsNaN(v) {
			c.True = &v
		}
	}
	if h, ok := t.f.(objectives.HeldOuter); ok && x != nil {
		v := h.HeldOut(x)
		c.HeldOut = &v
	}
	if t.pool != nil && t.pool.sim && !t.pool.instant {
		at := r.lastAt
		c.T = &at
	}
	return c
}

// finish completes the run's record: the checkpoints a run that ended
// early never passed, and at 100% the recommendation.
func (r *itemRun) finish(t *tracker, run *Run) {
	for r.next < 3 {
		r.snapshot(t, r.next)
		r.next++
	}
	last := r.scored(t, 3, nil)
	if run.Recommended != nil {
		if !math.IsNaN(run.RecommendTrue) {
			v := run.RecommendTrue
			last.True = &v
		}
		last.HeldOut = run.RecommendHeldOut
	}
	r.at = append(r.at, last)
	run.ItemsUsed = r.used
	run.AtItems = r.at
}

// The tracker as an algorithms.ItemPool: every tracker's pool is one, so
// a fidelity-aware method learns from Items whether the run has an item
// budget (Full 0: none).

var _ algorithms.ItemPool = poolTracker{}

// Items describes the objective's items and what the method may spend.
func (p poolTracker) Items() algorithms.ItemSpace {
	r := p.items
	if r == nil {
		return algorithms.ItemSpace{}
	}
	return algorithms.ItemSpace{Full: r.list.N, Budget: r.limit, Fixed: r.list.Fixed, PrefixOnly: r.list.PrefixOnly}
}

// SubmitItems admits c on n items from item from and starts it.
func (p poolTracker) SubmitItems(ctx context.Context, c algorithms.Candidate, from, n int) error {
	if p.items == nil {
		if p.fault == nil {
			p.fault = errors.New("optimiser asked for an evaluation on some items, but the run has no item budget")
		}
		return p.fault
	}
	return p.pool.submit(ctx, c, from, n)
}

// NextItems is Next with the evaluation's per-item losses.
func (p poolTracker) NextItems(ctx context.Context) (algorithms.ItemResult, error) {
	e, loss, err := p.pool.nextEvent(ctx)
	if err != nil {
		return algorithms.ItemResult{}, err
	}
	res := algorithms.ItemResult{ID: e.id, Loss: loss, Failed: e.err != nil}
	if e.err == nil && e.per != nil {
		res.PerItem = make([]float64, len(e.per))
		for i, v := range e.per {
			if p.f.Sense() == objectives.Maximize {
				v = -v
			}
			res.PerItem[i] = v
		}
	}
	return res, nil
}

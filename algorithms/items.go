package algorithms

import (
	"context"
	"errors"
)

// ErrBudget is how an objective refuses an evaluation past the budget
// (bench's tracker returns it). A fidelity-aware method whose search is
// over and which has nothing left worth spending items on returns it too:
// its run then ends as a budget-limited run does, with the items it did
// not spend shown in its record.
var ErrBudget = errors.New("evaluation budget spent")

// ItemSpace is what a fidelity-aware method knows of the items an
// evaluation is scored on (see objectives.ItemList) and of its budget.
type ItemSpace struct {
	// Full is the number of items of a full evaluation (the list's length
	// when Fixed).
	Full int
	// Budget is the number of items the method may spend in all.
	Budget int
	// Fixed: the items are one ordered list; a candidate's first n items
	// are a prefix, and two candidates' outcomes on one item are paired.
	Fixed bool
	// PrefixOnly: only prefixes can be scored (SubmitItems with from 0).
	PrefixOnly bool
}

// ItemResult is the outcome of an evaluation on some items.
type ItemResult struct {
	ID int
	// Loss is the evaluation's loss: the mean over its items, in the
	// objective's units (a score is negated), as Next returns it.
	Loss float64
	// PerItem are the items' own losses in item order (an item's score
	// negated for a score objective), nil when the objective reports none
	// or the evaluation failed.
	PerItem []float64
	// Failed says the evaluation failed (a crashed merge or benchmark) and
	// Loss is the harness's penalty.
	Failed bool
}

// ItemPool is the objective of a run with an item budget (bench
// --budget-items): a Pool whose evaluations may be made on part of the
// items, each item costing one unit of the budget. Submit scores a
// candidate on every item (SubmitItems from 0, Full items); a method that
// knows nothing of items runs as on any Pool.
type ItemPool interface {
	Pool
	// Items describes the items and the method's item budget.
	Items() ItemSpace
	// SubmitItems starts scoring c on n items: items from … from+n−1 of a
	// fixed list, n fresh items otherwise. It refuses (ErrBudget) an
	// evaluation the budget cannot pay for whole.
	SubmitItems(ctx context.Context, c Candidate, from, n int) error
	// NextItems is Next with the evaluation's per-item outcomes.
	NextItems(ctx context.Context) (ItemResult, error)
}

// Incumbenter is implemented by methods whose current answer is not simply
// the best single observation: a fidelity-aware method's answer is the
// best candidate among those scored on the most items, not one that scored
// well on a few. The harness asks for it to score the method's answer at
// fractions of the item budget. Nil means no answer yet.
type Incumbenter interface {
	Incumbent() []float64
}

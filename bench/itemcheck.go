package bench

import "fmt"

// CheckItemAccounting checks a finished item-budget run against every
// evaluation its Job.Log received, whatever the objective: each evaluation
// lies within the objective's list of n items and reports one outcome per
// item; the logged items add up to the record's items_used, which never
// exceeds the budget, and the logged evaluations to evals_used; at least
// three quarters of the budget was spent (a method that stops early
// wastes what the user paid for); the trace's items grow with the run;
// and the checkpoints fall at 10, 25, 50 and 100% of the budget, each
// with a true value, and with a simulated time on a run with a clock. It
// is the conformance test of the item accounting (bench's tests run it on
// the mock, objectives/realmerge's on the real multi-task testbed), so a
// method that could pass the budget or ask for items outside the list
// fails on every objective alike.
func CheckItemAccounting(r *Run, logged []EvalRecord, n int, clock bool) error {
	if r.Error != "" {
		return fmt.Errorf("run error: %s", r.Error)
	}
	sum := 0
	for _, e := range logged {
		if e.Items < 1 || e.From < 0 || e.From+e.Items > n || len(e.PerItem) != e.Items {
			return fmt.Errorf("evaluation %d on items %d…%d with %d outcomes, of a list of %d", e.Index, e.From, e.From+e.Items-1, len(e.PerItem), n)
		}
		sum += e.Items
	}
	if sum != r.ItemsUsed || r.ItemsUsed > r.ItemBudget || len(logged) != r.EvalsUsed {
		return fmt.Errorf("%d evaluations logged of %d items, record %d evaluations, %d items of %d", len(logged), sum, r.EvalsUsed, r.ItemsUsed, r.ItemBudget)
	}
	if r.ItemsUsed < r.ItemBudget*3/4 {
		return fmt.Errorf("spent %d of %d items", r.ItemsUsed, r.ItemBudget)
	}
	for i := 1; i < len(r.Trace); i++ {
		if r.Trace[i].Items <= r.Trace[i-1].Items || r.Trace[i].Items > r.ItemsUsed {
			return fmt.Errorf("trace items do not grow within the items used: %v", r.Trace)
		}
	}
	if len(r.AtItems) != len(ItemFractions) {
		return fmt.Errorf("%d checkpoints, want %d", len(r.AtItems), len(ItemFractions))
	}
	for i, c := range r.AtItems {
		if c.Fraction != ItemFractions[i] || c.Items != int(ItemFractions[i]*float64(r.ItemBudget)) || c.True == nil {
			return fmt.Errorf("checkpoint %d is %+v", i, c)
		}
		if clock && c.T == nil {
			return fmt.Errorf("checkpoint %d on a clock has no time", i)
		}
	}
	return nil
}

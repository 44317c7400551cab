package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/evomerge/evomerge/bench/stats"
)

// The equal-compute view of runs with an item budget: what each method's
// answer scores after 10, 25, 50 and 100% of the items, so a method that
// scores candidates on fewer items is compared with one that scores them
// on all at the same cost.

// ItemStats is one entry's figures at the item checkpoints of a cell.
type ItemStats struct {
	Algorithm string
	Runs      int
	// At are the medians, with 95% intervals, of the answer's score at
	// each of ItemFractions: its held-out score where every run has one,
	// else its true score. Values are the runs' scores (a run with no
	// answer counts as the worst).
	At     [4]stats.MedianInterval
	Values [4][]float64
	// P10 and Worst are the low tail at 100%.
	P10, Worst float64
	// P is the Holm-corrected two-sided Mann–Whitney p of the scores at
	// 100% against the first row (NaN for the first).
	P float64
	// Evals and Items are the median evaluations made and items spent,
	// SimTime the median simulated time at budget (NaN without a clock).
	Evals, Items, SimTime float64
	// ToTarget is the median items spent until the first evaluated
	// candidate whose true value reached the cell's target (+Inf: a miss
	// counts as never), the fixed-target view in items.
	ToTarget float64
	HeldOut  bool
}

// BestTrueAtItems returns the best true value among the evaluations that
// ended within the first n items, NaN before the first.
func (r *Run) BestTrueAtItems(n int) float64 {
	v := math.NaN()
	for _, p := range r.Trace {
		if p.Items > n {
			break
		}
		v = p.True
	}
	return v
}

// ItemsHit is the items spent by the end of the first evaluation whose
// true value reached target (read as Hit reads it), +Inf if none.
func (r *Run) ItemsHit(target float64) float64 {
	for _, p := range r.Trace {
		if (r.Maximizes() && p.True >= target) || (!r.Maximizes() && p.True-r.Best <= target) {
			return float64(p.Items)
		}
	}
	return math.Inf(1)
}

// answerScore is a run's score at checkpoint i: held-out if asked, else
// true; −Inf (+Inf for a loss) when the run had no answer then.
func answerScore(r *Run, i int, held bool) float64 {
	bad := math.Inf(-1)
	if !r.Maximizes() && !held {
		bad = math.Inf(1)
	}
	if i >= len(r.AtItems) {
		return bad
	}
	c := r.AtItems[i]
	switch {
	case held && c.HeldOut != nil:
		return *c.HeldOut
	case !held && c.True != nil:
		return *c.True
	}
	return bad
}

// AnalyzeItems computes every entry's ItemStats in a cell of item-budget
// runs, ranked by the median score at 100% (ties: the median at 50%).
func AnalyzeItems(c CellRuns) ([]ItemStats, error) {
	label := entryLabels(c.Runs)
	var order []string
	by := map[string][]*Run{}
	held := true
	for _, r := range c.Runs {
		l := label[r]
		if _, ok := by[l]; !ok {
			order = append(order, l)
		}
		by[l] = append(by[l], r)
		if len(r.AtItems) == 4 && r.AtItems[3].HeldOut == nil && r.Recommended != nil {
			held = false
		}
	}
	held = held && c.Runs[0].RecommendHeldOut != nil
	maximize := held || c.Runs[0].Maximizes()
	var out []ItemStats
	for _, alg := range order {
		rs := by[alg]
		s := ItemStats{Algorithm: alg, Runs: len(rs), HeldOut: held}
		var evals, items, sims, hits []float64
		for _, r := range rs {
			hits = append(hits, r.ItemsHit(r.Target))
			for i := range ItemFractions {
				s.Values[i] = append(s.Values[i], answerScore(r, i, held))
			}
			evals = append(evals, float64(r.EvalsUsed))
			items = append(items, float64(r.ItemsUsed))
			if r.SimTime != nil {
				sims = append(sims, *r.SimTime)
			}
		}
		for i := range ItemFractions {
			m, err := stats.Median(s.Values[i], 0.95)
			if err != nil {
				return nil, fmt.Errorf("cell %s, %s: %v", c.Name, alg, err)
			}
			s.At[i] = m
		}
		s.P10, s.Worst = lowTail(s.Values[3], maximize)
		s.Evals, s.Items, s.ToTarget = stats.Quantile(evals, 0.5), stats.Quantile(items, 0.5), stats.Quantile(hits, 0.5)
		s.SimTime = math.NaN()
		if len(sims) > 0 {
			s.SimTime = stats.Quantile(sims, 0.5)
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].At[3].Median, out[j].At[3].Median
		if a == b {
			a, b = out[i].At[2].Median, out[j].At[2].Median
		}
		if maximize {
			return a > b
		}
		return a < b
	})
	var ps []float64
	for i := 1; i < len(out); i++ {
		p, err := stats.MannWhitney(out[i].Values[3], out[0].Values[3])
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	ps = stats.Holm(ps)
	for i := range out {
		out[i].P = math.NaN()
		if i > 0 {
			out[i].P = ps[i-1]
		}
	}
	return out, nil
}

// itemRows are the rows of the equal-items table.
func itemRows(a []ItemStats, maximize bool) (head []string, rows [][]string) {
	score := func(v float64) string { return fmtRecIn(v, maximize) }
	what := "true"
	if a[0].HeldOut {
		what = "held-out"
	}
	head = []string{"algorithm", what + " at 10 / 25 / 50%\nof the items (medians)", what + " at 100%\nmedian [95% CI]",
		"at 100%\np10, worst", "vs #1\n(Holm p)", "items to\ntarget", "evaluations", "items\nused"}
	clock := !math.IsNaN(a[0].SimTime)
	if clock {
		head = append(head, "simulated time\nat budget")
	}
	for _, s := range a {
		m := s.At[3]
		row := []string{s.Algorithm, fmt.Sprintf("%s / %s / %s", score(s.At[0].Median), score(s.At[1].Median), score(s.At[2].Median)),
			fmt.Sprintf("%s [%s, %s]", score(m.Median), score(m.Lo), score(m.Hi)),
			fmt.Sprintf("%s, %s", score(s.P10), score(s.Worst)), fmtP(s.P), fmtEvals(s.ToTarget), fmtEvals(s.Evals), fmtEvals(s.Items)}
		if clock {
			row = append(row, fmtSimTime(s.SimTime))
		}
		rows = append(rows, row)
	}
	return head, rows
}

// itemsNote explains the equal-items table.
const itemsNote = "Each method's answer when 10, 25, 50 and 100% of the item budget were spent (after the last evaluation within that many items; at 100%, the point it recommends): the best observed point for methods that score every candidate on all items, the fidelity strategy's own answer otherwise (STRATEGY:METHOD; see its recommendation in the records), scored by its true value (held-out where the objective has held-out items). Ranked by the median at 100%; vs #1: two-sided Mann–Whitney test against the first row, Holm-corrected; ~ = not significant at α = 0.05. Items to target: median items spent until the first candidate whose true value reached the target (∞: a miss). Evaluations and items used: medians; an evaluation may be on any number of items, so the other tables' evaluation counts compare only methods that score every candidate on all items."

// writeItemsTable prints the equal-items table of a comparison's runs.
func writeItemsTable(w io.Writer, markdown bool, runs []*Run, _ uint64) error {
	c := CellRuns{Cell: runs[0].Cell(), Name: runs[0].Cell().String(), Runs: runs}
	a, err := AnalyzeItems(c)
	if err != nil {
		return err
	}
	head, rows := itemRows(a, a[0].HeldOut || runs[0].Maximizes())
	title := fmt.Sprintf("At equal items: a budget of %d items, %d per full evaluation.", runs[0].ItemBudget, runs[0].Items)
	return renderTitledRows(w, markdown, title, head, rows, itemsNote)
}

// writeEqualItems writes the pages' equal-compute section for the cells
// with an item budget (nothing when none has one): each cell's
// equal-items table, then, for cells that differ only in their item
// budget, whether a fidelity strategy at the smaller budget reaches its
// base method's full-items score at the larger.
func writeEqualItems(b *bytes.Buffer, cells []CellRuns) error {
	var withItems []CellRuns
	for _, c := range cells {
		if c.Runs[0].ItemBudget > 0 {
			withItems = append(withItems, c)
		}
	}
	if len(withItems) == 0 {
		return nil
	}
	b.WriteString("## At equal items\n\n")
	b.WriteString(itemsNote + "\n\n")
	analyses := map[Cell][]ItemStats{}
	for _, c := range withItems {
		a, err := AnalyzeItems(c)
		if err != nil {
			return err
		}
		analyses[c.Cell] = a
		fmt.Fprintf(b, "### %s\n\n", c.Name)
		head, rows := itemRows(a, a[0].HeldOut || c.Runs[0].Maximizes())
		if err := renderRows(b, true, head, rows); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	return writeFewerItems(b, withItems, analyses)
}

// writeFewerItems compares, for every pair of cells that differ only in
// their item budget, each fidelity strategy over a method at the smaller
// budget with that method scoring every candidate on all items at the
// larger: does it reach the same score with a fraction of the items?
func writeFewerItems(b *bytes.Buffer, cells []CellRuns, analyses map[Cell][]ItemStats) error {
	type pair struct{ small, large CellRuns }
	var pairs []pair
	for _, s := range cells {
		for _, l := range cells {
			a, c := s.Cell, l.Cell
			if a.ItemBudget >= c.ItemBudget {
				continue
			}
			a.ItemBudget, a.Budget = c.ItemBudget, c.Budget
			if a == c {
				pairs = append(pairs, pair{s, l})
			}
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	type row struct {
		small, large   CellRuns
		strat, base    ItemStats
		diff, p        float64
		held, maximize bool
	}
	var rows []row
	var ps []float64
	for _, pr := range pairs {
		large := map[string]ItemStats{}
		for _, s := range analyses[pr.large.Cell] {
			large[s.Algorithm] = s
		}
		for _, s := range analyses[pr.small.Cell] {
			prefix, base, ok := strings.Cut(s.Algorithm, ":")
			if !ok || prefix == "" {
				continue
			}
			base, _, _ = strings.Cut(base, " ") // an entry with settings
			x, ok := large[base]
			if !ok {
				continue
			}
			p, err := stats.MannWhitney(s.Values[3], x.Values[3])
			if err != nil {
				return err
			}
			ps = append(ps, p)
			rows = append(rows, row{small: pr.small, large: pr.large, strat: s, base: x, diff: s.At[3].Median - x.At[3].Median,
				held: s.HeldOut, maximize: s.HeldOut || pr.small.Runs[0].Maximizes()})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	ps = stats.Holm(ps)
	b.WriteString("### Fewer items for the same score\n\n")
	b.WriteString("Each fidelity strategy at the smaller item budget against its base method scoring every candidate on all items at the larger one (cells that differ only in their item budget): the median score of the answer at 100% of each budget, the difference (strategy − base, in score points; positive: the strategy's answer is better), and a two-sided Mann–Whitney test, Holm-corrected over every row of every table of this section. \"Reaches\" means the strategy's median is at least the base's; a difference that is not significant is not evidence of equality.\n\n")
	for i := 0; i < len(rows); {
		pr := rows[i]
		fmt.Fprintf(b, "**%s** (%d items) against **%s** (%d items):\n\n", pr.small.Name, pr.small.Runs[0].ItemBudget, pr.large.Name, pr.large.Runs[0].ItemBudget)
		b.WriteString("| strategy | base with all items | strategy: median [95% CI] | base: median [95% CI] | difference | p (Holm) | reaches |\n|---|---|---|---|---|---|---|\n")
		var bases []string
		met := map[string][]string{}
		for ; i < len(rows) && rows[i].small.Cell == pr.small.Cell && rows[i].large.Cell == pr.large.Cell; i++ {
			r := rows[i]
			score := func(v float64) string { return fmtRecIn(v, r.maximize) }
			d := r.diff
			if !r.maximize {
				d = -d
			}
			if _, ok := met[r.base.Algorithm]; !ok {
				bases = append(bases, r.base.Algorithm)
				met[r.base.Algorithm] = nil
			}
			reach := "no"
			if d >= 0 {
				reach = "yes"
				met[r.base.Algorithm] = append(met[r.base.Algorithm], r.strat.Algorithm)
			}
			fmt.Fprintf(b, "| %s | %s | %s [%s, %s] | %s [%s, %s] | %+.2f | %s | %s |\n",
				r.strat.Algorithm, r.base.Algorithm,
				score(r.strat.At[3].Median), score(r.strat.At[3].Lo), score(r.strat.At[3].Hi),
				score(r.base.At[3].Median), score(r.base.At[3].Lo), score(r.base.At[3].Hi), d, fmtP(ps[i]), reach)
		}
		b.WriteString("\n")
		sort.Strings(bases)
		for _, base := range bases {
			if len(met[base]) == 0 {
				fmt.Fprintf(b, "- %s: no strategy's median at %d items reaches %s's at %d.\n", base, pr.small.Runs[0].ItemBudget, base, pr.large.Runs[0].ItemBudget)
				continue
			}
			fmt.Fprintf(b, "- %s: reached at %d items by %s.\n", base, pr.small.Runs[0].ItemBudget, strings.Join(met[base], ", "))
		}
		b.WriteString("\n")
	}
	return nil
}

package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/evomerge/evomerge/bench/stats"
	"github.com/evomerge/evomerge/objectives"
)

// The figures of runs on a simulated cluster (Job.EvalTime): what a user
// with K GPUs and evaluations that take minutes compares is the time to
// reach a merge, not the number of evaluations.

// Mean is the expected duration of one evaluation in seconds (for the
// lognormal, median·e^(σ²/2)); 0 without a model.
func (e EvalTime) Mean() float64 {
	switch e.Kind {
	case "fixed":
		return e.Median.Seconds()
	case "lognormal":
		return e.Median.Seconds() * math.Exp(e.Sigma*e.Sigma/2)
	}
	return 0
}

// SimHit returns the simulated time at which the run's best true value
// first reached target (read as Hit reads it), +Inf if never.
func (r *Run) SimHit(target float64) float64 {
	for _, p := range r.Trace {
		if (r.Maximizes() && p.True >= target) || (!r.Maximizes() && p.True-r.Best <= target) {
			return p.T
		}
	}
	return math.Inf(1)
}

// BestTrueAtTime returns the best true value among the evaluations that
// finished by simulated time s, NaN before the first.
func (r *Run) BestTrueAtTime(s float64) float64 {
	v := math.NaN()
	for _, p := range r.Trace {
		if p.T > s {
			break
		}
		v = p.True
	}
	return v
}

// clockFractions are the fixed-time checkpoints of a cluster cell, as
// fractions of its ideal time (ClockStats.Ideal).
var clockFractions = [3]float64{0.25, 0.5, 1}

// ClockStats is one entry's simulated-cluster figures in a cell.
type ClockStats struct {
	Algorithm string
	Runs      int
	// TTT is the simulated time to the cell's target in seconds, a missed
	// run counting as +Inf (as evaluations to target do), with its median's
	// 95% interval; TTTs are the runs' values.
	TTT            stats.MedianInterval
	TTTP10, TTTP90 float64
	TTTs           []float64
	// AtBudget is the median simulated time at which the budget was spent,
	// and Util the median and UtilP10 the 10th percentile of the slot
	// utilisation.
	AtBudget      float64
	Util, UtilP10 float64
	// AtTime is the median best true value at the clockFractions of the
	// cell's ideal time.
	AtTime [3]float64
	// PTTT is the Holm-corrected two-sided Mann–Whitney p of TTTs against
	// the first entry's (NaN for the first itself).
	PTTT float64
}

// Clock describes the simulated cluster of a cell's runs; ok is false for
// runs without one.
type Clock struct {
	Slots    int
	EvalTime EvalTime
	// Ideal is the time the budget takes with every slot always busy:
	// budget × mean duration ÷ slots.
	Ideal float64
}

// CellClock returns the simulated cluster of the cell's runs, if any.
func CellClock(c CellRuns) (Clock, bool) {
	r := c.Runs[0]
	if r.EvalTime == "" {
		return Clock{}, false
	}
	et, err := ParseEvalTime(r.EvalTime)
	if err != nil || r.Slots < 1 {
		return Clock{}, false
	}
	return Clock{Slots: r.Slots, EvalTime: et, Ideal: float64(r.Budget) * et.Mean() / float64(r.Slots)}, true
}

// AnalyzeClock ranks the entries of a simulated-cluster cell by median
// simulated time to the cell's target (soonest first; ties keep a's
// order, the ranking by recommended score), with Holm-corrected U-tests
// of the times against the first. a is AnalyzeCell's result for c.
func AnalyzeClock(c CellRuns, a []CellStats) ([]ClockStats, error) {
	clock, ok := CellClock(c)
	if !ok {
		return nil, fmt.Errorf("cell %s: runs without a simulated clock", c.Name)
	}
	label := entryLabels(c.Runs)
	by := map[string][]*Run{}
	for _, r := range c.Runs {
		by[label[r]] = append(by[label[r]], r)
	}
	out := make([]ClockStats, 0, len(a))
	for _, s := range a {
		rs := by[s.Algorithm]
		cs := ClockStats{Algorithm: s.Algorithm, Runs: len(rs)}
		var at, util []float64
		for _, r := range rs {
			cs.TTTs = append(cs.TTTs, r.SimHit(r.Target))
			if r.SimTime != nil {
				at = append(at, *r.SimTime)
			}
			if r.SlotUtilisation != nil {
				util = append(util, *r.SlotUtilisation)
			}
		}
		var err error
		if cs.TTT, err = stats.Median(cs.TTTs, 0.95); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", c.Name, s.Algorithm, err)
		}
		cs.TTTP10, cs.TTTP90 = stats.Quantile(cs.TTTs, 0.1), stats.Quantile(cs.TTTs, 0.9)
		cs.AtBudget = quantileFinite(at, 0.5)
		cs.Util, cs.UtilP10 = quantileFinite(util, 0.5), quantileFinite(util, 0.1)
		for i, f := range clockFractions {
			var v []float64
			for _, r := range rs {
				v = append(v, r.BestTrueAtTime(f*clock.Ideal))
			}
			cs.AtTime[i] = quantileFinite(v, 0.5)
		}
		out = append(out, cs)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TTT.Median < out[j].TTT.Median })
	var ps []float64
	for i := 1; i < len(out); i++ {
		p, err := stats.MannWhitney(out[i].TTTs, out[0].TTTs)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	ps = stats.Holm(ps)
	out[0].PTTT = math.NaN()
	for i := 1; i < len(out); i++ {
		out[i].PTTT = ps[i-1]
	}
	return out, nil
}

// fmtSimTime prints simulated seconds in minutes, hours or days, in at
// most 8 runes; +Inf (a miss) is ∞.
func fmtSimTime(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "∞"
	case math.IsNaN(s):
		return "—"
	case s < 600:
		return strconv.FormatFloat(s/60, 'f', 1, 64) + " min"
	case s < 6000:
		return strconv.FormatFloat(s/60, 'f', 0, 64) + " min"
	case s < 100*3600:
		return strconv.FormatFloat(s/3600, 'f', 1, 64) + " h"
	}
	return strconv.FormatFloat(s/86400, 'f', 1, 64) + " d"
}

// writeClockTable prints, under the comparison table of a simulated
// cluster, each method's simulated time to target and at budget and its
// slot utilisation, rows in the comparison table's order.
func writeClockTable(w io.Writer, markdown bool, runs []*Run, a []CellStats) error {
	c := CellRuns{Cell: runs[0].Cell(), Name: runs[0].Cell().String(), Runs: runs}
	clock, ok := CellClock(c)
	if !ok {
		return fmt.Errorf("runs name evaluation time %q and %d slots: not a simulated cluster", runs[0].EvalTime, runs[0].Slots)
	}
	cs, err := AnalyzeClock(c, a)
	if err != nil {
		return err
	}
	by := map[string]ClockStats{}
	for _, s := range cs {
		by[s.Algorithm] = s
	}
	head := []string{"algorithm", "simulated time to target\nmedian [p10, p90]", "simulated time\nat budget", "slot utilisation\nmedian (p10)"}
	var rows [][]string
	for _, s := range a {
		k := by[s.Algorithm]
		rows = append(rows, []string{k.Algorithm,
			fmt.Sprintf("%s [%s, %s]", fmtSimTime(k.TTT.Median), fmtSimTime(k.TTTP10), fmtSimTime(k.TTTP90)),
			fmtSimTime(k.AtBudget), fmt.Sprintf("%s (%s)", fmtFrac(k.Util), fmtFrac(k.UtilP10))})
	}
	title := fmt.Sprintf("Simulated cluster: %d slots, evaluation time %s (mean %s), the budget in %s with every slot busy.",
		clock.Slots, clock.EvalTime, fmtSimTime(clock.EvalTime.Mean()), fmtSimTime(clock.Ideal))
	note := "Time to target: simulated wall-clock when the first evaluation reaching the target finished (∞: never). At budget: when the last evaluation finished. Utilisation: busy slot-time ÷ (slots × time at budget); a method that evaluates one candidate at a time keeps 1 slot of " + strconv.Itoa(clock.Slots) + " busy. Rows as ranked above."
	return renderTitledRows(w, markdown, title, head, rows, note)
}

// renderTitledRows writes a table between its title and its note: as
// markdown, or as text wrapped to TableWidth.
func renderTitledRows(w io.Writer, markdown bool, title string, head []string, rows [][]string, note string) error {
	if markdown {
		fmt.Fprintf(w, "\n%s\n\n", title)
	} else {
		fmt.Fprintf(w, "\n%s\n", wrap(title, TableWidth))
	}
	if err := renderRows(w, markdown, head, rows); err != nil {
		return err
	}
	if markdown {
		fmt.Fprintf(w, "\n%s\n", note)
	} else {
		fmt.Fprintln(w, wrap(note, TableWidth))
	}
	return nil
}

// fmtFrac prints a fraction in [0, 1] with two decimals.
func fmtFrac(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// renderRows prints a table with writeTable's look: borderless text with a
// rule under the header, or markdown; names left, figures right.
func renderRows(w io.Writer, markdown bool, head []string, rows [][]string) error {
	var opts []tablewriter.Option
	if markdown {
		for i := range head {
			head[i] = strings.ReplaceAll(head[i], "\n", " ")
		}
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	} else {
		opts = append(opts, tablewriter.WithRendition(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		}))
	}
	align := make([]tw.Align, len(head))
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0] = tw.AlignLeft
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone), tablewriter.WithRowAutoWrap(tw.WrapNone))
	var tb bytes.Buffer
	t := tablewriter.NewTable(&tb, opts...)
	t.Header(toAny(head)...)
	for _, r := range rows {
		if err := t.Append(toAny(r)...); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if markdown {
		_, err := w.Write(tb.Bytes())
		return err
	}
	lines := strings.Split(strings.TrimRight(tb.String(), "\n"), "\n")
	width := 0
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " ")
		if !strings.HasPrefix(lines[i], "─") {
			width = max(width, utf8.RuneCountInString(lines[i]))
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "─") {
			l = strings.Repeat("─", width)
		}
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// clockAnalyses are the cluster figures of the cells that have a clock
// (nil for the others).
func clockAnalyses(cells []CellRuns, analyses [][]CellStats) ([][]ClockStats, error) {
	out := make([][]ClockStats, len(cells))
	for i, c := range cells {
		if _, ok := CellClock(c); !ok {
			continue
		}
		cs, err := AnalyzeClock(c, analyses[i])
		if err != nil {
			return nil, err
		}
		out[i] = cs
	}
	return out, nil
}

// writeSoonest writes the report's summary of the simulated-cluster cells:
// which method reaches the cell's target soonest, the runner-up with its
// test, and which method leads at fixed simulated times. Then, for every
// cell on several slots whose one-slot twin is on the page, the two
// rankings side by side.
func writeSoonest(b *bytes.Buffer, cells []CellRuns, clocks [][]ClockStats) {
	has := false
	for _, cs := range clocks {
		has = has || cs != nil
	}
	if !has {
		return
	}
	b.WriteString("## Soonest to target on a simulated cluster\n\n")
	b.WriteString("Cells run on a simulated clock (`--slots K --eval-time DIST`), ranked by the median simulated wall-clock until the first evaluation reaching the cell's target finished (a run that never reached it counts as ∞); the interval is the median's 95% order-statistic interval. The runner-up's p is the Holm-corrected two-sided Mann–Whitney test of its times against the soonest's (~ = not significant at α = 0.05). \"Leader at ¼ / ½ / 1× ideal time\" is the method with the highest median best true score among the evaluations finished by then; the ideal time is the budget × the mean evaluation time ÷ the slots (every slot always busy).\n\n")
	b.WriteString("| cell | soonest: median [95% CI] (hits) | runner-up (median, p) | slot utilisation of the soonest: median (p10) | leader at ¼ / ½ / 1× ideal time |\n|---|---|---|---|---|\n")
	for i, c := range cells {
		cs := clocks[i]
		if cs == nil {
			continue
		}
		clock, _ := CellClock(c)
		s := cs[0]
		hits := 0
		for _, v := range s.TTTs {
			if !math.IsInf(v, 1) {
				hits++
			}
		}
		runner := "—"
		if len(cs) > 1 {
			runner = fmt.Sprintf("%s (%s, %s)", cs[1].Algorithm, fmtSimTime(cs[1].TTT.Median), fmtP(cs[1].PTTT))
		}
		var lead []string
		for k, f := range clockFractions {
			best := -1
			for j, x := range cs {
				if !math.IsNaN(x.AtTime[k]) && (best < 0 || better(senseOf(c), x.AtTime[k], cs[best].AtTime[k])) {
					best = j
				}
			}
			if best < 0 {
				lead = append(lead, fmt.Sprintf("none at %s", fmtSimTime(f*clock.Ideal)))
				continue
			}
			lead = append(lead, fmt.Sprintf("%s %s at %s", cs[best].Algorithm, fmtScore(cs[best].AtTime[k]), fmtSimTime(f*clock.Ideal)))
		}
		fmt.Fprintf(b, "| [%s](#%s) | **%s** %s [%s, %s] (%d/%d) | %s | %s (%s) | %s |\n", c.Name, anchor(c.Name), s.Algorithm,
			fmtSimTime(s.TTT.Median), fmtSimTime(s.TTT.Lo), fmtSimTime(s.TTT.Hi), hits, s.Runs, runner,
			fmtFrac(s.Util), fmtFrac(s.UtilP10), strings.Join(lead, " / "))
	}
	b.WriteString("\n")

	index := map[Cell]int{}
	for i, c := range cells {
		index[c.Cell] = i
	}
	first := true
	for i, c := range cells {
		if clocks[i] == nil || c.Runs[0].Slots < 2 {
			continue
		}
		twin := *c.Runs[0]
		twin.Slots = 1
		j, ok := index[twin.Cell()]
		if !ok || clocks[j] == nil {
			continue
		}
		if first {
			b.WriteString("### On the cluster and on one slot\n\n")
			b.WriteString("The same cell on its cluster and on one slot with the same evaluation times: each method's rank by median simulated time to target on each. A method that evaluates one candidate at a time takes as long on both.\n\n")
			first = false
		}
		seq := map[string]int{}
		seqT := map[string]float64{}
		for k, s := range clocks[j] {
			seq[s.Algorithm], seqT[s.Algorithm] = k+1, s.TTT.Median
		}
		fmt.Fprintf(b, "**%s** against [one slot](#%s):\n\n| rank | algorithm | %d slots: median time to target (p) | 1 slot: rank | 1 slot: median time to target |\n|---|---|---|---|---|\n",
			c.Name, anchor(cells[j].Name), c.Runs[0].Slots)
		for k, s := range clocks[i] {
			r1, t1 := "—", "—"
			if n, ok := seq[s.Algorithm]; ok {
				r1, t1 = strconv.Itoa(n), fmtSimTime(seqT[s.Algorithm])
			}
			fmt.Fprintf(b, "| %d | %s | %s (%s) | %s | %s |\n", k+1, s.Algorithm, fmtSimTime(s.TTT.Median), fmtP(s.PTTT), r1, t1)
		}
		b.WriteString("\n")
	}
}

// senseOf is the sense of a cell's objective.
func senseOf(c CellRuns) objectives.Sense {
	if c.Runs[0].Maximizes() {
		return objectives.Maximize
	}
	return objectives.Minimize
}

// writeCellClock writes a cluster cell's simulated-time table, rows
// soonest first.
func writeCellClock(b *bytes.Buffer, c CellRuns, cs []ClockStats) {
	clock, _ := CellClock(c)
	fmt.Fprintf(b, "Simulated cluster: %d slots, evaluation time %s (mean %s); the budget takes %s with every slot busy (the ideal time). Rows by median simulated time to target; p (time) is the Holm-corrected Mann–Whitney test against the first row.\n\n",
		clock.Slots, clock.EvalTime, fmtSimTime(clock.EvalTime.Mean()), fmtSimTime(clock.Ideal))
	var at []string
	for _, f := range clockFractions {
		at = append(at, fmtSimTime(f*clock.Ideal))
	}
	fmt.Fprintf(b, "| algorithm | simulated time to target: median [95%% CI] | p10, p90 | p (time) | time at budget: median | slot utilisation: median (p10) | best true at %s |\n|---|---|---|---|---|---|---|\n", strings.Join(at, " / "))
	for _, s := range cs {
		v := make([]string, len(s.AtTime))
		for i, x := range s.AtTime {
			v[i] = fmtScore(x)
		}
		fmt.Fprintf(b, "| %s | %s [%s, %s] | %s, %s | %s | %s | %s (%s) | %s |\n", s.Algorithm,
			fmtSimTime(s.TTT.Median), fmtSimTime(s.TTT.Lo), fmtSimTime(s.TTT.Hi), fmtSimTime(s.TTTP10), fmtSimTime(s.TTTP90),
			fmtP(s.PTTT), fmtSimTime(s.AtBudget), fmtFrac(s.Util), fmtFrac(s.UtilP10), strings.Join(v, " / "))
	}
	b.WriteString("\n")
}

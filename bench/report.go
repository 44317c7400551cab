package bench

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench/stats"
)

// ReportOptions configures BuildReport.
type ReportOptions struct {
	// Dir receives the page (README.md) and its figures (plots/).
	Dir string
	// Title heads the page.
	Title string
	// Command is the exact command that produced the runs, printed on the
	// page so anyone can regenerate it.
	Command string
	// Seed seeds the bootstrap; the page is a function of runs and Seed.
	Seed uint64
	// Plots turns figure writing on.
	Plots bool
	// Preface is markdown placed under the title (links to related pages).
	Preface string
	// RankAgainst, if set, holds the runs of other cells (the mock
	// scenarios); the page then says how well each of them predicted the
	// ranking of the algorithms in its own cells (Spearman's ρ).
	RankAgainst []*Run
	// Force writes into Dir even if it holds files no report wrote (see
	// ManifestName); those are left as they are.
	Force bool
	// HTML also writes the page as one self-contained HTMLName (see
	// BuildHTMLReport).
	HTML bool
	// Highlight names methods drawn in colour in every figure (the method
	// a user is weighing), besides each cell's top three and its random
	// search; the rest are grey context. A cell of at most
	// allColoured methods draws every one in colour.
	Highlight []string

	written *[]string // files written so far, relative to Dir
}

// wrote records a file written into the report folder.
func (o ReportOptions) wrote(rel string) {
	if o.written != nil {
		*o.written = append(*o.written, rel)
	}
}

// CellRuns holds the runs of one cell. Name is the cell's name on pages
// and in tables (Cell.String), or its Key where two cells of one report
// would otherwise share a heading.
type CellRuns struct {
	Cell Cell
	Name string
	Runs []*Run
}

// GroupCells splits runs by Run.Cell, scenarios first in preset order, and
// sorts each cell's runs by algorithm order of first appearance, then seed,
// so that the report does not depend on the order runs finished.
func GroupCells(runs []*Run) []CellRuns {
	by := map[Cell][]*Run{}
	var cells []CellRuns
	for _, r := range runs {
		c := r.Cell()
		if _, ok := by[c]; !ok {
			cells = append(cells, CellRuns{Cell: c, Name: c.String()})
		}
		by[c] = append(by[c], r)
	}
	// Names are headings and anchors: two cells must not share one.
	named := map[string]int{}
	for _, c := range cells {
		named[anchor(c.Name)]++
	}
	for i, c := range cells {
		if named[anchor(c.Name)] > 1 {
			cells[i].Name = c.Cell.Key()
		}
	}
	rank := map[string]int{}
	for i, s := range Scenarios {
		rank[s.Name] = i
	}
	sort.SliceStable(cells, func(i, j int) bool {
		ri, iok := rank[cells[i].Cell.Scenario]
		rj, jok := rank[cells[j].Cell.Scenario]
		if iok != jok {
			return iok
		}
		if iok && ri != rj {
			return ri < rj
		}
		return cells[i].Name < cells[j].Name
	})
	for i := range cells {
		rs := by[cells[i].Cell]
		sort.SliceStable(rs, func(a, b int) bool {
			if ra, rb := algRank(rs[a].Algorithm), algRank(rs[b].Algorithm); ra != rb {
				return ra < rb
			}
			if rs[a].Algorithm != rs[b].Algorithm {
				return rs[a].Algorithm < rs[b].Algorithm
			}
			if rs[a].Seed != rs[b].Seed {
				return rs[a].Seed < rs[b].Seed
			}
			// One algorithm under several settings runs the same seeds:
			// without this the input order would decide which entry a
			// tie in the ranking shows first.
			return formatParams(rs[a].Params) < formatParams(rs[b].Params)
		})
		cells[i].Runs = rs
	}
	return cells
}

// algRank orders a cell's methods as tables show them: the default
// comparison first, in its order, then every other by name.
func algRank(name string) int {
	if i := slices.Index(algorithms.DefaultNames(), name); i >= 0 {
		return i
	}
	return 100
}

// entryLabels names the entries of a cell: the algorithm, or, when one
// algorithm ran with several hyperparameter settings there (a journal
// holding several --set variants), the algorithm with its settings, so
// different configurations are never pooled into one sample.
func entryLabels(runs []*Run) map[*Run]string {
	sigs := map[string]map[string]bool{}
	for _, r := range runs {
		if sigs[r.Algorithm] == nil {
			sigs[r.Algorithm] = map[string]bool{}
		}
		sigs[r.Algorithm][formatParams(r.Params)] = true
	}
	out := make(map[*Run]string, len(runs))
	for _, r := range runs {
		out[r] = r.Algorithm
		if len(sigs[r.Algorithm]) > 1 {
			out[r] = r.Algorithm + " (" + formatParams(r.Params) + ")"
		}
	}
	return out
}

// CellStats is the statistical summary of one algorithm in one cell.
type CellStats struct {
	Algorithm        string
	Runs, Successes  int
	Errors, Failures int
	SuccessLo        float64 // Wilson 95% interval of the success rate
	SuccessHi        float64
	ETT              stats.MedianInterval // evaluations to target, misses +Inf
	P10, P90         float64
	ART              float64
	ARTLo, ARTHi     float64              // bootstrap 95% (simulated restarts)
	RecTrue          stats.MedianInterval // true score of the recommendation
	// RecP10 and RecWorst are the 10th percentile and the worst run of the
	// recommendation's true score, on the bad side (the 90th percentile
	// of a loss): a method that usually ships well but sometimes ships a
	// disaster shows it here, not in its median. ±Inf: no recommendation.
	RecP10, RecWorst float64
	HeldOut          float64 // median held-out score of the recommendation (NaN if none)
	// HeldP10 and HeldWorst are the held-out score's 10th percentile and
	// worst run (NaN if none).
	HeldP10, HeldWorst float64
	BestObserved       float64    // median
	AtBudget           [4]float64 // median best true at 10, 25, 50, 100% of the budget
	Ladder             []int      // successes per ladder target
	PTrue, PETT        float64    // Holm-adjusted U-test p against the cell's best (NaN for the best itself)
	ModelUnderHalf     bool       // as Summary.ModelUnderHalf
	ETTs, RecTrues     []float64
	// HeldOuts are the held-out scores of the recommendations (−Inf for a
	// run with none), empty where the objective has no held-out items.
	HeldOuts []float64
	// ByHeldOut says the cell is ranked, and PTrue tested, on held-out
	// scores: on a real objective the search-pool score of the point a
	// method picked is biased by the picking, the held-out score is not.
	ByHeldOut bool
	// Tasks are the held-out scores of the recommendation task by task,
	// for a multi-task objective (Run.RecommendHeldOutTasks).
	Tasks []TaskStats
}

// TaskStats summarises one task's held-out scores over a method's runs.
type TaskStats struct {
	Task               string
	Target             bool
	Median, P10, Worst float64
}

// taskStats summarises the per-task held-out scores of runs that all
// carry the same tasks (nil otherwise).
func taskStats(rs []*Run) []TaskStats {
	first := rs[0].RecommendHeldOutTasks
	if len(first) == 0 {
		return nil
	}
	out := make([]TaskStats, len(first))
	for i, t := range first {
		var xs []float64
		for _, r := range rs {
			ts := r.RecommendHeldOutTasks
			if len(ts) != len(first) || ts[i].Task != t.Task {
				return nil
			}
			xs = append(xs, ts[i].Score)
		}
		out[i] = TaskStats{Task: t.Task, Target: t.Target, Median: stats.Quantile(xs, 0.5)}
		out[i].P10, out[i].Worst = lowTail(xs, true)
	}
	return out
}

// budgetFractions are the fixed-budget checkpoints of the report.
var budgetFractions = [4]float64{0.1, 0.25, 0.5, 1}

// Ladder returns the targets of the report for a cell: scores 90/95/98/99
// for score objectives, precisions 1e2…1e-8 for losses, and the cell's own
// target if it is not among them.
func Ladder(r *Run) []float64 {
	var l []float64
	if r.Maximizes() {
		l = []float64{50, 80, 90, 95, 98, 99}
	} else {
		l = []float64{1e2, 1, 1e-2, 1e-5, 1e-8}
	}
	for _, t := range l {
		if t == r.Target {
			return l
		}
	}
	l = append(l, r.Target)
	if r.Maximizes() {
		sort.Float64s(l)
	} else {
		sort.Sort(sort.Reverse(sort.Float64Slice(l)))
	}
	return l
}

// AnalyzeCell computes every algorithm's statistics in a cell, ranked by
// the median true score of the recommendation (best first; for losses the
// lowest), with U-tests against the top row (true score of the
// recommendation) and against the algorithm of lowest aRT (evaluations to
// target), Holm-corrected within the cell.
func AnalyzeCell(c CellRuns, seed uint64) ([]CellStats, error) {
	var order []string
	by := map[string][]*Run{}
	label := entryLabels(c.Runs)
	for _, r := range c.Runs {
		l := label[r]
		if _, ok := by[l]; !ok {
			order = append(order, l)
		}
		by[l] = append(by[l], r)
	}
	ladder := Ladder(c.Runs[0])
	out := make([]CellStats, 0, len(order))
	for _, alg := range order {
		rs := by[alg]
		s := CellStats{Algorithm: alg, Runs: len(rs)}
		var sruns []stats.Run
		var obs []float64
		initial, model := 0, 0
		for _, r := range rs {
			initial += r.PhaseEvals[algorithms.PhaseInitial]
			model += r.PhaseEvals[algorithms.PhaseModel]
			s.ModelUnderHalf = 2*model < initial+model
			if r.Error != "" {
				s.Errors++
			}
			s.Failures += r.Failures
			e := r.ETT()
			s.ETTs = append(s.ETTs, e)
			if r.Succeeded() {
				s.Successes++
			}
			sruns = append(sruns, stats.Run{Hit: e, Used: float64(r.EvalsUsed)})
			rt := r.RecommendTrue
			if math.IsNaN(rt) { // a run that never evaluated: rank it last
				rt = math.Inf(-1)
				if !r.Maximizes() {
					rt = math.Inf(1)
				}
			}
			s.RecTrues = append(s.RecTrues, rt)
			if !math.IsNaN(r.BestObserved) {
				obs = append(obs, r.BestObserved)
			}
		}
		s.SuccessLo, s.SuccessHi = stats.Wilson(s.Successes, s.Runs, 0.95)
		var err error
		if s.ETT, err = stats.Median(s.ETTs, 0.95); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", c.Name, alg, err)
		}
		s.P10, s.P90 = stats.Quantile(s.ETTs, 0.1), stats.Quantile(s.ETTs, 0.9)
		if s.ART, err = stats.ART(sruns); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", c.Name, alg, err)
		}
		rng := rand.New(rand.NewPCG(DeriveSeed(seed, c.Name, alg), 0x617274))
		if s.ARTLo, s.ARTHi, err = stats.ARTBootstrap(sruns, 0.95, 2000, rng); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", c.Name, alg, err)
		}
		if s.RecTrue, err = stats.Median(s.RecTrues, 0.95); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", c.Name, alg, err)
		}
		s.RecP10, s.RecWorst = lowTail(s.RecTrues, rs[0].Maximizes())
		s.BestObserved = stats.Quantile(obs, 0.5)
		var held []float64
		for _, r := range rs {
			if r.RecommendHeldOut != nil {
				held = append(held, *r.RecommendHeldOut)
				s.HeldOuts = append(s.HeldOuts, *r.RecommendHeldOut)
			} else if r.Recommended == nil {
				s.HeldOuts = append(s.HeldOuts, math.Inf(-1)) // no recommendation: last
			}
		}
		s.Tasks = taskStats(rs)
		s.HeldOut, s.HeldP10, s.HeldWorst = math.NaN(), math.NaN(), math.NaN()
		if len(held) > 0 {
			s.HeldOut = stats.Quantile(held, 0.5)
			s.HeldP10, s.HeldWorst = lowTail(held, true) // held-out scores are accuracies
		}
		for i, f := range budgetFractions {
			var at []float64
			for _, r := range rs {
				if r.ItemBudget > 0 { // a share of the items, not of evaluations of any size
					at = append(at, r.BestTrueAtItems(int(f*float64(r.ItemBudget))))
					continue
				}
				at = append(at, r.BestTrueAt(int(math.Ceil(f*float64(r.Budget)))))
			}
			s.AtBudget[i] = quantileFinite(at, 0.5)
		}
		for _, t := range ladder {
			n := 0
			for _, r := range rs {
				if !math.IsInf(r.Hit(t), 1) {
					n++
				}
			}
			s.Ladder = append(s.Ladder, n)
		}
		out = append(out, s)
	}
	maximize := c.Runs[0].Maximizes()
	// Rank on held-out scores when every run of the cell has one (or no
	// recommendation at all) and some run has one.
	byHeld := len(out) > 0
	anyHeld := false
	for _, s := range out {
		byHeld = byHeld && len(s.HeldOuts) == s.Runs
		anyHeld = anyHeld || !math.IsNaN(s.HeldOut)
	}
	byHeld = byHeld && anyHeld
	key := func(s CellStats) float64 { return s.RecTrue.Median }
	if byHeld {
		maximize = true // held-out scores are accuracies
		key = func(s CellStats) float64 {
			if math.IsNaN(s.HeldOut) {
				return math.Inf(-1)
			}
			return s.HeldOut
		}
		for i := range out {
			out[i].ByHeldOut = true
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := key(out[i]), key(out[j])
		if a != b {
			if maximize {
				return a > b
			}
			return a < b
		}
		return out[i].ART < out[j].ART
	})
	// U-tests against the top row and the lowest-aRT algorithm.
	bestART := 0
	for i := range out {
		if out[i].ART < out[bestART].ART {
			bestART = i
		}
	}
	var pTrue, pETT []float64
	for i := range out {
		out[i].PTrue, out[i].PETT = math.NaN(), math.NaN()
		if i != 0 {
			a, b := out[i].RecTrues, out[0].RecTrues
			if byHeld {
				a, b = out[i].HeldOuts, out[0].HeldOuts
			}
			p, err := stats.MannWhitney(a, b)
			if err != nil {
				return nil, err
			}
			pTrue = append(pTrue, p)
		}
		if i != bestART {
			p, err := stats.MannWhitney(out[i].ETTs, out[bestART].ETTs)
			if err != nil {
				return nil, err
			}
			pETT = append(pETT, p)
		}
	}
	pTrue, pETT = stats.Holm(pTrue), stats.Holm(pETT)
	k, m := 0, 0
	for i := range out {
		if i != 0 {
			out[i].PTrue = pTrue[k]
			k++
		}
		if i != bestART {
			out[i].PETT = pETT[m]
			m++
		}
	}
	return out, nil
}

// lowTail returns the 10th percentile and the worst of xs on the bad side:
// the lowest scores, or the highest losses.
func lowTail(xs []float64, maximize bool) (p10, worst float64) {
	if maximize {
		return stats.Quantile(xs, 0.1), stats.Quantile(xs, 0)
	}
	return stats.Quantile(xs, 0.9), stats.Quantile(xs, 1)
}

// BuildReport writes a markdown page (Dir/README.md) comparing every
// algorithm in every cell, with its figures (plots/, with Plots) and, with
// HTML, the same page as one self-contained Dir/index.html (see
// BuildHTMLReport), from the raw run records alone. The pages do not
// depend on the order of runs or on wall-clock times, so a resumed suite
// reaches the same pages as an uninterrupted one, byte for byte. Each file
// is written to a temporary file and renamed.
func BuildReport(runs []*Run, o ReportOptions) error {
	return buildReport(runs, o, true)
}

// BuildHTMLReport writes only the HTML page, Dir/index.html: one file
// holding everything the markdown page holds — the tables, sortable by
// any column, the figures as inline SVG, and every run's raw record —
// with a little inline JavaScript to show or hide methods in tables and
// figures together and to switch between the fixed-budget and
// fixed-target views. It loads nothing from the network, so it opens
// from disk, offline.
func BuildHTMLReport(runs []*Run, o ReportOptions) error {
	o.HTML = true
	return buildReport(runs, o, false)
}

// report is a results page's content, shared by its markdown and HTML
// forms.
type report struct {
	o        ReportOptions
	runs     []*Run
	cells    []CellRuns
	analyses [][]CellStats
	clocks   [][]ClockStats
	figs     [][]cellFigure // per cell, with o.Plots
	looks    map[string]int // entry label → 1 + its style (plots.StyleAt)
}

// cellFigure is one figure of a cell: its file name stem's suffix, what it
// shows, and the SVG the pages embed.
type cellFigure struct {
	kind, alt string
	svg       []byte
}

// HTMLName is the HTML page of a report folder.
const HTMLName = "index.html"

// figureKinds are the figures a cell may have, in page order.
var figureKinds = []string{"convergence", "ecdf", "budget", "heldout"}

func buildReport(runs []*Run, o ReportOptions, markdown bool) error {
	if len(runs) == 0 {
		return fmt.Errorf("report: no runs")
	}
	runs, err := Resolve(runs)
	if err != nil {
		return fmt.Errorf("report: %v (the same records given twice?)", err)
	}
	if o.RankAgainst, err = Resolve(o.RankAgainst); err != nil {
		return fmt.Errorf("report: --rank-against: %v", err)
	}
	listed, err := checkReportDir(o.Dir, o.Force)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	plotFiles := markdown && o.Plots
	if plotFiles {
		if err := os.MkdirAll(filepath.Join(o.Dir, "plots"), 0o755); err != nil {
			return fmt.Errorf("report: %v", err)
		}
	}
	r := &report{o: o, runs: runs, cells: GroupCells(runs)}
	// The manifest lists every file this report may write before it writes
	// one, so a report killed half-way leaves a folder it can rewrite.
	var pages []string
	if markdown {
		pages = append(pages, "README.md")
	}
	if o.HTML {
		pages = append(pages, HTMLName)
	}
	planned := append(slices.Clone(pages), listed...)
	if plotFiles {
		for _, c := range r.cells {
			for _, kind := range figureKinds {
				for _, ext := range []string{".svg", ".png"} {
					planned = append(planned, "plots/"+anchor(c.Name)+"-"+kind+ext)
				}
			}
		}
	}
	if err := WriteFileAtomic(filepath.Join(o.Dir, ManifestName), formatManifest(planned)); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	var written []string
	o.written = &written
	r.o = o

	r.analyses = make([][]CellStats, len(r.cells))
	for i, c := range r.cells {
		a, err := AnalyzeCell(c, o.Seed)
		if err != nil {
			return err
		}
		r.analyses[i] = a
	}
	if r.clocks, err = clockAnalyses(r.cells, r.analyses); err != nil {
		return err
	}
	r.looks = entryLooks(r.analyses)
	if o.Plots {
		r.figs = make([][]cellFigure, len(r.cells))
		for i := range r.cells {
			if r.figs[i], err = r.cellFigures(i, plotFiles); err != nil {
				return err
			}
		}
	}
	if markdown {
		md, err := r.markdown()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(o.Dir, "README.md"), md); err != nil {
			return fmt.Errorf("report: %v", err)
		}
	}
	if o.HTML {
		page, err := r.html()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(o.Dir, HTMLName), page); err != nil {
			return fmt.Errorf("report: %v", err)
		}
	}
	// Now list exactly what is there of this report: what it wrote, and
	// what earlier reports wrote (stale figures are kept, never deleted).
	final := append(written, pages...)
	for _, l := range listed {
		if _, err := os.Lstat(filepath.Join(o.Dir, filepath.FromSlash(l))); err == nil {
			final = append(final, l)
		}
	}
	if err := WriteFileAtomic(filepath.Join(o.Dir, ManifestName), formatManifest(final)); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	return nil
}

// title is the page's title.
func (r *report) title() string {
	if r.o.Title == "" {
		return "evomerge comparison"
	}
	return r.o.Title
}

// intro says how the page was made.
func (r *report) intro(b *bytes.Buffer) {
	fmt.Fprintf(b, "Made by `%s` from %d runs; bootstrap seed %d. Regenerate the page from the raw records with `evomerge report`.\n\n", r.o.Command, len(r.runs), r.o.Seed)
}

// winners writes the first screen: who wins where.
func (r *report) winners(b *bytes.Buffer) {
	// The first screen: who wins where.
	fmt.Fprintf(b, "## Who wins where\n\n")
	fmt.Fprintf(b, "Ranked by the median true score of the point each method recommends at the end of its budget (what a user would ship), or by its held-out score where the objective has held-out items (real merges). \"Runner-up\" is the second row; its p is the Holm-corrected two-sided Mann–Whitney test against the winner (~ = not significant at α = 0.05). \"Fastest\" is the lowest aRT to the cell's target.\n\n")
	fmt.Fprintf(b, "Scores in this table are medians of the true score, or of the held-out score (marked \"held-out\") in cells ranked by it.\n\n")
	fmt.Fprintf(b, "| cell | winner (median) | runner-up (median, p) | fastest to target (aRT) | random search (median) |\n|---|---|---|---|---|\n")
	for i, c := range r.cells {
		a := r.analyses[i]
		// The score the cell is ranked by: held-out where it is.
		score := func(s CellStats) string { return fmtScore(s.RecTrue.Median) }
		if a[0].ByHeldOut {
			score = func(s CellStats) string { return fmtScore(s.HeldOut) + " held-out" }
		}
		runner := "—"
		if len(a) > 1 {
			runner = fmt.Sprintf("%s (%s, %s)", a[1].Algorithm, score(a[1]), fmtP(a[1].PTrue))
		}
		fast := a[0]
		for _, s := range a {
			if s.ART < fast.ART {
				fast = s
			}
		}
		fastS := "none reached the target"
		if !math.IsInf(fast.ART, 1) {
			fastS = fmt.Sprintf("%s (%s)", fast.Algorithm, fmtEvals(fast.ART))
		}
		rnd := "—"
		for _, s := range a {
			if s.Algorithm == "random" {
				rnd = score(s)
			}
		}
		fmt.Fprintf(b, "| [%s](#%s) | **%s** (%s) | %s | %s | %s |\n", c.Name, anchor(c.Name), a[0].Algorithm, score(a[0]), runner, fastS, rnd)
	}
	b.WriteString("\n")

}

// markdown is the markdown page.
func (r *report) markdown() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", r.title())
	if r.o.Preface != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(r.o.Preface))
	}
	r.intro(&b)
	r.winners(&b)
	writeSoonest(&b, r.cells, r.clocks)
	if err := writeEqualItems(&b, r.cells); err != nil {
		return nil, err
	}
	if len(r.o.RankAgainst) > 0 {
		if err := writeRankAgreement(&b, r.cells, r.analyses, r.o); err != nil {
			return nil, err
		}
	}
	for i, c := range r.cells {
		var figs []cellFigure
		if r.figs != nil {
			figs = r.figs[i]
		}
		writeCell(&b, c, r.analyses[i], r.clocks[i], figs)
	}
	r.appendix(&b)
	return b.Bytes(), nil
}

// appendix writes the hyperparameters, how to read the page and what
// built it.
func (r *report) appendix(b *bytes.Buffer) {
	b.WriteString("## Hyperparameters\n\nEvery algorithm as it ran (settable with `--set alg.name=value`):\n\n")
	for _, l := range paramLines(r.runs) {
		fmt.Fprintf(b, "- `%s`\n", l)
	}
	b.WriteString("\n")
	b.WriteString("## How to read this page\n\n")
	b.WriteString("- **evals to target**: evaluations until the first candidate whose *true* value reached the cell's target; a run that missed counts as ∞ and ranks last (COCO). The median's 95% interval is the order-statistic interval benchstat computes; it needs ≥ 6 runs.\n")
	b.WriteString("- **success** is shown with its 95% Wilson interval; **aRT** (evaluations in all runs ÷ successes, COCO) with a 95% bootstrap interval by simulated restarts.\n")
	b.WriteString("- **recommended true**: the true score of the point the method hands over at the end (its distribution mean for CMA-ES variants, the best observed point otherwise); **best observed** is what it saw through the noise — the gap is the winner's curse. **p10, worst**: the 10th percentile and the worst run of that score (for losses, the 90th percentile and the highest), so a method that sometimes hands over a poor point shows it; \"none\" is a run with no recommendation (no evaluation succeeded).\n")
	atItems := ""
	for _, c := range r.cells {
		if c.Runs[0].ItemBudget > 0 {
			atItems = " (of the items, in cells with an item budget)"
		}
	}
	b.WriteString("- **best true at x% budget**: the fixed-budget view, the median best true value among the first x% of evaluations" + atItems + ".\n")
	b.WriteString("- **p** columns: two-sided Mann–Whitney U tests, Holm-corrected within the cell; \"~\" means not significant at α = 0.05, \"best\" marks the reference row.\n")
	for _, cs := range r.clocks {
		if cs != nil {
			b.WriteString("- **simulated time** (cells with slots and an evaluation-time model): each evaluation's duration is drawn from the run's seed and the evaluation's index, and a discrete-event clock runs the slots; time to target is the clock when the first evaluation reaching the target finished (∞ if none), time at budget when the last finished, slot utilisation the busy slot-time ÷ (slots × time at budget). Evaluations are counted in the order their results came back.\n")
			break
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "Built with %s", runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		var deps []string
		for _, d := range bi.Deps {
			switch d.Path {
			case "gonum.org/v1/gonum", "github.com/MaxHalford/eaopt", "gonum.org/v1/plot", "github.com/aclements/go-moremath":
				deps = append(deps, d.Path+" "+d.Version)
			}
		}
		if len(deps) > 0 {
			fmt.Fprintf(b, ", %s", strings.Join(deps, ", "))
		}
	}
	b.WriteString(".\n")
}

// cellDescription says what a cell ran: the scenario's source, the
// objective, the budget and the target, and what reaching the target
// means ("true score ≥" or "f − f_opt ≤").
func cellDescription(c CellRuns) (desc, meaning string) {
	r0 := c.Runs[0]
	var b strings.Builder
	if s, err := LookupScenario(r0.Scenario); err == nil {
		fmt.Fprintf(&b, "%s. ", s.From)
	}
	meaning = "true score ≥"
	if !r0.Maximizes() {
		meaning = "f − f_opt ≤"
	}
	d := fmt.Sprintf("%s objective, %d dimensions", r0.Objective, r0.Dim)
	if r0.Landscape != "" {
		d += ", " + r0.Landscape + " landscape"
	}
	if r0.Items > 0 {
		d += fmt.Sprintf(", accuracy on %d items", r0.Items)
	}
	if r0.Noise > 0 {
		d += fmt.Sprintf(", Gaussian noise σ %g", r0.Noise)
	}
	if r0.NoiseModel != "" {
		d += ", " + r0.NoiseModel + " noise"
	}
	if r0.FailRate > 0 {
		d += fmt.Sprintf(", %g%% of evaluations fail", 100*r0.FailRate)
	}
	if r0.ItemModel != "" {
		d += " (" + r0.ItemModel + " item list)"
	}
	budget := fmt.Sprintf("budget %d evaluations", r0.Budget)
	if r0.ItemBudget > 0 {
		budget = fmt.Sprintf("budget %d items (%d full evaluations; see At equal items)", r0.ItemBudget, r0.Budget)
	}
	fmt.Fprintf(&b, "%s; %s; target %s %g.", d, budget, meaning, r0.Target)
	return b.String(), meaning
}

// writeTasks tables the recommendation's held-out score task by task,
// median (p10, worst), when every row of the cell carries the same tasks.
func writeTasks(b *bytes.Buffer, a []CellStats) {
	tasks := a[0].Tasks
	for _, s := range a {
		if len(s.Tasks) != len(tasks) || len(tasks) == 0 {
			return
		}
		for i, t := range s.Tasks {
			if t.Task != tasks[i].Task {
				return
			}
		}
	}
	b.WriteString("\nHeld-out score of the recommendation task by task, median (p10, worst); the score above is the mean of the tasks marked target, the others are reported only:\n\n| algorithm |")
	for _, t := range tasks {
		mark := ""
		if t.Target {
			mark = " (target)"
		}
		fmt.Fprintf(b, " %s%s |", t.Task, mark)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(tasks)) + "\n")
	for _, s := range a {
		fmt.Fprintf(b, "| %s |", s.Algorithm)
		for _, t := range s.Tasks {
			fmt.Fprintf(b, " %s (%s, %s) |", fmtRec(t.Median), fmtRec(t.P10), fmtRec(t.Worst))
		}
		b.WriteString("\n")
	}
}

func writeCell(b *bytes.Buffer, c CellRuns, a []CellStats, clock []ClockStats, figs []cellFigure) {
	r0 := c.Runs[0]
	fmt.Fprintf(b, "## %s\n\n", c.Name)
	desc, meaning := cellDescription(c)
	fmt.Fprintf(b, "%s\n\n", desc)

	held := !math.IsNaN(a[0].HeldOut)
	heldHead, heldSep := "", ""
	if held {
		heldHead, heldSep = " recommended held-out: median (p10, worst) |", "---|"
	}
	pHead := "p (true)"
	if a[0].ByHeldOut {
		pHead = "p (held-out)"
		b.WriteString("Rows are ranked by the median **held-out** score of the recommended point, and p (held-out) tests it: the search-pool score of a point a method picked is biased upwards by the picking.\n\n")
	}
	fmt.Fprintf(b, "| algorithm | success [95%%] | evals to target: median [95%% CI] | p10, p90 | aRT [95%%] | p (evals) | recommended true: median [95%% CI] | p10, worst | %s |%s best observed | best true at 10/25/50/100%% budget |\n|---|---|---|---|---|---|---|---|---|%s---|---|\n", pHead, heldHead, heldSep)
	var warnings []string
	flagged := false
	for _, s := range a {
		extra := ""
		if s.ModelUnderHalf {
			extra = " " + modelMark
			flagged = true
		}
		if s.Errors > 0 {
			extra = fmt.Sprintf(" (%d runs ended by errors)", s.Errors)
		}
		if s.Failures > 0 {
			extra += fmt.Sprintf(" (%d failed evaluations penalised)", s.Failures)
		}
		at := make([]string, 4)
		for i, v := range s.AtBudget {
			at[i] = fmtScore(v)
		}
		heldCell := ""
		if held {
			heldCell = fmt.Sprintf(" %s (%s, %s) |", fmtRec(s.HeldOut), fmtRec(s.HeldP10), fmtRec(s.HeldWorst))
		}
		fmt.Fprintf(b, "| %s%s | %d/%d [%.2f, %.2f] | %s [%s, %s] | %s, %s | %s [%s, %s] | %s | %s [%s, %s] | %s, %s | %s |%s %s | %s |\n",
			s.Algorithm, extra, s.Successes, s.Runs, s.SuccessLo, s.SuccessHi,
			fmtEvals(s.ETT.Median), fmtEvals(s.ETT.Lo), fmtEvals(s.ETT.Hi), fmtEvals(s.P10), fmtEvals(s.P90),
			fmtEvals(s.ART), fmtEvals(s.ARTLo), fmtEvals(s.ARTHi), fmtP(s.PETT),
			fmtRec(s.RecTrue.Median), fmtScore(s.RecTrue.Lo), fmtScore(s.RecTrue.Hi), fmtRec(s.RecP10), fmtRec(s.RecWorst), fmtP(s.PTrue), heldCell,
			fmtScore(s.BestObserved), strings.Join(at, " / "))
		if s.ETT.Warning != nil && len(warnings) == 0 {
			warnings = append(warnings, fmt.Sprintf("%d runs per algorithm are too few for a 95%% interval of the median (≥ 6 needed) or a meaningful test.", s.Runs))
		}
	}
	if flagged {
		fmt.Fprintf(b, "\n%s\n", modelNote)
	}
	for _, w := range warnings {
		fmt.Fprintf(b, "\n**Warning:** %s\n", w)
	}
	writeTasks(b, a)
	ladder := Ladder(r0)
	fmt.Fprintf(b, "\nRuns reaching each target (%s):\n\n| algorithm |", meaning)
	for _, t := range ladder {
		fmt.Fprintf(b, " %g |", t)
	}
	b.WriteString("\n|---|")
	for range ladder {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range a {
		fmt.Fprintf(b, "| %s |", s.Algorithm)
		for _, n := range s.Ladder {
			fmt.Fprintf(b, " %d/%d |", n, s.Runs)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if clock != nil {
		writeCellClock(b, c, clock)
	}
	if len(figs) > 0 {
		base := anchor(c.Name)
		for i, f := range figs {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(b, "![%s](plots/%s-%s.svg)", f.alt, base, f.kind)
		}
		b.WriteString("\n\n")
	}
}

// checkpoints are the evaluation counts at which convergence is drawn: every
// evaluation for small budgets, about 200 log-spaced points otherwise.
func checkpoints(budget int) []int {
	if budget <= 200 {
		at := make([]int, budget)
		for i := range at {
			at[i] = i + 1
		}
		return at
	}
	var at []int
	last := 0
	for i := 0; i <= 200; i++ {
		e := int(math.Round(math.Pow(float64(budget), float64(i)/200)))
		if e > last {
			at = append(at, e)
			last = e
		}
	}
	return at
}

var nonAnchor = regexp.MustCompile(`[^a-z0-9-]+`)

// anchor turns a cell key into a file and link name.
func anchor(key string) string {
	return strings.Trim(nonAnchor.ReplaceAllString(strings.ToLower(key), "-"), "-")
}

func fmtP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "best"
	case p >= 0.05:
		return fmt.Sprintf("~ (%.2f)", p)
	case p < 0.001:
		return "< 0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// WriteFileAtomic writes data to a temporary file beside path and renames
// it, so path never holds a half-written file.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return werr
	}
	return nil
}

// writeRankAgreement says, for every cell of the page and every cell of
// o.RankAgainst, how well the ranking of the algorithms there (by median
// true score of the recommendation, held-out where known) agrees with the
// ranking here: Spearman's ρ over the algorithms both cells ran.
func writeRankAgreement(b *bytes.Buffer, cells []CellRuns, analyses [][]CellStats, o ReportOptions) error {
	others := GroupCells(o.RankAgainst)
	otherStats := make([][]CellStats, len(others))
	for i, c := range others {
		a, err := AnalyzeCell(c, o.Seed)
		if err != nil {
			return err
		}
		otherStats[i] = a
	}
	b.WriteString("## How well the mock scenarios predicted these rankings\n\n")
	fmt.Fprintf(b, "Spearman's ρ between the ranking of the algorithms in each cell of this page (rows; by median held-out score of the recommendation) and in each mock scenario (columns; by median true score of the recommendation), over the algorithms both ran, with a 95%% bootstrap interval over seeds (%d resamples of each algorithm's runs in both cells). ρ = 1: the mock ranks the methods exactly as the real merge does. The table holds %d pairs: its largest entry is the best of %d comparisons, chosen after looking, so read a pair you chose beforehand (the mock whose dimension, budget and noise match your merge) with its interval, never the maximum as a finding.\n\n| cell |", rankBootstrap, len(cells)*len(others), len(cells)*len(others))
	for _, c := range others {
		fmt.Fprintf(b, " %s |", c.Name)
	}
	b.WriteString("\n|---|")
	for range others {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, c := range cells {
		fmt.Fprintf(b, "| %s |", c.Name)
		for j := range others {
			rho, n := spearman(scoresByAlg(analyses[i]), scoresByAlg(otherStats[j]))
			if n < 3 {
				b.WriteString(" — |")
				continue
			}
			rng := rand.New(rand.NewPCG(DeriveSeed(o.Seed, "rank", c.Name, others[j].Name), 0x72686f)) // "rho"
			lo, hi := spearmanInterval(analyses[i], otherStats[j], rng)
			fmt.Fprintf(b, " %.2f [%.2f, %.2f] |", rho, lo, hi)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return nil
}

// rankBootstrap is the number of resamples of spearmanInterval.
const rankBootstrap = 1000

// spearmanInterval is a 95% percentile bootstrap interval of Spearman's ρ
// between two cells' rankings: each resample draws every algorithm's runs
// with replacement in both cells and ranks the medians again.
func spearmanInterval(a, b []CellStats, rng *rand.Rand) (lo, hi float64) {
	var rhos []float64
	for range rankBootstrap {
		ra, rb := resampledScores(a, rng), resampledScores(b, rng)
		if rho, n := spearman(ra, rb); n >= 3 && !math.IsNaN(rho) {
			rhos = append(rhos, rho)
		}
	}
	if len(rhos) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(rhos)
	return stats.Quantile(rhos, 0.025), stats.Quantile(rhos, 0.975)
}

// resampledScores is scoresByAlg on one bootstrap resample of each
// algorithm's runs.
func resampledScores(a []CellStats, rng *rand.Rand) map[string]float64 {
	m := map[string]float64{}
	for _, s := range a {
		xs := s.HeldOuts
		if len(xs) == 0 {
			xs = s.RecTrues
		}
		if len(xs) == 0 {
			continue
		}
		r := make([]float64, len(xs))
		for i := range r {
			r[i] = xs[rng.IntN(len(xs))]
		}
		sort.Float64s(r)
		m[s.Algorithm] = stats.Quantile(r, 0.5)
	}
	return m
}

func scoresByAlg(a []CellStats) map[string]float64 {
	m := map[string]float64{}
	for _, s := range a {
		v := s.HeldOut
		if math.IsNaN(v) {
			v = s.RecTrue.Median
		}
		m[s.Algorithm] = v
	}
	return m
}

// spearman is the rank correlation of two score maps over their common
// keys (average ranks for ties), with the number of keys used.
func spearman(a, b map[string]float64) (float64, int) {
	var keys []string
	for k := range a {
		if _, ok := b[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) < 3 {
		return math.NaN(), len(keys)
	}
	ra, rb := ranks(keys, a), ranks(keys, b)
	return stat.Correlation(ra, rb, nil), len(keys)
}

// ranks returns average ranks (1 = lowest) of m's values over keys.
func ranks(keys []string, m map[string]float64) []float64 {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return m[keys[idx[i]]] < m[keys[idx[j]]] })
	r := make([]float64, len(keys))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && m[keys[idx[j+1]]] == m[keys[idx[i]]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

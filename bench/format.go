package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/evomerge/evomerge/algorithms"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Formats lists the output formats of Write.
var Formats = []string{"table", "markdown", "csv", "json", "jsonl", "bench"}

// Header is the comparison's configuration, printed above tables and kept
// in JSON output, so a result always says what produced it.
type Header struct {
	Objective string  `json:"objective"`
	Dim       int     `json:"dim"`
	Noise     float64 `json:"noise"`
	Items     int     `json:"items"`
	Budget    int     `json:"budget"`
	Target    float64 `json:"target"`
	Seeds     int     `json:"seeds"`
	Seed      uint64  `json:"seed"`
	// TargetMeaning is "score ≥ target" or "f − f_opt ≤ target".
	TargetMeaning string `json:"target_meaning"`
	// The options that shape the objective or the recommendation besides
	// the above, so that the header says everything the numbers depend on.
	NoiseModel string            `json:"noise_model,omitempty"`
	FailRate   float64           `json:"fail_rate,omitempty"`
	Width      float64           `json:"width,omitempty"`
	Optimum    []float64         `json:"optimum,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Policy is the harness's recommendation policy ("reeval 3x4"); empty
	// means each method's own.
	Policy string `json:"policy,omitempty"`
	// EvalTimeout is the per-evaluation limit in seconds; 0 means none.
	EvalTimeout float64 `json:"eval_timeout_s,omitempty"`
	// Slots and EvalTime describe a simulated cluster (Run.Slots,
	// Run.EvalTime); zero: one slot, no clock.
	Slots    int    `json:"slots,omitempty"`
	EvalTime string `json:"eval_time,omitempty"`
	// ItemBudget is the runs' item budget (Run.ItemBudget) and ItemModel
	// how the mock's items are drawn; zero: none.
	ItemBudget int    `json:"item_budget,omitempty"`
	ItemModel  string `json:"item_model,omitempty"`
}

// Write prints the comparison in one of Formats.
func Write(w io.Writer, format string, h Header, runs []*Run) error {
	switch format {
	case "table", "markdown":
		if err := writeTable(w, format == "markdown", h, runs); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nHyperparameters:")
		if format == "markdown" {
			fmt.Fprintln(w)
		}
		for _, l := range paramLines(runs) {
			if format == "markdown" {
				l = "- `" + l + "`"
			} else {
				l = "  " + l
			}
			fmt.Fprintln(w, l)
		}
		return nil
	case "csv":
		return writeCSV(w, Summarize(runs))
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Config  Header        `json:"config"`
			Summary []jsonSummary `json:"summary"`
		}{h, toJSONSummaries(Summarize(runs))})
	case "jsonl":
		return WriteJSONL(w, runs)
	case "bench":
		return WriteBenchFormat(w, runs)
	}
	return fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(Formats, ", "))
}

// WriteJSONL writes one JSON record per run.
func WriteJSONL(w io.Writer, runs []*Run) error {
	for _, r := range runs {
		b, err := MarshalRun(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// MarshalRun encodes a run as one JSON line; non-finite numbers (a run
// that never evaluated) become null, which encoding/json cannot do itself.
// A run on a simulated clock always carries its three time fields, null
// where there is no figure (the target never reached, no time elapsed);
// a run without one carries none.
func MarshalRun(r *Run) ([]byte, error) {
	type alias Run
	c := *r
	var ttt, util json.RawMessage
	if r.EvalTime != "" {
		ttt, util = nullOr(r.SimTimeToTarget), nullOr(r.SlotUtilisation)
	} else if r.SlotUtilisation != nil {
		util = nullOr(r.SlotUtilisation) // real slots
	}
	return json.Marshal(struct {
		*alias
		BestObserved    *float64        `json:"best_observed"`
		BestTrue        *float64        `json:"best_true"`
		RecommendTrue   *float64        `json:"recommended_true"`
		SimTimeToTarget json.RawMessage `json:"sim_time_to_target_s,omitempty"`
		SlotUtilisation json.RawMessage `json:"slot_utilisation,omitempty"`
	}{(*alias)(&c), finiteOrNil(r.BestObserved), finiteOrNil(r.BestTrue), finiteOrNil(r.RecommendTrue), ttt, util})
}

// nullOr encodes a present figure, or null.
func nullOr(p *float64) json.RawMessage {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return json.RawMessage("null")
	}
	return json.RawMessage(strconv.FormatFloat(*p, 'g', -1, 64))
}

// UnmarshalRun decodes a line written by MarshalRun.
func UnmarshalRun(b []byte) (*Run, error) {
	type alias Run
	var aux struct {
		*alias
		BestObserved  *float64 `json:"best_observed"`
		BestTrue      *float64 `json:"best_true"`
		RecommendTrue *float64 `json:"recommended_true"`
	}
	r := &Run{}
	aux.alias = (*alias)(r)
	if err := json.Unmarshal(b, &aux); err != nil {
		return nil, err
	}
	r.BestObserved, r.BestTrue, r.RecommendTrue = nilToNaN(aux.BestObserved), nilToNaN(aux.BestTrue), nilToNaN(aux.RecommendTrue)
	return r, nil
}

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func nilToNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// WriteBenchFormat writes one Go benchmark-format line per seeded run, so
// `benchstat -col /alg` compares algorithms with each seed as one sample
// (repeating fixed seeds with -count would fake significance). A run that
// missed the target reports evals-to-target as +Inf.
func WriteBenchFormat(w io.Writer, runs []*Run) error {
	keys := map[string]bool{}
	for _, r := range runs {
		name := benchName(r)
		if !keys[name] {
			keys[name] = true
		}
		ett := "+Inf"
		if r.EvalsToTarget != nil {
			ett = strconv.Itoa(*r.EvalsToTarget)
		}
		// A run with no recommendation (no evaluation succeeded) has no
		// final or best value: the metric is left out of its line rather
		// than written as NaN, which benchstat would average in.
		line := fmt.Sprintf("%s 1 %s evals-to-target", name, ett)
		if !math.IsNaN(r.RecommendTrue) {
			line += " " + fmtG(r.RecommendTrue) + " final-true"
		}
		if !math.IsNaN(r.BestObserved) {
			line += " " + fmtG(r.BestObserved) + " best-observed"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// benchName keys a run by its cell and algorithm in benchstat's
// name=value form (no spaces or slashes inside a value): the cell's name
// parts (Cell.String), so runs benchstat pools are runs of one cell.
func benchName(r *Run) string {
	parts := r.Cell().nameParts()
	if r.Scenario != "" {
		parts[0] = "scenario=" + parts[0]
	} else {
		parts[0] = "obj=" + r.Objective
	}
	for i, p := range parts {
		name, v, _ := strings.Cut(p, "=")
		parts[i] = name + "=" + benchValue.Replace(v)
	}
	return "BenchmarkConverge/" + strings.Join(parts, "/") + "/alg=" + benchValue.Replace(r.Algorithm)
}

// benchValue keeps a value inside one name=value part of a benchmark name.
var benchValue = strings.NewReplacer("/", "-", " ", "-")

func fmtG(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

type jsonSummary struct {
	Summary
	MedianETT             *float64 `json:"median_evals_to_target"`
	P10ETT                *float64 `json:"p10_evals_to_target"`
	P90ETT                *float64 `json:"p90_evals_to_target"`
	ART                   *float64 `json:"aRT"`
	MedianRecommendedTrue *float64 `json:"median_recommended_true"`
	MedianBestObserved    *float64 `json:"median_best_observed"`
	MedianBestTrue        *float64 `json:"median_best_true"`
}

// toJSONSummaries writes +Inf (a missed target) as null.
func toJSONSummaries(ss []Summary) []jsonSummary {
	out := make([]jsonSummary, len(ss))
	for i, s := range ss {
		out[i] = jsonSummary{s, finiteOrNil(s.MedianETT), finiteOrNil(s.P10ETT), finiteOrNil(s.P90ETT), finiteOrNil(s.ART),
			finiteOrNil(s.MedianRecommendedTrue), finiteOrNil(s.MedianBestObserved), finiteOrNil(s.MedianBestTrue)}
	}
	return out
}

// modelMark flags a row whose method was mostly its start-up phase, and
// modelNote explains it under the table.
const (
	modelMark = "†"
	modelNote = "† the model proposed under half of the candidates in this row's runs: the rest were its uniform start-up design or first population (phase_evals in the jsonl records); at this budget the row is mostly random search."
)

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func fmtEvals(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsNaN(v):
		return "—"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-2 || a >= 1e6) {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtMS(ms float64) string {
	if ms < 1 {
		return fmt.Sprintf("%.0f µs", ms*1000)
	}
	if ms < 1000 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

// Describe is the one-line description of a comparison's configuration:
// every option the figures depend on.
func (h Header) Describe() string {
	noise := fmt.Sprintf("noise σ %g", h.Noise)
	if h.Items > 0 {
		list := ""
		if h.ItemModel != "" {
			list = " (" + h.ItemModel + " list)"
		}
		noise = fmt.Sprintf("%d benchmark items%s, %s", h.Items, list, noise)
	}
	if h.NoiseModel != "" {
		noise += ", " + h.NoiseModel + " noise model"
	}
	if h.FailRate > 0 {
		noise += fmt.Sprintf(", %g%% of evaluations fail", 100*h.FailRate)
	}
	if h.Width > 0 {
		noise += fmt.Sprintf(", peak width %g", h.Width)
	}
	if len(h.Optimum) > 0 {
		parts := make([]string, len(h.Optimum))
		for i, v := range h.Optimum {
			parts[i] = fmtG(v)
		}
		noise += ", optimum " + strings.Join(parts, ",")
	}
	if len(h.Options) > 0 {
		noise += ", options " + formatParams(h.Options)
	}
	rec := "each method's own recommendation"
	if h.Policy != "" {
		rec = "recommendation " + h.Policy
	}
	limit := ""
	if h.EvalTimeout > 0 {
		limit = fmt.Sprintf(", evaluation timeout %gs", h.EvalTimeout)
	}
	cluster := ""
	if h.EvalTime != "" {
		cluster = fmt.Sprintf("; simulated cluster of %d slots, evaluation time %s", h.Slots, h.EvalTime)
	}
	budget := fmt.Sprintf("budget %d evaluations", h.Budget)
	if h.ItemBudget > 0 {
		budget = fmt.Sprintf("budget %d items (%d full evaluations)", h.ItemBudget, h.Budget)
	}
	return fmt.Sprintf("%s, %d dimensions, %s; %s%s, target %s %g, %s%s; %d seeds (master seed %d)",
		h.Objective, h.Dim, noise, budget, limit, h.TargetMeaning, h.Target, rec, cluster, h.Seeds, h.Seed)
}

// paramLines prints each algorithm's hyperparameters, as run, one line
// each, sorted (so a page does not depend on the order runs finished).
func paramLines(runs []*Run) []string {
	var lines []string
	seen := map[string]bool{}
	for _, r := range runs {
		key := r.Algorithm + " " + formatParams(r.Params)
		if seen[key] {
			continue
		}
		seen[key] = true
		lines = append(lines, key)
	}
	sort.Strings(lines)
	return lines
}

// formatParams prints name=value pairs sorted by name.
func formatParams(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, " ")
}

// TableWidth is the widest line, in runes, of the text table and the
// lines around it: it fits a 120-column terminal.
const TableWidth = 120

// writeTable prints the comparison as someone choosing an optimiser reads
// it: ranked by the recommended point's median score (AnalyzeCell, as the
// results pages rank), with the low tail of that score beside the median
// and a Holm-corrected test of every row against the first.
func writeTable(w io.Writer, markdown bool, h Header, runs []*Run) error {
	if len(runs) == 0 {
		return fmt.Errorf("no runs to tabulate")
	}
	c := runs[0].Cell()
	a, err := AnalyzeCell(CellRuns{Cell: c, Name: c.String(), Runs: runs}, h.Seed)
	if err != nil {
		return err
	}
	label := entryLabels(runs)
	wall := map[string][]float64{}
	firstErr := map[string]string{}
	for _, r := range runs {
		l := label[r]
		wall[l] = append(wall[l], r.WallMS)
		if r.Error != "" && firstErr[l] == "" {
			firstErr[l] = r.Error
		}
	}
	held := false
	for _, s := range a {
		held = held || !math.IsNaN(s.HeldOut)
	}
	maximize := runs[0].Maximizes()
	score := func(v float64) string { return fmtRecIn(v, maximize) }
	// With held-out scores (real objectives) the best observed score — a
	// search-pool figure — gives way to the held-out column: the gap
	// between the recommended point's search-pool and held-out scores is
	// the one that matters there, and the table must fit 120 columns.
	head := []string{"algorithm", "hits", "evals to target\nmedian [p10, p90]", "aRT",
		"recommended true\nmedian (p10, worst)", "vs #1\n(Holm p)"}
	if held {
		head = append(head, "held-out\nmedian (p10, worst)")
	} else {
		head = append(head, "best\nobserved")
	}
	head = append(head, "wall\n(median)", "errors")
	if markdown {
		for i := range head {
			head[i] = strings.ReplaceAll(head[i], "\n", " ")
		}
	}
	var opts []tablewriter.Option
	desc := h.Describe()
	var tb bytes.Buffer
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		fmt.Fprintf(w, "%s\n\n", desc)
	} else {
		fmt.Fprintln(w, wrap(desc, TableWidth))
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
		align[i] = tw.AlignRight // numbers
	}
	align[0] = tw.AlignLeft // names
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone), tablewriter.WithRowAutoWrap(tw.WrapNone))
	t := tablewriter.NewTable(&tb, opts...)
	t.Header(toAny(head)...)
	var notes []string
	for _, s := range a {
		if s.ModelUnderHalf {
			notes = append(notes, modelNote)
			break
		}
	}
	if runs[0].Slots > 1 {
		var one []string
		for _, s := range a {
			if e, err := algorithms.Lookup(strings.Fields(s.Algorithm)[0]); err == nil && e.Batch == algorithms.BatchOneSlot {
				one = append(one, e.Name)
			}
		}
		if len(one) > 0 {
			notes = append(notes, fmt.Sprintf("%s evaluate one candidate at a time (algorithms.Entry.Batch): on %d slots they leave %d idle.",
				strings.Join(one, " and "), runs[0].Slots, runs[0].Slots-1))
		}
	}
	for _, s := range a {
		name := s.Algorithm
		if s.ModelUnderHalf {
			name += " " + modelMark
		}
		row := []string{name, fmt.Sprintf("%d/%d", s.Successes, s.Runs),
			fmt.Sprintf("%s [%s, %s]", fmtEvalsInt(s.ETT.Median), fmtEvalsInt(s.P10), fmtEvalsInt(s.P90)), fmtEvalsInt(s.ART),
			fmt.Sprintf("%s (%s, %s)", score(s.RecTrue.Median), score(s.RecP10), score(s.RecWorst)), fmtP(s.PTrue)}
		if held {
			if math.IsNaN(s.HeldOut) { // no run of this method recommended a point
				row = append(row, "none")
			} else {
				row = append(row, fmt.Sprintf("%s (%s, %s)", fmtRec(s.HeldOut), fmtRec(s.HeldP10), fmtRec(s.HeldWorst)))
			}
		} else {
			row = append(row, fmtRecIn(s.BestObserved, maximize))
		}
		row = append(row, fmtWall(quantileFinite(wall[s.Algorithm], 0.5)), strconv.Itoa(s.Errors))
		if s.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d runs ended by an error, e.g. %s", s.Algorithm, s.Errors, truncate(firstErr[s.Algorithm], 200)))
		}
		if err := t.Append(toAny(row)...); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if markdown {
		w.Write(tb.Bytes())
	} else {
		// The borderless renderer pads every line with a space at each
		// end; the lines are the table's width without them.
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
			fmt.Fprintln(w, l)
		}
	}
	if a[0].RecTrue.Warning != nil {
		notes = append(notes, fmt.Sprintf("%d runs per algorithm are too few for a meaningful test (≥ 6 needed).", a[0].Runs))
	}
	heldNote := ""
	if held {
		heldNote = " Held-out: the recommended point re-scored on items the search never saw."
	}
	hits := " Hits: runs whose candidates reached the target."
	rankedBy := "true score"
	if a[0].ByHeldOut {
		rankedBy = "held-out score"
	}
	text := "Ranked by the median " + rankedBy + " of the point each method recommends (what it would hand over; " +
		"\"none\": no evaluation succeeded, so no recommendation), with its 10th percentile and worst run" + lossNote(runs[0]) +
		". vs #1: two-sided Mann–Whitney test against the first row, Holm-corrected; ~ = not significant at α = 0.05." + heldNote + hits +
		" Evaluations to target count a missed run as ∞ (COCO); aRT = evaluations spent in all runs ÷ successes."
	if !held {
		text += " Best observed: the best score the method saw through the noise (the gap to the recommended true score is the winner's curse)."
	}
	for _, l := range append([]string{text}, notes...) {
		if markdown {
			fmt.Fprintf(w, "\n%s\n", l)
			continue
		}
		fmt.Fprintln(w, wrap(l, TableWidth))
	}
	if runs[0].ItemBudget > 0 {
		if err := writeItemsTable(w, markdown, runs, h.Seed); err != nil {
			return err
		}
	}
	if runs[0].EvalTime != "" {
		return writeClockTable(w, markdown, runs, a)
	}
	return nil
}

// lossNote says how the low tail reads for a loss.
func lossNote(r *Run) string {
	if r.Maximizes() {
		return ""
	}
	return " (for a loss, the 90th percentile and the highest)"
}

// fmtRec prints a recommended score; ±Inf stands for a run with no
// recommendation (AnalyzeCell ranks those last).
func fmtRec(v float64) string {
	if math.IsInf(v, 0) {
		return "none"
	}
	return fmtScore(v)
}

// fmtRecIn prints a score to two decimals, or a loss (which spans orders
// of magnitude) to three significant digits; ±Inf is "none" (fmtRec).
func fmtRecIn(v float64, maximize bool) string {
	if maximize || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmtRec(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// fmtEvalsInt prints an evaluation count rounded to a whole evaluation.
func fmtEvalsInt(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return fmtEvals(v)
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

// fmtWall prints a wall time in at most 7 runes.
func fmtWall(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "—"
	case ms < 1:
		return fmt.Sprintf("%.0f µs", ms*1000)
	case ms < 99.95:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 999.5:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 99995:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms < 3600e3:
		return fmt.Sprintf("%.1f m", ms/60e3)
	}
	return fmt.Sprintf("%.1f h", ms/3600e3)
}

// wrap breaks s at spaces into lines of at most width runes (a longer
// word stays whole), continuation lines indented by two spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case line+1+n > width:
			b.WriteString("\n  ")
			line = 2
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func writeCSV(w io.Writer, ss []Summary) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"algorithm", "runs", "successes", "errors", "median_evals_to_target", "p10_evals_to_target", "p90_evals_to_target", "aRT", "median_recommended_true", "median_best_observed", "median_best_true", "median_wall_ms"})
	for _, s := range ss {
		cw.Write([]string{s.Algorithm, strconv.Itoa(s.Runs), strconv.Itoa(s.Successes), strconv.Itoa(s.Errors),
			fmtG(s.MedianETT), fmtG(s.P10ETT), fmtG(s.P90ETT), fmtG(s.ART),
			fmtG(s.MedianRecommendedTrue), fmtG(s.MedianBestObserved), fmtG(s.MedianBestTrue), fmtG(s.MedianWallMS)})
	}
	cw.Flush()
	return cw.Error()
}

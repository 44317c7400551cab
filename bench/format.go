package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

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
}

// Write prints the comparison in one of Formats.
func Write(w io.Writer, format string, h Header, runs []*Run) error {
	switch format {
	case "table", "markdown":
		if err := writeTable(w, format == "markdown", h, Summarize(runs)); err != nil {
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
func MarshalRun(r *Run) ([]byte, error) {
	type alias Run
	c := *r
	return json.Marshal(struct {
		*alias
		BestObserved  *float64 `json:"best_observed"`
		BestTrue      *float64 `json:"best_true"`
		RecommendTrue *float64 `json:"recommended_true"`
	}{(*alias)(&c), finiteOrNil(r.BestObserved), finiteOrNil(r.BestTrue), finiteOrNil(r.RecommendTrue)})
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
		if _, err := fmt.Fprintf(w, "%s 1 %s evals-to-target %s final-true %s best-observed\n",
			name, ett, fmtG(r.RecommendTrue), fmtG(r.BestObserved)); err != nil {
			return err
		}
	}
	return nil
}

// benchName keys a run by its cell, in benchstat's name=value form (no
// spaces or slashes inside a value).
func benchName(r *Run) string {
	if r.Scenario != "" {
		return "BenchmarkConverge/scenario=" + r.Scenario + "/alg=" + r.Algorithm
	}
	name := fmt.Sprintf("BenchmarkConverge/obj=%s/dim=%d/noise=%s", strings.ReplaceAll(r.Objective, "/", "-"), r.Dim, fmtG(r.Noise))
	if r.Items > 0 {
		name += fmt.Sprintf("/items=%d", r.Items)
	}
	if r.Landscape != "" {
		name += "/landscape=" + r.Landscape
	}
	if r.Policy != "" {
		name += "/policy=" + strings.ReplaceAll(r.Policy, " ", "-")
	}
	return name + "/alg=" + r.Algorithm
}

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

var tableHeader = []string{"algorithm", "runs", "successes", "evals to target: median [p10, p90]", "aRT", "recommended true (median)", "best observed (median)", "wall (median)", "errors"}

// modelMark flags a row whose method was mostly its start-up phase, and
// modelNote explains it under the table.
const (
	modelMark = "†"
	modelNote = "† the model proposed under half of the candidates in this row's runs: the rest were its uniform start-up design or first population (phase_evals in the jsonl records); at this budget the row is mostly random search."
)

func tableRows(ss []Summary) [][]string {
	rows := make([][]string, len(ss))
	for i, s := range ss {
		errs := "0"
		if s.Errors > 0 {
			errs = fmt.Sprintf("%d: %s", s.Errors, truncate(s.FirstError, 60))
		}
		name := s.Algorithm
		if s.ModelUnderHalf {
			name += " " + modelMark
		}
		rows[i] = []string{
			name, strconv.Itoa(s.Runs), strconv.Itoa(s.Successes),
			fmt.Sprintf("%s [%s, %s]", fmtEvals(s.MedianETT), fmtEvals(s.P10ETT), fmtEvals(s.P90ETT)),
			fmtEvals(s.ART), fmtScore(s.MedianRecommendedTrue), fmtScore(s.MedianBestObserved),
			fmtMS(s.MedianWallMS), errs,
		}
	}
	return rows
}

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

// Describe is the one-line description of a comparison's configuration.
func (h Header) Describe() string {
	noise := fmt.Sprintf("noise σ %g", h.Noise)
	if h.Items > 0 {
		noise = fmt.Sprintf("%d benchmark items, %s", h.Items, noise)
	}
	return fmt.Sprintf("%s, %d dimensions, %s; budget %d evaluations, target %s %g; %d seeds (master seed %d)",
		h.Objective, h.Dim, noise, h.Budget, h.TargetMeaning, h.Target, h.Seeds, h.Seed)
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

func writeTable(w io.Writer, markdown bool, h Header, ss []Summary) error {
	var opts []tablewriter.Option
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		fmt.Fprintf(w, "%s\n\n", h.Describe())
	} else {
		fmt.Fprintln(w, h.Describe())
	}
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	t := tablewriter.NewTable(w, opts...)
	t.Header(toAny(tableHeader)...)
	for _, row := range tableRows(ss) {
		if err := t.Append(toAny(row)...); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, s := range ss {
		if s.ModelUnderHalf {
			fmt.Fprintln(w, modelNote)
			break
		}
	}
	_, err := fmt.Fprintln(w, "Evaluations to target count a missed run as ∞ (COCO); aRT = evaluations spent in all runs ÷ successes; the recommended point's true score is what the method would hand over, the best observed score is what it saw through the noise.")
	return err
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

package bench

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/bench/plots"
)

// ProgressEval is one evaluation of a real run as its journal records it.
type ProgressEval struct {
	// Index is the evaluation's number in the run (its journal index).
	Index int
	// Observed is the score the evaluation returned; nil if it failed.
	Observed *float64
	// Error says why it failed.
	Error string
	// X is the candidate.
	X []float64
}

// RunProgress is what a real run's progress page shows: the run's
// evaluations so far and the recipe of the best one.
type RunProgress struct {
	// Title heads the page (e.g. "evomerge evolve: cmaes, seed 1").
	Title string
	// Budget is the run's evaluation budget.
	Budget int
	// Maximize says the score is to be maximised (an accuracy); false
	// for a loss.
	Maximize bool
	// Scored says what one evaluation scores: the objective and its items,
	// or the external evaluator's command.
	Scored string
	// Genes names the coordinates of X (optional).
	Genes []string
	// Evals are the evaluations so far, in any order.
	Evals []ProgressEval
	// Recipe is the best observed point as the run would write it (the
	// mergekit YAML of best.yml), optional: without it the page lists the
	// point's coordinates.
	Recipe string
	// Done stops the page's reloading: the run is over.
	Done bool
	// Stopped, if set, says why the run stopped before its end (it was
	// interrupted, or failed): the page then stops reloading too, and
	// says so instead of "Running".
	Stopped string
	// Summary, if set, is shown under the state: at the end of a run,
	// which point it ships and how that point was scored.
	Summary []string
	// Refresh is how often the browser reloads the page while the run
	// goes on; 0 means every 10 seconds.
	Refresh time.Duration
}

// WriteProgressPage writes p as a self-contained HTML page at path (made
// for a file beside the run's journal, progress.html, rewritten after
// every evaluation): the best observed score so far and which evaluation
// gave it, the convergence of the observed scores, the best point's
// recipe, and the best evaluations. While the run goes on the page tells
// the browser to reload it. The file is replaced atomically, so a reload
// never sees half a page; the page holds no clock reading, so it is a
// function of the evaluations alone.
func WriteProgressPage(path string, p RunProgress) error {
	page, err := progressHTML(p)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(path, page); err != nil {
		return fmt.Errorf("progress page: %v", err)
	}
	return nil
}

func progressHTML(p RunProgress) ([]byte, error) {
	evals := append([]ProgressEval(nil), p.Evals...)
	sort.SliceStable(evals, func(i, j int) bool { return evals[i].Index < evals[j].Index })
	better := func(a, b float64) bool {
		if p.Maximize {
			return a > b
		}
		return a < b
	}
	best := -1
	failed := 0
	var conv, observed plots.Series
	conv.Name, observed.Name = "best observed so far", "each evaluation (observed)"
	conv.Look, observed.Look = plots.Look{Style: 1}, plots.Look{Muted: true}
	for k, e := range evals {
		if e.Observed == nil || math.IsNaN(*e.Observed) || math.IsInf(*e.Observed, 0) {
			failed++
			continue
		}
		if best < 0 || better(*e.Observed, *evals[best].Observed) {
			best = k
		}
		x := float64(k + 1)
		v, b := *e.Observed, *evals[best].Observed
		observed.X, observed.Median, observed.Q1, observed.Q3 = append(observed.X, x), append(observed.Median, v), append(observed.Q1, v), append(observed.Q3, v)
		conv.X, conv.Median, conv.Q1, conv.Q3 = append(conv.X, x), append(conv.Median, b), append(conv.Q1, b), append(conv.Q3, b)
	}
	title := p.Title
	if title == "" {
		title = "evomerge run"
	}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	live := !p.Done && p.Stopped == ""
	if live {
		refresh := p.Refresh
		if refresh <= 0 {
			refresh = 10 * time.Second
		}
		fmt.Fprintf(&b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", max(1, int(refresh.Round(time.Second)/time.Second)))
	}
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>%s</h1>\n", esc(title), reportCSS, esc(title))
	state := "Running"
	switch {
	case p.Done:
		state = "Finished"
	case p.Stopped != "":
		state = "Stopped"
	}
	fmt.Fprintf(&b, "<p id=\"state\">%s: %d of %d evaluations", state, len(evals), p.Budget)
	if failed > 0 {
		fmt.Fprintf(&b, " (%d failed)", failed)
	}
	b.WriteString(".")
	if live {
		b.WriteString(" This page reloads itself while the run goes on.")
	}
	if p.Stopped != "" && !p.Done {
		fmt.Fprintf(&b, " %s", esc(p.Stopped))
	}
	b.WriteString("</p>\n")
	if len(p.Summary) > 0 {
		fmt.Fprintf(&b, "<pre id=\"summary\">%s</pre>\n", textEscaper.Replace(strings.Join(p.Summary, "\n")))
	}
	if best < 0 {
		b.WriteString("<p id=\"best\">No evaluation has returned a score yet.</p>\n</main>\n</body>\n</html>\n")
		return b.Bytes(), nil
	}
	e := evals[best]
	what := "score"
	if !p.Maximize {
		what = "loss"
	}
	fmt.Fprintf(&b, "<p id=\"best\">Best observed %s so far: <strong>%s</strong>, evaluation %d", what, fmtObserved(*e.Observed), e.Index)
	if p.Scored != "" {
		fmt.Fprintf(&b, ", one evaluation of %s", esc(p.Scored))
	}
	b.WriteString(". It is an observed score, lucky by being the best of many: the point the run ships at the end is scored afresh, and its output file says how.</p>\n")
	f, err := plots.NewConvergence("observed "+what+" by evaluation", []plots.Series{observed, conv}, plots.YLabel("observed "+what))
	if err != nil {
		return nil, fmt.Errorf("progress page: %v", err)
	}
	svg, err := f.Encode("svg")
	if err != nil {
		return nil, fmt.Errorf("progress page: %v", err)
	}
	writeFigure(&b, map[string]cellFigure{"progress": {svg: svg}}, "progress", "Observed score of every successful evaluation (grey) and the best so far.")
	fmt.Fprintf(&b, "<h2>The best point so far (evaluation %d)</h2>\n", e.Index)
	if p.Recipe != "" {
		fmt.Fprintf(&b, "<pre id=\"recipe\">%s</pre>\n", textEscaper.Replace(strings.TrimRight(p.Recipe, "\n")))
	} else {
		fmt.Fprintf(&b, "<pre id=\"recipe\">%s</pre>\n", esc(pointText(e.X, p.Genes)))
	}
	b.WriteString("<h2>The best evaluations</h2>\n<table>\n<thead><tr><th>evaluation</th><th data-first=\"desc\">observed</th><th>point</th></tr></thead>\n<tbody>\n")
	var ok []ProgressEval
	for _, e := range evals {
		if e.Observed != nil && !math.IsNaN(*e.Observed) && !math.IsInf(*e.Observed, 0) {
			ok = append(ok, e)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return better(*ok[i].Observed, *ok[j].Observed) })
	for _, e := range ok[:min(10, len(ok))] {
		fmt.Fprintf(&b, "<tr><td data-v=\"%d\">%d</td><td data-v=\"%s\">%s</td><td>%s</td></tr>\n", e.Index, e.Index, num(*e.Observed), fmtObserved(*e.Observed), esc(pointText(e.X, p.Genes)))
	}
	b.WriteString("</tbody>\n</table>\n")
	if failed > 0 {
		b.WriteString("<h2>Failed evaluations</h2>\n<ul>\n")
		for _, e := range evals {
			if e.Observed == nil || math.IsNaN(*e.Observed) || math.IsInf(*e.Observed, 0) {
				fmt.Fprintf(&b, "<li>evaluation %d: %s</li>\n", e.Index, esc(e.Error))
			}
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.Bytes(), nil
}

func fmtObserved(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// pointText prints a candidate, with its genes' names when known.
func pointText(x []float64, genes []string) string {
	parts := make([]string, len(x))
	for i, v := range x {
		parts[i] = strconv.FormatFloat(v, 'g', 6, 64)
		if i < len(genes) {
			parts[i] = genes[i] + " " + parts[i]
		}
	}
	return strings.Join(parts, ", ")
}

package bench

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

	"github.com/evomerge/evomerge/bench/plots"
)

// The HTML page's style and script, written here and inlined into every
// page: nothing is loaded from the network, so a page opens from disk.
var (
	//go:embed report.css
	reportCSS string
	//go:embed report.js
	reportJS string
)

// md renders the markdown parts the HTML page shares with the markdown
// page (the preface, the summaries, the appendix) with GitHub's table
// syntax; headings get ids as GitHub gives them.
var md = goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithParserOptions(parser.WithAutoHeadingID()))

func renderMarkdown(b *bytes.Buffer, src []byte) error {
	if err := md.Convert(src, b); err != nil {
		return fmt.Errorf("report: rendering markdown: %v", err)
	}
	return nil
}

var esc = html.EscapeString

// textEscaper escapes element content (not attributes): quotes stay as
// they are, so a JSON record reads as JSON and is not half again as long.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// html is the HTML page: the markdown page's content, with each cell's
// tables and figures built for the browser.
func (r *report) html() ([]byte, error) {
	var b bytes.Buffer
	title := r.title()
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n", esc(title), reportCSS)
	fmt.Fprintf(&b, "<header>\n<h1>%s</h1>\n", esc(title))
	r.controls(&b)
	b.WriteString("</header>\n<main>\n")
	var top bytes.Buffer
	if r.o.Preface != "" {
		fmt.Fprintf(&top, "%s\n\n", strings.TrimSpace(r.o.Preface))
	}
	r.intro(&top)
	r.winners(&top)
	writeSoonest(&top, r.cells, r.clocks)
	if err := writeEqualItems(&top, r.cells); err != nil {
		return nil, err
	}
	if len(r.o.RankAgainst) > 0 {
		if err := writeRankAgreement(&top, r.cells, r.analyses, r.o); err != nil {
			return nil, err
		}
	}
	if err := renderMarkdown(&b, top.Bytes()); err != nil {
		return nil, err
	}
	for i := range r.cells {
		if err := r.htmlCell(&b, i); err != nil {
			return nil, err
		}
	}
	var tail bytes.Buffer
	r.appendix(&tail)
	if err := renderMarkdown(&b, tail.Bytes()); err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "</main>\n<script>\n%s</script>\n</body>\n</html>\n", reportJS)
	return b.Bytes(), nil
}

// controls writes the view switch and a checkbox per method, in its
// figure colour.
func (r *report) controls(b *bytes.Buffer) {
	b.WriteString("<form id=\"controls\" onsubmit=\"return false\">\n<fieldset id=\"view\"><legend>View</legend>\n")
	for _, v := range [][2]string{{"both", "both"}, {"budget", "fixed budget"}, {"target", "fixed target"}} {
		checked := ""
		if v[0] == "both" {
			checked = " checked"
		}
		fmt.Fprintf(b, "<label><input type=\"radio\" name=\"view\" value=\"%s\"%s> %s</label>\n", v[0], checked, v[1])
	}
	b.WriteString("</fieldset>\n<fieldset id=\"methods\"><legend>Methods</legend>\n")
	for _, l := range r.labels() {
		fmt.Fprintf(b, "<label><input type=\"checkbox\" data-toggle=\"%s\" checked> %s%s</label>\n", esc(l), r.swatch(l), esc(l))
	}
	b.WriteString("<button type=\"button\" id=\"show-all\">all</button> <button type=\"button\" id=\"show-none\">none</button>\n</fieldset>\n</form>\n")
}

// labels lists the report's entries in style order (the registry's).
func (r *report) labels() []string {
	var ls []string
	for l := range r.looks {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool {
		if r.looks[ls[i]] != r.looks[ls[j]] {
			return r.looks[ls[i]] < r.looks[ls[j]]
		}
		return ls[i] < ls[j]
	})
	return ls
}

// swatch is a small line in an entry's figure colour and dash.
func (r *report) swatch(label string) string {
	st := plots.StyleAt(max(r.looks[label]-1, 0))
	border := "solid"
	if len(st.Dashes) > 0 {
		border = "dashed"
		if st.Dashes[0] < 3 {
			border = "dotted"
		}
	}
	return fmt.Sprintf("<span class=\"swatch\" style=\"border-top: 3px %s %s\"></span>", border, hexColor(st.Color))
}

func hexColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// num is a sort key for a table cell: data-v holds the number the cell
// shows, so the page sorts 1,000 after 999 and ∞ last.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// td writes a table cell with its sort key.
func td(b *bytes.Buffer, key float64, text string) {
	fmt.Fprintf(b, "<td data-v=\"%s\">%s</td>", num(key), esc(text))
}

// pKey sorts the reference row ("best", NaN) before every p.
func pKey(p float64) float64 {
	if math.IsNaN(p) {
		return -1
	}
	return p
}

// th writes a header cell; desc makes its first click sort highest first
// (scores).
func th(b *bytes.Buffer, text string, desc bool) {
	if desc {
		fmt.Fprintf(b, "<th data-first=\"desc\">%s</th>", esc(text))
		return
	}
	fmt.Fprintf(b, "<th>%s</th>", esc(text))
}

// runsID is the id of the list of an entry's runs in a cell.
func runsID(cell string, k int) string { return fmt.Sprintf("runs-%s-%d", anchor(cell), k) }

// htmlCell writes one cell: its description, the fixed-target table and
// ECDF, the fixed-budget table and figures, the simulated cluster, and
// every run's raw record.
func (r *report) htmlCell(b *bytes.Buffer, i int) error {
	c, a := r.cells[i], r.analyses[i]
	r0 := c.Runs[0]
	id := anchor(c.Name)
	fmt.Fprintf(b, "<section class=\"cell\" id=\"%s\" data-cell=\"%s\">\n<h2>%s</h2>\n", esc(id), esc(c.Name), esc(c.Name))
	desc, meaning := cellDescription(c)
	fmt.Fprintf(b, "<p>%s</p>\n", esc(desc))
	if a[0].ByHeldOut {
		b.WriteString("<p>Rows are ranked by the median <strong>held-out</strong> score of the recommended point, and p (held-out) tests it: the search-pool score of a point a method picked is biased upwards by the picking. The figure shows held-out scores; the fixed-target table counts evaluations to the target on the search pool.</p>\n")
	}
	maximize := r0.Maximizes()
	figs := map[string]cellFigure{}
	if r.figs != nil {
		for _, f := range r.figs[i] {
			figs[f.kind] = f
		}
	}
	order := map[string]int{}
	for k, s := range a {
		order[s.Algorithm] = k
	}
	name := func(k int, s CellStats) string {
		extra := ""
		if s.ModelUnderHalf {
			extra = " " + modelMark
		}
		return fmt.Sprintf("<th scope=\"row\" data-v=\"%d\">%s<a href=\"#%s\">%s</a>%s</th>", k, r.swatch(s.Algorithm), runsID(c.Name, k), esc(s.Algorithm), esc(extra))
	}

	// Fixed target.
	ladder := Ladder(r0)
	fmt.Fprintf(b, "<div class=\"view view-target\">\n<h3>Fixed target: evaluations to reach %s %g</h3>\n<table>\n<thead><tr>", esc(meaning), r0.Target)
	th(b, "algorithm", false)
	th(b, "success [95%]", true)
	th(b, "evals to target: median [95% CI]", false)
	th(b, "p10, p90", false)
	th(b, "aRT [95%]", false)
	th(b, "p (evals)", false)
	for _, t := range ladder {
		th(b, fmt.Sprintf("runs reaching %g", t), true)
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for k, s := range a {
		fmt.Fprintf(b, "<tr data-alg=\"%s\">%s", esc(s.Algorithm), name(k, s))
		td(b, float64(s.Successes)/float64(s.Runs), fmt.Sprintf("%d/%d [%.2f, %.2f]", s.Successes, s.Runs, s.SuccessLo, s.SuccessHi))
		td(b, s.ETT.Median, fmt.Sprintf("%s [%s, %s]", fmtEvals(s.ETT.Median), fmtEvals(s.ETT.Lo), fmtEvals(s.ETT.Hi)))
		td(b, s.P10, fmt.Sprintf("%s, %s", fmtEvals(s.P10), fmtEvals(s.P90)))
		td(b, s.ART, fmt.Sprintf("%s [%s, %s]", fmtEvals(s.ART), fmtEvals(s.ARTLo), fmtEvals(s.ARTHi)))
		td(b, pKey(s.PETT), fmtP(s.PETT))
		for _, n := range s.Ladder {
			td(b, float64(n), fmt.Sprintf("%d/%d", n, s.Runs))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	writeFigure(b, figs, "ecdf", "Runtime ECDF over the targets "+ladderText(ladder)+": the fraction of (run, target) pairs reached within x evaluations (COCO's and IOHprofiler's aggregate view).")
	b.WriteString("</div>\n")

	// Fixed budget.
	held := !math.IsNaN(a[0].HeldOut)
	pHead := "p (true)"
	if a[0].ByHeldOut {
		pHead = "p (held-out)"
	}
	fmt.Fprintf(b, "<div class=\"view view-budget\">\n<h3>Fixed budget: what each method hands over after %d evaluations, and its best so far along the way</h3>\n<table>\n<thead><tr>", r0.Budget)
	th(b, "algorithm", false)
	th(b, "recommended true: median [95% CI]", maximize)
	th(b, "p10, worst", maximize)
	th(b, pHead, false)
	if held {
		th(b, "recommended held-out: median", true)
		th(b, "held-out p10", true)
		th(b, "held-out worst", true)
	}
	th(b, "best observed", maximize)
	for _, f := range budgetFractions {
		th(b, fmt.Sprintf("best true at %g%% budget", 100*f), maximize)
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for k, s := range a {
		fmt.Fprintf(b, "<tr data-alg=\"%s\">%s", esc(s.Algorithm), name(k, s))
		td(b, s.RecTrue.Median, fmt.Sprintf("%s [%s, %s]", fmtRec(s.RecTrue.Median), fmtScore(s.RecTrue.Lo), fmtScore(s.RecTrue.Hi)))
		td(b, s.RecP10, fmt.Sprintf("%s, %s", fmtRec(s.RecP10), fmtRec(s.RecWorst)))
		td(b, pKey(s.PTrue), fmtP(s.PTrue))
		if held {
			td(b, s.HeldOut, fmtRec(s.HeldOut))
			td(b, s.HeldP10, fmtRec(s.HeldP10))
			td(b, s.HeldWorst, fmtRec(s.HeldWorst))
		}
		td(b, s.BestObserved, fmtScore(s.BestObserved))
		for _, v := range s.AtBudget {
			td(b, v, fmtScore(v))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	writeFigure(b, figs, "heldout", "Held-out score of the point each method recommended, one dot per seed: box from the first to the third quartile, bar at the median, whisker from the worst run to the best.")
	writeFigure(b, figs, "convergence", "Best true score found so far: median over seeds, with the interquartile band.")
	writeFigure(b, figs, "budget", "Best true value found by 10, 25, 50 and 100% of the budget, one dot per seed: box from the first to the third quartile, bar at the median, whisker from the worst run to the best.")
	b.WriteString("</div>\n")

	if r.clocks[i] != nil {
		r.htmlClock(b, c, r.clocks[i], order)
	}
	for _, s := range a {
		if s.ModelUnderHalf {
			fmt.Fprintf(b, "<p class=\"note\">%s</p>\n", esc(modelNote))
			break
		}
	}
	if a[0].ETT.Warning != nil {
		fmt.Fprintf(b, "<p class=\"note\"><strong>Warning:</strong> %d runs per algorithm are too few for a 95%% interval of the median (≥ 6 needed) or a meaningful test.</p>\n", a[0].Runs)
	}
	return r.htmlRuns(b, c, a)
}

// ladderText lists a cell's targets.
func ladderText(l []float64) string {
	var s []string
	for _, t := range l {
		s = append(s, strconv.FormatFloat(t, 'g', -1, 64))
	}
	return strings.Join(s, ", ")
}

// writeFigure inlines a cell's figure, if it has one of that kind.
func writeFigure(b *bytes.Buffer, figs map[string]cellFigure, kind, caption string) {
	f, ok := figs[kind]
	if !ok {
		return
	}
	svg := f.svg
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = svg[i:] // the XML declaration has no place inside HTML
	}
	fmt.Fprintf(b, "<figure class=\"fig-%s\">\n", kind)
	b.Write(svg)
	fmt.Fprintf(b, "<figcaption>%s</figcaption>\n</figure>\n", esc(caption))
}

// htmlClock writes the simulated-cluster table of a cell.
func (r *report) htmlClock(b *bytes.Buffer, c CellRuns, cs []ClockStats, order map[string]int) {
	clock, _ := CellClock(c)
	fmt.Fprintf(b, "<div class=\"clock\">\n<h3>Simulated cluster: %d slots, evaluation time %s</h3>\n<p>Mean evaluation time %s; the budget takes %s with every slot busy (the ideal time). Rows by median simulated time to target; p (time) is the Holm-corrected Mann–Whitney test against the first row.</p>\n<table>\n<thead><tr>",
		clock.Slots, esc(clock.EvalTime.String()), esc(fmtSimTime(clock.EvalTime.Mean())), esc(fmtSimTime(clock.Ideal)))
	th(b, "algorithm", false)
	th(b, "simulated time to target: median [95% CI]", false)
	th(b, "p10, p90", false)
	th(b, "p (time)", false)
	th(b, "time at budget: median", false)
	th(b, "slot utilisation: median (p10)", true)
	for _, f := range clockFractions {
		th(b, "best true at "+fmtSimTime(f*clock.Ideal), true)
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for k, s := range cs {
		fmt.Fprintf(b, "<tr data-alg=\"%s\"><th scope=\"row\" data-v=\"%d\">%s<a href=\"#%s\">%s</a></th>", esc(s.Algorithm), k, r.swatch(s.Algorithm), runsID(c.Name, order[s.Algorithm]), esc(s.Algorithm))
		td(b, s.TTT.Median, fmt.Sprintf("%s [%s, %s]", fmtSimTime(s.TTT.Median), fmtSimTime(s.TTT.Lo), fmtSimTime(s.TTT.Hi)))
		td(b, s.TTTP10, fmt.Sprintf("%s, %s", fmtSimTime(s.TTTP10), fmtSimTime(s.TTTP90)))
		td(b, pKey(s.PTTT), fmtP(s.PTTT))
		td(b, s.AtBudget, fmtSimTime(s.AtBudget))
		td(b, s.Util, fmt.Sprintf("%s (%s)", fmtFrac(s.Util), fmtFrac(s.UtilP10)))
		for _, v := range s.AtTime {
			td(b, v, fmtScore(v))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n</div>\n")
}

// wallField is a record's wall time as MarshalRun writes it, with the
// comma that joins it to the next field.
var wallField = regexp.MustCompile(`"wall_ms":[-+0-9.eE]+,`)

// htmlRuns writes, per entry, its runs with their raw records as the
// journal holds them but for the wall time, each reachable from the
// entry's rows. The wall time depends on the machine and its load, not on
// the run: left in, it would make the page of a resumed or sharded suite
// differ from an uninterrupted one's, which BuildReport promises not to.
func (r *report) htmlRuns(b *bytes.Buffer, c CellRuns, a []CellStats) error {
	label := entryLabels(c.Runs)
	by := map[string][]*Run{}
	for _, run := range c.Runs {
		by[label[run]] = append(by[label[run]], run)
	}
	b.WriteString("<h3>Runs and their raw records</h3>\n<p>Each record as the journal holds it, but for its wall time (<code>wall_ms</code>), which depends on the machine, not on the run.</p>\n")
	for k, s := range a {
		fmt.Fprintf(b, "<details class=\"runs\" id=\"%s\" data-alg=\"%s\"><summary>%s%s: %d runs</summary>\n<ul>\n", runsID(c.Name, k), esc(s.Algorithm), r.swatch(s.Algorithm), esc(s.Algorithm), len(by[s.Algorithm]))
		for _, run := range by[s.Algorithm] {
			rec, err := MarshalRun(run)
			if err != nil {
				return fmt.Errorf("report: %s %s seed %d: %v", c.Name, s.Algorithm, run.Seed, err)
			}
			rec = wallField.ReplaceAll(rec, nil)
			sum := fmt.Sprintf("seed %d: evaluations to target %s, recommended true %s", run.Seed, fmtEvals(run.ETT()), fmtRec(run.RecommendTrue))
			if run.RecommendHeldOut != nil {
				sum += ", held-out " + fmtRec(*run.RecommendHeldOut)
			}
			if run.Error != "" {
				sum += ", ended by an error"
			}
			fmt.Fprintf(b, "<li><details class=\"record\" id=\"%s-seed-%d\"><summary>%s</summary><pre>%s</pre></details></li>\n", runsID(c.Name, k), run.Seed, esc(sum), textEscaper.Replace(strings.TrimSpace(string(rec))))
		}
		b.WriteString("</ul>\n</details>\n")
	}
	b.WriteString("</section>\n")
	return nil
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ciEnv is set by .ci/run: there the browser test must run, not skip.
const ciEnv = "EVOMERGE_CI"

// chromium finds Debian's chromium, or skips the test with the way to get
// it (fails under CI, whose script installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed, so the HTML report is not checked in a browser; install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does)"
	if os.Getenv(ciEnv) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// runChromium runs headless chromium on a page file with extra flags and
// returns its stdout and stderr.
func runChromium(t *testing.T, bin, page string, flags ...string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--disable-background-networking", "--disable-sync", "--disable-component-update",
		"--host-resolver-rules=MAP * ~NOTFOUND", // offline: nothing resolves
		"--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0",
	}, flags...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, errb.String())
	}
	return out.Bytes(), errb.Bytes()
}

// checkHead is injected first into the page's head: it records every
// error and console error the page raises.
const checkHead = `<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push("error: " + e.message); });
(function () {
	var ce = console.error;
	console.error = function () { window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " ")); ce.apply(console, arguments); };
}());
</script>
`

// checkTail is injected after the page's own script: it reads the page as
// a user sees it, clicks a column header twice, hides and shows a method,
// switches the view, and writes what it found into the DOM as JSON for
// --dump-dom to carry out.
const checkTail = `<script>
(function () {
	var out = {errors: window.__errors, cells: [], rows: {}, series: {}, resources: [], sort: {}, toggle: {}, view: {}};
	document.querySelectorAll("section.cell").forEach(function (s) {
		out.cells.push(s.id);
		out.rows[s.id] = [];
		s.querySelectorAll("tr[data-alg]").forEach(function (tr) { out.rows[s.id].push(tr.getAttribute("data-alg")); });
		out.series[s.id] = [];
		s.querySelectorAll("g.series").forEach(function (g) { out.series[s.id].push(g.getAttribute("data-series")); });
	});
	performance.getEntriesByType("resource").forEach(function (r) { out.resources.push(r.name); });

	// Sort the first cell's fixed-budget table by its median recommended score.
	var table = document.querySelector("section.cell .view-budget table");
	var th = table.tHead.rows[0].cells[1];
	function column() {
		return Array.prototype.map.call(table.tBodies[0].rows, function (tr) {
			return [tr.getAttribute("data-alg"), tr.cells[1].getAttribute("data-v")];
		});
	}
	out.sort.header = th.textContent;
	out.sort.before = column();
	th.click();
	out.sort.first = column();
	out.sort.firstState = th.getAttribute("aria-sort");
	th.click();
	out.sort.second = column();
	out.sort.secondState = th.getAttribute("aria-sort");
	var ett = table.closest("section").querySelector(".view-target table").tHead.rows[0].cells[2];
	ett.click();
	out.sort.ett = Array.prototype.map.call(ett.closest("table").tBodies[0].rows, function (tr) { return tr.cells[2].getAttribute("data-v"); });

	// Hide a method: its rows, curves, legend entries and runs vanish
	// everywhere; show it again.
	var box = document.querySelector("#methods input[data-toggle]");
	var name = box.getAttribute("data-toggle");
	function visible() {
		var n = 0;
		document.querySelectorAll("[data-alg], [data-series]").forEach(function (el) {
			var a = el.getAttribute("data-alg") || el.getAttribute("data-series");
			if (a === name && getComputedStyle(el).display !== "none") { n++; }
		});
		return n;
	}
	out.toggle.name = name;
	out.toggle.before = visible();
	box.click();
	out.toggle.hidden = visible();
	box.click();
	out.toggle.shown = visible();

	// The fixed-target view hides the fixed-budget tables and figures.
	function shown(sel) { return getComputedStyle(document.querySelector(sel)).display !== "none"; }
	out.view.bothBudget = shown(".view-budget");
	document.querySelector("#view input[value=target]").click();
	out.view.targetBudget = shown(".view-budget");
	out.view.targetTarget = shown(".view-target");
	document.querySelector("#view input[value=budget]").click();
	out.view.budgetTarget = shown(".view-target");

	var pre = document.createElement("pre");
	pre.id = "browser-check";
	pre.textContent = JSON.stringify(out);
	document.body.appendChild(pre);
}());
</script>
`

type browserCheck struct {
	Errors    []string
	Cells     []string
	Rows      map[string][]string
	Series    map[string][]string
	Resources []string
	Sort      struct {
		Header                  string
		Before, First, Second   [][2]*string
		FirstState, SecondState string
		ETT                     []*string `json:"ett"`
	}
	Toggle struct {
		Name                  string
		Before, Hidden, Shown int
	}
	View struct {
		BothBudget, TargetBudget, TargetTarget, BudgetTarget bool
	}
}

var checkRe = regexp.MustCompile(`(?s)<pre id="browser-check">(.*?)</pre>`)

// TestHTMLReportInBrowser loads the report in headless chromium: every
// cell and method is in the DOM, the page logs no error and loads nothing,
// a click on a column header sorts the rows, a method hides in tables and
// figures together, the view switch works, and a screenshot is not blank.
func TestHTMLReportInBrowser(t *testing.T) {
	bin := chromium(t)
	runs := htmlRuns(t)
	dir := t.TempDir()
	page := buildHTML(t, runs, dir)

	// The page with the check scripts around its own.
	checked := bytes.Replace(page, []byte("<head>\n"), []byte("<head>\n"+checkHead), 1)
	checked = bytes.Replace(checked, []byte("</body>"), []byte(checkTail+"</body>"), 1)
	checkPath := filepath.Join(dir, "check.html")
	if err := os.WriteFile(checkPath, checked, 0o644); err != nil {
		t.Fatal(err)
	}
	dom, stderr := runChromium(t, bin, checkPath, "--dump-dom")
	for _, line := range strings.Split(string(stderr), "\n") {
		if strings.Contains(line, ":CONSOLE") && (strings.Contains(line, "Uncaught") || strings.Contains(line, "rror")) {
			t.Errorf("console: %s", line)
		}
	}
	m := checkRe.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the check script left no result: the page's scripts failed?\n%s", stderr)
	}
	var got browserCheck
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &got); err != nil {
		t.Fatalf("%v: %s", err, m[1])
	}
	if len(got.Errors) > 0 {
		t.Errorf("the page raised errors: %q", got.Errors)
	}
	if len(got.Resources) > 0 {
		t.Errorf("the page loaded %q: it must be self-contained", got.Resources)
	}
	cells := GroupCells(runs)
	if len(got.Cells) != len(cells) {
		t.Errorf("DOM has cells %q, want %d", got.Cells, len(cells))
	}
	for _, c := range cells {
		id := anchor(c.Name)
		for _, r := range c.Runs {
			if !contains(got.Rows[id], r.Algorithm) {
				t.Errorf("cell %s: no row of %s in the DOM", c.Name, r.Algorithm)
			}
			if !contains(got.Series[id], r.Algorithm) {
				t.Errorf("cell %s: no curve of %s in the DOM", c.Name, r.Algorithm)
			}
		}
	}

	// Sorting: same rows, in order of the column, then reversed.
	s := got.Sort
	if !strings.HasPrefix(s.Header, "recommended true") {
		t.Fatalf("sorted column %q", s.Header)
	}
	values := func(rows [][2]*string) []float64 {
		var v []float64
		for _, r := range rows {
			var x float64
			if r[1] == nil {
				t.Fatalf("a row without a sort key: %v", r)
			}
			fmt.Sscan(*r[1], &x)
			v = append(v, x)
		}
		return v
	}
	names := func(rows [][2]*string) string {
		var n []string
		for _, r := range rows {
			n = append(n, *r[0])
		}
		return strings.Join(sorted(n), ",")
	}
	if names(s.Before) != names(s.First) || names(s.Before) != names(s.Second) {
		t.Errorf("sorting changed the rows: %v → %v", names(s.Before), names(s.First))
	}
	// A score column sorts highest first on the first click.
	first, second := values(s.First), values(s.Second)
	for i := 1; i < len(first); i++ {
		if first[i] > first[i-1] || second[i] < second[i-1] {
			t.Fatalf("not sorted: first click %v (%s), second %v (%s)", first, s.FirstState, second, s.SecondState)
		}
	}
	if s.FirstState != "descending" || s.SecondState != "ascending" {
		t.Errorf("aria-sort %q then %q", s.FirstState, s.SecondState)
	}
	if first[0] == first[len(first)-1] {
		t.Errorf("the fixture's scores do not differ, so the sort shows nothing: %v", first)
	}
	// Evaluations to target sort ascending, misses (∞) last.
	var prev float64
	for i, v := range s.ETT {
		var x float64
		if v == nil || *v == "" {
			continue
		}
		fmt.Sscan(*v, &x)
		if *v == "Infinity" {
			x = 1e308
		}
		if i > 0 && x < prev {
			t.Errorf("evals to target not ascending: %v", s.ETT)
		}
		prev = x
	}

	tg := got.Toggle
	if tg.Before == 0 || tg.Hidden != 0 || tg.Shown != tg.Before {
		t.Errorf("toggling %s: %d elements visible, %d after hiding, %d after showing", tg.Name, tg.Before, tg.Hidden, tg.Shown)
	}
	v := got.View
	if !v.BothBudget || v.TargetBudget || !v.TargetTarget || v.BudgetTarget {
		t.Errorf("view switch: %+v", v)
	}

	// A screenshot of the page itself is not blank.
	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, filepath.Join(dir, HTMLName), "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	colours := map[[3]uint32]bool{}
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 128 && g>>8 < 128 && bl>>8 < 128 {
				dark++
			}
		}
	}
	if len(colours) < 50 || dark < 500 {
		t.Errorf("the screenshot looks blank: %d colours, %d dark samples", len(colours), dark)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// The progress page of a real run loads in the browser without errors and
// shows its best score and curve.
func TestProgressPageInBrowser(t *testing.T) {
	bin := chromium(t)
	path := filepath.Join(t.TempDir(), "progress.html")
	if err := WriteProgressPage(path, progressFixture(true)); err != nil {
		t.Fatal(err)
	}
	dom, stderr := runChromium(t, bin, path, "--dump-dom")
	for _, line := range strings.Split(string(stderr), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			t.Errorf("console: %s", line)
		}
	}
	for _, want := range []string{`<p id="best">`, `<g class="series" data-series="best observed so far">`, `<pre id="recipe">`} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("DOM lacks %s", want)
		}
	}
}

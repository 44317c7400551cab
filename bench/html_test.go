package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// htmlFixtureAlgs are more methods than a figure draws all in colour.
var htmlFixtureAlgs = []string{"simple-es", "cmaes", "ga", "random", "de", "pso", "one-plus-one-es", "sep-cmaes"}

var (
	htmlFixtureOnce sync.Once
	htmlFixture     []*Run
	htmlFixtureErr  error
)

// htmlRuns are the runs of three cells: a mock score cell, the same on a
// simulated cluster of 3 slots, and a cell with held-out scores (a real
// objective's records, made from mock runs with a held-out score added).
func htmlRuns(t *testing.T) []*Run {
	t.Helper()
	htmlFixtureOnce.Do(func() {
		var all []*Run
		for k, c := range []*Comparison{
			{Algorithms: htmlFixtureAlgs, Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1}, Seeds: 6, Seed: 3, Budget: 60, Target: 90, Parallel: 2},
			{Algorithms: htmlFixtureAlgs[:4], Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1}, Seeds: 6, Seed: 3, Budget: 60, Target: 90, Parallel: 2,
				Slots: 3, EvalTime: EvalTime{Kind: "fixed", Median: 60e9}},
			{Algorithms: htmlFixtureAlgs[:5], Objective: objectives.Spec{Name: "mock", Dim: 3, Noise: 1}, Seeds: 6, Seed: 4, Budget: 40, Target: 80, Parallel: 2},
		} {
			runs, err := c.Run(context.Background())
			if err != nil {
				htmlFixtureErr = err
				return
			}
			if k == 2 {
				for _, r := range runs {
					h := r.RecommendTrue - 3 - float64(r.Seed%4)
					r.RecommendHeldOut = &h
					r.Objective = "heldout-fixture"
				}
			}
			all = append(all, runs...)
		}
		htmlFixture = all
	})
	if htmlFixtureErr != nil {
		t.Fatal(htmlFixtureErr)
	}
	return htmlFixture
}

func buildHTML(t *testing.T, runs []*Run, dir string) []byte {
	t.Helper()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Title: "fixture <page>", Command: "test", Seed: 1, Plots: true, HTML: true,
		Preface: "A preface with a [link](other.md) and a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLName))
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// The page is a function of the records: the same bytes from runs in any
// order, in any folder.
func TestHTMLReportReproducible(t *testing.T) {
	runs := htmlRuns(t)
	a := buildHTML(t, runs, t.TempDir())
	shuffled := slices.Clone(runs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := buildHTML(t, shuffled, t.TempDir())
	if !bytes.Equal(a, b) {
		t.Fatal("index.html differs between two builds from the same records")
	}
}

var (
	attrRe  = regexp.MustCompile(`\b(src|href|action|srcset)\s*=\s*"([^"]*)"`)
	classRe = func(class string) *regexp.Regexp {
		return regexp.MustCompile(`<g class="` + class + `" data-series="([^"]*)">`)
	}
)

// The page holds every cell, every method's rows in each of its tables,
// its figures with every method's curves, and every run's raw record;
// and nothing in it is fetched from anywhere.
func TestHTMLReportContents(t *testing.T) {
	runs := htmlRuns(t)
	dir := t.TempDir()
	page := string(buildHTML(t, runs, dir))
	for _, m := range attrRe.FindAllStringSubmatch(page, -1) {
		if m[1] != "href" || !(strings.HasPrefix(m[2], "#") || m[2] == "other.md") {
			t.Errorf("the page refers to %s=%q", m[1], m[2])
		}
	}
	for _, bad := range []string{"<link", "@import", "url(", "<iframe", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if !strings.Contains(page, "<title>fixture &lt;page&gt;</title>") || !strings.Contains(page, "<table>\n<thead>\n<tr>\n<th>a</th>") {
		t.Error("title or preface missing or unescaped")
	}
	for _, c := range GroupCells(runs) {
		start := strings.Index(page, fmt.Sprintf("<section class=\"cell\" id=\"%s\"", anchor(c.Name)))
		if start < 0 {
			t.Fatalf("cell %s missing", c.Name)
		}
		end := start + strings.Index(page[start:], "</section>")
		sec := page[start:end]
		algs := map[string]bool{}
		for _, r := range c.Runs {
			algs[r.Algorithm] = true
			if !strings.Contains(sec, fmt.Sprintf("-seed-%d\"><summary>seed %d:", r.Seed, r.Seed)) {
				t.Errorf("%s: no record of %s seed %d", c.Name, r.Algorithm, r.Seed)
			}
		}
		if got, want := strings.Count(sec, "<details class=\"record\""), len(c.Runs); got != want {
			t.Errorf("%s: %d raw records, want %d", c.Name, got, want)
		}
		tables := 2
		if _, ok := CellClock(c); ok {
			tables = 3
		}
		for a := range algs {
			if got := strings.Count(sec, fmt.Sprintf("<tr data-alg=\"%s\">", a)); got != tables {
				t.Errorf("%s: %s has %d table rows, want %d", c.Name, a, got, tables)
			}
		}
		kinds := []string{"convergence", "ecdf", "budget"}
		if c.Runs[0].RecommendHeldOut != nil {
			kinds = []string{"heldout"}
		}
		if got := strings.Count(sec, "<figure class="); got != len(kinds) {
			t.Errorf("%s: %d figures, want %d", c.Name, got, len(kinds))
		}
		for _, k := range kinds {
			fs := strings.Index(sec, "<figure class=\"fig-"+k+"\">")
			if fs < 0 {
				t.Errorf("%s: no %s figure", c.Name, k)
				continue
			}
			fig := sec[fs : fs+strings.Index(sec[fs:], "</figure>")]
			drawn := map[string]bool{}
			for _, m := range classRe("series").FindAllStringSubmatch(fig, -1) {
				drawn[m[1]] = true
			}
			for a := range algs {
				if !drawn[a] {
					t.Errorf("%s: the %s figure does not draw %s", c.Name, k, a)
				}
			}
		}
	}
	// Methods past allColoured are grey unless among the top three or
	// random search; the toggles list every method once.
	for _, a := range htmlFixtureAlgs {
		if got := strings.Count(page, fmt.Sprintf("data-toggle=\"%s\"", a)); got != 1 {
			t.Errorf("%d toggles for %s", got, a)
		}
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	if !strings.Contains(string(manifest), "\nindex.html\n") {
		t.Errorf("the manifest does not list index.html:\n%s", manifest)
	}
}

// BuildHTMLReport writes the page alone: no README.md, no plots/.
func TestHTMLReportAlone(t *testing.T) {
	runs := htmlRuns(t)
	dir := t.TempDir()
	if err := BuildHTMLReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1, Plots: true}); err != nil {
		t.Fatal(err)
	}
	var names []string
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{HTMLName, ManifestName}) {
		t.Errorf("folder holds %v", names)
	}
	page, _ := os.ReadFile(filepath.Join(dir, HTMLName))
	if !bytes.Contains(page, []byte("<figure class=\"fig-ecdf\">")) {
		t.Error("the page alone has no figures")
	}
}

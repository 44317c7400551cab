package bench

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// clusterFixture is tableFixture("mock") on a simulated cluster of 8
// slots: each run's trace gets times, and the runs their time at budget,
// time to target and utilisation, so the cluster table depends on nothing
// but this code. Method i reaches the target after about (i+1) hours.
func clusterFixture() []*Run {
	runs := tableFixture("mock")
	for i, r := range runs {
		r.Slots, r.EvalTime = 8, "lognormal:median=5m0s,sigma=0.5"
		ai := float64(i / 25)
		st := 36000 + 100*float64(i)
		r.SimTime = &st
		u := 0.125 + 0.05*ai
		r.SlotUtilisation = &u
		r.Trace = []TracePoint{{Eval: 10, True: 50, T: 600}, {Eval: 500, True: r.RecommendTrue, T: 3600 * (ai + 1 + float64(i%25)/25)}}
		if r.EvalsToTarget != nil {
			r.Trace[1].Eval, r.Trace[1].True = *r.EvalsToTarget, 99.5
			tt := r.Trace[1].T
			r.SimTimeToTarget = &tt
		}
	}
	return runs
}

func clusterHeader() Header {
	h := fixtureHeader("mock")
	h.Slots, h.EvalTime = 8, "lognormal:median=5m0s,sigma=0.5"
	return h
}

// TestClusterTableGolden pins the table of a simulated cluster: the
// comparison table, then each method's simulated time to target, at
// budget and slot utilisation; go test -run TestClusterTableGolden
// -update rewrites it.
func TestClusterTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "table", clusterHeader(), clusterFixture()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "table-cluster.golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("cluster table differs from %s:\n%s", path, b.String())
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if n := utf8.RuneCountInString(l); n > TableWidth {
			t.Errorf("line of %d runes > %d:\n%s", n, TableWidth, l)
		}
	}
	var md bytes.Buffer
	if err := Write(&md, "markdown", clusterHeader(), clusterFixture()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| simulated time to target median [p10, p90] |") {
		t.Errorf("markdown lacks the cluster table:\n%s", md.String())
	}
}

// TestAnalyzeClockRanksBySimulatedTime: entries are ranked by median
// simulated time to target, misses last, whatever the score ranking; the
// figures at fixed times read the trace's times.
func TestAnalyzeClockRanksBySimulatedTime(t *testing.T) {
	runs := clusterFixture()
	c := CellRuns{Cell: runs[0].Cell(), Name: runs[0].Cell().String(), Runs: runs}
	a, err := AnalyzeCell(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := AnalyzeClock(c, a)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].TTT.Median < cs[i-1].TTT.Median {
			t.Errorf("%s (%g s) ranked after %s (%g s)", cs[i].Algorithm, cs[i].TTT.Median, cs[i-1].Algorithm, cs[i-1].TTT.Median)
		}
	}
	if !math.IsNaN(cs[0].PTTT) || math.IsNaN(cs[1].PTTT) {
		t.Errorf("p against the soonest: %g for it, %g for the next", cs[0].PTTT, cs[1].PTTT)
	}
	r := runs[0]
	if got := r.BestTrueAtTime(599); !math.IsNaN(got) {
		t.Errorf("best true before the first evaluation finished: %g", got)
	}
	if got := r.BestTrueAtTime(600); got != 50 {
		t.Errorf("best true at 600 s: %g, want 50", got)
	}
	if r.Succeeded() && r.SimHit(r.Target) != *r.SimTimeToTarget {
		t.Errorf("SimHit %g, recorded %g", r.SimHit(r.Target), *r.SimTimeToTarget)
	}
}

// TestReportOfSimulatedCluster: a page with a cluster cell and its
// one-slot twin, built from real runs, has the soonest-to-target summary,
// the two rankings side by side and each cell's simulated-time table; a
// page without clocks has none of them (see also TestResumeReachesTheSameReport).
func TestReportOfSimulatedCluster(t *testing.T) {
	var runs []*Run
	for _, slots := range []int{8, 1} {
		c := clusterComparison(0)
		c.Slots, c.Seeds = slots, 6
		rs, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, rs...)
	}
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Soonest to target on a simulated cluster", "### On the cluster and on one slot",
		"mergekit-evolve/slots=8/eval-time=lognormal:median=5m0s,sigma=0.5** against [one slot]",
		"| algorithm | simulated time to target: median [95% CI] |", "- **simulated time**"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	plain, err := smallComparison(0).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := BuildReport(plain, ReportOptions{Dir: dir, Command: "test", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(filepath.Join(dir, "README.md"))
	if strings.Contains(string(page), "imulated cluster") || strings.Contains(string(page), "simulated time") {
		t.Errorf("a page without clocks mentions simulated time:\n%s", page)
	}
}

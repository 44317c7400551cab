package bench

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files of the table tests")

// tableFixture builds fixed run records (wall times included), so the
// table's text depends on nothing but this code: kind "mock" is a score
// with noise, "loss" a classic function whose values need e-notation,
// "real" a registered objective with held-out scores. Every registered
// method name appears, the longest with the "†" another column may add,
// and one method never evaluates successfully.
func tableFixture(kind string) []*Run {
	algs := []string{"simple-es", "cmaes", "ga", "random", "gonum-cmaes", "bipop-cmaes", "de", "gp-bo †",
		"ipop-cmaes", "one-plus-one-es †", "pso", "sep-cmaes", "tpe", "uh-cmaes"}
	rng := rand.New(rand.NewPCG(7, 7))
	var runs []*Run
	for ai, alg := range algs {
		for seed := range 25 {
			r := &Run{Algorithm: alg, Objective: "mock", Dim: 4, Noise: 1, Seed: uint64(seed), Budget: 100000, Target: 99,
				Sense: "maximize", Best: 100, EvalsUsed: 100000, WallMS: 1234.5 + float64(ai), Params: map[string]string{}}
			q := float64(ai) / float64(len(algs)) // lower is better
			switch kind {
			case "mock":
				r.RecommendTrue = 99.5 - 10*q - 3*rng.Float64()
				r.BestObserved = r.RecommendTrue + 1.5
			case "loss":
				r.Objective, r.Dim, r.Noise, r.Sense, r.Best, r.Target = "rosenbrock", 10, 0, "minimize", 0, 1e-8
				r.RecommendTrue = math.Pow(10, -9+12*q+2*rng.Float64())
				r.BestObserved = r.RecommendTrue / 3
			case "real":
				r.Objective, r.Dim, r.Noise, r.Budget, r.EvalsUsed, r.Target = "mnist-merge/ties/densities", 18, 0, 100, 100, 95
				r.RecommendTrue = 93 - 8*q - 2*rng.Float64()
				r.BestObserved = r.RecommendTrue + 0.5
				h := r.RecommendTrue - 1 - rng.Float64()
				r.RecommendHeldOut = &h
			}
			if hit := int(1000 + 98000*rng.Float64()); r.RecommendTrue > 97 && kind == "mock" {
				r.EvalsToTarget = &hit
			}
			if alg == "tpe" { // no evaluation ever succeeded: no recommendation
				r.RecommendTrue, r.BestObserved, r.RecommendHeldOut = math.NaN(), math.NaN(), nil
				r.Error = "evaluation 1: objective timed out after 1ns (--eval-timeout)"
			}
			runs = append(runs, r)
		}
	}
	return runs
}

func fixtureHeader(kind string) Header {
	h := Header{Objective: "mock (peak landscape)", Dim: 4, Noise: 1, Budget: 100000, Target: 99, Seeds: 25, Seed: 1,
		TargetMeaning: "true score ≥", NoiseModel: "gauss-moderate", FailRate: 0.05, Width: 0.5, Policy: "reeval 3x4", EvalTimeout: 60}
	switch kind {
	case "loss":
		h = Header{Objective: "rosenbrock", Dim: 10, Budget: 100000, Target: 1e-8, Seeds: 25, Seed: 1, TargetMeaning: "f − f_opt ≤"}
	case "real":
		h = Header{Objective: "mnist-merge/ties/densities", Dim: 18, Budget: 100, Target: 95, Seeds: 25, Seed: 1,
			TargetMeaning: "true score ≥", Options: map[string]string{"method": "ties", "distractor": "rot90"}}
	}
	return h
}

// TestTableGolden pins the text table of fixed records; go test -run
// TestTableGolden -update rewrites the files after an intended change.
func TestTableGolden(t *testing.T) {
	for _, kind := range []string{"mock", "loss", "real"} {
		var b bytes.Buffer
		if err := Write(&b, "table", fixtureHeader(kind), tableFixture(kind)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "table-"+kind+".golden")
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s table differs from %s:\n%s", kind, path, b.String())
		}
	}
}

// TestTableFitsWidth checks that every line of the text table, its header
// and notes fits a 120-column terminal, even with every method, a marker
// after a name, six-digit evaluation counts, e-notation losses and the
// held-out column.
func TestTableFitsWidth(t *testing.T) {
	for _, kind := range []string{"mock", "loss", "real"} {
		var b bytes.Buffer
		if err := Write(&b, "table", fixtureHeader(kind), tableFixture(kind)); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if n := utf8.RuneCountInString(l); n > TableWidth {
				t.Errorf("%s: line of %d runes > %d:\n%s", kind, n, TableWidth, l)
			}
		}
	}
}

// TestTableRanksByRecommendedScore checks the order of the rows and the
// columns a user choosing a method reads: ranked by the median recommended
// score whatever order the runs came in, the method with no
// recommendation last and shown as such, the low tail beside the median,
// the Holm-corrected test of AnalyzeCell, and held-out where there is one.
func TestTableRanksByRecommendedScore(t *testing.T) {
	runs := tableFixture("real")
	// Reverse the input: registry order must not decide the ranking.
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	a, err := AnalyzeCell(CellRuns{Cell: runs[0].Cell(), Name: runs[0].Cell().String(), Runs: runs}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, "table", fixtureHeader("real"), runs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	var rows []string
	for i, l := range lines {
		if strings.HasPrefix(l, "───") && i+len(a) < len(lines) {
			rows = lines[i+1 : i+1+len(a)]
			break
		}
	}
	if len(rows) != len(a) {
		t.Fatalf("found %d rows, want %d:\n%s", len(rows), len(a), b.String())
	}
	for i, s := range a {
		if !strings.HasPrefix(strings.TrimSpace(rows[i]), s.Algorithm+" ") {
			t.Errorf("row %d is %q, want %s", i+1, rows[i], s.Algorithm)
		}
		want := fmtRec(s.RecTrue.Median) + " (" + fmtRec(s.RecP10) + ", " + fmtRec(s.RecWorst) + ")"
		if !strings.Contains(rows[i], want) {
			t.Errorf("row %s lacks the recommended median with its tail %q:\n%s", s.Algorithm, want, rows[i])
		}
		if !strings.Contains(rows[i], fmtP(s.PTrue)) {
			t.Errorf("row %s lacks its Holm-corrected p %s:\n%s", s.Algorithm, fmtP(s.PTrue), rows[i])
		}
		if s.Algorithm != "tpe" && !strings.Contains(rows[i], fmtRec(s.HeldOut)+" ("+fmtRec(s.HeldP10)+", "+fmtRec(s.HeldWorst)+")") {
			t.Errorf("row %s lacks its held-out median and tail:\n%s", s.Algorithm, rows[i])
		}
		if !s.ByHeldOut {
			t.Errorf("row %s of a real objective is not ranked by held-out score", s.Algorithm)
		}
		if i > 0 && !(heldKey(a[i-1]) >= heldKey(s)) {
			t.Errorf("rows %d and %d out of held-out order", i, i+1)
		}
	}
	last := rows[len(rows)-1]
	if f := strings.Fields(last); f[0] != "tpe" || !strings.Contains(last, "none (none, none)") {
		t.Errorf("the method with no recommendation must rank last, shown as none: %q", last)
	}
	if !strings.Contains(b.String(), "held-out") || !strings.Contains(b.String(), "tpe: 25 runs ended by an error") {
		t.Errorf("held-out column or error note missing:\n%s", b.String())
	}
}

// TestReportPageShowsLowTail: a results page puts the 10th percentile and
// the worst run beside the median recommended score, and the held-out
// median's beside it for real objectives.
func TestReportPageShowsLowTail(t *testing.T) {
	runs := tableFixture("real")
	for i, r := range runs {
		r.Seed = uint64(i) // unique records
	}
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := AnalyzeCell(CellRuns{Cell: runs[0].Cell(), Name: runs[0].Cell().String(), Runs: runs}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "| p10, worst |") || !strings.Contains(string(page), "recommended held-out: median (p10, worst)") {
		t.Fatalf("page lacks the low-tail columns:\n%s", page)
	}
	for _, s := range a {
		var want string
		if s.Algorithm == "tpe" {
			want = "| none, none |"
		} else {
			want = "| " + fmtRec(s.RecP10) + ", " + fmtRec(s.RecWorst) + " |"
			held := fmtRec(s.HeldOut) + " (" + fmtRec(s.HeldP10) + ", " + fmtRec(s.HeldWorst) + ")"
			if !strings.Contains(string(page), held) {
				t.Errorf("%s: page lacks held-out %q", s.Algorithm, held)
			}
		}
		if !strings.Contains(string(page), want) {
			t.Errorf("%s: page lacks %q", s.Algorithm, want)
		}
	}
}

// heldKey is the held-out median a real cell is ranked by (−Inf: none).
func heldKey(s CellStats) float64 {
	if math.IsNaN(s.HeldOut) {
		return math.Inf(-1)
	}
	return s.HeldOut
}

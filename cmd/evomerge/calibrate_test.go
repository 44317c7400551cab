package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench/calibrate"
)

// TestCalibrateFitsMocks: calibrate on two mocks recovers their width
// within 40% (the spread of the estimate over optima: TestCalibrateAccuracy,
// docs/calibrate.md), their noise (items drawn afresh, no Gaussian noise; no
// noise at all) and their landscape; its evolve.yml runs unchanged, and
// the probe it names competes with the run's pick.
func TestCalibrateFitsMocks(t *testing.T) {
	for _, c := range []struct {
		land  string
		width float64
		items int
	}{{"peak", 0.5, 100}, {"ill", 0.3, 0}} {
		t.Run(c.land, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "c.yml")
			mock := "{dim: 6, width: " + ftoa(c.width) + ", landscape: " + c.land
			if c.items > 0 {
				mock += ", items: 100"
			}
			text := "# my merge\nalgorithm: random\nbudget: 1000\nseed: 5\nobjective:\n  kind: mock\n  mock: " + mock + "}\n"
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := runArgs(t, "calibrate", "--quiet", "--probe", "120", "--algs", "random,one-plus-one-es", "--seeds", "3", cfg)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "calibrate")
			var cal calibrate.Calibration
			b, err := os.ReadFile(filepath.Join(out, "calibration.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &cal); err != nil {
				t.Fatal(err)
			}
			s := cal.Scenario
			if math.Abs(s.Width/c.width-1) > 0.4 {
				t.Errorf("fitted width %g, the mock's %g", s.Width, c.width)
			}
			if s.Noise != 0 || s.Items != c.items || s.ItemModel != "" || s.Landscape != c.land {
				t.Errorf("fitted noise %g, items %d %q, landscape %s; want 0, %d sampled, %s", s.Noise, s.Items, s.ItemModel, s.Landscape, c.items, c.land)
			}
			// 5 settings of one-plus-one-es folded or not, plus random.
			if cal.ProbeSize != 120 || cal.Remainder != 880 || len(cal.Ranking) < 2 || cal.Ranking[0].Median < cal.Ranking[len(cal.Ranking)-1].Median {
				t.Errorf("calibration %+v", cal)
			}
			for _, f := range []string{"scenario.yml", "evolve.yml", "probe.jsonl", "report.md"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			// bench runs the fitted scenario.
			if _, _, err := runArgs(t, "bench", "--scenario-file", filepath.Join(out, "scenario.yml"), "--algs", "random", "--seeds", "2"); err != nil {
				t.Fatal(err)
			}
			// evolve runs the written config unchanged; the probe competes.
			stdout, _, err := runArgs(t, "evolve", "--quiet", filepath.Join(out, "evolve.yml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "probe: the best probe point") {
				t.Errorf("evolve's summary does not say how the probe point competed:\n%s", stdout)
			}
			// Calibrating again into the same folder is refused.
			if _, _, err := runArgs(t, "calibrate", "--quiet", "--algs", "random", "--seeds", "2", cfg); err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Errorf("a second calibration into %s: %v", out, err)
			}
		})
	}
}

// TestProbeReuse: a run too short to beat the probe ships the probe's
// best point, saying so; a probe of another objective is refused before
// any evaluation.
func TestProbeReuse(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yml")
	obj := "objective:\n  kind: mock\n  mock: {dim: 4, width: 0.3}\n"
	if err := os.WriteFile(cfg, []byte("algorithm: random\nbudget: 200\nseed: 2\n"+obj), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runArgs(t, "calibrate", "--quiet", "--probe", "60", "--algs", "random", "--seeds", "2", cfg); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "calibrate", "probe.jsonl")
	short := filepath.Join(dir, "short.yml")
	if err := os.WriteFile(short, []byte("algorithm: random\nbudget: 2\nseed: 2\nprobe: "+probe+"\n"+obj), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runArgs(t, "evolve", "--quiet", short)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "shipped: best probe point") {
		t.Errorf("a 2-evaluation run beat a 60-evaluation probe?\n%s", stdout)
	}
	other := filepath.Join(dir, "other.yml")
	if err := os.WriteFile(other, []byte("algorithm: random\nbudget: 20\nseed: 3\nprobe: "+probe+"\n"+obj), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runArgs(t, "evolve", "--quiet", other); err == nil || !strings.Contains(err.Error(), "another objective or seed") {
		t.Errorf("a probe of another seed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.journal.jsonl")); err == nil {
		t.Errorf("the refused run left a journal")
	}
	// A probe journal edited by hand so that a point has a gene too many
	// is refused with its evaluation named, not a panic.
	data, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, `"eval"`) {
			lines[i] = strings.Replace(l, `"x":[`, `"x":[0.5,`, 1)
			break
		}
	}
	edited := filepath.Join(dir, "edited.jsonl")
	if err := os.WriteFile(edited, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("algorithm: random\nbudget: 2\nseed: 2\nprobe: "+edited+"\n"+obj), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runArgs(t, "evolve", "--quiet", bad); err == nil || !strings.Contains(err.Error(), "want 4 finite") {
		t.Errorf("a probe with a point of 5 genes: %v", err)
	}
}

func TestCalibrateBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mock := "seed: 1\nobjective:\n  kind: mock\n  mock: {dim: 3}\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"calibrate"}, "exactly one evolve config"},
		{[]string{"calibrate", filepath.Join(dir, "none.yml")}, "none.yml"},
		{[]string{"calibrate", write("small.yml", "algorithm: random\nbudget: 25\n"+mock)}, "leaves 5 evaluations"},
		{[]string{"calibrate", "--probe", "5", write("p.yml", "algorithm: random\nbudget: 100\n"+mock)}, "--probe 5"},
		{[]string{"calibrate", "--algs", "nope", write("a.yml", "algorithm: random\nbudget: 100\n"+mock)}, "--algs"},
		{[]string{"calibrate", "--seeds", "1", write("s.yml", "algorithm: random\nbudget: 100\n"+mock)}, "--seeds 1"},
		{[]string{"calibrate", write("m.yml", "algorithm: nsga2\nbudget: 100\nseed: 1\nobjective: {kind: mock-tasks, mock_tasks: {dim: 3}}\n")}, "multi-objective"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func ftoa(v float64) string {
	return strings.TrimRight(strings.TrimRight(json.Number(fmtF(v)).String(), "0"), ".")
}

func fmtF(v float64) string { b, _ := json.Marshal(v); return string(b) }

// TestCalibrateAccuracy measures how well calibrate recovers two mocks'
// width and landscape with a probe of 60 evaluations, over the optima of
// config seeds 1–6: the figures of docs/calibrate.md §3. It only logs
// them (the assertion on them is TestCalibrateFitsMocks's), so it runs
// only when asked:
//
//	EVOMERGE_FIGURES=1 go test -run CalibrateAccuracy -v ./cmd/evomerge
func TestCalibrateAccuracy(t *testing.T) {
	if os.Getenv("EVOMERGE_FIGURES") == "" {
		t.Skip("set EVOMERGE_FIGURES=1 to measure")
	}
	for _, c := range []struct {
		land, noise string
		width       float64
	}{{"peak", ", items: 100", 0.5}, {"ill", "", 0.3}} {
		var widths []float64
		right := 0
		for seed := 1; seed <= 6; seed++ {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "c.yml")
			text := "algorithm: random\nbudget: 1000\nseed: " + ftoa(float64(seed)) + "\nobjective:\n  kind: mock\n  mock: {dim: 6, width: " + ftoa(c.width) + ", landscape: " + c.land + c.noise + "}\n"
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, err := runArgs(t, "calibrate", "--quiet", "--probe", "60", "--algs", "random", "--seeds", "2", cfg); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "calibrate", "calibration.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cal calibrate.Calibration
			if err := json.Unmarshal(b, &cal); err != nil {
				t.Fatal(err)
			}
			widths = append(widths, cal.Scenario.Width)
			if cal.Scenario.Landscape == c.land {
				right++
			}
		}
		mean := 0.0
		for _, w := range widths {
			mean += w
		}
		t.Logf("%s, width %g%s: fitted widths %v (mean %.2f), landscape right %d of %d", c.land, c.width, c.noise, widths, mean/float64(len(widths)), right, len(widths))
	}
}

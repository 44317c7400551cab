package bench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench/stats"
)

// TestTuningUsesTheEntrysGrid: with no Grid a Tuning expands the method's
// own (algorithms.Entry.Grid), and a method without one is refused with a
// message that says what to give.
func TestTuningUsesTheEntrysGrid(t *testing.T) {
	e, _ := algorithms.Lookup("de")
	want := 1
	for _, vs := range e.Grid {
		want *= len(vs)
	}
	s, err := (&Tuning{Algorithm: "de"}).Settings()
	if err != nil || len(s) != want {
		t.Fatalf("de without a grid: %d settings (%v), want the %d of its entry's grid", len(s), err, want)
	}
	if _, err := (&Tuning{Algorithm: "random"}).Settings(); err == nil || !strings.Contains(err.Error(), "no grid for random") {
		t.Errorf("random has no grid: error %v", err)
	}
}

// TestWriteTune prints the reference, a significant and a not significant
// row in both formats.
func TestWriteTune(t *testing.T) {
	rows := []TuneRow{
		{Setting: map[string]string{"pop": "40", "sigma": "0.1"}, Runs: 6, Successes: 5, ETT: 120, P: 0.004, Better: true,
			RecTrue: stats.MedianInterval{Median: 99.1, Lo: 98.5, Hi: 99.4}},
		{IsDefault: true, SameAs: []map[string]string{{"pop": "20"}}, Runs: 6, Successes: 3, ETT: 300,
			RecTrue: stats.MedianInterval{Median: 97.25, Lo: 96, Hi: 98}},
		{Setting: map[string]string{"pop": "10"}, Runs: 6, ETT: math.Inf(1), P: 0.31, RecTrue: stats.MedianInterval{Median: 96, Lo: 95, Hi: 97}},
	}
	for _, c := range []struct {
		format string
		want   []string
	}{
		{"table", []string{"│    1 │", " pop=40 sigma=0.1 │", "better (p=0.004)", "(defaults) = pop=20", "reference", "~ (p=0.31)", "∞", "5/6"}},
		{"markdown", []string{"\n|", " pop=40 sigma=0.1 |", "99.10 [98.50, 99.40]"}},
	} {
		var b bytes.Buffer
		if err := WriteTune(&b, c.format, rows); err != nil {
			t.Fatal(err)
		}
		for _, w := range append(c.want, "after Holm's correction.\n") {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", c.format, w, b.String())
			}
		}
	}
	if err := WriteTune(&bytes.Buffer{}, "csv", rows); err == nil {
		t.Error("format csv accepted")
	}
}

// TestTuneCheckPlot refuses what Plot could not write, naming the path.
func TestTuneCheckPlot(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	tu := &Tuning{Algorithm: "cmaes"}
	for _, c := range []struct {
		tu         *Tuning
		path, want string
	}{
		{tu, filepath.Join(dir, "x.gif"), ".png or .svg"},
		{tu, filepath.Join(dir, "missing", "x.png"), "does not exist"},
		{tu, filepath.Join(dir, "d.png"), "is a folder"},
		{&Tuning{Algorithm: "cmaes", Grid: map[string][]string{"recommend": {"mean", "best"}}}, filepath.Join(dir, "x.svg"), `recommend="mean" is not numeric`},
	} {
		err := c.tu.CheckPlot(c.path)
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming the path and %q", c.path, err, c.want)
		}
	}
	if err := tu.CheckPlot(filepath.Join(dir, "x.svg")); err != nil {
		t.Errorf("a writable .svg over cmaes's grid: %v", err)
	}
}

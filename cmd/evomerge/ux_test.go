package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evomerge/evomerge/bench"
)

// TestHelp: help a user asks for is output (stdout, success), every level
// of it says where to go next, and no flag's help shows a sentinel value.
func TestHelp(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"commands:", "bench ", "tune ", "zoo ", "evomerge help COMMAND", "-alg", "-pop"}},
		{[]string{"-h"}, []string{"commands:", "-budget"}},
		{[]string{"help"}, []string{"commands:"}},
		{[]string{"help", "bench"}, []string{"usage: evomerge bench", "-algs", "-target"}},
		{[]string{"bench", "--help"}, []string{"usage: evomerge bench", "-noise"}},
		{[]string{"help", "tune"}, []string{"usage: evomerge tune", `--scenario ""`}},
		{[]string{"zoo", "--help"}, []string{"zoo build", "zoo eval", "zoo baselines"}},
		{[]string{"help", "zoo"}, []string{"zoo baselines"}},
		{[]string{"zoo", "build", "-h"}, []string{"-seed", "-testbed", "-instance"}},
		{[]string{"zoo", "baselines", "-h"}, []string{"usage: evomerge zoo baselines", "-testbed", "-instance"}},
		{[]string{"evolve", "--help"}, []string{"usage: evomerge evolve", "docs/evolve.md"}},
		{[]string{"report", "--help"}, []string{"usage: evomerge report", "-out"}},
		{[]string{"merge", "-h"}, []string{"usage: evomerge merge", "-max-shard-size"}},
		{[]string{"help", "merge"}, []string{"usage: evomerge merge"}},
		{[]string{"mobench", "-h"}, []string{"usage: evomerge mobench", "-floor", "ws-cmaes"}},
		{[]string{"help", "mobench"}, []string{"mobench report"}},
	}
	for _, c := range cases {
		out, errOut, err := runArgs(t, c.args...)
		if err != nil {
			t.Errorf("%v: %v (help must succeed)", c.args, err)
			continue
		}
		if errOut != "" {
			t.Errorf("%v: help went to stderr:\n%s", c.args, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q:\n%s", c.args, w, out)
			}
		}
		if strings.Contains(out, "NaN") {
			t.Errorf("%v: help shows a NaN default:\n%s", c.args, out)
		}
	}
	if _, _, err := runArgs(t, "help", "frobnicate"); err == nil {
		t.Error("help for an unknown command succeeded")
	}
}

// TestErrorsNameTheFlag: errors of tune say which flag is wrong and, for
// objective flags under tune's default scenario, what to do.
func TestErrorsNameTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"tune", "--alg", "cmaez"}, []string{`--alg: unknown algorithm "cmaez"`}},
		{[]string{"tune", "--objective", "sphere"}, []string{"--objective", "mergekit-evolve", `--scenario ""`}},
		{[]string{"bench", "--eval-timeout", "-1s"}, []string{"--eval-timeout", "negative"}},
		{[]string{"tune", "--eval-timeout", "-1s", "--scenario", ""}, []string{"--eval-timeout", "negative"}},
		{[]string{"tune", "--alg", "cmaes", "--grid", "sigma0=0.1,0.10"}, []string{"sigma0=0.1 and sigma0=0.10 are the same setting"}},
		{[]string{"tune", "--alg", "ga", "--grid", "pop=10", "--grid", "pop=20"}, []string{"pop already has a --grid"}},
	}
	for _, c := range cases {
		_, _, err := runArgs(t, c.args...)
		if err == nil {
			t.Errorf("%v accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.args, err, w)
			}
		}
	}
}

// TestTunePlotCheckedBeforeRunning: a --plot tune could not write is
// refused before any setting runs (the table, printed after the runs, is
// absent).
func TestTunePlotCheckedBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ plot, want string }{
		{filepath.Join(dir, "x.gif"), ".png or .svg"},
		{filepath.Join(dir, "missing", "x.png"), "does not exist"},
	} {
		out, _, err := runArgs(t, "tune", "--alg", "random", "--scenario", "consumer-gpu", "--seeds", "2", "--grid", "batch=5,10", "--plot", c.plot)
		if err == nil || !strings.Contains(err.Error(), "--plot") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--plot %s: error %v, want one naming --plot and %q", c.plot, err, c.want)
		}
		if out != "" {
			t.Errorf("--plot %s: the tune ran before the plot path was checked:\n%s", c.plot, out)
		}
	}
	_, _, err := runArgs(t, "tune", "--alg", "cmaes", "--scenario", "consumer-gpu", "--seeds", "2", "--grid", "recommend=mean,best", "--plot", filepath.Join(dir, "x.png"))
	if err == nil || !strings.Contains(err.Error(), "not numeric") {
		t.Errorf("--plot over a non-numeric grid: %v", err)
	}
}

// TestNoiseDefaultsToTheObjectives: --noise left unset adds the mock's σ 1
// to the mock only; the classic functions are deterministic unless asked,
// and --noise 1 given explicitly is honoured.
func TestNoiseDefaultsToTheObjectives(t *testing.T) {
	noiseOf := func(args ...string) float64 {
		t.Helper()
		out, _, err := runArgs(t, append([]string{"bench", "--algs", "random", "--seeds", "1", "--budget", "10", "--format", "jsonl"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		r, err := bench.UnmarshalRun([]byte(strings.TrimSpace(out)))
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return r.Noise
	}
	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"--objective", "rosenbrock", "--dim", "3"}, 0},
		{[]string{"--objective", "sphere", "--dim", "3"}, 0},
		{[]string{"--objective", "rosenbrock", "--dim", "3", "--noise", "1"}, 1},
		{nil, 1}, // the mock
		{[]string{"--noise", "0"}, 0},
	} {
		if got := noiseOf(c.args...); got != c.want {
			t.Errorf("%v: noise %g, want %g", c.args, got, c.want)
		}
	}
	out, _, err := runArgs(t, "tune", "--scenario", "", "--objective", "sphere", "--dim", "2", "--alg", "random", "--seeds", "2", "--budget", "20", "--grid", "batch=5,10")
	if err != nil || !strings.Contains(out, "noise σ 0;") {
		t.Errorf("tune on sphere must default to no noise: %v\n%s", err, out)
	}
}

// TestPopMeansTheMethodsParameter: the simulator's --pop N is --set
// ALG.P=N for the method's population parameter P, for every N including
// 0 (which gonum's CMA-ES reads as its formula default and the simple ES as no
// population), never a different default of its own.
func TestPopMeansTheMethodsParameter(t *testing.T) {
	for _, c := range []struct{ alg, param, n string }{
		{"simple-es", "pop", "0"}, {"simple-es", "pop", "12"}, {"gonum-cmaes", "popsize", "0"}, {"gonum-cmaes", "popsize", "6"},
		{"cmaes", "popsize", "12"}, {"sep-cmaes", "popsize", "6"}, {"uh-cmaes", "popsize", "10"}, {"ipop-cmaes", "popsize", "6"},
	} {
		base := []string{"--alg", c.alg, "--budget", "60"}
		out1, _, err1 := runArgs(t, append(base, "--pop", c.n)...)
		out2, _, err2 := runArgs(t, append(base, "--set", c.alg+"."+c.param+"="+c.n)...)
		if out1 != out2 || (err1 == nil) != (err2 == nil) {
			t.Errorf("--alg %s: --pop %s and --set %s.%s=%s differ:\n%v\n%s\n---\n%v\n%s", c.alg, c.n, c.alg, c.param, c.n, err1, out1, err2, out2)
		}
	}
	if _, _, err := runArgs(t, "--pop", "10", "--set", "simple-es.pop=12"); err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("--pop against --set: %v", err)
	}
}

// TestDefaultBenchTableFits: every line of the default `evomerge bench`
// table fits 120 columns.
func TestDefaultBenchTableFits(t *testing.T) {
	out, _, err := runArgs(t, "bench")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 120 {
			t.Errorf("line of %d runes:\n%s", n, l)
		}
	}
	if !strings.Contains(out, "vs #1") || !strings.Contains(out, "median (p10, worst)") {
		t.Errorf("the table lacks the test column or the low tail:\n%s", out)
	}
}

// TestSimulatorGenerationIsThePopulation: the simulator's "N per
// generation" and its Gen lines follow the population the method really
// uses (its Entry's rule), not CMA-ES's 4+⌊3 ln n⌋ for every method: DE at
// n = 4 evaluates 20 points a generation and PSO 14.
func TestSimulatorGenerationIsThePopulation(t *testing.T) {
	for _, c := range []struct {
		args []string
		gen  int
	}{
		{[]string{"--alg", "de"}, 20},               // min(max(10·4, 5), 20)
		{[]string{"--alg", "de", "--dim", "1"}, 10}, // 10·1
		{[]string{"--alg", "de", "--pop", "0"}, 20},
		{[]string{"--alg", "pso"}, 14}, // 10+⌊2√4⌋
		{[]string{"--alg", "cmaes"}, 8},
		{[]string{"--alg", "gonum-cmaes", "--dim", "10"}, 10}, // 4+⌊3 ln 10⌋
		{[]string{"--alg", "simple-es"}, 20},
		{[]string{"--alg", "ga", "--pop", "0"}, 20},
		{[]string{"--alg", "tpe"}, 8}, // no population: lines every CMA-ES generation
	} {
		args := append([]string{"--budget", "60", "--target", "100"}, c.args...)
		out, _, err := runArgs(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if want := fmt.Sprintf("(%d per generation,", c.gen); !strings.Contains(out, want) {
			t.Errorf("%v: header lacks %q:\n%s", args, want, out)
		}
		if extra := fmt.Sprintf("Gen %d: ", (60+c.gen-1)/c.gen+1); strings.Contains(out, extra) {
			t.Errorf("%v: %q: more lines than %d-evaluation generations in a budget of 60:\n%s", args, extra, c.gen, out)
		}
	}
}

// TestOneSlotMethodsSaySo: a method that evaluates one candidate at a time
// says so in the help of the commands that select methods, and in a table
// of runs on several slots.
func TestOneSlotMethodsSaySo(t *testing.T) {
	out, _, err := runArgs(t, "bench", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`one-plus-one-es .*\n.*slots: ONE SLOT`).MatchString(out) {
		t.Errorf("bench --help does not say that one-plus-one-es uses one slot:\n%s", out)
	}
	out, _, err = runArgs(t, "bench", "--slots", "4", "--eval-time", "fixed:1m", "--algs", "cmaes,one-plus-one-es", "--seeds", "2", "--budget", "40")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "one-plus-one-es evaluate one candidate at a time") {
		t.Errorf("the table does not say that one-plus-one-es left slots idle:\n%s", out)
	}
}

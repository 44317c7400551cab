package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
)

func init() {
	commands["bench"] = command{"compare optimisers, every algorithm × seed concurrently, on one objective", runBench}
}

// benchFlags are the flags of "evomerge bench"; their names are a
// contract with scripts.
type benchFlags struct {
	algs, objective, format string
	dim, items, budget      int
	seeds, parallel         int
	noise, target           float64
	seed                    uint64
	optimum                 floatList
	sets                    settings
	evalTimeout             time.Duration
	progress                bool
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.algs, "algs", strings.Join(algorithms.DefaultNames(), ","), "comma-separated algorithms (known: "+strings.Join(algorithms.Names(), ", ")+")")
	fs.StringVar(&b.objective, "objective", "mock", "objective: "+strings.Join(objectives.Names(), "|"))
	fs.IntVar(&b.dim, "dim", 4, "dimension")
	fs.Float64Var(&b.noise, "noise", 1, "σ of additive Gaussian noise")
	fs.IntVar(&b.items, "items", 0, "mock only: score as an accuracy on this many benchmark items (binomial noise)")
	fs.Var(&b.optimum, "optimum", "mock only: the optimum, comma-separated in [0,1] (default: drawn from --seed)")
	fs.IntVar(&b.budget, "budget", 1000, "evaluations per run")
	fs.IntVar(&b.seeds, "seeds", 25, "runs per algorithm")
	fs.Uint64Var(&b.seed, "seed", 1, "master seed: the objective and every run's seed derive from it")
	fs.Float64Var(&b.target, "target", math.NaN(), "target in the objective's terms: a score to reach (mock, default 99) or a precision f − f_opt (classic functions, default 1e-8)")
	fs.IntVar(&b.parallel, "parallel", 0, "runs in flight; 0 means GOMAXPROCS (results do not depend on it)")
	fs.StringVar(&b.format, "format", "table", "output: "+strings.Join(bench.Formats, "|"))
	b.sets = map[string]map[string]string{}
	fs.Var(b.sets, "set", "hyperparameter alg.param=value (repeatable; unknown names are an error)")
	fs.DurationVar(&b.evalTimeout, "eval-timeout", time.Minute, "a run whose evaluation takes longer ends with an error; 0 means no limit")
	fs.BoolVar(&b.progress, "progress", term.IsTerminal(int(os.Stderr.Fd())), "show progress on stderr (default: when stderr is a terminal)")
}

func (b *benchFlags) comparison(stderr io.Writer) (*bench.Comparison, bench.Header, error) {
	var h bench.Header
	algs := splitList(b.algs)
	if len(algs) == 0 {
		return nil, h, fmt.Errorf("--algs is empty")
	}
	for _, a := range algs {
		if _, err := algorithms.Lookup(a); err != nil {
			return nil, h, fmt.Errorf("--algs: %w", err)
		}
	}
	if b.parallel < 0 {
		return nil, h, fmt.Errorf("--parallel %d: must not be negative", b.parallel)
	}
	spec := objectives.Spec{Name: b.objective, Dim: b.dim, Noise: b.noise, Items: b.items, Optimum: b.optimum, Seed: b.seed}
	f, err := objectives.New(spec)
	if err != nil {
		return nil, h, err
	}
	target := b.target
	if math.IsNaN(target) {
		target = f.DefaultTarget()
	}
	c := &bench.Comparison{
		Algorithms: algs, Settings: b.sets, Objective: spec, Seeds: b.seeds, Seed: b.seed,
		Budget: b.budget, Target: target, Parallel: b.parallel, EvalTimeout: b.evalTimeout,
	}
	if b.progress {
		c.Progress = stderr
	}
	meaning := "true score ≥"
	if f.Sense() == objectives.Minimize {
		meaning = "f − f_opt ≤"
	}
	h = bench.Header{Objective: b.objective, Dim: b.dim, Noise: b.noise, Items: b.items, Budget: b.budget,
		Target: target, Seeds: b.seeds, Seed: b.seed, TargetMeaning: meaning}
	return c, h, nil
}

func runBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b benchFlags
	b.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evomerge bench [flags]\n\nRuns every selected algorithm × seed concurrently on one objective and compares them.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !contains(bench.Formats, b.format) {
		return fmt.Errorf("--format %q: want one of %s", b.format, strings.Join(bench.Formats, ", "))
	}
	c, h, err := b.comparison(stderr)
	if err != nil {
		return err
	}
	runs, err := c.Run(ctx)
	if err != nil {
		return err
	}
	return bench.Write(stdout, b.format, h, runs)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/multi"
	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/objectives"
)

func init() {
	commands["mobench"] = command{"compare multi-objective methods on an objective of several tasks (fronts, hypervolume, floors): mobench [flags] | mobench report", runMOBench}
}

// floors collects repeatable --floor task=score flags.
type floors map[string]float64

func (f floors) String() string { return fmt.Sprint(map[string]float64(f)) }

func (f floors) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want task=score, e.g. retention=70", v)
	}
	x, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%q: %q is not a finite score", v, val)
	}
	if _, dup := f[k]; dup {
		return fmt.Errorf("%q: task %s is given twice", v, k)
	}
	f[k] = x
	return nil
}

// intList is a comma-separated list of positive integers.
func intList(flag, s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("--%s %q: %q is not a positive integer", flag, s, p)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s is empty", flag)
	}
	return out, nil
}

func runMOBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "report" {
		return runMOReport(stdout, stderr, args[1:])
	}
	fs := flag.NewFlagSet("evomerge mobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	algs := fs.String("algs", "all", "comma-separated multi-objective methods, or all (known: "+strings.Join(algorithms.MultiNames(), ", ")+"; ws-cmaes is the weighted-sum baseline)")
	objective := fs.String("objective", "mock-tasks", "objective of several tasks (mock-tasks; mnist-multitask, the real multi-task testbed, whose fronts are reported on held-out scores)")
	dim := fs.Int("dim", 4, "number of parameters (mock-tasks; a real objective knows its own)")
	items := fs.Int("items", 0, "benchmark items per task per evaluation (binomial noise); 0: none")
	noise := fs.Float64("noise", 0, "σ of Gaussian noise on every task score")
	width := fs.Float64("width", 0, "peak width per coordinate of every task (mock-tasks; 0: 0.25)")
	objSeed := fs.Uint64("objective-seed", 1, "seed of the objective (the layout of the optima, shared by every run)")
	vary := fs.Bool("vary-objective", false, "draw each seed's objective (layout of optima) from the run's index instead of --objective-seed: the same for every method and budget")
	opts := options{}
	fs.Var(opts, "opt", "objective option name=value (repeatable); mock-tasks: "+strings.Join(objectives.MultiMockOptions, ", "))
	budgets := fs.String("budgets", "100,300", "comma-separated budgets (evaluations per run)")
	seeds := fs.Int("seeds", 25, "runs per method and budget")
	seed := fs.Uint64("seed", 1, "master seed of the runs (run i has the same seed for every method)")
	fl := floors{}
	fs.Var(fl, "floor", "floor task=score (repeatable): a constraint for the methods, the reference point of the hypervolume")
	ref := floors{}
	fs.Var(ref, "ref", "hypervolume reference score task=score for a task without a floor (repeatable; default 0)")
	sets := settings{}
	fs.Var(sets, "set", "hyperparameter alg.param=value (repeatable)")
	slots := fs.Int("slots", 1, "evaluations in flight per run")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "runs at once (results do not depend on it)")
	out := fs.String("out", "", "folder for runs.jsonl, README.md and figures (required)")
	title := fs.String("title", "Multi-objective comparison", "title of README.md")
	preface := fs.String("preface", "", "Markdown file placed before the results in README.md (the protocol)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	recordsOnly := fs.Bool("records-only", false, "write only runs.jsonl (mobench report makes one page of several suites)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge mobench [flags]\n       evomerge mobench report -out DIR [-title T] [-preface FILE] RUNS.jsonl...\n\nRuns multi-objective methods on an objective that scores several tasks and reports the hypervolume of their fronts,\ntheir IGD+ to the true front and the share breaking a floor, against cmaes on weighted sums (ws-cmaes).")
		fs.PrintDefaults()
	}
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("mobench: unexpected argument %q", pos[0])
	}
	if *out == "" {
		return fmt.Errorf("mobench: --out is required (the folder for runs.jsonl and README.md)")
	}
	names := algorithms.MultiNames()
	if *algs != "all" {
		if names, err = nameList("algs", *algs); err != nil {
			return err
		}
	}
	for _, n := range names {
		if _, err := algorithms.LookupMulti(n); err != nil {
			return fmt.Errorf("--algs: %w", err)
		}
	}
	bs, err := intList("budgets", *budgets)
	if err != nil {
		return err
	}
	for alg := range sets {
		if _, err := algorithms.LookupMulti(alg); err != nil {
			return fmt.Errorf("--set: %w", err)
		}
	}
	spec := objectives.Spec{Name: *objective, Dim: *dim, Items: *items, Noise: *noise, Width: *width, Seed: *objSeed}
	if len(opts) > 0 {
		spec.Options = map[string]string(opts)
	}
	dimSet := false
	fs.Visit(func(fl *flag.Flag) { dimSet = dimSet || fl.Name == "dim" })
	if !dimSet && !contains([]string{"mock-tasks", "mock", "sphere", "ellipsoid", "rosenbrock", "rastrigin"}, *objective) {
		spec.Dim = 0 // a registered objective knows its genome's length (mnist-multitask: 24 genes by default)
	}
	if *vary && *objective != "mock-tasks" {
		// Only the mock draws anything from its seed; a real objective
		// would silently run one instance under a flag that promises many.
		return fmt.Errorf("--vary-objective draws the mock's layout of optima from each run's seed; --objective %s draws nothing from it (for mnist-multitask, run each zoo instance with --opt instance=N)", *objective)
	}
	f, err := objectives.New(spec)
	if err != nil {
		return err
	}
	spec.Dim = f.Dim()
	if _, ok := objectives.AsMulti(f); !ok {
		return fmt.Errorf("--objective %s scores one task: mobench needs an objective of several (mock-tasks, mnist-multitask)", *objective)
	}
	var pre string
	if *preface != "" {
		b, err := os.ReadFile(*preface)
		if err != nil {
			return fmt.Errorf("--preface: %v", err)
		}
		pre = string(b)
	}
	var all []*multi.Run
	for _, alg := range names {
		s := multi.Suite{
			Job:        multi.Job{Objective: spec, Floors: fl, Reference: ref, Slots: *slots, Settings: sets[alg]},
			Algorithms: []string{alg}, Budgets: bs, Seeds: *seeds, MasterSeed: *seed, Parallel: *parallel,
			VaryObjective: *vary,
		}
		progress := func(done, total int) {
			if !*quiet {
				if done == total || done%20 == 0 {
					fmt.Fprintf(stderr, "%s: %d/%d runs\n", alg, done, total)
				}
			}
		}
		runs, err := multi.RunSuite(ctx, s, progress)
		if err != nil {
			return err
		}
		all = append(all, runs...)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	if err := multi.WriteRuns(&b, all); err != nil {
		return err
	}
	if err := bench.WriteFileAtomic(filepath.Join(*out, "runs.jsonl"), []byte(b.String())); err != nil {
		return err
	}
	if *recordsOnly {
		fmt.Fprintf(stdout, "%d runs: %s\n", len(all), filepath.Join(*out, "runs.jsonl"))
		return nil
	}
	if _, err := multi.Report(*out, *title, pre, all); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d runs: %s, %s\n", len(all), filepath.Join(*out, "runs.jsonl"), filepath.Join(*out, "README.md"))
	return nil
}

// runMOReport builds one page from the records of several suites, so that
// the Holm correction covers every comparison on it.
func runMOReport(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge mobench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder for README.md and figures (required)")
	title := fs.String("title", "Multi-objective comparison", "title of README.md")
	preface := fs.String("preface", "", "Markdown file placed before the results (the protocol)")
	epilogue := fs.String("epilogue", "", "Markdown file placed after the results (the answer)")
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) == 0 {
		return fmt.Errorf("mobench report: want -out DIR and at least one runs.jsonl")
	}
	var all []*multi.Run
	for _, p := range pos {
		runs, err := multi.ReadRuns(p)
		if err != nil {
			return err
		}
		all = append(all, runs...)
	}
	var pre string
	if *preface != "" {
		b, err := os.ReadFile(*preface)
		if err != nil {
			return fmt.Errorf("-preface: %v", err)
		}
		pre = string(b)
	}
	var epi string
	if *epilogue != "" {
		b, err := os.ReadFile(*epilogue)
		if err != nil {
			return fmt.Errorf("-epilogue: %v", err)
		}
		epi = string(b)
	}
	cs, err := multi.Report(*out, *title, pre, all, epi)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d runs, %d comparisons: %s\n", len(all), len(cs), filepath.Join(*out, "README.md"))
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/objectives"
)

// runSimulate replays the original Python simulator: a search for merge
// ratios under the mock evaluation, one line per generation, until the
// target is reached or the budget runs out.
func runSimulate(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", "simple-es", "optimiser (one of: "+fmt.Sprint(algorithms.Names())+")")
	dim := fs.Int("dim", 4, "number of merge ratios")
	noise := fs.Float64("noise", 1, "σ of Gaussian noise on each observed score")
	items := fs.Int("items", 0, "if > 0, score as an accuracy on this many benchmark items (binomial noise)")
	var optimum floatList
	fs.Var(&optimum, "optimum", "the secret optimum, comma-separated in [0,1] (default: the simulator's [0.35 0.65 0.10 0.90] at --dim 4, else drawn from --seed)")
	pop := fs.Int("pop", 0, "population (evaluations per generation), i.e. --set ALG.P=N for the method's population parameter P, with the same meaning (default: the method's own)")
	budget := fs.Int("budget", 1000, "evaluation budget")
	target := fs.Float64("target", 99, "true score that counts as the optimum found")
	seed := fs.Uint64("seed", 1, "seed of every random choice")
	lang := fs.String("lang", "", "language of the lines around the search: en or ja (default: from LC_ALL, LC_MESSAGES or LANG; the Gen lines are the same in both)")
	var sets settings = map[string]map[string]string{}
	fs.Var(sets, "set", "hyperparameter alg.param=value (repeatable)")
	fs.Usage = func() {
		// With no command evomerge is the simulator, so its help is also
		// the program's: the commands first, then the simulator's flags.
		usage(fs.Output())
		fmt.Fprintln(fs.Output(), "\nWith no command, evomerge replays the original simulator: it searches merge ratios for a secret optimum under a noisy mock evaluation. Its flags:")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (commands come first: evomerge help)", fs.Arg(0))
	}
	entry, err := algorithms.Lookup(*alg)
	if err != nil {
		return err
	}
	set := sets[*alg]
	for a := range sets {
		if a != *alg {
			return fmt.Errorf("--set names algorithm %q but --alg is %q", a, *alg)
		}
	}
	if set == nil {
		set = map[string]string{}
	}
	popSet := false
	fs.Visit(func(f *flag.Flag) { popSet = popSet || f.Name == "pop" })
	if popSet {
		// --pop is shorthand for the method's population parameter and
		// means what that parameter means (0 is CMA-ES's formula default,
		// but no population for the simple ES); left unset, the method's
		// default population runs.
		if *pop < 0 {
			return fmt.Errorf("--pop %d: must not be negative", *pop)
		}
		if entry.PopParam == "" {
			return fmt.Errorf("--pop: algorithm %s has no population", *alg)
		}
		if v, ok := set[entry.PopParam]; ok && v != strconv.Itoa(*pop) {
			return fmt.Errorf("--pop %d conflicts with --set %s.%s=%s", *pop, *alg, entry.PopParam, v)
		}
		set[entry.PopParam] = strconv.Itoa(*pop)
	}
	_, params, err := algorithms.Configure(*alg, set)
	if err != nil {
		if popSet {
			return fmt.Errorf("--pop %d (%s.%s): %w", *pop, *alg, entry.PopParam, err)
		}
		return err
	}
	gen := entry.Population(*dim, params)
	if gen == 0 {
		// A method without a population (one candidate at a time) gets a
		// line every CMA-ES generation, so its lines line up with the
		// default comparison's.
		cma, err := algorithms.Lookup("cmaes")
		if err != nil {
			return err
		}
		gen = cma.Pop(*dim)
	}
	spec := objectives.Spec{Name: "mock", Dim: *dim, Noise: *noise, Items: *items, Optimum: optimum, Seed: *seed}
	if spec.Optimum == nil && *dim == len(objectives.SimulatorOptimum) {
		spec.Optimum = objectives.SimulatorOptimum
	}
	f, err := objectives.New(spec)
	if err != nil {
		return err
	}
	mock := f.(*objectives.Mock)
	if *budget < 1 {
		return fmt.Errorf("--budget %d: must be at least 1", *budget)
	}
	if !(*target > 0 && *target <= 100) {
		return fmt.Errorf("--target %g: a true score in (0, 100]", *target)
	}

	l, err := simLang(*lang, os.Getenv)
	if err != nil {
		return err
	}
	text := simTexts[l]
	fmt.Fprint(stdout, text.header(*dim, objectives.FormatVector(mock.Optimum(), 2), *alg, gen, *budget, *target, *seed))
	fmt.Fprint(stdout, text.mock(*noise, *items))

	hitGen := 0
	job := bench.Job{
		Algorithm: *alg, Settings: set, Objective: spec, Seed: *seed, Budget: *budget,
		Target: *target,
		Observe: func(p bench.Progress) bool {
			if p.Evals%gen != 0 && p.Evals != *budget {
				return true
			}
			g := (p.Evals + gen - 1) / gen
			fmt.Fprintf(stdout, "Gen %d: Best Score = %.2f | Params = %s\n", g, p.BestObserved, objectives.FormatVector(p.BestX, 2))
			if p.HitEval > 0 {
				hitGen = g
				return false // stop at the end of the generation that found it
			}
			return true
		},
	}
	run, err := bench.ExecuteOn(ctx, job, f)
	if err != nil {
		return err
	}
	if run.Error != "" {
		return fmt.Errorf("run failed: %s", run.Error)
	}
	// Two different claims: whether any candidate the search scored
	// reached the target, and what the method hands over — its recommended
	// point, scored by its true (noise-free) score.
	if run.Succeeded() {
		fmt.Fprint(stdout, text.hit(*run.EvalsToTarget, hitGen, run.BestTrue, *target))
	} else {
		fmt.Fprint(stdout, text.missed(run.EvalsUsed, *target, run.BestTrue))
	}
	if run.Recommended == nil {
		fmt.Fprint(stdout, text.none)
		return nil
	}
	how := recommendation{desc: run.Recommendation, recommends: entry.Recommends}
	if c := run.FinalCheck; c != nil {
		how.final, how.k = c.Chosen, len(c.MethodScores)
	}
	fmt.Fprint(stdout, text.recommended(objectives.FormatVector(run.Recommended, 2), *alg, how,
		run.BestObserved, run.RecommendTrue, run.Succeeded(), run.RecommendTrue >= *target, *target))
	return nil
}

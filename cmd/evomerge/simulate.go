package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
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
	pop := fs.Int("pop", 0, "population (evaluations per generation); 0 means the algorithm's default")
	budget := fs.Int("budget", 1000, "evaluation budget")
	target := fs.Float64("target", 99, "true score that counts as the optimum found")
	seed := fs.Uint64("seed", 1, "seed of every random choice")
	var sets settings = map[string]map[string]string{}
	fs.Var(sets, "set", "hyperparameter alg.param=value (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evomerge [flags]\n\nReplays the original simulator: searches merge ratios for a secret optimum under a noisy mock evaluation.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
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
	if *pop < 0 {
		return fmt.Errorf("--pop %d: must not be negative", *pop)
	}
	if *pop > 0 {
		if entry.PopParam == "" {
			return fmt.Errorf("--pop: algorithm %s has no population", *alg)
		}
		set[entry.PopParam] = strconv.Itoa(*pop)
	}
	_, params, err := algorithms.Configure(*alg, set)
	if err != nil {
		return err
	}
	gen := 0
	for _, p := range params {
		if p.Name == entry.PopParam {
			gen, _ = strconv.Atoi(p.Value)
		}
	}
	if gen <= 0 {
		// Methods whose population defaults to a formula of n (CMA-ES).
		gen = 4 + int(math.Floor(3*math.Log(float64(*dim))))
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

	fmt.Fprintf(stdout, "Searching %d merge ratios for the secret optimum %s with %s (%d per generation, budget %d, target true score %g, seed %d)\n",
		*dim, objectives.FormatVector(mock.Optimum(), 2), *alg, gen, *budget, *target, *seed)
	noiseDesc := fmt.Sprintf("Gaussian noise σ %g", *noise)
	if *items > 0 {
		noiseDesc = fmt.Sprintf("accuracy on %d items, then %s", *items, noiseDesc)
	}
	fmt.Fprintf(stdout, "Mock evaluation: score = 100·exp(−‖w−w*‖²/(2·0.25²·n/4)) observed through %s\n", noiseDesc)

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
	rec := objectives.FormatVector(run.Recommended, 2)
	if run.Succeeded() {
		fmt.Fprintf(stdout, "Optimum found: generation %d, evaluation %d reached true score %.2f ≥ %g. Recommended %s (true score %.2f, best observed %.2f).\n",
			hitGen, *run.EvalsToTarget, run.BestTrue, *target, rec, run.RecommendTrue, run.BestObserved)
	} else {
		fmt.Fprintf(stdout, "Budget of %d evaluations spent without reaching true score %g: best true score %.2f. Recommended %s (true score %.2f, best observed %.2f).\n",
			run.EvalsUsed, *target, run.BestTrue, rec, run.RecommendTrue, run.BestObserved)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
)

func init() {
	commands["tune"] = command{"sweep one algorithm's hyperparameters on a scenario and rank the settings", runTune}
}

// gridFlag collects repeatable --grid param=v1,v2,… flags.
type gridFlag map[string][]string

func (g gridFlag) String() string { return fmt.Sprint(map[string][]string(g)) }

// Set refuses a parameter given twice and a value listed twice (after
// parsing: 0.1 and 0.10 are one value): a repeated setting would run twice,
// count as two more tests in Holm's correction and weaken every p-value.
func (g gridFlag) Set(v string) error {
	k, vals, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" || len(splitList(vals)) == 0 {
		return fmt.Errorf("%q: want param=v1,v2,…", v)
	}
	if _, dup := g[k]; dup {
		return fmt.Errorf("%q: %s already has a --grid; list all its values in one flag", v, k)
	}
	seen := map[string]string{}
	for _, val := range splitList(vals) {
		key := val
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			key = strconv.FormatFloat(f, 'g', -1, 64)
		}
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("%q: %s=%s and %s=%s are the same setting; list each value once", v, k, prev, k, val)
		}
		seen[key] = val
	}
	g[k] = splitList(vals)
	return nil
}

func runTune(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b benchFlags
	alg := fs.String("alg", "cmaes", "algorithm to tune")
	fs.StringVar(&b.scenario, "scenario", "mergekit-evolve", "scenario to tune on (see evomerge bench --list-scenarios); empty to use the objective flags")
	b.registerScenarioFile(fs)
	b.registerObjective(fs)
	fs.IntVar(&b.seeds, "seeds", 15, "runs per setting (the same seeds for every setting)")
	grid := gridFlag{}
	fs.Var(grid, "grid", "hyperparameter values to try, param=v1,v2,… (repeatable; default: the algorithm's built-in grid)")
	format := fs.String("format", "table", strings.Join(bench.TuneFormats, "|"))
	plot := fs.String("plot", "", "also draw the median score against the grid parameter with the most values to this .png or .svg file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge tune [flags]\n\nRuns every setting of a hyperparameter grid on the same seeds and ranks the settings by the true score of the final recommendation, each with a 95% interval and a Holm-corrected Mann–Whitney test against the defaults.\nIt tunes on --scenario mergekit-evolve unless told otherwise; to tune on your own objective flags, give --scenario \"\" with them.")
		fs.PrintDefaults()
		writeAlgorithms(fs.Output())
	}
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !slices.Contains(bench.TuneFormats, *format) {
		return fmt.Errorf("--format %q: want %s", *format, strings.Join(bench.TuneFormats, " or "))
	}
	if _, err := algorithms.Lookup(*alg); err != nil {
		return fmt.Errorf("--alg: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := b.useScenarioFile(set); err != nil {
		return err
	}
	if sc := b.fileScenario; sc != nil {
		// The scenario's cluster, as bench runs it: tune ranks the
		// settings on the clock the scenario describes.
		b.slots, b.evalTime = sc.Slots, sc.EvalTime
	}
	b.algs = *alg
	b.sets = map[string]map[string]string{}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		b.progress = true
	}
	c, h, err := b.comparison(stderr, set, b.scenario)
	if err != nil {
		return err
	}
	t := &bench.Tuning{Algorithm: *alg, Grid: grid, Base: *c}
	if *plot != "" {
		// Check the figure's path before the tune, not after an hour of it.
		if err := t.CheckPlot(*plot); err != nil {
			return fmt.Errorf("--plot %w", err)
		}
	}
	rows, err := t.Run(ctx, c.Progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Tuning %s on %s\n", *alg, h.Describe())
	if err := bench.WriteTune(stdout, *format, rows); err != nil {
		return err
	}
	if *plot != "" {
		if err := t.Plot(*plot, rows); err != nil {
			return fmt.Errorf("--plot %w", err)
		}
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/evomerge/evomerge/bench/calibrate"
	"github.com/evomerge/evomerge/internal/cli"
)

func init() {
	commands["calibrate"] = command{"probe an evolve config's objective, fit a mock scenario to it and recommend an optimiser and settings (calibrate CONFIG.yml)", runCalibrate}
}

func runCalibrate(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output `folder` (default: the config's folder/calibrate)")
	probe := fs.Int("probe", 0, "probe evaluations (default: 5% of the budget, at least 20)")
	seeds := fs.Int("seeds", 10, "runs per optimiser and setting on the fitted mock")
	workers := fs.Int("workers", 0, "runs in flight on the fitted mock; 0 means GOMAXPROCS (results do not depend on it)")
	algs := fs.String("algs", "", "comma-separated optimisers to rank (default: every registered single-objective one, each over its tuning grid)")
	force := fs.Bool("force", false, "replace the files of an earlier calibration in --out")
	quiet := fs.Bool("quiet", false, "no line per probe evaluation on stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge calibrate [flags] CONFIG.yml\n\nSpends a probe of the config's budget on its objective (random recipes, the two best re-scored), fits a mock scenario to what it measured,\nranks every optimiser and setting on that mock with tune's grids, and writes scenario.yml, evolve.yml (the config with the\nrecommended optimiser, the remaining budget and the probe to reuse), probe.jsonl, report.md and calibration.json. docs/calibrate.md.")
		fs.PrintDefaults()
	}
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("calibrate: name exactly one evolve config")
	}
	o := calibrate.Options{Config: pos[0], Out: *out, Force: *force, Probe: *probe, Seeds: *seeds, Workers: *workers, Progress: stderr}
	if *quiet {
		o.Progress = nil
	}
	if *algs != "" {
		if o.Algs, err = nameList("algs", *algs); err != nil {
			return err
		}
	}
	res, err := calibrate.Run(ctx, o)
	if err != nil {
		return err
	}
	c := res.Calibration
	fmt.Fprintf(stdout, "probe: %d evaluations of %s\n", c.ProbeSize, c.Config)
	fmt.Fprint(stdout, calibrate.Describe(c.Estimates))
	s := c.Scenario
	fmt.Fprintf(stdout, "fitted scenario %s: %d genes, %s landscape, width %g, noise σ %g, items %d %s, budget %d, target %g\n",
		s.Name, s.Dim, s.Landscape, s.Width, s.Noise, s.Items, s.ItemModel, s.Budget, s.Target)
	fmt.Fprintf(stdout, "on the fitted mock (mock units, %d seeds, true score of the recommendation at budget %d):\n", c.Seeds, c.Remainder)
	for i, r := range c.Ranking[:min(5, len(c.Ranking))] {
		fmt.Fprintf(stdout, "  %d. %-50s median %.2f  p10 %.2f  p90 %.2f\n", i+1, strings.TrimSpace(r.Label()), r.Median, r.P10, r.P90)
	}
	fmt.Fprintf(stdout, "recommended: %s\nwritten to %s: scenario.yml, evolve.yml, probe.jsonl, report.md, calibration.json\nnext: evomerge evolve %s\n",
		strings.TrimSpace(c.Ranking[0].Label()), res.Out, res.EvolvePath)
	return nil
}

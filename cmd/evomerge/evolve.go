package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/algorithms"

	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/objectives/external"
	"github.com/evomerge/evomerge/objectives/merge"
)

func init() {
	commands["evolve"] = command{"run one evolutionary merge from a config, journaled and resumable", runEvolve}
}

func runEvolve(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge evolve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	resume := fs.Bool("resume", false, "continue the run its journal records: evaluations already made are replayed, not repeated")
	quiet := fs.Bool("quiet", false, "no line per evaluation on stderr")
	mergeBest := fs.String("merge-best", "", "external objective: finally merge the recommended recipe into this folder")
	mergeFront := fs.Int("merge-front", 0, "multi-objective run on an external objective: finally merge the first N recipes of the front in merge order (by hypervolume added) into FRONT/NN.model folders")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge evolve [flags] CONFIG.yml\n\nRuns an optimiser against one objective (a scenario, a mock, or real models scored by an external command), journaling every evaluation\nand keeping a progress page beside the journal (NAME.progress.html) that a browser reloads during the run.\nThe config file and the external evaluator: docs/evolve.md; evaluations as Slurm jobs (backend: slurm) or through Ray: docs/cluster.md.")
		fs.PrintDefaults()
	}
	// Flags may follow the config path.
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("evolve: name exactly one config file")
	}
	c, err := evolve.LoadConfig(pos[0])
	if err != nil {
		return err
	}
	if *mergeBest != "" && c.Objective.Kind != "external" {
		return fmt.Errorf("--merge-best applies to objective kind external")
	}
	if c.Multi() {
		if *mergeBest != "" {
			return fmt.Errorf("--merge-best: %s is multi-objective and answers with a front, not one recipe: use --merge-front N", c.Algorithm)
		}
		return runEvolveMulti(ctx, stdout, stderr, c, pos[0], *resume, *quiet, *mergeFront)
	}
	if *mergeFront != 0 {
		return fmt.Errorf("--merge-front applies to multi-objective algorithms (%s); %s answers with one recipe: use --merge-best DIR", strings.Join(algorithms.MultiNames(), ", "), c.Algorithm)
	}
	if *mergeBest != "" {
		// Checked now, not after the budget is spent.
		if err := c.CheckMergeDir(*mergeBest); err != nil {
			return err
		}
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	res, err := evolve.Run(ctx, c, *resume, progress)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; every finished evaluation is in %s: continue with evomerge evolve --resume %s", c.Journal, pos[0])
		}
		return err
	}
	if err := evolve.WriteBest(c, res); err != nil {
		return err
	}
	fmt.Fprint(stdout, evolve.Describe(c, res))
	if *mergeBest != "" {
		out, _ := filepath.Abs(*mergeBest)
		if ext := c.Objective.External; len(ext.Merge) > 0 {
			// The program that built every evaluated model builds this one.
			ev := &external.Evaluator{Command: ext.Command}
			if err := ev.Build(ctx, c.Output, out, ext.Slots[0], 0, c.Seed); err != nil {
				return fmt.Errorf("--merge-best %s: %v", out, err)
			}
		} else if err := merge.Run(ctx, merge.RunOptions{Recipe: c.Output, OutDir: out, Seed: c.Seed, Progress: stderr}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "merged the recommended recipe into %s\n", out)
	}
	return nil
}

// runEvolveMulti runs a multi-objective config: the front is written to
// the output folder, and --merge-front N merges its first N recipes.
func runEvolveMulti(ctx context.Context, stdout, stderr io.Writer, c *evolve.Config, path string, resume, quiet bool, mergeFront int) error {
	if mergeFront < 0 {
		return fmt.Errorf("--merge-front %d: want a count ≥ 1", mergeFront)
	}
	if mergeFront > 0 && c.Objective.Kind != "external" {
		return fmt.Errorf("--merge-front applies to objective kind external (real models to merge)")
	}
	var progress io.Writer = stderr
	if quiet {
		progress = nil
	}
	res, err := evolve.RunMulti(ctx, c, resume, progress)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; every finished evaluation is in %s: continue with evomerge evolve --resume %s", c.Journal, path)
		}
		return err
	}
	if err := evolve.WriteFront(c, res); err != nil {
		return err
	}
	fmt.Fprint(stdout, evolve.DescribeMulti(c, res))
	if mergeFront == 0 {
		return nil
	}
	rank := evolve.MergeOrder(res.Run)
	n := min(mergeFront, len(rank))
	if n < mergeFront {
		fmt.Fprintf(stdout, "the front has %d points: merging all of them\n", n)
	}
	for r := 1; r <= n; r++ {
		i := slices.Index(rank, r)
		recipe := filepath.Join(c.Output, evolve.RecipeName(i))
		out, _ := filepath.Abs(strings.TrimSuffix(recipe, ".yml") + ".model")
		if ext := c.Objective.External; len(ext.Merge) > 0 {
			// The program that built every evaluated model builds these
			// too, as for --merge-best.
			ev := &external.Evaluator{Command: ext.Command}
			if err := ev.Build(ctx, recipe, out, ext.Slots[0], 0, c.Seed); err != nil {
				return fmt.Errorf("merging %s: %v", recipe, err)
			}
		} else if err := merge.Run(ctx, merge.RunOptions{Recipe: recipe, OutDir: out, Seed: c.Seed, Progress: stderr}); err != nil {
			return fmt.Errorf("merging %s: %w", recipe, err)
		}
		fmt.Fprintf(stdout, "merged %s (merge order %d) into %s\n", recipe, r, out)
	}
	return nil
}

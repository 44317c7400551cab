package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/term"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/plots"
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
	b.registerObjective(fs)
	fs.IntVar(&b.seeds, "seeds", 15, "runs per setting (the same seeds for every setting)")
	grid := gridFlag{}
	fs.Var(grid, "grid", "hyperparameter values to try, param=v1,v2,… (repeatable; default: the algorithm's built-in grid)")
	format := fs.String("format", "table", "table|markdown")
	plot := fs.String("plot", "", "also draw the median score against the grid parameter with the most values to this .png or .svg file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge tune [flags]\n\nRuns every setting of a hyperparameter grid on the same seeds and ranks the settings by the true score of the final recommendation, each with a 95% interval and a Holm-corrected Mann–Whitney test against the defaults.\nIt tunes on --scenario mergekit-evolve unless told otherwise; to tune on your own objective flags, give --scenario \"\" with them.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "markdown" {
		return fmt.Errorf("--format %q: want table or markdown", *format)
	}
	if _, err := algorithms.Lookup(*alg); err != nil {
		return fmt.Errorf("--alg: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	b.algs = *alg
	b.sets = map[string]map[string]string{}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		b.progress = true
	}
	c, h, err := b.comparison(stderr, set, b.scenario)
	if err != nil {
		return err
	}
	if len(grid) == 0 {
		grid = bench.DefaultGrids[*alg]
	}
	t := &bench.Tuning{Algorithm: *alg, Grid: grid, Base: *c}
	if *plot != "" {
		// Check the figure's path before the tune, not after an hour of it.
		if err := checkPlotPath(*plot, grid); err != nil {
			return err
		}
	}
	rows, err := t.Run(ctx, c.Progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Tuning %s on %s\n", *alg, h.Describe())
	var opts []tablewriter.Option
	if *format == "markdown" {
		fmt.Fprintln(stdout)
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	tb := tablewriter.NewTable(stdout, opts...)
	tb.Header("rank", "setting", "recommended true: median [95% CI]", "successes", "evals to target (median)", "vs defaults")
	for i, r := range rows {
		mark := "reference"
		if !r.IsDefault {
			p := fmt.Sprintf("p=%.3f", r.P)
			if r.P < 0.001 {
				p = "p<0.001"
			}
			switch {
			case r.P >= 0.05:
				mark = fmt.Sprintf("~ (p=%.2f)", r.P)
			case r.Better:
				mark = "better (" + p + ")"
			default:
				mark = "worse (" + p + ")"
			}
		}
		ci := fmt.Sprintf("%.2f [%.2f, %.2f]", r.RecTrue.Median, r.RecTrue.Lo, r.RecTrue.Hi)
		if r.RecTrue.Warning != nil {
			ci += " (too few seeds for an interval)"
		}
		ett := "∞"
		if !math.IsInf(r.ETT, 1) {
			ett = strconv.FormatFloat(r.ETT, 'f', 0, 64)
		}
		if err := tb.Append(strconv.Itoa(i+1), r.Label(), ci, fmt.Sprintf("%d/%d", r.Successes, r.Runs), ett, mark); err != nil {
			return err
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Every setting ran on the same seeds; \"~\" = not significantly different from the defaults at α = 0.05 after Holm's correction.")
	if *plot != "" {
		return tunePlot(*plot, *alg, grid, rows)
	}
	return nil
}

// checkPlotPath refuses, before any run, a --plot that tunePlot would
// refuse afterwards: an extension other than .png or .svg, a folder that
// does not exist, or a plotted parameter with non-numeric values.
func checkPlotPath(path string, grid map[string][]string) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".png" && ext != ".svg" {
		return fmt.Errorf("--plot %s: want a .png or .svg file, not %q", path, ext)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("--plot %s: folder %s does not exist", path, filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("--plot %s is a folder; want a .png or .svg file", path)
	}
	if len(grid) == 0 {
		return nil // Tuning.Settings reports the missing grid
	}
	param := plotParam(grid)
	for _, v := range grid[param] {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("--plot: draws the median against %s, the grid parameter with the most values, but %s=%q is not numeric", param, param, v)
		}
	}
	return nil
}

// plotParam is the grid parameter tunePlot draws against: the one with the
// most values, the first by name on a tie.
func plotParam(grid map[string][]string) string {
	keys := make([]string, 0, len(grid))
	for k := range grid {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	param := keys[0]
	for _, k := range keys {
		if len(grid[k]) > len(grid[param]) {
			param = k
		}
	}
	return param
}

// tunePlot draws, for the grid parameter with the most values (the first
// by name on a tie), the best median score over the other parameters at
// each of its values, with that row's interval.
func tunePlot(path, alg string, grid map[string][]string, rows []bench.TuneRow) error {
	param := plotParam(grid)
	best := map[float64]bench.TuneRow{}
	for _, r := range rows {
		if r.IsDefault {
			continue
		}
		x, err := strconv.ParseFloat(r.Setting[param], 64)
		if err != nil {
			return fmt.Errorf("--plot: %s=%q is not numeric", param, r.Setting[param])
		}
		if cur, ok := best[x]; !ok || r.RecTrue.Median > cur.RecTrue.Median {
			best[x] = r
		}
	}
	var pts []plots.TunePoint
	for x, r := range best {
		pts = append(pts, plots.TunePoint{X: x, Y: r.RecTrue.Median, Lo: finiteOr(r.RecTrue.Lo, r.RecTrue.Median), Hi: finiteOr(r.RecTrue.Hi, r.RecTrue.Median)})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].X < pts[j].X })
	return plots.Tune(path, alg+": recommended true score by "+param, param, pts...)
}

func finiteOr(v, alt float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return alt
	}
	return v
}

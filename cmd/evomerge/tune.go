package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/term"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/plots"
)

func init() {
	commands["tune"] = command{"sweep one algorithm's hyperparameters on a scenario and rank the settings", runTune}
}

// gridFlag collects repeatable --grid param=v1,v2,… flags.
type gridFlag map[string][]string

func (g gridFlag) String() string { return fmt.Sprint(map[string][]string(g)) }

func (g gridFlag) Set(v string) error {
	k, vals, ok := strings.Cut(v, "=")
	if !ok || k == "" || len(splitList(vals)) == 0 {
		return fmt.Errorf("%q: want param=v1,v2,…", v)
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
		fmt.Fprintln(stderr, "usage: evomerge tune [flags]\n\nRuns every setting of a hyperparameter grid on the same seeds and ranks the settings by the true score of the final recommendation, each with a 95% interval and a Holm-corrected Mann–Whitney test against the defaults.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "markdown" {
		return fmt.Errorf("--format %q: want table or markdown", *format)
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

// tunePlot draws, for the grid parameter with the most values (the first
// by name on a tie), the best median score over the other parameters at
// each of its values, with that row's interval.
func tunePlot(path, alg string, grid map[string][]string, rows []bench.TuneRow) error {
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

package bench

import (
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

	"github.com/evomerge/evomerge/bench/plots"
)

// TuneFormats lists the output formats of WriteTune.
var TuneFormats = []string{"table", "markdown"}

// WriteTune prints the ranked rows of a Tuning as a text table or, with
// format "markdown", a markdown table, then how to read the last column.
func WriteTune(w io.Writer, format string, rows []TuneRow) error {
	var opts []tablewriter.Option
	switch format {
	case "table":
	case "markdown":
		fmt.Fprintln(w)
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	default:
		return fmt.Errorf("tune format %q: want %s", format, strings.Join(TuneFormats, " or "))
	}
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	tb := tablewriter.NewTable(w, opts...)
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
	_, err := fmt.Fprintln(w, "Every setting ran on the same seeds; \"~\" = not significantly different from the defaults at α = 0.05 after Holm's correction.")
	return err
}

// CheckPlot refuses, before any run, a figure path Plot would refuse
// afterwards: an extension other than .png or .svg, a folder that does not
// exist, or a plotted parameter with non-numeric values — not after an
// hour of tuning.
func (t *Tuning) CheckPlot(path string) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".png" && ext != ".svg" {
		return fmt.Errorf("%s: want a .png or .svg file, not %q", path, ext)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: folder %s does not exist", path, filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder; want a .png or .svg file", path)
	}
	grid, err := t.ResolvedGrid()
	if err != nil || len(grid) == 0 {
		return nil // Settings reports the unknown algorithm or the missing grid
	}
	param := plotParam(grid)
	for _, v := range grid[param] {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%s: draws the median against %s, the grid parameter with the most values, but %s=%q is not numeric", path, param, param, v)
		}
	}
	return nil
}

// plotParam is the grid parameter Plot draws against: the one with the
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

// Plot draws to path (.png or .svg), for the grid parameter with the most
// values (the first by name on a tie), the best median score over the
// other parameters at each of its values, with that row's interval.
func (t *Tuning) Plot(path string, rows []TuneRow) error {
	grid, err := t.ResolvedGrid()
	if err != nil {
		return err
	}
	if len(grid) == 0 {
		return fmt.Errorf("%s: no grid to plot against", path)
	}
	param := plotParam(grid)
	best := map[float64]TuneRow{}
	for _, r := range rows {
		if r.IsDefault {
			continue
		}
		x, err := strconv.ParseFloat(r.Setting[param], 64)
		if err != nil {
			return fmt.Errorf("%s: %s=%q is not numeric", path, param, r.Setting[param])
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
	return plots.Tune(path, t.Algorithm+": recommended true score by "+param, param, pts...)
}

func finiteOr(v, alt float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return alt
	}
	return v
}

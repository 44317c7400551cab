// Package plots draws evomerge's benchmark figures — convergence curves,
// runtime ECDFs, score distributions at fixed budgets and hyperparameter
// sweeps — with gonum.org/v1/plot.
//
// Every function validates its input completely and renders in memory
// before touching the disk, then writes a temporary file beside path and
// renames it into place, so path only ever holds a complete figure (a
// process killed mid-write can at worst leave a hidden ".name.tmp-*" file
// beside it). The format comes from
// the extension of path: ".png" or ".svg" (case-insensitive); anything else
// is an error. All figures are Width × Height; PNGs are rendered at 96 DPI.
// SVG is the primary format (results pages and the HTML report embed it).
//
// Every algorithm keeps one look in every figure (StyleAt, indexed by the
// caller from the algorithm registry): the Okabe–Ito colours, then line
// styles. Legends sit in a column right of the data area, never over the
// curves, ordered by each series' final value; methods that are only
// context can be drawn Muted, in grey.
//
// The inputs are plain slices so that a caller holding, per algorithm, a
// list of runs each with a trace of best true score by evaluation can use
// SeriesFromTraces and ECDFFromTraces directly.
package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Figure size. 8 × 4.5 inches is 768 × 432 pixels at 96 DPI: the data
// area keeps about 6 inches beside a legend column, legible on a laptop
// screen and, scaled to a printed page's text width, with 8-point type.
const (
	Width  = 8 * vg.Inch
	Height = 4.5 * vg.Inch
)

// withAlpha returns the opaque colour c at opacity a/255 (for bands, so
// overlapping series stay readable).
func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), a}
}

// format returns the output format for path, or an error naming the
// supported extensions.
func format(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("plots: unsupported file extension %q in %q (want .png or .svg)", ext, path)
	}
}

// writeAtomic writes data to a temporary file in path's directory and
// renames it over path, removing the temporary file on any failure.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}

// newPlot returns a plot with the house style.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = 6
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(10)
	}
	return p
}

// useLogX switches p's x axis to a log scale.
func useLogX(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
}

// logTicks labels decades when the axis spans at least one, and falls back
// to ordinary ticks otherwise (plot.LogTicks would label nothing at all on,
// say, 200–900 evaluations).
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo > 0 && hi/lo >= 10 {
		return plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	}
	return plot.DefaultTicks{}.Ticks(lo, hi)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var errNoSeries = errors.New("plots: no series to plot")

// checkNames rejects empty and duplicate legend names, which would make
// the figure ambiguous.
func checkNames(names []string) error {
	seen := map[string]bool{}
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("plots: series %d has no name", i)
		}
		if seen[n] {
			return fmt.Errorf("plots: duplicate series name %q", n)
		}
		seen[n] = true
	}
	return nil
}

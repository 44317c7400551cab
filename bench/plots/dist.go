package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/evomerge/evomerge/bench/stats"
)

// Dist is one series of a distributions figure: Values[k] holds its runs'
// scores in panel k (e.g. the best true score of every seed at 10% of the
// budget). Every value is finite; a panel may be empty for a series.
type Dist struct {
	Name   string
	Values [][]float64
	Look   Look
}

// Distributions writes a fixed-budget figure; see NewDistributions.
func Distributions(path, title, xlabel string, panels []string, series []Dist) error {
	if _, err := format(path); err != nil {
		return err
	}
	f, err := NewDistributions(title, xlabel, panels, series)
	if err != nil {
		return err
	}
	return f.Save(path)
}

// NewDistributions builds a figure of score distributions over seeds: one
// panel per checkpoint (titled by panels, e.g. "10% of the budget"), one
// row per series in the order given (the caller's ranking), and in each
// row every run as a dot over a box from the first to the third quartile
// with the median as a bar and a whisker from the worst run to the best.
// All panels share the x axis (xlabel), so a row can be read across them
// as the method's progress. Series names stand left of the rows, outside
// every data area.
func NewDistributions(title, xlabel string, panels []string, series []Dist) (*Figure, error) {
	if len(series) == 0 {
		return nil, errNoSeries
	}
	if len(panels) == 0 {
		return nil, fmt.Errorf("plots: distributions need at least one panel")
	}
	names := make([]string, len(series))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		names[i] = s.Name
		if len(s.Values) != len(panels) {
			return nil, fmt.Errorf("plots: series %q has %d panels of values, want %d", s.Name, len(s.Values), len(panels))
		}
		for k, vs := range s.Values {
			for j, v := range vs {
				if !finite(v) {
					return nil, fmt.Errorf("plots: series %q panel %d value %d: %v", s.Name, k, j, v)
				}
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	if math.IsInf(lo, 1) {
		return nil, fmt.Errorf("plots: distributions: no values at all")
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	fig := &Figure{}
	d := &distFigure{title: title, xlabel: xlabel, names: names}
	n := len(series)
	for k, pt := range panels {
		p := newPlot(pt, "", "")
		p.Title.TextStyle.Font = sans(11)
		p.HideY()
		p.X.Min, p.X.Max = lo, hi
		p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
		p.Add(plotter.NewGrid())
		for _, muted := range []bool{true, false} {
			for i, s := range series {
				if s.Look.Muted != muted || len(s.Values[k]) == 0 {
					continue
				}
				p.Add(tagged{tag: fig.tag("series", s.Name), ps: []plot.Plotter{
					strip{row: float64(n - 1 - i), values: s.Values[k], style: s.Look.style(i), muted: muted},
				}})
			}
		}
		// Add widened the range to the data; all panels share one.
		p.X.Min, p.X.Max = lo, hi
		d.plots = append(d.plots, p)
	}
	for _, s := range series {
		d.looks = append(d.looks, s.Look)
	}
	fig.dist = d
	return fig, nil
}

// distFigure lays out the panels of a distributions figure: the title on
// top, the names in a column on the left, the panels side by side, the x
// label under them.
type distFigure struct {
	title, xlabel string
	names         []string
	looks         []Look
	plots         []*plot.Plot
}

const panelGap = vg.Length(8)

// titleStyle is the figure title's text and style, fitted to width.
func (d *distFigure) titleStyle(width vg.Length) (string, text.Style) {
	return fitTitle(d.title, text.Style{Color: plotTextColor, Font: sans(13), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}, width)
}

func (d *distFigure) labelStyle() text.Style {
	return text.Style{Color: plotTextColor, Font: sans(11), XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: plot.DefaultTextHandler}
}

// layout returns the canvases of the panels, their data areas and the
// column of names.
func (d *distFigure) layout(c draw.Canvas) (panels []draw.Canvas, data []vg.Rectangle, names vg.Rectangle) {
	top := c.Max.Y
	if d.title != "" {
		t, sty := d.titleStyle(c.Max.X - c.Min.X)
		top -= sty.Height(t) + 6
	}
	bottom := c.Min.Y
	if d.xlabel != "" {
		bottom += d.labelStyle().Height(d.xlabel) + 4
	}
	var nw vg.Length
	for i, n := range d.names {
		nw = max(nw, legendStyle(d.looks[i].Muted).Width(n))
	}
	names = vg.Rectangle{Min: vg.Point{X: c.Min.X + legendPad, Y: bottom}, Max: vg.Point{X: c.Min.X + legendPad + nw, Y: top}}
	left := names.Max.X + legendPad
	k := vg.Length(len(d.plots))
	w := (c.Max.X - left - legendPad - panelGap*(k-1)) / k
	for i, p := range d.plots {
		x0 := left + vg.Length(i)*(w+panelGap)
		pc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x0, Y: bottom}, Max: vg.Point{X: x0 + w, Y: top}}}
		panels = append(panels, pc)
		data = append(data, p.DataCanvas(pc).Rectangle)
	}
	return panels, data, names
}

func (d *distFigure) draw(c draw.Canvas) {
	panels, data, names := d.layout(c)
	if d.title != "" {
		t, sty := d.titleStyle(c.Max.X - c.Min.X)
		c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y}, t)
	}
	for i, p := range d.plots {
		p.Draw(panels[i])
	}
	if d.xlabel != "" {
		mid := (data[0].Min.X + data[len(data)-1].Max.X) / 2
		c.FillText(d.labelStyle(), vg.Point{X: mid, Y: c.Min.Y + 2}, d.xlabel)
	}
	// Names level with their rows, read off the first panel's y axis.
	dc := d.plots[0].DataCanvas(panels[0])
	_, ty := d.plots[0].Transforms(&dc)
	n := len(d.names)
	for i, name := range d.names {
		sty := legendStyle(d.looks[i].Muted)
		c.FillText(sty, vg.Point{X: names.Min.X, Y: ty(float64(n - 1 - i))}, name)
	}
}

// plotTextColor is the colour of titles and labels.
var plotTextColor = color.Black

// strip draws one row of a distributions panel.
type strip struct {
	row    float64
	values []float64
	style  Style
	muted  bool
}

func (s strip) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	y := ty(s.row)
	h := ty(s.row+0.5) - ty(s.row-0.5)
	xs := slices.Clone(s.values)
	slices.Sort(xs)
	q1, med, q3 := stats.Quantile(xs, 0.25), stats.Quantile(xs, 0.5), stats.Quantile(xs, 0.75)
	col := s.style.Color
	thin := draw.LineStyle{Color: col, Width: 0.8}
	c.StrokeLine2(thin, tx(xs[0]), y, tx(xs[len(xs)-1]), y)
	bh := 0.3 * h
	box := []vg.Point{{X: tx(q1), Y: y - bh}, {X: tx(q3), Y: y - bh}, {X: tx(q3), Y: y + bh}, {X: tx(q1), Y: y + bh}}
	c.FillPolygon(withAlpha(col, 0x30), box)
	c.StrokeLines(thin, append(box, box[0]))
	c.StrokeLine2(draw.LineStyle{Color: col, Width: 2.2}, tx(med), y-bh, tx(med), y+bh)
	glyph := s.glyph()
	for j, v := range s.values {
		// A fixed, evenly spread jitter (golden-ratio sequence), so
		// the figure is the same on every run.
		jit := math.Mod(float64(j+1)*0.6180339887498949, 1) - 0.5
		c.DrawGlyph(glyph, vg.Point{X: tx(v), Y: y + vg.Length(jit)*0.7*h})
	}
}

func (s strip) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = slices.Min(s.values), slices.Max(s.values)
	return xmin, xmax, s.row - 0.5, s.row + 0.5
}

func (s strip) glyph() draw.GlyphStyle {
	r := vg.Length(1.8)
	if s.muted {
		r = 1.4
	}
	return draw.GlyphStyle{Color: withAlpha(s.style.Color, 0xB0), Radius: r, Shape: draw.CircleGlyph{}}
}

// GlyphBoxes make the panel leave room for the dots of the extreme runs.
func (s strip) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	g := s.glyph()
	r := vg.Rectangle{Min: vg.Point{X: -g.Radius, Y: -g.Radius}, Max: vg.Point{X: g.Radius, Y: g.Radius}}
	return []plot.GlyphBox{
		{X: p.X.Norm(slices.Min(s.values)), Y: p.Y.Norm(s.row), Rectangle: r},
		{X: p.X.Norm(slices.Max(s.values)), Y: p.Y.Norm(s.row), Rectangle: r},
	}
}

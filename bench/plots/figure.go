package plots

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is a rendered-on-demand figure: Save writes it to a file, Encode
// returns its bytes, so one figure can go to disk and into an HTML page
// without being computed twice.
//
// In SVG, every series is a group <g class="series" data-series="NAME">
// and every legend entry a group <g class="legend-entry"
// data-series="NAME">, so a page can show or hide one method's curves and
// legend entry together.
type Figure struct {
	plot   *plot.Plot   // single-panel figures
	legend []legendItem // drawn in a column right of the data area
	// dist is a multi-panel figure (no legend), drawn instead of plot.
	dist *distFigure
	// names holds the tagged groups' series names by tag.
	names []groupName
}

type groupName struct {
	class, name string
}

// legendItem is one legend entry: the name, and how its thumbnail looks.
type legendItem struct {
	name  string
	style Style
	muted bool
	band  bool // a translucent band behind the line (convergence)
}

// Figure geometry: the legend column sits right of the data area,
// separated by legendGap, and its entries start level with the data
// area's top.
const (
	legendGap   = vg.Length(10)
	legendThumb = vg.Length(22)
	legendPad   = vg.Length(5) // between thumbnail and text, and at the right edge
)

func sans(size vg.Length) font.Font {
	return font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
}

// legendStyle is the text style of legend entries; muted entries are grey.
func legendStyle(muted bool) text.Style {
	var c color.Color = color.Black
	if muted {
		c = color.NRGBA{0x80, 0x80, 0x80, 0xFF}
	}
	return text.Style{Color: c, Font: sans(10), XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

// legendRow is the height of one legend entry.
func legendRow() vg.Length {
	e := legendStyle(false).FontExtents()
	return 1.35 * (e.Ascent + e.Descent)
}

// legendWidth is the width of the legend column, 0 without a legend.
func (f *Figure) legendWidth() vg.Length {
	if len(f.legend) == 0 {
		return 0
	}
	var w vg.Length
	sty := legendStyle(false)
	for _, it := range f.legend {
		w = max(w, sty.Width(it.name))
	}
	// 15% spare: a browser without Liberation Sans (the SVG names it)
	// sets the names in a wider face, which must not be cut off.
	return legendGap + legendThumb + legendPad + 1.15*w + legendPad
}

// layout returns, for a figure drawn on c, the canvas the plot is drawn
// on, its data area and the legend's box (empty without a legend). The
// legend box never overlaps the data area: it lies right of the plot's
// canvas.
func (f *Figure) layout(c draw.Canvas) (pc draw.Canvas, data, legend vg.Rectangle) {
	lw := f.legendWidth()
	pc = draw.Crop(c, 0, -lw, 0, 0)
	if f.plot != nil {
		data = f.fitted(pc).DataCanvas(pc).Rectangle
	} else {
		_, ds, _ := f.dist.layout(pc)
		data = ds[0] // the panels' union
		for _, r := range ds[1:] {
			data.Min.X, data.Min.Y = min(data.Min.X, r.Min.X), min(data.Min.Y, r.Min.Y)
			data.Max.X, data.Max.Y = max(data.Max.X, r.Max.X), max(data.Max.Y, r.Max.Y)
		}
	}
	if lw == 0 {
		return pc, data, vg.Rectangle{}
	}
	top := data.Max.Y
	h := legendRow() * vg.Length(len(f.legend))
	legend = vg.Rectangle{
		Min: vg.Point{X: pc.Max.X + legendGap, Y: top - h},
		Max: vg.Point{X: c.Max.X - legendPad, Y: top},
	}
	return pc, data, legend
}

// draw draws the whole figure on c.
func (f *Figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pc, _, legend := f.layout(c)
	if f.dist != nil {
		f.dist.draw(pc)
	} else {
		f.fitted(pc).Draw(pc)
	}
	row := legendRow()
	for i, it := range f.legend {
		y := legend.Max.Y - row*(vg.Length(i)+0.5)
		tag := f.tag("legend-entry", it.name)
		c.Push()
		c.Translate(tagOffset(tag))
		x0 := legend.Min.X
		if it.band && !it.muted {
			c.FillPolygon(withAlpha(it.style.Color, 0x40), []vg.Point{
				{X: x0, Y: y - row/3}, {X: x0 + legendThumb, Y: y - row/3},
				{X: x0 + legendThumb, Y: y + row/3}, {X: x0, Y: y + row/3},
			})
		}
		c.StrokeLine2(lineStyle(it.style, it.muted), x0, y, x0+legendThumb, y)
		c.FillText(legendStyle(it.muted), vg.Point{X: x0 + legendThumb + legendPad, Y: y}, it.name)
		c.Pop()
	}
}

// lineStyle is the line of a series: thicker for the methods in colour.
func lineStyle(s Style, muted bool) draw.LineStyle {
	if muted {
		return draw.LineStyle{Color: s.Color, Width: 0.9}
	}
	return draw.LineStyle{Color: s.Color, Width: 1.8, Dashes: s.Dashes}
}

// tag registers a group of the SVG and returns its number.
func (f *Figure) tag(class, name string) int {
	for i, g := range f.names {
		if g == (groupName{class, name}) {
			return i
		}
	}
	f.names = append(f.names, groupName{class, name})
	return len(f.names) - 1
}

// tagOffset is the translation that marks group k in the SVG: too small
// to move anything (at most a few millionths of a point), and rewritten
// into the group's class and name by Encode.
func tagOffset(k int) vg.Point { return vg.Point{X: vg.Length(k+1) * 1e-7} }

// tagOpen is how vgsvg writes the start of tagged group k.
func tagOpen(k int) string {
	return fmt.Sprintf("<g transform=\"translate(%.*g, %.*g)\">", 5, tagOffset(k).X.Points(), 5, 0.0)
}

// tagged draws its plotters inside the tagged group of one series.
type tagged struct {
	tag int
	ps  []plot.Plotter
}

func (t tagged) Plot(c draw.Canvas, p *plot.Plot) {
	c.Push()
	c.Translate(tagOffset(t.tag))
	for _, q := range t.ps {
		q.Plot(c, p)
	}
	c.Pop()
}

func (t tagged) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, q := range t.ps {
		if r, ok := q.(plot.DataRanger); ok {
			a, b, c, d := r.DataRange()
			xmin, xmax, ymin, ymax = min(xmin, a), max(xmax, b), min(ymin, c), max(ymax, d)
		}
	}
	return
}

func (t tagged) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	var out []plot.GlyphBox
	for _, q := range t.ps {
		if g, ok := q.(plot.GlyphBoxer); ok {
			out = append(out, g.GlyphBoxes(p)...)
		}
	}
	return out
}

// addSeries adds one series' plotters to the figure's plot in its group.
func (f *Figure) addSeries(name string, ps ...plot.Plotter) {
	f.plot.Add(tagged{tag: f.tag("series", name), ps: ps})
}

// Encode renders the figure as "svg" or "png" (Width × Height; PNG at 96
// DPI). gonum/plot reports some problems by panicking; a panic is turned
// into an error.
func (f *Figure) Encode(format string) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plots: rendering failed: %v", r)
		}
	}()
	var buf bytes.Buffer
	switch format {
	case "svg":
		c := vgsvg.New(Width, Height)
		f.draw(draw.New(c))
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("plots: %w", err)
		}
		return f.nameGroups(buf.Bytes())
	case "png":
		c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(96))}
		f.draw(draw.New(c))
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("plots: %w", err)
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("plots: unknown format %q (want svg or png)", format)
}

// nameGroups rewrites the tagged groups of an SVG into named ones.
func (f *Figure) nameGroups(svg []byte) ([]byte, error) {
	s := string(svg)
	for k, g := range f.names {
		open := tagOpen(k)
		n := strings.Count(s, open)
		if n == 0 {
			return nil, fmt.Errorf("plots: the SVG lost the group of %s %q", g.class, g.name)
		}
		s = strings.ReplaceAll(s, open, fmt.Sprintf("<g class=\"%s\" data-series=\"%s\">", g.class, html.EscapeString(g.name)))
	}
	return []byte(s), nil
}

// Save writes the figure to path, in the format its extension names
// (".svg" or ".png", case-insensitive), atomically.
func (f *Figure) Save(path string) error {
	fm, err := format(path)
	if err != nil {
		return err
	}
	data, err := f.Encode(fm)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// fitted is the figure's plot with its title fitted to the plot's canvas.
func (f *Figure) fitted(pc draw.Canvas) *plot.Plot {
	p := *f.plot
	p.Title.Text, p.Title.TextStyle = fitTitle(p.Title.Text, p.Title.TextStyle, pc.Max.X-pc.Min.X)
	return &p
}

// fitTitle fits a title into width: a title too long for one line is
// broken after its first ": " (cell names are long), and type that is
// still too wide shrinks, down to 8 points.
func fitTitle(title string, sty text.Style, width vg.Length) (string, text.Style) {
	if sty.Width(title) <= width {
		return title, sty
	}
	if i := strings.Index(title, ": "); i > 0 {
		title = title[:i+1] + "\n" + title[i+2:]
	}
	for sty.Width(title) > width && sty.Font.Size > 8 {
		sty.Font.Size -= 0.5
	}
	return title, sty
}

package plots

import (
	"image/color"

	"gonum.org/v1/plot/vg"
)

// Style is how one series is drawn: its colour and its dash pattern (nil:
// solid).
type Style struct {
	Color  color.Color
	Dashes []vg.Length
}

// okabeIto is the colour-blind-safe palette of Okabe and Ito (2008), "Color
// Universal Design", in the order series take it, without its yellow
// (#F0E442), which is too faint on white for a line.
var okabeIto = []color.Color{
	color.NRGBA{0x00, 0x72, 0xB2, 0xFF}, // blue
	color.NRGBA{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	color.NRGBA{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	color.NRGBA{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	color.NRGBA{0xE6, 0x9F, 0x00, 0xFF}, // orange
	color.NRGBA{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	color.NRGBA{0x00, 0x00, 0x00, 0xFF}, // black
}

// dashPatterns follow the palette once it is used up: the eighth series is
// the first colour dashed, the fifteenth the first colour dotted, and so
// on, so that no two of the first 28 series look alike.
var dashPatterns = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// StyleAt returns the i-th style (i >= 0) of the fixed sequence every
// figure draws from: the seven Okabe–Ito colours solid, then dashed, then
// dotted, then dash-dotted, then again. Callers that draw one algorithm in
// several figures give it the same index everywhere (its place in the
// algorithm registry), so it keeps one look across figures and pages.
func StyleAt(i int) Style {
	if i < 0 {
		i = 0
	}
	n := len(okabeIto)
	return Style{Color: okabeIto[i%n], Dashes: dashPatterns[(i/n)%len(dashPatterns)]}
}

// NumDistinctStyles is how many series StyleAt tells apart.
func NumDistinctStyles() int { return len(okabeIto) * len(dashPatterns) }

// mutedColor draws the series a figure shows only as context.
var mutedColor = color.NRGBA{0xB8, 0xB8, 0xB8, 0xFF}

// Look says how a series appears in a figure.
type Look struct {
	// Style is 1 + the series' index in the fixed style sequence
	// (StyleAt); the zero value draws the series by its position in the
	// figure, which only keeps colours stable within that figure.
	Style int
	// Muted draws the series thin and grey behind the others, and lists
	// it in grey: a figure of fourteen methods stays readable when only
	// the few that matter to the reader have colours.
	Muted bool
}

// style resolves a series' look at position i of its figure.
func (l Look) style(i int) Style {
	if l.Muted {
		return Style{Color: mutedColor}
	}
	if l.Style > 0 {
		return StyleAt(l.Style - 1)
	}
	return StyleAt(i)
}

package plots

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// svgItem is a drawn element of an SVG with the named group it lies in.
type svgItem struct {
	class, series string // of the innermost named group, "" outside any
	text          string // for <text>
	style         string
	pts           []vg.Point // path vertices (M and L), or the text's anchor
}

var pathNum = regexp.MustCompile(`([ML])(-?[0-9.e+-]+),(-?[0-9.e+-]+)`)

// items parses an SVG written by Figure.Encode into its paths and texts in
// gonum's coordinates (points, origin bottom left: vgsvg flips the page
// once at the top, and every text back).
func items(t *testing.T, svg []byte) []svgItem {
	t.Helper()
	type group struct{ class, series string }
	stack := []group{{}}
	var out []svgItem
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var cur *svgItem
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			switch tok.Name.Local {
			case "g":
				if attr["class"] != "" {
					top = group{attr["class"], attr["data-series"]}
				}
				stack = append(stack, top)
			case "path":
				it := svgItem{class: top.class, series: top.series, style: attr["style"]}
				for _, m := range pathNum.FindAllStringSubmatch(attr["d"], -1) {
					x, _ := strconv.ParseFloat(m[2], 64)
					y, _ := strconv.ParseFloat(m[3], 64)
					it.pts = append(it.pts, vg.Point{X: vg.Length(x), Y: vg.Length(y)})
				}
				out = append(out, it)
			case "text":
				x, _ := strconv.ParseFloat(attr["x"], 64)
				y, _ := strconv.ParseFloat(attr["y"], 64)
				out = append(out, svgItem{class: top.class, series: top.series, style: attr["style"], pts: []vg.Point{{X: vg.Length(x), Y: vg.Length(-y)}}})
				cur = &out[len(out)-1]
			}
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "g":
				stack = stack[:len(stack)-1]
			case "text":
				cur.text = strings.TrimSpace(cur.text)
				cur = nil
			}
		}
	}
	return out
}

const slack = 0.01 // points: rounding of the SVG's 5 significant digits

func inside(p vg.Point, r vg.Rectangle) bool {
	return p.X >= r.Min.X-slack && p.X <= r.Max.X+slack && p.Y >= r.Min.Y-slack && p.Y <= r.Max.Y+slack
}

func overlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// figureLayout is the layout the figure is drawn with on a page of the
// figure size.
func figureLayout(f *Figure) (data, legend vg.Rectangle) {
	c := draw.New(vgsvg.New(Width, Height))
	_, data, legend = f.layout(c)
	return data, legend
}

// checkLegendClear checks a figure with a legend: the legend box and the
// data area, as computed, do not overlap; every curve drawn lies in the
// data area and every legend entry (thumbnail and text) in the legend box;
// every series has one curve group and one legend entry with its name.
func checkLegendClear(t *testing.T, f *Figure, names []string) []svgItem {
	t.Helper()
	data, legend := figureLayout(f)
	if overlap(data, legend) {
		t.Fatalf("legend box %v overlaps the data area %v", legend, data)
	}
	if legend.Min.X < data.Max.X {
		t.Errorf("legend box %v is not right of the data area %v", legend, data)
	}
	svg, err := f.Encode("svg")
	if err != nil {
		t.Fatal(err)
	}
	its := items(t, svg)
	seen := map[string]map[string]int{"series": {}, "legend-entry": {}}
	texts := map[string]int{}
	for _, it := range its {
		switch it.class {
		case "series":
			seen["series"][it.series]++
			for _, p := range it.pts {
				if !inside(p, data) {
					t.Fatalf("%s: a curve point %v lies outside the data area %v", it.series, p, data)
				}
			}
		case "legend-entry":
			seen["legend-entry"][it.series]++
			for _, p := range it.pts {
				if !inside(p, legend) {
					t.Fatalf("legend entry %s: point %v lies outside the legend box %v", it.series, p, legend)
				}
			}
			if it.text != "" {
				texts[it.text]++
				if it.text != it.series {
					t.Errorf("legend entry of %s reads %q", it.series, it.text)
				}
			}
		}
	}
	for _, n := range names {
		if seen["series"][n] == 0 || seen["legend-entry"][n] == 0 || texts[n] != 1 {
			t.Errorf("%s: %d curve paths, %d legend paths, named %d times in the legend", n, seen["series"][n], seen["legend-entry"][n], texts[n])
		}
	}
	if len(seen["series"]) != len(names) || len(seen["legend-entry"]) != len(names) {
		t.Errorf("%d curve groups and %d legend entries for %d series", len(seen["series"]), len(seen["legend-entry"]), len(names))
	}
	png1, err := f.Encode("png")
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(png1)); err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	} else if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("PNG %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	return its
}

// fourteen is a comparison the size of the full registry, five of them
// highlighted, so the legend is as long as the real pages'.
func fourteen(t *testing.T) ([]Series, []ECDFSeries, []string) {
	var conv []Series
	var ecdf []ECDFSeries
	var names []string
	for i := range 14 {
		name := fmt.Sprintf("method-%02d", i)
		names = append(names, name)
		look := Look{Style: 1 + (i*5)%14, Muted: i >= 5}
		s, err := SeriesFromTraces(name, traces(i), []int{1, 2, 5, 10, 20, 50, 100, 200, 300})
		if err != nil {
			t.Fatal(err)
		}
		s.Look = look
		conv = append(conv, s)
		e, err := ECDFFromTraces(name, traces(i), []float64{50, 80, 90, 95, 98, 99})
		if err != nil {
			t.Fatal(err)
		}
		e.Look = look
		ecdf = append(ecdf, e)
	}
	return conv, ecdf, names
}

func TestLegendClearOfData(t *testing.T) {
	conv, ecdf, names := fourteen(t)
	f, err := NewConvergence("fourteen methods", conv, LogX())
	if err != nil {
		t.Fatal(err)
	}
	its := checkLegendClear(t, f, names)
	// Legend entries by final median, highest first.
	var order []string
	for _, it := range its {
		if it.class == "legend-entry" && it.text != "" {
			order = append(order, it.text)
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := finalOf(conv, order[i-1]), finalOf(conv, order[i])
		if a < b {
			t.Errorf("legend lists %s (final %g) before %s (final %g)", order[i-1], a, order[i], b)
		}
	}
	g, err := NewECDF("fourteen methods", ecdf)
	if err != nil {
		t.Fatal(err)
	}
	checkLegendClear(t, g, names)
}

func finalOf(ss []Series, name string) float64 {
	for _, s := range ss {
		if s.Name == name {
			return s.Median[len(s.Median)-1]
		}
	}
	return -1
}

// A highlighted series is drawn in its fixed colour wherever it appears,
// a muted one only in grey.
func TestFixedColoursAndMuted(t *testing.T) {
	conv, _, _ := fourteen(t)
	f, err := NewConvergence("", conv)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := f.Encode("svg")
	if err != nil {
		t.Fatal(err)
	}
	its := items(t, svg)
	for _, s := range conv {
		want := mutedColor
		if !s.Look.Muted {
			want = StyleAt(s.Look.Style - 1).Color.(color.NRGBA)
		}
		hex := fmt.Sprintf("stroke:#%02X%02X%02X", want.R, want.G, want.B)
		for _, it := range its {
			if it.series == s.Name && strings.Contains(it.style, "stroke:#") && !strings.Contains(it.style, hex) {
				t.Errorf("%s (muted %v): stroke %q, want %s", s.Name, s.Look.Muted, it.style, hex)
			}
		}
	}
}

func TestStylesDistinct(t *testing.T) {
	seen := map[string]int{}
	for i := range NumDistinctStyles() {
		s := StyleAt(i)
		k := fmt.Sprint(s.Color, s.Dashes)
		if j, dup := seen[k]; dup {
			t.Errorf("styles %d and %d look alike", j, i)
		}
		seen[k] = i
	}
	if NumDistinctStyles() < 14 {
		t.Errorf("%d styles for a registry of 14 methods", NumDistinctStyles())
	}
	for i, c := range okabeIto {
		if c == mutedColor {
			t.Errorf("palette colour %d is the muted grey", i)
		}
	}
}

func TestDistributions(t *testing.T) {
	var ds []Dist
	var names []string
	for i := range 14 {
		name := fmt.Sprintf("method-%02d", i)
		names = append(names, name)
		var vals [][]float64
		for _, at := range []int{20, 50, 100, 200} {
			var v []float64
			for _, tr := range traces(i) {
				v = append(v, tr[at-1])
			}
			vals = append(vals, v)
		}
		ds = append(ds, Dist{Name: name, Values: vals, Look: Look{Style: i + 1, Muted: i >= 4}})
	}
	ds[3].Values[0] = nil // a method with no score yet at the first checkpoint
	panels := []string{"10%", "25%", "50%", "100%"}
	f, err := NewDistributions("fixed budgets", "best true score", panels, ds)
	if err != nil {
		t.Fatal(err)
	}
	pc, data, _ := f.dist.layout(draw.New(vgsvg.New(Width, Height)))
	if len(pc) != len(panels) {
		t.Fatalf("%d panels", len(pc))
	}
	for i := 1; i < len(data); i++ {
		if overlap(data[i-1], data[i]) {
			t.Errorf("panels %d and %d overlap", i-1, i)
		}
		if data[i].Min.Y != data[0].Min.Y || data[i].Max.Y != data[0].Max.Y {
			t.Errorf("panel %d's rows are not level with panel 0's", i)
		}
	}
	svg, err := f.Encode("svg")
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	for _, it := range items(t, svg) {
		if it.class != "series" {
			if it.text != "" && strings.HasPrefix(it.text, "method-") && it.pts[0].X >= data[0].Min.X {
				t.Errorf("name %s at %v is not left of the data areas (from %v)", it.text, it.pts[0], data[0].Min.X)
			}
			continue
		}
		groups[it.series]++
		in := false
		for _, d := range data {
			// A dot's path starts on its circle: one radius beyond
			// its centre, which lies in the data area.
			r := vg.Length(1.8)
			d.Min.X, d.Min.Y, d.Max.X, d.Max.Y = d.Min.X-r, d.Min.Y-r, d.Max.X+r, d.Max.Y+r
			in = in || inside(it.pts[0], d)
		}
		if !in {
			t.Errorf("%s: drawn at %v, outside every panel %v", it.series, it.pts[0], data)
		}
	}
	for _, n := range names {
		if groups[n] == 0 {
			t.Errorf("%s is not drawn", n)
		}
	}
	if _, err := f.Encode("png"); err != nil {
		t.Fatal(err)
	}
	bad := []Dist{{Name: "a", Values: [][]float64{{1}}}}
	if _, err := NewDistributions("", "", panels, bad); err == nil {
		t.Error("fewer panels of values than panels: no error")
	}
	if _, err := NewDistributions("", "", []string{"x"}, []Dist{{Name: "a", Values: [][]float64{{inf}}}}); err == nil {
		t.Error("an infinite value: no error")
	}
}

// A long title (a cell's full key) stays on the figure: broken after its
// first colon and, if need be, set smaller.
func TestLongTitleFits(t *testing.T) {
	conv, _, names := fourteen(t)
	title := "mnist-merge/ties/densities/rot90/zoo1/dim=18/budget=100/target=80/slots=8/eval-time=lognormal: held-out score of the recommended point, every seed"
	f, err := NewConvergence(title, conv)
	if err != nil {
		t.Fatal(err)
	}
	its := checkLegendClear(t, f, names)
	lines := 0
	for _, it := range its {
		if it.class == "" && strings.HasPrefix(title, strings.Split(it.text, "\n")[0]) && len(it.text) > 20 {
			lines++
			if it.pts[0].X < 0 {
				t.Errorf("title line %q starts left of the figure at %v", it.text, it.pts[0].X)
			}
		}
	}
	if lines == 0 {
		t.Error("title not drawn")
	}
	txt, sty := fitTitle(title, legendStyle(false), Width)
	for _, l := range strings.Split(txt, "\n") {
		if w := sty.Width(l); w > Width {
			t.Errorf("title line %q is %v wide on a %v figure", l, w, Width)
		}
	}
}

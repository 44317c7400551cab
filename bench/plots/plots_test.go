package plots

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var inf = math.Inf(1)

// wantPixels is Width × Height at vgimg's default 96 DPI.
const wantW, wantH = 768, 432

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("%s: %dx%d, want %dx%d", path, b.Dx(), b.Dy(), wantW, wantH)
	}
	colours := map[color.Color]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			colours[img.At(x, y)] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("%s: image is (nearly) uniform: %d colours", path, len(colours))
	}
}

// svgDoc is what the tests need from a gonum/plot SVG.
type svgDoc struct {
	texts  []string
	styles []string // style attribute of every <path>
}

func parseSVG(t *testing.T, path string) svgDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	dec := xml.NewDecoder(bytes.NewReader(data))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: invalid XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "text":
				inText = true
				doc.texts = append(doc.texts, "")
			case "path":
				for _, a := range tok.Attr {
					if a.Name.Local == "style" {
						doc.styles = append(doc.styles, a.Value)
					}
				}
			}
		case xml.CharData:
			if inText {
				doc.texts[len(doc.texts)-1] += string(tok)
			}
		case xml.EndElement:
			if tok.Name.Local == "text" {
				inText = false
			}
		}
	}
	return doc
}

func (d svgDoc) countText(s string) int {
	n := 0
	for _, t := range d.texts {
		if strings.TrimSpace(t) == s {
			n++
		}
	}
	return n
}

// countPaint counts paths whose prop ("stroke" or "fill") is within ±2 per
// channel of c (vgsvg rounds translucent colours through alpha).
func (d svgDoc) countPaint(prop string, c color.Color) int {
	r, g, b, _ := c.RGBA()
	want := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	n := 0
	for _, st := range d.styles {
		for _, decl := range strings.Split(st, ";") {
			k, v, ok := strings.Cut(decl, ":")
			if !ok || k != prop || len(v) != 7 || v[0] != '#' {
				continue
			}
			match := true
			for i := range 3 {
				x, _ := strconv.ParseUint(v[1+2*i:3+2*i], 16, 8)
				if d := int(x) - want[i]; d < -2 || d > 2 {
					match = false
				}
			}
			if match {
				n++
			}
		}
	}
	return n
}

// dirNames lists dir, so tests can assert no temporary file is left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func traces(seed int) [][]float64 {
	var ts [][]float64
	for r := range 5 {
		var tr []float64
		for i := range 200 + 20*r {
			tr = append(tr, 100*(1-math.Exp(-float64(i+1)/float64(30+10*seed+5*r))))
		}
		ts = append(ts, tr)
	}
	return ts
}

func TestConvergence(t *testing.T) {
	dir := t.TempDir()
	names := []string{"CMA-ES", "random search", "DE"}
	var series []Series
	for i, n := range names {
		s, err := SeriesFromTraces(n, traces(i), []int{1, 2, 5, 10, 20, 50, 100, 200, 300})
		if err != nil {
			t.Fatal(err)
		}
		series = append(series, s)
	}
	for _, ext := range []string{".png", ".SVG"} {
		path := filepath.Join(dir, "conv"+ext)
		if err := Convergence(path, "merge n=4", series, LogX()); err != nil {
			t.Fatal(err)
		}
		if ext == ".png" {
			checkPNG(t, path)
			continue
		}
		doc := parseSVG(t, path)
		if doc.countText("merge n=4") != 1 {
			t.Errorf("title missing from %v", doc.texts)
		}
		for i, n := range names {
			if got := doc.countText(n); got != 1 {
				t.Errorf("legend entry %q appears %d times", n, got)
			}
			// Median line + legend thumbnail; band + legend thumbnail.
			if got := doc.countPaint("stroke", StyleAt(i).Color); got != 2 {
				t.Errorf("%s: %d stroked paths in its colour, want 2", n, got)
			}
			if got := doc.countPaint("fill", StyleAt(i).Color); got != 2 {
				t.Errorf("%s: %d filled paths in its colour, want 2", n, got)
			}
		}
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"conv.SVG", "conv.png"}) {
		t.Errorf("directory holds %v", got)
	}
}

func TestSeriesFromTraces(t *testing.T) {
	// Running maxima: [1 3 3], [2 2 5 6], [0 4]; short runs keep their best.
	s, err := SeriesFromTraces("a", [][]float64{{1, 3, 2}, {2, 2, 5, 6}, {0, 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Series{
		Name:   "a",
		X:      []float64{1, 2, 3, 4},
		Q1:     []float64{0.5, 2.5, 3.5, 3.5},
		Median: []float64{1, 3, 4, 4},
		Q3:     []float64{1.5, 3.5, 4.5, 5},
	}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	for _, c := range []struct {
		tr [][]float64
		at []int
	}{
		{nil, nil},
		{[][]float64{{}}, nil},
		{[][]float64{{1, math.NaN()}}, nil},
		{[][]float64{{1, inf}}, nil},
		{[][]float64{{1, 2}}, []int{}},
		{[][]float64{{1, 2}}, []int{0, 1}},
		{[][]float64{{1, 2}}, []int{2, 2}},
	} {
		if _, err := SeriesFromTraces("x", c.tr, c.at); err == nil {
			t.Errorf("SeriesFromTraces(%v, %v): no error", c.tr, c.at)
		}
	}
}

func TestECDF(t *testing.T) {
	dir := t.TempDir()
	targets := []float64{90, 95, 98, 99}
	var series []ECDFSeries
	for i, n := range []string{"CMA-ES", "random search"} {
		s, err := ECDFFromTraces(n, traces(3*i), targets)
		if err != nil {
			t.Fatal(err)
		}
		series = append(series, s)
	}
	// A series that never solves anything still draws (a flat line at 0).
	series = append(series, ECDFSeries{Name: "stuck", Runtimes: []float64{inf, inf}})
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, "ecdf"+ext)
		if err := ECDF(path, "runtime ECDF", series); err != nil {
			t.Fatal(err)
		}
		if ext == ".png" {
			checkPNG(t, path)
			continue
		}
		doc := parseSVG(t, path)
		for i, s := range series {
			if doc.countText(s.Name) != 1 {
				t.Errorf("legend entry %q missing", s.Name)
			}
			if got := doc.countPaint("stroke", StyleAt(i).Color); got != 2 {
				t.Errorf("%s: %d stroked paths, want 2 (curve, legend)", s.Name, got)
			}
		}
	}
	// Nothing solved anywhere: still a valid figure.
	if err := ECDF(filepath.Join(dir, "none.svg"), "", []ECDFSeries{{Name: "a", Runtimes: []float64{inf}}}); err != nil {
		t.Error(err)
	}
}

func TestECDFFromTracesAndSteps(t *testing.T) {
	s, err := ECDFFromTraces("a", [][]float64{{10, 50, 90, 99}, {95, 96, 97, 97}}, []float64{90, 99})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{3, 4, 1, inf}; !slices.Equal(s.Runtimes, want) {
		t.Errorf("runtimes %v, want %v", s.Runtimes, want)
	}
	got := ecdfSteps(s.Runtimes, 1, 10)
	want := "[{1 0} {1 0} {1 0.25} {3 0.25} {3 0.5} {4 0.5} {4 0.75} {10 0.75}]"
	if fmt.Sprint(got) != want {
		t.Errorf("steps %v, want %s", got, want)
	}
	if _, err := ECDFFromTraces("a", nil, []float64{1}); err == nil {
		t.Error("no runs: no error")
	}
	if _, err := ECDFFromTraces("a", [][]float64{{1}}, nil); err == nil {
		t.Error("no targets: no error")
	}
	if _, err := ECDFFromTraces("a", [][]float64{{math.NaN()}}, []float64{1}); err == nil {
		t.Error("NaN score: no error")
	}
}

func TestTune(t *testing.T) {
	dir := t.TempDir()
	pts := []TunePoint{{0.3, 97, 95, 98}, {0.1, 90, 85, 93}, {0.2, 96, 94, 97.5}}
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, "tune"+ext)
		if err := Tune(path, "sigma0 sweep", "sigma0", pts...); err != nil {
			t.Fatal(err)
		}
		if ext == ".png" {
			checkPNG(t, path)
			continue
		}
		doc := parseSVG(t, path)
		if doc.countText("sigma0") != 1 || doc.countText("sigma0 sweep") != 1 {
			t.Errorf("labels missing from %v", doc.texts)
		}
		// One line plus, per point, an error bar and two caps.
		if got := doc.countPaint("stroke", StyleAt(0).Color); got < 1+3*len(pts) {
			t.Errorf("%d stroked paths in the series colour, want >= %d", got, 1+3*len(pts))
		}
	}
}

func TestManySeriesCycleColours(t *testing.T) {
	var series []Series
	for i := range NumDistinctStyles() + 3 {
		series = append(series, Series{Name: fmt.Sprint("s", i), X: []float64{1, 2}, Median: []float64{float64(i), float64(i + 1)}, Q1: []float64{float64(i), float64(i)}, Q3: []float64{float64(i + 1), float64(i + 2)}})
	}
	if err := Convergence(filepath.Join(t.TempDir(), "many.svg"), "", series); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsLeaveNoFile(t *testing.T) {
	good := Series{Name: "a", X: []float64{1, 2}, Median: []float64{1, 2}, Q1: []float64{0, 1}, Q3: []float64{2, 3}}
	mod := func(f func(*Series)) []Series {
		s := good
		s.X, s.Median, s.Q1, s.Q3 = slices.Clone(s.X), slices.Clone(s.Median), slices.Clone(s.Q1), slices.Clone(s.Q3)
		f(&s)
		return []Series{s}
	}
	ecdf := []ECDFSeries{{Name: "a", Runtimes: []float64{1, 5, inf}}}
	cases := []struct {
		name string
		file string
		call func(path string) error
	}{
		{"unknown extension", "f.pdf", func(p string) error { return Convergence(p, "", []Series{good}) }},
		{"no extension", "f", func(p string) error { return ECDF(p, "", ecdf) }},
		{"tune unknown extension", "f.jpg", func(p string) error { return Tune(p, "", "x", TunePoint{1, 1, 1, 1}) }},
		{"no series", "f.png", func(p string) error { return Convergence(p, "", nil) }},
		{"empty series", "f.png", func(p string) error { return Convergence(p, "", []Series{{Name: "a"}}) }},
		{"mismatched lengths", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.Q3 = s.Q3[:1] }))
		}},
		{"NaN median", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.Median[1] = math.NaN() }))
		}},
		{"X not increasing", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.X[1] = 1 }))
		}},
		{"X zero on log axis", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.X[0] = 0 }), LogX())
		}},
		{"median outside band", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.Median[0] = 5 }))
		}},
		{"duplicate names", "f.svg", func(p string) error { return Convergence(p, "", []Series{good, good}) }},
		{"unnamed series", "f.svg", func(p string) error {
			return Convergence(p, "", mod(func(s *Series) { s.Name = "" }))
		}},
		{"ECDF no series", "f.png", func(p string) error { return ECDF(p, "", nil) }},
		{"ECDF empty series", "f.png", func(p string) error { return ECDF(p, "", []ECDFSeries{{Name: "a"}}) }},
		{"ECDF zero runtime", "f.png", func(p string) error {
			return ECDF(p, "", []ECDFSeries{{Name: "a", Runtimes: []float64{0, 3}}})
		}},
		{"ECDF NaN runtime", "f.png", func(p string) error {
			return ECDF(p, "", []ECDFSeries{{Name: "a", Runtimes: []float64{math.NaN()}}})
		}},
		{"tune no points", "f.png", func(p string) error { return Tune(p, "", "x") }},
		{"tune bar excludes centre", "f.png", func(p string) error { return Tune(p, "", "x", TunePoint{1, 5, 6, 7}) }},
		{"tune duplicate X", "f.png", func(p string) error {
			return Tune(p, "", "x", TunePoint{1, 1, 1, 1}, TunePoint{1, 2, 2, 2})
		}},
		{"tune infinite", "f.png", func(p string) error { return Tune(p, "", "x", TunePoint{1, inf, 1, inf}) }},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := c.call(filepath.Join(dir, c.file)); err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "plots: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("%s: left %v behind", c.name, names)
		}
	}
	// A missing directory is an error, not a panic.
	if err := Convergence(filepath.Join(t.TempDir(), "no", "such", "f.png"), "", []Series{good}); err == nil {
		t.Error("missing directory: no error")
	}
}

// A failed call must not disturb an existing figure; a successful one
// replaces it whole.
func TestReplaceAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.png")
	good := []ECDFSeries{{Name: "a", Runtimes: []float64{1, 5, inf}}}
	if err := ECDF(path, "first", good); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := ECDF(path, "bad", []ECDFSeries{{Name: "a", Runtimes: []float64{-1}}}); err == nil {
		t.Fatal("no error")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("failed call changed the existing file")
	}
	if err := ECDF(path, "second, with a longer title", good); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)
	if after, _ := os.ReadFile(path); bytes.Equal(before, after) {
		t.Error("successful call did not replace the file")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"f.png"}) {
		t.Errorf("directory holds %v", names)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

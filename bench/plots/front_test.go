package plots

import (
	"math"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// TestFront draws two fronts over a true front with a floor, as PNG and
// SVG, each series in its fixed style, and refuses bad input.
func TestFront(t *testing.T) {
	dir := t.TempDir()
	series := []FrontSeries{
		{Name: "nsga2", Points: [][2]float64{{90, 40}, {70, 60}, {50, 80}}, Look: Look{Style: 1}},
		{Name: "motpe", Points: [][2]float64{{95, 45}, {60, 75}}, Look: Look{Style: 3}},
	}
	o := FrontOptions{Truth: [][2]float64{{100, 50}, {75, 75}, {50, 100}}, XFloor: 55, YFloor: math.NaN()}
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, "front"+ext)
		if err := Front(path, "fronts", "retention", "math", series, o); err != nil {
			t.Fatal(err)
		}
		if ext == ".png" {
			checkPNG(t, path)
			continue
		}
		doc := parseSVG(t, path)
		if doc.countText("retention") != 1 || doc.countText("nsga2") != 1 || doc.countText("motpe") != 1 {
			t.Errorf("labels missing from %v", doc.texts)
		}
		if doc.countPaint("stroke", StyleAt(2).Color) < 1 || doc.countPaint("stroke", StyleAt(0).Color) < 1 {
			t.Error("a series is not drawn in its fixed colour")
		}
	}
	bad := []FrontSeries{{Name: "a", Points: [][2]float64{{math.NaN(), 1}}}}
	if err := Front(filepath.Join(dir, "bad.png"), "", "x", "y", bad, FrontOptions{}); err == nil {
		t.Error("a non-finite point was accepted")
	}
	dup := []FrontSeries{{Name: "a"}, {Name: "a"}}
	if err := Front(filepath.Join(dir, "dup.png"), "", "x", "y", dup, FrontOptions{}); err == nil {
		t.Error("two series of one name were accepted")
	}
}

// TestStair checks the attainment boundary: dominated points drop out and
// the steps go down at each remaining point.
func TestStair(t *testing.T) {
	got := stairOf([][2]float64{{1, 5}, {2, 3}, {2.5, 1}, {3, 2}})
	want := plotter.XYs{{X: 1, Y: 5}, {X: 1, Y: 3}, {X: 2, Y: 3}, {X: 2, Y: 2}, {X: 3, Y: 2}}
	if len(got) != len(want) {
		t.Fatalf("stair %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stair %v, want %v", got, want)
		}
	}
}

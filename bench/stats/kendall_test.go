package stats

import (
	"math"
	"testing"
)

func TestKendallTauB(t *testing.T) {
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"identical order", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// 5 concordant, 1 discordant of 6 pairs, no ties.
		{"one swap", []float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 4.0 / 6},
		// x = (1,2,2,3), y = (1,2,3,4): pairs 6, tied in x 1, in y 0;
		// concordant 5, discordant 0: 5/√(5·6) (scipy.stats.kendalltau
		// gives 0.9128709291752769).
		{"a tie in x", []float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 5 / math.Sqrt(30)},
		// A pair tied in both samples counts in neither denominator term's
		// untied pairs: x = (1,1,2), y = (5,5,6): concordant 2, pairs 3,
		// tied 1 and 1: 2/√(2·2) = 1.
		{"a tie in both", []float64{1, 1, 2}, []float64{5, 5, 6}, 1},
	} {
		if got := KendallTauB(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: τ-b = %v, want %v", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		x, y []float64
	}{
		{"constant", []float64{1, 1, 1}, []float64{1, 2, 3}},
		{"lengths differ", []float64{1, 2}, []float64{1, 2, 3}},
		{"one pair", []float64{1}, []float64{1}},
		{"NaN", []float64{1, math.NaN(), 3}, []float64{1, 2, 3}},
	} {
		if got := KendallTauB(c.x, c.y); !math.IsNaN(got) {
			t.Errorf("%s: τ-b = %v, want NaN", c.name, got)
		}
	}
}

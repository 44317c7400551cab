package stats

import "math"

// KendallTauB returns Kendall's τ-b between paired samples x and y: the
// concordant minus the discordant pairs over the geometric mean of the
// pairs untied in x and untied in y (Kendall 1945; scipy.stats.kendalltau's
// default). It is the agreement of two rankings that tolerates ties, such
// as two methods with the same median score.
//
// Written here rather than taken from gonum: stat.Kendall is τ-a and
// counts a pair tied in one sample as concordant or discordant by the sign
// bit of the zero difference, so tied medians would move the figure.
//
// The result is NaN when the lengths differ, fewer than two pairs are
// given, either sample is constant, or a value is NaN.
func KendallTauB(x, y []float64) float64 {
	n := len(x)
	if n != len(y) || n < 2 {
		return math.NaN()
	}
	var concordant, discordant, tiedX, tiedY, pairs float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx, dy := x[i]-x[j], y[i]-y[j]
			if math.IsNaN(dx) || math.IsNaN(dy) {
				return math.NaN()
			}
			pairs++
			switch {
			case dx == 0 && dy == 0:
				tiedX++
				tiedY++
			case dx == 0:
				tiedX++
			case dy == 0:
				tiedY++
			case (dx > 0) == (dy > 0):
				concordant++
			default:
				discordant++
			}
		}
	}
	den := math.Sqrt((pairs - tiedX) * (pairs - tiedY))
	if den == 0 {
		return math.NaN()
	}
	return (concordant - discordant) / den
}

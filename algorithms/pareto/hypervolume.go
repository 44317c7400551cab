package pareto

import (
	"math"
	"slices"
)

// Hypervolume is the volume of the region dominated by ps and bounded by
// the reference point ref (minimisation): the Lebesgue measure of the
// union of the boxes [p, ref] (E. Zitzler and L. Thiele, "Multiobjective
// optimization using evolutionary algorithms — a comparative case study",
// PPSN 1998). Points not strictly better than ref in every objective add
// nothing, so a reference point set at a floor counts only the points
// that keep it.
//
// It is exact in every dimension: two objectives by one sweep over the
// points sorted by the first objective (O(n log n)); more by slicing
// along the last objective (HSO, L. While, P. Hingston, L. Barone and S.
// Huband, "A faster algorithm for calculating hypervolume", IEEE Trans.
// Evol. Comput. 10(1), 2006): the points sorted by it, each slab between
// two consecutive values is the (m−1)-dimensional hypervolume of the
// points below it times its thickness, O(n² log n) in three objectives.
// Fronts of a few hundred points in 3–4 objectives take milliseconds.
func Hypervolume(ps [][]float64, ref []float64) float64 {
	var in [][]float64
	for _, p := range ps {
		inside := true
		for i := range ref {
			if !(p[i] < ref[i]) {
				inside = false
				break
			}
		}
		if inside {
			in = append(in, p)
		}
	}
	return hv(in, ref)
}

// hv is Hypervolume of points all strictly inside ref.
func hv(ps [][]float64, ref []float64) float64 {
	if len(ps) == 0 {
		return 0
	}
	m := len(ref)
	switch m {
	case 1:
		best := math.Inf(1)
		for _, p := range ps {
			best = min(best, p[0])
		}
		return ref[0] - best
	case 2:
		return hv2(ps, ref)
	}
	// Slice along the last objective.
	s := slices.Clone(ps)
	slices.SortFunc(s, func(a, b []float64) int {
		switch {
		case a[m-1] < b[m-1]:
			return -1
		case a[m-1] > b[m-1]:
			return 1
		}
		return 0
	})
	sub := make([][]float64, 0, len(s))
	vol := 0.0
	for i, p := range s {
		sub = append(sub, p[:m-1])
		next := ref[m-1]
		if i+1 < len(s) {
			next = s[i+1][m-1]
		}
		if next > p[m-1] {
			vol += hv(sub, ref[:m-1]) * (next - p[m-1])
		}
	}
	return vol
}

// hv2 is the two-objective hypervolume by a sweep.
func hv2(ps [][]float64, ref []float64) float64 {
	s := slices.Clone(ps)
	slices.SortFunc(s, func(a, b []float64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		case a[1] < b[1]:
			return -1
		case a[1] > b[1]:
			return 1
		}
		return 0
	})
	vol, y := 0.0, ref[1]
	for _, p := range s {
		if p[1] < y {
			vol += (ref[0] - p[0]) * (y - p[1])
			y = p[1]
		}
	}
	return vol
}

// Contributions returns each point's exclusive hypervolume contribution:
// the hypervolume of ps minus that of ps without it. A dominated point, or
// one duplicated, contributes 0.
func Contributions(ps [][]float64, ref []float64) []float64 {
	total := Hypervolume(ps, ref)
	out := make([]float64, len(ps))
	rest := make([][]float64, 0, len(ps))
	for i := range ps {
		rest = rest[:0]
		rest = append(rest, ps[:i]...)
		rest = append(rest, ps[i+1:]...)
		out[i] = max(0, total-Hypervolume(rest, ref))
	}
	return out
}

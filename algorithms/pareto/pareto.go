// Package pareto holds what multi-objective optimisation and its metrics
// share: Pareto domination with Deb's constraint handling, non-dominated
// sorting and crowding distance (NSGA-II), the exact hypervolume and each
// point's exclusive contribution to it, and IGD+.
//
// Every function minimises: a point is a vector of losses (a score to
// maximise enters negated). A constraint violation is a number ≥ 0, 0 for
// a feasible point.
package pareto

import (
	"math"
	"slices"
	"sort"
)

// Dominates reports whether a Pareto-dominates b: no worse in every
// objective and better in one.
func Dominates(a, b []float64) bool {
	better := false
	for i := range a {
		if a[i] > b[i] {
			return false
		}
		if a[i] < b[i] {
			better = true
		}
	}
	return better
}

// ConstrainedDominates is Deb's constrained domination (K. Deb, A. Pratap,
// S. Agarwal and T. Meyarivan, "A fast and elitist multiobjective genetic
// algorithm: NSGA-II", IEEE Trans. Evol. Comput. 6(2), 2002, section VI):
// a feasible point (violation 0) beats an infeasible one, of two
// infeasible points the one of smaller violation wins, and two feasible
// points compare by Pareto domination. No penalty weight is needed, and a
// feasible point is never traded for a better-scoring infeasible one.
func ConstrainedDominates(a, b []float64, va, vb float64) bool {
	switch {
	case va == 0 && vb > 0:
		return true
	case va > 0 && vb == 0:
		return false
	case va > 0 && vb > 0:
		return va < vb
	}
	return Dominates(a, b)
}

// Violation is the total violation of the limits (loss_i ≤ limits[i]) by
// f: Σ max(0, f_i − limits[i]). A nil limits, or +Inf entries, constrain
// nothing.
func Violation(f, limits []float64) float64 {
	v := 0.0
	for i, l := range limits {
		if d := f[i] - l; d > 0 {
			v += d
		}
	}
	return v
}

// Sort is the fast non-dominated sort of NSGA-II (Deb et al. 2002, section
// III-A) under constrained domination (viol nil: every point feasible): it
// returns the fronts, best first, each a list of indices into fs in
// increasing order.
func Sort(fs [][]float64, viol []float64) [][]int {
	n := len(fs)
	v := func(i int) float64 {
		if viol == nil {
			return 0
		}
		return viol[i]
	}
	dominated := make([][]int, n) // S_p: the points p dominates
	count := make([]int, n)       // n_p: how many dominate p
	for p := range n {
		for q := p + 1; q < n; q++ {
			switch {
			case ConstrainedDominates(fs[p], fs[q], v(p), v(q)):
				dominated[p] = append(dominated[p], q)
				count[q]++
			case ConstrainedDominates(fs[q], fs[p], v(q), v(p)):
				dominated[q] = append(dominated[q], p)
				count[p]++
			}
		}
	}
	var fronts [][]int
	var cur []int
	for p := range n {
		if count[p] == 0 {
			cur = append(cur, p)
		}
	}
	for len(cur) > 0 {
		fronts = append(fronts, cur)
		var next []int
		for _, p := range cur {
			for _, q := range dominated[p] {
				count[q]--
				if count[q] == 0 {
					next = append(next, q)
				}
			}
		}
		slices.Sort(next)
		cur = next
	}
	return fronts
}

// NonDominated returns the indices of the first front of fs (Sort's first),
// in increasing order; none for an empty fs.
func NonDominated(fs [][]float64, viol []float64) []int {
	if len(fs) == 0 {
		return nil
	}
	return Sort(fs, viol)[0]
}

// Crowding is NSGA-II's crowding distance of the points front (indices
// into fs), in front's order (Deb et al. 2002, section III-B): per
// objective, the boundary points get +Inf and the others the gap between
// their neighbours divided by the objective's range. Ties are broken by
// index, so the result does not depend on the sort's stability.
func Crowding(fs [][]float64, front []int) []float64 {
	d := make([]float64, len(front))
	if len(front) == 0 {
		return d
	}
	m := len(fs[front[0]])
	order := make([]int, len(front))
	for k := range m {
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool {
			fa, fb := fs[front[order[a]]][k], fs[front[order[b]]][k]
			if fa != fb {
				return fa < fb
			}
			return front[order[a]] < front[order[b]]
		})
		lo, hi := fs[front[order[0]]][k], fs[front[order[len(order)-1]]][k]
		d[order[0]], d[order[len(order)-1]] = math.Inf(1), math.Inf(1)
		if hi == lo {
			continue
		}
		for i := 1; i < len(order)-1; i++ {
			d[order[i]] += (fs[front[order[i+1]]][k] - fs[front[order[i-1]]][k]) / (hi - lo)
		}
	}
	return d
}

// IGDPlus is the inverted generational distance plus of the points found
// to the reference set ref, a sample of the true front (H. Ishibuchi, H.
// Masuda, Y. Tanigaki and Y. Nojima, "Modified distance calculation in
// generational distance and inverted generational distance", EMO 2015):
// the mean over z in ref of min over a in found of
// √Σ max(a_i − z_i, 0)², the distance from z to the part of the objective
// space a dominates. It is weakly Pareto-compliant, unlike IGD; 0 means
// the found set covers the true front. +Inf for an empty found set.
func IGDPlus(found, ref [][]float64) float64 {
	if len(found) == 0 {
		return math.Inf(1)
	}
	sum := 0.0
	for _, z := range ref {
		best := math.Inf(1)
		for _, a := range found {
			s := 0.0
			for i := range z {
				if d := a[i] - z[i]; d > 0 {
					s += d * d
				}
			}
			best = min(best, s)
		}
		sum += math.Sqrt(best)
	}
	return sum / float64(len(ref))
}

// FirstFronts returns the leading fronts of fs, as Sort does, only until
// they hold at least k points (all fronts if fewer points exist). Each
// front is peeled off the rest by an archive sweep that compares a point
// only with the front's members found so far, O(n·front size) per front
// instead of Sort's O(n²): model-based methods that need the best few of
// many observations (MOTPE's good group) call it at every proposal.
func FirstFronts(fs [][]float64, viol []float64, k int) [][]int {
	v := func(i int) float64 {
		if viol == nil {
			return 0
		}
		return viol[i]
	}
	rest := make([]int, len(fs))
	for i := range rest {
		rest[i] = i
	}
	var fronts [][]int
	total := 0
	for len(rest) > 0 && total < k {
		var front, left []int
		for _, p := range rest {
			dominated := false
			kept := front[:0]
			for _, q := range front {
				switch {
				case dominated:
					kept = append(kept, q)
				case ConstrainedDominates(fs[q], fs[p], v(q), v(p)):
					dominated = true
					kept = append(kept, q)
				case ConstrainedDominates(fs[p], fs[q], v(p), v(q)):
					left = append(left, q)
				default:
					kept = append(kept, q)
				}
			}
			front = kept
			if dominated {
				left = append(left, p)
			} else {
				front = append(front, p)
			}
		}
		slices.Sort(front)
		slices.Sort(left)
		fronts = append(fronts, front)
		total += len(front)
		rest = left
	}
	return fronts
}

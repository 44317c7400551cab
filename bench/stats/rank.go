package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	mstats "github.com/aclements/go-moremath/stats"
)

// exactTiesLimit is the largest sample (per side) for which MannWhitney
// computes the exact permutation p-value when there are ties; it matches
// go-moremath's MannWhitneyTiesExactLimit.
const exactTiesLimit = 25

// MannWhitney returns the two-sided p-value of the Mann–Whitney U
// (Wilcoxon rank-sum) test that samples a and b come from the same
// distribution. It is the test COCO and benchstat use for runtimes, because
// runtimes are far from normal and a rank test needs no assumption.
//
// Failed runs are +Inf: they rank after every finite runtime and tie with
// each other, as in COCO (IEEE +Inf == +Inf and sorts last, so no sentinel
// is needed; the tests check a sentinel gives the same p).
//
// How p is computed:
//   - no ties, at most 50 per side: go-moremath's exact U distribution;
//   - ties, at most 25 per side: the exact permutation distribution of the
//     midrank sum, two-sided as 2·min(P(R ≤ r), P(R ≥ r)) capped at 1 (the
//     convention of scipy's permutation_test). We do not use go-moremath
//     here: its exact tie path doubles the lower tail at the smaller U,
//     which assumes a symmetric distribution, and with ties (such as a
//     block of failed runs) the distribution is not symmetric; it then
//     disagrees with full enumeration (e.g. p = 0.6 instead of 1 for
//     {0, 2, +Inf} vs {0, 2}).
//   - otherwise: go-moremath's tie-corrected normal approximation with
//     continuity correction.
//
// If every value in both samples is equal (e.g. both algorithms failed every
// run) there is no evidence of a difference and p is 1. The error reports
// an empty sample or a NaN.
func MannWhitney(a, b []float64) (p float64, err error) {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN(), errors.New("stats: Mann-Whitney test needs two non-empty samples")
	}
	if slices.ContainsFunc(a, math.IsNaN) || slices.ContainsFunc(b, math.IsNaN) {
		return math.NaN(), errors.New("stats: Mann-Whitney test on a sample containing NaN")
	}
	groups, twoR1 := tieGroups(a, b)
	if len(groups) == 1 {
		return 1, nil // all values equal
	}
	if len(groups) < len(a)+len(b) && len(a) <= exactTiesLimit && len(b) <= exactTiesLimit {
		return exactTiesP(groups, len(a), twoR1), nil
	}
	res, err := mstats.MannWhitneyUTest(a, b, mstats.LocationDiffers)
	if errors.Is(err, mstats.ErrSamplesEqual) {
		return 1, nil
	}
	if err != nil {
		return math.NaN(), fmt.Errorf("stats: %w", err)
	}
	return min(res.P, 1), nil
}

// tieGroups sorts the pooled sample and returns the sizes of its runs of
// equal values, in ascending order of value, and twice the midrank sum of a.
func tieGroups(a, b []float64) (groups []int, twoR1 int) {
	type obs struct {
		v     float64
		fromA bool
	}
	pool := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		pool = append(pool, obs{v, true})
	}
	for _, v := range b {
		pool = append(pool, obs{v, false})
	}
	sort.Slice(pool, func(i, j int) bool { return pool[i].v < pool[j].v })
	for i := 0; i < len(pool); {
		j, inA := i, 0
		for ; j < len(pool) && pool[j].v == pool[i].v; j++ {
			if pool[j].fromA {
				inA++
			}
		}
		// Ranks i+1..j share the midrank (i+1+j)/2; doubled it is i+1+j.
		twoR1 += inA * (i + 1 + j)
		groups = append(groups, j-i)
		i = j
	}
	return groups, twoR1
}

// exactTiesP returns the two-sided exact permutation p-value of an observed
// doubled midrank sum twoR1 of a sample of size n1, given the tie groups of
// the pooled sample. It counts, by dynamic programming over the groups, the
// ways of choosing k of each group's t members for the first sample
// (C(t, k) ways, each adding k doubled midranks). Counts up to
// C(50, 25) ≈ 1.3e14 are exact in float64.
func exactTiesP(groups []int, n1, twoR1 int) float64 {
	n := 0
	for _, t := range groups {
		n += t
	}
	maxR := n * (n + 1) // bound on a doubled rank sum
	// ways[k][r]: number of choices of k items with doubled rank sum r.
	grid := func() [][]float64 {
		g := make([][]float64, n1+1)
		for k := range g {
			g[k] = make([]float64, maxR+1)
		}
		return g
	}
	ways, next := grid(), grid()
	ways[0][0] = 1
	start := 0
	for _, t := range groups {
		twoMid := 2*start + t + 1
		for _, row := range next {
			clear(row)
		}
		for k := 0; k <= n1; k++ {
			for r, w := range ways[k] {
				if w == 0 {
					continue
				}
				c := 1.0 // C(t, j)
				for j := 0; j <= t && k+j <= n1; j++ {
					next[k+j][r+j*twoMid] += w * c
					c = c * float64(t-j) / float64(j+1)
				}
			}
		}
		ways, next = next, ways
		start += t
	}
	var le, ge, total float64
	for r, w := range ways[n1] {
		total += w
		if r <= twoR1 {
			le += w
		}
		if r >= twoR1 {
			ge += w
		}
	}
	return min(1, 2*min(le, ge)/total)
}

// Holm returns Holm–Bonferroni adjusted p-values, in the order of ps.
// Comparing each adjusted value with alpha controls the family-wise error
// rate over all the comparisons (e.g. every pair of optimisers on every
// problem) while being uniformly more powerful than plain Bonferroni.
//
// With ps sorted ascending as p(1) <= ... <= p(m), the adjusted value is
// max over j <= i of min(1, (m-j+1)·p(j)). If any p is NaN or outside
// [0, 1] every adjusted value is NaN, because the step-down couples them.
func Holm(ps []float64) []float64 {
	m := len(ps)
	adj := make([]float64, m)
	for _, p := range ps {
		if !(p >= 0 && p <= 1) {
			for i := range adj {
				adj[i] = math.NaN()
			}
			return adj
		}
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return ps[order[i]] < ps[order[j]] })
	running := 0.0
	for rank, idx := range order {
		running = max(running, min(1, float64(m-rank)*ps[idx]))
		adj[idx] = running
	}
	return adj
}

package pareto

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// unionVolume is the brute-force hypervolume: the volume of the union of
// the boxes [p, ref] by inclusion–exclusion over every non-empty subset
// (the intersection of boxes is the box from their coordinate-wise
// maximum), exact and independent of any sweep or slicing.
func unionVolume(ps [][]float64, ref []float64) float64 {
	n, m := len(ps), len(ref)
	total := 0.0
	corner := make([]float64, m)
	for mask := 1; mask < 1<<n; mask++ {
		for i := range corner {
			corner[i] = math.Inf(-1)
		}
		bits := 0
		for j := range n {
			if mask&(1<<j) != 0 {
				bits++
				for i := range corner {
					corner[i] = max(corner[i], ps[j][i])
				}
			}
		}
		vol := 1.0
		for i := range corner {
			vol *= max(0, ref[i]-corner[i])
		}
		if bits%2 == 1 {
			total += vol
		} else {
			total -= vol
		}
	}
	return total
}

// TestHypervolumeBruteForce compares Hypervolume with inclusion–exclusion
// on random sets in 2, 3 and 4 objectives, with dominated points,
// duplicates, ties in a coordinate and points beyond the reference point.
func TestHypervolumeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for m := 2; m <= 4; m++ {
		for trial := range 300 {
			n := 1 + rng.IntN(11)
			ref := make([]float64, m)
			for i := range ref {
				ref[i] = 1 + rng.Float64()
			}
			var ps [][]float64
			for range n {
				p := make([]float64, m)
				for i := range p {
					// A coarse grid makes ties and duplicates common.
					p[i] = float64(rng.IntN(12)) / 8
				}
				ps = append(ps, p)
			}
			if trial%5 == 0 {
				ps = append(ps, slices.Clone(ps[0])) // a duplicate
			}
			want := unionVolume(ps, ref)
			got := Hypervolume(ps, ref)
			if math.Abs(got-want) > 1e-12*max(1, want) {
				t.Fatalf("m=%d trial %d: hypervolume %v, inclusion–exclusion %v, points %v, ref %v", m, trial, got, want, ps, ref)
			}
		}
	}
}

// TestHypervolumeKnown checks hand-computed values.
func TestHypervolumeKnown(t *testing.T) {
	// Two points in 2-D: [1,3]×[2,3] ∪ [2,3]×[1,3] = 2 + 2 − 1 = 3.
	if got := Hypervolume([][]float64{{1, 2}, {2, 1}}, []float64{3, 3}); got != 3 {
		t.Errorf("2-D: %v, want 3", got)
	}
	// The unit cube's corner point in 3-D.
	if got := Hypervolume([][]float64{{0, 0, 0}}, []float64{1, 1, 1}); got != 1 {
		t.Errorf("3-D corner: %v, want 1", got)
	}
	// Three axis points of the 3-D staircase: each box is 2×1×1 etc.
	// {0,1,1},{1,0,1},{1,1,0} with ref 2: union = 3·(2·1·1) − 3·1 + 1 = 4.
	if got := Hypervolume([][]float64{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}}, []float64{2, 2, 2}); got != 4 {
		t.Errorf("3-D staircase: %v, want 4", got)
	}
	// A point on the reference point's boundary adds nothing.
	if got := Hypervolume([][]float64{{3, 0}}, []float64{3, 3}); got != 0 {
		t.Errorf("boundary point: %v, want 0", got)
	}
	if got := Hypervolume(nil, []float64{1, 1}); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

// TestContributions checks exclusive contributions against the definition
// and that dominated and duplicated points contribute nothing.
func TestContributions(t *testing.T) {
	ps := [][]float64{{1, 2}, {2, 1}, {2, 2}, {1, 2}}
	c := Contributions(ps, []float64{3, 3})
	// {1,2} is duplicated: removing one copy loses nothing.
	want := []float64{0, 1, 0, 0}
	if !slices.Equal(c, want) {
		t.Errorf("contributions %v, want %v", c, want)
	}
	c = Contributions([][]float64{{1, 2}, {2, 1}}, []float64{3, 3})
	if !slices.Equal(c, []float64{1, 1}) {
		t.Errorf("contributions %v, want [1 1]", c)
	}
}

// TestSortAndCrowding checks the fronts and crowding distances of a small
// hand-made set, and that constrained domination ranks feasible points
// first and infeasible ones by their violation.
func TestSortAndCrowding(t *testing.T) {
	fs := [][]float64{{1, 4}, {2, 2}, {4, 1}, {3, 3}, {5, 5}, {2, 2}}
	fronts := Sort(fs, nil)
	want := [][]int{{0, 1, 2, 5}, {3}, {4}}
	if len(fronts) != len(want) {
		t.Fatalf("fronts %v, want %v", fronts, want)
	}
	for i := range want {
		if !slices.Equal(fronts[i], want[i]) {
			t.Fatalf("fronts %v, want %v", fronts, want)
		}
	}
	d := Crowding(fs, []int{0, 1, 2})
	// Objective 0: 1,2,4 range 3, middle gets (4−1)/3 = 1; objective 1: 4,2,1
	// range 3, middle (4−1)/3 = 1.
	if !math.IsInf(d[0], 1) || !math.IsInf(d[2], 1) || d[1] != 2 {
		t.Errorf("crowding %v, want [+Inf 2 +Inf]", d)
	}
	// Point 4 is feasible, every other one violates: it is the only front
	// member, then the rest by violation.
	viol := []float64{3, 1, 2, 0.5, 0, 1}
	fronts = Sort(fs, viol)
	want = [][]int{{4}, {3}, {1, 5}, {2}, {0}}
	for i := range want {
		if i >= len(fronts) || !slices.Equal(fronts[i], want[i]) {
			t.Fatalf("constrained fronts %v, want %v", fronts, want)
		}
	}
}

// TestSortAgainstDefinition checks on random sets that the first front is
// exactly the points no other point dominates, and that no point of a
// later front dominates one of an earlier front.
func TestSortAgainstDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		n, m := 1+rng.IntN(30), 2+rng.IntN(2)
		fs := make([][]float64, n)
		var viol []float64
		if trial%2 == 1 {
			viol = make([]float64, n)
		}
		for i := range fs {
			fs[i] = make([]float64, m)
			for k := range fs[i] {
				fs[i][k] = float64(rng.IntN(6))
			}
			if viol != nil && rng.IntN(3) == 0 {
				viol[i] = float64(1 + rng.IntN(3))
			}
		}
		v := func(i int) float64 {
			if viol == nil {
				return 0
			}
			return viol[i]
		}
		fronts := Sort(fs, viol)
		rank := make([]int, n)
		seen := 0
		for r, f := range fronts {
			for _, i := range f {
				rank[i] = r
				seen++
			}
		}
		if seen != n {
			t.Fatalf("trial %d: fronts hold %d of %d points", trial, seen, n)
		}
		for i := range n {
			free := true
			for j := range n {
				if ConstrainedDominates(fs[j], fs[i], v(j), v(i)) {
					free = false
					if rank[j] >= rank[i] {
						t.Fatalf("trial %d: %d dominates %d but ranks %d ≥ %d", trial, j, i, rank[j], rank[i])
					}
				}
			}
			if free != (rank[i] == 0) {
				t.Fatalf("trial %d: point %d non-dominated %v but rank %d", trial, i, free, rank[i])
			}
		}
	}
}

// TestIGDPlus checks hand-computed values: a found set that dominates the
// reference set is at distance 0, and one shifted by (1, 0) at distance 1.
func TestIGDPlus(t *testing.T) {
	ref := [][]float64{{0, 2}, {1, 1}, {2, 0}}
	if got := IGDPlus(ref, ref); got != 0 {
		t.Errorf("IGD+ of the front itself %v, want 0", got)
	}
	better := [][]float64{{-1, -1}}
	if got := IGDPlus(better, ref); got != 0 {
		t.Errorf("IGD+ of a dominating point %v, want 0", got)
	}
	shifted := [][]float64{{1, 2}, {2, 1}, {3, 0}}
	if got := IGDPlus(shifted, ref); math.Abs(got-1) > 1e-12 {
		t.Errorf("IGD+ shifted %v, want 1", got)
	}
	if got := IGDPlus(nil, ref); !math.IsInf(got, 1) {
		t.Errorf("IGD+ of nothing %v, want +Inf", got)
	}
}

func BenchmarkHypervolume3D(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ps := make([][]float64, 200)
	for i := range ps {
		// Points on the sphere octant: all non-dominated.
		x, y, z := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		r := math.Sqrt(x*x + y*y + z*z)
		ps[i] = []float64{1 - math.Abs(x/r), 1 - math.Abs(y/r), 1 - math.Abs(z/r)}
	}
	for b.Loop() {
		Hypervolume(ps, []float64{1.1, 1.1, 1.1})
	}
}

// TestFirstFronts checks that FirstFronts returns Sort's leading fronts.
func TestFirstFronts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for trial := range 300 {
		n, m := 1+rng.IntN(40), 2+rng.IntN(2)
		fs := make([][]float64, n)
		var viol []float64
		if trial%2 == 1 {
			viol = make([]float64, n)
		}
		for i := range fs {
			fs[i] = make([]float64, m)
			for k := range fs[i] {
				fs[i][k] = float64(rng.IntN(7))
			}
			if viol != nil && rng.IntN(3) == 0 {
				viol[i] = float64(1 + rng.IntN(3))
			}
		}
		all := Sort(fs, viol)
		k := 1 + rng.IntN(n)
		got := FirstFronts(fs, viol, k)
		total := 0
		for i, f := range got {
			if !slices.Equal(f, all[i]) {
				t.Fatalf("trial %d: front %d is %v, Sort's is %v", trial, i, f, all[i])
			}
			total += len(f)
		}
		if total < k || (len(got) > 0 && total-len(got[len(got)-1]) >= k) {
			t.Fatalf("trial %d: %d fronts holding %d points for k = %d", trial, len(got), total, k)
		}
	}
}

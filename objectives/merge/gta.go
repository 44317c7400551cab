package merge

import (
	"fmt"
	"math"
	"sort"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// rescaledMasked is mergekit's rescaled_masked_tensor: masked = d·mask, then
// (for a norm) one factor ‖d‖/‖masked‖ for the whole tensor, skipped when
// either norm is below 1e-7. The result replaces d.
func rescaledMasked(dt st.DType, d, mask []float32, norm string) {
	var before, after float64
	for e, v := range d {
		m := v * mask[e]
		switch norm {
		case "l1":
			before += math.Abs(float64(v))
			after += math.Abs(float64(m))
		case "l2":
			before += float64(v) * float64(v)
			after += float64(m) * float64(m)
		case "linf":
			before = math.Max(before, math.Abs(float64(v)))
			after = math.Max(after, math.Abs(float64(m)))
		}
		d[e] = m
	}
	if norm == "" {
		return
	}
	if norm == "l2" {
		before, after = math.Sqrt(before), math.Sqrt(after)
	}
	b, a := st.Round(dt, float32(before)), st.Round(dt, float32(after))
	if b < 1e-7 || a < 1e-7 {
		return
	}
	f := st.Round(dt, b/a)
	for e := range d {
		d[e] = st.Round(dt, d[e]*f)
	}
}

// outlierMask is breadcrumbs' magnitude_outliers: drop the n_top largest and
// n_bot smallest |d|, keeping ranks [n_bot, n−n_top) of the ascending order.
// As in mergekit, n_top = 0 keeps nothing (the slice [n_bot:-0] is empty).
func outlierMask(d []float32, density, gamma float64, mask []float32) {
	n := len(d)
	nTop := int(gamma * float64(n))
	nBot := n - int(density*float64(n)) - nTop
	if nBot < 0 {
		nTop += nBot
		nBot = 0
	}
	for e := range mask {
		mask[e] = 0
	}
	if nTop <= 0 || n-nBot <= nTop {
		return
	}
	keep := selectTopK(d, nil, n-nBot, 1)
	keep.mark(d, nil, mask)
	drop := selectTopK(d, nil, nTop, 1)
	tmp := make([]float32, n)
	drop.mark(d, nil, tmp)
	for e := range mask {
		mask[e] -= tmp[e]
	}
}

// dellaProbs computes DELLA's keep probabilities: within each row (last
// dimension; a 1-D tensor is one row), rank r = 1 for the smallest |d| up to
// C for the largest, p = (density−ε) + 2ε·(r−1)/(C−1).
func dellaProbs(d []float32, shape []int, density, eps float64, probs []float32) error {
	if density-eps <= 0 || density+eps >= 1 {
		return fmt.Errorf("epsilon %v must be chosen such that density %v +/- epsilon is in (0, 1)", eps, density)
	}
	cols := len(d)
	if len(shape) >= 2 {
		cols = shape[len(shape)-1]
	}
	if cols == 0 {
		return nil
	}
	if cols == 1 {
		return fmt.Errorf("DELLA ranks within rows, and a row of length 1 gives 0/0 probabilities")
	}
	idx := make([]int, cols)
	lo := float32(density - eps)
	step := float32(2*eps) / float32(cols-1)
	for r0 := 0; r0 < len(d); r0 += cols {
		row := d[r0 : r0+cols]
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return abs32(row[idx[a]]) < abs32(row[idx[b]]) })
		for rank, i := range idx {
			probs[r0+i] = lo + step*float32(rank)
		}
	}
	return nil
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// consensusMask is mergekit's get_mask over weighted deltas (models × n):
// the majority sign is that of Σ Dᵢ ("sum") or of Σ sign(Dᵢ) ("count"),
// ties going to +, and mᵢ = [sign(Dᵢ) == majority], so zeros never match.
// The merge paths inline the "sum" variant; no registered method uses
// "count".
func consensusMask(deltas [][]float32, count bool) [][]bool {
	masks := make([][]bool, len(deltas))
	for i := range masks {
		masks[i] = make([]bool, len(deltas[i]))
	}
	for e := range deltas[0] {
		var s float64
		for _, d := range deltas {
			v := float64(d[e])
			if count {
				v = sign(v)
			}
			s += v
		}
		maj := 1.0
		if s < 0 {
			maj = -1
		}
		for i, d := range deltas {
			masks[i][e] = sign(float64(d[e])) == maj
		}
	}
	return masks
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

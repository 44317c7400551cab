package merge

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// taskVector is one non-base model's contribution to a GTA merge.
type taskVector struct {
	model int       // index into job.inputs
	x     []float32 // input, cropped to the base shape if needed
	w     float32   // weight, rounded to the compute dtype
	p     params
}

// taskVectors collects the non-base models, cropping embeddings to the base
// shape and silently skipping other mismatched models, as mergekit does.
func taskVectors(j *job) []taskVector {
	bs := j.shapes[j.base]
	var tvs []taskVector
	for i := range j.inputs {
		if i == j.base {
			continue
		}
		x := j.inputs[i]
		if !slices.Equal(j.shapes[i], bs) {
			if !j.isEmbed {
				continue
			}
			x = crop(x, j.shapes[i], bs[0], bs[1], j.sc.get(bs[0]*bs[1]))
		}
		tvs = append(tvs, taskVector{model: i, x: x, w: j.r(float32(j.perModel[i]["weight"])), p: j.perModel[i]})
	}
	return tvs
}

// mergeGTA is mergekit's generalized task arithmetic: per-model deltas from
// the base, optionally sparsified, weighted, mixed with or without TIES sign
// consensus, normalized, scaled by lambda and added back to the base.
func mergeGTA(j *job, out []float32) error {
	if j.base < 0 {
		return fmt.Errorf("%s: %s needs a base_model", j.name, j.method.name)
	}
	b := j.inputs[j.base]
	tvs := taskVectors(j)
	if len(tvs) == 0 {
		copy(out, b)
		return nil
	}
	g := j.method.gta
	if !forceGeneral && !j.half() && (len(tvs) <= maxTiesModels || !g.consensus) && (g.sparsify == sparseNone || (g.sparsify == sparseMagnitude && !j.global.bool("rescale"))) {
		return gtaFast(j, b, tvs, out)
	}
	if j.dtype == st.BF16 && g.sparsify == sparseNone && !g.consensus {
		return taBF16(j, b, tvs, out)
	}
	n := len(b)
	deltas := make([][]float32, len(tvs))
	for i, tv := range tvs {
		d := j.sc.get(n)
		parallelFor(n, selChunk, j.workers, func(_, lo, hi int) {
			for e := lo; e < hi; e++ {
				d[e] = tv.x[e] - b[e]
			}
			st.RoundSlice(j.dtype, d[lo:hi])
		})
		if err := sparsify(j, tv, d); err != nil {
			return err
		}
		parallelFor(n, selChunk, j.workers, func(_, lo, hi int) {
			for e := lo; e < hi; e++ {
				d[e] *= tv.w
			}
			st.RoundSlice(j.dtype, d[lo:hi])
		})
		deltas[i] = d
	}
	normalize := j.global.bool("normalize")
	lambda := float32(j.global["lambda"])
	var divAll float32
	for _, tv := range tvs {
		divAll += tv.w
	}
	divAll = j.r(divAll)
	if math.Abs(float64(divAll)) < 1e-8 {
		divAll = 1
	}
	parallelFor(n, selChunk, j.workers, func(_, lo, hi int) {
		for e := lo; e < hi; e++ {
			var mixed, div float32
			if g.consensus {
				var s float32
				for _, d := range deltas {
					s += d[e]
				}
				pos := j.r(s) >= 0
				for i, d := range deltas {
					if v := d[e]; (pos && v > 0) || (!pos && v < 0) {
						mixed += v
						div += tvs[i].w
					}
				}
				mixed, div = j.r(mixed), j.r(div)
				if div == 0 {
					div = 1
				}
			} else {
				for _, d := range deltas {
					mixed += d[e]
				}
				mixed, div = j.r(mixed), divAll
			}
			if normalize {
				mixed = j.r(mixed / div)
			}
			if lambda != 1 {
				mixed = j.r(mixed * lambda)
			}
			out[e] = j.r(b[e] + mixed)
		}
	})
	return nil
}

// sparsify prunes one model's delta in place with the method's sparsifier.
func sparsify(j *job, tv taskVector, d []float32) error {
	density := tv.p["density"]
	sp := j.method.gta.sparsify
	if sp == sparseNone || density >= 1 {
		return nil
	}
	n := len(d)
	mask := j.sc.get(n)
	switch sp {
	case sparseMagnitude:
		k, err := magnitudeK(j, tv, n)
		if err != nil {
			return err
		}
		sel := selectTopK(d, nil, k, j.workers)
		for e := range mask {
			mask[e] = 0
		}
		sel.mark(d, nil, mask)
	case sparseOutliers:
		outlierMask(d, density, tv.p["gamma"], mask)
	case sparseRandom:
		if j.masks != nil {
			copy(mask, j.masks(tv.model, n))
		} else {
			rng := j.rng(tv.model)
			p := float32(density)
			for e := range mask {
				mask[e] = bernoulli(rng, p)
			}
		}
	case sparseDella:
		if density <= 0 {
			for e := range d {
				d[e] = 0
			}
			return nil
		}
		probs := j.sc.get(n)
		if err := dellaProbs(d, j.shapes[j.base], density, tv.p["epsilon"], probs); err != nil {
			return fmt.Errorf("%s: model %s: %w", j.name, j.models[tv.model], err)
		}
		if j.masks != nil {
			copy(mask, j.masks(tv.model, n))
		} else {
			rng := j.rng(tv.model)
			for e := range mask {
				mask[e] = bernoulli(rng, probs[e])
			}
		}
	}
	rescaleNorm := ""
	if j.global.bool("rescale") {
		rescaleNorm = "l1"
	}
	rescaledMasked(j.dtype, d, mask, rescaleNorm)
	return nil
}

// magnitudeK is the number of elements magnitude pruning keeps,
// int(density·n); mergekit refuses k = 0 rather than zero a whole delta.
func magnitudeK(j *job, tv taskVector, n int) (int, error) {
	density := tv.p["density"]
	k := int(density * float64(n))
	if k <= 0 {
		return 0, fmt.Errorf("%s: model %s: density %v keeps int(%v·%d) = 0 elements (mergekit refuses to zero out the whole tensor)", j.name, j.models[tv.model], density, density, n)
	}
	return k, nil
}

// rng is model i's random stream for this tensor: a PCG seeded from the
// run's seed, the tensor name and the model's position, so a merge is
// reproducible and independent of the order tensors are processed in.
func (j *job) rng(i int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(j.name))
	return rand.New(rand.NewPCG(j.seed, h.Sum64()^uint64(i+1)*0x9e3779b97f4a7c15))
}

func bernoulli(rng *rand.Rand, p float32) float32 {
	if rng.Float32() < p {
		return 1
	}
	return 0
}

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

// taBF16 is task arithmetic in bfloat16 in one fused, parallel pass.
func taBF16(j *job, b []float32, tvs []taskVector, out []float32) error {
	xs := make([][]float32, len(tvs))
	ws := make([]float32, len(tvs))
	var div float32
	for i, tv := range tvs {
		xs[i], ws[i] = tv.x, tv.w
		div += tv.w
	}
	div = j.r(div)
	if math.Abs(float64(div)) < 1e-8 {
		div = 1
	}
	normalize, lambda := j.global.bool("normalize"), float32(j.global["lambda"])
	parallelFor(len(b), selChunk, j.workers, func(_, lo, hi int) {
		blk := make([][]float32, len(xs))
		for i, x := range xs {
			blk[i] = x[lo:hi]
		}
		fusedTABF16(out[lo:hi], b[lo:hi], blk, ws, normalize, div, lambda)
	})
	return nil
}

package merge

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// sce, multislerp, ram, ramplus_tl and arcee_fusion, as mergekit (a6e4028)
// computes them, on whole tensors. mergekit passes sce, multislerp, ram and
// ramplus_tl their models in the iteration order of a Python set (hash
// order, which varies between runs), so their float32 sums over models can
// differ from any fixed order by a rounding; config order is used here.
// Arithmetic is float32 where mergekit's is elementwise and float64 for
// reductions (torch's float32 reductions are accurate to about the same);
// bf16/fp16 results are rounded once at the end, so they are not bit-exact
// for these methods.

func init() {
	register(&methodDef{name: "sce", global: map[string]float64{"select_topk": 1, "int8_mask": 0}, needsBase: true, noCrop: true,
		merge: mergeSCE, tempPerElem: func(m int) int { return 2*m + 4 }})
	register(&methodDef{name: "multislerp", global: map[string]float64{"normalize_weights": 1, "eps": 1e-8}, perModel: map[string]float64{"weight": required}, noCrop: true,
		merge: mergeMultislerp, tempPerElem: func(m int) int { return 2*m + 6 }})
	register(&methodDef{name: "ram", global: map[string]float64{"epsilon": 1e-5}, needsBase: true, noCrop: true,
		merge: mergeRAM, tempPerElem: func(m int) int { return 2 }})
	register(&methodDef{name: "ramplus_tl", global: map[string]float64{"r": 0.1, "alpha": 0.2, "epsilon": 1e-5}, needsBase: true, noCrop: true,
		merge: mergeRAM, tempPerElem: func(m int) int { return 2 }})
	register(&methodDef{name: "arcee_fusion", needsBase: true, merge: mergeArceeFusion, tempPerElem: func(int) int { return 6 }})
}

// nonBase returns the inputs other than the base, in order, and the base.
func nonBase(j *job, xs [][]float32) (others [][]float32, idx []int, base []float32) {
	for i, x := range xs {
		if i == j.base {
			base = x
			continue
		}
		others, idx = append(others, x), append(idx, i)
	}
	return others, idx, base
}

// mergeSCE is mergekit's sce (select, calculate, erase): task vectors
// τᵢ = xᵢ − base; with select_topk < 1, only the elements whose variance
// across models is among the top select_topk of the non-zero variances are
// kept (k = int(nonzero·select_topk); ties at the k-th variance are kept
// lowest index first, where torch.topk's choice is unspecified); weights
// wᵢ = mean(τᵢ²) normalised to sum 1 (uniform when the sum is below 1e-6);
// per element only models agreeing with the sign of Σ τᵢ count, and the
// result is base + Σ wᵢτᵢ / max(Σ wᵢ, 1e-6) over them.
func mergeSCE(j *job, out []float32) error {
	xs, _, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	others, _, b := nonBase(j, xs)
	if len(others) == 0 {
		copy(out, b)
		return nil
	}
	n, M := len(out), len(others)
	tv := make([][]float32, M)
	for i, x := range others {
		tv[i] = j.sc.get(n)
		for e := range tv[i] {
			tv[i][e] = j.r(x[e] - b[e])
		}
	}
	if density := j.global["select_topk"]; density < 1 {
		// Variance across models (population), float32 as torch.var.
		v := j.sc.get(n)
		nonzero := 0
		for e := range v {
			var mean float64
			for i := range tv {
				mean += float64(tv[i][e])
			}
			mean /= float64(M)
			var s float64
			for i := range tv {
				d := float64(tv[i][e]) - mean
				s += d * d
			}
			v[e] = float32(s / float64(M))
			if v[e] != 0 {
				nonzero++
			}
		}
		k := int(float64(nonzero) * density)
		mask := j.sc.get(n)
		clear(mask)
		if density > 0 && k > 0 {
			selectTopK(v, nil, k, j.workers).mark(v, nil, mask)
		}
		for i := range tv {
			for e := range tv[i] {
				tv[i][e] *= mask[e]
			}
		}
	}
	w := make([]float32, M)
	var wsum float64
	for i := range tv {
		var s float64
		for _, d := range tv[i] {
			s += float64(d) * float64(d)
		}
		w[i] = float32(s / float64(n))
		wsum += float64(w[i])
	}
	for i := range w {
		if math.Abs(wsum) < 1e-6 {
			w[i] = 1 / float32(M)
		} else {
			w[i] = float32(float64(w[i]) / wsum)
		}
	}
	for e := range out {
		var s float32
		for i := range tv {
			s += tv[i][e]
		}
		pos := j.r(s) >= 0
		var merged, div float32
		for i := range tv {
			d := tv[i][e]
			if (pos && d > 0) || (!pos && d < 0) {
				merged += j.r(d * w[i])
				div += w[i]
			}
		}
		div = max(j.r(div), 1e-6)
		out[e] = j.r(b[e] + j.r(j.r(merged)/div))
	}
	return nil
}

// mergeMultislerp is mergekit's multislerp: barycentric interpolation on the
// hypersphere. The (base-relative, with a base) tensors are flattened, put
// on the unit sphere, their weighted mean direction found, the weighted
// tangent vectors at it summed and mapped back with the exponential map,
// and the result scaled by the weighted mean norm. Weights are normalised
// to sum 1 unless normalize_weights is false. Two tensors whose weighted
// directions cancel fall back to the weighted sum; more is an error, as in
// mergekit.
func mergeMultislerp(j *job, out []float32) error {
	xs, _, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	others, idx, b := nonBase(j, xs)
	if j.base < 0 {
		others, idx, b = xs, nil, nil
		for i := range xs {
			idx = append(idx, i)
		}
	}
	if len(others) == 1 {
		copy(out, others[0])
		return nil
	}
	n, M := len(out), len(others)
	eps := j.global["eps"]
	w := make([]float64, M)
	var wsum float64
	for k, i := range idx {
		v, ok := j.perModel[i]["weight"]
		if !ok {
			return fmt.Errorf("%s: model %s has no weight; multislerp needs one for every model but the base", j.name, j.models[i])
		}
		w[k] = float64(float32(v))
		wsum += w[k]
	}
	if j.global.bool("normalize_weights") {
		for k := range w {
			w[k] = float64(float32(w[k] / wsum))
		}
	}
	t := make([][]float64, M)
	norms := make([]float64, M)
	for k, x := range others {
		t[k] = make([]float64, n)
		var s float64
		for e := range t[k] {
			v := float64(x[e])
			if b != nil {
				v = float64(x[e] - b[e])
			}
			t[k][e] = v
			s += v * v
		}
		norms[k] = math.Sqrt(s)
	}
	mean := make([]float64, n)
	for k := range t {
		inv := 1 / (norms[k] + eps)
		for e, v := range t[k] {
			mean[e] += w[k] * v * inv
		}
	}
	meanNorm := norm64(mean)
	if meanNorm < eps {
		if M != 2 {
			return fmt.Errorf("%s: multislerp: the weighted sum of the input directions is zero (antipodal tensors with weights that balance out); try different weights", j.name)
		}
		for e := range out {
			v := t[0][e]*w[0] + t[1][e]*w[1]
			if b != nil {
				v += float64(b[e])
			}
			out[e] = j.r(float32(v))
		}
		return nil
	}
	for e := range mean {
		mean[e] /= meanNorm
	}
	tangent := make([]float64, n)
	for k := range t {
		inv := 1 / (norms[k] + eps)
		var dot float64
		for e, v := range t[k] {
			dot += v * inv * mean[e]
		}
		for e, v := range t[k] {
			tangent[e] += w[k] * (v*inv - dot*mean[e])
		}
	}
	tn := norm64(tangent) + eps
	var avg float64
	for k := range norms {
		avg += norms[k] * w[k]
	}
	c, s := math.Cos(tn), math.Sin(tn)/tn
	for e := range out {
		v := (mean[e]*c + tangent[e]*s) * avg
		if b != nil {
			v += float64(b[e])
		}
		out[e] = j.r(float32(v))
	}
	return nil
}

// mergeRAM is mergekit's ram and ramplus_tl (Reinforced Agent Merging): a
// task vector element counts when |τᵢ| > epsilon; an element only one model
// changes takes that model's change, one several models change takes their
// mean. ramplus_tl scales a model's unique changes by 1 + r·clamp(ρᵢ, 0,
// alpha), ρᵢ being its count of shared over unique changes in the tensor.
func mergeRAM(j *job, out []float32) error {
	xs, _, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	others, _, b := nonBase(j, xs)
	if len(others) == 0 {
		copy(out, b)
		return nil
	}
	eps := float32(j.global["epsilon"])
	lambda := make([]float32, len(others))
	for i := range lambda {
		lambda[i] = 1
	}
	if j.method.name == "ramplus_tl" {
		shared := make([]int, len(others))
		unique := make([]int, len(others))
		for e := range out {
			cnt := 0
			for _, x := range others {
				if abs32(j.r(x[e]-b[e])) > eps {
					cnt++
				}
			}
			for i, x := range others {
				if abs32(j.r(x[e]-b[e])) > eps {
					if cnt > 1 {
						shared[i]++
					} else {
						unique[i]++
					}
				}
			}
		}
		r, alpha := float32(j.global["r"]), float32(j.global["alpha"])
		for i := range lambda {
			rho := float32(shared[i]) / max(float32(unique[i]), eps)
			lambda[i] = 1 + r*min(max(rho, 0), alpha)
		}
	}
	for e := range out {
		cnt := 0
		for _, x := range others {
			if abs32(j.r(x[e]-b[e])) > eps {
				cnt++
			}
		}
		var merged float32
		for i, x := range others {
			d := j.r(x[e] - b[e])
			if abs32(d) <= eps {
				continue
			}
			if cnt == 1 {
				merged += j.r(d * lambda[i])
			} else {
				merged += j.r(d / float32(cnt))
			}
		}
		out[e] = j.r(b[e] + j.r(merged))
	}
	return nil
}

// arceeSampleLimit is the element count above which mergekit's arcee_fusion
// estimates its quantiles from a random sample of a million elements
// (torch.randperm), which cannot be reproduced: above it the quantiles here
// are exact over every element instead.
const arceeSampleLimit = 1_000_000

// mergeArceeFusion is mergekit's arcee_fusion: importance = |x − base|
// times the KL divergence of softmax(x) from softmax(base) along the last
// dimension (per row; a 1-D tensor is one row), both softmaxes offset by
// 1e-8; the elements whose importance reaches median + 1.5·IQR (quantiles
// by index floor(q·(n−1)) into the sorted importances) take x, the others
// keep the base.
func mergeArceeFusion(j *job, out []float32) error {
	if len(j.inputs) == 1 {
		copy(out, j.inputs[0])
		return nil
	}
	if len(j.inputs) != 2 || j.base < 0 {
		return fmt.Errorf("%s: arcee_fusion merges exactly two models, one of them the base_model", j.name)
	}
	xs, shape, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	b, x := xs[j.base], xs[1-j.base]
	n := len(out)
	cols := n
	if len(shape) >= 1 && n > 0 {
		cols = shape[len(shape)-1]
	}
	imp := make([]float32, n)
	softmax := func(v []float32, dst []float64) {
		m := math.Inf(-1)
		for _, a := range v {
			m = math.Max(m, float64(a))
		}
		var s float64
		for k, a := range v {
			dst[k] = math.Exp(float64(a) - m)
			s += dst[k]
		}
		for k := range dst {
			dst[k] = float64(float32(dst[k]/s)) + 1e-8
		}
	}
	p, q := make([]float64, cols), make([]float64, cols)
	for r0 := 0; r0 < n && cols > 0; r0 += cols {
		softmax(x[r0:r0+cols], p)
		softmax(b[r0:r0+cols], q)
		var kl float64
		for k := range p {
			kl += p[k] * math.Log(p[k]/q[k])
		}
		kl32 := float32(kl)
		for k := 0; k < cols; k++ {
			imp[r0+k] = abs32(j.r(x[r0+k]-b[r0+k])) * kl32
		}
	}
	sorted := slices.Clone(imp)
	sort.Slice(sorted, func(a, c int) bool { return sorted[a] < sorted[c] })
	at := func(qq float32) float32 { return sorted[int(qq*float32(len(sorted)-1))] }
	var thr float32
	if n > 0 {
		thr = at(0.5) + 1.5*(at(0.75)-at(0.25))
	}
	for e := range out {
		if imp[e] >= thr {
			out[e] = j.r(b[e] + j.r(x[e]-b[e]))
		} else {
			out[e] = b[e]
		}
	}
	return nil
}

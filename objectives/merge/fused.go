package merge

import "math"

// Fused float32 kernels for task arithmetic and linear: each output element
// is computed in one pass with all models in registers, so the output block
// is written once instead of read and written once per model. Go does not
// vectorise, so memory traffic and loop overhead are what is left to save.
// Models are summed in order, as torch sums the stacked tensors.

// fusedTA sets out = b + scale·Σ wᵢ(xᵢ − b).
func fusedTA(out, b []float32, xs [][]float32, ws []float32, scale float32) {
	n := len(out)
	b = b[:n]
	switch len(xs) {
	case 1:
		x0, w0 := xs[0][:n], ws[0]
		for e := range out {
			bb := b[e]
			out[e] = bb + w0*(x0[e]-bb)*scale
		}
	case 2:
		x0, x1, w0, w1 := xs[0][:n], xs[1][:n], ws[0], ws[1]
		for e := range out {
			bb := b[e]
			out[e] = bb + (w0*(x0[e]-bb)+w1*(x1[e]-bb))*scale
		}
	case 3:
		x0, x1, x2, w0, w1, w2 := xs[0][:n], xs[1][:n], xs[2][:n], ws[0], ws[1], ws[2]
		for e := range out {
			bb := b[e]
			out[e] = bb + (w0*(x0[e]-bb)+w1*(x1[e]-bb)+w2*(x2[e]-bb))*scale
		}
	case 4:
		x0, x1, x2, x3 := xs[0][:n], xs[1][:n], xs[2][:n], xs[3][:n]
		w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
		for e := range out {
			bb := b[e]
			out[e] = bb + (w0*(x0[e]-bb)+w1*(x1[e]-bb)+w2*(x2[e]-bb)+w3*(x3[e]-bb))*scale
		}
	default:
		clear(out)
		for i, x := range xs {
			addScaledDiff(out, x, b, ws[i])
		}
		for e := range out {
			out[e] = b[e] + out[e]*scale
		}
	}
}

// fusedLinear sets out = scale·Σ wᵢxᵢ.
func fusedLinear(out []float32, xs [][]float32, ws []float32, scale float32) {
	n := len(out)
	switch len(xs) {
	case 1:
		x0, w0 := xs[0][:n], ws[0]
		for e := range out {
			out[e] = w0 * x0[e] * scale
		}
	case 2:
		x0, x1, w0, w1 := xs[0][:n], xs[1][:n], ws[0], ws[1]
		for e := range out {
			out[e] = (w0*x0[e] + w1*x1[e]) * scale
		}
	case 3:
		x0, x1, x2, w0, w1, w2 := xs[0][:n], xs[1][:n], xs[2][:n], ws[0], ws[1], ws[2]
		for e := range out {
			out[e] = (w0*x0[e] + w1*x1[e] + w2*x2[e]) * scale
		}
	case 4:
		x0, x1, x2, x3 := xs[0][:n], xs[1][:n], xs[2][:n], xs[3][:n]
		w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
		for e := range out {
			out[e] = (w0*x0[e] + w1*x1[e] + w2*x2[e] + w3*x3[e]) * scale
		}
	default:
		clear(out)
		for i, x := range xs {
			addScaled(out, x, ws[i])
		}
		for e := range out {
			out[e] *= scale
		}
	}
}

// rbf16 rounds to bfloat16 (nearest, ties to even) inline; the hot loops
// below call it after every operation, as torch rounds each bf16 op.
func rbf16(v float32) float32 {
	b := math.Float32bits(v)
	if b&0x7fffffff > 0x7f800000 {
		return v // NaN
	}
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// fusedTABF16 is task arithmetic in bfloat16 with mergekit's rounding:
// δ = bf16(x−b), bf16(w·δ) summed in float32 and rounded once, then
// normalize, lambda and the final add, each rounded.
func fusedTABF16(out, b []float32, xs [][]float32, ws []float32, normalize bool, div, lambda float32) {
	b = b[:len(out)]
	for e := range out {
		bb := b[e]
		var acc float32
		for i, x := range xs {
			acc += rbf16(rbf16(x[e]-bb) * ws[i])
		}
		m := rbf16(acc)
		if normalize {
			m = rbf16(m / div)
		}
		if lambda != 1 {
			m = rbf16(m * lambda)
		}
		out[e] = rbf16(bb + m)
	}
}

// fusedLinearBF16 is linear in bfloat16: bf16(wᵢ·xᵢ) summed in float32 and
// rounded once, then divided by the (rounded) weight sum and rounded.
func fusedLinearBF16(out []float32, xs [][]float32, ws []float32, normalize bool, wsum float32) {
	for e := range out {
		var acc float32
		for i, x := range xs {
			acc += rbf16(ws[i] * x[e])
		}
		acc = rbf16(acc)
		if normalize {
			acc = rbf16(acc / wsum)
		}
		out[e] = acc
	}
}

package merge

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

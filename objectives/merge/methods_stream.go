package merge

import (
	"fmt"
	"math"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Elementwise forms of linear, slerp, nearswap and passthrough (see
// streamer). Their inputs arrive cropped to the output shape.

// streamLinear is Σ wᵢxᵢ, divided by Σ wᵢ when normalize is set (no zero
// guard, as in mergekit: weights summing to 0 give non-finite values, which
// the engine reports). A configured base is just another input.
func streamLinear(j *job) (blockFn, int, error) {
	ws := make([]float32, len(j.ins))
	var wsum float32
	for i := range j.ins {
		w, ok := j.perModel[i]["weight"]
		if !ok {
			return nil, 0, fmt.Errorf("%s: model %s has no weight; linear needs one for every input, the base model included", j.name, j.models[i])
		}
		ws[i] = j.r(float32(w))
		wsum += ws[i]
	}
	wsum = j.r(wsum)
	normalize := j.global.bool("normalize")
	switch j.dtype {
	case st.BF16:
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			fusedLinearBF16(out, in, ws, normalize, wsum)
			return nil
		}, 0, nil
	case st.F16:
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			for e := range out {
				var acc float32
				for i, x := range in {
					acc += j.r(ws[i] * x[e])
				}
				acc = j.r(acc)
				if normalize {
					acc = j.r(acc / wsum)
				}
				out[e] = acc
			}
			return nil
		}, 0, nil
	}
	inv := float32(1)
	if normalize {
		inv = 1 / wsum
	}
	return func(w, lo, hi int, in [][]float32, out []float32) error {
		fusedLinear(out, in, ws, inv)
		return nil
	}, 0, nil
}

// streamSlerp is mergekit's slerp: one pass finds the two tensors' norms and
// the cosine of their angle (the whole tensor as one vector), then each
// block is s0·v0 + s1·v1 in float32, t measured from the base, a lerp when
// the tensors are nearly colinear (|cos| > 0.9995). mergekit computes the
// cosine in float32 NumPy from the normalised tensors; summing in float64
// here differs from it by float32 rounding noise.
func streamSlerp(j *job) (blockFn, int, error) {
	if len(j.ins) == 1 {
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			copy(out, in[0])
			return nil
		}, 0, nil
	}
	if len(j.ins) != 2 {
		return nil, 0, fmt.Errorf("%s: slerp merges exactly two models, got %d", j.name, len(j.ins))
	}
	if j.base < 0 {
		return nil, 0, fmt.Errorf("%s: slerp needs base_model to be one of its two models", j.name)
	}
	b0, b1 := j.base, 1-j.base
	n := j.ins[b0].n
	size := blockSizeFor(0)
	parts := make([][3]float64, (n+size-1)/size)
	err := j.forBlocks(0, nil, func(w, b, lo, hi int, in [][]float32) error {
		parts[b] = slerpSums(in[b0], in[b1])
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var s00, s11, s01 float64
	for _, p := range parts {
		s00, s11, s01 = s00+p[0], s11+p[1], s01+p[2]
	}
	n0, n1 := float32(math.Sqrt(s00)), float32(math.Sqrt(s11))
	c := 1.0
	if n0 > 1e-8 {
		c /= float64(n0)
	}
	if n1 > 1e-8 {
		c /= float64(n1)
	}
	dot := float32(s01 * c)
	t := j.global["t"]
	var s0, s1 float32
	if math.Abs(float64(dot)) > 0.9995 {
		s0, s1 = float32(1-t), float32(t)
	} else {
		theta0 := float32(math.Acos(float64(dot)))
		sin0 := float32(math.Sin(float64(theta0)))
		thetaT := float64(theta0) * t
		s0 = float32(math.Sin(float64(theta0)-thetaT) / float64(sin0))
		s1 = float32(math.Sin(thetaT) / float64(sin0))
	}
	return func(w, lo, hi int, in [][]float32, out []float32) error {
		v0, v1 := in[b0][:len(out)], in[b1][:len(out)]
		for e := range out {
			out[e] = float32(s0*v0[e]) + float32(s1*v1[e])
		}
		return nil
	}, 0, nil
}

// slerpSums returns Σv0², Σv1² and Σv0·v1 in float64, each in two lanes
// (even and odd elements) added at the end: one chain of dependent adds
// per sum made the norm pass wait on the adds' latency.
func slerpSums(v0, v1 []float32) [3]float64 {
	v1 = v1[:len(v0)]
	var a0, a1, b0, b1, c0, c1 float64
	e := 0
	for ; e+2 <= len(v0); e += 2 {
		x0, x1 := float64(v0[e]), float64(v0[e+1])
		y0, y1 := float64(v1[e]), float64(v1[e+1])
		a0 += x0 * x0
		a1 += x1 * x1
		b0 += y0 * y0
		b1 += y1 * y1
		c0 += x0 * y0
		c1 += x1 * y1
	}
	if e < len(v0) {
		x, y := float64(v0[e]), float64(v1[e])
		a0 += x * x
		b0 += y * y
		c0 += x * y
	}
	return [3]float64{a0 + a1, b0 + b1, c0 + c1}
}

// streamNearswap moves the base towards the other model by at most t per
// element: w = clamp(t/max(|base−x|, 1e-6), 0, 1), result w·x + (1−w)·base.
func streamNearswap(j *job) (blockFn, int, error) {
	if j.base < 0 || len(j.ins) != 2 {
		return nil, 0, fmt.Errorf("%s: nearswap needs a base_model and exactly one other model", j.name)
	}
	b0, b1 := j.base, 1-j.base
	t := j.global["t"]
	return func(w, lo, hi int, in [][]float32, out []float32) error {
		b, x := in[b0][:len(out)], in[b1][:len(out)]
		for e := range out {
			d := math.Max(math.Abs(float64(b[e])-float64(x[e])), 1e-6)
			wt := math.Max(0, math.Min(1, t/d))
			out[e] = j.r(float32(wt*float64(x[e]) + (1-wt)*float64(b[e])))
		}
		return nil
	}, 0, nil
}

// streamPassthrough copies its single input, times the optional scale.
func streamPassthrough(j *job) (blockFn, int, error) {
	if len(j.ins) != 1 {
		return nil, 0, fmt.Errorf("%s: passthrough takes exactly one model, got %d", j.name, len(j.ins))
	}
	s, scaled := j.perModel[0]["scale"]
	return func(w, lo, hi int, in [][]float32, out []float32) error {
		copy(out, in[0])
		if scaled {
			for e := range out {
				out[e] = j.r(out[e] * float32(s))
			}
		}
		return nil
	}, 0, nil
}

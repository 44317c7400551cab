package merge

import (
	"fmt"
	"math"
)

// sameShapeInputs returns the inputs with embeddings cropped to the common
// [:rows, :cols] (mergekit's rectify_embed_sizes); any other shape mismatch
// is an error.
func sameShapeInputs(j *job) ([][]float32, []int, error) {
	shape, err := outputShape(j.method, j.name, j.isEmbed, j.models, j.shapes, j.base)
	if err != nil {
		return nil, nil, err
	}
	xs := make([][]float32, len(j.inputs))
	for i, x := range j.inputs {
		xs[i] = x
		if len(shape) == 2 && len(j.shapes[i]) == 2 && (j.shapes[i][0] != shape[0] || j.shapes[i][1] != shape[1]) {
			xs[i] = crop(x, j.shapes[i], shape[0], shape[1], j.sc.get(shape[0]*shape[1]))
		}
	}
	return xs, shape, nil
}

// addScaled does acc += w·x, unrolled by four.
func addScaled(acc, x []float32, w float32) {
	n := len(acc)
	x = x[:n]
	e := 0
	for ; e+4 <= n; e += 4 {
		a := acc[e : e+4 : e+4]
		xx := x[e : e+4 : e+4]
		a[0] += w * xx[0]
		a[1] += w * xx[1]
		a[2] += w * xx[2]
		a[3] += w * xx[3]
	}
	for ; e < n; e++ {
		acc[e] += w * x[e]
	}
}

func norm2(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// mergeNuslerp is mergekit's nuslerp: t = w₂/(w₁+w₂) (0.5 when the weights
// cancel), slerp of the two models (or of their deltas from a base) over the
// whole tensor, its rows (last dim) or, with nuslerp_row_wise, its columns.
func mergeNuslerp(j *job, out []float32) error {
	xs, shape, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	var idx []int
	for i := range xs {
		if i != j.base {
			idx = append(idx, i)
		}
	}
	if len(idx) != 2 {
		return fmt.Errorf("%s: nuslerp needs exactly two models besides the base, got %d", j.name, len(idx))
	}
	w1, w2 := j.perModel[idx[0]]["weight"], j.perModel[idx[1]]["weight"]
	t := 0.5
	if math.Abs(w1+w2) >= 1e-6 {
		t = w2 / (w1 + w2)
	}
	n := len(out)
	v0 := make([]float64, n)
	v1 := make([]float64, n)
	for e := range out {
		v0[e], v1[e] = float64(xs[idx[0]][e]), float64(xs[idx[1]][e])
		if j.base >= 0 {
			v0[e] -= float64(xs[j.base][e])
			v1[e] -= float64(xs[j.base][e])
		}
	}
	// Vectors are (start, stride, length) runs of the flattened tensor.
	count, stride, length := 1, 1, n
	if !j.global.bool("nuslerp_flatten") && len(shape) >= 1 && n > 0 {
		if j.global.bool("nuslerp_row_wise") {
			length = shape[0]
			stride = n / shape[0]
			count = stride
		} else {
			length = shape[len(shape)-1]
			count = n / length
		}
	}
	res := make([]float64, n)
	for v := 0; v < count; v++ {
		start := v
		if stride == 1 {
			start = v * length
		}
		var nn0, nn1, dot float64
		for k := 0; k < length; k++ {
			e := start + k*stride
			nn0 += v0[e] * v0[e]
			nn1 += v1[e] * v1[e]
		}
		nn0, nn1 = math.Max(math.Sqrt(nn0), 1e-7), math.Max(math.Sqrt(nn1), 1e-7)
		for k := 0; k < length; k++ {
			e := start + k*stride
			dot += v0[e] / nn0 * v1[e] / nn1
		}
		theta := math.Acos(math.Max(-1, math.Min(1, dot)))
		sinT := math.Sin(theta)
		for k := 0; k < length; k++ {
			e := start + k*stride
			if math.Abs(sinT) < 1e-8 {
				res[e] = (1-t)*v0[e] + t*v1[e]
			} else {
				res[e] = (math.Sin((1-t)*theta)*v0[e] + math.Sin(t*theta)*v1[e]) / sinT
			}
		}
	}
	for e := range out {
		if j.base >= 0 {
			res[e] += float64(xs[j.base][e])
		}
		out[e] = j.r(float32(res[e]))
	}
	return nil
}

// mergeModelStock is Model Stock: t = N·c/(1+(N−1)·c) from the mean pairwise
// cosine c of the task vectors, result t·mean(xᵢ) + (1−t)·base, over the
// whole tensor or (filter_wise) per row.
func mergeModelStock(j *job, out []float32) error {
	if j.base < 0 {
		return fmt.Errorf("%s: model_stock needs a base_model", j.name)
	}
	xs, shape, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	b := xs[j.base]
	var others [][]float32
	for i, x := range xs {
		if i != j.base {
			others = append(others, x)
		}
	}
	if len(others) == 0 {
		copy(out, b)
		return nil
	}
	if len(others) < 2 {
		return fmt.Errorf("%s: model_stock requires at least 3 models (base plus two or more others), got %d", j.name, len(xs))
	}
	n := len(out)
	rowLen := n
	if j.global.bool("filter_wise") && len(shape) >= 1 && n > 0 {
		rowLen = shape[len(shape)-1]
	}
	N := float64(len(others))
	for r0 := 0; r0 < n; r0 += max(rowLen, 1) {
		r1 := r0 + rowLen
		var csum float64
		pairs := 0
		for a := 0; a < len(others); a++ {
			for c := a + 1; c < len(others); c++ {
				var dot, na, nc float64
				for e := r0; e < r1; e++ {
					oa, oc := float64(others[a][e]-b[e]), float64(others[c][e]-b[e])
					dot += oa * oc
					na += oa * oa
					nc += oc * oc
				}
				cos := dot / math.Max(math.Sqrt(na)*math.Sqrt(nc), 1e-6)
				csum += math.Max(-1, math.Min(1, cos))
				pairs++
			}
		}
		c := csum / float64(pairs)
		t := N * c / (1 + (N-1)*c)
		for e := r0; e < r1; e++ {
			var mean float64
			for _, x := range others {
				mean += float64(x[e])
			}
			mean /= N
			out[e] = j.r(float32(t*mean + (1-t)*float64(b[e])))
		}
		if rowLen == 0 {
			break
		}
	}
	return nil
}

// mergeKarcher is the Karcher (Riemannian) mean of the inputs' directions on
// the unit sphere, scaled by their mean norm. Every input, a configured base
// included, has equal weight.
func mergeKarcher(j *job, out []float32) error {
	xs, _, err := sameShapeInputs(j)
	if err != nil {
		return err
	}
	maxIter := int(j.global["max_iter"])
	tol := j.global["tol"]
	K := float64(len(xs))
	n := len(out)
	norms := make([]float64, len(xs))
	var valid []int
	var scale float64
	for i, x := range xs {
		norms[i] = norm2(x)
		scale += norms[i] / K
		if norms[i] > tol {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 {
		clear(out)
		return nil
	}
	alpha := 1 / float64(len(valid))
	unit := func(i, e int) float64 { return float64(xs[i][e]) / norms[i] }
	u := make([]float64, n)
	for _, i := range valid {
		for e := range u {
			u[e] += alpha * unit(i, e)
		}
	}
	if nu := norm64(u); nu < tol {
		for e := range u {
			u[e] = unit(valid[0], e)
		}
	} else {
		for e := range u {
			u[e] /= nu
		}
	}
	T := make([]float64, n)
	for it := 0; it < maxIter; it++ {
		clear(T)
		for _, i := range valid {
			var c float64
			for e := range u {
				c += u[e] * unit(i, e)
			}
			c = math.Max(-1, math.Min(1, c))
			theta := math.Acos(c)
			if theta < tol {
				continue
			}
			f := alpha * theta / math.Sin(theta)
			for e := range T {
				T[e] += f * (unit(i, e) - c*u[e])
			}
		}
		nt := norm64(T)
		if nt < tol {
			break
		}
		cs, sn := math.Cos(nt), math.Sin(nt)
		for e := range u {
			u[e] = cs*u[e] + sn*T[e]/nt
		}
		if nu := norm64(u); nu > tol {
			for e := range u {
				u[e] /= nu
			}
		}
	}
	for e := range out {
		out[e] = j.r(float32(scale * u[e]))
	}
	return nil
}

func norm64(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

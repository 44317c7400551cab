package merge

import "math"

// maxTiesModels bounds the fused TIES path, whose weight table has 2^M
// entries; more models take the general path (same results, more memory).
const maxTiesModels = 12

// forceGeneral lets tests run the general path where the fused one applies.
var forceGeneral = false

// tiesSub is the sub-block tiesBlock stages its per-model values in: small
// enough for L1, large enough to amortise the per-model loops.
const tiesSub = 512

// tiesBlock computes TIES for one block. Per sub-block it runs one simple
// loop per model (few live values, so no register spills): pass A stores
// each model's kept weighted delta and sums them in model order (the sign of
// the sum is the consensus, summed as torch sums the stacked deltas); pass B
// adds the deltas agreeing with the consensus and records which models
// agreed as a bit pattern, which indexes scale (lambda over the sum of their
// weights, see tiesScaleTable). The keep and
// sign decisions are branch-free bit arithmetic, since random data would
// defeat branch prediction; only exact ties at a threshold branch.
func tiesBlock(out, b []float32, xs [][]float32, ws []float32, thr []int32, q []int, scale []float32) {
	const signBit = 1 << 31
	var vb [maxTiesModels][tiesSub]uint32
	var sum [tiesSub]float32
	var el tiesElection
	for lo := 0; lo < len(out); lo += tiesSub {
		hi := min(lo+tiesSub, len(out))
		n := hi - lo
		bb := b[lo:hi]
		clear(sum[:n])
		for i, x := range xs {
			x := x[lo:hi]
			v := vb[i][:len(x)]
			s := sum[:len(x)]
			bb := bb[:len(x)]
			w, t, qi := ws[i], thr[i], q[i]
			for e := range v {
				d := x[e] - bb[e]
				k := math.Float32bits(d) &^ signBit
				m := keepMask(k, t)
				if int32(k) == t && qi != 0 {
					qi--
					m = ^uint32(0)
				}
				r := math.Float32bits(w*d) & m
				v[e] = r
				s[e] += math.Float32frombits(r)
			}
			q[i] = qi
		}
		el.elect(out[lo:hi], bb, &vb, len(xs), &sum, scale)
	}
}

// tiesElection is the scratch of tiesElect, kept by its caller across
// sub-blocks so that no call zeroes more than it uses.
type tiesElection struct {
	mixed   [tiesSub]float32
	ms, pat [tiesSub]uint32
}

// elect finishes one sub-block of a TIES-family merge, whose n = len(out)
// elements have every model's weighted term in vb (float32 bits, a row per
// model) and their sum in sum: the consensus sign of each element is the
// sum's (±0 counts as +), the terms that agree with it are added, and
// out[e] = b[e] + that sum × scale[the bit pattern of the agreeing models]
// (see tiesScaleTable). Branch-free, as random data would defeat branch
// prediction.
func (t *tiesElection) elect(out, b []float32, vb *[maxTiesModels][tiesSub]uint32, models int, sum *[tiesSub]float32, scale []float32) {
	const signBit = 1 << 31
	n := len(out)
	clear(t.mixed[:n])
	clear(t.pat[:n])
	for e, s := range sum[:n] {
		// 1 when the consensus is negative (±0 counts as +).
		sb := math.Float32bits(s)
		t.ms[e] = sb >> 31 & (((sb &^ signBit) + 0x7fffffff) >> 31)
	}
	mixed := t.mixed[:n]
	for i := range models {
		v := vb[i][:n]
		mm, mx, pt := t.ms[:n], mixed, t.pat[:n]
		for e, r := range v {
			nz := ((r &^ signBit) + 0x7fffffff) >> 31
			agree := nz & (1 ^ (r>>31 ^ mm[e]))
			mx[e] += math.Float32frombits(r & -agree)
			pt[e] |= agree << i
		}
	}
	pat := t.pat[:n]
	b = b[:n]
	for e := range out {
		out[e] = b[e] + mixed[e]*scale[pat[e]]
	}
}

// tiesScaleTable returns, for every subset of models (bit i = model i) that
// agrees with the consensus, the factor applied to their summed deltas:
// lambda divided by the sum of their weights (summed in model order, an
// empty or zero sum replaced by 1, as mergekit does) when normalizing, else
// lambda. Multiplying by it instead of dividing per element changes results
// by at most an ulp.
func tiesScaleTable(ws []float32, normalize bool, lambda float32) []float32 {
	t := make([]float32, 1<<len(ws))
	for bits := range t {
		if !normalize {
			t[bits] = lambda
			continue
		}
		var s float32
		for i, w := range ws {
			if bits>>i&1 == 1 {
				s += w
			}
		}
		if s == 0 {
			s = 1
		}
		t[bits] = lambda / s
	}
	return t
}

// keepMask is all ones when magnitude bits k pass threshold thr (k > thr),
// else zero, computed without a branch: random data would mispredict one.
func keepMask(k uint32, thr int32) uint32 { return uint32((thr - int32(k)) >> 31) }

// addScaledDiff does acc += w·(x − b), unrolled by four.
func addScaledDiff(acc, x, b []float32, w float32) {
	n := len(acc)
	x, b = x[:n], b[:n]
	e := 0
	for ; e+4 <= n; e += 4 {
		a := acc[e : e+4 : e+4]
		xx := x[e : e+4 : e+4]
		bx := b[e : e+4 : e+4]
		a[0] += w * (xx[0] - bx[0])
		a[1] += w * (xx[1] - bx[1])
		a[2] += w * (xx[2] - bx[2])
		a[3] += w * (xx[3] - bx[3])
	}
	for ; e < n; e++ {
		acc[e] += w * (x[e] - b[e])
	}
}

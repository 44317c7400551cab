package merge

import "math"

// Float32 DARE (dare_linear, dare_ties): each model's keep mask is drawn as
// bits, 64 elements at a time, and the merge runs from those bits. With the
// L1 rescale (the default) the masks are drawn in the pass that sums the
// norms and kept for the merge pass (an eighth of a float32 tensor per
// model); without it they are drawn in the merge pass.
//
// Why it is built this way: the rescale factor ‖d‖₁/‖d·mask‖₁ of a whole
// tensor is needed before its first element can be merged, so DARE reads
// its inputs twice where task arithmetic reads them once, and both passes
// must cost little more than the reads. Drawing a 32-bit uniform per
// element (two per SplitMix64 output) and summing into one float32 chain
// made the norm pass alone cost more than a whole task-arithmetic merge,
// and the sign election per element cost as much again. Now the bit-sliced
// draw below needs about 7 outputs per 64 elements, the sums run in eight
// independent lanes, and on AVX2 machines both passes run eight elements
// per instruction (dare_amd64.s) with the same results as the Go kernels.

// bernoulliWord returns 64 keep bits, each set with probability thr/2³²,
// from the SplitMix64 stream at *s. It is exactly the comparison U < thr of
// a 32-bit uniform U per element, done bit-sliced: the j-th output of the
// stream supplies bit 31−j of all 64 elements' U at once (U's bits from the
// most significant down), and an element is decided at the first bit where
// its U differs from thr. Bits are drawn only while some element is still
// undecided and a set bit of thr remains (an element whose U equals thr's
// leading bits and whose remaining thr bits are zero has U ≥ thr), so a
// word takes about log₂64 + 1.3 ≈ 7.3 outputs on average, and one for
// density 0.5.
func bernoulliWord(s *uint64, thr uint32) uint64 {
	var keep uint64
	und := ^uint64(0) // elements whose U so far equals thr's leading bits
	rem := thr        // thr's bits not yet compared
	for bit := uint32(1) << 31; und != 0 && rem != 0; bit >>= 1 {
		r := splitmixNext(s)
		if rem&bit != 0 {
			keep |= und &^ r // U's bit 0 where thr's is 1: U < thr
			und &= r
			rem &^= bit
		} else {
			und &^= r // U's bit 1 where thr's is 0: U > thr
		}
	}
	return keep
}

// splitmixNext advances the SplitMix64 state *s and returns its output.
func splitmixNext(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bernoulliMask sets mask[e] (all ones: keep) with probability thr/2³²
// from the stream seeded by seed: the same draws, word by word, as
// dareWords, so the general path and the fused kernels keep the same
// elements.
func bernoulliMask(seed uint64, thr uint32, mask []uint32) {
	s := seed
	for w0 := 0; w0 < len(mask); w0 += 64 {
		word := bernoulliWord(&s, thr)
		m := mask[w0:min(len(mask), w0+64)]
		for e := range m {
			m[e] = -uint32(word >> e & 1)
		}
	}
}

// dareFused reports whether the float32 DARE kernels apply: float32
// arithmetic, every pruned model random (no recorded masks injected).
func (j *job) dareFused(tvs []*tvState) bool {
	if j.half() || j.masks != nil {
		return false
	}
	any := false
	for _, tv := range tvs {
		switch {
		case tv.keepNo:
			return false
		case tv.sparse == sparseRandom:
			any = true
		case tv.sparse != sparseNone:
			return false
		}
	}
	return any
}

// dareWords draws model tv's keep mask for elements [lo, hi) (lo a
// multiple of selChunk) as bits into words, from the stream of each chunk
// (see streamSeed); the bits of a last partial word past hi are zero.
func (j *job) dareWords(tv *tvState, lo, hi int, words []uint64) {
	for c := lo; c < hi; c += selChunk {
		ce := min(hi, c+selChunk)
		s := j.streamSeed(tv.in, c/selChunk)
		for w0 := c; w0 < ce; w0 += 64 {
			word := bernoulliWord(&s, tv.thr)
			if k := ce - w0; k < 64 {
				word &= 1<<k - 1
			}
			words[(w0-lo)>>6] = word
		}
	}
}

// dareSums returns Σ|x−b| and the sum over the elements whose bit is set in
// words. Each 64-element word is summed in float32 in eight lanes (lane l
// takes elements l, l+8, …, l+56 in order), the lanes are added as
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), and the words' sums are added in
// float64 in order. This is the order of the AVX2 kernel, which computes
// the same sums bit for bit, so the rescale factor does not depend on the
// machine; the independent lanes also keep the adds from waiting on each
// other.
func dareSums(x, b []float32, words []uint64) (all, kept float64) {
	n := len(x)
	b = b[:n]
	lo := 0
	if dareSumsWords != nil && n >= 64 {
		dareSumsWords(x[:n/64*64], b[:n/64*64], words[:n/64], &all, &kept)
		lo = n / 64 * 64
	}
	for ; lo < n; lo += 64 {
		a, k := dareWordSums(x[lo:min(n, lo+64)], b[lo:min(n, lo+64)], words[lo>>6])
		all += float64(a)
		kept += float64(k)
	}
	return all, kept
}

// dareWordSums is dareSums for up to 64 elements and their mask word, in
// float32.
func dareWordSums(x, b []float32, k uint64) (all, kept float32) {
	if len(x) == 64 {
		return laneSum(x, b, ^uint64(0)), laneSum(x, b, k)
	}
	const signBit = 1 << 31
	var a, kp [8]float32
	b = b[:len(x)]
	for e, v := range x {
		d := math.Float32bits(v-b[e]) &^ signBit
		a[e&7] += math.Float32frombits(d)
		kp[e&7] += math.Float32frombits(d & -uint32(k>>(e&63)&1))
	}
	return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])),
		((kp[0] + kp[4]) + (kp[2] + kp[6])) + ((kp[1] + kp[5]) + (kp[3] + kp[7]))
}

// laneSum is Σ|x−b| over the 64 elements whose bit is set in k, in the
// lanes and order of dareSums, with the lanes in registers.
func laneSum(x, b []float32, k uint64) float32 {
	const signBit = 1 << 31
	x, b = x[:64], b[:64]
	var l0, l1, l2, l3, l4, l5, l6, l7 float32
	for e := 0; e < 64; e += 8 {
		xv, bv := (*[8]float32)(x[e:e+8]), (*[8]float32)(b[e:e+8])
		l0 += math.Float32frombits(math.Float32bits(xv[0]-bv[0]) &^ signBit & -uint32(k&1))
		l1 += math.Float32frombits(math.Float32bits(xv[1]-bv[1]) &^ signBit & -uint32(k>>1&1))
		l2 += math.Float32frombits(math.Float32bits(xv[2]-bv[2]) &^ signBit & -uint32(k>>2&1))
		l3 += math.Float32frombits(math.Float32bits(xv[3]-bv[3]) &^ signBit & -uint32(k>>3&1))
		l4 += math.Float32frombits(math.Float32bits(xv[4]-bv[4]) &^ signBit & -uint32(k>>4&1))
		l5 += math.Float32frombits(math.Float32bits(xv[5]-bv[5]) &^ signBit & -uint32(k>>5&1))
		l6 += math.Float32frombits(math.Float32bits(xv[6]-bv[6]) &^ signBit & -uint32(k>>6&1))
		l7 += math.Float32frombits(math.Float32bits(xv[7]-bv[7]) &^ signBit & -uint32(k>>7&1))
		k >>= 8
	}
	return ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
}

// dareTiesWords, when set (AVX2), is gtaBitsF32 with sign consensus for
// two or three models over whole words (len(out) a multiple of 64).
var dareTiesWords func(out, b []float32, xs [][]float32, words [][]uint64, ws, fs, scale []float32)

// dareSumsWords, when set (AVX2), is dareSums over whole words: it adds
// each word's sums to *all and *kept in order.
var dareSumsWords func(x, b []float32, words []uint64, all, kept *float64)

// onesWords stands in for the mask of a model that prunes nothing.
var onesWords = func() []uint64 {
	w := make([]uint64, blockLen/64)
	for i := range w {
		w[i] = ^uint64(0)
	}
	return w
}()

// dareTerm is one model's kept, rescaled and weighted delta as float32 bits
// (zero when its mask bit k&1 is clear), rounded after each product as
// torch rounds them.
func dareTerm(x, b, f, w float32, k uint64) uint32 {
	return math.Float32bits(float32(float32((x-b)*f)*w)) & -uint32(k&1)
}

// signOf is the sign bit of the consensus sum s. A sum of ±0 terms that is
// −0 counts as + in mergekit, but then no term is nonzero, so none agrees
// whichever sign is used.
func signOf(s float32) uint32 { return math.Float32bits(s) & (1 << 31) }

// agreeMask is all ones when term r is nonzero and has the consensus sign
// sgn (its sign bit): r with sgn cleared is then a positive int32.
func agreeMask(r, sgn uint32) uint32 {
	q := r ^ sgn
	return uint32(int32(-q&^q) >> 31)
}

// gtaBitsF32 merges one float32 block of a DARE merge: each model's delta
// x − b is kept where its mask bit is set (bits nil: every element),
// rescaled and weighted with a rounding after each product, then summed
// with sign consensus (scale table) or plainly (sumScale), as gtaMaskedF32.
// With consensus and up to four models each element is computed in one
// step with every model in registers; otherwise per sub-block and model.
func gtaBitsF32(out, b []float32, xs [][]float32, bits [][]uint64, ws, fs []float32, scale []float32, sumScale float32) {
	if m := len(xs); scale != nil && m <= 4 {
		var words [4][]uint64
		var ys [4][]float32
		for i := range xs {
			words[i], ys[i] = bits[i], xs[i]
			if words[i] == nil {
				words[i] = onesWords
			}
		}
		lo := 0
		if dareTiesWords != nil && (m == 2 || m == 3) {
			lo = len(out) / 64 * 64
			dareTiesWords(out[:lo], b, ys[:m], words[:m], ws, fs, scale)
			for i := range m {
				ys[i], words[i] = xs[i][lo:], words[i][lo/64:]
			}
		}
		out, b = out[lo:], b[lo:]
		switch m {
		case 1:
			daresTies1(out, b, ys[0], words[0], ws[0], fs[0], scale)
		case 2:
			daresTies2(out, b, ys[:m], words[:m], ws, fs, scale)
		case 3:
			daresTies3(out, b, ys[:m], words[:m], ws, fs, scale)
		case 4:
			daresTies4(out, b, ys[:m], words[:m], ws, fs, scale)
		}
		return
	}
	gtaBitsStaged(out, b, xs, bits, ws, fs, scale, sumScale)
}

// daresTies1..4 are gtaBitsF32 with sign consensus for one to four models,
// one 64-element mask word per model at a time. Terms and the consensus
// sum are added in model order, as torch sums the stacked tensors.
func daresTies1(out, b, x0 []float32, m0 []uint64, w0, f0 float32, scale []float32) {
	n := len(out)
	b, x0 = b[:n], x0[:n]
	scale = scale[:2]
	for lo := 0; lo < n; lo += 64 {
		hi := min(n, lo+64)
		k0 := m0[lo>>6]
		o, bb, y0 := out[lo:hi], b[lo:hi], x0[lo:hi]
		for e := range o {
			be := bb[e]
			r0 := dareTerm(y0[e], be, f0, w0, k0)
			k0 >>= 1
			a0 := agreeMask(r0, r0&(1<<31))
			o[e] = be + math.Float32frombits(r0&a0)*scale[a0&1]
		}
	}
}

func daresTies2(out, b []float32, xs [][]float32, m [][]uint64, ws, fs []float32, scale []float32) {
	n := len(out)
	b, x0, x1 := b[:n], xs[0][:n], xs[1][:n]
	w0, w1, f0, f1 := ws[0], ws[1], fs[0], fs[1]
	m0, m1 := m[0], m[1]
	scale = scale[:4]
	for lo := 0; lo < n; lo += 64 {
		hi := min(n, lo+64)
		k0, k1 := m0[lo>>6], m1[lo>>6]
		o, bb, y0, y1 := out[lo:hi], b[lo:hi], x0[lo:hi], x1[lo:hi]
		for e := range o {
			be := bb[e]
			r0 := dareTerm(y0[e], be, f0, w0, k0)
			r1 := dareTerm(y1[e], be, f1, w1, k1)
			k0, k1 = k0>>1, k1>>1
			sgn := signOf(math.Float32frombits(r0) + math.Float32frombits(r1))
			a0, a1 := agreeMask(r0, sgn), agreeMask(r1, sgn)
			mixed := math.Float32frombits(r0&a0) + math.Float32frombits(r1&a1)
			o[e] = be + mixed*scale[a0&1|a1&2]
		}
	}
}

func daresTies3(out, b []float32, xs [][]float32, m [][]uint64, ws, fs []float32, scale []float32) {
	n := len(out)
	b, x0, x1, x2 := b[:n], xs[0][:n], xs[1][:n], xs[2][:n]
	w0, w1, w2, f0, f1, f2 := ws[0], ws[1], ws[2], fs[0], fs[1], fs[2]
	m0, m1, m2 := m[0], m[1], m[2]
	scale = scale[:8]
	for lo := 0; lo < n; lo += 64 {
		hi := min(n, lo+64)
		k0, k1, k2 := m0[lo>>6], m1[lo>>6], m2[lo>>6]
		o, bb, y0, y1, y2 := out[lo:hi], b[lo:hi], x0[lo:hi], x1[lo:hi], x2[lo:hi]
		for e := range o {
			be := bb[e]
			r0 := dareTerm(y0[e], be, f0, w0, k0)
			r1 := dareTerm(y1[e], be, f1, w1, k1)
			r2 := dareTerm(y2[e], be, f2, w2, k2)
			k0, k1, k2 = k0>>1, k1>>1, k2>>1
			sgn := signOf(math.Float32frombits(r0) + math.Float32frombits(r1) + math.Float32frombits(r2))
			a0, a1, a2 := agreeMask(r0, sgn), agreeMask(r1, sgn), agreeMask(r2, sgn)
			mixed := math.Float32frombits(r0&a0) + math.Float32frombits(r1&a1) + math.Float32frombits(r2&a2)
			o[e] = be + mixed*scale[a0&1|a1&2|a2&4]
		}
	}
}

func daresTies4(out, b []float32, xs [][]float32, m [][]uint64, ws, fs []float32, scale []float32) {
	n := len(out)
	b, x0, x1, x2, x3 := b[:n], xs[0][:n], xs[1][:n], xs[2][:n], xs[3][:n]
	w0, w1, w2, w3, f0, f1, f2, f3 := ws[0], ws[1], ws[2], ws[3], fs[0], fs[1], fs[2], fs[3]
	m0, m1, m2, m3 := m[0], m[1], m[2], m[3]
	scale = scale[:16]
	for lo := 0; lo < n; lo += 64 {
		hi := min(n, lo+64)
		k0, k1, k2, k3 := m0[lo>>6], m1[lo>>6], m2[lo>>6], m3[lo>>6]
		o, bb, y0, y1, y2, y3 := out[lo:hi], b[lo:hi], x0[lo:hi], x1[lo:hi], x2[lo:hi], x3[lo:hi]
		for e := range o {
			be := bb[e]
			r0 := dareTerm(y0[e], be, f0, w0, k0)
			r1 := dareTerm(y1[e], be, f1, w1, k1)
			r2 := dareTerm(y2[e], be, f2, w2, k2)
			r3 := dareTerm(y3[e], be, f3, w3, k3)
			k0, k1, k2, k3 = k0>>1, k1>>1, k2>>1, k3>>1
			sgn := signOf(math.Float32frombits(r0) + math.Float32frombits(r1) + math.Float32frombits(r2) + math.Float32frombits(r3))
			a0, a1, a2, a3 := agreeMask(r0, sgn), agreeMask(r1, sgn), agreeMask(r2, sgn), agreeMask(r3, sgn)
			mixed := math.Float32frombits(r0&a0) + math.Float32frombits(r1&a1) + math.Float32frombits(r2&a2) + math.Float32frombits(r3&a3)
			o[e] = be + mixed*scale[a0&1|a1&2|a2&4|a3&8]
		}
	}
}

// gtaBitsStaged is gtaBitsF32 for any number of models: per sub-block, one
// loop per model stores its term and adds it to the consensus sum, then one
// loop per model adds the agreeing terms (as tiesBlock); without consensus
// the terms are summed plainly.
func gtaBitsStaged(out, b []float32, xs [][]float32, bits [][]uint64, ws, fs []float32, scale []float32, sumScale float32) {
	const signBit = 1 << 31
	var vb [maxTiesModels][tiesSub]uint32
	var sum [tiesSub]float32
	var el tiesElection
	if scale == nil {
		clear(out)
		for i, x := range xs {
			w, f, bw := ws[i], fs[i], bits[i]
			x := x[:len(out)]
			for e, v := range x {
				r := math.Float32bits(float32(float32((v-b[e])*f) * w))
				if bw != nil {
					r &= -uint32(bw[e>>6] >> (e & 63) & 1)
				}
				out[e] += math.Float32frombits(r)
			}
		}
		for e := range out {
			out[e] = b[e] + out[e]*sumScale
		}
		return
	}
	for lo := 0; lo < len(out); lo += tiesSub {
		hi := min(lo+tiesSub, len(out))
		n := hi - lo
		clear(sum[:n])
		bb := b[lo:hi]
		for i, x := range xs {
			x := x[lo:hi]
			v := vb[i][:n]
			s := sum[:n]
			w, f := ws[i], fs[i]
			if bw := bits[i]; bw != nil {
				words := bw[lo>>6:]
				for e := range v {
					r := math.Float32bits(float32(float32((x[e]-bb[e])*f)*w)) & -uint32(words[e>>6]>>(e&63)&1)
					v[e] = r
					s[e] += math.Float32frombits(r)
				}
			} else {
				for e := range v {
					r := math.Float32bits(float32(float32((x[e]-bb[e])*f) * w))
					v[e] = r
					s[e] += math.Float32frombits(r)
				}
			}
		}
		el.elect(out[lo:hi], bb, &vb, len(xs), &sum, scale)
	}
}

// This file unrolls tiesBlock (gta_fast.go) for 2, 3 and 4 models, so their
// deltas stay in registers; keep the variants in step with tiesBlock.

package merge

import "math"

// tiesBlock2 is tiesBlock unrolled for 2 models (generated; see tiesBlock).
func tiesBlock2(out, b []float32, xs [][]float32, ws []float32, thr []int32, q []int, normalize bool, lambda float32, divTable []float32) {
	const signBit = 1 << 31
	n := len(out)
	b = b[:n]
	x0, w0, t0, q0 := xs[0][:n], ws[0], thr[0], q[0]
	x1, w1, t1, q1 := xs[1][:n], ws[1], thr[1], q[1]
	for e := range out {
		bb := b[e]
		d0 := x0[e] - bb
		k0 := math.Float32bits(d0) &^ signBit
		m0 := keepMask(k0, t0)
		if int32(k0) == t0 && q0 != 0 {
			q0--
			m0 = ^uint32(0)
		}
		v0 := math.Float32bits(w0*d0) & m0
		s0 := v0 >> 31
		nz0 := ((v0 &^ signBit) + 0x7fffffff) >> 31
		d1 := x1[e] - bb
		k1 := math.Float32bits(d1) &^ signBit
		m1 := keepMask(k1, t1)
		if int32(k1) == t1 && q1 != 0 {
			q1--
			m1 = ^uint32(0)
		}
		v1 := math.Float32bits(w1*d1) & m1
		s1 := v1 >> 31
		nz1 := ((v1 &^ signBit) + 0x7fffffff) >> 31
		sum := math.Float32frombits(v0) + math.Float32frombits(v1)
		pos := math.Float32frombits(v0&-(s0^1)) + math.Float32frombits(v1&-(s1^1))
		neg := math.Float32frombits(v0&-s0) + math.Float32frombits(v1&-s1)
		posBits := (nz0&^s0)<<0 | (nz1&^s1)<<1
		negBits := (nz0&s0)<<0 | (nz1&s1)<<1
		sb := math.Float32bits(sum)
		sel := -(sb >> 31 & (((sb &^ signBit) + 0x7fffffff) >> 31))
		mixed := math.Float32frombits(math.Float32bits(pos)&^sel | math.Float32bits(neg)&sel)
		if normalize {
			mixed /= divTable[(posBits&^sel|negBits&sel)&(1<<2-1)]
		}
		out[e] = bb + mixed*lambda
	}
}

// tiesBlock3 is tiesBlock unrolled for 3 models (generated; see tiesBlock).
func tiesBlock3(out, b []float32, xs [][]float32, ws []float32, thr []int32, q []int, normalize bool, lambda float32, divTable []float32) {
	const signBit = 1 << 31
	n := len(out)
	b = b[:n]
	x0, w0, t0, q0 := xs[0][:n], ws[0], thr[0], q[0]
	x1, w1, t1, q1 := xs[1][:n], ws[1], thr[1], q[1]
	x2, w2, t2, q2 := xs[2][:n], ws[2], thr[2], q[2]
	for e := range out {
		bb := b[e]
		d0 := x0[e] - bb
		k0 := math.Float32bits(d0) &^ signBit
		m0 := keepMask(k0, t0)
		if int32(k0) == t0 && q0 != 0 {
			q0--
			m0 = ^uint32(0)
		}
		v0 := math.Float32bits(w0*d0) & m0
		s0 := v0 >> 31
		nz0 := ((v0 &^ signBit) + 0x7fffffff) >> 31
		d1 := x1[e] - bb
		k1 := math.Float32bits(d1) &^ signBit
		m1 := keepMask(k1, t1)
		if int32(k1) == t1 && q1 != 0 {
			q1--
			m1 = ^uint32(0)
		}
		v1 := math.Float32bits(w1*d1) & m1
		s1 := v1 >> 31
		nz1 := ((v1 &^ signBit) + 0x7fffffff) >> 31
		d2 := x2[e] - bb
		k2 := math.Float32bits(d2) &^ signBit
		m2 := keepMask(k2, t2)
		if int32(k2) == t2 && q2 != 0 {
			q2--
			m2 = ^uint32(0)
		}
		v2 := math.Float32bits(w2*d2) & m2
		s2 := v2 >> 31
		nz2 := ((v2 &^ signBit) + 0x7fffffff) >> 31
		sum := math.Float32frombits(v0) + math.Float32frombits(v1) + math.Float32frombits(v2)
		pos := math.Float32frombits(v0&-(s0^1)) + math.Float32frombits(v1&-(s1^1)) + math.Float32frombits(v2&-(s2^1))
		neg := math.Float32frombits(v0&-s0) + math.Float32frombits(v1&-s1) + math.Float32frombits(v2&-s2)
		posBits := (nz0&^s0)<<0 | (nz1&^s1)<<1 | (nz2&^s2)<<2
		negBits := (nz0&s0)<<0 | (nz1&s1)<<1 | (nz2&s2)<<2
		sb := math.Float32bits(sum)
		sel := -(sb >> 31 & (((sb &^ signBit) + 0x7fffffff) >> 31))
		mixed := math.Float32frombits(math.Float32bits(pos)&^sel | math.Float32bits(neg)&sel)
		if normalize {
			mixed /= divTable[(posBits&^sel|negBits&sel)&(1<<3-1)]
		}
		out[e] = bb + mixed*lambda
	}
}

// tiesBlock4 is tiesBlock unrolled for 4 models (generated; see tiesBlock).
func tiesBlock4(out, b []float32, xs [][]float32, ws []float32, thr []int32, q []int, normalize bool, lambda float32, divTable []float32) {
	const signBit = 1 << 31
	n := len(out)
	b = b[:n]
	x0, w0, t0, q0 := xs[0][:n], ws[0], thr[0], q[0]
	x1, w1, t1, q1 := xs[1][:n], ws[1], thr[1], q[1]
	x2, w2, t2, q2 := xs[2][:n], ws[2], thr[2], q[2]
	x3, w3, t3, q3 := xs[3][:n], ws[3], thr[3], q[3]
	for e := range out {
		bb := b[e]
		d0 := x0[e] - bb
		k0 := math.Float32bits(d0) &^ signBit
		m0 := keepMask(k0, t0)
		if int32(k0) == t0 && q0 != 0 {
			q0--
			m0 = ^uint32(0)
		}
		v0 := math.Float32bits(w0*d0) & m0
		s0 := v0 >> 31
		nz0 := ((v0 &^ signBit) + 0x7fffffff) >> 31
		d1 := x1[e] - bb
		k1 := math.Float32bits(d1) &^ signBit
		m1 := keepMask(k1, t1)
		if int32(k1) == t1 && q1 != 0 {
			q1--
			m1 = ^uint32(0)
		}
		v1 := math.Float32bits(w1*d1) & m1
		s1 := v1 >> 31
		nz1 := ((v1 &^ signBit) + 0x7fffffff) >> 31
		d2 := x2[e] - bb
		k2 := math.Float32bits(d2) &^ signBit
		m2 := keepMask(k2, t2)
		if int32(k2) == t2 && q2 != 0 {
			q2--
			m2 = ^uint32(0)
		}
		v2 := math.Float32bits(w2*d2) & m2
		s2 := v2 >> 31
		nz2 := ((v2 &^ signBit) + 0x7fffffff) >> 31
		d3 := x3[e] - bb
		k3 := math.Float32bits(d3) &^ signBit
		m3 := keepMask(k3, t3)
		if int32(k3) == t3 && q3 != 0 {
			q3--
			m3 = ^uint32(0)
		}
		v3 := math.Float32bits(w3*d3) & m3
		s3 := v3 >> 31
		nz3 := ((v3 &^ signBit) + 0x7fffffff) >> 31
		sum := math.Float32frombits(v0) + math.Float32frombits(v1) + math.Float32frombits(v2) + math.Float32frombits(v3)
		pos := math.Float32frombits(v0&-(s0^1)) + math.Float32frombits(v1&-(s1^1)) + math.Float32frombits(v2&-(s2^1)) + math.Float32frombits(v3&-(s3^1))
		neg := math.Float32frombits(v0&-s0) + math.Float32frombits(v1&-s1) + math.Float32frombits(v2&-s2) + math.Float32frombits(v3&-s3)
		posBits := (nz0&^s0)<<0 | (nz1&^s1)<<1 | (nz2&^s2)<<2 | (nz3&^s3)<<3
		negBits := (nz0&s0)<<0 | (nz1&s1)<<1 | (nz2&s2)<<2 | (nz3&s3)<<3
		sb := math.Float32bits(sum)
		sel := -(sb >> 31 & (((sb &^ signBit) + 0x7fffffff) >> 31))
		mixed := math.Float32frombits(math.Float32bits(pos)&^sel | math.Float32bits(neg)&sel)
		if normalize {
			mixed /= divTable[(posBits&^sel|negBits&sel)&(1<<4-1)]
		}
		out[e] = bb + mixed*lambda
	}
}

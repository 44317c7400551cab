//go:build amd64 && !purego

package merge

import "golang.org/x/sys/cpu"

// The AVX2 forms of the float32 DARE kernels (dare_amd64.s), used when the
// CPU has AVX2. They compute what the Go kernels compute, bit for bit:
// the same float32 operations per element, and the norm sums in the same
// order (see dareSums). TestDareAVX2MatchesGo checks it.

//go:noescape
func dareSumsAVX2(x, b *float32, words *uint64, nw int, all, kept *float64)

//go:noescape
func dareTies2AVX2(out, b, x0, x1 *float32, m0, m1 *uint64, n int, c *dareConsts)

//go:noescape
func dareTies3AVX2(out, b, x0, x1, x2 *float32, m0, m1, m2 *uint64, n int, c *dareConsts)

// dareConsts are the per-model factors of dareTies2AVX2 and dareTies3AVX2,
// each repeated in eight lanes, and the consensus scale table.
type dareConsts struct {
	w, f  [3][8]float32
	scale [8]float32
}

func init() {
	if cpu.X86.HasAVX2 {
		dareSumsWords, dareTiesWords = dareSumsAVX2Slices, dareTiesAVX2Slices
	}
}

// dareSumsAVX2Slices is dareSumsWords on AVX2.
func dareSumsAVX2Slices(x, b []float32, words []uint64, all, kept *float64) {
	nw := len(words)
	if nw == 0 {
		return
	}
	x, b = x[:64*nw], b[:64*nw]
	dareSumsAVX2(&x[0], &b[0], &words[0], nw, all, kept)
}

// dareTiesAVX2Slices is dareTiesWords on AVX2 (two or three models).
func dareTiesAVX2Slices(out, b []float32, xs [][]float32, words [][]uint64, ws, fs, scale []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	var c dareConsts
	var xp [3]*float32
	var mp [3]*uint64
	for i := range xs {
		for l := range 8 {
			c.w[i][l], c.f[i][l] = ws[i], fs[i]
		}
		xp[i], mp[i] = &xs[i][:n][0], &words[i][:n/64][0]
	}
	b = b[:n]
	copy(c.scale[:], scale)
	switch len(xs) {
	case 2:
		dareTies2AVX2(&out[0], &b[0], xp[0], xp[1], mp[0], mp[1], n, &c)
	case 3:
		dareTies3AVX2(&out[0], &b[0], xp[0], xp[1], xp[2], mp[0], mp[1], mp[2], n, &c)
	}
}

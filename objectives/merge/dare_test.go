package merge

import (
	"math"
	"math/rand/v2"
	"testing"
)

// splitmixGammaInv is the inverse of SplitMix64's increment modulo 2⁶⁴, so
// (state after − state before)·inverse counts the outputs drawn.
var splitmixGammaInv = func() uint64 {
	g := uint64(0x9e3779b97f4a7c15)
	x := g // Newton's iteration for the inverse of an odd number mod 2⁶⁴
	for range 6 {
		x *= 2 - g*x
	}
	return x
}()

// TestBernoulliWordExact checks the bit-sliced draw against its definition:
// element e is kept exactly when the 32-bit number whose bits (most
// significant first) are bit e of the stream's successive outputs is below
// thr. It also checks the draw's cost, the reason it exists: about 7
// outputs per 64 elements (one at density 0.5), where a 32-bit uniform per
// element takes 32.
func TestBernoulliWordExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	thrs := []uint32{0, 1, 1 << 31, probThreshold(0.3), probThreshold(0.13), probThreshold(0.999), math.MaxUint32}
	for range 20 {
		thrs = append(thrs, rng.Uint32())
	}
	for _, thr := range thrs {
		s := rng.Uint64()
		const words = 2000
		total := 0
		for range words {
			s0 := s
			got := bernoulliWord(&s, thr)
			k := int((s - s0) * splitmixGammaInv)
			if k > 32 {
				t.Fatalf("thr %#x: %d outputs for one word", thr, k)
			}
			total += k
			r := make([]uint64, k)
			st := s0
			for i := range r {
				r[i] = splitmixNext(&st)
			}
			for e := range 64 {
				var u uint32
				for i := range k {
					u |= uint32(r[i]>>e&1) << (31 - i)
				}
				// Bits not drawn are unknown: kept iff every completion is
				// below thr, and the draw must have decided the element.
				lowAll := uint32(0)
				if k < 32 {
					lowAll = 1<<(32-k) - 1
				}
				want, decided := u|lowAll < thr, u >= thr || u|lowAll < thr
				if !decided {
					t.Fatalf("thr %#x: element %d left undecided after %d outputs", thr, e, k)
				}
				if kept := got>>e&1 == 1; kept != want {
					t.Fatalf("thr %#x: element %d kept=%v, want %v (U prefix %#x, %d bits)", thr, e, kept, want, u, k)
				}
			}
		}
		mean := float64(total) / words
		switch {
		case thr == 1<<31 && mean != 1:
			t.Errorf("density 0.5: %.2f outputs per word, want 1", mean)
		case mean > 9:
			t.Errorf("thr %#x: %.2f outputs per word, want about 7", thr, mean)
		}
	}
}

// TestDareAVX2MatchesGo checks the AVX2 DARE kernels against the Go ones
// bit for bit (merge and norm sums), on data with zeros of both signs,
// infinities, NaN, equal inputs and a partial last word.
func TestDareAVX2MatchesGo(t *testing.T) {
	if dareTiesWords == nil || dareSumsWords == nil {
		t.Skip("no AVX2 kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 64*37 + 13
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	mk := func(b []float32) []float32 {
		x := make([]float32, n)
		for e := range x {
			switch r := rng.IntN(50); {
			case r == 0:
				x[e] = special[rng.IntN(len(special))]
			case r < 5 && b != nil:
				x[e] = b[e]
			default:
				x[e] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for c, m := range []int{2, 3, 2, 3} {
		b := mk(nil)
		xs := make([][]float32, m)
		bits := make([][]uint64, m)
		ws := []float32{0.7, -0.4, 1.3}[:m]
		fs := []float32{1, 2.0000002, 1.7}[:m]
		for i := range xs {
			xs[i] = mk(b)
			bits[i] = make([]uint64, (n+63)/64)
			for w := range bits[i] {
				bits[i][w] = rng.Uint64()
			}
		}
		if c >= 2 {
			// Exact products and terms that cancel: the consensus sum
			// rounds differently in another association ((1e8 − 1e8) − 1
			// is −1, 1e8 + (−1e8 − 1) is 0).
			ws, fs = []float32{1, 1, 1}[:m], []float32{1, 1, 1}[:m]
			for e := 3; e < n; e += 7 {
				b[e] = 0
				for i, v := range []float32{1e8, -1e8, -1}[:m] {
					xs[i][e] = v
				}
			}
		}
		bits[m-1] = nil // a model that prunes nothing
		scale := tiesScaleTable(ws, true, 0.8)
		fast, slow := make([]float32, n), make([]float32, n)
		gtaBitsF32(fast, b, xs, bits, ws, fs, scale, 1)
		saved := dareTiesWords
		dareTiesWords = nil
		gtaBitsF32(slow, b, xs, bits, ws, fs, scale, 1)
		dareTiesWords = saved
		for e := range fast {
			if !same(fast[e], slow[e]) {
				t.Fatalf("%d models: element %d: AVX2 %v (%#x), Go %v (%#x)", m, e, fast[e], math.Float32bits(fast[e]), slow[e], math.Float32bits(slow[e]))
			}
		}
		for i := range m - 1 {
			fa, fk := dareSums(xs[i], b, bits[i])
			savedSums := dareSumsWords
			dareSumsWords = nil
			sa, sk := dareSums(xs[i], b, bits[i])
			dareSumsWords = savedSums
			if !(fa == sa || fa != fa && sa != sa) || !(fk == sk || fk != fk && sk != sk) {
				t.Fatalf("model %d: AVX2 sums %v, %v; Go %v, %v", i, fa, fk, sa, sk)
			}
		}
		// Finite data, so the sums are numbers to compare.
		for i := range xs[0] {
			if v := xs[0][i]; math.IsInf(float64(v), 0) || v != v {
				xs[0][i] = 1
			}
			if v := b[i]; math.IsInf(float64(v), 0) || v != v {
				b[i] = -1
			}
		}
		fa, fk := dareSums(xs[0], b, bits[0])
		savedSums := dareSumsWords
		dareSumsWords = nil
		sa, sk := dareSums(xs[0], b, bits[0])
		dareSumsWords = savedSums
		if fa != sa || fk != sk || fa == 0 || fk == 0 {
			t.Fatalf("finite sums: AVX2 %v, %v; Go %v, %v", fa, fk, sa, sk)
		}
	}
}

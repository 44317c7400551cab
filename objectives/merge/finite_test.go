package merge

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCountNonFinite checks the eight-at-a-time test against a plain count
// on slices of every length up to 40 with NaN, ±Inf and the extreme finite
// values at random places.
func TestCountNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0xffc00001)}
	good := []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1)), 0, 1}
	for n := 0; n <= 40; n++ {
		for trial := range 50 {
			x := make([]float32, n)
			wantN, wantFirst := 0, -1
			for e := range x {
				x[e] = good[rng.IntN(len(good))]
				if trial > 0 && rng.IntN(n+1) == 0 {
					x[e] = bad[rng.IntN(len(bad))]
					if wantN == 0 {
						wantFirst = e
					}
					wantN++
				}
			}
			if gotN, gotFirst := countNonFinite(x); gotN != wantN || gotFirst != wantFirst {
				t.Fatalf("%v: got %d non-finite (first %d), want %d (first %d)", x, gotN, gotFirst, wantN, wantFirst)
			}
		}
	}
}

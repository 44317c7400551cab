package merge

import (
	"fmt"
	"math"
	"sync"
)

// maxFastModels bounds the fused float32 path; more models use the general
// path (same results, more memory).
const maxFastModels = 64

// maxFastModelsOverride lets tests force the general path.
var maxFastModelsOverride = maxFastModels

var chunkPool = sync.Pool{New: func() any { b := make([]float32, 2*selChunk); return &b }}

// gtaFast is the fused float32 path for task arithmetic and TIES (magnitude
// pruning without rescale): one radix selection per model finds each
// magnitude threshold, then one pass over the inputs per block computes the
// deltas, keep masks, sign consensus and result without materialising any
// full-size temporary. Blocks run on all cores.
func gtaFast(j *job, b []float32, tvs []taskVector, out []float32) error {
	n := len(b)
	g := j.method.gta
	sels := make([]topK, len(tvs))
	sparse := make([]bool, len(tvs))
	if g.sparsify == sparseMagnitude {
		for i, tv := range tvs {
			density := tv.p["density"]
			if density >= 1 {
				continue
			}
			k := int(density * float64(n))
			if k <= 0 {
				return fmt.Errorf("%s: model %s: density %v keeps int(%v·%d) = 0 elements (mergekit refuses to zero out the whole tensor)", j.name, j.models[tv.model], density, density, n)
			}
			sels[i] = selectTopK(tv.x, b, k, j.workers)
			sparse[i] = true
		}
	}
	normalize := j.global.bool("normalize")
	lambda := float32(j.global["lambda"])
	var divAll float32
	for _, tv := range tvs {
		divAll += tv.w
	}
	if math.Abs(float64(divAll)) < 1e-8 {
		divAll = 1
	}
	parallelFor(n, selChunk, j.workers, func(c, lo, hi int) {
		bb := b[lo:hi]
		acc := out[lo:hi]
		clear(acc)
		if !g.consensus {
			for i, tv := range tvs {
				x := tv.x[lo:hi]
				w := tv.w
				if !sparse[i] {
					addScaledDiff(acc, x, bb, w)
					continue
				}
				s := sels[i]
				q := s.chunkQuota(c)
				for e := range acc {
					d := x[e] - bb[e]
					if k := absBits(d); k > s.thr || (k == s.thr && q != 0 && !s.none) {
						if k == s.thr {
							q--
						}
						acc[e] += w * d
					}
				}
			}
			scale := lambda
			for e := range acc {
				m := acc[e]
				if normalize {
					m /= divAll
				}
				acc[e] = bb[e] + m*scale
			}
			return
		}
		bufp := chunkPool.Get().(*[]float32)
		defer chunkPool.Put(bufp)
		mixed := (*bufp)[:len(acc)]
		div := (*bufp)[selChunk : selChunk+len(acc)]
		clear(mixed)
		clear(div)
		// Pass 1: the sign of the sum of kept weighted deltas (acc).
		// Pass 2: sum the deltas that agree with it, and their weights.
		for pass := 0; pass < 2; pass++ {
			for i, tv := range tvs {
				x := tv.x[lo:hi]
				w := tv.w
				s := sels[i]
				q := s.chunkQuota(c)
				for e := range acc {
					d := x[e] - bb[e]
					if sparse[i] {
						k := absBits(d)
						if s.none || k < s.thr || (k == s.thr && q == 0) {
							continue
						}
						if k == s.thr {
							q--
						}
					}
					v := w * d
					if pass == 0 {
						acc[e] += v
					} else if (acc[e] >= 0 && v > 0) || (acc[e] < 0 && v < 0) {
						mixed[e] += v
						div[e] += w
					}
				}
			}
		}
		for e := range acc {
			m := mixed[e]
			if normalize {
				d := div[e]
				if d == 0 {
					d = 1
				}
				m /= d
			}
			acc[e] = bb[e] + m*lambda
		}
	})
	return nil
}

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

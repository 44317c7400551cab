package merge

import "math"

// selChunk is the block size of the keep decision: ties at the threshold are
// shared out block by block in index order, so any pass over the same blocks
// (sequential or parallel) keeps exactly the same elements.
const selChunk = 1 << 15

// topK describes the k largest |x−base| of a tensor without sorting it: every
// element whose magnitude bits exceed thr is kept, and of those equal to thr
// the first quota[c] in block c (all of them when quota is nil). mergekit
// sorts every delta with argsort; a two-pass radix selection finds the same
// set in linear time. Ties at the threshold are kept lowest index first
// (mergekit's own tie order, from an unstable sort, is unspecified).
type topK struct {
	none  bool
	thr   uint32
	quota []int
}

func absBits(v float32) uint32 { return math.Float32bits(v) &^ (1 << 31) }

func magBits(x, base []float32, e int) uint32 {
	if base == nil {
		return absBits(x[e])
	}
	return absBits(x[e] - base[e])
}

// selectTopK selects the k largest |x−base| (|x| when base is nil).
// The ordering is by the float32 bit pattern of the magnitude, which is the
// numeric order for finite values and puts NaN above +Inf.
func selectTopK(x, base []float32, k, workers int) topK {
	n := len(x)
	if k <= 0 {
		return topK{none: true}
	}
	if k >= n {
		return topK{}
	}
	parts := max(1, min(workers, n/selChunk))
	partLen := (n + parts - 1) / parts
	hists := make([][]int, parts)
	parallelFor(n, partLen, parts, func(c, lo, hi int) {
		h := make([]int, 1<<15)
		for e := lo; e < hi; e++ {
			h[magBits(x, base, e)>>16]++
		}
		hists[c] = h
	})
	hi16, above := 0, 0
	for bkt := 1<<15 - 1; bkt >= 0; bkt-- {
		cnt := 0
		for _, h := range hists {
			if h != nil {
				cnt += h[bkt]
			}
		}
		if above+cnt >= k {
			hi16 = bkt
			break
		}
		above += cnt
	}
	parallelFor(n, partLen, parts, func(c, lo, hi int) {
		h := hists[c]
		clear(h)
		h = append(h, make([]int, 1<<16-len(h))...)
		for e := lo; e < hi; e++ {
			if b := magBits(x, base, e); int(b>>16) == hi16 {
				h[b&0xffff]++
			}
		}
		hists[c] = h
	})
	var thr uint32
	eq := 0
	for low := 1<<16 - 1; low >= 0; low-- {
		cnt := 0
		for _, h := range hists {
			cnt += h[low]
		}
		if above+cnt >= k {
			thr, eq = uint32(hi16)<<16|uint32(low), cnt
			break
		}
		above += cnt
	}
	need := k - above
	if need == eq {
		return topK{thr: thr}
	}
	chunks := (n + selChunk - 1) / selChunk
	quota := make([]int, chunks)
	parallelFor(n, selChunk, workers, func(c, lo, hi int) {
		for e := lo; e < hi; e++ {
			if magBits(x, base, e) == thr {
				quota[c]++
			}
		}
	})
	for c := range quota {
		q := min(quota[c], need)
		quota[c] = q
		need -= q
	}
	return topK{thr: thr, quota: quota}
}

// mark sets mask[e] = 1 for every kept element (other entries untouched).
func (s topK) mark(x, base []float32, mask []float32) {
	if s.none {
		return
	}
	for lo := 0; lo < len(x); lo += selChunk {
		hi := min(len(x), lo+selChunk)
		q := s.chunkQuota(lo / selChunk)
		for e := lo; e < hi; e++ {
			b := magBits(x, base, e)
			if b > s.thr || (b == s.thr && q != 0) {
				mask[e] = 1
				if b == s.thr {
					q--
				}
			}
		}
	}
}

// chunkQuota is how many ties block c may keep (-1: all of them).
func (s topK) chunkQuota(c int) int {
	if s.quota == nil {
		return -1
	}
	return s.quota[c]
}

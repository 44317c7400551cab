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
	none  bool // keep nothing
	all   bool // keep everything
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
	return selectTopKMulti([][]float32{x}, base, []int{k}, workers)[0]
}

// selectTopKMulti runs selectTopK for several tensors against one base,
// reading them in blocks (see selectBlocks).
func selectTopKMulti(xs [][]float32, base []float32, ks []int, workers int) []topK {
	res := make([]topK, len(xs))
	if len(xs) == 0 {
		return res
	}
	n := len(xs[0])
	if n < smallSelect {
		for i := range xs {
			res[i] = selectSmallK(xs[i], base, ks[i])
		}
		return res
	}
	bufs := make([][][]uint32, workers)
	forEach := func(fn func(w, lo, hi int, mags [][]uint32) error) error {
		return parallelBlocks(n, blockLen, workers, func(w, b, lo, hi int) error {
			if bufs[w] == nil {
				bufs[w] = make([][]uint32, len(xs))
				for i := range xs {
					bufs[w][i] = make([]uint32, blockLen)
				}
			}
			cut := make([][]uint32, len(xs))
			for i, x := range xs {
				m := bufs[w][i][:hi-lo]
				for e := range m {
					m[e] = magBits(x, base, lo+e)
				}
				cut[i] = m
			}
			return fn(w, lo, hi, cut)
		})
	}
	res, _ = selectBlocks(n, workers, ks, forEach)
	return res
}

// selectSmallK is selectSmall with the k ≤ 0 and k ≥ n cases.
func selectSmallK(x, base []float32, k int) topK {
	switch {
	case k <= 0:
		return topK{none: true}
	case k >= len(x):
		return topK{thr: 0, quota: nil, all: true}
	}
	return selectSmall(x, base, k)
}

// selectBlocks finds, for each of several magnitude streams of n elements,
// the k largest (ks[i]) as a threshold and per-chunk tie quotas. forEach
// calls fn for every block of the streams (on up to workers goroutines,
// w < workers) with the magnitude bits of each stream. Pass 1 histograms
// the top 16 bits of every magnitude, pass 2 the low 16 bits within the
// bucket holding the k-th largest, which gives the exact threshold; a third
// pass counts ties per chunk only when some but not all elements equal to
// the threshold are kept.
func selectBlocks(n, workers int, ks []int, forEach func(fn func(w, lo, hi int, mags [][]uint32) error) error) ([]topK, error) {
	res := make([]topK, len(ks))
	var active []int
	for i, k := range ks {
		switch {
		case k <= 0:
			res[i] = topK{none: true}
		case k >= n:
			res[i] = topK{all: true}
		default:
			active = append(active, i)
		}
	}
	if len(active) == 0 {
		return res, nil
	}
	// hists[w][a] is a histogram of 2¹⁶ buckets.
	hists := make([][][]uint32, workers)
	histFor := func(w int) [][]uint32 {
		if hists[w] == nil {
			hists[w] = make([][]uint32, len(active))
			for a := range active {
				hists[w][a] = make([]uint32, 1<<16)
			}
		}
		return hists[w]
	}
	err := forEach(func(w, lo, hi int, mags [][]uint32) error {
		hs := histFor(w)
		for a, i := range active {
			h := hs[a][: 1<<15 : 1<<15]
			for _, v := range mags[i] {
				h[v>>16]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	type state struct{ hi16, above int }
	sts := make([]state, len(active))
	for a, i := range active {
		above := 0
		for bkt := 1<<15 - 1; bkt >= 0; bkt-- {
			cnt := 0
			for w := range hists {
				if hists[w] != nil {
					cnt += int(hists[w][a][bkt])
				}
			}
			if above+cnt >= ks[i] {
				sts[a] = state{bkt, above}
				break
			}
			above += cnt
		}
	}
	for w := range hists {
		for a := range hists[w] {
			clear(hists[w][a])
		}
	}
	err = forEach(func(w, lo, hi int, mags [][]uint32) error {
		hs := histFor(w)
		for a, i := range active {
			h := hs[a][: 1<<16 : 1<<16]
			want := uint32(sts[a].hi16)
			for _, v := range mags[i] {
				if v>>16 == want {
					h[v&0xffff]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var partial []int // indices into active needing per-chunk tie quotas
	need := make([]int, len(active))
	for a, i := range active {
		above := sts[a].above
		var thr uint32
		eq := 0
		for low := 1<<16 - 1; low >= 0; low-- {
			cnt := 0
			for w := range hists {
				if hists[w] != nil {
					cnt += int(hists[w][a][low])
				}
			}
			if above+cnt >= ks[i] {
				thr, eq = uint32(sts[a].hi16)<<16|uint32(low), cnt
				break
			}
			above += cnt
		}
		need[a] = ks[i] - above
		res[i] = topK{thr: thr}
		if need[a] != eq {
			partial = append(partial, a)
		}
	}
	if len(partial) == 0 {
		return res, nil
	}
	chunks := (n + selChunk - 1) / selChunk
	quotas := make([][]int, len(active))
	for _, a := range partial {
		quotas[a] = make([]int, chunks)
	}
	err = forEach(func(w, lo, hi int, mags [][]uint32) error {
		for _, a := range partial {
			thr, q, m := res[active[a]].thr, quotas[a], mags[active[a]]
			for e, v := range m {
				if v == thr {
					q[(lo+e)/selChunk]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range partial {
		left := need[a]
		for c, cnt := range quotas[a] {
			q := min(cnt, left)
			quotas[a][c] = q
			left -= q
		}
		res[active[a]].quota = quotas[a]
	}
	return res, nil
}

// mark sets mask[e] = 1 for every kept element (other entries untouched).
func (s topK) mark(x, base []float32, mask []float32) {
	if s.none {
		return
	}
	if s.all {
		for e := range mask {
			mask[e] = 1
		}
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
	if s.quota == nil || s.all {
		return -1
	}
	return s.quota[c]
}

// smallSelect is the size below which a quickselect on a copy beats the
// radix passes, whose 2¹⁶-bucket histograms cost more than a small tensor.
const smallSelect = 1 << 16

// selectSmall finds the k-th largest magnitude with a quickselect on a copy
// of the magnitude bits (deterministic middle pivots), then sets the tie
// quota like the radix path.
func selectSmall(x, base []float32, k int) topK {
	n := len(x)
	bits := make([]uint32, n)
	for e := range bits {
		bits[e] = magBits(x, base, e)
	}
	// Find the value of rank k (1-based) in descending order.
	lo, hi, want := 0, n-1, k-1
	for lo < hi {
		p := bits[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for bits[i] > p {
				i++
			}
			for bits[j] < p {
				j--
			}
			if i <= j {
				bits[i], bits[j] = bits[j], bits[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			lo, hi = want, want
		}
	}
	thr := bits[want]
	above, eq := 0, 0
	for e := range x {
		switch b := magBits(x, base, e); {
		case b > thr:
			above++
		case b == thr:
			eq++
		}
	}
	need := k - above
	if need == eq {
		return topK{thr: thr}
	}
	quota := make([]int, (n+selChunk-1)/selChunk)
	for e := 0; e < n && need > 0; e++ {
		if magBits(x, base, e) == thr {
			quota[e/selChunk]++
			need--
		}
	}
	return topK{thr: thr, quota: quota}
}

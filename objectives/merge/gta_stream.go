package merge

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// tvState is one non-base model of a GTA merge: its weight, and how its
// delta is pruned and rescaled, all known before the blocks are merged.
type tvState struct {
	in      int     // index into job.ins
	w       float32 // weight, rounded to the compute dtype
	p       params
	sparse  sparsifier // sparseNone when nothing is pruned (density ≥ 1)
	keepNo  bool       // everything is pruned
	sel     topK       // magnitude: kept; outliers: kept before dropping the top
	drop    topK       // outliers: the top n_top dropped
	thr     uint32     // random: keep when a 32-bit uniform draw is below thr
	density float64
	eps     float64
	f       float32  // rescale factor (1: none)
	bits    []uint64 // random/della: the masks drawn by the rescale pass
}

// streamGTA is the generalized task arithmetic family block by block. It
// finds each model's magnitude threshold (radix selection over the deltas,
// read in blocks), or its rescale factor (one pass drawing the same masks
// the merge will), then merges each block in one pass over the inputs.
func streamGTA(j *job) (blockFn, int, error) {
	if j.base < 0 {
		return nil, 0, fmt.Errorf("%s: %s needs a base_model", j.name, j.method.name)
	}
	g := j.method.gta
	bs := j.shapes[j.base]
	var tvs []*tvState
	for i := range j.ins {
		if i == j.base || (!slices.Equal(j.shapes[i], bs) && !j.isEmbed) {
			continue // mergekit skips a non-embedding of another shape (the plan warns)
		}
		p := j.perModel[i]
		tv := &tvState{in: i, w: j.r(float32(p["weight"])), p: p, density: p["density"], eps: p["epsilon"], f: 1}
		if g.sparsify != sparseNone && tv.density < 1 {
			tv.sparse = g.sparsify
		}
		tvs = append(tvs, tv)
	}
	j.reads = []int{j.base}
	for _, tv := range tvs {
		j.reads = append(j.reads, tv.in)
	}
	if len(tvs) == 0 {
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			copy(out, in[j.base])
			return nil
		}, 0, nil
	}
	n := j.ins[j.base].n
	cols := n
	if len(bs) >= 2 {
		cols = bs[len(bs)-1]
	}
	align := 0
	// Magnitude thresholds, from one shared selection over every model.
	var slots []int // per selection: index into tvs
	var ks []int
	for ti, tv := range tvs {
		switch tv.sparse {
		case sparseMagnitude:
			k := int(tv.density * float64(n))
			if k <= 0 {
				return nil, 0, fmt.Errorf("%s: model %s: density %v keeps int(%v·%d) = 0 elements (mergekit refuses to zero out the whole tensor)", j.name, j.models[tv.in], tv.density, tv.density, n)
			}
			slots, ks = append(slots, ti), append(ks, k)
		case sparseOutliers:
			nTop := int(tv.p["gamma"] * float64(n))
			nBot := n - int(tv.density*float64(n)) - nTop
			if nBot < 0 {
				nTop += nBot
				nBot = 0
			}
			// As in mergekit, n_top = 0 keeps nothing (the slice [n_bot:-0]
			// is empty).
			if nTop <= 0 || n-nBot <= nTop {
				tv.keepNo = true
				continue
			}
			slots, ks = append(slots, ti, ti), append(ks, n-nBot, nTop)
		case sparseRandom:
			tv.thr = probThreshold(tv.density)
		case sparseDella:
			if tv.density <= 0 {
				tv.keepNo = true
				continue
			}
			if tv.density-tv.eps <= 0 || tv.density+tv.eps >= 1 {
				return nil, 0, fmt.Errorf("%s: model %s: epsilon %v must be chosen such that density %v +/- epsilon is in (0, 1)", j.name, j.models[tv.in], tv.eps, tv.density)
			}
			if cols == 1 && n > 0 {
				return nil, 0, fmt.Errorf("%s: model %s: DELLA ranks within rows, and a row of length 1 gives 0/0 probabilities", j.name, j.models[tv.in])
			}
			align = cols
		}
	}
	if len(ks) > 0 {
		sels, err := j.selectDeltas(slots, tvs, ks)
		if err != nil {
			return nil, 0, err
		}
		for s, ti := range slots {
			if tvs[ti].sparse == sparseOutliers && s+1 < len(slots) && slots[s+1] == ti {
				tvs[ti].sel, tvs[ti].drop = sels[s], sels[s+1]
			} else if tvs[ti].sparse == sparseMagnitude {
				tvs[ti].sel = sels[s]
			}
		}
	}
	if j.global.bool("rescale") {
		if err := j.rescaleFactors(tvs, align, cols); err != nil {
			return nil, 0, err
		}
	}
	return j.gtaBlocks(tvs, align, cols), align, nil
}

// probThreshold turns a keep probability into a threshold on a uniform
// 32-bit draw: keep when draw < threshold (probability threshold/2³²,
// within 2.3e-10 of p).
func probThreshold(p float64) uint32 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return math.MaxUint32
	}
	return uint32(p * (1 << 32))
}

// selectDeltas runs the radix selection over the rounded deltas |x − b| of
// the models in slots (tvs indices), k largest each.
func (j *job) selectDeltas(slots []int, tvs []*tvState, ks []int) ([]topK, error) {
	n := j.ins[j.base].n
	reads := []int{j.base}
	for _, ti := range slots {
		if !slices.Contains(reads, tvs[ti].in) {
			reads = append(reads, tvs[ti].in)
		}
	}
	bufs := make([][][]uint32, max(1, j.workers))
	half := j.half()
	forEach := func(fn func(w, lo, hi int, mags [][]uint32) error) error {
		return j.forBlocks(selChunk, reads, func(w, b, lo, hi int, in [][]float32) error {
			if bufs[w] == nil {
				bufs[w] = make([][]uint32, len(slots))
				for s := range slots {
					bufs[w][s] = make([]uint32, min(blockLen, n))
				}
			}
			mags := make([][]uint32, len(slots))
			base := in[j.base]
			for s, ti := range slots {
				x, m := in[tvs[ti].in], bufs[w][s][:hi-lo]
				x = x[:len(m)]
				base := base[:len(m)]
				if half {
					for e := range m {
						m[e] = absBits(j.r(x[e] - base[e]))
					}
				} else {
					for e := range m {
						m[e] = absBits(x[e] - base[e])
					}
				}
				mags[s] = m
			}
			return fn(w, lo, hi, mags)
		})
	}
	if n < smallSelect {
		// Small tensors: a quickselect on the whole deltas.
		res := make([]topK, len(ks))
		err := j.forBlocks(0, reads, func(w, b, lo, hi int, in [][]float32) error {
			if lo != 0 || hi != n {
				return fmt.Errorf("internal: small selection split into blocks")
			}
			for s, ti := range slots {
				d := make([]float32, n)
				for e := range d {
					d[e] = j.r(in[tvs[ti].in][e] - in[j.base][e])
				}
				res[s] = selectSmallK(d, nil, ks[s])
			}
			return nil
		})
		return res, err
	}
	if n < sampledSelectMin {
		// Mid-sized tensors: sampling would cost more than it saves.
		return selectBlocks(n, max(1, j.workers), ks, forEach)
	}
	res, failed, err := j.sampledSelect(slots, tvs, ks, reads)
	if forceRadix {
		failed = failed[:0]
		for s := range slots {
			failed = append(failed, s)
		}
	}
	if err != nil || len(failed) == 0 {
		return res, err
	}
	// The sample did not bracket some thresholds: exact radix selection.
	fks := make([]int, len(ks))
	for s := range ks {
		fks[s] = 0
		if slices.Contains(failed, s) {
			fks[s] = ks[s]
		}
	}
	exact, err := selectBlocks(n, max(1, j.workers), fks, forEach)
	if err != nil {
		return nil, err
	}
	for _, s := range failed {
		res[s] = exact[s]
	}
	return res, nil
}

// zeros is a block of zeros (a base for deltas already taken).
var zeros = make([]float32, blockLen)

var deltaScratch sync.Map // worker → []float32

// scratchDeltas is worker w's buffer of n deltas.
func scratchDeltas(w, n int) []float32 {
	if b, ok := deltaScratch.Load(w); ok && cap(b.([]float32)) >= n {
		return b.([]float32)[:n]
	}
	b := make([]float32, blockLen)
	deltaScratch.Store(w, b)
	return b[:n]
}

// forceRadix makes tests run the exact radix selection where the sampled
// one applies.
var forceRadix = false

// sampledSelectMin is the tensor size from which sampledSelect pays: below
// it, sorting the sample costs more than the radix selection's second pass.
var sampledSelectMin = 1 << 21

// selectSamples is the number of elements sampledSelect draws per model.
const selectSamples = 1 << 16

// sampledSelect finds the k-th largest rounded |x − b| of each slot in one
// pass over the data (Floyd and Rivest's idea): a strided sample of the
// deltas brackets the threshold with high probability; the pass counts the
// elements above the bracket and collects those inside it, and the exact
// threshold is then selected among the few collected. Slots whose bracket
// misses the threshold, or holds too many elements (many ties), are listed
// in failed for the exact radix selection. Tie quotas per chunk, when some
// but not all elements equal to a threshold are kept, take one more pass.
func (j *job) sampledSelect(slots []int, tvs []*tvState, ks []int, reads []int) ([]topK, []int, error) {
	n := j.ins[j.base].n
	res := make([]topK, len(slots))
	lo := make([]uint32, len(slots))
	hi := make([]uint32, len(slots))
	smp := make([]uint32, selectSamples)
	// The sample is selectRuns runs of consecutive elements spread evenly
	// over the tensor: few pages to touch, deterministic.
	const runs = 512
	runLen := selectSamples / runs
	xb, bb := make([]float32, runLen), make([]float32, runLen)
	var scratch []byte
	for s, ti := range slots {
		xin, bin := j.ins[tvs[ti].in], j.ins[j.base]
		for r := 0; r < runs; r++ {
			at := int(uint64(r) * uint64(n-runLen) / (runs - 1))
			x, err := xin.block(at, at+runLen, xb, &scratch)
			if err != nil {
				return nil, nil, err
			}
			b, err := bin.block(at, at+runLen, bb, &scratch)
			if err != nil {
				return nil, nil, err
			}
			for e := range x {
				smp[r*runLen+e] = absBits(j.r(x[e] - b[e]))
			}
			// A run is smaller than a page, but touching it maps the whole
			// page-cache folio around it (up to 2 MiB): drop that window.
			const pad = 1 << 19
			xin.release(max(0, at-pad), min(n, at+runLen+pad))
			bin.release(max(0, at-pad), min(n, at+runLen+pad))
		}
		slices.Sort(smp)
		p := float64(ks[s]) / float64(n)
		r := selectSamples - 1 - int(p*selectSamples) // ascending position of the k-th largest
		delta := int(4*math.Sqrt(selectSamples*p*(1-p))) + 16
		hi[s], lo[s] = math.MaxUint32, 0
		if r+delta < selectSamples {
			hi[s] = smp[r+delta]
		}
		if r-delta >= 0 {
			lo[s] = smp[r-delta]
		}
	}
	workers := max(1, j.workers)
	limit := n/16/workers + 4096 // collected per worker and slot before giving up
	above := make([][]int, workers)
	// Candidates are magnitude<<32 | chunk, so the tie quotas per chunk come
	// from them without another pass.
	cands := make([][][]uint64, workers)
	half := j.half()
	err := j.forBlocks(selChunk, reads, func(w, b, blo, bhi int, in [][]float32) error {
		if above[w] == nil {
			above[w] = make([]int, len(slots))
			cands[w] = make([][]uint64, len(slots))
		}
		base := in[j.base]
		for s, ti := range slots {
			c := cands[w][s]
			if len(c) > limit {
				continue
			}
			if cap(c)-len(c) < len(base) {
				c = slices.Grow(c, max(len(base), cap(c)))
			}
			x := in[tvs[ti].in][:len(base)]
			l, h := uint64(lo[s]), uint64(hi[s])
			a, k := above[w][s], len(c)
			buf := c[:cap(c)]
			// Branch-free: random magnitudes would defeat prediction.
			if half {
				d := scratchDeltas(w, len(x))
				for e, v := range x {
					d[e] = j.r(v - base[e])
				}
				x, base = d, zeros[:len(d)]
			}
			chunk := uint64(blo / selChunk)
			for e, v := range x {
				m := uint64(math.Float32bits(v-base[e]) &^ (1 << 31))
				a += int((h - m) >> 63)                  // m > h
				buf[k] = m<<32 | (chunk + uint64(e)>>15) // kept when l <= m <= h
				k += int(((m-l)|(h-m))>>63 ^ 1)          // both differences non-negative
			}
			above[w][s], cands[w][s] = a, buf[:k]
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var failed []int
	chunks := (n + selChunk - 1) / selChunk
	for s := range slots {
		a, total := 0, 0
		over := false
		for w := range above {
			if above[w] == nil {
				continue
			}
			a += above[w][s]
			total += len(cands[w][s])
			over = over || len(cands[w][s]) > limit
		}
		if over || a >= ks[s] || a+total < ks[s] {
			failed = append(failed, s)
			continue
		}
		all := make([]uint64, 0, total)
		for w := range cands {
			if cands[w] != nil {
				all = append(all, cands[w][s]...)
			}
		}
		slices.Sort(all)
		thr := uint32(all[len(all)-(ks[s]-a)] >> 32)
		gt, eq := 0, 0
		for _, c := range all {
			switch m := uint32(c >> 32); {
			case m > thr:
				gt++
			case m == thr:
				eq++
			}
		}
		need := ks[s] - a - gt
		res[s] = topK{thr: thr}
		if need == eq {
			continue
		}
		// Some of the elements equal to the threshold are kept: the first
		// ones in index order, counted per chunk.
		quota := make([]int, chunks)
		for _, c := range all {
			if uint32(c>>32) == thr {
				quota[uint32(c)]++
			}
		}
		for c, cnt := range quota {
			q := min(cnt, need)
			quota[c] = q
			need -= q
		}
		res[s].quota = quota
	}
	return res, failed, nil
}

// streamSeed is the seed of the random stream of one model's masks over
// one chunk (random) or row (della) of the tensor: from the merge's seed,
// the tensor's name and the model's position, so masks are reproducible
// and independent of the order blocks are merged in.
func (j *job) streamSeed(model, unit int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(j.name))
	return splitmix(j.seed ^ splitmix(h.Sum64()^uint64(model+1)*0x9e3779b97f4a7c15) ^ uint64(unit)*0xd1b54a32d192ed03)
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// ltMask is all ones when a < b, else zero.
func ltMask(a, b uint32) uint32 { return uint32(int64(uint64(a)-uint64(b)) >> 63) }

// masks32 fills each model's keep mask (all ones or zero per element) for
// elements [lo, hi) from their rounded deltas d (per tvs index).
func (j *job) masks32(tvs []*tvState, lo, hi, cols int, d [][]float32, masks [][]uint32, probs []float32) error {
	for ti, tv := range tvs {
		m := masks[ti]
		if m == nil {
			continue
		}
		m = m[:hi-lo]
		if tv.keepNo {
			clear(m)
			continue
		}
		if tv.bits != nil {
			for e := range m {
				k := lo + e
				m[e] = -uint32(tv.bits[k>>6] >> (k & 63) & 1)
			}
			continue
		}
		if j.masks != nil && (tv.sparse == sparseRandom || tv.sparse == sparseDella) {
			inj := j.masks(tv.in, j.ins[j.base].n)
			for e := range m {
				m[e] = 0
				if inj[lo+e] != 0 {
					m[e] = ^uint32(0)
				}
			}
			continue
		}
		switch tv.sparse {
		case sparseMagnitude, sparseOutliers:
			for c := lo; c < hi; c += selChunk {
				ce := min(hi, c+selChunk)
				keepTop(tv.sel, d[ti][c-lo:ce-lo], c/selChunk, m[c-lo:ce-lo], false)
				if tv.sparse == sparseOutliers {
					keepTop(tv.drop, d[ti][c-lo:ce-lo], c/selChunk, m[c-lo:ce-lo], true)
				}
			}
		case sparseRandom:
			for c := lo; c < hi; c += selChunk {
				ce := min(hi, c+selChunk)
				bernoulliMask(j.streamSeed(tv.in, c/selChunk), tv.thr, m[c-lo:ce-lo])
			}
		case sparseDella:
			for r0 := lo; r0 < hi; r0 += cols {
				row := d[ti][r0-lo : r0-lo+cols]
				if err := dellaProbs(row, []int{cols}, tv.density, tv.eps, probs[:cols]); err != nil {
					return err
				}
				s := j.streamSeed(tv.in, r0/cols)
				mm := m[r0-lo : r0-lo+cols]
				for e := range mm {
					s += 0x9e3779b97f4a7c15
					z := (s ^ s>>30) * 0xbf58476d1ce4e5b9
					z = (z ^ z>>27) * 0x94d049bb133111eb
					z ^= z >> 31
					mm[e] = ltMask(uint32(z), probThreshold(float64(probs[e])))
				}
			}
		}
	}
	return nil
}

// keepTop sets mask to keep (or, with drop, clears) the elements of chunk c
// that selection s keeps, d being the chunk's deltas.
func keepTop(s topK, d []float32, c int, mask []uint32, drop bool) {
	q := s.chunkQuota(c)
	for e, v := range d {
		b := absBits(v)
		in := !s.none && (s.all || b > s.thr || (b == s.thr && q != 0))
		if in && b == s.thr && !s.all && q > 0 {
			q--
		}
		switch {
		case drop && in:
			mask[e] = 0
		case !drop:
			mask[e] = 0
			if in {
				mask[e] = ^uint32(0)
			}
		}
	}
}

// gtaScratch is one worker's space for a block.
type gtaScratch struct {
	d     [][]float32
	masks [][]uint32
	probs []float32
	wd    []float32
}

func (j *job) newGTAScratch(tvs []*tvState, size, cols int) *gtaScratch {
	size = min(size, j.ins[j.base].n)
	sc := &gtaScratch{d: make([][]float32, len(tvs)), masks: make([][]uint32, len(tvs)), wd: make([]float32, len(tvs))}
	for ti, tv := range tvs {
		sc.d[ti] = make([]float32, size)
		if tv.sparse != sparseNone || tv.keepNo {
			sc.masks[ti] = make([]uint32, size)
		}
	}
	if j.method.gta.sparsify == sparseDella {
		sc.probs = make([]float32, cols)
	}
	return sc
}

// deltas computes each model's rounded delta for the block.
func (j *job) deltas(tvs []*tvState, in [][]float32, sc *gtaScratch, n int) {
	b := in[j.base][:n]
	for ti, tv := range tvs {
		x, d := in[tv.in][:n], sc.d[ti][:n]
		for e := range d {
			d[e] = x[e] - b[e]
		}
		if j.half() {
			st.RoundSlice(j.dtype, d)
		}
	}
}

// rescaleFactors is one pass drawing every pruned model's mask as the merge
// will and summing |d| and |d·mask| (mergekit's rescaled_masked_tensor with
// the L1 norm): the factor ‖d‖₁/‖d·mask‖₁ for the whole tensor, unless
// either norm is below 1e-7. Sums are kept per block and added in block
// order, so the factor does not depend on the schedule.
func (j *job) rescaleFactors(tvs []*tvState, align, cols int) error {
	n := j.ins[j.base].n
	size := blockSizeFor(align)
	blocks := (n + size - 1) / size
	before := make([][]float64, len(tvs))
	after := make([][]float64, len(tvs))
	for ti := range tvs {
		before[ti], after[ti] = make([]float64, blocks), make([]float64, blocks)
	}
	// Random masks are kept as bits for the merge pass (an eighth of a
	// float32 tensor per model) rather than drawn again, when blocks start
	// at whole 64-bit words.
	var keep []*tvState
	if size%64 == 0 {
		for _, tv := range tvs {
			if (tv.sparse == sparseRandom || tv.sparse == sparseDella) && !tv.keepNo {
				keep = append(keep, tv)
			}
		}
	}
	bits := make([][]uint64, len(keep))
	for k := range keep {
		bits[k] = make([]uint64, (n+63)/64)
	}
	scs := make([]*gtaScratch, max(1, j.workers))
	fused := j.dareFused(tvs)
	err := j.forBlocks(align, j.reads, func(w, b, lo, hi int, in [][]float32) error {
		if fused {
			// Draw each model's mask as bits and sum |d| and |d·mask| in one
			// loop (float32 DARE: the common case, kept fast).
			for k, tv := range keep {
				ti := slices.Index(tvs, tv)
				words := bits[k][lo>>6 : (hi+63)>>6]
				j.dareWords(tv, lo, hi, words)
				before[ti][b], after[ti][b] = dareSums(in[tv.in][:hi-lo], in[j.base], words)
			}
			return nil
		}
		if scs[w] == nil {
			scs[w] = j.newGTAScratch(tvs, size, cols)
		}
		sc := scs[w]
		j.deltas(tvs, in, sc, hi-lo)
		if err := j.masks32(tvs, lo, hi, cols, sc.d, sc.masks, sc.probs); err != nil {
			return err
		}
		for k, tv := range keep {
			m := sc.masks[slices.Index(tvs, tv)][:hi-lo]
			words := bits[k][lo>>6 : (hi+63)>>6]
			clear(words)
			for e, v := range m {
				words[e>>6] |= uint64(v&1) << (e & 63)
			}
		}
		for ti, tv := range tvs {
			if tv.sparse == sparseNone && !tv.keepNo {
				continue
			}
			var bs, as float64
			m := sc.masks[ti][:hi-lo]
			for e, v := range sc.d[ti][:hi-lo] {
				a := math.Abs(float64(v))
				bs += a
				if m[e] != 0 {
					as += a
				}
			}
			before[ti][b], after[ti][b] = bs, as
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, tv := range keep {
		tv.bits = bits[k]
	}
	for ti, tv := range tvs {
		if tv.sparse == sparseNone && !tv.keepNo {
			continue
		}
		var bs, as float64
		for b := range before[ti] {
			bs += before[ti][b]
			as += after[ti][b]
		}
		b32, a32 := j.r(float32(bs)), j.r(float32(as))
		if b32 < 1e-7 || a32 < 1e-7 {
			continue
		}
		tv.f = j.r(b32 / a32)
	}
	return nil
}

// gtaBlocks returns the per-block merge: float32 task arithmetic and TIES
// (magnitude pruning without rescale) take fused kernels; everything else
// draws its masks and runs the masked kernel (float32) or the rounding one
// (bf16/fp16).
func (j *job) gtaBlocks(tvs []*tvState, align, cols int) blockFn {
	g := j.method.gta
	normalize := j.global.bool("normalize")
	lambda := float32(j.global["lambda"])
	ws := make([]float32, len(tvs))
	var divAll float32
	for ti, tv := range tvs {
		ws[ti] = tv.w
		divAll += tv.w
	}
	divAll = j.r(divAll)
	if math.Abs(float64(divAll)) < 1e-8 {
		divAll = 1
	}
	size := blockSizeFor(align)
	sparse, rescaled := false, false
	for _, tv := range tvs {
		sparse = sparse || tv.sparse != sparseNone || tv.keepNo
		rescaled = rescaled || tv.f != 1
	}
	xsFor := func(in [][]float32) [][]float32 {
		xs := make([][]float32, len(tvs))
		for ti, tv := range tvs {
			xs[ti] = in[tv.in]
		}
		return xs
	}
	// Float32 task arithmetic: one fused pass.
	if !j.half() && !forceGeneral && !sparse && !g.consensus {
		scale := lambda
		if normalize {
			scale = lambda / divAll
		}
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			fusedTA(out, in[j.base], xsFor(in), ws, scale)
			return nil
		}
	}
	if j.dtype == st.BF16 && !forceGeneral && !sparse && !g.consensus {
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			fusedTABF16(out, in[j.base], xsFor(in), ws, normalize, divAll, lambda)
			return nil
		}
	}
	var scale []float32
	if g.consensus && len(tvs) <= maxTiesModels {
		scale = tiesScaleTable(ws, normalize, lambda)
	}
	// Float32 TIES: thresholds and tie quotas decide each element in the
	// fused kernel.
	magnitudeOnly := true
	for _, tv := range tvs {
		magnitudeOnly = magnitudeOnly && (tv.sparse == sparseNone || tv.sparse == sparseMagnitude) && !tv.keepNo
	}
	if !j.half() && !forceGeneral && g.consensus && scale != nil && magnitudeOnly && !rescaled {
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			xs := xsFor(in)
			thr := make([]int32, len(tvs))
			q := make([]int, len(tvs))
			for c := lo; c < hi; c += selChunk {
				ce := min(hi, c+selChunk)
				cx := make([][]float32, len(xs))
				for ti, tv := range tvs {
					cx[ti] = xs[ti][c-lo : ce-lo]
					thr[ti], q[ti] = -1, -1
					if tv.sparse == sparseMagnitude && !tv.sel.all {
						thr[ti], q[ti] = int32(tv.sel.thr), tv.sel.chunkQuota(c/selChunk)
					}
				}
				tiesBlock(out[c-lo:ce-lo], in[j.base][c-lo:ce-lo], cx, ws, thr, q, scale)
			}
			return nil
		}
	}
	scs := make([]*gtaScratch, max(1, j.workers))
	fs := make([]float32, len(tvs))
	for ti, tv := range tvs {
		fs[ti] = tv.f
	}
	sumScale := lambda
	if normalize {
		sumScale = lambda / divAll
	}
	if !forceGeneral && j.dareFused(tvs) && (scale != nil || !g.consensus) && size%64 == 0 {
		words := make([][][]uint64, max(1, j.workers))
		return func(w, lo, hi int, in [][]float32, out []float32) error {
			if words[w] == nil {
				words[w] = make([][]uint64, len(tvs))
			}
			xs := xsFor(in)
			bits := make([][]uint64, len(tvs))
			for ti, tv := range tvs {
				switch {
				case tv.sparse == sparseNone:
				case tv.bits != nil:
					bits[ti] = tv.bits[lo>>6 : (hi+63)>>6]
				default:
					if words[w][ti] == nil {
						words[w][ti] = make([]uint64, (size+63)/64)
					}
					bits[ti] = words[w][ti][:(hi-lo+63)/64]
					j.dareWords(tv, lo, hi, bits[ti])
				}
			}
			gtaBitsF32(out, in[j.base], xs, bits, ws, fs, scale, sumScale)
			return nil
		}
	}
	return func(w, lo, hi int, in [][]float32, out []float32) error {
		if scs[w] == nil {
			scs[w] = j.newGTAScratch(tvs, size, cols)
		}
		sc := scs[w]
		n := hi - lo
		j.deltas(tvs, in, sc, n)
		if err := j.masks32(tvs, lo, hi, cols, sc.d, sc.masks, sc.probs); err != nil {
			return err
		}
		if !j.half() && !forceGeneral && (scale != nil || !g.consensus) {
			masks := make([][]uint32, len(tvs))
			ds := make([][]float32, len(tvs))
			for ti := range tvs {
				ds[ti] = sc.d[ti][:n]
				if sc.masks[ti] != nil {
					masks[ti] = sc.masks[ti][:n]
				}
			}
			gtaMaskedF32(out[:n], in[j.base][:n], ds, masks, ws, fs, scale, sumScale)
			return nil
		}
		j.gtaRounded(out[:n], in[j.base][:n], sc, tvs, n, normalize, lambda, divAll)
		return nil
	}
}

// gtaRounded is the GTA merge of one block with mergekit's rounding in the
// compute dtype after every elementwise operation (bf16/fp16; a no-op for
// float32): masked deltas, rescaled, weighted; sign consensus on their sum;
// agreeing deltas and weights summed in float32 and rounded once; normalize,
// lambda and the final add, each rounded.
func (j *job) gtaRounded(out, b []float32, sc *gtaScratch, tvs []*tvState, n int, normalize bool, lambda, divAll float32) {
	consensus := j.method.gta.consensus
	wd := sc.wd
	for e := 0; e < n; e++ {
		var s float32
		for ti, tv := range tvs {
			d := sc.d[ti][e]
			if m := sc.masks[ti]; m != nil && m[e] == 0 {
				d *= 0
			}
			if tv.f != 1 {
				d = j.r(d * tv.f)
			}
			wd[ti] = j.r(d * tv.w)
			s += wd[ti]
		}
		var mixed, div float32
		if consensus {
			pos := j.r(s) >= 0
			for ti, v := range wd {
				if (pos && v > 0) || (!pos && v < 0) {
					mixed += v
					div += tvs[ti].w
				}
			}
			mixed, div = j.r(mixed), j.r(div)
			if div == 0 {
				div = 1
			}
		} else {
			mixed, div = j.r(s), divAll
		}
		if normalize {
			mixed = j.r(mixed / div)
		}
		if lambda != 1 {
			mixed = j.r(mixed * lambda)
		}
		out[e] = j.r(b[e] + mixed)
	}
}

// gtaMaskedF32 merges one float32 block from the models' deltas d, keep
// masks (nil: keep all) and rescale factors (1: none): the kept delta is
// rescaled and weighted with a rounding after each product, as torch does;
// with a scale table (sign consensus, see tiesScaleTable) the agreeing
// weighted deltas are summed and scaled by their pattern's factor, without
// one (plain sum) all of them are summed and scaled by sumScale. Staged per
// sub-block like tiesBlock.
func gtaMaskedF32(out, b []float32, d [][]float32, masks [][]uint32, ws, fs []float32, scale []float32, sumScale float32) {
	const signBit = 1 << 31
	var vb [maxTiesModels][tiesSub]uint32
	var sum [tiesSub]float32
	var el tiesElection
	consensus := scale != nil
	if !consensus {
		// Plain sum: no staging needed.
		clear(out)
		for i, di := range d {
			w, f, m := ws[i], fs[i], masks[i]
			for e, v := range di {
				r := float32(float32(v*f) * w)
				if m != nil {
					r = math.Float32frombits(math.Float32bits(r) & m[e])
				}
				out[e] += r
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
		for i, di := range d {
			di := di[lo:hi]
			v := vb[i][:n]
			s := sum[:n]
			w, f := ws[i], fs[i]
			if m := masks[i]; m != nil {
				m := m[lo:hi]
				for e := range v {
					r := math.Float32bits(float32(float32(di[e]*f)*w)) & m[e]
					v[e] = r
					s[e] += math.Float32frombits(r)
				}
			} else {
				for e := range v {
					r := math.Float32bits(float32(float32(di[e]*f) * w))
					v[e] = r
					s[e] += math.Float32frombits(r)
				}
			}
		}
		el.elect(out[lo:hi], b[lo:hi], &vb, len(d), &sum, scale)
	}
}

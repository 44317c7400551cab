package merge

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// The merge engine reads every input and writes every output block by block
// (blockLen elements), so the memory a merge needs stays near a fixed
// budget whatever the tensor size: elementwise methods (linear, the GTA
// family once their thresholds and norms are known, slerp once its angle is
// known, nearswap, passthrough) never hold a whole tensor. Inputs on disk are
// read through the files' memory mappings, without a copy when the stored
// dtype is the compute dtype (float32), and their pages are dropped from the
// process once a block is done.

// blockLen is the number of elements a worker merges at a time: a multiple
// of selChunk (the unit in which tied magnitudes are shared out and random
// streams are seeded), small enough that a block of every input, the output
// and its encoded bytes stay in a core's cache.
const blockLen = 2 * selChunk

// tensorIn is one input of a tensor's merge, read in output coordinates
// (cropped to the output's [rows, cols] corner when cropping applies) and
// rounded to the compute dtype.
type tensorIn struct {
	name   string   // model and tensor, for errors
	dtype  st.DType // compute dtype
	n      int      // elements, in output coordinates
	view   []float32
	mem    []float32 // in-memory values that need copying (crop or rounding)
	raw    []byte    // stored bytes from a file mapping
	read   func(off int64, dst []byte) error
	stored st.DType
	round  bool // values must be rounded to dtype after reading
	// inCols and outCols are the input's and the output's row lengths; they
	// differ when an embedding is cropped.
	inCols, outCols int
}

// littleEndian: stored float32 bytes can be used in place only on a
// little-endian machine (safetensors is little-endian).
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// rawSource is implemented by sources that can hand out a tensor's stored
// bytes (Checkpoint, through the files' memory mappings).
type rawSource interface {
	Bytes(name string) []byte
	ReadBytes(name string, off int64, dst []byte) error
}

// newTensorIn prepares input name of source s for a merge computing in dt
// whose output is outShape; crop is set when the input is cut to the
// output's [rows, cols] corner.
func newTensorIn(s Source, model, name string, inShape, outShape []int, dt st.DType, crop bool) *tensorIn {
	in := &tensorIn{name: model + ":" + name, dtype: dt, n: numel(inShape), stored: tensorDType(s, name)}
	if crop && len(inShape) == 2 && len(outShape) == 2 && (inShape[0] != outShape[0] || inShape[1] != outShape[1]) {
		in.n = numel(outShape)
		in.inCols, in.outCols = inShape[1], outShape[1]
	}
	cropped := in.inCols != in.outCols
	// Values need rounding when they are wider than the compute dtype.
	in.round = (dt == st.BF16 || dt == st.F16) && in.stored != dt
	if v, ok := s.(viewer); ok {
		data, _ := v.View(name)
		if !cropped && !in.round {
			in.view = data
		} else {
			in.mem = data
		}
		return in
	}
	if rs, ok := s.(rawSource); ok {
		in.raw = rs.Bytes(name)
		in.read = func(off int64, dst []byte) error { return rs.ReadBytes(name, off, dst) }
		if in.raw != nil && !cropped && in.stored == st.F32 && dt == st.F32 && littleEndian &&
			len(in.raw) > 0 && uintptr(unsafe.Pointer(&in.raw[0]))%4 == 0 {
			in.view = unsafe.Slice((*float32)(unsafe.Pointer(&in.raw[0])), len(in.raw)/4)
		}
		return in
	}
	// Any other Source: read it whole once.
	data := make([]float32, numel(inShape))
	if err := s.Read(name, data); err != nil {
		in.read = func(int64, []byte) error { return err }
		return in
	}
	in.mem = data
	return in
}

// span calls f for each run of consecutive input elements that output
// elements [lo, hi) come from: (input start, input end, output offset).
func (in *tensorIn) span(lo, hi int, f func(a, b, at int) error) error {
	if in.inCols == in.outCols {
		return f(lo, hi, 0)
	}
	for e := lo; e < hi; {
		row, col := e/in.outCols, e%in.outCols
		k := min(hi-e, in.outCols-col)
		a := row*in.inCols + col
		if err := f(a, a+k, e-lo); err != nil {
			return err
		}
		e += k
	}
	return nil
}

// block returns output elements [lo, hi) of this input in the compute
// dtype: a view when no conversion is needed, else decoded into buf.
// scratch holds stored bytes when the file is not mapped.
func (in *tensorIn) block(lo, hi int, buf []float32, scratch *[]byte) ([]float32, error) {
	if in.view != nil {
		return in.view[lo:hi], nil
	}
	buf = buf[:hi-lo]
	size := in.stored.Size()
	err := in.span(lo, hi, func(a, b, at int) error {
		dst := buf[at : at+b-a]
		switch {
		case in.mem != nil:
			copy(dst, in.mem[a:b])
		case in.raw != nil:
			st.Decode(in.stored, in.raw[a*size:b*size], dst)
		case in.read != nil:
			if cap(*scratch) < (b-a)*size {
				*scratch = make([]byte, (b-a)*size)
			}
			bb := (*scratch)[:(b-a)*size]
			if err := in.read(int64(a*size), bb); err != nil {
				return fmt.Errorf("%s: %w", in.name, err)
			}
			st.Decode(in.stored, bb, dst)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.round {
		st.RoundSlice(in.dtype, buf)
	}
	return buf, nil
}

// at returns output element e in the compute dtype (for sampling).
func (in *tensorIn) at(e int) (float32, error) {
	if in.view != nil {
		return in.view[e], nil
	}
	var one [1]float32
	var scratch []byte
	x, err := in.block(e, e+1, one[:], &scratch)
	if err != nil {
		return 0, err
	}
	return x[0], nil
}

// release drops the mapped pages behind output elements [lo, hi).
func (in *tensorIn) release(lo, hi int) {
	if in.raw == nil {
		return
	}
	size := in.stored.Size()
	a, b := lo, hi
	if in.inCols != in.outCols {
		a = lo / in.outCols * in.inCols
		b = min(len(in.raw)/size, (hi+in.outCols-1)/in.outCols*in.inCols)
	}
	st.Release(in.raw[a*size : b*size])
}

// whole returns the input's elements (input coordinates, uncropped) in the
// compute dtype, for methods that need a tensor at once.
func (in *tensorIn) whole(buf []float32) ([]float32, error) {
	if in.view != nil {
		return in.view, nil
	}
	c := *in
	c.inCols, c.outCols = 0, 0
	var scratch []byte
	return c.block(0, len(buf), buf, &scratch)
}

// faultError is the error a worker returns when a mapped file faulted (it
// was truncated or failed to read while merging).
type faultError struct{ v any }

func (e faultError) Error() string {
	return fmt.Sprintf("reading a model file failed while merging (was it changed or truncated during the merge?): %v", e.v)
}

// guarded runs f, turning a memory fault in a mapped model file into an
// error instead of a crash.
func guarded(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if re, ok := v.(interface{ Addr() uintptr }); ok {
				err = faultError{re}
				return
			}
			panic(v)
		}
	}()
	return f()
}

// parallelBlocks runs fn(worker, block, lo, hi) over the blocks of [0, n)
// (each blockSize long, the last shorter) with up to workers goroutines,
// and returns the first error. Blocks are fixed by n and blockSize alone,
// so per-block results never depend on the schedule.
func parallelBlocks(n, blockSize, workers int, fn func(w, b, lo, hi int) error) error {
	if n <= 0 {
		return nil
	}
	blocks := (n + blockSize - 1) / blockSize
	workers = max(1, min(workers, blocks))
	var next atomic.Int64
	var failed atomic.Bool
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		run := func(w int) {
			defer wg.Done()
			errs[w] = guarded(func() error {
				for !failed.Load() {
					b := int(next.Add(1) - 1)
					if b >= blocks {
						return nil
					}
					if err := fn(w, b, b*blockSize, min(n, (b+1)*blockSize)); err != nil {
						failed.Store(true)
						return err
					}
				}
				return nil
			})
		}
		if workers == 1 {
			run(w)
		} else {
			go run(w)
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// blockSizeFor is the block length for a merge whose blocks must start at
// multiples of align (a row length for row-wise methods, else selChunk).
func blockSizeFor(align int) int {
	if align <= 0 {
		align = selChunk
	}
	return max(align, blockLen/align*align)
}

// forBlocks reads the given inputs (indices into j.ins; nil: all) block by
// block and calls fn with them on up to j.workers goroutines; the inputs'
// pages are released after each block.
func (j *job) forBlocks(align int, which []int, fn func(w, b, lo, hi int, in [][]float32) error) error {
	if which == nil {
		which = make([]int, len(j.ins))
		for i := range which {
			which[i] = i
		}
	}
	size := blockSizeFor(align)
	workers := max(1, j.workers)
	bufs := make([][][]float32, workers)
	scratch := make([][]byte, workers)
	n := j.ins[which[0]].n
	bufLen := min(size, n)
	return parallelBlocks(n, size, workers, func(w, b, lo, hi int) error {
		if j.ctx != nil {
			if err := j.ctx.Err(); err != nil {
				return err
			}
		}
		if bufs[w] == nil {
			bufs[w] = make([][]float32, len(j.ins))
		}
		in := make([][]float32, len(j.ins))
		for _, i := range which {
			if bufs[w][i] == nil && j.ins[i].view == nil {
				bufs[w][i] = make([]float32, bufLen)
			}
			x, err := j.ins[i].block(lo, hi, bufs[w][i], &scratch[w])
			if err != nil {
				return err
			}
			in[i] = x
		}
		err := fn(w, b, lo, hi, in)
		for _, i := range which {
			j.ins[i].release(lo, hi)
		}
		return err
	})
}

// sink receives a tensor's merged values block by block.
type sink interface {
	// buf is where worker w computes output elements [lo, hi).
	buf(w, lo, hi int) []float32
	// put finishes elements [lo, hi), computed into b: rounds them to the
	// compute dtype and then the output dtype, counts non-finite values and
	// stores them.
	put(w, lo, hi int, b []float32) error
}

// finisher rounds merged values and counts non-finite ones.
type finisher struct {
	dt, odt  st.DType
	bad      atomic.Int64
	firstBad atomic.Int64 // 1 + the first bad element seen (any order), 0: none
}

func (f *finisher) finish(lo int, b []float32) {
	if f.dt == st.BF16 || f.dt == st.F16 {
		st.RoundSlice(f.dt, b)
	}
	if f.odt != f.dt {
		st.RoundSlice(f.odt, b)
	}
	if n, first := countNonFinite(b); n > 0 {
		f.bad.Add(int64(n))
		f.firstBad.CompareAndSwap(0, int64(lo+first+1))
	}
}

// memSink writes into a tensor's output buffer in place.
type memSink struct {
	finisher
	out []float32
}

func (s *memSink) buf(w, lo, hi int) []float32 { return s.out[lo:hi] }
func (s *memSink) put(w, lo, hi int, b []float32) error {
	s.finish(lo, b)
	return nil
}

// fileSink encodes blocks into the output file at their final offsets.
type fileSink struct {
	finisher
	layout *st.Layout
	index  int
	mu     sync.Mutex
	bufs   map[int][]float32
	bytes  map[int][]byte
}

func (s *fileSink) buf(w, lo, hi int) []float32 {
	s.mu.Lock()
	b := s.bufs[w]
	s.mu.Unlock()
	if cap(b) < hi-lo {
		b = make([]float32, blockSizeFor(hi-lo))
		s.mu.Lock()
		s.bufs[w] = b
		s.mu.Unlock()
	}
	return b[:hi-lo]
}

func (s *fileSink) put(w, lo, hi int, b []float32) error {
	s.finish(lo, b)
	s.mu.Lock()
	bb := s.bytes[w]
	s.mu.Unlock()
	bb, err := s.layout.WriteAt(s.index, lo, b, bb)
	s.mu.Lock()
	s.bytes[w] = bb
	s.mu.Unlock()
	return err
}

// streamer is a method's elementwise form: prepare reads whatever it needs
// from whole inputs (thresholds, norms) and returns the per-block merge.
type streamer func(j *job) (blockFn, int, error)

// blockFn merges output elements [lo, hi) from the inputs' blocks (in[i]
// is input i's elements lo..hi in the compute dtype, nil for inputs the
// method does not read) into out.
type blockFn func(w, lo, hi int, in [][]float32, out []float32) error

// exec merges one tensor into s: block by block for methods with an
// elementwise form, else with every input read whole. It fails when the
// result holds non-finite values no input has, unless allowed.
func (j *job) exec(s sink, fin *finisher, allowNonFinite bool) error {
	if j.sc == nil {
		j.sc = &scratch{}
	}
	defer j.sc.reset()
	n := numel(j.outShape)
	if j.method.stream != nil {
		fn, align, err := j.method.stream(j)
		if err != nil {
			return err
		}
		err = j.forBlocks(align, j.reads, func(w, b, lo, hi int, in [][]float32) error {
			out := s.buf(w, lo, hi)
			if err := fn(w, lo, hi, in, out); err != nil {
				return err
			}
			return s.put(w, lo, hi, out)
		})
		if err != nil {
			return err
		}
	} else {
		j.inputs = make([][]float32, len(j.ins))
		for i, in := range j.ins {
			buf := []float32(nil)
			if in.view == nil {
				buf = j.sc.get(numel(j.shapes[i]))
			}
			x, err := in.whole(buf)
			if err != nil {
				return err
			}
			j.inputs[i] = x
		}
		var out []float32
		if ms, ok := s.(*memSink); ok {
			out = ms.out
		} else {
			out = j.sc.get(n)
		}
		if err := guarded(func() error { return j.method.merge(j, out) }); err != nil {
			return err
		}
		for i, in := range j.ins {
			in.release(0, len(j.inputs[i]))
		}
		for lo := 0; lo < n; lo += blockLen {
			hi := min(n, lo+blockLen)
			if err := s.put(0, lo, hi, out[lo:hi]); err != nil {
				return err
			}
		}
	}
	if fin.bad.Load() > 0 && !allowNonFinite {
		return j.nonFiniteError(fin)
	}
	return nil
}

// nonFiniteError reports a result with NaN or ±Inf values, unless some input
// has non-finite values too (mergekit passes those on, and so does this).
func (j *job) nonFiniteError(fin *finisher) error {
	var found atomic.Bool
	err := j.forBlocks(0, j.reads, func(w, b, lo, hi int, in [][]float32) error {
		for _, x := range in {
			if c, _ := countNonFinite(x); x != nil && c > 0 {
				found.Store(true)
			}
		}
		return nil
	})
	if err != nil || found.Load() {
		return err
	}
	return fmt.Errorf("%s: the merge produced %d non-finite values (NaN or ±Inf, e.g. at element %d) although no input has any; check the recipe's parameters for this tensor (weights summing to 0 with normalize divide by 0), or allow them with -allow-non-finite",
		j.name, fin.bad.Load(), fin.firstBad.Load()-1)
}

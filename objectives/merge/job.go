package merge

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

var (
	// required marks a parameter default that must be given.
	required = math.NaN()
	// unset marks an optional parameter with no default.
	unset = math.Inf(-1)
)

// job is one tensor's merge: the inputs in mergekit's tensor order (config
// order, base appended last when not listed) and the resolved parameters.
type job struct {
	method   *methodDef
	name     string   // output tensor name (filters and is_embed use it)
	isEmbed  bool     // embeddings / lm_head: shape mismatches are cropped
	dtype    st.DType // compute dtype; every elementwise result is rounded to it
	models   []string
	inputs   [][]float32 // read-only; already rounded to dtype
	shapes   [][]int
	base     int // index of the base model in inputs, or -1
	global   params
	perModel []params

	seed uint64
	// masks, when set, replaces the random keep-mask draw: masks(i, n)
	// returns model i's 0/1 mask. Tests inject mergekit's recorded masks.
	masks   func(model int, n int) []float32
	workers int
	sc      *scratch

	ins      []*tensorIn // the inputs as the engine reads them
	outShape []int
	reads    []int // inputs a streamed method reads (nil: all)
	ctx      context.Context
}

// r rounds a value to the job's compute dtype.
func (j *job) r(v float32) float32 { return st.Round(j.dtype, v) }

func (j *job) half() bool { return j.dtype == st.BF16 || j.dtype == st.F16 }

// resolveJob applies mergekit's parameter lookup for one tensor. levels are
// the scopes outside the source (slice, then top level); each model's own
// source parameters come first for per-model parameters. Global-scope values
// are evaluated against the output tensor name, source-scope values against
// that model's source tensor name.
func resolveJob(j *job, t float64, levels []map[string]any, modelParams []map[string]any, srcNames []string) error {
	m := j.method
	j.global = params{}
	for key, def := range m.global {
		v, found, err := lookup(key, t, j.name, levels)
		if err != nil {
			return err
		}
		if !found {
			if math.IsNaN(def) {
				return fmt.Errorf("%s: parameter %q is required by %s", j.name, key, m.name)
			}
			if def != unset {
				j.global[key] = def
			}
			continue
		}
		if err := checkDomain(m.name, key, v); err != nil {
			return fmt.Errorf("%s: %w", j.name, err)
		}
		j.global[key] = v
	}
	j.perModel = make([]params, len(j.models))
	for i := range j.models {
		p := params{}
		for key, def := range m.perModel {
			v, found, err := lookup(key, t, srcNames[i], []map[string]any{modelParams[i]})
			if err == nil && !found {
				v, found, err = lookup(key, t, j.name, levels)
			}
			if err != nil {
				return fmt.Errorf("model %s: %w", j.models[i], err)
			}
			if !found {
				if math.IsNaN(def) {
					if i == j.base {
						continue // the base model takes defaults and does not need a weight
					}
					return fmt.Errorf("%s: model %s: parameter %q is required by %s", j.name, j.models[i], key, m.name)
				}
				if def != unset {
					p[key] = def
				}
				continue
			}
			if err := checkDomain(m.name, key, v); err != nil {
				return fmt.Errorf("%s: model %s: %w", j.name, j.models[i], err)
			}
			p[key] = v
		}
		j.perModel[i] = p
	}
	return nil
}

func lookup(key string, t float64, name string, levels []map[string]any) (float64, bool, error) {
	for _, lv := range levels {
		raw, ok := lv[key]
		if !ok {
			continue
		}
		v, found, err := evalSetting(raw, t, name)
		if err != nil {
			return 0, false, fmt.Errorf("parameter %s: %w", key, err)
		}
		if !found {
			continue
		}
		f, err := numeric(key, v)
		return f, err == nil, err
	}
	return 0, false, nil
}

// run merges the job's in-memory inputs (j.inputs) into out with the
// engine, as a Merger would, and rounds the result to the compute dtype.
func (j *job) run(out []float32) error {
	if j.workers <= 0 {
		j.workers = runtime.GOMAXPROCS(0)
	}
	shape, err := outputShape(j.method, j.name, j.isEmbed, j.models, j.shapes, j.base)
	if err != nil {
		return err
	}
	if len(out) != numel(shape) {
		return fmt.Errorf("%s: output buffer has %d values, shape %v needs %d", j.name, len(out), shape, numel(shape))
	}
	j.outShape = shape
	j.ins = make([]*tensorIn, len(j.inputs))
	for i, x := range j.inputs {
		m, err := NewModel(map[string]Tensor{"x": {Shape: j.shapes[i], Data: x}}, 0, j.dtype)
		if err != nil {
			return err
		}
		j.ins[i] = newTensorIn(m, j.models[i], "x", j.shapes[i], j.cropTo(i), j.dtype, j.method.stream != nil)
	}
	s := &memSink{finisher: finisher{dt: j.dtype, odt: j.dtype}, out: out}
	return j.exec(s, &s.finisher, true)
}

// cropTo is the shape input i is cut to when a streamed method crops
// embeddings: the base's shape (GTA family) or the output's.
func (j *job) cropTo(i int) []int {
	if !j.isEmbed {
		return j.shapes[i]
	}
	if j.method.gta != nil && j.base >= 0 {
		return j.shapes[j.base]
	}
	return j.outShape
}

// outputShape predicts the merged tensor's shape from the input shapes
// alone, so a writer can lay out the file before merging. It applies
// mergekit's rules: the GTA family and slerp/nearswap keep the base's shape;
// embeddings of the other methods are cropped to the common rows/columns;
// any other mismatch is an error.
func outputShape(m *methodDef, name string, isEmbed bool, models []string, shapes [][]int, base int) ([]int, error) {
	if len(shapes) == 0 {
		return nil, fmt.Errorf("%s: no inputs", name)
	}
	if m.gta != nil {
		if base < 0 {
			return nil, fmt.Errorf("%s: %s needs a base_model", name, m.name)
		}
		bs := shapes[base]
		for i, s := range shapes {
			if isEmbed && !slices.Equal(s, bs) && (len(s) != 2 || len(bs) != 2 || s[0] < bs[0] || s[1] < bs[1]) {
				return nil, fmt.Errorf("%s: model %s has shape %v, which cannot be cropped to the base model's %v", name, models[i], s, bs)
			}
		}
		return slices.Clone(bs), nil
	}
	if isEmbed && all2D(shapes) && !m.noCrop {
		r, c := shapes[0][0], shapes[0][1]
		for _, s := range shapes {
			r, c = min(r, s[0]), min(c, s[1])
		}
		return []int{r, c}, nil
	}
	for _, s := range shapes[1:] {
		if !slices.Equal(s, shapes[0]) {
			return nil, fmt.Errorf("tensor size mismatch for %s, sizes: %v (models %v)", name, shapes, models)
		}
	}
	return slices.Clone(shapes[0]), nil
}

func all2D(shapes [][]int) bool {
	for _, s := range shapes {
		if len(s) != 2 {
			return false
		}
	}
	return true
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// crop returns the [:rows, :cols] corner of a row-major 2-D tensor.
func crop(x []float32, shape []int, rows, cols int, dst []float32) []float32 {
	if shape[0] == rows && shape[1] == cols {
		return x
	}
	for i := 0; i < rows; i++ {
		copy(dst[i*cols:(i+1)*cols], x[i*shape[1]:i*shape[1]+cols])
	}
	return dst[:rows*cols]
}

// scratch hands out float32 buffers for one merge call and reuses them for
// the next tensor, so memory stays at a few tensors whatever the model size.
type scratch struct {
	bufs [][]float32
	used int
}

func (s *scratch) get(n int) []float32 {
	if s.used < len(s.bufs) && cap(s.bufs[s.used]) >= n {
		b := s.bufs[s.used][:n]
		s.used++
		return b
	}
	b := make([]float32, n)
	if s.used < len(s.bufs) {
		s.bufs[s.used] = b
	} else {
		s.bufs = append(s.bufs, b)
	}
	s.used++
	return b
}

func (s *scratch) reset() { s.used = 0 }

// parallelFor splits [0, n) into chunks of chunkLen and runs fn on them with
// up to workers goroutines. Chunk boundaries depend only on n, so results
// (and any per-chunk random stream) never depend on scheduling.
func parallelFor(n, chunkLen, workers int, fn func(c, lo, hi int)) {
	chunks := (n + chunkLen - 1) / chunkLen
	if workers <= 1 || chunks <= 1 {
		for c := 0; c < chunks; c++ {
			fn(c, c*chunkLen, min(n, (c+1)*chunkLen))
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < min(workers, chunks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= chunks {
					return
				}
				fn(c, c*chunkLen, min(n, (c+1)*chunkLen))
			}
		}()
	}
	wg.Wait()
}

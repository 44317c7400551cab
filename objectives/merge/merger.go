package merge

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Merger merges recipes over a fixed set of loaded models. Load the models
// once (LoadModel, NewModel or OpenCheckpoint), then call Merge as often as
// needed: it reads the sources without copying in-memory tensors, reuses the
// caller's Output buffers, and never touches disk for in-memory models.
// A Merger is safe for concurrent use; each call needs its own Output.
type Merger struct {
	sources map[string]Source
	// Workers bounds the goroutines one Merge call uses (tensors in flight
	// and blocks within a tensor); 0 means GOMAXPROCS.
	Workers int
	// Seed drives the random methods (dare_*, della*): the same seed, recipe
	// and models give the same merge.
	Seed uint64
	// AllowNonFinite keeps merged tensors holding NaN or ±Inf values that
	// none of their inputs had (for example linear weights summing to 0);
	// by default such a tensor is an error naming it.
	AllowNonFinite bool

	// free holds scratch buffers between tensors. A plain list rather than
	// a sync.Pool: a pool is emptied at every GC, and the reallocated
	// tensor-sized buffers would double the heap.
	mu   sync.Mutex
	free []*scratch

	// masks, when set, replaces the random keep-mask draws (tests inject
	// mergekit's recorded masks through the file path with it).
	masks func(tensor, model string, n int) []float32
}

// NewMerger returns a Merger over sources keyed by the model names recipes
// use in model: and base_model:.
func NewMerger(sources map[string]Source) *Merger {
	return &Merger{sources: sources}
}

// Output holds merged tensors. Reusing one Output across Merge calls reuses
// its buffers when the shapes match.
type Output struct {
	Names   []string           // in merge order
	Tensors map[string]*Tensor // values rounded to each tensor's DType
	DType   st.DType           // the model's dtype (see Plan.OutDType)
}

// Plan resolves a recipe against the Merger's models.
func (m *Merger) Plan(r *Recipe) (*Plan, error) { return NewPlan(r, m.sources) }

// Merge plans and merges a recipe into out.
func (m *Merger) Merge(ctx context.Context, r *Recipe, out *Output) error {
	p, err := m.Plan(r)
	if err != nil {
		return err
	}
	return m.MergePlan(ctx, p, out)
}

// MergePlan merges a plan (from this Merger's Plan) into out.
func (m *Merger) MergePlan(ctx context.Context, p *Plan, out *Output) error {
	if out.Tensors == nil {
		out.Tensors = map[string]*Tensor{}
	}
	out.DType = p.outDType
	out.Names = out.Names[:0]
	keep := map[string]bool{}
	for _, pt := range p.tensors {
		out.Names = append(out.Names, pt.name)
		keep[pt.name] = true
		t := out.Tensors[pt.name]
		if t == nil {
			t = &Tensor{}
			out.Tensors[pt.name] = t
		}
		t.Shape = append(t.Shape[:0], pt.shape...)
		t.DType = pt.outDType
		if n := numel(pt.shape); cap(t.Data) >= n {
			t.Data = t.Data[:n]
		} else {
			t.Data = make([]float32, n)
		}
	}
	for name := range out.Tensors {
		if !keep[name] {
			delete(out.Tensors, name)
		}
	}
	return m.each(ctx, p, func(i int) []float32 { return out.Tensors[p.tensors[i].name].Data }, nil)
}

func (m *Merger) workers() int {
	if m.Workers > 0 {
		return m.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// each merges every tensor of p with up to Workers tensors in flight.
// dst(i) gives tensor i's output buffer; emit, if set, is called with
// tensor i's result in plan order (for streaming to a file), after which the
// buffer may be reused.
func (m *Merger) each(ctx context.Context, p *Plan, dst func(i int) []float32, emit func(i int, data []float32) error) error {
	w := min(m.workers(), len(p.tensors))
	type result struct {
		data []float32
		err  error
	}
	results := make([]chan result, len(p.tensors))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// tokens bounds the tensors merged but not yet emitted, so memory stays
	// at a few tensors even when one slow tensor holds up the writer.
	tokens := make(chan struct{}, w)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range p.tensors {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var buf []float32
				if dst != nil {
					buf = dst(i)
				}
				data, err := m.mergeOne(ctx, p, i, buf)
				results[i] <- result{data, err}
			}(i)
		}
	}()
	var firstErr error
	for i := range p.tensors {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			res.err = ctx.Err()
		}
		if res.err == nil && emit != nil {
			res.err = emit(i, res.data)
		}
		if res.err != nil {
			firstErr = res.err
			cancel()
			break
		}
		<-tokens
	}
	wg.Wait()
	return firstErr
}

// mergeOne merges plan tensor i into buf (allocated if nil).
func (m *Merger) mergeOne(ctx context.Context, p *Plan, i int, buf []float32) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pt := &p.tensors[i]
	sc := m.getScratch()
	defer m.putScratch(sc)
	j := &job{method: p.method, name: pt.name, isEmbed: pt.isEmbed, dtype: pt.dtype, models: pt.models,
		shapes: pt.shapes, base: pt.base, seed: m.Seed, workers: m.workers(), sc: sc}
	if m.masks != nil {
		j.masks = func(k, n int) []float32 { return m.masks(pt.name, pt.models[k], n) }
	}
	for k, model := range pt.models {
		s := m.sources[model]
		name := pt.srcNames[k]
		if v, ok := s.(viewer); ok && (tensorDType(s, name) == pt.dtype || pt.dtype == st.F32) {
			data, _ := v.View(name)
			j.inputs = append(j.inputs, data)
			continue
		}
		data := sc.get(numel(pt.shapes[k]))
		if err := s.Read(name, data); err != nil {
			return nil, err
		}
		st.RoundSlice(pt.dtype, data)
		j.inputs = append(j.inputs, data)
	}
	j.global, j.perModel = pt.global, pt.perModel
	n := numel(pt.shape)
	if buf == nil {
		buf = make([]float32, n)
	}
	if len(buf) != n {
		return nil, fmt.Errorf("%s: output buffer has %d values, shape %v needs %d", pt.name, len(buf), pt.shape, n)
	}
	j.sc = sc
	if err := j.method.merge(j, buf); err != nil {
		return nil, err
	}
	st.RoundSlice(pt.outDType, buf)
	if !m.AllowNonFinite {
		if err := checkFinite(pt, buf, j.inputs); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func (m *Merger) getScratch() *scratch {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.free); n > 0 {
		sc := m.free[n-1]
		m.free = m.free[:n-1]
		return sc
	}
	return &scratch{}
}

// putScratch keeps at most Workers scratch sets, the most ever in use at once.
func (m *Merger) putScratch(sc *scratch) {
	sc.reset()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.free) < m.workers() {
		m.free = append(m.free, sc)
	}
}

// checkFinite fails when the merged tensor holds NaN or ±Inf values and
// none of its inputs has any: mergekit writes such a tensor without a word
// (for example linear weights summing to 0 divide by 0).
func checkFinite(pt *planTensor, out []float32, inputs [][]float32) error {
	bad, first := countNonFinite(out)
	if bad == 0 {
		return nil
	}
	for _, x := range inputs {
		if n, _ := countNonFinite(x); n > 0 {
			return nil
		}
	}
	return fmt.Errorf("%s: the merge produced %d non-finite values (NaN or ±Inf; the first at element %d, %v) although no input has any; check the recipe's parameters for this tensor (weights summing to 0 with normalize divide by 0), or allow them with -allow-non-finite",
		pt.name, bad, first, out[first])
}

// countNonFinite counts NaN and ±Inf values and finds the first.
func countNonFinite(x []float32) (n, first int) {
	first = -1
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

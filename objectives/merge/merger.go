package merge

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
	"golang.org/x/sync/semaphore"
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
	return m.runPlan(ctx, p, func(i int) (sink, *finisher) {
		pt := &p.tensors[i]
		s := &memSink{finisher: finisher{dt: pt.dtype, odt: pt.outDType}, out: out.Tensors[pt.name].Data}
		return s, &s.finisher
	}, 0, false, nil)
}

func (m *Merger) workers() int {
	if m.Workers > 0 {
		return m.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// newJob prepares plan tensor i's merge: its inputs as the engine reads
// them (cropped embeddings for the streamed methods) and its parameters.
func (m *Merger) newJob(ctx context.Context, p *Plan, i int) *job {
	pt := &p.tensors[i]
	j := &job{method: p.method, name: pt.name, isEmbed: pt.isEmbed, dtype: pt.dtype, models: pt.models,
		shapes: pt.shapes, base: pt.base, seed: m.Seed, workers: m.workers(), sc: &scratch{},
		global: pt.global, perModel: pt.perModel, outShape: pt.shape, ctx: ctx}
	if m.masks != nil {
		j.masks = func(k, n int) []float32 { return m.masks(pt.name, pt.models[k], n) }
	}
	for k, model := range pt.models {
		j.ins = append(j.ins, newTensorIn(m.sources[model], model, pt.srcNames[k], pt.shapes[k], j.cropTo(k), pt.dtype, p.method.stream != nil))
	}
	return j
}

// memoryNeed estimates the bytes tensor i's merge holds at once: for a
// streamed method a block per input and worker (decoded inputs, output and
// its encoded bytes) plus the selection histograms; for a whole-tensor
// method every input it must copy or decode, its output (when it goes to a
// file) and its scratch.
func (m *Merger) memoryNeed(p *Plan, j *job, toFile bool) int64 {
	n := int64(numel(j.outShape))
	if p.method.stream != nil {
		per := int64(0)
		for _, in := range j.ins {
			if in.view == nil {
				per++
			}
		}
		per += 3
		blocks := int64(j.workers) * int64(blockSizeFor(0)) * 4 * per
		if p.method.gta != nil {
			// Histograms and scratch per worker; candidates of the sampled
			// selection and random masks kept as bits per model.
			blocks += int64(j.workers) * int64(len(j.ins)) * (1<<16*4 + int64(blockLen)*12)
			blocks += int64(len(j.ins)) * (n/4 + n/8)
		}
		return min(blocks, 4*n*per+int64(len(j.ins))<<18)
	}
	var need int64
	for k, in := range j.ins {
		if in.view == nil {
			need += 4 * int64(numel(j.shapes[k]))
		}
	}
	if toFile {
		need += 4 * n
	}
	extra := 2
	if p.method.tempPerElem != nil {
		extra = p.method.tempPerElem(len(j.ins))
	}
	return need + 4*n*int64(extra)
}

// runPlan merges every tensor of p into the sinks newSink gives, at most
// budget bytes at a time (0: no limit). A large tensor of a streamed
// method takes all workers, block by block; small tensors and whole-tensor
// methods run one per worker, several at once. done, if set, is called as
// each tensor finishes.
func (m *Merger) runPlan(ctx context.Context, p *Plan, newSink func(i int) (sink, *finisher), budget int64, toFile bool, done func(i int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	W := m.workers()
	cores := make(chan struct{}, W)
	var mem *semaphore.Weighted
	if budget > 0 {
		mem = semaphore.NewWeighted(budget)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	run := func(i int, j *job, need int64, tokens int) {
		defer func() {
			for k := 0; k < tokens; k++ {
				<-cores
			}
			if mem != nil {
				mem.Release(need)
			}
		}()
		s, fin := newSink(i)
		if err := j.exec(s, fin, m.AllowNonFinite); err != nil {
			fail(err)
			return
		}
		if done != nil {
			done(i)
		}
	}
	for i := range p.tensors {
		if ctx.Err() != nil {
			break
		}
		j := m.newJob(ctx, p, i)
		big := p.method.stream != nil && numel(j.outShape) >= 4*blockLen && W > 1
		if !big {
			j.workers = 1
		}
		need := m.memoryNeed(p, j, toFile)
		if mem != nil {
			if need > budget {
				fail(fmt.Errorf("%s: %s needs about %d MiB to merge this tensor, more than the memory budget of %d MiB; raise -max-memory",
					j.name, p.method.name, need>>20, budget>>20))
				break
			}
			if err := mem.Acquire(ctx, need); err != nil {
				break
			}
		}
		tokens := 1
		if big {
			tokens = W
		}
		got := 0
		for got < tokens && ctx.Err() == nil {
			select {
			case cores <- struct{}{}:
				got++
			case <-ctx.Done():
			}
		}
		if got < tokens {
			for ; got > 0; got-- {
				<-cores
			}
			if mem != nil {
				mem.Release(need)
			}
			break
		}
		if big {
			run(i, j, need, tokens)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(i, j, need, tokens)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// countNonFinite counts NaN and ±Inf values and finds the first. Every
// output block passes through it, so it first tests eight values at a time
// without a branch (an exponent of all ones plus one carries into the sign
// bit) and counts one by one only when some value is not finite.
func countNonFinite(x []float32) (n, first int) {
	const exp, one = 0x7f800000, 0x00800000
	var any uint32
	e := 0
	for ; e+8 <= len(x); e += 8 {
		v := (*[8]float32)(x[e : e+8])
		any |= (math.Float32bits(v[0])&exp + one) | (math.Float32bits(v[1])&exp + one) |
			(math.Float32bits(v[2])&exp + one) | (math.Float32bits(v[3])&exp + one) |
			(math.Float32bits(v[4])&exp + one) | (math.Float32bits(v[5])&exp + one) |
			(math.Float32bits(v[6])&exp + one) | (math.Float32bits(v[7])&exp + one)
	}
	for _, v := range x[e:] {
		any |= math.Float32bits(v)&exp + one
	}
	if any>>31 == 0 {
		return 0, -1
	}
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

package realmerge

import (
	"context"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// genome is mergekit-evolve's genome layout over a zoo, shared by both
// real-merge objectives: (G, M, P) row-major, G layer groups × M experts ×
// P per-expert parameters ([weight] or [weight, density]), each group one
// slice of the recipe with the base appended as a source.
type genome struct {
	zoo        *zoo.Zoo      // the models merged
	merger     *merge.Merger // over the zoo's models (load)
	objective  string        // the objective's name, for errors
	method     string        // merge method of the recipe
	normalize  bool          // mergekit's normalize
	densities  bool          // density genes (else density below, for methods that take one)
	density    float64       // the fixed density without density genes
	minDensity float64       // the smallest density a gene maps to
	weightMax  float64       // the upper bound of weight genes
	experts    []string      // in genome order
	groups     [][2]int      // layer range [lo, hi) of each gene group
	params     []string      // per-expert parameter names
}

// withParams sets the per-expert parameters: weight, and density with
// density genes.
func (g genome) withParams() genome {
	g.params = []string{"weight"}
	if g.densities {
		g.params = append(g.params, "density")
	}
	return g
}

// Dim is G·M·P.
func (g *genome) Dim() int { return len(g.groups) * len(g.experts) * len(g.params) }

// Experts lists the merged experts in genome order.
func (g *genome) Experts() []string { return append([]string(nil), g.experts...) }

// Groups is the number of layer groups G.
func (g *genome) Groups() int { return len(g.groups) }

// Params lists the per-expert parameters in genome order.
func (g *genome) Params() []string { return append([]string(nil), g.params...) }

// Zoo is the model zoo being merged.
func (g *genome) Zoo() *zoo.Zoo { return g.zoo }

// Gene is the index of parameter param of expert in layer group gi, or -1.
func (g *genome) Gene(gi int, expert, param string) int {
	m, p := index(g.experts, expert), index(g.params, param)
	if gi < 0 || gi >= len(g.groups) || m < 0 || p < 0 {
		return -1
	}
	return (gi*len(g.experts)+m)*len(g.params) + p
}

func index(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Box is [0, weightMax] for weights and [0, 1] for densities; candidates
// must stay inside.
func (g *genome) Box() objectives.Box {
	b := objectives.Box{Lower: make([]float64, g.Dim()), Upper: make([]float64, g.Dim()), Constraint: true}
	for i := range b.Upper {
		if g.params[i%len(g.params)] == "density" {
			b.Upper[i] = 1
		} else {
			b.Upper[i] = g.weightMax
		}
	}
	return b
}

// Recipe is the mergekit recipe of x in mergekit-evolve's discrete form,
// with the zoo's model names: weights are |gene|, densities |gene|
// clamped to [minDensity, 1].
func (g *genome) Recipe(x []float64) (*merge.Recipe, error) {
	if len(x) != g.Dim() {
		return nil, fmt.Errorf("%s: vector has %d values, want %d", g.objective, len(x), g.Dim())
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: gene %d is %g", g.objective, i, v)
		}
	}
	r := &merge.Recipe{
		MergeMethod: g.method,
		BaseModel:   zoo.Base,
		DType:       "float32",
		Parameters:  map[string]any{"normalize": g.normalize},
	}
	for gi, lr := range g.groups {
		sl := merge.SliceSpec{}
		for m, e := range g.experts {
			p := map[string]any{}
			for k, name := range g.params {
				v := math.Abs(x[(gi*len(g.experts)+m)*len(g.params)+k])
				if name == "density" {
					v = max(g.minDensity, min(v, 1))
				}
				p[name] = v
			}
			if !g.densities && g.method != "task_arithmetic" {
				p["density"] = g.density
			}
			sl.Sources = append(sl.Sources, merge.SourceSpec{Model: e, LayerRange: []int{lr[0], lr[1]}, Parameters: p})
		}
		sl.Sources = append(sl.Sources, merge.SourceSpec{Model: zoo.Base, LayerRange: []int{lr[0], lr[1]}})
		r.Slices = append(r.Slices, sl)
	}
	return r, nil
}

// DiskRecipe is Recipe(x) with every model named by its zoo folder, ready
// for merge.Run or `evomerge merge`: merging it to disk and scoring the
// folder on the objective's held-out items gives its held-out score.
func (g *genome) DiskRecipe(x []float64) (*merge.Recipe, error) {
	r, err := g.Recipe(x)
	if err != nil {
		return nil, err
	}
	onDisk(r, g.zoo.Path)
	return r, nil
}

// load reads the zoo's models, each of the given number of layers, and
// makes the merger: one goroutine per merge, since concurrency comes from
// concurrent runs and the merges are tiny next to the forward pass.
func (g *genome) load(layers int, maskSeed uint64) error {
	srcs := map[string]merge.Source{}
	for _, m := range g.zoo.Models {
		mod, err := merge.LoadModel(g.zoo.Path(m))
		if err != nil {
			return fmt.Errorf("%s: %w", g.objective, err)
		}
		if mod.NumLayers() != layers {
			return fmt.Errorf("%s: model %s has %d layers, want %d", g.objective, m, mod.NumLayers(), layers)
		}
		srcs[m] = mod
	}
	g.merger = merge.NewMerger(srcs)
	g.merger.Seed = maskSeed
	g.merger.Workers = 1
	return nil
}

// mergeNet merges x into out and loads the result into net.
func (g *genome) mergeNet(ctx context.Context, x []float64, out *merge.Output, net *zoo.Net) error {
	r, err := g.Recipe(x)
	if err != nil {
		return err
	}
	if err := g.merger.Merge(ctx, r, out); err != nil {
		return fmt.Errorf("%s: merge: %w", g.objective, err)
	}
	if out.DType != st.F32 {
		return fmt.Errorf("%s: merge produced %s, want F32", g.objective, out.DType)
	}
	for l := 0; l < net.Layers(); l++ {
		w, b := out.Tensors[zoo.WeightName(l)], out.Tensors[zoo.BiasName(l)]
		if w == nil || b == nil {
			return fmt.Errorf("%s: merge produced no %s or %s", g.objective, zoo.WeightName(l), zoo.BiasName(l))
		}
		if err := net.SetLayer(l, w.Data, b.Data); err != nil {
			return fmt.Errorf("%s: %w", g.objective, err)
		}
	}
	return nil
}

package merge

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Plan is a recipe resolved against its models: every output tensor with
// its inputs in mergekit's order and the parameter scopes that apply to it.
// A Plan is read-only and can be merged many times.
type Plan struct {
	recipe   *Recipe
	method   *methodDef
	dtype    st.DType // compute dtype, or "" to use each base's stored dtype
	outDType st.DType // dtype of the result
	tensors  []planTensor
	layers   int // output layer count
	warnings []string
}

// Warnings lists what the merge will do that a user may not expect, one
// line each: a model left out of a tensor's merge (mergekit skips a GTA
// input whose shape differs from the base's), a parameter name the method
// does not read.
func (p *Plan) Warnings() []string { return p.warnings }

type planTensor struct {
	name      string
	isEmbed   bool
	t         float64
	models    []string
	srcNames  []string
	srcParams []map[string]any
	levels    []map[string]any // slice, then top-level parameters
	base      int
	shapes    [][]int
	shape     []int
	dtype     st.DType // compute dtype
	global    params   // resolved parameters
	perModel  []params
	outDType  st.DType // stored dtype of the result
}

// Names lists the output tensors in the order they are merged.
func (p *Plan) Names() []string {
	s := make([]string, len(p.tensors))
	for i, t := range p.tensors {
		s[i] = t.name
	}
	return s
}

// OutDType is the merged model's dtype (config.json's torch_dtype):
// out_dtype, else dtype, else the dtype most of its weights are saved in.
// Each tensor is saved in out_dtype if set, else in its compute dtype.
func (p *Plan) OutDType() st.DType { return p.outDType }

// NumLayers is the merged model's layer count.
func (p *Plan) NumLayers() int { return p.layers }

type sliceSrc struct {
	model  string
	lo, hi int
	params map[string]any
}

// isEmbedName reports whether a tensor is an embedding or lm_head, whose
// shape mismatches (vocabulary sizes) are cropped rather than fatal.
func isEmbedName(name string) bool {
	return strings.Contains(name, "embed") || strings.Contains(name, "lm_head") || strings.Contains(name, "wte")
}

// isPostName: tensors after the layers (final norm, lm_head) take their
// sources from the last slice; everything else outside the layers from the
// first.
func isPostName(name string) bool {
	return strings.Contains(name, "lm_head") || strings.Contains(name, "norm") || strings.Contains(name, "ln_f") || strings.Contains(name, "embed_out")
}

// NewPlan resolves a recipe against sources keyed by the recipe's model
// names. It checks that every model exists, that layer counts agree, and
// that every output tensor's inputs have compatible shapes.
func NewPlan(r *Recipe, sources map[string]Source) (*Plan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	m, _ := lookupMethod(r.MergeMethod)
	p := &Plan{recipe: r, method: m, warnings: unreadParameters(r, m)}
	if r.DType != "" {
		p.dtype, _ = st.ParseDType(r.DType)
	}
	src := func(name string) (Source, error) {
		s, ok := sources[name]
		if !ok {
			return nil, fmt.Errorf("model %q is not loaded", name)
		}
		return s, nil
	}
	type slice struct {
		srcs   []sliceSrc
		base   string
		params map[string]any
	}
	var slicesP []slice
	if len(r.Models) > 0 {
		var sl slice
		sl.base = r.BaseModel
		n := -1
		names := []string{}
		for _, ms := range r.Models {
			names = append(names, ms.Model)
		}
		specs := slices.Clone(r.Models)
		if r.BaseModel != "" && !slices.Contains(names, r.BaseModel) {
			specs = append(specs, ModelSpec{Model: r.BaseModel})
		}
		for _, ms := range specs {
			s, err := src(ms.Model)
			if err != nil {
				return nil, err
			}
			if n >= 0 && s.NumLayers() != n {
				return nil, fmt.Errorf("models have different layer counts (%s has %d, %s has %d); use slices: to pick layer ranges", specs[0].Model, n, ms.Model, s.NumLayers())
			}
			n = s.NumLayers()
			sl.srcs = append(sl.srcs, sliceSrc{model: ms.Model, lo: 0, hi: n, params: ms.Parameters})
		}
		slicesP = append(slicesP, sl)
	} else {
		for i, ss := range r.Slices {
			sl := slice{base: ss.BaseModel, params: ss.Parameters}
			if sl.base == "" {
				sl.base = r.BaseModel
			}
			found := false
			for k, so := range ss.Sources {
				s, err := src(so.Model)
				if err != nil {
					return nil, err
				}
				if so.LayerRange[1] > s.NumLayers() {
					return nil, fmt.Errorf("slices[%d].sources[%d]: layer_range %v is past model %s's %d layers", i, k, so.LayerRange, so.Model, s.NumLayers())
				}
				sl.srcs = append(sl.srcs, sliceSrc{model: so.Model, lo: so.LayerRange[0], hi: so.LayerRange[1], params: so.Parameters})
				found = found || so.Model == sl.base
			}
			if sl.base != "" && !found {
				if m.needsBase {
					return nil, fmt.Errorf("slices[%d]: base_model %s is not one of the slice's sources; list it with a layer_range", i, sl.base)
				}
				sl.base = ""
			}
			slicesP = append(slicesP, sl)
		}
	}
	outLayer := 0
	addTensor := func(sl slice, outName string, t float64, srcName func(s sliceSrc) string) error {
		pt := planTensor{name: outName, isEmbed: isEmbedName(outName), t: t, base: -1,
			levels: []map[string]any{sl.params, r.Parameters}}
		for _, ss := range sl.srcs {
			s, _ := src(ss.model)
			name := srcName(ss)
			shape, ok := s.Shape(name)
			if !ok && strings.Contains(name, "lm_head") {
				// lm_head is tied to the embedding in models that lack it.
				if emb := embeddingName(s.Names()); emb != "" {
					name = emb
					shape, ok = s.Shape(emb)
				}
			}
			if !ok {
				return fmt.Errorf("model %s has no tensor %q, which another model of the recipe has (needed for output %q; every model must have every tensor, as in mergekit)", ss.model, name, outName)
			}
			if ss.model == sl.base {
				pt.base = len(pt.models)
			}
			pt.models = append(pt.models, ss.model)
			pt.srcNames = append(pt.srcNames, name)
			pt.srcParams = append(pt.srcParams, ss.params)
			pt.shapes = append(pt.shapes, shape)
		}
		pt.dtype = p.dtype
		if pt.dtype == "" {
			pt.dtype = computeDType(m, pt.base, pt.models, pt.srcNames, src)
		}
		if pt.dtype == st.F64 {
			return fmt.Errorf("%s: the recipe computes this tensor in float64 (its stored dtype), but the engine computes in float32 at most; set dtype: float32 in the recipe (with out_dtype: float64 to write float64)", outName)
		}
		pt.outDType = pt.dtype
		if r.OutDType != "" {
			pt.outDType, _ = st.ParseDType(r.OutDType)
		}
		shape, err := outputShape(m, outName, pt.isEmbed, pt.models, pt.shapes, pt.base)
		if err != nil {
			return err
		}
		if m.gta != nil && !pt.isEmbed {
			for k, sh := range pt.shapes {
				if k != pt.base && !slices.Equal(sh, shape) {
					p.warnings = append(p.warnings, fmt.Sprintf("%s: model %s has shape %v, the base model %v: size mismatch, so it is left out of this tensor's merge, as mergekit's %s does",
						outName, pt.models[k], sh, shape, m.name))
				}
			}
		}
		pt.shape = shape
		// Parameters are resolved (and checked against their domains) here,
		// so a bad value fails before anything is merged or written.
		j := &job{method: m, name: outName, models: pt.models, base: pt.base}
		if err := resolveJob(j, pt.t, pt.levels, pt.srcParams, pt.srcNames); err != nil {
			return err
		}
		pt.global, pt.perModel = j.global, j.perModel
		p.tensors = append(p.tensors, pt)
		return nil
	}
	// Tensors outside the layers: from the first slice (embeddings) or the
	// last (final norm, lm_head). The names are the union over every source
	// of those slices, so a tensor one model lacks is an error naming it
	// (mergekit: "Tensor … required but not present in model …") rather than
	// silently left out; lm_head is included if any model has it.
	first, last := slicesP[0], slicesP[len(slicesP)-1]
	var pre, post []string
	seen := map[string]bool{}
	for _, sl := range []slice{first, last} {
		for _, ss := range sl.srcs {
			s, _ := src(ss.model)
			for _, n := range s.Names() {
				if i, _, _ := layerIndex(n); i >= 0 || seen[n] {
					continue
				}
				seen[n] = true
				if isPostName(n) {
					post = append(post, n)
				} else {
					pre = append(pre, n)
				}
			}
		}
	}
	sort.Strings(pre)
	sort.Strings(post)
	same := func(n string) func(sliceSrc) string { return func(sliceSrc) string { return n } }
	for _, n := range pre {
		if err := addTensor(first, n, 0, same(n)); err != nil {
			return nil, err
		}
	}
	// byLayer[model][layer] lists a model's tensor names in that layer.
	byLayer := map[string]map[int][]string{}
	for _, sl := range slicesP {
		for _, ss := range sl.srcs {
			if byLayer[ss.model] != nil {
				continue
			}
			s, _ := src(ss.model)
			m := map[int][]string{}
			for _, name := range s.Names() {
				if li, _, _ := layerIndex(name); li >= 0 {
					m[li] = append(m[li], name)
				}
			}
			byLayer[ss.model] = m
		}
	}
	for _, sl := range slicesP {
		n := sl.srcs[0].hi - sl.srcs[0].lo
		for i := 0; i < n; i++ {
			// The layer's tensors are the union over the slice's sources,
			// keyed by their output name.
			tmpl := map[string]string{}
			var outNames []string
			for _, ss := range sl.srcs {
				for _, name := range byLayer[ss.model][ss.lo+i] {
					on := withLayer(name, outLayer)
					if _, ok := tmpl[on]; !ok {
						tmpl[on] = name
						outNames = append(outNames, on)
					}
				}
			}
			sort.Strings(outNames)
			for _, on := range outNames {
				name := tmpl[on]
				err := addTensor(sl, on, layerT(i, n), func(ss sliceSrc) string {
					return withLayer(name, ss.lo+i)
				})
				if err != nil {
					return nil, err
				}
			}
			outLayer++
		}
	}
	p.layers = outLayer
	for _, n := range post {
		if err := addTensor(last, n, 0, same(n)); err != nil {
			return nil, err
		}
	}
	if len(p.tensors) == 0 {
		return nil, fmt.Errorf("the recipe selects no tensors")
	}
	// The model's dtype (config.json's torch_dtype) is out_dtype, else
	// dtype, as mergekit writes it, else the dtype most weights are saved in.
	p.outDType = p.dtype
	if r.OutDType != "" {
		p.outDType, _ = st.ParseDType(r.OutDType)
	}
	if p.outDType == "" {
		elems := map[st.DType]int{}
		for _, pt := range p.tensors {
			elems[pt.outDType] += numel(pt.shape)
		}
		for d, n := range elems {
			if n > elems[p.outDType] || (n == elems[p.outDType] && d < p.outDType) {
				p.outDType = d
			}
		}
	}
	return p, nil
}

// embeddingName finds a model's input embedding, used in place of a missing
// (tied) lm_head.
func embeddingName(names []string) string {
	for _, n := range names {
		if i, _, _ := layerIndex(n); i < 0 && (strings.Contains(n, "embed_tokens") || strings.Contains(n, "wte") || strings.Contains(n, "word_embeddings")) {
			return n
		}
	}
	return ""
}

// computeDType is the dtype mergekit computes a tensor in when the recipe
// sets none: each input keeps its stored dtype, so that is the tensor's
// dtype when all inputs agree. When they differ, the GTA family and slerp
// cast to the base model's dtype (get_task_vectors, SlerpTask); the others
// stack the inputs, which promotes as torch does (any float32 input, or
// bf16 with fp16, gives float32; float64 wins over all).
func computeDType(m *methodDef, base int, models, names []string, src func(string) (Source, error)) st.DType {
	var dts []st.DType
	for k, model := range models {
		s, _ := src(model)
		dts = append(dts, tensorDType(s, names[k]))
	}
	same := true
	for _, d := range dts {
		same = same && d == dts[0]
	}
	switch {
	case same:
		return dts[0]
	case base >= 0 && (m.gta != nil || m.name == "slerp"):
		return dts[base]
	case slices.Contains(dts, st.F64):
		return st.F64
	}
	return st.F32
}

// unreadParameters lists the recipe's parameter names the method never
// reads: typos such as wieght, parameters of another method, or a global
// parameter set under one model. mergekit's planner asks only for the names
// a method declares and ignores the rest without a word; the merge here does
// the same, but says so.
func unreadParameters(r *Recipe, m *methodDef) []string {
	var accepted []string
	for k := range m.global {
		accepted = append(accepted, k)
	}
	for k := range m.perModel {
		accepted = append(accepted, k)
	}
	sort.Strings(accepted)
	var warns []string
	check := func(where string, ps map[string]any, perModelScope bool) {
		keys := make([]string, 0, len(ps))
		for k := range ps {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_, g := m.global[k]
			_, pm := m.perModel[k]
			switch {
			case pm || (g && !perModelScope):
			case g:
				warns = append(warns, fmt.Sprintf("%s.%s is a global parameter of %s; set for one model it is not read (as in mergekit): set it under the top-level or a slice's parameters", where, k, m.name))
			default:
				warns = append(warns, fmt.Sprintf("%s.%s is not a parameter of %s and is ignored, as mergekit ignores it (accepted: %s)", where, k, m.name, strings.Join(accepted, ", ")))
			}
		}
	}
	check("parameters", r.Parameters, false)
	for i, ms := range r.Models {
		check(fmt.Sprintf("models[%d].parameters", i), ms.Parameters, true)
	}
	for i, sl := range r.Slices {
		check(fmt.Sprintf("slices[%d].parameters", i), sl.Parameters, false)
		for k, so := range sl.Sources {
			check(fmt.Sprintf("slices[%d].sources[%d].parameters", i, k), so.Parameters, true)
		}
	}
	return warns
}

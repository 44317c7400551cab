package merge

import (
	"fmt"
	"sort"
)

// methodDef describes one merge method: which parameters it reads, their
// defaults, and how it merges one tensor.
type methodDef struct {
	name string
	// global parameters with their defaults; a NaN default means required.
	global map[string]float64
	// perModel parameters with their defaults; NaN means required for every
	// non-base model.
	perModel map[string]float64
	// needsBase: a base_model must be configured.
	needsBase bool
	// gta is set for the generalized task arithmetic family.
	gta *gtaDef
	// shape computes the output shape from the job's input shapes and may
	// crop inputs; nil means "all shapes equal (embeddings cropped)".
	merge func(j *job, out []float32) error
}

type sparsifier int

const (
	sparseNone sparsifier = iota
	sparseMagnitude
	sparseOutliers
	sparseRandom
	sparseDella
)

type gtaDef struct {
	consensus bool
	sparsify  sparsifier
}

var methods = map[string]*methodDef{}

func register(m *methodDef) { methods[m.name] = m }

// MethodNames lists the supported merge_method values.
func MethodNames() []string {
	var s []string
	for k := range methods {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// RandomMethod reports whether a method draws random masks (DARE, DELLA):
// a merge by another program must then be given the run's seed to be
// reproducible.
func RandomMethod(name string) bool {
	m, ok := methods[name]
	return ok && m.gta != nil && (m.gta.sparsify == sparseRandom || m.gta.sparsify == sparseDella)
}

func lookupMethod(name string) (*methodDef, error) {
	m, ok := methods[name]
	if !ok {
		return nil, fmt.Errorf("unknown merge_method %q (supported: %v)", name, MethodNames())
	}
	return m, nil
}

func init() {
	type gta struct {
		name               string
		consensus          bool
		sp                 sparsifier
		normalize, rescale float64
		extraName          string
		extraDefault       float64
	}
	for _, g := range []gta{
		{"task_arithmetic", false, sparseNone, 0, 0, "", 0},
		{"ties", true, sparseMagnitude, 1, 0, "", 0},
		{"dare_linear", false, sparseRandom, 0, 1, "", 0},
		{"dare_ties", true, sparseRandom, 0, 1, "", 0},
		{"breadcrumbs", false, sparseOutliers, 0, 0, "gamma", 0.01},
		{"breadcrumbs_ties", true, sparseOutliers, 0, 0, "gamma", 0.01},
		{"della", true, sparseDella, 1, 1, "epsilon", 0.15},
		{"della_linear", false, sparseDella, 0, 1, "epsilon", 0.15},
	} {
		pm := map[string]float64{"weight": required, "density": 1}
		if g.extraName != "" {
			pm[g.extraName] = g.extraDefault
		}
		register(&methodDef{
			name:      g.name,
			global:    map[string]float64{"normalize": g.normalize, "rescale": g.rescale, "lambda": 1, "int8_mask": 0},
			perModel:  pm,
			needsBase: true,
			gta:       &gtaDef{consensus: g.consensus, sparsify: g.sp},
			merge:     mergeGTA,
		})
	}
	register(&methodDef{name: "linear", global: map[string]float64{"normalize": 1}, perModel: map[string]float64{"weight": required}, merge: mergeLinear})
	register(&methodDef{name: "slerp", global: map[string]float64{"t": required}, needsBase: true, merge: mergeSlerp})
	register(&methodDef{name: "nuslerp", global: map[string]float64{"nuslerp_flatten": 1, "nuslerp_row_wise": 0}, perModel: map[string]float64{"weight": required}, merge: mergeNuslerp})
	register(&methodDef{name: "model_stock", global: map[string]float64{"filter_wise": 0}, needsBase: true, merge: mergeModelStock})
	register(&methodDef{name: "karcher", global: map[string]float64{"max_iter": 10, "tol": 1e-5}, merge: mergeKarcher})
	register(&methodDef{name: "passthrough", perModel: map[string]float64{"scale": unset}, merge: mergePassthrough})
	register(&methodDef{name: "nearswap", global: map[string]float64{"t": required}, needsBase: true, merge: mergeNearswap})
}

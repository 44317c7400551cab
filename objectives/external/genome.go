// Package external scores merge candidates of real models with an
// evaluator the user already has (lm-evaluation-harness, a script, the
// zoo's own evaluator): each candidate vector becomes a mergekit recipe, the
// native merge engine writes the merged model into a temporary folder, a
// command scores it, and the folder is removed.
//
// The command runs without a shell, from an argument template, so it can
// equally be `lm_eval …` on a local GPU, `srun --gres=gpu:1 lm_eval …` on a
// Slurm cluster or `ray job submit -- …`: evomerge never schedules work on
// other machines itself, it hands each evaluation to an engine that does.
package external

import (
	"fmt"
	"strings"

	"github.com/evomerge/evomerge/objectives/merge"
)

// Param is one merge parameter searched per model, e.g. weight or density.
type Param struct {
	Name string  `yaml:"name"`
	Min  float64 `yaml:"min"`
	Max  float64 `yaml:"max"`
}

// Genome maps a candidate vector to a mergekit recipe, the layout of
// mergekit-evolve: for every model, every parameter, Groups values.
//
//	x[(m·len(Params) + p)·Groups + g]
//
// is value g of parameter p of model m. With Groups = 1 the value is a
// global scalar; with Groups > 1 it is a gradient list that mergekit (and
// our engine) interpolates across the layers, so the first value applies to
// the first layer and the last to the last — per-layer-group merging
// without slices.
type Genome struct {
	Method    string         `yaml:"method"`
	BaseModel string         `yaml:"base_model"`
	Models    []string       `yaml:"models"`
	Params    []Param        `yaml:"params"`
	Groups    int            `yaml:"groups"`
	DType     string         `yaml:"dtype"`
	Fixed     map[string]any `yaml:"parameters"` // global recipe parameters (normalize, lambda, int8_mask, …)
}

// Validate reports an unusable genome.
func (g *Genome) Validate() error {
	if g.Method == "" {
		return fmt.Errorf("genome: no merge method")
	}
	known := false
	for _, m := range merge.MethodNames() {
		if m == g.Method {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("genome: unknown merge method %q (known: %s)", g.Method, strings.Join(merge.MethodNames(), ", "))
	}
	if len(g.Models) == 0 {
		return fmt.Errorf("genome: no models")
	}
	if len(g.Params) == 0 {
		return fmt.Errorf("genome: no parameters to search (e.g. weight, density)")
	}
	if g.Groups < 1 {
		return fmt.Errorf("genome: groups %d must be at least 1", g.Groups)
	}
	seen := map[string]bool{}
	for _, p := range g.Params {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("genome: parameter names must be unique and non-empty (%q)", p.Name)
		}
		seen[p.Name] = true
		if !(p.Min < p.Max) {
			return fmt.Errorf("genome: parameter %s: min %g must be below max %g", p.Name, p.Min, p.Max)
		}
	}
	return nil
}

// Dim is the length of a candidate vector.
func (g *Genome) Dim() int { return len(g.Models) * len(g.Params) * g.Groups }

// Box returns the bounds of every coordinate.
func (g *Genome) Box() (lower, upper []float64) {
	for range g.Models {
		for _, p := range g.Params {
			for range g.Groups {
				lower = append(lower, p.Min)
				upper = append(upper, p.Max)
			}
		}
	}
	return lower, upper
}

// Recipe builds the mergekit recipe of candidate x.
func (g *Genome) Recipe(x []float64) (*merge.Recipe, error) {
	if len(x) != g.Dim() {
		return nil, fmt.Errorf("genome: candidate has %d values, want %d", len(x), g.Dim())
	}
	r := &merge.Recipe{MergeMethod: g.Method, BaseModel: g.BaseModel, DType: g.DType}
	if len(g.Fixed) > 0 {
		r.Parameters = map[string]any{}
		for k, v := range g.Fixed {
			r.Parameters[k] = v
		}
	}
	k := 0
	for _, m := range g.Models {
		spec := merge.ModelSpec{Model: m, Parameters: map[string]any{}}
		for _, p := range g.Params {
			if g.Groups == 1 {
				spec.Parameters[p.Name] = x[k]
			} else {
				vals := make([]any, g.Groups)
				for i := range vals {
					vals[i] = x[k+i]
				}
				spec.Parameters[p.Name] = vals
			}
			k += g.Groups
		}
		r.Models = append(r.Models, spec)
	}
	if g.BaseModel != "" {
		// mergekit lists the base among the models without parameters.
		listed := false
		for _, m := range g.Models {
			listed = listed || m == g.BaseModel
		}
		if !listed {
			r.Models = append(r.Models, merge.ModelSpec{Model: g.BaseModel})
		}
	}
	return r, r.Validate()
}

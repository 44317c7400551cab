package merge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
	"go.yaml.in/yaml/v3"
)

// Recipe is a mergekit merge configuration (the YAML mergekit-yaml reads).
// Parameter values are kept as decoded: a scalar, a gradient list, or a list
// of {filter, value} entries, evaluated per tensor at merge time.
type Recipe struct {
	MergeMethod string         `yaml:"merge_method"`
	BaseModel   string         `yaml:"base_model,omitempty"`
	DType       string         `yaml:"dtype,omitempty"`
	OutDType    string         `yaml:"out_dtype,omitempty"`
	Parameters  map[string]any `yaml:"parameters,omitempty"`
	Models      []ModelSpec    `yaml:"models,omitempty"`
	Slices      []SliceSpec    `yaml:"slices,omitempty"`

	// Accepted for compatibility with mergekit recipes; tokenizer files
	// are always copied from the base (or first) model.
	TokenizerSource any `yaml:"tokenizer_source,omitempty"`
	Tokenizer       any `yaml:"tokenizer,omitempty"`
	ChatTemplate    any `yaml:"chat_template,omitempty"`
	Name            any `yaml:"name,omitempty"`
	// Modules is rejected with a clear error (not supported).
	Modules any `yaml:"modules,omitempty"`
}

// ModelSpec is one entry of `models:`.
type ModelSpec struct {
	Model      string         `yaml:"model"`
	Parameters map[string]any `yaml:"parameters,omitempty"`
}

// SliceSpec is one entry of `slices:`: sources covering the same number of
// layers, merged into consecutive output layers.
type SliceSpec struct {
	Sources    []SourceSpec   `yaml:"sources"`
	BaseModel  string         `yaml:"base_model,omitempty"`
	Parameters map[string]any `yaml:"parameters,omitempty"`
}

// SourceSpec is one model's layer range [LayerRange[0], LayerRange[1]).
type SourceSpec struct {
	Model      string         `yaml:"model"`
	LayerRange []int          `yaml:"layer_range"`
	Parameters map[string]any `yaml:"parameters,omitempty"`
}

// ParseRecipe decodes and validates a recipe. Unknown keys, unknown methods,
// bad dtypes, malformed parameter values and inconsistent slices are
// reported with the offending key or entry.
func ParseRecipe(data []byte) (*Recipe, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Recipe
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("recipe is empty")
		}
		return nil, fmt.Errorf("recipe: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("recipe: more than one YAML document")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the recipe's structure (not the models it names).
func (r *Recipe) Validate() error {
	if r.MergeMethod == "" {
		return fmt.Errorf("recipe: merge_method is missing")
	}
	m, err := lookupMethod(r.MergeMethod)
	if err != nil {
		return fmt.Errorf("recipe: %w", err)
	}
	for key, v := range map[string]string{"dtype": r.DType, "out_dtype": r.OutDType} {
		if v != "" {
			if _, err := st.ParseDType(v); err != nil {
				return fmt.Errorf("recipe: %s: %w", key, err)
			}
		}
	}
	if r.Modules != nil {
		return fmt.Errorf("recipe: modules: is not supported; use models: or slices:")
	}
	if (len(r.Models) > 0) == (len(r.Slices) > 0) {
		return fmt.Errorf("recipe: give exactly one of models: or slices:")
	}
	if err := checkModelName("base_model", r.BaseModel, true); err != nil {
		return err
	}
	if err := checkParams("parameters", r.Parameters); err != nil {
		return err
	}
	for i, ms := range r.Models {
		where := fmt.Sprintf("models[%d]", i)
		if err := checkModelName(where+".model", ms.Model, false); err != nil {
			return err
		}
		if err := checkParams(where+".parameters", ms.Parameters); err != nil {
			return err
		}
	}
	for i, s := range r.Slices {
		where := fmt.Sprintf("slices[%d]", i)
		if len(s.Sources) == 0 {
			return fmt.Errorf("recipe: %s has no sources", where)
		}
		if err := checkModelName(where+".base_model", s.BaseModel, true); err != nil {
			return err
		}
		if err := checkParams(where+".parameters", s.Parameters); err != nil {
			return err
		}
		n := -1
		for k, src := range s.Sources {
			w := fmt.Sprintf("%s.sources[%d]", where, k)
			if err := checkModelName(w+".model", src.Model, false); err != nil {
				return err
			}
			if len(src.LayerRange) != 2 || src.LayerRange[0] < 0 || src.LayerRange[1] <= src.LayerRange[0] {
				return fmt.Errorf("recipe: %s.layer_range must be [start, end) with 0 <= start < end, got %v", w, src.LayerRange)
			}
			if err := checkParams(w+".parameters", src.Parameters); err != nil {
				return err
			}
			if l := src.LayerRange[1] - src.LayerRange[0]; n < 0 {
				n = l
			} else if l != n {
				return fmt.Errorf("recipe: %s: every source of a slice must cover the same number of layers (%d vs %d)", w, l, n)
			}
		}
		base := s.BaseModel
		if base == "" {
			base = r.BaseModel
		}
		if m.needsBase && base == "" {
			return fmt.Errorf("recipe: merge_method %s needs base_model (%s has none)", m.name, where)
		}
	}
	if len(r.Models) > 0 && m.needsBase && r.BaseModel == "" {
		return fmt.Errorf("recipe: merge_method %s needs base_model", m.name)
	}
	return nil
}

func checkModelName(where, name string, optional bool) error {
	if name == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("recipe: %s is missing", where)
	}
	if strings.Contains(name, "+") {
		return fmt.Errorf("recipe: %s %q: LoRA (model+lora) sources are not supported", where, name)
	}
	return nil
}

// checkParams validates every value by evaluating it at both ends of the
// layer range, so a malformed gradient or filter list fails at parse time
// rather than in the middle of a merge.
func checkParams(where string, ps map[string]any) error {
	for k, v := range ps {
		if err := checkValue(v); err != nil {
			return fmt.Errorf("recipe: %s.%s: %w", where, k, err)
		}
		for _, t := range []float64{0, 1} {
			if _, _, err := evalSetting(v, t, ""); err != nil {
				return fmt.Errorf("recipe: %s.%s: %w", where, k, err)
			}
		}
	}
	return nil
}

// checkValue rejects values evalSetting might not reach (for example an
// entry after a catch-all filter).
func checkValue(v any) error {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%v is not a finite number", x)
		}
		return nil
	case nil, int, bool, string:
		return nil
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if err := checkValue(m["value"]); err != nil {
					return err
				}
				continue
			}
			if err := checkValue(e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported value %v (%T)", v, v)
}

// YAML renders the recipe back as YAML (for the model card).
func (r *Recipe) YAML() string {
	b, err := yaml.Marshal(r)
	if err != nil {
		return fmt.Sprintf("# recipe could not be rendered: %v\n", err)
	}
	return string(b)
}

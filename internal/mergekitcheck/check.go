// Package mergekitcheck checks a merge recipe against the configuration
// rules of mergekit-yaml, so that the tests of evomerge's merge_command can
// play mergekit-yaml with a stand-in that refuses what mergekit would
// refuse, and more strictly: a key mergekit would silently ignore is an
// error here.
//
// The rules are those of section 1 ("Configuration and parameter
// resolution") of the project's reading of mergekit's config.py and
// plan.py, arcee-ai/mergekit commit a6e402884ba9bc30da7f23e8304a35f19485de95
// (package version 0.1.4), restated in testdata/mergekit/CONFIG-RULES.md:
//
//   - top-level keys: merge_method, base_model, dtype, out_dtype,
//     parameters, the tokenizer keys (tokenizer_source, tokenizer,
//     chat_template), and exactly one of models, slices or modules;
//   - models: [{model, parameters}]; slices: [{sources: [{model,
//     layer_range: [a, b], parameters}], base_model, parameters}], every
//     source of a slice covering the same number of layers;
//   - a parameter is looked up in the source's parameters, then the
//     slice's, then the top-level ones, and the first non-null value wins;
//     a required per-model parameter missing for a model other than the
//     base is an error, and a required global one missing is an error.
package mergekitcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// topLevel are the keys mergekit's MergeConfiguration has.
var topLevel = []string{"merge_method", "base_model", "dtype", "out_dtype", "parameters",
	"tokenizer_source", "tokenizer", "chat_template", "models", "slices", "modules"}

// required lists, per method, the parameters without a default: per model
// (every source but the base must find one) and global (section 3 of the
// same reading).
var required = map[string]struct{ perModel, global []string }{
	"linear":           {perModel: []string{"weight"}},
	"task_arithmetic":  {perModel: []string{"weight"}},
	"ties":             {perModel: []string{"weight"}},
	"dare_linear":      {perModel: []string{"weight"}},
	"dare_ties":        {perModel: []string{"weight"}},
	"breadcrumbs":      {perModel: []string{"weight"}},
	"breadcrumbs_ties": {perModel: []string{"weight"}},
	"della":            {perModel: []string{"weight"}},
	"della_linear":     {perModel: []string{"weight"}},
	"nuslerp":          {perModel: []string{"weight"}},
	"slerp":            {global: []string{"t"}},
	"nearswap":         {global: []string{"t"}},
	"model_stock":      {},
	"karcher":          {},
	"passthrough":      {},
	// Methods mergekit has and this reading does not detail: their
	// parameters are not checked.
	"sce": {}, "multislerp": {}, "ram": {}, "ramplus_tl": {}, "arcee_fusion": {},
}

// needsBase are the methods that refuse a recipe without a base model.
var needsBase = []string{"task_arithmetic", "ties", "dare_linear", "dare_ties", "breadcrumbs",
	"breadcrumbs_ties", "della", "della_linear", "slerp", "model_stock", "nearswap"}

// source is one model of one output slice, as mergekit plans it.
type source struct {
	where  string
	model  string
	params map[string]any
}

// Check returns nil if mergekit-yaml would accept the recipe's
// configuration, else an error naming the offending key or entry.
func Check(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("recipe is empty")
		}
		return fmt.Errorf("recipe is not a YAML mapping: %v", err)
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return errors.New("recipe holds more than one YAML document")
	}
	for _, k := range sortedKeys(doc) {
		if !slices.Contains(topLevel, k) {
			return fmt.Errorf("top-level key %q: mergekit knows %s", k, strings.Join(topLevel, ", "))
		}
	}
	method, ok := doc["merge_method"].(string)
	if !ok || method == "" {
		return errors.New("merge_method is missing or not a string")
	}
	req, known := required[method]
	if !known {
		return fmt.Errorf("merge_method %q is not a mergekit method", method)
	}
	n := 0
	for _, k := range []string{"models", "slices", "modules"} {
		if doc[k] != nil {
			n++
		}
	}
	if n != 1 {
		return errors.New("give exactly one of models:, slices: or modules:")
	}
	if doc["modules"] != nil {
		return errors.New("modules: is not checked by this stand-in")
	}
	base, err := optString(doc, "base_model", "base_model")
	if err != nil {
		return err
	}
	global, err := params(doc, "parameters")
	if err != nil {
		return err
	}
	type slice struct {
		base    string
		params  map[string]any
		sources []source
	}
	var out []slice
	if doc["models"] != nil {
		ms, ok := doc["models"].([]any)
		if !ok || len(ms) == 0 {
			return errors.New("models: want a non-empty list of {model, parameters}")
		}
		s := slice{base: base}
		for i, m := range ms {
			where := fmt.Sprintf("models[%d]", i)
			src, err := entry(m, where, []string{"model", "parameters"})
			if err != nil {
				return err
			}
			s.sources = append(s.sources, src)
		}
		// An unlisted base is appended last, without parameters.
		if base != "" && !slices.ContainsFunc(s.sources, func(x source) bool { return x.model == base }) {
			s.sources = append(s.sources, source{where: "base_model", model: base})
		}
		out = append(out, s)
	} else {
		ss, ok := doc["slices"].([]any)
		if !ok || len(ss) == 0 {
			return errors.New("slices: want a non-empty list of {sources, base_model, parameters}")
		}
		for i, raw := range ss {
			where := fmt.Sprintf("slices[%d]", i)
			m, ok := raw.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: want a mapping", where)
			}
			for _, k := range sortedKeys(m) {
				if !slices.Contains([]string{"sources", "base_model", "parameters"}, k) {
					return fmt.Errorf("%s: unknown key %q (sources, base_model, parameters)", where, k)
				}
			}
			s := slice{base: base}
			if b, err := optString(m, "base_model", where+".base_model"); err != nil {
				return err
			} else if b != "" {
				s.base = b
			}
			if s.params, err = params(m, where+".parameters"); err != nil {
				return err
			}
			srcs, ok := m["sources"].([]any)
			if !ok || len(srcs) == 0 {
				return fmt.Errorf("%s.sources: want a non-empty list", where)
			}
			width := -1
			for k, r := range srcs {
				w := fmt.Sprintf("%s.sources[%d]", where, k)
				src, err := entry(r, w, []string{"model", "layer_range", "parameters"})
				if err != nil {
					return err
				}
				lr, _ := r.(map[string]any)["layer_range"].([]any)
				a, okA := lr0(lr, 0)
				b, okB := lr0(lr, 1)
				if len(lr) != 2 || !okA || !okB || a < 0 || b <= a {
					return fmt.Errorf("%s.layer_range: want [start, end) with 0 <= start < end", w)
				}
				if width >= 0 && b-a != width {
					return fmt.Errorf("%s: covers %d layers, the slice's first source %d", w, b-a, width)
				}
				width = b - a
				s.sources = append(s.sources, src)
			}
			out = append(out, s)
		}
	}
	for i, s := range out {
		if s.base == "" && slices.Contains(needsBase, method) {
			return fmt.Errorf("merge_method %s needs base_model (output slice %d has none)", method, i)
		}
		for _, p := range req.global {
			if !found(p, s.params, global) {
				return fmt.Errorf("merge_method %s: parameter %q is required and set nowhere for output slice %d", method, p, i)
			}
		}
		for _, src := range s.sources {
			if src.model == s.base {
				continue // the base takes the defaults
			}
			for _, p := range req.perModel {
				if !found(p, src.params, s.params, global) {
					return fmt.Errorf("%s (%s): parameter %q is required by %s and found neither in its parameters, its slice's nor the top-level ones", src.where, src.model, p, method)
				}
			}
		}
	}
	return nil
}

// found reports whether a lookup through levels, first to last, meets a
// non-null value of key.
func found(key string, levels ...map[string]any) bool {
	for _, l := range levels {
		if v, ok := l[key]; ok && v != nil {
			return true
		}
	}
	return false
}

func lr0(lr []any, i int) (int, bool) {
	if i >= len(lr) {
		return 0, false
	}
	v, ok := lr[i].(int)
	return v, ok
}

// entry reads a {model, parameters} mapping with the keys allowed.
func entry(raw any, where string, allowed []string) (source, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return source{}, fmt.Errorf("%s: want a mapping with %s", where, strings.Join(allowed, ", "))
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			return source{}, fmt.Errorf("%s: unknown key %q (%s)", where, k, strings.Join(allowed, ", "))
		}
	}
	model, ok := m["model"].(string)
	if !ok || model == "" {
		return source{}, fmt.Errorf("%s.model is missing or not a string", where)
	}
	p, err := params(m, where+".parameters")
	if err != nil {
		return source{}, err
	}
	return source{where: where, model: model, params: p}, nil
}

// params reads a parameters mapping, checking every value is one mergekit
// evaluates: a scalar, a list of numbers (a gradient), a list of
// non-numbers (a step function) or a list of {filter, value}.
func params(m map[string]any, where string) (map[string]any, error) {
	raw, ok := m["parameters"]
	if !ok || raw == nil {
		return nil, nil
	}
	p, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping of names to values", where)
	}
	for _, k := range sortedKeys(p) {
		if err := value(p[k]); err != nil {
			return nil, fmt.Errorf("%s.%s: %v", where, k, err)
		}
	}
	return p, nil
}

func value(v any) error {
	switch x := v.(type) {
	case nil, int, float64, bool, string:
		return nil
	case []any:
		if len(x) == 0 {
			return errors.New("an empty list")
		}
		filters := 0
		for _, e := range x {
			if f, ok := e.(map[string]any); ok {
				for _, k := range sortedKeys(f) {
					if k != "filter" && k != "value" {
						return fmt.Errorf("filter entry key %q (filter, value)", k)
					}
				}
				if _, ok := f["value"]; !ok {
					return errors.New("a filter entry without value")
				}
				if err := value(f["value"]); err != nil {
					return err
				}
				filters++
				continue
			}
			if _, ok := e.([]any); ok {
				return errors.New("a list inside a list")
			}
		}
		if filters > 0 && filters != len(x) {
			return errors.New("a list mixing {filter, value} entries and values")
		}
		return nil
	}
	return fmt.Errorf("value %v is not a scalar or a list", v)
}

func optString(m map[string]any, key, where string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a model path", where)
	}
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

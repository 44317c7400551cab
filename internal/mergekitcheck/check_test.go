package mergekitcheck

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, recipe, want string // want "" = accepted
	}{
		{"models", "merge_method: ties\nbase_model: b\nparameters: {normalize: true}\nmodels:\n  - {model: x, parameters: {weight: [0.1, 0.9], density: 0.5}}\n  - {model: b}\n", ""},
		{"global weight covers every model", "merge_method: linear\nparameters: {weight: 0.5}\nmodels: [{model: x}, {model: y}]\n", ""},
		{"unlisted base takes defaults", "merge_method: task_arithmetic\nbase_model: b\nmodels: [{model: x, parameters: {weight: 1}}]\n", ""},
		{"slices, slice parameters", "merge_method: dare_ties\nbase_model: b\nslices:\n  - sources: [{model: x, layer_range: [0, 4]}, {model: b, layer_range: [0, 4]}]\n    parameters: {weight: 1, density: 0.3}\n", ""},
		{"filter list", "merge_method: slerp\nbase_model: b\nparameters: {t: [{filter: self_attn, value: [0, 1]}, {value: 0.5}]}\nmodels: [{model: x}, {model: b}]\n", ""},
		{"tokenizer keys", "merge_method: linear\ntokenizer_source: base\nchat_template: chatml\nmodels: [{model: x, parameters: {weight: 1}}]\n", ""},
		{"unknown top-level key", "merge_method: linear\nnormalize: true\nmodels: [{model: x, parameters: {weight: 1}}]\n", `top-level key "normalize"`},
		{"both models and slices", "merge_method: linear\nmodels: [{model: x, parameters: {weight: 1}}]\nslices: [{sources: [{model: x, layer_range: [0, 2]}]}]\n", "exactly one of"},
		{"neither", "merge_method: linear\n", "exactly one of"},
		{"missing weight", "merge_method: ties\nbase_model: b\nmodels: [{model: x, parameters: {density: 0.5}}, {model: b}]\n", `models[0] (x): parameter "weight"`},
		{"weight only on another slice", "merge_method: linear\nslices:\n  - sources: [{model: x, layer_range: [0, 2]}]\n    parameters: {weight: 1}\n  - sources: [{model: x, layer_range: [2, 4]}]\n", `slices[1].sources[0] (x): parameter "weight"`},
		{"slerp without t", "merge_method: slerp\nbase_model: b\nmodels: [{model: x}, {model: b}]\n", `"t" is required`},
		{"no base", "merge_method: dare_ties\nmodels: [{model: x, parameters: {weight: 1}}]\n", "needs base_model"},
		{"unknown method", "merge_method: average\nmodels: [{model: x}]\n", "not a mergekit method"},
		{"unknown model key", "merge_method: linear\nmodels: [{model: x, weight: 1}]\n", `models[0]: unknown key "weight"`},
		{"uneven slice", "merge_method: linear\nparameters: {weight: 1}\nslices: [{sources: [{model: x, layer_range: [0, 2]}, {model: y, layer_range: [0, 3]}]}]\n", "covers 3 layers"},
		{"nested list", "merge_method: linear\nmodels: [{model: x, parameters: {weight: [[1]]}}]\n", "list inside a list"},
		{"null weight falls through", "merge_method: linear\nparameters: {weight: 1}\nmodels: [{model: x, parameters: {weight: null}}]\n", ""},
		{"two documents", "merge_method: linear\nmodels: [{model: x, parameters: {weight: 1}}]\n---\na: 1\n", "more than one"},
		{"empty", "", "empty"},
	} {
		err := Check([]byte(c.recipe))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// FuzzCheck: any input gets an answer, never a panic.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("merge_method: ties\nbase_model: b\nmodels: [{model: x, parameters: {weight: 1}}]\n"))
	f.Add([]byte("merge_method: linear\nslices: [{sources: [{model: x, layer_range: [0, 2], parameters: {weight: [{filter: a, value: 1}]}}]}]\n"))
	f.Add([]byte("merge_method: [1]\nmodels: {a: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Check(data)
	})
}

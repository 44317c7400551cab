package merge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Regression tests for inputs that used to give silently wrong merges.

// mergeFolders writes models (name → tensors, all in dtype dt) under a fresh
// folder, fills %[1]s in the recipe with that folder and merges with Run.
// It returns the output folder and Run's error.
func mergeFolders(t *testing.T, models map[string]map[string]Tensor, dt st.DType, layers int, recipe string, o RunOptions) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, ts := range models {
		writeModel(t, filepath.Join(dir, name), ts, dt, layers, 0)
	}
	rp := filepath.Join(dir, "r.yml")
	if err := os.WriteFile(rp, []byte(fmt.Sprintf(recipe, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Recipe, o.OutDir = rp, filepath.Join(dir, "out")
	return o.OutDir, Run(context.Background(), o)
}

func without(ts map[string]Tensor, name string) map[string]Tensor {
	c := map[string]Tensor{}
	for k, v := range ts {
		if k != name {
			c[k] = v
		}
	}
	return c
}

// A tensor the base lacks used to vanish from a TIES merge: the output had
// 2 of 3 tensors. mergekit's loader raises "Tensor … required but not
// present in model …" for any required weight a model lacks.
func TestMissingTensorIsAnError(t *testing.T) {
	full := tinyLlama(1, 2, 6, 4, true)
	recipe := "merge_method: ties\nbase_model: %[1]s/base\nmodels:\n  - {model: %[1]s/a, parameters: {weight: 1, density: 0.5}}\n  - {model: %[1]s/b, parameters: {weight: 1, density: 0.5}}\n"
	for _, missing := range []string{"model.layers.1.mlp.up_proj.weight", "model.norm.weight", "model.embed_tokens.weight"} {
		for _, who := range []string{"base", "a"} {
			models := map[string]map[string]Tensor{"base": tinyLlama(0, 2, 6, 4, true), "a": full, "b": tinyLlama(2, 2, 6, 4, true)}
			models[who] = without(models[who], missing)
			_, err := mergeFolders(t, models, st.F32, 2, recipe, RunOptions{})
			if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), who) {
				t.Errorf("%s missing from %s: err = %v, want it to name the model and the tensor", missing, who, err)
			}
		}
	}
}

// A fine-tune whose tensor has another shape than the base's is left out of
// that tensor's GTA merge, as mergekit's get_task_vectors does ("skipping
// …: size mismatch"), and the run says so.
func TestShapeMismatchSkippedWithWarning(t *testing.T) {
	a := tinyLlama(1, 1, 6, 4, true)
	a["model.layers.0.input_layernorm.weight"] = Tensor{Shape: []int{5}, Data: make([]float32, 5)}
	models := map[string]map[string]Tensor{"base": tinyLlama(0, 1, 6, 4, true), "a": a}
	var warn strings.Builder
	out, err := mergeFolders(t, models, st.F32, 1,
		"merge_method: task_arithmetic\nbase_model: %[1]s/base\nmodels:\n  - {model: %[1]s/a, parameters: {weight: 1}}\n", RunOptions{Warnings: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "model.layers.0.input_layernorm.weight") || !strings.Contains(warn.String(), "size mismatch") {
		t.Errorf("no warning about the skipped model: %q", warn.String())
	}
	got, _ := LoadModel(out)
	base, _ := LoadModel(filepath.Join(filepath.Dir(out), "base"))
	g, _ := got.View("model.layers.0.input_layernorm.weight")
	b, _ := base.View("model.layers.0.input_layernorm.weight")
	for i := range b {
		if g[i] != b[i] {
			t.Fatalf("the mismatched model was not left out: %v vs base %v", g, b)
		}
	}
}

// Package toymodel writes the smallest checkpoint the merge engine, the
// evaluators and evolve accept, for tests of code that merges or scores
// models on disk.
package toymodel

import (
	"os"
	"path/filepath"
	"testing"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Write writes into dir a model of two 4×4 float32 layers
// (model.layers.0.weight, model.layers.1.weight) whose every weight is v,
// with a config.json naming its layers and dtype. A test's evaluator can
// read v back from the merged file to score a recipe.
func Write(t testing.TB, dir string, v float32) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"num_hidden_layers": 2, "torch_dtype": "float32"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, st.SingleName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := []string{"model.layers.0.weight", "model.layers.1.weight"}
	var specs []st.Spec
	for _, n := range names {
		specs = append(specs, st.Spec{Name: n, DType: st.F32, Shape: []int{4, 4}})
	}
	w, err := st.NewWriter(f, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]float32, 16)
	for i := range data {
		data[i] = v
	}
	for _, n := range names {
		if err := w.WriteFloat32(n, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

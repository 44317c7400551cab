package merge

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// The golden merge cases run through the path users run: each case's models
// are written as safetensors folders, its parameters as a recipe, and the
// merge goes through Run (the code behind `evomerge merge`, which merges
// with a Merger); the output folder is read back and compared.

const goldenTensor = "model.layers.0.mlp.up_proj.weight"

// extrasCase turns an extras "primitive" case that calls a registered merge
// method's function (sce, multislerp, ram, ramplus_tl, nearswap) into the
// merge case a recipe would give: inputs base, m1..., the function's
// arguments as the method's parameters. ok is false for other primitives.
func extrasCase(c goldenCase) (goldenCase, bool) {
	method := map[string]string{
		"sce.sce_merge": "sce", "multislerp.multislerp": "multislerp", "ram.ram_merge": "ram",
		"ram.ramplus_tl_merge": "ramplus_tl", "nearswap.nearswap_merge": "nearswap",
	}[c.Function]
	if method == "" {
		return c, false
	}
	m := goldenCase{ID: c.ID, Kind: "merge", Method: method, TensorName: goldenTensor, DType: "float32",
		Inputs: c.Inputs, Output: c.Output, UserParameters: map[string]any{}, UserTensorParameters: map[string]map[string]any{}}
	base := "base"
	m.BaseModel = &base
	order, _ := c.Args["model_order"].([]any)
	for _, o := range order {
		m.ModelOrder = append(m.ModelOrder, o.(string))
	}
	m.ModelOrder = append(m.ModelOrder, base)
	for k, v := range c.Args {
		switch k {
		case "model_order", "with_base":
		case "weight":
			for i, w := range v.([]any) {
				m.UserTensorParameters[m.ModelOrder[i]] = map[string]any{"weight": w}
			}
		default:
			m.UserParameters[k] = v
		}
	}
	return m, true
}

// goldenFolders writes a case's models as safetensors folders under dir
// (float32 files holding the case's float32 inputs; the recipe's dtype casts
// them on load, as mergekit's does) and returns the recipe's path.
func goldenFolders(t testing.TB, dir string, c goldenCase) string {
	t.Helper()
	name := c.TensorName
	if name == "" {
		name = goldenTensor
	}
	layers := 0
	if i, _, _ := layerIndex(name); i >= 0 {
		layers = i + 1
	}
	r := Recipe{MergeMethod: c.Method, DType: c.DType, Parameters: c.UserParameters}
	if c.BaseModel != nil {
		r.BaseModel = filepath.Join(dir, *c.BaseModel)
	}
	for _, model := range c.ModelOrder {
		x, shape := flatten(c.Inputs[model])
		writeModel(t, filepath.Join(dir, model), map[string]Tensor{name: {Shape: shape, Data: x}}, st.F32, layers, 0)
		ms := ModelSpec{Model: filepath.Join(dir, model)}
		if ps := c.UserTensorParameters[model]; len(ps) > 0 {
			ms.Parameters = ps
		}
		r.Models = append(r.Models, ms)
	}
	rp := filepath.Join(dir, "recipe.yml")
	if err := os.WriteFile(rp, []byte(r.YAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	return rp
}

// runGoldenFile merges a case with Run and compares the output file with
// mergekit's: values (exact for bf16/fp16 results, the README tolerance for
// float32), shape and stored dtype.
func runGoldenFile(t *testing.T, c goldenCase) error {
	dir := t.TempDir()
	rp := goldenFolders(t, dir, c)
	name := c.TensorName
	if name == "" {
		name = goldenTensor
	}
	o := RunOptions{Recipe: rp, OutDir: filepath.Join(dir, "out")}
	if c.Masks != nil {
		o.masks = func(tensor, model string, n int) []float32 {
			m, _ := flatten(c.Masks[filepath.Base(model)])
			return m
		}
	}
	err := Run(context.Background(), o)
	if c.ExpectError {
		if err == nil {
			return fmt.Errorf("mergekit rejects this input (%s) but the merge succeeded", c.Error)
		}
		t.Logf("%s: rejected as mergekit does: %v (mergekit: %s)", c.ID, err, c.Error)
		return nil
	}
	if err != nil {
		return err
	}
	ck, err := st.OpenCheckpoint(o.OutDir)
	if err != nil {
		return err
	}
	defer ck.Close()
	ti, ok := ck.Tensor(name)
	if !ok {
		return fmt.Errorf("output has no tensor %s (has %v)", name, ck.Names())
	}
	if c.OutputShape != nil && !slices.Equal(ti.Shape, c.OutputShape) {
		return fmt.Errorf("shape %v, want %v", ti.Shape, c.OutputShape)
	}
	wantDT := st.F32
	if c.OutputDType != "" {
		wantDT, _ = st.ParseDType(c.OutputDType)
	}
	if ti.DType != wantDT {
		return fmt.Errorf("output stored as %s, mergekit writes %s", ti.DType, wantDT)
	}
	got := make([]float32, ti.NumElements())
	if err := ck.ReadFloat32(name, got); err != nil {
		return err
	}
	want, _ := flatten(c.Output)
	if i, ok := close32(got, want, wantDT == st.BF16 || wantDT == st.F16); !ok {
		return fmt.Errorf("element %d = %v, want %v", i, got[i], want[i])
	}
	return nil
}

// runGoldenStatisticsFile checks Go's own random draws against mergekit's
// 3000-draw statistics, merging the case's safetensors models with a Merger
// (the in-process path an evolutionary run uses) under 3000 seeds: each
// output element's mean is z-tested against mergekit's empirical mean and
// standard deviation.
func runGoldenStatisticsFile(t *testing.T, c goldenCase) error {
	const trials = 3000
	dir := t.TempDir()
	rp := goldenFolders(t, dir, c)
	raw, err := os.ReadFile(rp)
	if err != nil {
		return err
	}
	r, err := ParseRecipe(raw)
	if err != nil {
		return err
	}
	srcs := map[string]Source{}
	for _, model := range c.ModelOrder {
		m, err := LoadModel(filepath.Join(dir, model))
		if err != nil {
			return err
		}
		srcs[filepath.Join(dir, model)] = m
	}
	mg := NewMerger(srcs)
	mg.Workers = 1
	mean, _ := flatten(c.EmpiricalMean)
	std, _ := flatten(c.EmpiricalStd)
	sum := make([]float64, len(mean))
	var out Output
	for trial := 0; trial < trials; trial++ {
		mg.Seed = uint64(trial)
		if err := mg.Merge(context.Background(), r, &out); err != nil {
			return err
		}
		for e, v := range out.Tensors[goldenTensor].Data {
			sum[e] += float64(v)
		}
	}
	// Our mean and mergekit's are both means of 3000 draws, so their
	// difference has standard deviation σ·√(2/3000).
	maxZ := 0.0
	for e := range mean {
		se := float64(std[e]) * math.Sqrt(2.0/trials)
		if se == 0 {
			continue
		}
		maxZ = math.Max(maxZ, math.Abs(sum[e]/trials-float64(mean[e]))/se)
	}
	// 24 elements: max |z| of 24 standard normals exceeds 4.5 with
	// probability ~1.6e-4.
	if maxZ > 4.5 {
		return fmt.Errorf("max z-score %.2f between Go's and mergekit's mean output", maxZ)
	}
	t.Logf("%s: max z %.2f over %d elements", c.ID, maxZ, len(mean))
	return nil
}

// goldenOutcome runs one golden case the way TestGolden counts it.
func goldenOutcome(t *testing.T, c goldenCase) (skipped bool, err error) {
	switch c.Kind {
	case "merge", "random_merge_sample":
		if _, ok := methods[c.Method]; !ok {
			return true, nil
		}
		// The parameters must resolve to what mergekit's method received.
		if _, err := goldenJob(t, c); err != nil && !c.ExpectError {
			return false, err
		}
		return false, runGoldenFile(t, c)
	case "random_merge_statistics":
		return false, runGoldenStatisticsFile(t, c)
	case "primitive":
		if m, ok := extrasCase(c); ok {
			if _, ok := methods[m.Method]; !ok {
				return true, nil
			}
			return false, runGoldenFile(t, m)
		}
		return runGoldenPrimitive(t, c)
	}
	return false, fmt.Errorf("unknown kind %q", c.Kind)
}

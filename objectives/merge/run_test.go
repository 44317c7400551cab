package merge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// tinyLlama returns the tensors of a small Llama-shaped model: embeddings,
// `layers` decoder layers, final norm and (if lmHead) an untied lm_head,
// with values base + scale·noise from a seeded stream.
func tinyLlama(seed uint64, layers, vocab, hidden int, lmHead bool) map[string]Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := rand.New(rand.NewPCG(99, 1)) // shared base values
	mk := func(shape ...int) Tensor {
		t := Tensor{Shape: shape, Data: make([]float32, numel(shape))}
		for i := range t.Data {
			t.Data[i] = float32(base.NormFloat64() + 0.1*rng.NormFloat64())
		}
		return t
	}
	ts := map[string]Tensor{
		"model.embed_tokens.weight": mk(vocab, hidden),
		"model.norm.weight":         mk(hidden),
	}
	for l := 0; l < layers; l++ {
		ts[fmt.Sprintf("model.layers.%d.self_attn.q_proj.weight", l)] = mk(hidden, hidden)
		ts[fmt.Sprintf("model.layers.%d.mlp.up_proj.weight", l)] = mk(2*hidden, hidden)
		ts[fmt.Sprintf("model.layers.%d.input_layernorm.weight", l)] = mk(hidden)
	}
	if lmHead {
		ts["lm_head.weight"] = mk(vocab, hidden)
	}
	return ts
}

// writeModel writes tensors as a Hugging Face folder with config.json.
func writeModel(t testing.TB, dir string, ts map[string]Tensor, dt st.DType, layers int, shard int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	slices.Sort(names)
	specs := make([]st.Spec, len(names))
	for i, n := range names {
		specs[i] = st.Spec{Name: n, DType: dt, Shape: ts[n].Shape}
	}
	sw, err := st.NewShardedWriter(dir, specs, shard)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := sw.WriteFloat32(n, ts[n].Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"architectures":["LlamaForCausalLM"],"num_hidden_layers":%d,"torch_dtype":"%s"}`, layers, dt.TorchName())
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model":"`+dir+`"}`), 0o644)
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	const layers = 4
	writeModel(t, filepath.Join(dir, "base"), tinyLlama(0, layers, 12, 8, true), st.F32, layers, 0)
	writeModel(t, filepath.Join(dir, "a"), tinyLlama(1, layers, 12, 8, true), st.F32, layers, 600)
	writeModel(t, filepath.Join(dir, "b"), tinyLlama(2, layers, 14, 8, false), st.F32, layers, 0) // larger vocab, tied head
	recipe := fmt.Sprintf(`
merge_method: task_arithmetic
base_model: %[1]s/base
dtype: float32
out_dtype: bfloat16
parameters:
  lambda: 0.9
models:
  - model: %[1]s/a
    parameters:
      weight: [0.0, 0.3, 0.6, 0.9]
  - model: %[1]s/b
    parameters:
      weight:
        - filter: mlp
          value: 0.25
        - value: [1.0, 0.5]
`, dir)
	rp := filepath.Join(dir, "recipe.yml")
	os.WriteFile(rp, []byte(recipe), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	err := RunCLI(context.Background(), &stdout, &stderr, []string{rp, out, "-max-shard-size", "1000", "-quiet"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(out, "config.json"))
	json.Unmarshal(raw, &cfg)
	if cfg["torch_dtype"] != "bfloat16" {
		t.Errorf("config torch_dtype = %v", cfg["torch_dtype"])
	}
	if tok, _ := os.ReadFile(filepath.Join(out, "tokenizer.json")); !strings.Contains(string(tok), "base") {
		t.Errorf("tokenizer not copied from the base: %s", tok)
	}
	if card, _ := os.ReadFile(filepath.Join(out, "README.md")); !strings.Contains(string(card), "task_arithmetic") || !strings.Contains(string(card), "filter: mlp") {
		t.Errorf("model card lacks the recipe:\n%s", card)
	}
	if _, err := os.Stat(filepath.Join(out, st.IndexName)); err != nil {
		t.Errorf("expected a sharded output with an index: %v", err)
	}
	got, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.DType() != st.BF16 || got.NumLayers() != layers {
		t.Errorf("output dtype %v, layers %d", got.DType(), got.NumLayers())
	}
	// Check tensors by hand: task arithmetic with per-layer weights.
	load := func(name string) *Model {
		m, err := LoadModel(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	base, a, b := load("base"), load("a"), load("b")
	check := func(name, bName string, wa, wb float64) {
		t.Helper()
		bv, _ := base.View(name)
		av, _ := a.View(name)
		xv, _ := b.View(bName)
		gv, ok := got.View(name)
		if !ok {
			t.Fatalf("output lacks %s", name)
		}
		for e := range gv {
			want := float64(bv[e]) + 0.9*(wa*float64(av[e]-bv[e])+wb*float64(xv[e]-bv[e]))
			if w := st.RoundBF16(float32(want)); math.Abs(float64(gv[e]-w)) > 1e-2*math.Abs(want)+1e-6 {
				t.Fatalf("%s[%d] = %v, want %v", name, e, gv[e], w)
			}
		}
	}
	// Layer 2 of 4: t = 2/3. a: [0,.3,.6,.9] → 0.6; b (not mlp): [1, .5] → 2/3.
	check("model.layers.2.self_attn.q_proj.weight", "model.layers.2.self_attn.q_proj.weight", 0.6, 1-0.5*2.0/3)
	check("model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight", 0.3, 0.25)
	// Embeddings and the final norm take t = 0; b's lm_head is its embedding
	// (tied), cropped to the base's vocabulary.
	check("model.norm.weight", "model.norm.weight", 0, 1)
	hv, _ := got.View("lm_head.weight")
	if len(hv) != 12*8 {
		t.Fatalf("lm_head has %d values, want the base's 12×8", len(hv))
	}
	bh, _ := base.View("lm_head.weight")
	be, _ := b.View("model.embed_tokens.weight")
	for e := range hv {
		want := st.RoundBF16(float32(float64(bh[e]) + 0.9*float64(be[e]-bh[e])))
		if math.Abs(float64(hv[e]-want)) > 1e-2*math.Abs(float64(want))+1e-6 {
			t.Fatalf("lm_head[%d] = %v, want %v", e, hv[e], want)
		}
	}

	// The in-process Merger gives the same tensors, bit for bit.
	r, _ := ParseRecipe([]byte(recipe))
	mg := NewMerger(map[string]Source{dir + "/base": base, dir + "/a": a, dir + "/b": b})
	var mem Output
	if err := mg.Merge(context.Background(), r, &mem); err != nil {
		t.Fatal(err)
	}
	for _, name := range mem.Names {
		gv, _ := got.View(name)
		if !slices.Equal(gv, mem.Tensors[name].Data) {
			t.Errorf("%s differs between Run and Merger", name)
		}
	}
	if len(mem.Names) != len(got.Names()) {
		t.Errorf("in-process merge has %d tensors, file %d", len(mem.Names), len(got.Names()))
	}

	// An existing non-empty output folder is refused, and left intact.
	err = RunCLI(context.Background(), &stdout, &stderr, []string{"-quiet", rp, out})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("overwrite without -force: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Errorf("refused overwrite damaged the old output: %v", err)
	}
	if err := RunCLI(context.Background(), &stdout, &stderr, []string{"-quiet", "-force", "-max-shard-size", "0", rp, out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, st.SingleName)); err != nil {
		t.Errorf("forced rerun did not replace the output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, st.IndexName)); err == nil {
		t.Errorf("forced rerun left the old index behind")
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary folder %s left behind", e.Name())
		}
	}
}

func TestRunFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "base"), tinyLlama(0, 2, 6, 4, true), st.F32, 2, 0)
	writeModel(t, filepath.Join(dir, "a"), tinyLlama(1, 2, 6, 4, true), st.F32, 2, 0)
	// A corrupt model file is found while merging (its header is valid, the
	// data are truncated after the header check by lying about the size).
	bad := filepath.Join(dir, "bad")
	writeModel(t, bad, tinyLlama(2, 2, 6, 4, true), st.F32, 2, 0)
	cases := map[string]string{
		"missing model": "merge_method: linear\nmodels:\n  - model: " + dir + "/nope\n    parameters: {weight: 1}\n",
		"no weight":     "merge_method: linear\nmodels:\n  - model: " + dir + "/a\n  - model: " + dir + "/base\n    parameters: {weight: 1}\n",
		"k = 0":         "merge_method: ties\nbase_model: " + dir + "/base\nmodels:\n  - model: " + dir + "/a\n    parameters: {weight: 1, density: 0.01}\n",
	}
	want := map[string]string{"missing model": "nope", "no weight": `"weight" is required`, "k = 0": "keeps int"}
	for name, recipe := range cases {
		rp := filepath.Join(dir, "r.yml")
		os.WriteFile(rp, []byte(recipe), 0o644)
		out := filepath.Join(dir, "out")
		err := Run(context.Background(), RunOptions{Recipe: rp, OutDir: out})
		if err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, want[name])
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output folder created by a failed merge", name)
		}
		assertNoTemp(t, dir)
	}
}

func TestSlicesPassthrough(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "a"), tinyLlama(1, 3, 6, 4, true), st.F32, 3, 0)
	writeModel(t, filepath.Join(dir, "b"), tinyLlama(2, 3, 6, 4, true), st.F32, 3, 0)
	recipe := fmt.Sprintf(`
merge_method: passthrough
slices:
  - sources:
      - model: %[1]s/a
        layer_range: [0, 2]
  - sources:
      - model: %[1]s/b
        layer_range: [1, 3]
`, dir)
	rp := filepath.Join(dir, "r.yml")
	os.WriteFile(rp, []byte(recipe), 0o644)
	out := filepath.Join(dir, "out")
	if err := Run(context.Background(), RunOptions{Recipe: rp, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumLayers() != 4 {
		t.Fatalf("layers = %d, want 4", got.NumLayers())
	}
	b, _ := LoadModel(filepath.Join(dir, "b"))
	a, _ := LoadModel(filepath.Join(dir, "a"))
	for _, c := range []struct {
		out string
		m   *Model
		src string
	}{
		{"model.layers.3.mlp.up_proj.weight", b, "model.layers.2.mlp.up_proj.weight"},
		{"model.layers.2.input_layernorm.weight", b, "model.layers.1.input_layernorm.weight"},
		{"model.layers.1.self_attn.q_proj.weight", a, "model.layers.1.self_attn.q_proj.weight"},
		{"model.embed_tokens.weight", a, "model.embed_tokens.weight"},
		{"lm_head.weight", b, "lm_head.weight"},
	} {
		gv, _ := got.View(c.out)
		wv, _ := c.m.View(c.src)
		if !slices.Equal(gv, wv) {
			t.Errorf("%s is not %s", c.out, c.src)
		}
	}
}

// TestFastPathMatchesGeneral checks the fused float32 kernels (task
// arithmetic, TIES, the masked kernel of the random and outlier methods)
// against the general per-element path on data with many exact ties
// (values on a coarse grid).
func TestFastPathMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 3*selChunk + 1234
	mk := func() []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Round(rng.NormFloat64()*8) / 8)
		}
		return x
	}
	weights := []float64{1, -0.6, 0.3, 0.45, -0.2}
	for _, m := range []int{1, 2, 3, 4, 5} { // every unrolled variant and the loop
		inputs := make([][]float32, m+1)
		shapes := make([][]int, m+1)
		models := make([]string, m+1)
		for i := range inputs {
			inputs[i], shapes[i], models[i] = mk(), []int{n}, fmt.Sprint("m", i)
		}
		for _, method := range []string{"task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs_ties"} {
			for _, density := range []float64{1, 0.5, 0.13} {
				for _, rescale := range []float64{0, 1} {
					pm := make([]params, m+1)
					for i := 0; i < m; i++ {
						pm[i] = params{"weight": weights[i], "density": density, "gamma": 0.01}
					}
					pm[m] = params{}
					run := func(general bool) []float32 {
						forceGeneral = general
						defer func() { forceGeneral = false }()
						j := &job{method: methods[method], name: "x", dtype: st.F32, models: models,
							inputs: inputs, shapes: shapes, base: m, workers: 2, seed: 11,
							global: params{"normalize": 1, "lambda": 0.8, "rescale": rescale}, perModel: pm}
						out := make([]float32, n)
						if err := j.run(out); err != nil {
							t.Fatal(err)
						}
						return out
					}
					fast, slow := run(false), run(true)
					for e := range fast {
						if math.Abs(float64(fast[e]-slow[e])) > 1e-5*(1+math.Abs(float64(slow[e]))) {
							t.Fatalf("%d models, %s density %v rescale %v: element %d fast %v general %v", m, method, density, rescale, e, fast[e], slow[e])
						}
					}
				}
			}
		}
	}
}

func TestMergerConcurrentAndSeeded(t *testing.T) {
	srcs := map[string]Source{}
	for i, name := range []string{"base", "a", "b"} {
		m, err := NewModel(tinyLlama(uint64(i), 3, 10, 16, true), 0, st.F32)
		if err != nil {
			t.Fatal(err)
		}
		srcs[name] = m
	}
	r, err := ParseRecipe([]byte(`
merge_method: dare_ties
base_model: base
models:
  - model: a
    parameters: {weight: 0.7, density: [0.3, 0.9]}
  - model: b
    parameters: {weight: 0.5, density: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	mg := NewMerger(srcs)
	mg.Seed = 7
	var ref Output
	if err := mg.Merge(context.Background(), r, &ref); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out Output
			for rep := 0; rep < 3; rep++ {
				if err := mg.Merge(context.Background(), r, &out); err != nil {
					errs <- err
					return
				}
				for _, n := range ref.Names {
					if !slices.Equal(out.Tensors[n].Data, ref.Tensors[n].Data) {
						errs <- fmt.Errorf("concurrent merge differs at %s", n)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mg2 := NewMerger(srcs)
	mg2.Seed = 8
	var other Output
	if err := mg2.Merge(context.Background(), r, &other); err != nil {
		t.Fatal(err)
	}
	name := "model.layers.1.mlp.up_proj.weight"
	if slices.Equal(other.Tensors[name].Data, ref.Tensors[name].Data) {
		t.Error("a different seed gave the same random merge")
	}
}

func TestRecipeErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"", "empty"},
		{"merge_method: nope\nmodels: [{model: a}]", "unknown merge_method"},
		{"merge_method: linear", "exactly one of models: or slices:"},
		{"merge_method: linear\nmodels: [{model: a}]\nslices: [{sources: [{model: a, layer_range: [0, 1]}]}]", "exactly one"},
		{"merge_method: ties\nmodels: [{model: a}]", "needs base_model"},
		{"merge_method: linear\ndtype: int8\nmodels: [{model: a}]", "dtype"},
		{"merge_method: linear\nmodels: [{model: a}]\nweights: 1", "field weights not found"},
		{"merge_method: linear\nmodels: [{model: ''}]", "models[0].model is missing"},
		{"merge_method: linear\nmodels: [{model: a+lora}]", "LoRA"},
		{"merge_method: linear\nmodels: [{model: a, parameters: {weight: {x: 1}}}]", "models[0].parameters.weight"},
		{"merge_method: linear\nmodels: [{model: a, parameters: {weight: []}}]", "empty list"},
		{"merge_method: linear\nslices: [{sources: [{model: a, layer_range: [2, 1]}]}]", "layer_range"},
		{"merge_method: linear\nslices: [{sources: [{model: a, layer_range: [0, 2]}, {model: b, layer_range: [0, 3]}]}]", "same number of layers"},
		{"merge_method: linear\nmodules: {x: 1}\nmodels: [{model: a}]", "modules"},
		{"merge_method: [linear]", "recipe"},
	}
	for _, c := range cases {
		_, err := ParseRecipe([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to mention %q", c.yaml, err, c.want)
		}
	}
}

func FuzzParseRecipe(f *testing.F) {
	for _, s := range []string{
		"merge_method: ties\nbase_model: b\nparameters: {normalize: true}\nmodels:\n  - model: a\n    parameters: {weight: [0, 1], density: 0.5}\n",
		"merge_method: linear\nmodels: [{model: a, parameters: {weight: [{filter: mlp, value: 0.5}, {value: 1}]}}]",
		"merge_method: slerp\nbase_model: a\nparameters: {t: [0, 0.5, 1]}\nslices: [{sources: [{model: a, layer_range: [0, 4]}, {model: b, layer_range: [0, 4]}]}]",
		"merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [0, 1]}]}]\nout_dtype: bfloat16",
		"merge_method: [",
		"{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecipe(data)
		if err != nil {
			return
		}
		// An accepted recipe evaluates at every layer position without error.
		for _, ps := range []map[string]any{r.Parameters} {
			for k, v := range ps {
				for _, tt := range []float64{0, 0.37, 1} {
					if _, _, err := evalSetting(v, tt, "model.layers.0.mlp.up_proj.weight"); err != nil {
						t.Fatalf("accepted parameter %s fails at t=%v: %v", k, tt, err)
					}
				}
			}
		}
		// and survives a round trip through YAML.
		if _, err := ParseRecipe([]byte(r.YAML())); err != nil {
			t.Fatalf("re-parse of %q failed: %v", r.YAML(), err)
		}
	})
}

// TestSlicesGradientRestarts: t restarts at 0 in every output slice, and a
// per-model gradient is evaluated on each slice's own layer positions.
func TestSlicesGradientRestarts(t *testing.T) {
	base, _ := NewModel(tinyLlama(0, 4, 6, 4, true), 0, st.F32)
	a, _ := NewModel(tinyLlama(1, 4, 6, 4, true), 0, st.F32)
	r, err := ParseRecipe([]byte(`
merge_method: task_arithmetic
base_model: base
slices:
  - sources:
      - {model: a, layer_range: [0, 2], parameters: {weight: [0, 1]}}
      - {model: base, layer_range: [0, 2]}
  - sources:
      - {model: a, layer_range: [2, 4], parameters: {weight: [0, 1]}}
      - {model: base, layer_range: [2, 4]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var out Output
	if err := NewMerger(map[string]Source{"a": a, "base": base}).Merge(context.Background(), r, &out); err != nil {
		t.Fatal(err)
	}
	for layer, want := range map[int]*Model{0: base, 1: a, 2: base, 3: a} {
		name := fmt.Sprintf("model.layers.%d.mlp.up_proj.weight", layer)
		w, _ := want.View(name)
		got := out.Tensors[name].Data
		for e := range w {
			if math.Abs(float64(got[e]-w[e])) > 1e-6 {
				t.Fatalf("layer %d: got %v, want %v", layer, got[e], w[e])
			}
		}
	}
	// Embeddings use t = 0: weight 0, the base's embedding.
	w, _ := base.View("model.embed_tokens.weight")
	if !slices.Equal(out.Tensors["model.embed_tokens.weight"].Data, w) {
		t.Error("embeddings should take the gradient's first value")
	}
}

// TestSelectPathsAgree checks the quickselect and radix selections keep the
// same elements, ties included.
func TestSelectPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 7, 100, 5000, smallSelect + 3} {
		x := make([]float32, n)
		base := make([]float32, n)
		for e := range x {
			x[e] = float32(math.Round(rng.NormFloat64()*4) / 4) // many ties
			base[e] = float32(rng.IntN(3)) / 4
		}
		for _, k := range []int{1, n / 3, n / 2, n - 1, n} {
			if k <= 0 {
				continue
			}
			want := make([]float32, n)
			// Reference: stable order by magnitude desc, index asc.
			idx := make([]int, n)
			for e := range idx {
				idx[e] = e
			}
			slices.SortStableFunc(idx, func(a, b int) int {
				ma, mb := magBits(x, base, a), magBits(x, base, b)
				switch {
				case ma > mb:
					return -1
				case ma < mb:
					return 1
				}
				return 0
			})
			for _, e := range idx[:k] {
				want[e] = 1
			}
			for name, sel := range map[string]topK{
				"small": selectSmall(x, base, k),
				"radix": selectTopKMulti([][]float32{x}, base, []int{k}, 2)[0],
			} {
				got := make([]float32, n)
				sel.mark(x, base, got)
				if !slices.Equal(got, want) && !(k >= n && name == "radix") {
					t.Fatalf("n=%d k=%d %s: kept set differs", n, k, name)
				}
			}
		}
	}
}

// TestBF16FusedExact checks the fused bfloat16 kernels bit for bit against
// a scalar reference that rounds after every operation.
func TestBF16FusedExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 2*selChunk + 77
	mk := func() []float32 {
		x := make([]float32, n)
		for e := range x {
			x[e] = st.RoundBF16(float32(rng.NormFloat64()))
		}
		return x
	}
	in := [][]float32{mk(), mk(), mk()}
	shapes := [][]int{{n}, {n}, {n}}
	r := st.RoundBF16
	w := []float32{r(0.3), r(-0.7), r(1.1)}
	for _, method := range []string{"task_arithmetic", "linear"} {
		j := &job{method: methods[method], name: "x", dtype: st.BF16, models: []string{"a", "b", "base"},
			inputs: in, shapes: shapes, base: 2, workers: 2, sc: &scratch{},
			global: params{"normalize": 1, "lambda": 0.9}, perModel: []params{{"weight": 0.3}, {"weight": -0.7}, {"weight": 1.1}}}
		if method == "linear" {
			j.base = -1
		}
		got := make([]float32, n)
		if err := j.run(got); err != nil {
			t.Fatal(err)
		}
		for e := 0; e < n; e++ {
			var want float32
			if method == "linear" {
				var acc float32
				for i := range in {
					acc += r(w[i] * in[i][e])
				}
				want = r(r(acc) / r(w[0]+w[1]+w[2]))
			} else {
				b := in[2][e]
				var acc float32
				for i := 0; i < 2; i++ {
					acc += r(r(in[i][e]-b) * w[i])
				}
				m := r(r(acc) / r(w[0]+w[1]))
				want = r(b + r(m*0.9))
			}
			if math.Float32bits(got[e]) != math.Float32bits(want) {
				t.Fatalf("%s: element %d = %v, want %v", method, e, got[e], want)
			}
		}
	}
}

// TestSampledSelectMatchesRadix checks the one-pass sampled selection keeps
// exactly the elements the radix selection keeps, on smooth data and on
// data with large groups of tied magnitudes (bf16-like), through TIES.
func TestSampledSelectMatchesRadix(t *testing.T) {
	saved := sampledSelectMin
	sampledSelectMin = 0 // sample even these small tensors
	defer func() { sampledSelectMin = saved }()
	rng := rand.New(rand.NewPCG(21, 21))
	const n = 5*selChunk + 77
	for _, grid := range []float64{0, 8, 1024} {
		mk := func() []float32 {
			x := make([]float32, n)
			for i := range x {
				v := rng.NormFloat64()
				if grid > 0 {
					v = math.Round(v*grid) / grid
				}
				x[i] = float32(v)
			}
			return x
		}
		inputs := [][]float32{mk(), mk(), mk()}
		for _, density := range []float64{0.9, 0.5, 0.01} {
			run := func(radix bool) []float32 {
				forceRadix = radix
				defer func() { forceRadix = false }()
				j := &job{method: methods["ties"], name: "x", dtype: st.F32, models: []string{"a", "b", "base"},
					inputs: inputs, shapes: [][]int{{n}, {n}, {n}}, base: 2, workers: 2,
					global: params{"normalize": 1, "lambda": 1}, perModel: []params{{"weight": 1, "density": density}, {"weight": 0.5, "density": density}, {}}}
				out := make([]float32, n)
				if err := j.run(out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			if a, b := run(false), run(true); !slices.Equal(a, b) {
				t.Errorf("grid %v density %v: sampled and radix selections differ", grid, density)
			}
		}
	}
}

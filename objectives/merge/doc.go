// Package merge is a native reimplementation of mergekit's merge methods
// (arcee-ai/mergekit at a6e4028), for merging Hugging Face checkpoints from a
// recipe on the command line and for merging in process thousands of times
// inside an evolutionary run.
//
// The semantics are mergekit's, quirks included: linear, task_arithmetic,
// ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della,
// della_linear, slerp, nuslerp, model_stock, karcher, passthrough, nearswap,
// sce, multislerp, ram, ramplus_tl and arcee_fusion; parameter lookup
// (source, slice, top level, method default), gradients interpolated across
// each slice's layers, substring filters, lambda after normalize, each
// tensor computed and saved in its own dtype (or the recipe's), and
// arithmetic in that dtype with a rounding after every elementwise
// operation, so bfloat16/float16 results of the linear, GTA and slerp
// families are bit-exact except where TIES-style pruning meets tied
// magnitudes. Every case of mergekit's golden vectors in testdata/mergekit
// passes through Run (go test -run TestGolden -v prints the counts). The
// random methods draw their keep-masks from SplitMix64 streams seeded by
// Merger.Seed, the tensor name, the model and the chunk (or row), so a
// merge is reproducible whatever the goroutine schedule; tests inject
// mergekit's recorded masks.
//
// The engine streams. Inputs on disk are read through the files' memory
// mappings (float32 without a copy) and written in place at their final
// offsets; elementwise methods (linear, the GTA family, slerp, nearswap,
// passthrough) merge block by block, after at most a pass or two that find
// thresholds (a sampled one-pass selection, where mergekit sorts every
// delta), rescale factors or norms, so memory stays at a few blocks per
// worker whatever the tensor size. The other methods need whole tensors
// and are held to a memory budget (RunOptions.MaxMemory).
//
// # Command line
//
// RunCLI implements `evomerge merge [flags] RECIPE.yml OUT_DIR` (see Run):
// sharded safetensors with an index, config.json from the base (or first)
// model with torch_dtype set, tokenizer files, and a README.md model card
// with the recipe, all built in a temporary folder renamed into place.
//
// # In process
//
// Load the models once, then merge recipes into a reused Output:
//
//	base, _ := merge.LoadModel("base")          // or merge.NewModel(tensors, layers, st.F32)
//	a, _ := merge.LoadModel("expert-a")
//	m := merge.NewMerger(map[string]merge.Source{"base": base, "a": a})
//	r, _ := merge.ParseRecipe(recipeYAML)
//	var out merge.Output
//	err := m.Merge(ctx, r, &out) // out.Tensors["model.layers.0.mlp.up_proj.weight"].Data
//
// A Merger is safe for concurrent use; give each goroutine its own Output.
// In-memory models are read without copying; nothing touches disk.
package merge

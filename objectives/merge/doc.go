// Package merge is a native reimplementation of mergekit's merge methods
// (arcee-ai/mergekit at a6e4028), for merging Hugging Face checkpoints from a
// recipe on the command line and for merging in process thousands of times
// inside an evolutionary run.
//
// The semantics are mergekit's, quirks included: linear, task_arithmetic,
// ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della,
// della_linear, slerp, nuslerp, model_stock, karcher, passthrough and
// nearswap; parameter lookup (source, slice, top level, method default),
// gradients interpolated across each slice's layers, substring filters,
// lambda after normalize, and arithmetic in the load dtype with a rounding
// after every elementwise operation, so bfloat16/float16 results are
// bit-exact. Every case of mergekit's golden vectors in
// testdata/mergekit passes (go test -run TestGolden -v prints the counts).
// The random methods draw their keep-masks from PCG streams seeded by
// Merger.Seed, the tensor name and the model, so a merge is reproducible
// whatever the goroutine schedule; tests inject mergekit's recorded masks.
//
// Speed comes from two choices. Task arithmetic and linear run as one fused
// pass over the inputs per block of elements, on all cores. TIES finds each
// model's magnitude threshold with a radix selection over the float bit
// patterns (linear time, where mergekit sorts every delta), then merges each
// block in one branch-free pass. Memory stays at a few tensors: a file merge
// streams one tensor per worker from disk to the output shards.
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

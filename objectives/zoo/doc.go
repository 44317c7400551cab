// Package zoo trains, caches and evaluates a small model zoo on MNIST for
// real (not simulated) model-merging experiments: a base MLP and experts
// fine-tuned from it, saved as Hugging Face-style folders that a merge
// engine reads like any other checkpoint.
//
// The design is "reader × skill" (docs/mnist-merge.md, design B), which
// mirrors Sakana's evolutionary merge: one expert learns to read new input,
// another learns a new output skill on familiar input, and only a merge has
// both.
//
//   - base: MLP 784-128-64-20 (ReLU), 5 epochs of SGD on plain digits read
//     from units 0–9. Units 10–19 keep their random initialisation.
//   - reader: base + 1 epoch on digits shifted 5 px right and down (task
//     "shift", units 0–9).
//   - skill: base + 1 epoch on permuted labels SkillPerm of plain digits on
//     units 10–19 (task "perm"), half its data replaying the base task.
//   - distractors (optional): base + 1 epoch on digits rotated 90° ("rot90")
//     or mirrored ("flip"), units 0–9.
//
// The merge target (task "target") is permuted labels of shifted digits on
// units 10–19. Every zoo model is near chance on it (1–10% on seeds 0 and 1;
// the random second head happens to read 12–23% on seeds 2 and 3), while
// task arithmetic of reader and skill with weights 1/1 scores 77–91% and
// weights 1/2 54–62% (held-out, seeds 0–3). Init "he" makes merging harder
// (1/1: 38–63%, best found 55–80%).
//
// A zoo is deterministic from Config.Seed: initialisation and shuffles come
// from math/rand/v2 PCG streams derived from the seed, and the matrix
// products (gonum's float32 BLAS) split work by matrix size only, so the
// weights are bit-identical whatever GOMAXPROCS is. Build trains once
// (about 15 s on 2 cores) and caches the zoo under a hash of its
// configuration; the MNIST files come from the GoMNIST module in the Go
// module cache and nothing is downloaded at run time.
//
// Each model folder holds config.json (model_type "evomerge_mlp",
// num_hidden_layers 3, layer_sizes [784,128,64,20]) and model.safetensors
// with float32 tensors layers.<i>.weight (out×in, PyTorch's layout) and
// layers.<i>.bias. EvaluateFolder scores any such folder, merged or not, on
// a task over MNIST test-set items: the evaluator an external process runs.
package zoo

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
// # The multi-task testbed
//
// Config.Testbed MultiTask builds a second design, meant to behave like a
// merge of fine-tuned LLMs rather than a composition of two disjoint
// skills: an eight-layer base (784-64×7-10, He initialisation) trained on
// plain digits, and six experts fine-tuned from it (one epoch, half the
// data replaying the base task) on tasks that share every parameter,
// including the one ten-unit head — input transforms and label maps:
// shift, rot90-p, flip-q (the three target tasks), blocks (off-target),
// flip (the same images as flip-q answered differently) and shift-x (a
// label map that contradicts shift: the distractor that hurts). Their task
// vectors are nearly orthogonal (per-layer cosine +0.01…+0.12 on instance
// 0) but where their top-20% changes meet they disagree in sign 38–49% of
// the time (Interference). Instances (`zoo build -testbed multitask
// -instance N`) differ in seed; one takes about 30 CPU-seconds to train.
//
// Each model folder holds config.json (model_type "evomerge_mlp",
// num_hidden_layers 3, layer_sizes [784,128,64,20]) and model.safetensors
// with float32 tensors layers.<i>.weight (out×in, PyTorch's layout) and
// layers.<i>.bias. EvaluateFolder scores any such folder, merged or not, on
// a task over MNIST test-set items: the evaluator an external process runs.
package zoo

package zoo

import "slices"

// Testbed names (Config.Testbed).
const (
	// ReaderSkill is the first testbed (design B of docs/mnist-merge.md):
	// a three-layer base, a reader and a skill expert whose changes barely
	// overlap, and optional distractors.
	ReaderSkill = "reader-skill"
	// MultiTask is the second testbed, built to behave like a merge of
	// fine-tuned LLMs: an eight-layer base and six experts fine-tuned from
	// it on related tasks that share every parameter, including one output
	// head, so their task vectors overlap and disagree in sign.
	MultiTask = "multitask"
)

// multiTaskSizes is the multi-task testbed's architecture: eight linear
// layers (seven ReLU hidden layers of 64 units) and one shared head of ten
// units. Eight weight matrices let mergekit-evolve's layer groups (1, 4 or
// 8 groups) mean something, and 64-wide layers keep a merge and a forward
// pass over a few hundred items at a few milliseconds.
var multiTaskSizes = []int{Pixels, 64, 64, 64, 64, 64, 64, 64, HeadSize}

// Sizes is the architecture the configuration trains: Sizes (784-128-64-20)
// for the reader-skill testbed, 784-64×7-10 for the multi-task testbed.
func (c Config) Sizes() []int {
	if c.Testbed == MultiTask {
		return slices.Clone(multiTaskSizes)
	}
	return slices.Clone(Sizes)
}

// MultiTaskTargets are the tasks whose mean accuracy is the multi-task
// testbed's merge target, as mergekit-evolve's `tasks` list with equal
// weights: shifted digits, rotated digits under label map MapP, mirrored
// digits under MapQ. Every one is on the shared head, and no expert knows
// more than one of them.
var MultiTaskTargets = []string{"shift", "rot90-p", "flip-q"}

// MultiTaskRetention is the base's own task, reported beside the target
// as retention: what a merge keeps of what the base could do.
const MultiTaskRetention = "digits"

// MultiTaskExperts lists the multi-task testbed's experts in genome order;
// each is named after the task it was fine-tuned on:
//
//   - shift, rot90-p, flip-q: one target task each, so each is partly
//     competent on the target (one task of three);
//   - blocks: a related off-target task (tile-shuffled digits) whose delta
//     only interferes;
//   - flip: mirrored digits with plain labels, the same inputs as flip-q
//     answered differently: its lower layers help flip-q, its head fights it;
//   - shift-x: shifted digits under label map MapX, which contradicts task
//     shift on the same inputs: the distractor that hurts.
var MultiTaskExperts = []string{"shift", "rot90-p", "flip-q", "blocks", "flip", "shift-x"}

// multiTaskDefaults fills in the multi-task testbed's training: He
// initialisation (PyTorch's default shrinks the signal through eight
// layers), a base learning rate of 0.02 (0.05 is unstable at this depth),
// and expert fine-tuning at 0.01 for one epoch, half of each expert's data
// replaying the base task, as LLM fine-tunes mix in general data.
func (c Config) multiTaskDefaults() Config {
	if c.Init == "" {
		c.Init = "he"
	}
	if c.BaseLR == 0 {
		c.BaseLR = 0.02
	}
	return c
}

func multiTaskExperts() []expert {
	var ex []expert
	for _, name := range MultiTaskExperts {
		ex = append(ex, expert{name, []Task{tasks[name], tasks["digits"]}})
	}
	return ex
}

// MultiTaskConfig is the multi-task testbed's instance n: the zoo whose
// seed is n.
func MultiTaskConfig(n uint64) Config { return Config{Testbed: MultiTask, Seed: n} }

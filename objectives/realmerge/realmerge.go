// Package realmerge is a real model-merging objective: each candidate
// vector becomes a mergekit merge recipe over the MNIST model zoo (package
// zoo), the merge engine (package merge) merges the models in memory, and
// the merged network is scored on real test images. Nothing is simulated:
// the landscape, its noise and its optimum are whatever the merged networks
// do.
//
// # Genome
//
// The layout is mergekit-evolve's (evo/genome.py, discrete mode): the vector
// is read row-major as (G, M, P), with
//
//   - G layer groups: 3 with Granularity "layer" (one group per linear
//     layer: layers.0, layers.1, layers.2), 1 with "global";
//   - M experts, in zoo order: reader, skill, then any distractors (the base
//     model is the merge's base_model and has no genes);
//   - P parameters per expert and group: [weight], or [weight, density]
//     when Densities is set (ties and dare_ties only).
//
// So gene (g·M + m)·P + p is parameter p of expert m in group g; Gene
// computes it. As in mergekit-evolve a weight is |gene| and a density is
// clamp(|gene|, 0, 1), except that densities are raised to MinDensity (a
// little over 1/20): mergekit refuses a magnitude pruning that keeps no
// element, and the output bias has only 20, so a density below 1/20 would
// make the merge fail rather than score badly. The box is [0, WeightMax] for weights (default 3:
// the good merges need weights above 1) and [0, 1] for densities.
//
// Each group becomes one slice of the recipe covering its layers, with the
// base appended as a source, exactly as mergekit-evolve writes recipes.
//
// # Scores and noise
//
// Items are MNIST test images. The first Pool (default 1,000) form the
// search pool; the rest (9,000 by default) are held out and never used
// during a search. Each evaluation merges, runs the whole pool through the
// merged network once, and reports:
//
//   - Observed: the accuracy in percent on Items (default 200) items drawn
//     afresh without replacement from the pool with the evaluation's rng —
//     binomial-like noise set by Items, as when a real merge is scored on a
//     random subset of a benchmark (Items ≥ Pool gives no noise);
//   - True: the accuracy in percent on the whole pool.
//
// HeldOut re-scores a recommendation on the held-out items, which is what
// a final report should quote (the pool's accuracy is biased upwards by
// selection). DARE's random masks are drawn from a seed fixed per objective
// (common random numbers, like mergekit's --random-seed), so a vector's
// merge, and hence its True value, is a deterministic function of it.
//
// # The multi-task objective
//
// MultiObjective ("mnist-multitask", multitask.go) merges the zoo's
// multi-task testbed instead: six experts on conflicting tasks of one
// shared head, an eight-layer genome at 1, 2, 4 or 8 layer groups, the
// mean over three tasks as the score with every task (and retention of the
// base's task) reported through objectives.TaskScorer, fixed item subsets
// per task by default, and a random held-out split. docs/multitask-testbed.md
// has its measured figures.
//
// # Difficulty knobs
//
// Distractor experts (Zoo.Distractors) add genes whose best value is near
// 0; densities double the dimension; global granularity removes the
// per-layer freedom the best merges use; fewer Items add noise.
package realmerge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// MinDensity is the smallest density a recipe gets; see the package
// documentation.
const MinDensity = 1.0/20 + 1e-9

// Config describes the objective. Zero values mean the documented defaults.
type Config struct {
	// Zoo is the model zoo to merge (seed, distractors); see zoo.Config.
	Zoo zoo.Config
	// Method is the merge method: task_arithmetic (default), ties or
	// dare_ties.
	Method string
	// Granularity is "layer" (default: one gene group per linear layer) or
	// "global" (one group for the whole network).
	Granularity string
	// Densities adds a density gene per expert and group (ties and
	// dare_ties only). Without it every density is Density.
	Densities bool
	// Density is the fixed density of ties and dare_ties without density
	// genes; 0 means 0.5.
	Density float64
	// Normalize divides the merged delta by the sum of weights (mergekit's
	// normalize). Off by default: with normalize, a merge cannot amplify a
	// delta, and the best merges here need weights above 1.
	Normalize bool
	// WeightMax is the upper bound of weight genes; 0 means 3.
	WeightMax float64
	// Items is the number of pool items each evaluation is scored on;
	// 0 means 200.
	Items int
	// Pool is the size of the search pool, MNIST test items 0..Pool-1;
	// 0 means 1,000. Items Pool..9,999 are held out.
	Pool int
	// Task is the zoo task scored; empty means "target".
	Task string
	// MaskSeed seeds dare_ties's random masks.
	MaskSeed uint64
	// Target is DefaultTarget in percent; 0 means 80.
	Target float64
}

func (c Config) withDefaults() Config {
	if c.Method == "" {
		c.Method = "task_arithmetic"
	}
	if c.Granularity == "" {
		c.Granularity = "layer"
	}
	if c.Density == 0 {
		c.Density = 0.5
	}
	if c.WeightMax == 0 {
		c.WeightMax = 3
	}
	if c.Items == 0 {
		c.Items = 200
	}
	if c.Pool == 0 {
		c.Pool = 1000
	}
	if c.Task == "" {
		c.Task = "target"
	}
	if c.Target == 0 {
		c.Target = 80
	}
	return c
}

func (c Config) validate() error {
	switch c.Method {
	case "task_arithmetic", "ties", "dare_ties":
	default:
		return fmt.Errorf("mnist-merge: method %q is not task_arithmetic, ties or dare_ties", c.Method)
	}
	if c.Granularity != "layer" && c.Granularity != "global" {
		return fmt.Errorf("mnist-merge: granularity %q is neither layer nor global", c.Granularity)
	}
	if c.Densities && c.Method == "task_arithmetic" {
		return fmt.Errorf("mnist-merge: densities have no effect on task_arithmetic; use ties or dare_ties")
	}
	if !(c.Density >= MinDensity && c.Density <= 1) {
		return fmt.Errorf("mnist-merge: density %g must be in [%.3g, 1]", c.Density, MinDensity)
	}
	if !(c.WeightMax > 0 && c.WeightMax <= 100) {
		return fmt.Errorf("mnist-merge: weight bound %g must be in (0, 100]", c.WeightMax)
	}
	if c.Pool < 1 || c.Pool >= 10000 {
		return fmt.Errorf("mnist-merge: pool %d must leave held-out items: 1..9999", c.Pool)
	}
	if c.Items < 1 {
		return fmt.Errorf("mnist-merge: items %d must be at least 1", c.Items)
	}
	if !(c.Target > 0 && c.Target <= 100) {
		return fmt.Errorf("mnist-merge: target %g must be a percentage in (0, 100]", c.Target)
	}
	return nil
}

// Objective is the real-merge objective. It is safe for concurrent use:
// the loaded models and item batches are read-only, and each evaluation
// takes its own buffers from a pool.
type Objective struct {
	genome
	cfg  Config
	pool *zoo.Batch
	task zoo.Task
	test *zoo.Images
	name string

	heldOnce sync.Once
	held     *zoo.Batch
	heldErr  error

	states sync.Pool
}

var _ objectives.Function = (*Objective)(nil)

// New builds (or finds in the cache) the zoo and loads its models.
func New(cfg Config) (*Objective, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	task, err := zoo.LookupTask(cfg.Task)
	if err != nil {
		return nil, fmt.Errorf("mnist-merge: %w", err)
	}
	z, err := zoo.Build(cfg.Zoo)
	if err != nil {
		return nil, fmt.Errorf("mnist-merge: %w", err)
	}
	var groups [][2]int
	layers := len(zoo.Sizes) - 1
	if cfg.Granularity == "layer" {
		for l := 0; l < layers; l++ {
			groups = append(groups, [2]int{l, l + 1})
		}
	} else {
		groups = [][2]int{{0, layers}}
	}
	o := &Objective{cfg: cfg, task: task, genome: genome{zoo: z, objective: "mnist-merge", method: cfg.Method, normalize: cfg.Normalize,
		densities: cfg.Densities, density: cfg.Density, minDensity: MinDensity, weightMax: cfg.WeightMax, experts: z.Experts(), groups: groups}.withParams()}
	if err := o.load(layers, cfg.MaskSeed); err != nil {
		return nil, err
	}
	if o.test, err = zoo.TestSet(); err != nil {
		return nil, fmt.Errorf("mnist-merge: %w", err)
	}
	if o.pool, err = zoo.NewBatch(o.test, task, zoo.Range(0, cfg.Pool)); err != nil {
		return nil, fmt.Errorf("mnist-merge: %w", err)
	}
	o.name = name(cfg)
	return o, nil
}

// name is "mnist-merge" followed by the settings that differ from the
// defaults, so variants stay apart in tables.
func name(c Config) string {
	parts := []string{"mnist-merge"}
	if c.Method != "task_arithmetic" {
		parts = append(parts, c.Method)
	}
	if c.Granularity != "layer" {
		parts = append(parts, c.Granularity)
	}
	if c.Densities {
		parts = append(parts, "densities")
	}
	if c.Normalize {
		parts = append(parts, "normalize")
	}
	if !c.Densities && c.Method != "task_arithmetic" && c.Density != 0.5 {
		parts = append(parts, fmt.Sprintf("d%g", c.Density))
	}
	if c.WeightMax != 3 {
		parts = append(parts, fmt.Sprintf("w%g", c.WeightMax))
	}
	if c.Task != "target" {
		parts = append(parts, c.Task)
	}
	if c.Items != 200 {
		parts = append(parts, fmt.Sprintf("n%d", c.Items))
	}
	if c.Pool != 1000 {
		parts = append(parts, fmt.Sprintf("pool%d", c.Pool))
	}
	if c.Zoo.Init == "he" {
		parts = append(parts, "he")
	}
	for _, d := range c.Zoo.Distractors {
		parts = append(parts, d)
	}
	if c.Zoo.Seed != 0 {
		parts = append(parts, fmt.Sprintf("zoo%d", c.Zoo.Seed))
	}
	return strings.Join(parts, "/")
}

// Name identifies the objective and its non-default settings.
func (o *Objective) Name() string { return o.name }

// Sense is Maximize: scores are accuracies in percent.
func (o *Objective) Sense() objectives.Sense { return objectives.Maximize }

// Best is 100, the largest possible accuracy. The true optimum is unknown:
// the best merges found score 77–92 held-out depending on the zoo seed.
func (o *Objective) Best() float64 { return 100 }

// DefaultTarget is Config.Target, 80 by default: far above every zoo model
// (1–23) and mergekit-evolve's start (weights 1/M: 54–62 with two experts,
// 25–38 with three), within reach of a tuned merge on zoo seeds 0, 1 and 3
// (seed 2 tops out near 80).
func (o *Objective) DefaultTarget() float64 { return o.cfg.Target }

// Task is the zoo task scored.
func (o *Objective) Task() string { return o.task.Name }

// PoolItems lists the MNIST test items of the search pool.
func (o *Objective) PoolItems() []int { return zoo.Range(0, o.cfg.Pool) }

// HeldOutItems lists the held-out MNIST test items.
func (o *Objective) HeldOutItems() []int { return zoo.Range(o.cfg.Pool, o.test.N) }

// state is one evaluation's buffers.
type state struct {
	out     merge.Output
	net     *zoo.Net
	ws      zoo.Workspace
	correct []bool
	perm    []int
}

func (o *Objective) getState() *state {
	if s, ok := o.states.Get().(*state); ok {
		return s
	}
	return &state{net: zoo.NewNet(zoo.Sizes)}
}

// mergeNet merges x into s.net.
func (o *Objective) mergeNet(ctx context.Context, x []float64, s *state) error {
	return o.genome.mergeNet(ctx, x, &s.out, s.net)
}

// score merges x and marks which items of b it answers correctly.
func (o *Objective) score(ctx context.Context, x []float64, b *zoo.Batch, s *state) (int, error) {
	if err := o.mergeNet(ctx, x, s); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if cap(s.correct) < b.N() {
		s.correct = make([]bool, b.N())
	}
	s.correct = s.correct[:b.N()]
	return s.net.Mark(b, s.correct, &s.ws)
}

// Evaluate merges x, scores the merged network on the whole pool (True)
// and on Items items drawn from it with rng (Observed), both in percent.
func (o *Objective) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	if rng == nil {
		return objectives.Value{}, errors.New("mnist-merge: Evaluate needs an rng to draw its items")
	}
	s := o.getState()
	defer o.states.Put(s)
	total, err := o.score(ctx, x, o.pool, s)
	if err != nil {
		return objectives.Value{}, err
	}
	n := o.pool.N()
	v := objectives.Value{True: 100 * float64(total) / float64(n)}
	if o.cfg.Items >= n {
		v.Observed = v.True
		return v, nil
	}
	// A partial Fisher–Yates shuffle draws Items distinct pool positions.
	if cap(s.perm) < n {
		s.perm = make([]int, n)
	}
	s.perm = s.perm[:n]
	for i := range s.perm {
		s.perm[i] = i
	}
	hits := 0
	for i := 0; i < o.cfg.Items; i++ {
		j := i + rng.IntN(n-i)
		s.perm[i], s.perm[j] = s.perm[j], s.perm[i]
		if s.correct[s.perm[i]] {
			hits++
		}
	}
	v.Observed = 100 * float64(hits) / float64(o.cfg.Items)
	return v, nil
}

// True is the accuracy in percent on the whole search pool. A vector the
// objective cannot merge (wrong length, NaN) scores 0.
func (o *Objective) True(x []float64) float64 {
	s := o.getState()
	defer o.states.Put(s)
	c, err := o.score(context.Background(), x, o.pool, s)
	if err != nil {
		return 0
	}
	return 100 * float64(c) / float64(o.pool.N())
}

// HeldOut is the accuracy in percent on the held-out items (MNIST test
// items Pool..9,999), never seen during a search: the figure to report for
// a recommendation. A vector the objective cannot merge scores 0.
func (o *Objective) HeldOut(x []float64) float64 {
	v, err := o.HeldOutErr(x)
	if err != nil {
		return 0
	}
	return v
}

// HeldOutErr is HeldOut with the error instead of a zero score.
func (o *Objective) HeldOutErr(x []float64) (float64, error) {
	o.heldOnce.Do(func() {
		o.held, o.heldErr = zoo.NewBatch(o.test, o.task, zoo.Range(o.cfg.Pool, o.test.N))
	})
	if o.heldErr != nil {
		return 0, o.heldErr
	}
	s := o.getState()
	defer o.states.Put(s)
	c, err := o.score(context.Background(), x, o.held, s)
	if err != nil {
		return 0, err
	}
	return 100 * float64(c) / float64(o.held.N()), nil
}

// onDisk names every model of r by its folder (path), so the recipe runs
// with evomerge merge or mergekit-yaml outside the process.
func onDisk(r *merge.Recipe, path func(string) string) {
	r.BaseModel = path(r.BaseModel)
	for i := range r.Slices {
		for k := range r.Slices[i].Sources {
			so := &r.Slices[i].Sources[k]
			so.Model = path(so.Model)
		}
	}
}

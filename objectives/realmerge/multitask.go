package realmerge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// MultiMinDensity is the smallest density a multi-task recipe gets: a
// little over 1/10, since the output bias has ten elements and mergekit
// refuses a magnitude pruning that keeps none of a tensor.
const MultiMinDensity = 1.0/10 + 1e-9

// MultiConfig describes the multi-task objective ("mnist-multitask"): a
// merge of the multi-task testbed's six experts (zoo.MultiTask) scored as
// the mean accuracy over zoo.MultiTaskTargets, the way mergekit-evolve
// scores a merge on a weighted list of lm-eval tasks. Zero values mean the
// documented defaults.
//
// # Genome
//
// mergekit-evolve's layout, as for mnist-merge: (G, M, P) row-major, with
// G layer groups of the eight linear layers (1, 2, 4 or 8; group g covers
// layers g·8/G … (g+1)·8/G − 1), the M = 6 experts in
// zoo.MultiTaskExperts order, and P = [weight] or [weight, density]. With
// ties and 4 groups that is 24 genes (48 with densities); 1 group with
// densities 12; 8 groups with densities 96.
//
// # Items and noise
//
// The 10,000 MNIST test images are split at random (from the instance) into
// a search pool of Pool images and a held-out rest; every task reads the
// same images through its own transform. Each task's score during a search
// is its accuracy on Limit items of the pool — by default a fixed subset
// drawn once per task, as `lm-eval --limit N` scores every candidate on the
// same first N items: a bias that re-evaluating cannot average out. With
// Resample the Limit items are drawn afresh from the pool at each
// evaluation instead (binomial noise around the pool's accuracy). True is
// the mean accuracy on the whole pool; HeldOut the mean on the held-out
// images, the figure to report.
type MultiConfig struct {
	// Instance is the zoo instance (its seed); it also draws the split and
	// the fixed subsets.
	Instance uint64
	// Method is ties (default), dare_ties or task_arithmetic.
	Method string
	// Groups is the number of layer groups: 1, 2, 4 (default) or 8.
	Groups int
	// Densities adds a density gene per expert and group (ties, dare_ties).
	Densities bool
	// Density is the fixed density without density genes; 0 means 0.5.
	Density float64
	// Normalize is mergekit's normalize (off by default, as for mnist-merge).
	Normalize bool
	// WeightMax bounds weight genes; 0 means 2.
	WeightMax float64
	// Limit is the number of items per task an evaluation is scored on
	// (the harness's --items); 0 means 100.
	Limit int
	// Resample draws the Limit items afresh at each evaluation instead of
	// using one fixed subset per task.
	Resample bool
	// Pool is the number of test images in the search pool; 0 means 300.
	Pool int
	// MaskSeed seeds dare_ties's masks.
	MaskSeed uint64
	// Target is DefaultTarget in percent; 0 means 45: above every model
	// alone (at most 38 held-out on instance 0) and every untuned merge at
	// mergekit's defaults (at most 24), below the best merges found (about
	// 50).
	Target float64
	// Zoo overrides the zoo's training settings (tests train a quick one);
	// its Testbed and Seed are set from the fields above.
	Zoo zoo.Config
}

func (c MultiConfig) withDefaults() MultiConfig {
	if c.Method == "" {
		c.Method = "ties"
	}
	if c.Groups == 0 {
		c.Groups = 4
	}
	if c.Density == 0 {
		c.Density = 0.5
	}
	if c.WeightMax == 0 {
		c.WeightMax = 2
	}
	if c.Limit == 0 {
		c.Limit = 100
	}
	if c.Pool == 0 {
		c.Pool = 300
	}
	if c.Target == 0 {
		c.Target = 45
	}
	c.Zoo.Testbed, c.Zoo.Seed = zoo.MultiTask, c.Instance
	return c
}

func (c MultiConfig) validate() error {
	switch c.Method {
	case "task_arithmetic", "ties", "dare_ties":
	default:
		return fmt.Errorf("mnist-multitask: method %q is not task_arithmetic, ties or dare_ties", c.Method)
	}
	switch c.Groups {
	case 1, 2, 4, 8:
	default:
		return fmt.Errorf("mnist-multitask: %d layer groups do not divide the 8 layers evenly (want 1, 2, 4 or 8)", c.Groups)
	}
	if c.Densities && c.Method == "task_arithmetic" {
		return fmt.Errorf("mnist-multitask: densities have no effect on task_arithmetic; use ties or dare_ties")
	}
	if !(c.Density >= MultiMinDensity && c.Density <= 1) {
		return fmt.Errorf("mnist-multitask: density %g must be in [%.3g, 1]", c.Density, MultiMinDensity)
	}
	if !(c.WeightMax > 0 && c.WeightMax <= 100) {
		return fmt.Errorf("mnist-multitask: weight bound %g must be in (0, 100]", c.WeightMax)
	}
	if c.Pool < 1 || c.Pool >= 10000 {
		return fmt.Errorf("mnist-multitask: pool %d must leave held-out images: 1..9999", c.Pool)
	}
	if c.Limit < 1 || c.Limit > c.Pool {
		return fmt.Errorf("mnist-multitask: limit %d items per task must be in 1..%d (the pool)", c.Limit, c.Pool)
	}
	if !(c.Target > 0 && c.Target <= 100) {
		return fmt.Errorf("mnist-multitask: target %g must be a percentage in (0, 100]", c.Target)
	}
	return nil
}

// MultiObjective is the multi-task real-merge objective. Safe for
// concurrent use.
type MultiObjective struct {
	genome
	cfg    MultiConfig
	sizes  []int
	tasks  []zoo.Task // targets, then retention
	pool   []*zoo.Batch
	subset [][]int // fixed subset per task: positions in the pool
	heldIt []int
	name   string

	heldOnce sync.Once
	held     []*zoo.Batch
	heldErr  error
	memoMu   sync.Mutex
	heldMemo map[string][]float64 // held-out scores by task count and x (heldOut)
	poolMemo map[string][][]bool  // pool marks per task by x (marks)

	states sync.Pool
}

var (
	_ objectives.Function     = (*MultiObjective)(nil)
	_ objectives.HeldOuter    = (*MultiObjective)(nil)
	_ objectives.TaskScorer   = (*MultiObjective)(nil)
	_ objectives.ItemFunction = (*MultiObjective)(nil)
	_ objectives.MultiViewer  = (*MultiObjective)(nil)
)

// NewMulti builds (or finds in the cache) the instance's zoo and loads it.
func NewMulti(cfg MultiConfig) (*MultiObjective, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	z, err := zoo.Build(cfg.Zoo)
	if err != nil {
		return nil, fmt.Errorf("mnist-multitask: %w", err)
	}
	sizes := cfg.Zoo.Sizes()
	var groups [][2]int
	layers := len(sizes) - 1
	for g := 0; g < cfg.Groups; g++ {
		groups = append(groups, [2]int{g * layers / cfg.Groups, (g + 1) * layers / cfg.Groups})
	}
	o := &MultiObjective{cfg: cfg, sizes: sizes, genome: genome{zoo: z, objective: "mnist-multitask", method: cfg.Method, normalize: cfg.Normalize,
		densities: cfg.Densities, density: cfg.Density, minDensity: MultiMinDensity, weightMax: cfg.WeightMax, experts: z.Experts(), groups: groups}.withParams()}
	if err := o.load(layers, cfg.MaskSeed); err != nil {
		return nil, err
	}
	test, err := zoo.TestSet()
	if err != nil {
		return nil, fmt.Errorf("mnist-multitask: %w", err)
	}
	poolItems, heldItems := SplitItems(cfg.Instance, test.N, cfg.Pool)
	o.heldIt = heldItems
	for _, name := range append(append([]string(nil), zoo.MultiTaskTargets...), zoo.MultiTaskRetention) {
		t, err := zoo.LookupTask(name)
		if err != nil {
			return nil, fmt.Errorf("mnist-multitask: %w", err)
		}
		b, err := zoo.NewBatch(test, t, poolItems)
		if err != nil {
			return nil, fmt.Errorf("mnist-multitask: %w", err)
		}
		o.tasks = append(o.tasks, t)
		o.pool = append(o.pool, b)
		o.subset = append(o.subset, fixedSubset(cfg.Instance, name, cfg.Pool, cfg.Limit))
	}
	o.name = multiName(cfg)
	return o, nil
}

// SplitItems splits MNIST test items 0..n−1 at random into a search pool
// of pool items and the held-out rest, both in ascending order, from the
// instance's seed: a random split, so neither side inherits the test set's
// order (its first 1,000 items are harder than the rest).
func SplitItems(instance uint64, n, pool int) (poolItems, held []int) {
	perm := rand.New(rand.NewPCG(instance, streamOf("split"))).Perm(n)
	in := make([]bool, n)
	for _, i := range perm[:pool] {
		in[i] = true
	}
	for i := 0; i < n; i++ {
		if in[i] {
			poolItems = append(poolItems, i)
		} else {
			held = append(held, i)
		}
	}
	return poolItems, held
}

// fixedSubset is task's fixed subset: limit positions of the pool, drawn
// once from the instance and the task's name.
func fixedSubset(instance uint64, task string, pool, limit int) []int {
	return rand.New(rand.NewPCG(instance, streamOf("limit/"+task))).Perm(pool)[:limit]
}

func streamOf(label string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return h.Sum64()
}

// multiName is "mnist-multitask/<method>/g<groups>" followed by the
// settings that differ from the defaults and the instance.
func multiName(c MultiConfig) string {
	parts := []string{"mnist-multitask", c.Method, fmt.Sprintf("g%d", c.Groups)}
	if c.Densities {
		parts = append(parts, "densities")
	}
	if c.Normalize {
		parts = append(parts, "normalize")
	}
	if !c.Densities && c.Method != "task_arithmetic" && c.Density != 0.5 {
		parts = append(parts, fmt.Sprintf("d%g", c.Density))
	}
	if c.WeightMax != 2 {
		parts = append(parts, fmt.Sprintf("w%g", c.WeightMax))
	}
	if c.Limit != 100 {
		parts = append(parts, fmt.Sprintf("limit%d", c.Limit))
	}
	if c.Resample {
		parts = append(parts, "resample")
	}
	if c.Pool != 300 {
		parts = append(parts, fmt.Sprintf("pool%d", c.Pool))
	}
	parts = append(parts, fmt.Sprintf("inst%d", c.Instance))
	return strings.Join(parts, "/")
}

// Name identifies the objective, its non-default settings and instance.
func (o *MultiObjective) Name() string { return o.name }

// Sense is Maximize: scores are accuracies in percent.
func (o *MultiObjective) Sense() objectives.Sense { return objectives.Maximize }

// Best is 100; the true optimum is unknown.
func (o *MultiObjective) Best() float64 { return 100 }

// DefaultTarget is MultiConfig.Target (45 by default).
func (o *MultiObjective) DefaultTarget() float64 { return o.cfg.Target }

// TaskNames lists the target tasks, then the retention task.
func (o *MultiObjective) TaskNames() []string {
	var s []string
	for _, t := range o.tasks {
		s = append(s, t.Name)
	}
	return s
}

// Targets is the number of leading TaskNames whose mean is the score.
func (o *MultiObjective) Targets() int { return len(zoo.MultiTaskTargets) }

// HeldOutItems lists the held-out MNIST test items.
func (o *MultiObjective) HeldOutItems() []int { return append([]int(nil), o.heldIt...) }

type multiState struct {
	out     merge.Output
	net     *zoo.Net
	ws      zoo.Workspace
	correct []bool
}

func (o *MultiObjective) getState() *multiState {
	if s, ok := o.states.Get().(*multiState); ok {
		return s
	}
	return &multiState{net: zoo.NewNet(o.sizes)}
}

func (o *MultiObjective) mergeNet(ctx context.Context, x []float64, s *multiState) error {
	if err := o.genome.mergeNet(ctx, x, &s.out, s.net); err != nil {
		return err
	}
	return ctx.Err()
}

// mark runs batch b through the merged net in s.
func (o *MultiObjective) mark(b *zoo.Batch, s *multiState) (int, error) {
	if cap(s.correct) < b.N() {
		s.correct = make([]bool, b.N())
	}
	s.correct = s.correct[:b.N()]
	return s.net.Mark(b, s.correct, &s.ws)
}

// memoSize bounds the memos of pool marks and held-out scores: a full
// memo is emptied and starts afresh (no figure depends on what it holds).
const memoSize = 256

// memoKey identifies x (and a task count, for held-out scores).
func memoKey(k int, x []float64) string {
	key := make([]byte, 0, 8*len(x)+1)
	key = append(key, byte(k))
	for _, v := range x {
		key = binary.LittleEndian.AppendUint64(key, math.Float64bits(v))
	}
	return string(key)
}

// marks says which pool images of each of the first k tasks the merge of
// x answers correctly. Which answers are right is a deterministic function
// of x (the merge and the forward pass are; dare_ties's masks are seeded
// by MaskSeed and the recipe), so the marks of the last points merged are
// kept: a fidelity-aware method scores one candidate again and again on
// further items (racing adds a twentieth of the list per step), and on
// this testbed the merge, not the items, is most of an evaluation's cost.
// The memo changes no figure, only the time.
func (o *MultiObjective) marks(ctx context.Context, x []float64, k int) ([][]bool, error) {
	key := memoKey(0, x)
	o.memoMu.Lock()
	have := o.poolMemo[key]
	o.memoMu.Unlock()
	if len(have) >= k {
		return have[:k], nil
	}
	s := o.getState()
	defer o.states.Put(s)
	if err := o.mergeNet(ctx, x, s); err != nil {
		return nil, err
	}
	out := make([][]bool, k)
	copy(out, have)
	for t := len(have); t < k; t++ {
		if _, err := o.mark(o.pool[t], s); err != nil {
			return nil, err
		}
		out[t] = slices.Clone(s.correct)
	}
	o.memoMu.Lock()
	if len(o.poolMemo[key]) < k {
		if o.poolMemo == nil || len(o.poolMemo) >= memoSize {
			o.poolMemo = map[string][][]bool{}
		}
		o.poolMemo[key] = out
	}
	o.memoMu.Unlock()
	return out, nil
}

// evaluate merges x and scores the first k tasks, each on its items
// from … from+n−1 (positions in the task's fixed subset), or with
// Resample on n items drawn afresh with rng, task after task; True is each
// task's accuracy on the whole pool. per, if not nil, gets for each of the
// n items the mean over the target tasks among the k of its correctness
// (1 correct, 0 wrong).
func (o *MultiObjective) evaluate(ctx context.Context, x []float64, rng *rand.Rand, k, from, n int, per []float64) ([]objectives.Value, error) {
	if rng == nil && o.cfg.Resample {
		return nil, errors.New("mnist-multitask: Evaluate with resampled items needs an rng")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	marks, err := o.marks(ctx, x, k)
	if err != nil {
		return nil, err
	}
	clear(per)
	targets := min(k, o.Targets())
	vals := make([]objectives.Value, k)
	var perm []int
	for t := 0; t < k; t++ {
		correct := marks[t]
		vals[t].True = poolAccuracy(correct)
		hits := 0
		score := func(i int, correct bool) {
			if correct {
				hits++
				if per != nil && t < targets {
					per[i] += 1 / float64(targets)
				}
			}
		}
		if !o.cfg.Resample {
			for i, p := range o.subset[t][from : from+n] {
				score(i, correct[p])
			}
		} else {
			np := len(correct)
			if perm == nil {
				perm = make([]int, np)
			}
			for i := range perm {
				perm[i] = i
			}
			for i := 0; i < n; i++ {
				j := i + rng.IntN(np-i)
				perm[i], perm[j] = perm[j], perm[i]
				score(i, correct[perm[i]])
			}
		}
		vals[t].Observed = 100 * float64(hits) / float64(n)
	}
	return vals, nil
}

func meanValue(v []objectives.Value, n int) objectives.Value {
	var m objectives.Value
	for _, x := range v[:n] {
		m.Observed += x.Observed
		m.True += x.True
	}
	m.Observed /= float64(n)
	m.True /= float64(n)
	return m
}

// Evaluate merges x and returns the mean over the target tasks of the
// accuracy on each task's Limit items (Observed) and on the whole pool
// (True), in percent. rng is used only with Resample.
func (o *MultiObjective) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, error) {
	v, err := o.evaluate(ctx, x, rng, o.Targets(), 0, o.cfg.Limit, nil)
	if err != nil {
		return objectives.Value{}, err
	}
	return meanValue(v, o.Targets()), nil
}

// Items is the item list of an evaluation: Limit items of every target
// task, item i being the i-th item of each task's fixed subset (Fixed), or
// Limit items drawn afresh per task with sampling=resample. An evaluation
// on n items scores every target task on n items, as lm-eval --limit n
// applies to each task of a list, and costs n.
func (o *MultiObjective) Items() objectives.ItemList {
	return objectives.ItemList{N: o.cfg.Limit, Fixed: !o.cfg.Resample}
}

// EvaluateItems merges x and scores every target task on its items from …
// from+n−1 (with sampling=resample, on n items drawn afresh with rng).
// PerItem[i] is the mean over the target tasks of item i's correctness, so
// Observed = 100 × their mean, the mean of the tasks' accuracies in
// percent as Evaluate reports it; EvaluateItems(x, 0, Limit) observes what
// Evaluate observes with the same rng. True is the target mean on the
// whole pool, as for Evaluate.
func (o *MultiObjective) EvaluateItems(ctx context.Context, x []float64, from, n int, rng *rand.Rand) (objectives.ItemValue, error) {
	if err := objectives.CheckItemRange(o.Items(), from, n); err != nil {
		return objectives.ItemValue{}, fmt.Errorf("mnist-multitask: %w", err)
	}
	per := make([]float64, n)
	v, err := o.evaluate(ctx, x, rng, o.Targets(), from, n, per)
	if err != nil {
		return objectives.ItemValue{}, err
	}
	return objectives.ItemValue{Value: meanValue(v, o.Targets()), PerItem: per}, nil
}

// EvaluateTasks is Evaluate with every task's value beside the mean,
// retention included (which costs one more task's forward pass).
func (o *MultiObjective) EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (objectives.Value, []objectives.Value, error) {
	v, err := o.evaluate(ctx, x, rng, len(o.tasks), 0, o.cfg.Limit, nil)
	if err != nil {
		return objectives.Value{}, nil, err
	}
	return meanValue(v, o.Targets()), v, nil
}

// True is the mean accuracy over the target tasks on the whole pool. A
// vector that cannot be merged scores 0.
func (o *MultiObjective) True(x []float64) float64 {
	v, err := o.poolScores(x, o.Targets())
	if err != nil {
		return 0
	}
	return meanValue(v, o.Targets()).True
}

// poolScores is the accuracy of x on the whole pool of each of the first k
// tasks (Value.True).
func (o *MultiObjective) poolScores(x []float64, k int) ([]objectives.Value, error) {
	marks, err := o.marks(context.Background(), x, k)
	if err != nil {
		return nil, err
	}
	v := make([]objectives.Value, k)
	for t, correct := range marks {
		v[t].True = poolAccuracy(correct)
	}
	return v, nil
}

// poolAccuracy is the share of correct answers in percent.
func poolAccuracy(correct []bool) float64 {
	total := 0
	for _, c := range correct {
		if c {
			total++
		}
	}
	return 100 * float64(total) / float64(len(correct))
}

// HeldOut is the mean accuracy over the target tasks on the held-out
// images, never used during a search. A vector that cannot be merged
// scores 0.
func (o *MultiObjective) HeldOut(x []float64) float64 {
	v, err := o.heldOut(x, o.Targets())
	if err != nil {
		return 0
	}
	m := 0.0
	for _, a := range v {
		m += a
	}
	return m / float64(o.Targets())
}

// HeldOutTasks is every task's held-out accuracy in percent, in TaskNames
// order (retention last).
func (o *MultiObjective) HeldOutTasks(x []float64) ([]float64, error) {
	return o.heldOut(x, len(o.tasks))
}

// heldOut is the held-out accuracy of x on the first k tasks. A held-out
// score costs about 30 evaluations (9,700 images per task against the
// pool's 300), and reports ask for the same point again and again (an
// item-budget run scores its unchanged answer at every checkpoint and at
// the end), so the scores of the last points asked are kept: they are a
// deterministic function of x, so the memo changes no figure.
func (o *MultiObjective) heldOut(x []float64, k int) ([]float64, error) {
	o.heldOnce.Do(func() {
		test, err := zoo.TestSet()
		if err != nil {
			o.heldErr = err
			return
		}
		for _, t := range o.tasks {
			b, err := zoo.NewBatch(test, t, o.heldIt)
			if err != nil {
				o.heldErr = err
				return
			}
			o.held = append(o.held, b)
		}
	})
	if o.heldErr != nil {
		return nil, o.heldErr
	}
	key := memoKey(k, x)
	o.memoMu.Lock()
	v, ok := o.heldMemo[key]
	o.memoMu.Unlock()
	if ok {
		return slices.Clone(v), nil
	}
	s := o.getState()
	defer o.states.Put(s)
	if err := o.mergeNet(context.Background(), x, s); err != nil {
		return nil, err
	}
	out := make([]float64, k)
	for t, b := range o.held[:k] {
		c, err := o.mark(b, s)
		if err != nil {
			return nil, err
		}
		out[t] = 100 * float64(c) / float64(b.N())
	}
	o.memoMu.Lock()
	if o.heldMemo == nil || len(o.heldMemo) >= memoSize {
		o.heldMemo = map[string][]float64{}
	}
	o.heldMemo[key] = slices.Clone(out)
	o.memoMu.Unlock()
	return out, nil
}

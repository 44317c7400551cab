package objectives

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

// TaskValues is one evaluation of a multi-task objective: the score of
// every task as observed (through its benchmark's noise) and its true,
// noise-free value (NaN where the objective knows none).
type TaskValues struct {
	Observed []float64
	True     []float64
}

// MultiFunction is an objective that scores a candidate on several tasks
// at once, as a real merge is scored on several benchmarks (Sakana's
// EvoLLM-JP on Japanese and maths, mergekit-evolve's weighted `tasks`
// list). Every task score is higher-is-better. Multi-objective optimisers
// (algorithms.MultiEntry) see the vector; single-objective methods see the
// weighted sum of the scores (WeightedSum), mergekit-evolve's behaviour.
//
// A MultiFunction must be safe for concurrent use, as Function is.
type MultiFunction interface {
	// Name identifies the objective in tables and records.
	Name() string
	// Dim is the number of parameters.
	Dim() int
	// Box is the region of interest.
	Box() Box
	// Tasks names the tasks, in the order of every score vector.
	Tasks() []string
	// EvaluateTasks scores x on every task, drawing any noise from rng.
	// It must not keep x. A failed merge or benchmark returns an error
	// wrapping ErrEvalFailed, as Evaluate does.
	EvaluateTasks(ctx context.Context, x []float64, rng *rand.Rand) (TaskValues, error)
	// TrueTasks is the noise-free score of every task (NaN each when the
	// objective knows no truth); an oracle, never counted as an evaluation.
	TrueTasks(x []float64) []float64
}

// TrueFronter is implemented by multi-task objectives that know their
// Pareto front (the mock): TrueFront samples it, as task-score vectors, for
// the distance of a found front to the true one (IGD+).
type TrueFronter interface {
	TrueFront() [][]float64
}

// TaskBester is implemented by multi-task objectives that know every
// task's best possible score (100 for the mock's percentages): a front's
// hypervolume is then reported as a share of the box up to them.
type TaskBester interface {
	TaskBests() []float64
}

// MultiViewer is implemented by objectives that score several tasks but
// cannot be a MultiFunction themselves, because their EvaluateTasks is
// TaskScorer's (the mean beside the tasks, for reports of a scalar
// search): the real multi-task testbed. MultiView returns the objective
// seen as a MultiFunction, sharing its state; AsMulti takes it, so every
// multi-objective entry point (mobench, evolve) runs on such an objective
// without being told.
type MultiViewer interface {
	MultiView() MultiFunction
}

// HeldOutTasker is implemented by multi-task objectives that can re-score a
// point on every task on items never used during a search (a real
// benchmark's test split), in Tasks order: a real objective's front is
// reported on these scores. Only a run's final front is re-scored; no
// method ever sees them.
type HeldOutTasker interface {
	HeldOutTasks(x []float64) ([]float64, error)
}

// AsMulti returns f's multi-task view when it has one: f itself if it is a
// MultiFunction, else its MultiView.
func AsMulti(f Function) (MultiFunction, bool) {
	if m, ok := f.(MultiFunction); ok {
		return m, true
	}
	if v, ok := f.(MultiViewer); ok {
		return v.MultiView(), true
	}
	return nil, false
}

// MultiMockConfig configures the multi-task mock.
type MultiMockConfig struct {
	Dim int
	// Names are the tasks' names; their number is the number of tasks
	// (2 to 4). Nil means Tasks tasks named t1, t2, ….
	Names []string
	Tasks int
	// Conflict is the distance between every two tasks' optima, per
	// coordinate (Euclidean distance ÷ √Dim): 0.3 puts them far apart on
	// [0,1]^Dim. 0 means the default 0.3; a negative value puts all optima
	// at one point (no conflict).
	Conflict float64
	// Widths are the tasks' peak widths per coordinate, as Mock's Width
	// (nil: Width for every task; Width 0 means 0.25).
	Widths []float64
	Width  float64
	// Items are the tasks' benchmark sizes: each observed score is an
	// accuracy on that many items (binomial noise); nil: Items for every
	// task, 0 no item noise.
	Items    []int
	ItemsAll int
	// Noise is the σ of Gaussian noise added to every observed score.
	Noise float64
	// FailRate is the probability that an evaluation fails.
	FailRate float64
	// Weights scalarise the tasks for single-objective methods (nil:
	// equal weights); they are normalised to sum to 1.
	Weights []float64
	Seed    uint64
}

// MultiMock is the multi-task mock merge objective: task j scores merge
// weights w in [0,1]^n as
//
//	true_j(w) = 100 · exp(−‖w − a_j‖² / (2 · width_j² · n/4))
//
// (Mock's peak, one per task), with optima a_j at the vertices of a
// regular simplex of edge Conflict·√n around a centre drawn from the seed,
// in a random orientation. Because every task is a decreasing function of
// an isotropic distance, the Pareto set is the convex hull of the optima
// (every minimiser of a positively weighted sum of the squared distances
// is a convex combination of the a_j, and every such combination is one),
// so the true front is known exactly (TrueFront). The observed score of
// task j is, as for Mock, an accuracy on Items_j benchmark items when
// Items_j > 0, plus Gaussian noise of σ Noise.
//
// As a Function it is the weighted sum Σ weight_j · score_j
// (mergekit-evolve's scalarisation), so every single-objective method runs
// on it unchanged; its Best is that sum's maximum, found on the hull.
type MultiMock struct {
	cfg     MultiMockConfig
	names   []string
	optima  [][]float64
	scales  []float64 // 2·width_j²·n/4
	items   []int
	weights []float64
	best    float64
	box     Box
}

// NewMultiMock builds the multi-task mock.
func NewMultiMock(c MultiMockConfig) (*MultiMock, error) {
	m := &MultiMock{cfg: c}
	if c.Dim < 1 {
		return nil, fmt.Errorf("multi-task mock: dimension %d must be at least 1", c.Dim)
	}
	k := c.Tasks
	if c.Names != nil {
		if k != 0 && k != len(c.Names) {
			return nil, fmt.Errorf("multi-task mock: %d task names for %d tasks", len(c.Names), k)
		}
		k = len(c.Names)
		m.names = append([]string(nil), c.Names...)
	}
	if k < 2 || k > 4 {
		return nil, fmt.Errorf("multi-task mock: %d tasks: want 2 to 4", k)
	}
	if k > c.Dim {
		return nil, fmt.Errorf("multi-task mock: %d tasks need at least %d weights (the optima span a simplex), got dimension %d", k, k, c.Dim)
	}
	if m.names == nil {
		for j := range k {
			m.names = append(m.names, fmt.Sprintf("t%d", j+1))
		}
	}
	seen := map[string]bool{}
	for _, n := range m.names {
		if err := CheckTaskName(n); err != nil {
			return nil, fmt.Errorf("multi-task mock: %w", err)
		}
		if seen[n] {
			return nil, fmt.Errorf("multi-task mock: task %q named twice", n)
		}
		seen[n] = true
	}
	if c.Noise < 0 || math.IsNaN(c.Noise) || math.IsInf(c.Noise, 0) {
		return nil, fmt.Errorf("multi-task mock: noise %g must be a finite non-negative number", c.Noise)
	}
	if !(c.FailRate >= 0 && c.FailRate < 1) {
		return nil, fmt.Errorf("multi-task mock: failure rate %g must lie in [0, 1)", c.FailRate)
	}
	conflict := c.Conflict
	if conflict == 0 {
		conflict = 0.3
	}
	if conflict < 0 { // explicit "no conflict"
		conflict = 0
	}
	if !(conflict <= 0.9) {
		return nil, fmt.Errorf("multi-task mock: conflict %g must lie in [0, 0.9]", c.Conflict)
	}
	widths := c.Widths
	if widths == nil {
		widths = make([]float64, k)
		for j := range widths {
			widths[j] = c.Width
		}
	}
	if len(widths) != k {
		return nil, fmt.Errorf("multi-task mock: %d widths for %d tasks", len(widths), k)
	}
	for j, w := range widths {
		if w == 0 {
			w = 0.25
		}
		if !(w > 0 && w <= 10) {
			return nil, fmt.Errorf("multi-task mock: width %g of task %s must lie in (0, 10]", widths[j], m.names[j])
		}
		m.scales = append(m.scales, 2*w*w*float64(c.Dim)/4)
	}
	m.items = c.Items
	if m.items == nil {
		m.items = make([]int, k)
		for j := range m.items {
			m.items[j] = c.ItemsAll
		}
	}
	if len(m.items) != k {
		return nil, fmt.Errorf("multi-task mock: %d item counts for %d tasks", len(m.items), k)
	}
	for j, n := range m.items {
		if n < 0 || n > 1_000_000 {
			return nil, fmt.Errorf("multi-task mock: items %d of task %s must lie in 0..1,000,000", n, m.names[j])
		}
	}
	w := c.Weights
	if w == nil {
		w = make([]float64, k)
		for j := range w {
			w[j] = 1
		}
	}
	var err error
	if m.weights, err = NormaliseWeights(w, k); err != nil {
		return nil, fmt.Errorf("multi-task mock: %w", err)
	}
	if m.optima, err = simplexOptima(c.Dim, k, conflict, c.Seed); err != nil {
		return nil, fmt.Errorf("multi-task mock: %w", err)
	}
	m.box = unitBox(c.Dim, true)
	m.best = m.maxWeighted()
	return m, nil
}

// CheckTaskName refuses task names that would break tables, file names or
// the key=value option syntax.
func CheckTaskName(n string) error {
	if n == "" || len(n) > 40 || strings.ContainsAny(n, " \t\n,;=:/\\\"'|#") {
		return fmt.Errorf("task name %q: want 1 to 40 characters without spaces or ,;=:/\\\"'|#", n)
	}
	return nil
}

// NormaliseWeights checks k task weights (finite, ≥ 0, not all 0) and
// returns them scaled to sum to 1.
func NormaliseWeights(w []float64, k int) ([]float64, error) {
	if len(w) != k {
		return nil, fmt.Errorf("%d weights for %d tasks", len(w), k)
	}
	sum := 0.0
	for _, v := range w {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("weight %g: weights must be finite and not negative", v)
		}
		sum += v
	}
	if sum == 0 {
		return nil, fmt.Errorf("weights %v are all 0", w)
	}
	out := make([]float64, k)
	for j, v := range w {
		out[j] = v / sum
	}
	return out, nil
}

// simplexOptima places k optima at the vertices of a regular simplex of
// edge conflict·√n: a_j = c + (edge/√2)(q_j − q̄) with q_1..q_k orthonormal
// (Gram–Schmidt of Gaussian vectors) and c uniform, redrawn until every
// optimum lies in [0.02, 0.98]^n.
func simplexOptima(n, k int, conflict float64, seed uint64) ([][]float64, error) {
	r := seededRand(seed, 0x7461736b73) // "tasks"
	edge := conflict * math.Sqrt(float64(n))
	for range 10000 {
		q := make([][]float64, k)
		for j := range q {
			v := make([]float64, n)
			for {
				for i := range v {
					v[i] = r.NormFloat64()
				}
				for _, u := range q[:j] {
					d := dot(v, u)
					for i := range v {
						v[i] -= d * u[i]
					}
				}
				if nv := math.Sqrt(dot(v, v)); nv > 1e-6 {
					for i := range v {
						v[i] /= nv
					}
					break
				}
			}
			q[j] = v
		}
		c := make([]float64, n)
		for i := range c {
			c[i] = 0.05 + 0.9*r.Float64()
		}
		ok := true
		opt := make([][]float64, k)
		for j := range opt {
			opt[j] = make([]float64, n)
			for i := range c {
				mean := 0.0
				for _, u := range q {
					mean += u[i]
				}
				mean /= float64(k)
				v := c[i] + edge/math.Sqrt2*(q[j][i]-mean)
				if v < 0.02 || v > 0.98 {
					ok = false
				}
				opt[j][i] = v
			}
		}
		if ok {
			return opt, nil
		}
	}
	return nil, fmt.Errorf("conflict %g is too large: %d optima %g apart per coordinate do not fit in [0,1]^%d", conflict, k, conflict, n)
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Name reports "mock-tasks".
func (m *MultiMock) Name() string { return "mock-tasks" }

// Dim reports the number of merge weights.
func (m *MultiMock) Dim() int { return m.cfg.Dim }

// Box is [0,1]^n, a constraint.
func (m *MultiMock) Box() Box { return m.box }

// Tasks names the tasks.
func (m *MultiMock) Tasks() []string { return append([]string(nil), m.names...) }

// Sense is Maximize: every task score is an accuracy-like percentage.
func (m *MultiMock) Sense() Sense { return Maximize }

// Best is the largest weighted sum of the true scores.
func (m *MultiMock) Best() float64 { return m.best }

// DefaultTarget is 99% of Best.
func (m *MultiMock) DefaultTarget() float64 { return 0.99 * m.best }

// TaskBests is 100 for every task.
func (m *MultiMock) TaskBests() []float64 {
	b := make([]float64, len(m.names))
	for j := range b {
		b[j] = 100
	}
	return b
}

// Optima returns a copy of every task's optimum.
func (m *MultiMock) Optima() [][]float64 {
	out := make([][]float64, len(m.optima))
	for j, a := range m.optima {
		out[j] = append([]float64(nil), a...)
	}
	return out
}

// Weights returns the normalised weights of the weighted sum.
func (m *MultiMock) Weights() []float64 { return append([]float64(nil), m.weights...) }

// TrueTasks is every task's noise-free score (points outside the box are
// clipped first, as Mock does).
func (m *MultiMock) TrueTasks(w []float64) []float64 {
	out := make([]float64, len(m.optima))
	for j, a := range m.optima {
		d := 0.0
		for i, v := range w {
			e := min(max(v, 0), 1) - a[i]
			d += e * e
		}
		out[j] = 100 * math.Exp(-d/m.scales[j])
	}
	return out
}

// True is the weighted sum of the true task scores.
func (m *MultiMock) True(w []float64) float64 { return m.weighted(m.TrueTasks(w)) }

func (m *MultiMock) weighted(s []float64) float64 {
	v := 0.0
	for j, x := range s {
		v += m.weights[j] * x
	}
	return v
}

// EvaluateTasks returns every task's observed and true score of w: for
// task j an accuracy on Items_j items when Items_j > 0, then Gaussian
// noise. Every task draws its noise from rng in task order.
func (m *MultiMock) EvaluateTasks(ctx context.Context, w []float64, rng *rand.Rand) (TaskValues, error) {
	if len(w) != m.cfg.Dim {
		return TaskValues{}, fmt.Errorf("multi-task mock: candidate has %d coordinates, want %d", len(w), m.cfg.Dim)
	}
	if m.cfg.FailRate > 0 && rng.Float64() < m.cfg.FailRate {
		return TaskValues{}, fmt.Errorf("multi-task mock: simulated crash: %w", ErrEvalFailed)
	}
	t := m.TrueTasks(w)
	obs := make([]float64, len(t))
	for j, v := range t {
		o := v
		if n := m.items[j]; n > 0 {
			o = 100 * float64(Binomial(rng, n, v/100)) / float64(n)
		}
		if m.cfg.Noise > 0 {
			o += m.cfg.Noise * rng.NormFloat64()
		}
		obs[j] = o
	}
	return TaskValues{Observed: obs, True: t}, nil
}

// Evaluate is the weighted sum of EvaluateTasks: what a single-objective
// method sees.
func (m *MultiMock) Evaluate(ctx context.Context, w []float64, rng *rand.Rand) (Value, error) {
	tv, err := m.EvaluateTasks(ctx, w, rng)
	if err != nil {
		return Value{}, err
	}
	return Value{Observed: m.weighted(tv.Observed), True: m.weighted(tv.True)}, nil
}

// hullPoint is Σ λ_j a_j.
func (m *MultiMock) hullPoint(lambda []float64) []float64 {
	x := make([]float64, m.cfg.Dim)
	for j, a := range m.optima {
		for i := range x {
			x[i] += lambda[j] * a[i]
		}
	}
	return x
}

// trueFrontSteps is the lattice resolution of TrueFront per task count:
// 1001 points on the 2-task front, 1891 on the 3-task one, 5456 on the
// 4-task one.
var trueFrontSteps = map[int]int{2: 1000, 3: 60, 4: 30}

// TrueFront samples the true Pareto front: the true task scores of the
// convex combinations Σ λ_j a_j for λ on a simplex lattice.
func (m *MultiMock) TrueFront() [][]float64 {
	var out [][]float64
	for _, l := range pareto.SimplexLattice(len(m.optima), trueFrontSteps[len(m.optima)]) {
		out = append(out, m.TrueTasks(m.hullPoint(l)))
	}
	return out
}

// maxWeighted is the maximum of the weighted sum. Its stationary points
// are convex combinations of the optima (the gradient vanishes at
// w = Σ α_j a_j / Σ α_j with α_j = weight_j·score_j(w)/scale_j > 0), so the
// best lattice point of the hull is refined by that fixed-point iteration.
func (m *MultiMock) maxWeighted() float64 {
	best, bestV := []float64(nil), math.Inf(-1)
	for _, l := range pareto.SimplexLattice(len(m.optima), trueFrontSteps[len(m.optima)]) {
		x := m.hullPoint(l)
		if v := m.True(x); v > bestV {
			best, bestV = x, v
		}
	}
	x := best
	for range 500 {
		s := m.TrueTasks(x)
		alpha := make([]float64, len(s))
		sum := 0.0
		for j := range s {
			alpha[j] = m.weights[j] * s[j] / m.scales[j]
			sum += alpha[j]
		}
		if sum == 0 {
			break
		}
		for j := range alpha {
			alpha[j] /= sum
		}
		x = m.hullPoint(alpha)
		bestV = max(bestV, m.True(x))
	}
	return bestV
}

// String describes the configuration for headers.
func (m *MultiMock) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "multi-task mock merge objective, %d weights, %d tasks (%s)", m.cfg.Dim, len(m.names), strings.Join(m.names, ", "))
	conflict := m.cfg.Conflict
	if conflict == 0 {
		conflict = 0.3
	}
	fmt.Fprintf(&b, ", optima %g apart per coordinate", max(conflict, 0))
	ws := make([]string, len(m.scales))
	for j, s := range m.scales {
		ws[j] = strconv.FormatFloat(math.Sqrt(s*2/float64(m.cfg.Dim)), 'g', 4, 64)
	}
	fmt.Fprintf(&b, ", peak widths %s", strings.Join(ws, "/"))
	its := make([]string, len(m.items))
	for j, n := range m.items {
		its[j] = strconv.Itoa(n)
	}
	if strings.Join(its, "") != strings.Repeat("0", len(its)) {
		fmt.Fprintf(&b, ", benchmark items %s", strings.Join(its, "/"))
	}
	if m.cfg.Noise > 0 {
		fmt.Fprintf(&b, ", noise σ %g", m.cfg.Noise)
	}
	if m.cfg.FailRate > 0 {
		fmt.Fprintf(&b, ", %g%% failed evaluations", 100*m.cfg.FailRate)
	}
	return b.String()
}

func init() {
	Register("mock-tasks", newMultiMockSpec)
}

// MultiMockOptions are the options of objective mock-tasks (Spec.Options),
// each a comma-separated list or a number: tasks=N, names=a,b, conflict=D,
// widths=w1,w2, items=n1,n2, weights=v1,v2. Spec.Width and Spec.Items set
// every task's width and items unless widths or items are given.
var MultiMockOptions = []string{"tasks", "names", "conflict", "widths", "items", "weights"}

// newMultiMockSpec builds mock-tasks from a Spec.
func newMultiMockSpec(s Spec) (Function, error) {
	if s.Landscape != "" || s.NoiseModel != "" || s.Optimum != nil {
		return nil, fmt.Errorf("objective mock-tasks: landscapes, noise models and a fixed optimum apply only to the mock objective")
	}
	c := MultiMockConfig{Dim: s.Dim, Width: s.Width, ItemsAll: s.Items, Noise: s.Noise, FailRate: s.FailRate, Seed: s.Seed}
	if s.Items < 0 {
		return nil, fmt.Errorf("objective mock-tasks: items %d must not be negative", s.Items)
	}
	for k, v := range s.Options {
		var err error
		switch k {
		case "tasks":
			c.Tasks, err = strconv.Atoi(v)
		case "names":
			c.Names = strings.Split(v, ",")
		case "conflict":
			c.Conflict, err = strconv.ParseFloat(v, 64)
			if err == nil && c.Conflict == 0 {
				c.Conflict = -1 // an explicit 0: no conflict
			}
		case "widths":
			c.Widths, err = parseFloats(v)
		case "weights":
			c.Weights, err = parseFloats(v)
		case "items":
			var fs []float64
			fs, err = parseFloats(v)
			for _, f := range fs {
				if f != math.Trunc(f) || f > 1e9 {
					err = fmt.Errorf("%g is not a whole number", f)
				}
				c.Items = append(c.Items, int(f))
			}
		default:
			return nil, fmt.Errorf("objective mock-tasks: unknown option %q (known: %s)", k, strings.Join(MultiMockOptions, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("objective mock-tasks: option %s=%q: %v", k, v, err)
		}
	}
	if c.Tasks == 0 && c.Names == nil {
		c.Tasks = 2
	}
	return NewMultiMock(c)
}

// parseFloats reads a comma-separated list of finite numbers.
func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number", p)
		}
		out = append(out, v)
	}
	return out, nil
}

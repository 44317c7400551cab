package algorithms_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

var errBudget = errors.New("budget spent")

// recorder is a budgeted objective that remembers every candidate and
// counts the calls an optimiser makes after being refused.
type recorder struct {
	budget   int
	f        func([]float64) float64
	xs       [][]float64
	best     float64
	refused  int
	cancel   func() // called after cancelAt evaluations, if set
	cancelAt int
}

func (r *recorder) Eval(ctx context.Context, x []float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		r.refused++
		return 0, err
	}
	if len(r.xs) >= r.budget {
		r.refused++
		return 0, errBudget
	}
	r.xs = append(r.xs, slices.Clone(x))
	v := r.f(x)
	if len(r.xs) == 1 || v < r.best {
		r.best = v
	}
	if r.cancel != nil && len(r.xs) == r.cancelAt {
		r.cancel()
	}
	return v, nil
}

// shiftedSphere has its optimum away from the centre and the origin, where
// a biased method would look good (go-notes: never centre a test at 0).
func shiftedSphere(opt []float64) func([]float64) float64 {
	return func(x []float64) float64 {
		s := 0.0
		for i, v := range x {
			d := v - opt[i]
			s += d * d
		}
		return s
	}
}

func unitProblem(n int, bounded bool) algorithms.Problem {
	p := algorithms.Problem{Dim: n, Lower: make([]float64, n), Upper: make([]float64, n), Bounded: bounded}
	for i := range n {
		p.Upper[i] = 1
	}
	return p
}

var testOptimum = []float64{0.82, 0.13, 0.67, 0.91}

func run(t *testing.T, name string, p algorithms.Problem, r *recorder, seed uint64, ctx context.Context) ([]float64, error) {
	t.Helper()
	return runWith(t, name, nil, p, r, seed, ctx)
}

func runWith(t *testing.T, name string, settings map[string]string, p algorithms.Problem, r *recorder, seed uint64, ctx context.Context) ([]float64, error) {
	t.Helper()
	opt, _, err := algorithms.Configure(name, settings)
	if err != nil {
		t.Fatal(err)
	}
	return opt.Minimize(ctx, p, r, rand.New(rand.NewPCG(seed, 1)))
}

// cmaFamily are the methods with the bound hyperparameter.
var cmaFamily = []string{"cmaes", "sep-cmaes", "uh-cmaes", "ipop-cmaes", "bipop-cmaes"}

// conformanceConfig is a method with settings; the conformance test runs
// every method at its defaults and the CMA-ES family with every box
// handling.
type conformanceConfig struct {
	name     string
	settings map[string]string
}

func conformanceConfigs() []conformanceConfig {
	var cs []conformanceConfig
	for _, name := range algorithms.Names() {
		cs = append(cs, conformanceConfig{name, nil})
	}
	for _, name := range cmaFamily {
		for _, b := range algorithms.BoundModes {
			if b == algorithms.DefaultBound {
				continue // run above
			}
			cs = append(cs, conformanceConfig{name, map[string]string{"bound": b}})
		}
	}
	return cs
}

func (c conformanceConfig) String() string {
	s := c.name
	for k, v := range c.settings {
		s += " " + k + "=" + v
	}
	return s
}

// TestConformance holds every registered optimiser to the harness's rules.
func TestConformance(t *testing.T) {
	for _, c := range conformanceConfigs() {
		name := c.name
		run := func(t *testing.T, name string, p algorithms.Problem, r *recorder, seed uint64, ctx context.Context) ([]float64, error) {
			t.Helper()
			return runWith(t, name, c.settings, p, r, seed, ctx)
		}
		t.Run(c.String(), func(t *testing.T) {
			p := unitProblem(4, true)
			const budget = 1000

			// Exact budget; it stops at the first refusal and returns it.
			r := &recorder{budget: budget, f: shiftedSphere(testOptimum)}
			rec, err := run(t, name, p, r, 7, context.Background())
			if !errors.Is(err, errBudget) {
				t.Fatalf("Minimize returned %v, want the objective's budget error", err)
			}
			if len(r.xs) != budget || r.refused != 1 {
				t.Fatalf("%d evaluations and %d refused calls, want %d and 1", len(r.xs), r.refused, budget)
			}
			if rec != nil && len(rec) != p.Dim {
				t.Fatalf("recommendation has %d coordinates", len(rec))
			}

			// Never a candidate outside the box.
			for k, x := range r.xs {
				for i, v := range x {
					if !(v >= p.Lower[i] && v <= p.Upper[i]) {
						t.Fatalf("candidate %d coordinate %d = %g is outside [0,1]", k, i, v)
					}
				}
			}

			// Clear improvement on the shifted sphere: the best point must
			// beat the median of uniform random points (≈ 0.55 here) by 10×.
			if r.best > 0.05 {
				t.Errorf("best f = %g after %d evaluations on the shifted sphere, want ≤ 0.05", r.best, budget)
			}
			if rec != nil {
				if f := shiftedSphere(testOptimum)(rec); f > 0.05 {
					t.Errorf("recommendation has f = %g, want ≤ 0.05", f)
				}
			}

			// Identical results for the same seed.
			r2 := &recorder{budget: budget, f: shiftedSphere(testOptimum)}
			rec2, _ := run(t, name, p, r2, 7, context.Background())
			for k := range r.xs {
				if !slices.Equal(r.xs[k], r2.xs[k]) {
					t.Fatalf("same seed, different candidate %d: %v vs %v", k, r.xs[k], r2.xs[k])
				}
			}
			if !slices.Equal(rec, rec2) {
				t.Fatalf("same seed, different recommendation: %v vs %v", rec, rec2)
			}
			// A different seed gives a different search.
			r3 := &recorder{budget: 50, f: shiftedSphere(testOptimum)}
			run(t, name, p, r3, 8, context.Background())
			if slices.Equal(r.xs[49], r3.xs[49]) {
				t.Errorf("seeds 7 and 8 gave the same 50th candidate")
			}

			// Prompt stop on context cancel.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r4 := &recorder{budget: budget, f: shiftedSphere(testOptimum), cancel: cancel, cancelAt: 37}
			_, err = run(t, name, p, r4, 7, ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after cancel Minimize returned %v, want context.Canceled", err)
			}
			if len(r4.xs) != 37 || r4.refused != 1 {
				t.Fatalf("after cancel at 37: %d evaluations, %d refused calls", len(r4.xs), r4.refused)
			}
		})
	}
}

// TestConformanceUnbounded checks that methods also work where the box is
// only a region of interest and the optimum lies outside it.
func TestConformanceUnbounded(t *testing.T) {
	for _, name := range algorithms.Names() {
		if name == "random" {
			continue // random search samples the box by definition
		}
		t.Run(name, func(t *testing.T) {
			p := unitProblem(4, false)
			opt := []float64{1.2, 0.3, 0.5, 0.7} // outside the box in coordinate 0
			r := &recorder{budget: 2000, f: shiftedSphere(opt)}
			run(t, name, p, r, 3, context.Background())
			// The centre scores 0.53; a working method gains 10× at least.
			if !(r.best <= 0.05) {
				t.Errorf("best f = %g, want ≤ 0.05", r.best)
			}
		})
	}
}

func TestConfigureRejectsUnknown(t *testing.T) {
	if _, _, err := algorithms.Configure("nope", nil); err == nil {
		t.Error("unknown algorithm accepted")
	}
	for _, name := range algorithms.Names() {
		if _, _, err := algorithms.Configure(name, map[string]string{"no-such-param": "1"}); err == nil {
			t.Errorf("%s accepted an unknown hyperparameter", name)
		}
		_, params, err := algorithms.Configure(name, nil)
		if err != nil || len(params) == 0 {
			t.Errorf("%s: no hyperparameters listed (%v)", name, err)
		}
	}
}

// slotPool is a Pool of k slots whose evaluations finish in an order drawn
// from its own seed, as evaluations of uneven length would on k GPUs. It
// records what a conformance check needs: the candidates in the order
// they were submitted, how many were in flight at each Next, and whether
// the optimiser had refilled the free slots before that Next.
type slotPool struct {
	k, budget int
	f         func([]float64) float64
	rng       *rand.Rand

	xs       [][]float64 // submitted candidates, in order
	ids      map[int]bool
	pending  []algorithms.Candidate
	refused  int
	maxOut   int
	overfull bool
	// occupancy: for every Next before the budget was spent, the number in
	// flight and whether a Submit happened since the previous Next.
	inflight []int
	refilled []bool
	spent    bool
	sinceNxt bool
	best     float64
}

func newSlotPool(k, budget int, seed uint64) *slotPool {
	return &slotPool{k: k, budget: budget, f: shiftedSphere(testOptimum), rng: rand.New(rand.NewPCG(seed, 99)), ids: map[int]bool{}}
}

func (p *slotPool) Eval(context.Context, []float64) (float64, error) {
	panic("slotPool: every evaluation must go through Submit and Next")
}

func (p *slotPool) Slots() int { return p.k }

func (p *slotPool) Submit(ctx context.Context, c algorithms.Candidate) error {
	if err := ctx.Err(); err != nil {
		p.refused++
		return err
	}
	if len(p.xs) >= p.budget {
		p.refused++
		p.spent = true
		return errBudget
	}
	if p.ids[c.ID] {
		return fmt.Errorf("candidate ID %d submitted twice", c.ID)
	}
	if len(p.pending) >= p.k {
		p.overfull = true
	}
	p.ids[c.ID] = true
	p.xs = append(p.xs, slices.Clone(c.X))
	p.pending = append(p.pending, algorithms.Candidate{ID: c.ID, X: slices.Clone(c.X)})
	p.maxOut = max(p.maxOut, len(p.pending))
	p.sinceNxt = true
	return nil
}

func (p *slotPool) Next(ctx context.Context) (int, float64, error) {
	if len(p.pending) == 0 {
		return 0, 0, errors.New("slotPool: Next with nothing in flight")
	}
	if !p.spent {
		p.inflight = append(p.inflight, len(p.pending))
		p.refilled = append(p.refilled, p.sinceNxt)
	}
	p.sinceNxt = false
	i := p.rng.IntN(len(p.pending))
	c := p.pending[i]
	p.pending = slices.Delete(p.pending, i, i+1)
	v := p.f(c.X)
	if len(p.xs) == 1 || v < p.best {
		p.best = v
	}
	return c.ID, v, nil
}

// occupancy returns the mean number in flight over the Nexts before the
// budget was spent; the same mean without the Nexts at which the
// optimiser had left free slots unfilled (waiting for a generation's
// tail), and how many such waits there were.
func (p *slotPool) occupancy() (all, busy float64, waits int) {
	n, sum, nb, sumb := 0, 0, 0, 0
	for i, v := range p.inflight {
		n++
		sum += v
		if !p.refilled[i] && v < p.k {
			waits++
			continue
		}
		nb++
		sumb += v
	}
	return float64(sum) / float64(max(n, 1)), float64(sumb) / float64(max(nb, 1)), waits
}

// TestConformanceSlots runs every method against a pool of 5 slots that
// returns results in a shuffled order: the budget is exact, no candidate
// is submitted twice, at most 5 are in flight, all inside the box, the
// same seed gives the same run also on a reused optimiser value (no
// residual state), and the slots are filled as the method's declared
// batch capability promises: an asynchronous method never leaves a slot
// free, a generational one only while a generation's tail is out (and
// otherwise has ≥ 0.8·k in flight), a one-slot method never has two out.
func TestConformanceSlots(t *testing.T) {
	const k, budget = 5, 600
	for _, name := range algorithms.Names() {
		t.Run(name, func(t *testing.T) {
			entry, err := algorithms.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			p := unitProblem(4, true)
			opt, _, err := algorithms.Configure(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			var pools [2]*slotPool
			var recs [2][]float64
			for i := range pools {
				pools[i] = newSlotPool(k, budget, 11)
				recs[i], err = opt.Minimize(context.Background(), p, pools[i], rand.New(rand.NewPCG(7, 1)))
				if !errors.Is(err, errBudget) {
					t.Fatalf("run %d: Minimize returned %v, want the pool's budget error", i+1, err)
				}
			}
			pool := pools[0]
			if len(pool.xs) != budget || pool.refused != 1 {
				t.Fatalf("%d evaluations and %d refused submissions, want %d and 1", len(pool.xs), pool.refused, budget)
			}
			if pool.overfull {
				t.Fatalf("more than %d candidates in flight", k)
			}
			for j, x := range pool.xs {
				for i, v := range x {
					if !(v >= p.Lower[i] && v <= p.Upper[i]) {
						t.Fatalf("candidate %d coordinate %d = %g is outside [0,1]", j, i, v)
					}
				}
			}
			if recs[0] != nil && len(recs[0]) != p.Dim {
				t.Fatalf("recommendation has %d coordinates", len(recs[0]))
			}
			for j := range pool.xs {
				if !slices.Equal(pool.xs[j], pools[1].xs[j]) {
					t.Fatalf("second run on the same value, same seed: candidate %d is %v, was %v", j, pools[1].xs[j], pool.xs[j])
				}
			}
			if !slices.Equal(recs[0], recs[1]) {
				t.Fatalf("second run on the same value, same seed: recommendation %v, was %v", recs[1], recs[0])
			}
			if pool.best > 0.05 {
				t.Errorf("best f = %g after %d evaluations on %d slots, want ≤ 0.05", pool.best, budget, k)
			}
			all, busy, waits := pool.occupancy()
			t.Logf("%s (%s): %.2f of %d slots busy on average, %.2f outside %d waits for a generation's tail", name, entry.Batch, all, k, busy, waits)
			switch entry.Batch {
			case algorithms.BatchOneSlot:
				if pool.maxOut != 1 {
					t.Errorf("declares one slot but had %d candidates in flight", pool.maxOut)
				}
			case algorithms.BatchAsync:
				if waits > 0 || pool.maxOut != k {
					t.Errorf("declares async but left free slots unfilled %d times (at most %d in flight)", waits, pool.maxOut)
				}
			case algorithms.BatchGeneration:
				if busy < 0.8*k || pool.maxOut != k {
					t.Errorf("declares generations but had %.2f in flight on average outside a generation's tail (at most %d), want ≥ %g", busy, pool.maxOut, 0.8*k)
				}
			default:
				t.Errorf("unknown batch capability %q", entry.Batch)
			}
		})
	}
}

// clockPool evaluates on k slots, each evaluation taking dur on a
// simulated clock; Next returns the earliest to finish (ties: the first
// submitted). It measures the wall-clock time a run would take.
type clockPool struct {
	k, budget int
	dur, now  float64
	f         func([]float64) float64
	used      int
	busy      float64
	out       []clockJob
}

type clockJob struct {
	id   int
	x    []float64
	done float64
}

func (p *clockPool) Eval(context.Context, []float64) (float64, error) {
	panic("clockPool: every evaluation must go through Submit and Next")
}

func (p *clockPool) Slots() int { return p.k }

func (p *clockPool) Submit(ctx context.Context, c algorithms.Candidate) error {
	if p.used >= p.budget {
		return errBudget
	}
	p.used++
	p.busy += p.dur
	p.out = append(p.out, clockJob{c.ID, slices.Clone(c.X), p.now + p.dur})
	return nil
}

func (p *clockPool) Next(ctx context.Context) (int, float64, error) {
	b := 0
	for i, j := range p.out {
		if j.done < p.out[b].done {
			b = i
		}
	}
	j := p.out[b]
	p.out = slices.Delete(p.out, b, b+1)
	p.now = max(p.now, j.done)
	return j.id, p.f(j.x), nil
}

// TestFourSlots is the figure on a simulated clock: 4 slots,
// evaluations of 0.5 s, a budget of 24, so 3 s if no slot ever idles.
// Every method that declares a batch capability finishes within 1.5× that;
// a one-slot method takes 24 × 0.5 s, as it declares.
func TestFourSlots(t *testing.T) {
	const k, budget, dur = 4, 24, 0.5
	ideal := budget * dur / k
	for _, name := range algorithms.Names() {
		entry, _ := algorithms.Lookup(name)
		opt, _, err := algorithms.Configure(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := unitProblem(4, true)
		p.Budget = budget
		pool := &clockPool{k: k, budget: budget, dur: dur, f: shiftedSphere(testOptimum)}
		if _, err := opt.Minimize(context.Background(), p, pool, rand.New(rand.NewPCG(3, 1))); !errors.Is(err, errBudget) {
			t.Fatalf("%s: Minimize returned %v", name, err)
		}
		t.Logf("%-16s %-10s %4.1f s simulated (ideal %.1f s), slot utilisation %.0f%%", name, entry.Batch, pool.now, ideal, 100*pool.busy/(k*pool.now))
		limit := 1.5 * ideal
		if entry.Batch == algorithms.BatchOneSlot {
			limit = budget * dur
		}
		if pool.used != budget || pool.now > limit {
			t.Errorf("%s (%s): %d evaluations in %.1f s simulated, want %d within %.1f s", name, entry.Batch, pool.used, pool.now, budget, limit)
		}
	}
}

package algorithms

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
)

func init() {
	Register(Entry{
		Name:       "de",
		Summary:    "differential evolution DE/rand/1/bin (Storn & Price 1997), bounded by a random repair, never re-evaluating a point",
		Recommends: "best observed",
		PopParam:   "pop",
		Pop:        dePop,
		Grid:       map[string][]string{"pop": {"0", "10", "20", "40"}, "f": {"0.3", "0.5", "0.8"}, "cr": {"0.5", "0.9"}},
		Batch:      BatchAsync,
		New:        func() Optimizer { return &DE{F: 0.5, CR: 0.9} },
	})
}

// dePop is the population of DE when Pop is 0: Storn & Price's 10·n,
// capped to [5, 20] (see DE).
func dePop(n int) int { return min(max(10*n, 5), 20) }

// DE is differential evolution, DE/rand/1/bin, of R. Storn and K. Price,
// "Differential Evolution – A Simple and Efficient Heuristic for Global
// Optimization over Continuous Spaces", J. Global Optimization 11 (1997)
// 341–359:
//
//   - the population starts uniform in the box;
//   - each generation, for every member x_i: three distinct other members
//     r1, r2, r3 give the mutant v = x_r1 + F·(x_r2 − x_r3); the trial u
//     takes v_j with probability CR in each coordinate and in one random
//     coordinate j_rand always, x_i,j elsewhere (binomial crossover);
//   - all trials of a generation are made from the same population, then
//     each replaces its target when f(u) ≤ f(x_i) (ties accepted).
//
// Several evaluation slots (BatchAsync): a generation's trials are handed
// out as slots free up, and the next generation's trials are drawn as soon
// as the last of this one is handed out, from the population as it is then
// (the results still out join it when they arrive, each compared with its
// target's loss at that moment); no slot waits for a generation's tail.
// This is the asynchronous DE of A. Milani and V. Santucci, "Asynchronous
// Differential Evolution", IEEE CEC 2010 (doi:10.1109/CEC.2010.5586107),
// in which an improved vector joins the population at once rather than
// at the end of a generation, with the generation kept as the unit in
// which trials are drawn. With one slot every result is back before the
// next generation is drawn, which is the synchronous DE above exactly. A
// member may have trials of successive generations out at once; the
// selection compares each with the member as it stands when the trial's
// loss arrives, and a trial told before its target's own initial loss
// waits for it.
//
// Population: Pop, or 0 for Storn & Price's 10·n capped to [5, 20]. At the
// budgets of real merges 10·n is too many (in 6-D, 60 members would leave
// under two generations in 100 evaluations); the cap of 20 keeps five
// generations at budget 100 and fifty at 1,000. Set pop to 10·n for the
// textbook setting.
//
// Box (Problem.Bounded): a trial coordinate outside [l, u] is repaired to a
// uniform random point between the bound it crossed and the target's
// coordinate (l + U·(x_i,j − l) below, u − U·(u − x_i,j) above), which
// keeps the population inside and lets it approach a bound gradually.
// Without Bounded the box is only where the population starts.
//
// No point is evaluated twice: a trial identical to any point evaluated in
// the run (a collapsed population, a repaired coordinate landing on a
// bound, crossover keeping only equal coordinates) is redrawn with new
// r1, r2, r3 and crossover up to 20 times, then perturbed by a Gaussian of
// the population's spread per coordinate. Under noise, repeating a point
// can have value, but DE's selection would compare two draws of the same
// point and learn nothing about the landscape.
//
// Why not eaopt's DiffEvo (docs/library-pitfalls.md): it re-evaluates
// identical points (18% of the evaluations in one test) and ignores the
// box (Min and Max only set the initial spread), so merge weights would
// leave [0,1].
//
// Recommendation: the best point observed (the harness tracks it). DE's
// selection is elitist, so under noise a lucky score keeps its member.
type DE struct {
	Pop int     // population size, ≥ 4; 0 = min(max(10·n, 5), 20)
	F   float64 // differential weight, in (0, 2]; 0 means 0.5
	CR  float64 // crossover probability, in [0, 1] (0 is a valid setting: one coordinate per trial)

	phases
}

var _ PhaseCounter = (*DE)(nil)

// Flags registers the hyperparameters.
func (d *DE) Flags(fs *flag.FlagSet) {
	fs.IntVar(&d.Pop, "pop", d.Pop, "population size (≥ 4); 0 means 10·n capped to [5, 20]")
	fs.Float64Var(&d.F, "f", d.F, "differential weight F, in (0, 2]; 0 means 0.5")
	fs.Float64Var(&d.CR, "cr", d.CR, "crossover probability CR, in [0, 1]")
}

// Minimize implements Optimizer.
func (d *DE) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	d.phases.reset()
	np, fw := d.Pop, d.F
	if np == 0 {
		np = dePop(p.Dim)
	}
	if fw == 0 {
		fw = 0.5
	}
	switch {
	case np < 4:
		return nil, fmt.Errorf("de: pop %d: must be ≥ 4 (0 means 10·n capped to [5, 20])", d.Pop)
	case !(fw > 0 && fw <= 2):
		return nil, fmt.Errorf("de: f %g: must lie in (0, 2] (0 means 0.5)", d.F)
	case !(d.CR >= 0 && d.CR <= 1):
		return nil, fmt.Errorf("de: cr %g: must lie in [0, 1]", d.CR)
	}
	if err := checkMemory("de", fmt.Sprintf("pop %d in dimension %d", np, p.Dim), "the population and its trials", 2*float64(np)*float64(p.Dim+1)); err != nil {
		return nil, err
	}
	return nil, DriveAsync(ctx, &deAsker{d: d, p: p, np: np, fw: fw, seen: map[string]bool{}, out: map[int]deTrial{}}, PoolOf(obj), rng)
}

// deAsker is one run of DE as an Asker. Candidates are handed out in
// sweeps: first the uniform population, then, sweep after sweep, one
// trial per member drawn from the population as it is when the sweep
// begins. A sweep begins as soon as the previous one is handed out, and a
// trial's result replaces its target as soon as it arrives.
type deAsker struct {
	d      *DE
	p      Problem
	np     int
	fw     float64
	xs     [][]float64 // the population
	fs     []float64
	scored []bool      // whether member i's own loss is known
	wait   [][]deTrial // trials of member i told before its own loss
	seen   map[string]bool
	queue  []deTrial // this sweep's candidates not yet handed out
	out    map[int]deTrial
	id     int
	spread []float64
}

// deTrial is a candidate in flight: a trial for target i, or the initial
// member i itself.
type deTrial struct {
	id, i   int
	initial bool
	x       []float64
	f       float64
}

func deKey(x []float64) string {
	b := make([]byte, 0, 8*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return string(b)
}

func (a *deAsker) AskK(rng *rand.Rand, k int) []Candidate {
	var cs []Candidate
	for len(cs) < k {
		if len(a.queue) == 0 {
			a.sweep(rng)
		}
		t := a.queue[0]
		a.queue = a.queue[1:]
		a.out[t.id] = t
		cs = append(cs, Candidate{ID: t.id, X: t.x})
	}
	return cs
}

// sweep queues the uniform population (first call) or one trial per
// member, each with the next ID.
func (a *deAsker) sweep(rng *rand.Rand) {
	p, n := a.p, a.p.Dim
	if a.xs == nil {
		a.xs, a.fs = make([][]float64, a.np), make([]float64, a.np)
		a.scored, a.wait = make([]bool, a.np), make([][]deTrial, a.np)
		a.spread = make([]float64, n)
		for i := range a.xs {
			x := make([]float64, n)
			for j := range x {
				x[j] = p.Lower[j] + rng.Float64()*(p.Upper[j]-p.Lower[j])
			}
			a.seen[deKey(x)] = true
			a.xs[i] = x
			a.queue = append(a.queue, deTrial{id: a.id, i: i, initial: true, x: x})
			a.id++
		}
		return
	}
	for i := range a.xs {
		u := make([]float64, n)
		ok := false
		for try := 0; try < 20 && !ok; try++ {
			a.d.trial(p, a.xs, i, u, a.fw, rng)
			ok = !a.seen[deKey(u)]
		}
		for !ok {
			popSpread(p, a.xs, a.spread)
			for j := range u {
				u[j] += a.spread[j] * rng.NormFloat64()
			}
			if p.Bounded {
				repair(p, a.xs[i], u, rng)
			}
			ok = !a.seen[deKey(u)]
		}
		a.seen[deKey(u)] = true
		a.queue = append(a.queue, deTrial{id: a.id, i: i, x: u})
		a.id++
	}
}

func (a *deAsker) TellID(id int, loss float64) {
	t, ok := a.out[id]
	if !ok {
		panic(fmt.Sprintf("de: TellID(%d) is not a candidate in flight", id))
	}
	delete(a.out, id)
	a.d.phases.count(t.initial)
	t.f = orWorst(loss)
	if t.initial {
		a.fs[t.i], a.scored[t.i] = t.f, true
		for _, w := range a.wait[t.i] {
			a.select1(w)
		}
		a.wait[t.i] = nil
		return
	}
	if !a.scored[t.i] {
		a.wait[t.i] = append(a.wait[t.i], t)
		return
	}
	a.select1(t)
}

// select1 is DE's selection: the trial replaces its target when its loss
// is not worse (ties accepted).
func (a *deAsker) select1(t deTrial) {
	if t.f <= a.fs[t.i] {
		a.xs[t.i], a.fs[t.i] = t.x, t.f
	}
}

// trial writes the DE/rand/1/bin trial for target i into u.
func (d *DE) trial(p Problem, xs [][]float64, i int, u []float64, fw float64, rng *rand.Rand) {
	np := len(xs)
	r1 := rng.IntN(np - 1)
	if r1 >= i {
		r1++
	}
	var r2, r3 int
	for r2 = rng.IntN(np); r2 == i || r2 == r1; r2 = rng.IntN(np) {
	}
	for r3 = rng.IntN(np); r3 == i || r3 == r1 || r3 == r2; r3 = rng.IntN(np) {
	}
	jr := rng.IntN(len(u))
	x, a, b, c := xs[i], xs[r1], xs[r2], xs[r3]
	for j := range u {
		if j == jr || rng.Float64() < d.CR {
			u[j] = a[j] + fw*(b[j]-c[j])
		} else {
			u[j] = x[j]
		}
	}
	if p.Bounded {
		repair(p, x, u, rng)
	}
}

// repair moves each coordinate of u that left the box to a uniform random
// point between the bound it crossed and the parent's coordinate.
func repair(p Problem, parent, u []float64, rng *rand.Rand) {
	for j, v := range u {
		switch {
		case v < p.Lower[j]:
			u[j] = p.Lower[j] + rng.Float64()*(parent[j]-p.Lower[j])
		case v > p.Upper[j]:
			u[j] = p.Upper[j] - rng.Float64()*(p.Upper[j]-parent[j])
		case v != v: // NaN
			u[j] = parent[j]
		}
	}
}

// popSpread writes the standard deviation of the population per
// coordinate, floored at 1e-9 × the box width, into s.
func popSpread(p Problem, xs [][]float64, s []float64) {
	for j := range s {
		m := 0.0
		for _, x := range xs {
			m += x[j]
		}
		m /= float64(len(xs))
		v := 0.0
		for _, x := range xs {
			v += (x[j] - m) * (x[j] - m)
		}
		s[j] = max(math.Sqrt(v/float64(len(xs))), 1e-9*(p.Upper[j]-p.Lower[j]))
	}
}

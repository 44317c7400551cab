package algorithms_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

// itemPool is an ItemPool over an accuracy: candidate x answers each item
// correctly with probability acc(x) = exp(−4·‖x − opt‖²), on a fixed list
// (answers fixed by x and the item) or on items drawn afresh. It refuses
// any evaluation the item budget cannot pay for whole and records every
// submission, so a test can check the accounting.
type itemPool struct {
	k, full, budget int
	fixed           bool
	rng             *rand.Rand

	spent, refused int
	xs             [][]float64
	from, n        []int
	out            []algorithms.ItemResult
}

func (p *itemPool) acc(x []float64) float64 {
	return math.Exp(-4 * shiftedSphere(testOptimum)(x))
}

func (p *itemPool) Eval(context.Context, []float64) (float64, error) {
	panic("itemPool: every evaluation must go through Submit and Next")
}
func (p *itemPool) Slots() int { return p.k }
func (p *itemPool) Items() algorithms.ItemSpace {
	return algorithms.ItemSpace{Full: p.full, Budget: p.budget, Fixed: p.fixed}
}
func (p *itemPool) Submit(ctx context.Context, c algorithms.Candidate) error {
	return p.SubmitItems(ctx, c, 0, p.full)
}
func (p *itemPool) SubmitItems(ctx context.Context, c algorithms.Candidate, from, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n < 1 || n > p.full || (p.fixed && (from < 0 || from+n > p.full)) {
		return fmt.Errorf("items %d…%d of %d", from, from+n-1, p.full)
	}
	if len(p.out) >= p.k {
		return fmt.Errorf("more than %d evaluations in flight", p.k)
	}
	if p.spent+n > p.budget {
		p.refused++
		return algorithms.ErrBudget
	}
	p.spent += n
	p.xs = append(p.xs, slices.Clone(c.X))
	p.from, p.n = append(p.from, from), append(p.n, n)
	a := p.acc(c.X)
	per := make([]float64, n)
	h := uint64(0)
	for _, v := range c.X {
		h = h*0x9e3779b97f4a7c15 + math.Float64bits(v)
	}
	sum := 0.0
	for i := range per {
		u := p.rng.Float64()
		if p.fixed {
			u = rand.New(rand.NewPCG(h, uint64(from+i))).Float64()
		}
		if u < a {
			per[i] = -1
		}
		sum += per[i]
	}
	p.out = append(p.out, algorithms.ItemResult{ID: c.ID, Loss: sum / float64(n), PerItem: per})
	return nil
}
func (p *itemPool) Next(ctx context.Context) (int, float64, error) {
	r, err := p.NextItems(ctx)
	return r.ID, r.Loss, err
}
func (p *itemPool) NextItems(context.Context) (algorithms.ItemResult, error) {
	if len(p.out) == 0 {
		return algorithms.ItemResult{}, errors.New("itemPool: nothing in flight")
	}
	i := p.rng.IntN(len(p.out)) // results come back in any order
	r := p.out[i]
	p.out = slices.Delete(p.out, i, i+1)
	return r, nil
}

// wrapped lists every strategy over a few bases of each batch capability.
func wrapped() []string {
	var names []string
	for _, s := range algorithms.StrategyNames() {
		for _, b := range []string{"cmaes", "random", "de", "one-plus-one-es"} {
			if (s == "sh" || s == "hb") && b == "one-plus-one-es" {
				continue // refused: one candidate at a time
			}
			names = append(names, s+":"+b)
		}
	}
	return names
}

// TestFidelityItemAccounting holds every strategy to the item budget: no
// evaluation past it, none outside the list or the box, the run ends with
// the budget error, most of the budget is spent, the same seed makes the
// same run, and the answer beats the median random point.
func TestFidelityItemAccounting(t *testing.T) {
	for _, name := range wrapped() {
		for _, fixed := range []bool{true, false} {
			if strings.HasPrefix(name, "prace:") && !fixed {
				continue
			}
			t.Run(fmt.Sprintf("%s/fixed=%v", name, fixed), func(t *testing.T) {
				run := func() (*itemPool, []float64) {
					p := &itemPool{k: 3, full: 200, budget: 40000, fixed: fixed, rng: rand.New(rand.NewPCG(5, 5))}
					opt, _, err := algorithms.Configure(name, nil)
					if err != nil {
						t.Fatal(err)
					}
					rec, err := opt.Minimize(context.Background(), unitProblem(4, true), p, rand.New(rand.NewPCG(7, 1)))
					if !errors.Is(err, algorithms.ErrBudget) {
						t.Fatalf("Minimize returned %v, want the budget error", err)
					}
					return p, rec
				}
				p, rec := run()
				if p.spent > p.budget {
					t.Fatalf("spent %d items of %d", p.spent, p.budget)
				}
				if p.spent < p.budget*3/4 {
					t.Errorf("spent only %d items of %d", p.spent, p.budget)
				}
				for _, x := range p.xs {
					for i, v := range x {
						if !(v >= 0 && v <= 1) {
							t.Fatalf("coordinate %d = %g outside the box", i, v)
						}
					}
				}
				if rec == nil || !slices.ContainsFunc(p.xs, func(x []float64) bool { return slices.Equal(x, rec) }) {
					t.Fatalf("answer %v was never evaluated", rec)
				}
				if a := p.acc(rec); a < 0.5 {
					t.Errorf("answer's accuracy %.3f, want ≥ 0.5 (a random point's median is about 0.1)", a)
				}
				q, rec2 := run()
				if !slices.Equal(rec, rec2) || len(p.xs) != len(q.xs) || !slices.Equal(p.n, q.n) {
					t.Fatal("same seed, different run")
				}
				t.Logf("%d evaluations, %d items, answer's accuracy %.3f", len(p.xs), p.spent, p.acc(rec))
			})
		}
	}
}

// Successive halving scores each candidate on few items first: most
// evaluations are on the lowest rung's items, and a full list's worth is
// reached by few.
func TestSuccessiveHalvingRungs(t *testing.T) {
	p := &itemPool{k: 4, full: 270, budget: 20000, fixed: true, rng: rand.New(rand.NewPCG(1, 1))}
	opt, _, err := algorithms.Configure("sh:random", nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.Minimize(context.Background(), unitProblem(4, true), p, rand.New(rand.NewPCG(2, 1)))
	// η = 3, 10 items at the lowest rung: 27 candidates from item 0, 9 on
	// items 10…29, 3 on 30…89, 1 on 90…269.
	want := [][2]int{{0, 10}, {10, 20}, {30, 60}, {90, 180}}
	counts := map[[2]int]int{}
	for i := range p.n {
		counts[[2]int{p.from[i], p.n[i]}]++
	}
	for i, w := range want {
		if counts[w] == 0 {
			t.Errorf("no evaluation of items %d…%d (rung %d); evaluations: %v", w[0], w[0]+w[1]-1, i, counts)
		}
	}
	if counts[want[0]] < 9*counts[want[3]] {
		t.Errorf("%d candidates on the lowest rung, %d on the full list: want 27 for 1", counts[want[0]], counts[want[3]])
	}
}

func TestFidelityRefusals(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"sh:one-plus-one-es", "one candidate at a time"},
		{"sh:sh:cmaes", "not another strategy"},
		{"nope:cmaes", "unknown strategy"},
		{"sh:nope", "unknown algorithm"},
	} {
		if _, err := algorithms.Lookup(c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Lookup(%q) = %v, want an error saying %q", c.name, err, c.want)
		}
	}
	opt, _, err := algorithms.Configure("sh:cmaes", map[string]string{"eta": "4", "base.popsize": "8"})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{budget: 10, f: shiftedSphere(testOptimum)}
	if _, err := opt.Minimize(context.Background(), unitProblem(4, true), r, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "--budget-items") {
		t.Errorf("sh:cmaes on an objective without items: %v", err)
	}
	opt, _, _ = algorithms.Configure("prace:cmaes", nil)
	p := &itemPool{k: 1, full: 100, budget: 1000, rng: rand.New(rand.NewPCG(1, 1))}
	if _, err := opt.Minimize(context.Background(), unitProblem(4, true), p, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "fixed item list") {
		t.Errorf("prace on items drawn afresh: %v", err)
	}
	for _, n := range algorithms.Names() {
		if strings.Contains(n, ":") {
			t.Errorf("Names lists the wrapped %s: --algs all would change", n)
		}
	}
}

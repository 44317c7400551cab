package algorithms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

func init() {
	RegisterMulti(MultiEntry{
		Name:        "ws-cmaes",
		Summary:     "the practitioners' baseline: cmaes on the weighted sum of the task scores, once per weighting (5 spread over the simplex), the budget split between them; its front is the non-dominated set of everything it evaluated",
		Constraints: "none in the search (a weighted sum cannot keep a floor: mergekit-evolve's practice); the floors act on the final front, as for every method",
		Batch:       BatchGeneration,
		Baseline:    true,
		New:         func() MultiOptimizer { return &WeightedSum{Weightings: 5} },
	})
}

// WeightedSum is what practitioners do with several tasks: collapse them
// into one weighted sum (mergekit-evolve's weighted `tasks` list) and run
// CMA-ES (this package's cmaes at its defaults). Since one weighting picks
// one trade-off before any is seen, it runs cmaes once per weighting, each
// with an equal share of the budget (the first shares one evaluation
// larger when it does not divide), one after the other, and reports the
// non-dominated set of all their evaluations.
//
// The weightings, unless Weights lists them, are Weightings points spread
// over the simplex: the Das–Dennis lattice (multiples of 1/H summing to 1)
// of the smallest H with at least Weightings points, thinned by greedy
// max–min distance starting from the point nearest the centre (ties: the
// earlier lattice point), in lattice order. Two tasks, 5 weightings:
// (1,0), (¾,¼), (½,½), (¼,¾), (0,1); three tasks: the three corners and
// two of the three edge midpoints.
type WeightedSum struct {
	Weightings int    // number of weightings, ≥ 1; 0 means 5
	Weights    string // explicit weightings "a,b;c,d" (each normalised), overriding Weightings
}

// Flags registers the hyperparameters.
func (w *WeightedSum) Flags(fs *flag.FlagSet) {
	fs.IntVar(&w.Weightings, "weightings", w.Weightings, "number of weightings spread over the simplex, each a cmaes run on its share of the budget, ≥ 1; 0 means 5")
	fs.StringVar(&w.Weights, "weights", w.Weights, "explicit weightings, one per run, as w1,w2,…;w1,w2,… (overrides weightings)")
}

// errShare ends one weighting's run: its share of the budget is spent.
var errShare = errors.New("share of the budget spent")

// MinimizeMulti implements MultiOptimizer.
func (w *WeightedSum) MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	ws, err := w.weightings(p.Objectives)
	if err != nil {
		return err
	}
	if p.Budget < 1 {
		return fmt.Errorf("ws-cmaes: the budget must be known to split it between %d weightings", len(ws))
	}
	sp := &scalarPool{mp: pool}
	for k, wk := range ws {
		share := p.Budget / len(ws)
		if k < p.Budget%len(ws) {
			share++
		}
		if share == 0 {
			continue
		}
		opt, _, err := Configure("cmaes", nil)
		if err != nil {
			return err
		}
		sp.w, sp.left = wk, share
		inner := p.Problem
		inner.Budget = share
		_, err = opt.Minimize(ctx, inner, sp, rng)
		if !errors.Is(err, errShare) {
			return err // the harness's budget, a cancelled context, a fault
		}
	}
	// Every share spent: ask once more so the harness's own refusal ends
	// the run, as it ends every other method's. A pool that accepts it had
	// a larger budget than the problem said.
	if err := pool.Submit(ctx, Candidate{ID: sp.next, X: p.Start()}); err != nil {
		return err
	}
	if _, _, err := pool.Next(ctx); err != nil {
		return err
	}
	return fmt.Errorf("ws-cmaes: the pool accepted evaluations past the budget of %d it was given", p.Budget)
}

// weightings returns the weight vectors, each summing to 1.
func (w *WeightedSum) weightings(m int) ([][]float64, error) {
	if w.Weights != "" {
		var out [][]float64
		for _, part := range strings.Split(w.Weights, ";") {
			var v []float64
			sum := 0.0
			for _, s := range strings.Split(part, ",") {
				f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil || !(f >= 0) || math.IsInf(f, 0) {
					return nil, fmt.Errorf("ws-cmaes: weights %q: %q is not a finite weight ≥ 0", w.Weights, s)
				}
				v = append(v, f)
				sum += f
			}
			if len(v) != m {
				return nil, fmt.Errorf("ws-cmaes: weights %q: weighting %q has %d weights for %d tasks", w.Weights, part, len(v), m)
			}
			if sum == 0 {
				return nil, fmt.Errorf("ws-cmaes: weights %q: weighting %q is all 0", w.Weights, part)
			}
			for i := range v {
				v[i] /= sum
			}
			out = append(out, v)
		}
		return out, nil
	}
	k := w.Weightings
	if k == 0 {
		k = 5
	}
	if k < 1 || k > 1000 {
		return nil, fmt.Errorf("ws-cmaes: weightings %d: want 1 to 1000", w.Weightings)
	}
	return SpreadWeightings(m, k), nil
}

// SpreadWeightings returns k weight vectors for m tasks spread over the
// simplex (see WeightedSum).
func SpreadWeightings(m, k int) [][]float64 {
	h := 0
	var lat [][]float64
	for len(lat) < k {
		h++
		lat = pareto.SimplexLattice(m, h)
	}
	if k == 1 {
		return [][]float64{centreMost(lat)}
	}
	chosen := make([]bool, len(lat))
	first := 0
	bestD := math.Inf(1)
	for i, l := range lat {
		if d := distToCentre(l); d < bestD-1e-12 {
			first, bestD = i, d
		}
	}
	chosen[first] = true
	for n := 1; n < k; n++ {
		best, bestMin := -1, -1.0
		for i, l := range lat {
			if chosen[i] {
				continue
			}
			dmin := math.Inf(1)
			for j, c := range lat {
				if chosen[j] {
					dmin = min(dmin, dist(l, c))
				}
			}
			if dmin > bestMin+1e-12 {
				best, bestMin = i, dmin
			}
		}
		chosen[best] = true
	}
	var out [][]float64
	for i, l := range lat {
		if chosen[i] {
			out = append(out, l)
		}
	}
	return out
}

func centreMost(lat [][]float64) []float64 {
	best, bestD := lat[0], math.Inf(1)
	for _, l := range lat {
		if d := distToCentre(l); d < bestD-1e-12 {
			best, bestD = l, d
		}
	}
	return best
}

func distToCentre(l []float64) float64 {
	s := 0.0
	for _, v := range l {
		d := v - 1/float64(len(l))
		s += d * d
	}
	return math.Sqrt(s)
}

func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}

// scalarPool is a MultiPool seen by a single-objective method as a Pool
// of the weighted sum of the losses, refusing submissions past the
// current weighting's share.
type scalarPool struct {
	mp    MultiPool
	w     []float64
	left  int
	next  int         // the next outer candidate ID
	inner map[int]int // outer ID → the inner method's ID
}

func (s *scalarPool) Slots() int { return s.mp.Slots() }

func (s *scalarPool) Submit(ctx context.Context, c Candidate) error {
	if s.left <= 0 {
		return errShare
	}
	if s.inner == nil {
		s.inner = map[int]int{}
	}
	if err := s.mp.Submit(ctx, Candidate{ID: s.next, X: c.X}); err != nil {
		return err
	}
	s.inner[s.next] = c.ID
	s.next++
	s.left--
	return nil
}

func (s *scalarPool) Next(ctx context.Context) (int, float64, error) {
	id, losses, err := s.mp.Next(ctx)
	if err != nil {
		return 0, 0, err
	}
	inner, ok := s.inner[id]
	if !ok {
		return 0, 0, fmt.Errorf("ws-cmaes: the pool returned candidate %d, which this weighting never submitted", id)
	}
	delete(s.inner, id)
	loss := 0.0
	for j, v := range losses {
		loss += s.w[j] * v
	}
	return inner, loss, nil
}

// Eval evaluates one point (methods that evaluate one at a time).
func (s *scalarPool) Eval(ctx context.Context, x []float64) (float64, error) {
	id := -1 - s.next // never an Asker's ID
	if err := s.Submit(ctx, Candidate{ID: id, X: x}); err != nil {
		return 0, err
	}
	_, f, err := s.Next(ctx)
	return f, err
}

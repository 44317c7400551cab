package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

func init() {
	RegisterMulti(MultiEntry{
		Name:        "motpe",
		Summary:     "multi-objective TPE (Ozaki et al. 2020): TPE whose good group is chosen by non-dominated rank and hypervolume contribution; Optuna's TPESampler settings",
		Constraints: "constrained domination in the good/bad split, as Optuna's TPESampler with constraints_func: feasible before infeasible, infeasible by total violation",
		Batch:       BatchAsync,
		New: func() MultiOptimizer {
			return &MOTPE{TPE: TPE{Startup: 10, GammaFrac: 0.1, GammaCap: 25, Candidates: 24, PriorWeight: 1, MagicClip: true}}
		},
	})
}

// MOTPE is the multi-objective tree-structured Parzen estimator of Y.
// Ozaki, Y. Tanigaki, S. Watanabe and M. Onishi, "Multiobjective
// tree-structured Parzen estimator for computationally expensive
// optimization problems", GECCO 2020, on this package's TPE (Optuna's
// TPESampler: its start-up, γ(n) = min(⌈0.1·n⌉, 25), Parzen estimators,
// 24 candidates and constant liar for several slots). Only the split
// changes: the γ(n) "good" observations are the best by non-dominated
// rank, whole fronts while they fit and the front that does not fit
// reduced to the rest by greedy hypervolume subset selection (the point
// adding the most hypervolume first; reference point the worst observed
// value in each objective plus a tenth of its range), as the paper and
// Optuna's multi-objective TPESampler choose them. The good group's
// observations all weigh alike (Optuna's default_weights), not by their
// hypervolume contributions as Optuna ≥ 3.1 weighs them.
//
// Constraints (MultiProblem.Limits) enter the split through constrained
// domination, as Optuna's TPESampler(constraints_func=…) ranks infeasible
// trials after feasible ones by their violation.
type MOTPE struct {
	TPE
}

// Flags registers TPE's hyperparameters.
func (m *MOTPE) Flags(fs *flag.FlagSet) { m.TPE.Flags(fs) }

// MinimizeMulti implements MultiOptimizer.
func (m *MOTPE) MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	t := m.TPE.resolved()
	switch {
	case t.Startup < 0:
		return fmt.Errorf("motpe: startup %d: must be ≥ 0", t.Startup)
	case !(t.GammaFrac > 0 && t.GammaFrac <= 1):
		return fmt.Errorf("motpe: gamma-frac %g: must lie in (0, 1]", t.GammaFrac)
	case t.GammaCap < 1:
		return fmt.Errorf("motpe: gamma-cap %d: must be ≥ 1", t.GammaCap)
	case t.Candidates < 1:
		return fmt.Errorf("motpe: candidates %d: must be ≥ 1", t.Candidates)
	case !(t.PriorWeight > 0) || math.IsInf(t.PriorWeight, 0):
		return fmt.Errorf("motpe: prior-weight %g: must be finite and > 0", t.PriorWeight)
	}
	a := &motpeAsker{t: t, p: p, h: &tpeHistory{sorted: make([][]int, p.Dim)}}
	return DriveMulti(ctx, a, pool, rng)
}

type motpeAsker struct {
	t  *TPE
	p  MultiProblem
	h  *tpeHistory
	fs [][]float64 // loss vectors by candidate, nil while pending
}

func (a *motpeAsker) AskK(rng *rand.Rand, k int) []Candidate {
	t, p, h := a.t, a.p.Problem, a.h
	cs := make([]Candidate, 0, k)
	for range k {
		x := make([]float64, p.Dim)
		if h.told < t.Startup {
			for d := range x {
				x[d] = p.Lower[d] + rng.Float64()*(p.Upper[d]-p.Lower[d])
			}
		} else {
			below, above := a.split()
			if t.Multivariate {
				t.suggestJoint(p, h, below, above, x, rng)
			} else {
				for d := range x {
					x[d] = t.suggest1D(p, h, d, below, above, rng)
				}
			}
		}
		cs = append(cs, Candidate{ID: len(h.xs), X: x})
		a.fs = append(a.fs, nil)
		h.propose(x)
	}
	return cs
}

func (a *motpeAsker) TellVec(id int, losses []float64) {
	if id < 0 || id >= len(a.fs) || a.fs[id] != nil {
		panic(fmt.Sprintf("motpe: TellVec(%d) is not a pending candidate", id))
	}
	f := make([]float64, len(losses))
	for i, v := range losses {
		f[i] = orWorst(v)
	}
	a.fs[id] = f
	a.h.tell(id, 0) // the scalar order is unused: split ranks the vectors
}

// split returns the γ(n) best of the n evaluated candidates by constrained
// non-dominated rank and hypervolume subset selection, and every other
// candidate, evaluated or pending (constant liar), each in trial order.
func (a *motpeAsker) split() (below, above []int) {
	var idx []int
	var fs [][]float64
	var viol []float64
	for i, f := range a.fs {
		if f != nil {
			idx = append(idx, i)
			fs = append(fs, f)
			viol = append(viol, a.p.violation(f))
		}
	}
	nb := min(a.t.gamma(len(idx)), len(idx))
	var chosen []int // indices into fs
	for _, front := range pareto.FirstFronts(fs, viol, nb) {
		if len(chosen)+len(front) <= nb {
			chosen = append(chosen, front...)
			continue
		}
		chosen = append(chosen, greedyHSSP(fs, front, nb-len(chosen))...)
		break
	}
	in := make([]bool, len(a.fs))
	for _, c := range chosen {
		below = append(below, idx[c])
		in[idx[c]] = true
	}
	slices.Sort(below)
	for i := range a.fs {
		if !in[i] {
			above = append(above, i)
		}
	}
	return below, above
}

// greedyHSSP chooses r points of front (indices into fs) by greedy
// hypervolume subset selection: repeatedly the point that adds the most
// hypervolume to those chosen (ties: the earlier). The reference point is
// the front's worst value in each objective plus a tenth of its range
// (plus 1e-9).
func greedyHSSP(fs [][]float64, front []int, r int) []int {
	if r <= 0 {
		return nil
	}
	m := len(fs[front[0]])
	ref := make([]float64, m)
	for k := range m {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range front {
			lo, hi = min(lo, fs[i][k]), max(hi, fs[i][k])
		}
		ref[k] = hi + 0.1*(hi-lo) + 1e-9
	}
	var chosen []int
	var pts [][]float64
	used := make([]bool, len(front))
	base := 0.0
	for len(chosen) < r {
		best, bestGain := -1, math.Inf(-1)
		for j, i := range front {
			if used[j] {
				continue
			}
			if g := pareto.Hypervolume(append(pts, fs[i]), ref) - base; g > bestGain {
				best, bestGain = j, g
			}
		}
		used[best] = true
		chosen = append(chosen, front[best])
		pts = append(pts, fs[front[best]])
		base += bestGain
	}
	return chosen
}

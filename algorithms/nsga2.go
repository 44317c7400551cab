package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/evomerge/evomerge/algorithms/pareto"
)

func init() {
	RegisterMulti(MultiEntry{
		Name:        "nsga2",
		Summary:     "NSGA-II (Deb et al. 2002): non-dominated sorting and crowding distance, SBX crossover and polynomial mutation, (N+N) elitist survival",
		Constraints: "Deb's constrained domination (Deb et al. 2002, section VI) in the sort and the tournaments: feasible before infeasible, infeasible by total violation",
		Batch:       BatchGeneration,
		New:         func() MultiOptimizer { return &NSGA2{Pop: nsga2Pop, Crossover: 0.9, EtaC: 20, EtaM: 20} },
	})
}

// nsga2Pop is NSGA-II's default population here: 20, not the paper's 100,
// so that a budget of 100 evaluations of a real merge still runs five
// generations instead of one random population.
const nsga2Pop = 20

// NSGA2 is the elitist non-dominated sorting genetic algorithm of K. Deb,
// A. Pratap, S. Agarwal and T. Meyarivan, "A fast and elitist
// multiobjective genetic algorithm: NSGA-II", IEEE Transactions on
// Evolutionary Computation 6(2):182–197, 2002, written here (eaopt has
// none), with the operators and settings of that paper for real
// variables:
//
//   - the first population is uniform in the box;
//   - parents are chosen by binary tournaments under the crowded
//     comparison (lower front first, then larger crowding distance; a tie
//     picks at random);
//   - pairs of parents are recombined with probability Crossover = 0.9 by
//     simulated binary crossover (SBX, Deb and Agrawal 1995) of
//     distribution index EtaC = 20, bounded to the box as in Deb's
//     reference code (each coordinate recombined with probability ½);
//   - each coordinate is mutated with probability 1/n by polynomial
//     mutation of index EtaM = 20, bounded likewise;
//   - parents and offspring are sorted into fronts (pareto.Sort) and the
//     next population filled front by front, the last front taken by
//     decreasing crowding distance (ties by age, then order).
//
// Constraints (MultiProblem.Limits) enter through Deb's constrained
// domination, the paper's section VI, in the sort and so in the
// tournaments: no penalty weight to tune.
type NSGA2 struct {
	Pop       int     // population N, ≥ 4 and even; 0 means 20
	Crossover float64 // probability of SBX per pair, in [0, 1]
	EtaC      float64 // SBX distribution index, > 0
	EtaM      float64 // polynomial mutation index, > 0
}

// Flags registers the hyperparameters.
func (g *NSGA2) Flags(fs *flag.FlagSet) {
	fs.IntVar(&g.Pop, "pop", g.Pop, "population N (evaluations per generation), even and ≥ 4; 0 means 20")
	fs.Float64Var(&g.Crossover, "crossover", g.Crossover, "probability that a pair of parents is recombined by SBX, in [0, 1]")
	fs.Float64Var(&g.EtaC, "eta-c", g.EtaC, "SBX distribution index (larger: children nearer their parents), > 0")
	fs.Float64Var(&g.EtaM, "eta-m", g.EtaM, "polynomial mutation distribution index, > 0")
}

// MinimizeMulti implements MultiOptimizer.
func (g *NSGA2) MinimizeMulti(ctx context.Context, p MultiProblem, pool MultiPool, rng *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	pop := g.Pop
	if pop == 0 {
		pop = nsga2Pop
	}
	switch {
	case pop < 4 || pop%2 != 0:
		return fmt.Errorf("nsga2: pop %d: must be even and at least 4", g.Pop)
	case !(g.Crossover >= 0 && g.Crossover <= 1):
		return fmt.Errorf("nsga2: crossover %g: must lie in [0, 1]", g.Crossover)
	case !(g.EtaC > 0) || math.IsInf(g.EtaC, 0):
		return fmt.Errorf("nsga2: eta-c %g: must be finite and > 0", g.EtaC)
	case !(g.EtaM > 0) || math.IsInf(g.EtaM, 0):
		return fmt.Errorf("nsga2: eta-m %g: must be finite and > 0", g.EtaM)
	}
	s := &nsga2State{g: g, p: p, pop: pop}
	return DriveMulti(ctx, MultiGenerations(s), pool, rng)
}

// nsga2State is one run: the current population with its losses, fronts'
// ranks and crowding distances.
type nsga2State struct {
	g     *NSGA2
	p     MultiProblem
	pop   int
	xs    [][]float64
	fs    [][]float64
	rank  []int
	crowd []float64
}

func (s *nsga2State) Ask(rng *rand.Rand) [][]float64 {
	if s.xs == nil {
		out := make([][]float64, s.pop)
		for i := range out {
			out[i] = uniformIn(s.p.Problem, rng)
		}
		return out
	}
	out := make([][]float64, 0, s.pop)
	n := s.p.Dim
	for len(out) < s.pop {
		a, b := s.xs[s.tournament(rng)], s.xs[s.tournament(rng)]
		c1, c2 := append([]float64(nil), a...), append([]float64(nil), b...)
		if rng.Float64() < s.g.Crossover {
			s.sbx(c1, c2, rng)
		}
		for _, c := range [][]float64{c1, c2} {
			for i := range c {
				if rng.Float64() < 1/float64(n) {
					c[i] = s.mutate(i, c[i], rng)
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// tournament returns the index of the winner of a binary tournament under
// the crowded comparison.
func (s *nsga2State) tournament(rng *rand.Rand) int {
	i, j := rng.IntN(len(s.xs)), rng.IntN(len(s.xs))
	switch {
	case s.rank[i] < s.rank[j]:
		return i
	case s.rank[j] < s.rank[i]:
		return j
	case s.crowd[i] > s.crowd[j]:
		return i
	case s.crowd[j] > s.crowd[i]:
		return j
	}
	if rng.IntN(2) == 0 {
		return i
	}
	return j
}

// sbx recombines c1 and c2 in place: bounded simulated binary crossover
// as in Deb's NSGA-II code (realcross), each coordinate with
// probability ½ and the children swapped with probability ½.
func (s *nsga2State) sbx(c1, c2 []float64, rng *rand.Rand) {
	eta := s.g.EtaC
	for i := range c1 {
		if rng.Float64() > 0.5 {
			continue
		}
		if math.Abs(c1[i]-c2[i]) <= 1e-14 {
			continue
		}
		lo, hi := s.p.Lower[i], s.p.Upper[i]
		y1, y2 := min(c1[i], c2[i]), max(c1[i], c2[i])
		u := rng.Float64()
		betaq := func(beta float64) float64 {
			alpha := 2 - math.Pow(beta, -(eta+1))
			if u <= 1/alpha {
				return math.Pow(u*alpha, 1/(eta+1))
			}
			return math.Pow(1/(2-u*alpha), 1/(eta+1))
		}
		a := 0.5 * ((y1 + y2) - betaq(1+2*(y1-lo)/(y2-y1))*(y2-y1))
		b := 0.5 * ((y1 + y2) + betaq(1+2*(hi-y2)/(y2-y1))*(y2-y1))
		a, b = min(max(a, lo), hi), min(max(b, lo), hi)
		if rng.Float64() <= 0.5 {
			a, b = b, a
		}
		c1[i], c2[i] = a, b
	}
}

// mutate is bounded polynomial mutation of coordinate i (Deb's code,
// real_mutate_ind).
func (s *nsga2State) mutate(i int, y float64, rng *rand.Rand) float64 {
	lo, hi := s.p.Lower[i], s.p.Upper[i]
	d1, d2 := (y-lo)/(hi-lo), (hi-y)/(hi-lo)
	u := rng.Float64()
	pow := 1 / (s.g.EtaM + 1)
	var dq float64
	if u <= 0.5 {
		val := 2*u + (1-2*u)*math.Pow(1-d1, s.g.EtaM+1)
		dq = math.Pow(val, pow) - 1
	} else {
		val := 2*(1-u) + 2*(u-0.5)*math.Pow(1-d2, s.g.EtaM+1)
		dq = 1 - math.Pow(val, pow)
	}
	return min(max(y+dq*(hi-lo), lo), hi)
}

func (s *nsga2State) Tell(xs [][]float64, fs [][]float64) {
	allX := append(append([][]float64(nil), s.xs...), xs...)
	allF := append(append([][]float64(nil), s.fs...), fs...)
	viol := make([]float64, len(allF))
	for i, f := range allF {
		viol[i] = s.p.violation(f)
	}
	fronts := pareto.Sort(allF, viol)
	var keep []int
	var rank []int
	var crowd []float64
	for r, front := range fronts {
		d := pareto.Crowding(allF, front)
		if len(keep)+len(front) <= s.pop {
			keep = append(keep, front...)
			for k := range front {
				rank = append(rank, r)
				crowd = append(crowd, d[k])
			}
			continue
		}
		order := make([]int, len(front))
		for k := range order {
			order[k] = k
		}
		// Largest crowding first; ties keep the older point (parents come
		// first in allX), then the earlier one.
		sort.SliceStable(order, func(a, b int) bool { return d[order[a]] > d[order[b]] })
		for _, k := range order[:s.pop-len(keep)] {
			keep = append(keep, front[k])
			rank = append(rank, r)
			crowd = append(crowd, d[k])
		}
		break
	}
	s.xs, s.fs, s.rank, s.crowd = s.xs[:0:0], s.fs[:0:0], rank, crowd
	for _, i := range keep {
		s.xs = append(s.xs, allX[i])
		s.fs = append(s.fs, allF[i])
	}
	// The crowding distances used by the tournaments are those of the new
	// population's fronts (Deb et al. 2002, section III-C), computed on
	// the survivors.
	s.crowd = s.recrowd()
}

// recrowd recomputes the crowding distance of every survivor within its
// front of the new population.
func (s *nsga2State) recrowd() []float64 {
	out := make([]float64, len(s.xs))
	byRank := map[int][]int{}
	for i, r := range s.rank {
		byRank[r] = append(byRank[r], i)
	}
	for _, idx := range byRank {
		d := pareto.Crowding(s.fs, idx)
		for k, i := range idx {
			out[i] = d[k]
		}
	}
	return out
}

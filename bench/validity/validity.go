// Package validity measures how well a prediction of the optimisers'
// ranking (calibrate's fitted mock, or the average rank over the built-in
// scenarios) agrees with the ranking on a real objective, and what
// following a recommendation costs against the best choice in hindsight.
//
// It is the analysis of results/validity (its protocol.md says which runs
// and statistics, decided before the runs). Its inputs are run records of
// the harness, grouped by cell (a real objective and budget), instance (a
// zoo instance: an independent replicate of the real objective) and seed.
package validity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/evomerge/evomerge/bench/stats"
)

// Sample holds the scores of one method's runs in one cell: by instance,
// then by seed index. A seed index is the run's position among a
// comparison's seeds (0, 1, …), the same on every instance.
type Sample map[int]map[int]float64

// Add records a run's score.
func (s Sample) Add(instance, seed int, score float64) error {
	if s[instance] == nil {
		s[instance] = map[int]float64{}
	}
	if _, dup := s[instance][seed]; dup {
		return fmt.Errorf("instance %d seed %d recorded twice", instance, seed)
	}
	s[instance][seed] = score
	return nil
}

// All returns every score, ordered by instance and seed.
func (s Sample) All() []float64 {
	return s.Select(func(int, int) bool { return true })
}

// Select returns the scores of the runs keep accepts, ordered by instance
// and seed.
func (s Sample) Select(keep func(instance, seed int) bool) []float64 {
	var out []float64
	for _, i := range sortedKeys(s) {
		for _, k := range sortedKeys(s[i]) {
			if keep(i, k) {
				out = append(out, s[i][k])
			}
		}
	}
	return out
}

// Median is the median score of the runs keep accepts (NaN if none).
func (s Sample) Median(keep func(instance, seed int) bool) float64 {
	return stats.Quantile(s.Select(keep), 0.5)
}

// Ranking is one score per method (higher is better): a median, or a
// negated average rank.
type Ranking map[string]float64

// Tau is Kendall's τ-b between two rankings over the methods both hold
// (NaN with fewer than three).
func Tau(a, b Ranking) float64 {
	var xs, ys []float64
	for _, m := range sortedKeys(a) {
		if v, ok := b[m]; ok {
			xs, ys = append(xs, a[m]), append(ys, v)
		}
	}
	if len(xs) < 3 {
		return math.NaN()
	}
	return stats.KendallTauB(xs, ys)
}

// Spearman is Spearman's ρ between two rankings over the methods both hold
// (average ranks for ties; NaN with fewer than three).
func Spearman(a, b Ranking) float64 {
	var xs, ys []float64
	for _, m := range sortedKeys(a) {
		if v, ok := b[m]; ok {
			xs, ys = append(xs, a[m]), append(ys, v)
		}
	}
	if len(xs) < 3 {
		return math.NaN()
	}
	rx, ry := AverageRanks(xs), AverageRanks(ys)
	return pearson(rx, ry)
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// AverageRanks returns the rank of each value (1 = lowest), ties sharing
// the mean of their ranks.
func AverageRanks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// MedianRanking ranks methods by the median of the runs keep accepts.
func MedianRanking(samples map[string]Sample, keep func(instance, seed int) bool) Ranking {
	r := Ranking{}
	for m, s := range samples {
		if v := s.Median(keep); !math.IsNaN(v) {
			r[m] = v
		}
	}
	return r
}

// AverageRank ranks methods by their mean rank over several rankings
// (rank 1 the best in each; ties share the mean rank), over the methods
// every ranking holds. The result is the negated mean rank, so that
// higher is better as in every Ranking.
func AverageRank(rankings []Ranking) Ranking {
	common := map[string]int{}
	for _, r := range rankings {
		for m := range r {
			common[m]++
		}
	}
	var methods []string
	for _, m := range sortedKeys(common) {
		if common[m] == len(rankings) {
			methods = append(methods, m)
		}
	}
	sum := make([]float64, len(methods))
	for _, r := range rankings {
		neg := make([]float64, len(methods))
		for i, m := range methods {
			neg[i] = -r[m] // rank 1 = the highest score
		}
		for i, v := range AverageRanks(neg) {
			sum[i] += v
		}
	}
	out := Ranking{}
	for i, m := range methods {
		out[m] = -sum[i] / float64(len(rankings))
	}
	return out
}

// SplitHalf ranks the methods on the seeds in first and on the others,
// over every instance, and returns the two rankings: their agreement is
// the ranking's reliability, the most any prediction can be expected to
// reach.
func SplitHalf(samples map[string]Sample, first func(seed int) bool) (Ranking, Ranking) {
	a := MedianRanking(samples, func(_, k int) bool { return first(k) })
	b := MedianRanking(samples, func(_, k int) bool { return !first(k) })
	return a, b
}

// Interval is a bootstrap percentile interval.
type Interval struct{ Lo, Hi float64 }

// Resample is one bootstrap draw of a study's replicates: instances drawn
// with replacement, and within each drawn instance its seeds drawn with
// replacement, separately for every sample it is applied to.
type Resample struct {
	rng       *rand.Rand
	instances []int // drawn instances, with repeats
}

// NewResample draws the instances of one resample from those given.
func NewResample(rng *rand.Rand, instances []int) *Resample {
	d := make([]int, len(instances))
	for i := range d {
		d[i] = instances[rng.IntN(len(instances))]
	}
	return &Resample{rng: rng, instances: d}
}

// Median is the median of s over the drawn instances, each instance's
// seeds drawn with replacement (NaN if s has none of them).
func (r *Resample) Median(s Sample) float64 {
	var xs []float64
	for _, i := range r.instances {
		seeds := s[i]
		keys := sortedKeys(seeds)
		for range keys {
			xs = append(xs, seeds[keys[r.rng.IntN(len(keys))]])
		}
	}
	return stats.Quantile(xs, 0.5)
}

// Ranking is MedianRanking on this resample.
func (r *Resample) Ranking(samples map[string]Sample) Ranking {
	out := Ranking{}
	for _, m := range sortedKeys(samples) {
		if v := r.Median(samples[m]); !math.IsNaN(v) {
			out[m] = v
		}
	}
	return out
}

// BootstrapTau is the 95% percentile interval of τ between the rankings
// predict and real give on n resamples of the instances (and of each
// instance's seeds); predict may ignore the resample (a fixed ranking).
func BootstrapTau(rng *rand.Rand, n int, instances []int, predict, real func(*Resample) Ranking) Interval {
	var taus []float64
	for range n {
		r := NewResample(rng, instances)
		// The order of the two calls is fixed, so the draws are too.
		p := predict(r)
		q := real(r)
		if t := Tau(p, q); !math.IsNaN(t) {
			taus = append(taus, t)
		}
	}
	if len(taus) == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	return Interval{stats.Quantile(taus, 0.025), stats.Quantile(taus, 0.975)}
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package bench

import (
	"math"
	"sort"
)

// Summary condenses the runs of one algorithm on one objective
// configuration into the figures of the comparison table.
type Summary struct {
	Algorithm string `json:"algorithm"`
	Runs      int    `json:"runs"`
	Successes int    `json:"successes"`
	Errors    int    `json:"errors"`
	// Evaluations to target: misses count as +Inf (censored), so a
	// percentile that falls on a miss is +Inf.
	MedianETT float64 `json:"median_evals_to_target"`
	P10ETT    float64 `json:"p10_evals_to_target"`
	P90ETT    float64 `json:"p90_evals_to_target"`
	// ART is COCO's average running time: evaluations spent in all runs
	// (to the target for successes, all used for misses) ÷ successes.
	ART                   float64 `json:"aRT"`
	MedianRecommendedTrue float64 `json:"median_recommended_true"`
	MedianBestObserved    float64 `json:"median_best_observed"`
	MedianBestTrue        float64 `json:"median_best_true"`
	MedianWallMS          float64 `json:"median_wall_ms"`
	// FirstError is one recorded error, to show in the table.
	FirstError string `json:"first_error,omitempty"`
}

// Summarize groups runs by algorithm, in order of first appearance.
func Summarize(runs []*Run) []Summary {
	var order []string
	by := map[string][]*Run{}
	for _, r := range runs {
		if _, ok := by[r.Algorithm]; !ok {
			order = append(order, r.Algorithm)
		}
		by[r.Algorithm] = append(by[r.Algorithm], r)
	}
	out := make([]Summary, 0, len(order))
	for _, alg := range order {
		out = append(out, summarize(alg, by[alg]))
	}
	return out
}

func summarize(alg string, runs []*Run) Summary {
	s := Summary{Algorithm: alg, Runs: len(runs)}
	var ett, rec, obs, tru, wall []float64
	spent := 0.0
	for _, r := range runs {
		if r.Error != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = r.Error
			}
		}
		ett = append(ett, r.ETT())
		if r.Succeeded() {
			s.Successes++
			spent += float64(*r.EvalsToTarget)
		} else {
			spent += float64(r.EvalsUsed)
		}
		rec = append(rec, r.RecommendTrue)
		obs = append(obs, r.BestObserved)
		tru = append(tru, r.BestTrue)
		wall = append(wall, r.WallMS)
	}
	s.MedianETT = Quantile(ett, 0.5)
	s.P10ETT = Quantile(ett, 0.1)
	s.P90ETT = Quantile(ett, 0.9)
	s.ART = math.Inf(1)
	if s.Successes > 0 {
		s.ART = spent / float64(s.Successes)
	}
	s.MedianRecommendedTrue = Quantile(rec, 0.5)
	s.MedianBestObserved = Quantile(obs, 0.5)
	s.MedianBestTrue = Quantile(tru, 0.5)
	s.MedianWallMS = Quantile(wall, 0.5)
	return s
}

// Quantile interpolates linearly between order statistics (numpy's
// default, as the pycma reference figures are computed). +Inf values sort
// last; a quantile whose interpolation touches one is +Inf. NaN values
// (runs that never evaluated) are ignored.
func Quantile(xs []float64, p float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	h := p * float64(len(v)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(v)-1)
	frac := h - float64(lo)
	if frac == 0 {
		return v[lo]
	}
	if math.IsInf(v[lo], 1) || math.IsInf(v[hi], 1) {
		return math.Inf(1)
	}
	return v[lo] + frac*(v[hi]-v[lo])
}

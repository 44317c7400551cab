package bench

import (
	"math"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench/stats"
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
	// ModelUnderHalf says that over these runs the method's model (or
	// update rule) proposed under half of the evaluated candidates, the
	// rest coming from its uniform start-up phase (Run.PhaseEvals): at
	// this budget the row is mostly random search.
	ModelUnderHalf bool `json:"model_under_half,omitempty"`
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
	initial, model := 0, 0
	for _, r := range runs {
		initial += r.PhaseEvals[algorithms.PhaseInitial]
		model += r.PhaseEvals[algorithms.PhaseModel]
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
	s.ModelUnderHalf = 2*model < initial+model
	s.MedianETT = quantileFinite(ett, 0.5)
	s.P10ETT = quantileFinite(ett, 0.1)
	s.P90ETT = quantileFinite(ett, 0.9)
	s.ART = math.Inf(1)
	if s.Successes > 0 {
		s.ART = spent / float64(s.Successes)
	}
	s.MedianRecommendedTrue = quantileFinite(rec, 0.5)
	s.MedianBestObserved = quantileFinite(obs, 0.5)
	s.MedianBestTrue = quantileFinite(tru, 0.5)
	s.MedianWallMS = quantileFinite(wall, 0.5)
	return s
}

// quantileFinite is stats.Quantile over the values that are not NaN (runs
// that never evaluated have no score).
func quantileFinite(xs []float64, p float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	return stats.Quantile(v, p)
}

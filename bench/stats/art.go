package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Run is the outcome of one independent run for one target.
type Run struct {
	// Hit is the number of evaluations until the target was first
	// reached, or +Inf if the run never reached it.
	Hit float64
	// Used is the number of evaluations the run spent in total. It is
	// the cost charged for a failed run and is ignored for a success.
	Used float64
}

func (r Run) ok() bool { return !math.IsInf(r.Hit, 1) }

func checkRuns(runs []Run) error {
	if len(runs) == 0 {
		return errors.New("stats: no runs")
	}
	for i, r := range runs {
		switch {
		case math.IsNaN(r.Hit) || r.Hit < 0:
			return fmt.Errorf("stats: run %d: invalid evaluations to target %v", i, r.Hit)
		case !r.ok() && (math.IsNaN(r.Used) || math.IsInf(r.Used, 0) || r.Used < 0):
			return fmt.Errorf("stats: failed run %d: invalid evaluations used %v", i, r.Used)
		}
	}
	return nil
}

// ART returns COCO's average running time (aRT, formerly ERT): the
// evaluations spent by all runs — up to the target for successes, all of
// them for failures — divided by the number of successes. It estimates the
// expected cost of reaching the target with independent restarts, so unlike
// the median of successful runs it cannot hide a low success rate.
//
// It is +Inf when no run succeeded. The error reports invalid input: no
// runs, a NaN or negative Hit, or a failed run whose Used is not a finite
// non-negative number.
func ART(runs []Run) (float64, error) {
	if err := checkRuns(runs); err != nil {
		return math.NaN(), err
	}
	var sum float64
	succ := 0
	for _, r := range runs {
		if r.ok() {
			sum += r.Hit
			succ++
		} else {
			sum += r.Used
		}
	}
	if succ == 0 {
		return math.Inf(1), nil
	}
	return sum / float64(succ), nil
}

// simulatedRestart draws runs uniformly with replacement until it draws a
// success, and returns the evaluations of the failures drawn plus the
// success's evaluations to target: the runtime of a restart strategy
// simulated from the observed runs (COCO's drawSP). runs must contain a
// success, or it never returns.
func simulatedRestart(runs []Run, rng *rand.Rand) float64 {
	var t float64
	for {
		r := runs[rng.IntN(len(runs))]
		if r.ok() {
			return t + r.Hit
		}
		t += r.Used
	}
}

// ARTBootstrap returns a percentile bootstrap confidence interval for ART at
// the given level (e.g. 0.95) using COCO's simulated restarts. A simulated
// run draws runs uniformly with replacement until it draws a success and
// costs the evaluations of the failures drawn plus the success's
// evaluations to target. Each of reps replicates simulates len(runs) such
// runs and takes their mean, i.e. the aRT of a sample of runs that all succeed; the
// interval is the (1-confidence)/2 and (1+confidence)/2 quantiles of the
// replicates. The expected value of one simulated run given the data is
// exactly ART(runs), which is what makes the replicates centre on it.
//
// (COCO's tables print the spread of single simulated runs, a dispersion
// of the runtime; this is the spread of their mean, an interval for aRT.)
//
// rng must be supplied by the caller so results are reproducible; the
// global source and the clock are never used. With no successes the
// interval is +Inf, +Inf. A few hundred to a few thousand reps are usual.
func ARTBootstrap(runs []Run, confidence float64, reps int, rng *rand.Rand) (lo, hi float64, err error) {
	if err := checkRuns(runs); err != nil {
		return math.NaN(), math.NaN(), err
	}
	if !(confidence > 0 && confidence < 1) {
		return math.NaN(), math.NaN(), fmt.Errorf("stats: confidence %v outside (0, 1)", confidence)
	}
	if reps < 1 {
		return math.NaN(), math.NaN(), fmt.Errorf("stats: %d bootstrap replicates", reps)
	}
	if rng == nil {
		return math.NaN(), math.NaN(), errors.New("stats: nil *rand.Rand")
	}
	art, _ := ART(runs)
	if math.IsInf(art, 1) {
		return art, art, nil
	}
	means := bootstrapMeans(runs, reps, rng)
	return Quantile(means, (1-confidence)/2), Quantile(means, (1+confidence)/2), nil
}

// bootstrapMeans returns reps replicate means of len(runs) simulated
// restarts each.
func bootstrapMeans(runs []Run, reps int, rng *rand.Rand) []float64 {
	means := make([]float64, reps)
	for b := range means {
		var sum float64
		for range runs {
			sum += simulatedRestart(runs, rng)
		}
		means[b] = sum / float64(len(runs))
	}
	return means
}

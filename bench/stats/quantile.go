package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"

	mstats "github.com/aclements/go-moremath/stats"
)

// Quantile returns the p-quantile (0 <= p <= 1) of xs by linear
// interpolation between order statistics: numpy's default method ("linear",
// Hyndman & Fan type 7), which is what the pycma reference tables and COCO
// use, so our numbers can be laid beside theirs.
//
// xs need not be sorted and is not modified. Censored runs are +Inf and sort
// last; if the interpolation touches a +Inf the result is +Inf (a percentile
// that falls on a failure is "not reached", not a huge number). -Inf is
// treated symmetrically. The result is NaN when xs is empty, contains NaN,
// or p is outside [0, 1].
func Quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 1) || slices.ContainsFunc(xs, math.IsNaN) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedQuantile(s, p)
}

// sortedQuantile is Quantile for sorted input without NaN.
func sortedQuantile(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	i := int(math.Floor(h))
	t := h - float64(i)
	if t == 0 || i+1 >= len(s) {
		return s[i]
	}
	a, b := s[i], s[i+1]
	switch {
	case a == b:
		return a
	case math.IsInf(a, -1) && math.IsInf(b, 1):
		return math.NaN()
	case math.IsInf(b, 1):
		return b
	case math.IsInf(a, -1):
		return a
	}
	// numpy's _lerp: interpolate from the nearer end so the result is
	// monotone in p and exact at both ends.
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// MedianInterval is a sample median with a distribution-free confidence
// interval bounded by two order statistics.
type MedianInterval struct {
	// Median is the sample median (+Inf if more than half the runs failed).
	Median float64
	// Lo and Hi bound the interval. Hi is +Inf when the upper order
	// statistic is a failed run; Lo = -Inf and/or Hi = +Inf also when the
	// sample is too small (see Warning).
	Lo, Hi float64
	// Confidence is the interval's actual coverage, which is at least the
	// requested level because order statistics are discrete.
	Confidence float64
	// Warning is non-nil (and wraps ErrTooFewSamples) when the sample is
	// too small for a finite interval at the requested level: the caller
	// should print it next to the number, as benchstat does.
	Warning error
}

// ErrTooFewSamples is wrapped by MedianInterval.Warning when an order
// statistic bound falls outside the sample.
var ErrTooFewSamples = errors.New("too few samples for a confidence interval")

// Median returns the median of xs with its confidence interval at the given
// level (e.g. 0.95), computed exactly as benchstat does (golang.org/x/perf
// benchmath's AssumeNothing summary: the binomial order-statistic interval
// of go-moremath's QuantileCI, exact up to n = 30 and a continuity-corrected
// normal approximation above).
//
// We do not call benchmath.AssumeNothing.Summary itself because it sorts the
// caller's slice in place and its interpolating median computes
// x + 0*(+Inf - x) = NaN when a censored run sits next to the middle. The
// order statistics come from the same go-moremath function, and the tests
// compare against benchmath on finite data.
//
// xs may contain ±Inf and is not modified. The error is non-nil only for
// invalid input: empty xs, a NaN, or confidence outside (0, 1).
func Median(xs []float64, confidence float64) (MedianInterval, error) {
	if len(xs) == 0 {
		return MedianInterval{}, errors.New("stats: median of empty sample")
	}
	if slices.ContainsFunc(xs, math.IsNaN) {
		return MedianInterval{}, errors.New("stats: median of sample containing NaN")
	}
	if !(confidence > 0 && confidence < 1) {
		return MedianInterval{}, fmt.Errorf("stats: confidence %v outside (0, 1)", confidence)
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	ci := mstats.QuantileCI(n, 0.5, confidence)
	r := MedianInterval{
		Median:     sortedQuantile(s, 0.5),
		Lo:         math.Inf(-1),
		Hi:         math.Inf(1),
		Confidence: ci.Confidence,
	}
	if ci.LoOrder >= 1 {
		r.Lo = s[ci.LoOrder-1]
	}
	if ci.HiOrder <= n {
		r.Hi = s[ci.HiOrder-1]
	}
	if ci.LoOrder < 1 || ci.HiOrder > n {
		op, need := medianSamples(confidence)
		r.Warning = fmt.Errorf("%w: need %s %d samples for confidence interval at level %v",
			ErrTooFewSamples, op, need, confidence)
	}
	return r, nil
}

// medianSamples mirrors benchmath: the smallest n whose median interval lies
// inside the sample, searched up to 50.
func medianSamples(confidence float64) (op string, n int) {
	const limit = 50
	for n = 2; n <= limit; n++ {
		ci := mstats.QuantileCI(n, 0.5, confidence)
		if ci.LoOrder > 0 && ci.HiOrder <= n {
			return ">=", n
		}
	}
	return ">", limit
}

package stats

import (
	"math"

	mstats "github.com/aclements/go-moremath/stats"
)

// Wilson returns the Wilson score interval for a binomial proportion
// (Wilson 1927; method 3 of Newcombe 1998) at the given two-sided
// confidence level, e.g. 0.95.
//
// We use it for success rates ("23/25 runs reached the target") because,
// unlike the textbook Wald interval, it stays inside [0, 1] and does not
// collapse to a zero-width interval at 0/n or n/n, which are exactly the
// cells a benchmark table is full of.
//
// Invalid input (n <= 0, successes outside [0, n], confidence outside
// (0, 1)) yields NaN, NaN.
func Wilson(successes, n int, confidence float64) (lo, hi float64) {
	if n <= 0 || successes < 0 || successes > n || !(confidence > 0 && confidence < 1) {
		return math.NaN(), math.NaN()
	}
	z := mstats.StdNormal.InvCDF((1 + confidence) / 2)
	nf := float64(n)
	p := float64(successes) / nf
	z2n := z * z / nf
	den := 1 + z2n
	centre := (p + z2n/2) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2n/(4*nf))
	lo, hi = centre-half, centre+half
	// At 0/n and n/n the bound is exactly 0 or 1 in exact arithmetic;
	// pin it so rounding cannot print as 1e-17 or 0.9999999999999999.
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return max(lo, 0), min(hi, 1)
}

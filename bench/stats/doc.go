// Package stats holds the few statistics evomerge needs to compare
// black-box optimisers the way COCO, IOHprofiler and benchstat do.
//
// The headline measure is evaluations-to-target per run. A run that never
// reaches the target is censored and is represented as +Inf: every function
// here accepts +Inf and gives it the meaning "later than any finite
// runtime", so callers never have to invent a sentinel budget. NaN is never
// a valid runtime and is rejected (or propagated as NaN where the signature
// has no error).
//
// Contents:
//   - Quantile: numpy's default linear percentile, +Inf aware (pycma's and
//     COCO's tables use it).
//   - Median: the median with benchstat's order-statistic confidence interval.
//   - Wilson: score interval for a success rate.
//   - ART and ARTBootstrap: COCO's average running time and its bootstrap
//     interval by simulated restarts.
//   - MannWhitney and Holm: rank-sum test (misses tie last) and the
//     Holm–Bonferroni correction for testing many pairs.
//
// Randomness always comes from a *rand.Rand supplied by the caller, so a
// report can be regenerated bit for bit.
package stats

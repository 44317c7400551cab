//go:build race

package realmerge

// raceEnabled shrinks the tests' workloads under the race detector, which
// slows the training and scoring loops about tenfold.
const raceEnabled = true

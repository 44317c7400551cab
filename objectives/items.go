package objectives

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// An evaluation of a real merge costs about its number of benchmark items
// (lm-eval --limit 100 costs a tenth of --limit 1000), so the items an
// evaluation is scored on are a fidelity a method may choose. The types
// below let an objective be scored on part of its items and report each
// item's outcome, so the harness can count items instead of evaluations
// (bench --budget-items) and fidelity-aware methods can compare candidates
// on the same items.

// ItemList describes the items of an objective scored on a benchmark.
type ItemList struct {
	// N is the number of items of a full evaluation: the length of the
	// list when the items are fixed, the sample size otherwise. 0 means
	// the objective is not scored on items (a mock without items).
	N int
	// Fixed says the items are one fixed ordered list, as lm-eval's
	// --limit takes a task's first items: a candidate's first n items are
	// a prefix of the list, scoring the same candidate twice on the same
	// items gives the same outcomes, and two candidates' outcomes on the
	// same item are paired. When false every evaluation draws its items
	// afresh from a large pool, and no two evaluations share an item.
	Fixed bool
	// PrefixOnly says the evaluator can only score a prefix of the list
	// (a command with {limit} but no {offset}): EvaluateItems must then be
	// called with from 0, and extending a candidate from n to m items
	// costs m, not m − n.
	PrefixOnly bool
}

// ItemValue is an evaluation on some items: the value over those items and,
// when the objective reports them, each item's score.
type ItemValue struct {
	Value
	// PerItem holds each item's score in item order (1 correct, 0 wrong
	// for an accuracy), nil when the objective does not report them.
	// Observed is their mean in the objective's units (the mock and
	// mnist-merge report a percentage: 100 × the mean), before any noise
	// the objective adds on top of the items.
	PerItem []float64
}

// ItemFunction is an objective scored on benchmark items, where scoring a
// candidate on n items costs n.
type ItemFunction interface {
	Function
	// Items describes the item list.
	Items() ItemList
	// EvaluateItems scores x on n items (1 ≤ n ≤ Items().N): on a fixed
	// list, items from … from+n−1 (from + n ≤ N); otherwise n items drawn
	// afresh with rng, from being ignored. Observed is the mean score over
	// these items, so scores on consecutive ranges combine by their item
	// counts. Evaluate(x) is EvaluateItems(x, 0, N).
	EvaluateItems(ctx context.Context, x []float64, from, n int, rng *rand.Rand) (ItemValue, error)
}

// CheckItemRange reports a range of items outside the list.
func CheckItemRange(l ItemList, from, n int) error {
	if n < 1 || n > l.N {
		return fmt.Errorf("%d items: want 1 to %d", n, l.N)
	}
	if !l.Fixed {
		return nil
	}
	if from < 0 || from > l.N-n {
		return fmt.Errorf("items %d…%d: outside the list of %d items", from, from+n-1, l.N)
	}
	if l.PrefixOnly && from != 0 {
		return fmt.Errorf("items %d…%d: this evaluator scores only a prefix of its items (from item 0)", from, from+n-1)
	}
	return nil
}

// ItemModels lists the values of Spec.ItemModel besides "" (sampled).
var ItemModels = []string{"sampled", "fixed", "fixed:RHO"}

// DefaultItemCorr is the latent correlation ρ of "fixed": an item's
// difficulty explains ρ² = 64% of the variance of whether a candidate
// answers it. It is an assumption of the mock, not a measurement: merges of
// the same base models share most of their right and wrong answers.
const DefaultItemCorr = 0.8

// ParseItemModel reads an item model: "" or "sampled" (every evaluation
// draws its items afresh; ρ is reported as −1), "fixed" (one fixed list
// with DefaultItemCorr) or "fixed:RHO" with 0 ≤ RHO < 1.
func ParseItemModel(s string) (fixed bool, rho float64, err error) {
	switch {
	case s == "" || s == "sampled":
		return false, -1, nil
	case s == "fixed":
		return true, DefaultItemCorr, nil
	case strings.HasPrefix(s, "fixed:"):
		v, perr := strconv.ParseFloat(strings.TrimPrefix(s, "fixed:"), 64)
		if perr != nil || !(v >= 0 && v < 1) {
			return false, 0, fmt.Errorf("item model %q: want fixed:RHO with 0 ≤ RHO < 1 (the correlation an item's difficulty induces), e.g. fixed:0.8", s)
		}
		return true, v, nil
	}
	return false, 0, fmt.Errorf("unknown item model %q (known: %s)", s, strings.Join(ItemModels, ", "))
}

// fixedItems is the mock's fixed item list: item i has a difficulty z_i
// drawn once from the objective's seed. Candidate x answers item i
// correctly iff ρ·z_i + √(1−ρ²)·ε_{x,i} < Φ⁻¹(p(x)), where p(x) is x's true
// score ÷ 100 and ε_{x,i} a standard normal fixed by x and i (a hash of
// both, so the same candidate gives the same answers, as greedy decoding
// does). This is a Gaussian copula: each candidate's chance on a random
// item is exactly p(x), and two candidates' answers on one item are
// correlated through z_i, which is what makes paired comparisons on the
// same items less noisy than unpaired ones.
type fixedItems struct {
	rho, s float64   // ρ and √(1−ρ²)
	z      []float64 // difficulties, one per item
	salt   uint64    // from the seed: another seed, other answers
}

func newFixedItems(n int, rho float64, seed uint64) *fixedItems {
	r := seededRand(seed, 0x6974656d73) // "items"
	f := &fixedItems{rho: rho, s: math.Sqrt(1 - rho*rho), z: make([]float64, n), salt: splitmix64(seed ^ 0x6974656d73)}
	for i := range f.z {
		f.z[i] = r.NormFloat64()
	}
	return f
}

// answer scores items from … from+n−1 for a candidate of true probability
// p whose coordinates are x, appending 0 or 1 per item to out.
func (f *fixedItems) answer(x []float64, p float64, from, n int, out []float64) []float64 {
	h := f.salt
	for _, v := range x {
		h = splitmix64(h ^ math.Float64bits(v))
	}
	var c float64
	switch {
	case p <= 0:
		c = math.Inf(-1)
	case p >= 1:
		c = math.Inf(1)
	default:
		c = math.Sqrt2 * math.Erfinv(2*p-1) // Φ⁻¹(p)
	}
	for i := from; i < from+n; i++ {
		// P(correct | z_i) = Φ((c − ρ z_i)/s); u_i uniform, fixed by (x, i).
		q := 0.5 * math.Erfc(-(c-f.rho*f.z[i])/(f.s*math.Sqrt2))
		u := float64(splitmix64(h^uint64(i+1)*0x9e3779b97f4a7c15)>>11) / (1 << 53)
		if u < q {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
	}
	return out
}

// splitmix64 is SplitMix64's finaliser, a bijective mixer of 64 bits.
func splitmix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

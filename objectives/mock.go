package objectives

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// SimulatorOptimum is the secret optimum of the original simulator.
var SimulatorOptimum = []float64{0.35, 0.65, 0.10, 0.90}

// MockConfig configures the mock merge objective.
type MockConfig struct {
	Dim     int
	Noise   float64   // σ of additive Gaussian noise on the score
	Items   int       // if > 0, the score is an accuracy on this many items
	Optimum []float64 // nil: drawn uniformly from [0.05, 0.95]^Dim with Seed
	Seed    uint64
	// Landscape is one of Landscapes; "" means peak.
	Landscape string
	// NoiseModel is one of NoiseModels; "" means gauss (only Noise).
	NoiseModel string
	// FailRate is the probability that an evaluation fails (ErrEvalFailed).
	FailRate float64
	// Width is the peak's width per coordinate; 0 means 0.25, the pycma
	// reference set-up, where a random point scores about 1.5. Real merges
	// are kinder (random recipes keep a fair part of the accuracy): at 0.5
	// a random point scores about 35.
	Width float64
	// ItemModel says how the Items are drawn (ParseItemModel): "" samples
	// them afresh for every evaluation; "fixed" makes them one fixed list
	// whose items have difficulties shared by every candidate.
	ItemModel string
}

// Mock is the mock merge objective, the definition of the pycma reference
// set-up: merge weights w in [0,1]^n score
//
//	true(w) = 100 · exp(−‖w − w*‖² / (2 · width² · n/4)),  width = 0.25
//
// so the peak's width grows with √n and a point at a fixed per-coordinate
// distance from w* scores the same in every dimension. The observed score is
// the true score plus noise, in this order: if Items > 0 it is an accuracy
// on Items benchmark items, 100·Binomial(Items, true/100)/Items, the noise
// real merges have; then the noise model acts on the regret (see
// NoiseModels); then Gaussian noise of σ Noise is added. With probability
// FailRate the evaluation fails instead (ErrEvalFailed). Points outside
// the box are clipped before scoring (the harness never sends any there).
// Landscape changes the shape of the peak (see Landscapes).
type Mock struct {
	cfg   MockConfig
	wstar []float64
	scale float64 // 2·0.25²·n/4
	box   Box
	land  landscape
	noise noiseModel
	fixed *fixedItems // the fixed item list (ItemModel fixed), else nil
}

// NewMock builds the mock merge objective.
func NewMock(c MockConfig) (*Mock, error) {
	if c.Dim < 1 {
		return nil, fmt.Errorf("mock objective: dimension %d must be at least 1", c.Dim)
	}
	if c.Noise < 0 || math.IsNaN(c.Noise) || math.IsInf(c.Noise, 0) {
		return nil, fmt.Errorf("mock objective: noise %g must be a finite non-negative number", c.Noise)
	}
	if c.Items < 0 || c.Items > 1_000_000 {
		return nil, fmt.Errorf("mock objective: items %d must lie in 0..1,000,000 (each evaluation draws every item)", c.Items)
	}
	if !(c.FailRate >= 0 && c.FailRate < 1) {
		return nil, fmt.Errorf("mock objective: failure rate %g must lie in [0, 1)", c.FailRate)
	}
	width := c.Width
	if width == 0 {
		width = 0.25
	}
	if !(width > 0 && width <= 10) {
		return nil, fmt.Errorf("mock objective: width %g must lie in (0, 10]", c.Width)
	}
	m := &Mock{cfg: c, scale: 2 * width * width * float64(c.Dim) / 4}
	if c.Optimum != nil {
		if len(c.Optimum) != c.Dim {
			return nil, fmt.Errorf("mock objective: optimum has %d coordinates for dimension %d", len(c.Optimum), c.Dim)
		}
		for i, v := range c.Optimum {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("mock objective: optimum coordinate %d is %g, outside [0,1]", i, v)
			}
		}
		m.wstar = append([]float64(nil), c.Optimum...)
	} else {
		r := seededRand(c.Seed, 0x6f7074696d756d) // "optimum"
		m.wstar = make([]float64, c.Dim)
		for i := range m.wstar {
			m.wstar[i] = 0.05 + 0.9*r.Float64()
		}
		if c.Landscape == "boundary" {
			boundaryOptimum(m.wstar)
		}
	}
	var err error
	if m.land, err = newLandscape(c.Landscape, m.wstar, c.Seed); err != nil {
		return nil, fmt.Errorf("mock objective: %w", err)
	}
	if m.noise, err = newNoiseModel(c.NoiseModel); err != nil {
		return nil, fmt.Errorf("mock objective: %w", err)
	}
	fixed, rho, err := ParseItemModel(c.ItemModel)
	if err != nil {
		return nil, fmt.Errorf("mock objective: %w", err)
	}
	if c.ItemModel != "" && c.Items == 0 {
		return nil, fmt.Errorf("mock objective: item model %q needs items (--items N)", c.ItemModel)
	}
	if fixed {
		m.fixed = newFixedItems(c.Items, rho, c.Seed)
	}
	m.box = unitBox(c.Dim, true)
	return m, nil
}

func unitBox(n int, constraint bool) Box {
	b := Box{Lower: make([]float64, n), Upper: make([]float64, n), Constraint: constraint}
	for i := range b.Upper {
		b.Upper[i] = 1
	}
	return b
}

// Name reports "mock".
func (m *Mock) Name() string { return "mock" }

// Dim reports the number of merge weights.
func (m *Mock) Dim() int { return m.cfg.Dim }

// Box is [0,1]^n, a constraint.
func (m *Mock) Box() Box { return m.box }

// Sense is Maximize: the score is an accuracy-like percentage.
func (m *Mock) Sense() Sense { return Maximize }

// Best is 100, the score at the optimum.
func (m *Mock) Best() float64 { return 100 }

// DefaultTarget is a true score of 99.
func (m *Mock) DefaultTarget() float64 { return 99 }

// Optimum returns a copy of w*.
func (m *Mock) Optimum() []float64 { return append([]float64(nil), m.wstar...) }

// True is the noise-free score.
func (m *Mock) True(w []float64) float64 {
	var buf [64]float64
	c := buf[:0]
	if len(w) > len(buf) {
		c = make([]float64, 0, len(w))
	}
	for _, v := range w {
		c = append(c, min(max(v, 0), 1))
	}
	score := 100 * math.Exp(-m.land.q(c)/m.scale)
	if m.land.after != nil {
		score = m.land.after(score, c)
	}
	return score
}

// Evaluate returns the observed and the true score of w.
func (m *Mock) Evaluate(ctx context.Context, w []float64, rng *rand.Rand) (Value, error) {
	if m.fixed != nil {
		v, err := m.EvaluateItems(ctx, w, 0, m.cfg.Items, rng)
		return v.Value, err
	}
	if len(w) != m.cfg.Dim {
		return Value{}, fmt.Errorf("mock objective: candidate has %d coordinates, want %d", len(w), m.cfg.Dim)
	}
	if m.cfg.FailRate > 0 && rng.Float64() < m.cfg.FailRate {
		return Value{}, fmt.Errorf("mock objective: simulated crash: %w", ErrEvalFailed)
	}
	t := m.True(w)
	obs := t
	if m.cfg.Items > 0 {
		obs = 100 * float64(Binomial(rng, m.cfg.Items, t/100)) / float64(m.cfg.Items)
	}
	if m.noise != nil {
		obs = 100 - m.noise(100-obs, m.cfg.Dim, rng)
	}
	if m.cfg.Noise > 0 {
		obs += m.cfg.Noise * rng.NormFloat64()
	}
	return Value{Observed: obs, True: t}, nil
}

// Items is the mock's item list: Items items, fixed or sampled afresh by
// ItemModel; N is 0 without items (the score is then not an accuracy).
func (m *Mock) Items() ItemList {
	return ItemList{N: m.cfg.Items, Fixed: m.fixed != nil}
}

// EvaluateItems scores w on n of its items (see ItemFunction), reporting
// each item's outcome. Sampled items are drawn as Evaluate draws them, so
// EvaluateItems(w, 0, Items) observes what Evaluate observes with the same
// rng; fixed items are answered as fixedItems describes. The noise model
// and the Gaussian noise act on the accuracy over the n items, as they act
// on Evaluate's.
func (m *Mock) EvaluateItems(ctx context.Context, w []float64, from, n int, rng *rand.Rand) (ItemValue, error) {
	if len(w) != m.cfg.Dim {
		return ItemValue{}, fmt.Errorf("mock objective: candidate has %d coordinates, want %d", len(w), m.cfg.Dim)
	}
	if m.cfg.Items == 0 {
		return ItemValue{}, fmt.Errorf("mock objective: not scored on items (set items)")
	}
	if err := CheckItemRange(m.Items(), from, n); err != nil {
		return ItemValue{}, fmt.Errorf("mock objective: %w", err)
	}
	if m.cfg.FailRate > 0 && rng.Float64() < m.cfg.FailRate {
		return ItemValue{}, fmt.Errorf("mock objective: simulated crash: %w", ErrEvalFailed)
	}
	t := m.True(w)
	per := make([]float64, 0, n)
	p := t / 100
	switch {
	case m.fixed != nil:
		per = m.fixed.answer(w, p, from, n, per)
	case p <= 0: // as Binomial: no draws
		per = per[:n]
	case p >= 1:
		for range n {
			per = append(per, 1)
		}
	default:
		for range n {
			if rng.Float64() < p {
				per = append(per, 1)
			} else {
				per = append(per, 0)
			}
		}
	}
	k := 0.0
	for _, v := range per {
		k += v
	}
	obs := 100 * k / float64(n)
	if m.noise != nil {
		obs = 100 - m.noise(100-obs, m.cfg.Dim, rng)
	}
	if m.cfg.Noise > 0 {
		obs += m.cfg.Noise * rng.NormFloat64()
	}
	return ItemValue{Value: Value{Observed: obs, True: t}, PerItem: per}, nil
}

// String describes the configuration for headers.
func (m *Mock) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mock merge objective, %d weights, optimum %s", m.cfg.Dim, FormatVector(m.wstar, 2))
	if m.cfg.Landscape != "" && m.cfg.Landscape != "peak" {
		fmt.Fprintf(&b, ", %s landscape", m.cfg.Landscape)
	}
	if m.cfg.NoiseModel != "" && m.cfg.NoiseModel != "gauss" {
		fmt.Fprintf(&b, ", %s noise", m.cfg.NoiseModel)
	}
	if m.cfg.FailRate > 0 {
		fmt.Fprintf(&b, ", %g%% failed evaluations", 100*m.cfg.FailRate)
	}
	if m.cfg.Items > 0 {
		fmt.Fprintf(&b, ", %d benchmark items", m.cfg.Items)
		if m.fixed != nil {
			fmt.Fprintf(&b, " (a fixed list, item correlation ρ %g)", m.fixed.rho)
		}
	}
	if m.cfg.Noise > 0 {
		fmt.Fprintf(&b, ", noise σ %g", m.cfg.Noise)
	}
	return b.String()
}

// FormatVector prints v as "[a b c]" with the given decimals, the form of
// the original simulator.
func FormatVector(v []float64, decimals int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.*f", decimals, x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Binomial draws the number of successes in n trials of probability p.
// It counts Bernoulli draws: benchmark sizes are at most a few thousand
// items, and exact counting keeps the draw a simple function of rng.
func Binomial(rng *rand.Rand, n int, p float64) int {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	k := 0
	for range n {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

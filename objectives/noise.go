package objectives

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// NoiseModels lists the noise models beside additive Gaussian noise: COCO's
// noisy testbed (Hansen et al., "Real-parameter black-box optimization
// benchmarking 2009: noisy functions definitions", RR-6869), each moderate
// and severe. For a score objective they act on the regret 100 − score, as
// COCO's act on f − f_opt, and the observed score is 100 − noisy regret:
//
//	gn  Gaussian:  r · exp(β·N(0,1));            β = 0.01 | 1
//	un  uniform:   r · U^β · max(1, (10⁹/(r+ε))^(α·U'));
//	               α = 0.01·(0.49 + 1/n), β = 0.01 | α = 0.49 + 1/n, β = 1
//	cn  Cauchy:    r + α·max(0, 1000 + 1{U<p}·N/(|N'| + 1e−199));
//	               α = 0.01, p = 0.05 | α = 1, p = 0.2
//
// (the Cauchy model's constant 1000·α offset is COCO's; it shifts every
// observation alike and so changes no ranking).
var NoiseModels = []string{"gauss", "gn-moderate", "gn-severe", "un-moderate", "un-severe", "cn-moderate", "cn-severe"}

// ErrEvalFailed marks an evaluation that failed the way a crashed merge or
// benchmark does: the evaluation is spent, the run goes on. The harness
// records it and hands the optimiser a penalty instead of a score.
var ErrEvalFailed = errors.New("evaluation failed")

// noiseModel perturbs a regret (≥ 0).
type noiseModel func(r float64, n int, rng *rand.Rand) float64

func newNoiseModel(name string) (noiseModel, error) {
	switch name {
	case "", "gauss":
		return nil, nil
	case "gn-moderate", "gn-severe":
		beta := 0.01
		if name == "gn-severe" {
			beta = 1
		}
		return func(r float64, _ int, rng *rand.Rand) float64 {
			return r * math.Exp(beta*rng.NormFloat64())
		}, nil
	case "un-moderate", "un-severe":
		severe := name == "un-severe"
		return func(r float64, n int, rng *rand.Rand) float64 {
			alpha, beta := 0.01*(0.49+1/float64(n)), 0.01
			if severe {
				alpha, beta = 0.49+1/float64(n), 1
			}
			u, u2 := rng.Float64(), rng.Float64()
			return r * math.Pow(u, beta) * math.Max(1, math.Pow(1e9/(r+1e-199), alpha*u2))
		}, nil
	case "cn-moderate", "cn-severe":
		alpha, p := 0.01, 0.05
		if name == "cn-severe" {
			alpha, p = 1, 0.2
		}
		return func(r float64, _ int, rng *rand.Rand) float64 {
			u := rng.Float64()
			z, z2 := rng.NormFloat64(), rng.NormFloat64()
			out := 1000.0
			if u < p {
				out += z / (math.Abs(z2) + 1e-199)
			}
			return r + alpha*math.Max(0, out)
		}, nil
	}
	return nil, fmt.Errorf("unknown noise model %q (known: %v)", name, NoiseModels)
}

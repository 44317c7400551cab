package bench

import "math/rand/v2"

// FailurePenalty is the loss an optimiser is told for an evaluation that
// failed (a crashed merge or benchmark): the worst loss observed so far, a
// value every comparison-based method ranks last without leaving the scale
// of the objective. Before any success it is the loss of a score of 0 when
// Floor says scores cannot go below 0 (percentages), and a huge finite loss
// otherwise (an unknown scale, or a loss).
type FailurePenalty struct {
	// Maximize says scores are maximised (losses are negated scores).
	Maximize bool
	// Floor says 0 is the worst score there is.
	Floor bool

	worst  float64
	scored int
}

// Observe records the loss of a successful evaluation.
func (p *FailurePenalty) Observe(loss float64) {
	if p.scored == 0 || loss > p.worst {
		p.worst = loss
	}
	p.scored++
}

// Loss is the loss to report for a failure now.
func (p *FailurePenalty) Loss() float64 {
	if p.scored > 0 {
		return p.worst
	}
	if p.Maximize && p.Floor {
		return 0
	}
	return 1e30
}

// NoiseSource returns the noise source of evaluation number i of a run
// seeded with seed: a function of the two alone, so an evaluation's noise
// does not depend on which evaluations ran before it, concurrently with
// it, or were replayed from a journal. It reseeds pcg, which a run reuses
// for every evaluation (no allocation on the evaluation path).
func NoiseSource(pcg *rand.PCG, seed uint64, i int) {
	pcg.Seed(seed^0x6e6f697365, splitmix(uint64(i))) // "noise"
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

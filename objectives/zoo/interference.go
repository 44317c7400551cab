package zoo

import (
	"fmt"
	"math"
	"slices"
)

// TopFraction is the share of each task vector's largest magnitudes that
// Interference compares signs over: TIES-Merging's default trim keeps the
// top 20% (Yadav et al., NeurIPS 2023, arXiv:2306.01708).
const TopFraction = 0.2

// PairInterference is how two experts' task vectors (expert minus base)
// meet in one linear layer (weight and bias together).
type PairInterference struct {
	A, B  string
	Layer int
	// Cosine is the cosine similarity of the two task vectors.
	Cosine float64
	// Overlap is the share of A's top-TopFraction magnitudes that are also
	// in B's top-TopFraction (TopFraction when the two are unrelated).
	Overlap float64
	// Conflict is TIES's sign-conflict rate: among the parameters in both
	// experts' top-TopFraction magnitudes, the share whose changes have
	// opposite signs (NaN when there are none).
	Conflict float64
}

// Interference measures every pair of z's experts in every layer: the
// cosine similarity of their task vectors and the TIES sign-conflict rate
// among their top-20% magnitudes. Pairs come in z.Experts() order (A
// before B), layers in order.
func Interference(z *Zoo) ([]PairInterference, error) {
	base, _, err := LoadNet(z.Path(Base))
	if err != nil {
		return nil, err
	}
	experts := z.Experts()
	deltas := make([][][]float32, len(experts)) // expert, layer
	for i, e := range experts {
		n, _, err := LoadNet(z.Path(e))
		if err != nil {
			return nil, err
		}
		if !slices.Equal(n.Sizes(), base.Sizes()) {
			return nil, fmt.Errorf("zoo %s: expert %s has layers %v, the base %v", z.Dir, e, n.Sizes(), base.Sizes())
		}
		for l := 0; l < base.Layers(); l++ {
			d := make([]float32, 0, len(n.wt[l])+len(n.b[l]))
			for k, v := range n.wt[l] {
				d = append(d, v-base.wt[l][k])
			}
			for k, v := range n.b[l] {
				d = append(d, v-base.b[l][k])
			}
			deltas[i] = append(deltas[i], d)
		}
	}
	var out []PairInterference
	for a := range experts {
		for b := a + 1; b < len(experts); b++ {
			for l := 0; l < base.Layers(); l++ {
				out = append(out, pairInterference(experts[a], experts[b], l, deltas[a][l], deltas[b][l]))
			}
		}
	}
	return out, nil
}

// pairInterference compares two task vectors of one layer.
func pairInterference(a, b string, layer int, x, y []float32) PairInterference {
	var dot, nx, ny float64
	for i := range x {
		dot += float64(x[i]) * float64(y[i])
		nx += float64(x[i]) * float64(x[i])
		ny += float64(y[i]) * float64(y[i])
	}
	p := PairInterference{A: a, B: b, Layer: layer, Cosine: math.NaN(), Conflict: math.NaN()}
	if nx > 0 && ny > 0 {
		p.Cosine = dot / math.Sqrt(nx*ny)
	}
	tx, ty := topThreshold(x), topThreshold(y)
	both, conflict, inX := 0, 0, 0
	for i := range x {
		ax, ay := abs32(x[i]), abs32(y[i])
		if ax >= tx && ax > 0 {
			inX++
			if ay >= ty && ay > 0 {
				both++
				if (x[i] > 0) != (y[i] > 0) {
					conflict++
				}
			}
		}
	}
	if inX > 0 {
		p.Overlap = float64(both) / float64(inX)
	}
	if both > 0 {
		p.Conflict = float64(conflict) / float64(both)
	}
	return p
}

// topThreshold is the magnitude of rank ⌈TopFraction·n⌉ in descending
// order: values at least this large are the top TopFraction.
func topThreshold(x []float32) float32 {
	m := make([]float32, len(x))
	for i, v := range x {
		m[i] = abs32(v)
	}
	slices.Sort(m)
	k := int(math.Ceil(TopFraction * float64(len(m))))
	if k < 1 {
		k = 1
	}
	return m[len(m)-k]
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// LayerInterference summarises Interference per layer over all pairs.
type LayerInterference struct {
	Layer int
	// Pairs is the number of expert pairs.
	Pairs int
	// MeanCosine, MinCosine and MaxCosine summarise the pairs' cosines.
	MeanCosine, MinCosine, MaxCosine float64
	// MeanConflict, MinConflict and MaxConflict summarise the pairs'
	// sign-conflict rates (pairs without shared top parameters left out).
	MeanConflict, MinConflict, MaxConflict float64
	// MeanOverlap is the mean share of shared top parameters.
	MeanOverlap float64
}

// SummariseInterference groups pairs by layer.
func SummariseInterference(pairs []PairInterference) []LayerInterference {
	var out []LayerInterference
	for _, p := range pairs {
		for len(out) <= p.Layer {
			out = append(out, LayerInterference{Layer: len(out), MinCosine: math.Inf(1), MaxCosine: math.Inf(-1), MinConflict: math.Inf(1), MaxConflict: math.Inf(-1)})
		}
		s := &out[p.Layer]
		s.Pairs++
		s.MeanCosine += p.Cosine
		s.MinCosine, s.MaxCosine = min(s.MinCosine, p.Cosine), max(s.MaxCosine, p.Cosine)
		s.MeanOverlap += p.Overlap
		if !math.IsNaN(p.Conflict) {
			s.MeanConflict += p.Conflict
			s.MinConflict, s.MaxConflict = min(s.MinConflict, p.Conflict), max(s.MaxConflict, p.Conflict)
		}
	}
	for i := range out {
		s := &out[i]
		n := 0
		for _, p := range pairs {
			if p.Layer == s.Layer && !math.IsNaN(p.Conflict) {
				n++
			}
		}
		s.MeanCosine /= float64(s.Pairs)
		s.MeanOverlap /= float64(s.Pairs)
		if n > 0 {
			s.MeanConflict /= float64(n)
		} else {
			s.MeanConflict, s.MinConflict, s.MaxConflict = math.NaN(), math.NaN(), math.NaN()
		}
	}
	return out
}

package objectives

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Landscapes lists the shapes of the mock merge objective. Each is a score
// 100·exp(−Q(w)/s), s = 2·width²·n/4, on [0,1]^n with Q ≥ 0 and Q(w*) = 0,
// so the optimum scores exactly 100 and the true value is always known;
// they differ in what makes real merges hard (docs/domain.md).
// ill, rotated and ties are rescaled so that a uniformly random point has
// the same expected Q as under peak (see calibrate):
//
//	peak       Q = ‖w − w*‖²: the isotropic peak of the original simulator.
//	ill        Q = Σ c_i (w_i − w*_i)², c_i ∝ 10^(3·i/(n−1)): per-layer
//	           sensitivities spanning three orders of magnitude, as early
//	           and late layers of a network differ.
//	rotated    Q = ‖D R (w − w*)‖² with the sensitivities of ill and a random
//	           rotation R from the seed: parameters interact.
//	ripples    peak × (1 − ½·r(w)), r = (1/n) Σ (1 − cos(2π·5·(w_i − w*_i)))/2:
//	           local optima on the peak (a multimodal merge landscape).
//	plateau    peak rounded to steps of 5 points: accuracy on a fixed set
//	           of items is a step function of the weights, flat almost
//	           everywhere.
//	boundary   peak with w* on the box's boundary in every other coordinate
//	           (alternately 0 and 1: a weight of 0, a density of 1), where
//	           methods that shrink towards the centre or reflect fail.
//	ties       weight × density pairs (w_k, d_k), one per model (n even):
//	           Q = Σ_k 25·(w_k·m(d_k) − w*_k·m(d*_k))² + (d_k − d*_k)²,
//	           m(d) = 1 − (1 − d)³ the share of a task vector's mass that
//	           magnitude pruning at density d keeps. The score depends
//	           mostly on the product, as in TIES/DARE merges where a lower
//	           density is compensated by a larger weight: a curved ridge.
var Landscapes = []string{"peak", "ill", "rotated", "ripples", "plateau", "boundary", "ties"}

// landscape is Q(w) of one shape, built for a dimension and an optimum.
type landscape struct {
	name  string
	q     func(w []float64) float64
	after func(score float64, w []float64) float64 // optional transform of the score
}

func illWeights(n int) []float64 {
	c := make([]float64, n)
	for i := range c {
		if n == 1 {
			c[i] = 1
			continue
		}
		c[i] = math.Pow(10, 3*(float64(i)/float64(n-1)-0.5))
	}
	return c
}

// boundaryOptimum moves every other coordinate of w* to 0 or 1 in turn.
func boundaryOptimum(w []float64) {
	for i := 0; i < len(w); i += 2 {
		if (i/2)%2 == 0 {
			w[i] = 0
		} else {
			w[i] = 1
		}
	}
}

// randomRotation draws a uniformly random orthogonal matrix (QR of a
// Gaussian matrix with the signs of R's diagonal fixed, Mezzadri 2007).
func randomRotation(n int, r *rand.Rand) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			g.Set(i, j, r.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, rr mat.Dense
	qr.QTo(&q)
	qr.RTo(&rr)
	for j := range n {
		if rr.At(j, j) < 0 {
			for i := range n {
				q.Set(i, j, -q.At(i, j))
			}
		}
	}
	return &q
}

// calibrate rescales q so that a uniformly random point of the box has the
// same expected Q as under peak: every landscape then starts from the same
// typical score, and differs only in shape. The expectations are estimated
// on 2,000 points drawn from the seed.
func calibrate(l landscape, sq func([]float64) float64, n int, seed uint64) landscape {
	r := seededRand(seed, 0x63616c) // "cal"
	w := make([]float64, n)
	var sumQ, sumSq float64
	for range 2000 {
		for i := range w {
			w[i] = r.Float64()
		}
		sumQ += l.q(w)
		sumSq += sq(w)
	}
	if sumQ <= 0 {
		return l
	}
	k := sumSq / sumQ
	q := l.q
	l.q = func(w []float64) float64 { return k * q(w) }
	return l
}

func newLandscape(name string, wstar []float64, seed uint64) (landscape, error) {
	l, sq, err := buildLandscape(name, wstar, seed)
	if err != nil {
		return l, err
	}
	switch name {
	case "ill", "rotated", "ties":
		l = calibrate(l, sq, len(wstar), seed)
	}
	return l, nil
}

func buildLandscape(name string, wstar []float64, seed uint64) (landscape, func([]float64) float64, error) {
	n := len(wstar)
	sq := func(w []float64) float64 {
		s := 0.0
		for i, v := range w {
			d := v - wstar[i]
			s += d * d
		}
		return s
	}
	switch name {
	case "", "peak", "boundary":
		return landscape{name: name, q: sq}, sq, nil
	case "ill":
		c := illWeights(n)
		return landscape{name: name, q: func(w []float64) float64 {
			s := 0.0
			for i, v := range w {
				d := v - wstar[i]
				s += c[i] * d * d
			}
			return s
		}}, sq, nil
	case "rotated":
		c := illWeights(n)
		rot := randomRotation(n, seededRand(seed, 0x726f74)) // "rot"
		m := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				m.Set(i, j, math.Sqrt(c[i])*rot.At(i, j))
			}
		}
		raw := m.RawMatrix()
		return landscape{name: name, q: func(w []float64) float64 {
			s := 0.0
			for i := range n {
				row := raw.Data[i*raw.Stride : i*raw.Stride+n]
				z := 0.0
				for j, v := range w {
					z += row[j] * (v - wstar[j])
				}
				s += z * z
			}
			return s
		}}, sq, nil
	case "ripples":
		return landscape{name: name, q: sq, after: func(score float64, w []float64) float64 {
			r := 0.0
			for i, v := range w {
				r += (1 - math.Cos(2*math.Pi*5*(v-wstar[i]))) / 2
			}
			return score * (1 - 0.5*r/float64(n))
		}}, sq, nil
	case "plateau":
		return landscape{name: name, q: sq, after: func(score float64, _ []float64) float64 {
			return 5 * math.Round(score/5)
		}}, sq, nil
	case "ties":
		if n%2 != 0 {
			return landscape{}, nil, fmt.Errorf("landscape ties: dimension %d must be even (a weight and a density per model)", n)
		}
		m := func(d float64) float64 { return 1 - math.Pow(1-d, 3) }
		return landscape{name: name, q: func(w []float64) float64 {
			s := 0.0
			for k := 0; k < n; k += 2 {
				e := w[k]*m(w[k+1]) - wstar[k]*m(wstar[k+1])
				dd := w[k+1] - wstar[k+1]
				s += 25*e*e + dd*dd
			}
			return s
		}}, sq, nil
	}
	return landscape{}, nil, fmt.Errorf("unknown landscape %q (known: %v)", name, Landscapes)
}

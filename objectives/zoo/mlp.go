package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Sizes is the zoo's architecture: 784 inputs, two ReLU hidden layers, and
// two heads of ten output units (units 0–9 for digits, 10–19 for the skill).
var Sizes = []int{Pixels, 128, 64, 2 * HeadSize}

// gemm is gonum's pure-Go BLAS. Its float32 kernels are assembly, skip zero
// multipliers (most MNIST pixels and many ReLU outputs), and split work over
// goroutines by matrix size only, so results do not depend on GOMAXPROCS.
var gemm = gonum.Implementation{}

// Net is a ReLU MLP held in the layout its forward pass wants: each layer's
// weight transposed to in×out (row-major), so that inputs multiply from the
// left and zero inputs are skipped. Checkpoints hold the PyTorch layout
// out×in; SetLayer and Layer convert.
type Net struct {
	sizes []int
	wt    [][]float32 // layer l: sizes[l] × sizes[l+1]
	b     [][]float32 // layer l: sizes[l+1]
}

// NewNet returns a zero network of the given layer sizes.
func NewNet(sizes []int) *Net {
	n := &Net{sizes: append([]int(nil), sizes...)}
	for l := 0; l+1 < len(sizes); l++ {
		n.wt = append(n.wt, make([]float32, sizes[l]*sizes[l+1]))
		n.b = append(n.b, make([]float32, sizes[l+1]))
	}
	return n
}

// Sizes returns the layer sizes (inputs first). Callers must not modify it.
func (n *Net) Sizes() []int { return n.sizes }

// Layers is the number of linear layers.
func (n *Net) Layers() int { return len(n.wt) }

// SetLayer copies layer l's weight, given in the checkpoint layout out×in,
// and its bias into the network.
func (n *Net) SetLayer(l int, w, b []float32) error {
	if l < 0 || l >= len(n.wt) {
		return fmt.Errorf("layer %d does not exist (the net has %d)", l, len(n.wt))
	}
	in, out := n.sizes[l], n.sizes[l+1]
	if len(w) != in*out || len(b) != out {
		return fmt.Errorf("layer %d: weight has %d values and bias %d, want %d×%d and %d", l, len(w), len(b), out, in, out)
	}
	transpose(n.wt[l], w, out, in)
	copy(n.b[l], b)
	return nil
}

// Layer returns layer l's weight in the checkpoint layout out×in and a copy
// of its bias.
func (n *Net) Layer(l int) (w, b []float32) {
	in, out := n.sizes[l], n.sizes[l+1]
	w = make([]float32, in*out)
	transpose(w, n.wt[l], in, out)
	return w, append([]float32(nil), n.b[l]...)
}

// transpose writes the c×r transpose of the r×c row-major matrix src to dst,
// in tiles so that both sides stay in cache.
func transpose(dst, src []float32, r, c int) {
	const t = 32
	for i0 := 0; i0 < r; i0 += t {
		for j0 := 0; j0 < c; j0 += t {
			for i := i0; i < min(i0+t, r); i++ {
				row := src[i*c : (i+1)*c]
				for j := j0; j < min(j0+t, c); j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// initPyTorch draws weights and biases as torch.nn.Linear does by default:
// uniform on ±1/√fan_in.
func (n *Net) initPyTorch(rng *rand.Rand) {
	for l := range n.wt {
		bound := 1 / math.Sqrt(float64(n.sizes[l]))
		for i := range n.wt[l] {
			n.wt[l][i] = float32((2*rng.Float64() - 1) * bound)
		}
		for i := range n.b[l] {
			n.b[l][i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
}

// initHe draws weights from N(0, 2/fan_in) (He et al. 2015) and zero biases.
func (n *Net) initHe(rng *rand.Rand) {
	for l := range n.wt {
		sd := math.Sqrt(2 / float64(n.sizes[l]))
		for i := range n.wt[l] {
			n.wt[l][i] = float32(rng.NormFloat64() * sd)
		}
		clear(n.b[l])
	}
}

func (n *Net) clone() *Net {
	c := &Net{sizes: append([]int(nil), n.sizes...)}
	for l := range n.wt {
		c.wt = append(c.wt, append([]float32(nil), n.wt[l]...))
		c.b = append(c.b, append([]float32(nil), n.b[l]...))
	}
	return c
}

// Workspace holds a forward pass's activations, so that repeated scoring
// allocates nothing. A Workspace is not safe for concurrent use; give each
// goroutine its own.
type Workspace struct {
	act [][]float32  // act[0] is the input, act[l+1] the output of layer l
	dz  [][]float32  // training only: gradients w.r.t. pre-activations
	sub []*Workspace // Mark's per-goroutine workspaces
}

func (ws *Workspace) grow(sizes []int, rows int) {
	if len(ws.act) != len(sizes) {
		ws.act = make([][]float32, len(sizes))
	}
	for l, s := range sizes {
		if cap(ws.act[l]) < rows*s {
			ws.act[l] = make([]float32, rows*s)
		}
		ws.act[l] = ws.act[l][:rows*s]
	}
}

// forward runs rows input rows (x, or ws.act[0] when x is nil) through the
// network, leaving every layer's output in ws.act; hidden layers are ReLU'd
// and the last layer's outputs are the logits.
func (n *Net) forward(ws *Workspace, x []float32, rows int) {
	for l := range n.wt {
		in, out := n.sizes[l], n.sizes[l+1]
		a := ws.act[l]
		if l == 0 && x != nil {
			a = x
		}
		z := ws.act[l+1]
		for r := 0; r < rows; r++ {
			copy(z[r*out:(r+1)*out], n.b[l])
		}
		gemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, out, in, 1, a, in, n.wt[l], out, 1, z, out)
		if l+1 < len(n.wt) {
			for i, v := range z {
				if v < 0 {
					z[i] = 0
				}
			}
		}
	}
}

// forwardSparse is forward on rows lo..lo+m-1 of b, with the first layer
// computed from b's non-zero inputs. It adds the same products in the same
// order as Sgemm's serial kernel, which also skips zero inputs, so the
// results are bit-identical; it only saves the scan over blank pixels.
func (n *Net) forwardSparse(ws *Workspace, b *Batch, lo, m int) {
	out := n.sizes[1]
	z := ws.act[1]
	w := n.wt[0]
	for r := 0; r < m; r++ {
		zr := z[r*out : (r+1)*out]
		copy(zr, n.b[0])
		for k := b.nzPtr[lo+r]; k < b.nzPtr[lo+r+1]; k++ {
			p := int(b.nzIdx[k])
			gemm.Saxpy(out, b.nzVal[k], w[p*out:(p+1)*out], 1, zr, 1)
		}
		for i, v := range zr {
			if v < 0 {
				zr[i] = 0
			}
		}
	}
	for l := 1; l < len(n.wt); l++ {
		in, out := n.sizes[l], n.sizes[l+1]
		z := ws.act[l+1]
		for r := 0; r < m; r++ {
			copy(z[r*out:(r+1)*out], n.b[l])
		}
		gemm.Sgemm(blas.NoTrans, blas.NoTrans, m, out, in, 1, ws.act[l], in, n.wt[l], out, 1, z, out)
		if l+1 < len(n.wt) {
			for i, v := range z {
				if v < 0 {
					z[i] = 0
				}
			}
		}
	}
}

// markChunk is the rows of one forward pass when scoring. At 64 rows
// gonum's Sgemm takes its serial path, whose axpy over a whole output row
// per non-zero input is the fastest form here; chunks are spread over
// goroutines instead, and each item's result lands in its own slot, so
// scores do not depend on the number of workers.
const markChunk = 64

// Mark runs every item of b through the net and sets correct[i] when the
// task head's largest logit is item i's answer (ties go to the lowest unit,
// as argmax does; NaN logits never win). It returns the number correct.
// Mark uses up to GOMAXPROCS goroutines.
func (n *Net) Mark(b *Batch, correct []bool, ws *Workspace) (int, error) {
	if n.sizes[0] != Pixels {
		return 0, fmt.Errorf("net takes %d inputs, images have %d pixels", n.sizes[0], Pixels)
	}
	outs := n.sizes[len(n.sizes)-1]
	if b.Task.Head+HeadSize > outs {
		return 0, fmt.Errorf("task %s reads units %d–%d, the net has %d outputs", b.Task.Name, b.Task.Head, b.Task.Head+HeadSize-1, outs)
	}
	if len(correct) != b.N() {
		return 0, fmt.Errorf("%d marks for %d items", len(correct), b.N())
	}
	chunks := (b.N() + markChunk - 1) / markChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for len(ws.sub) < workers {
		ws.sub = append(ws.sub, &Workspace{})
	}
	counts := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			sub := ws.sub[w]
			for c := w; c < chunks; c += workers {
				lo := c * markChunk
				m := min(markChunk, b.N()-lo)
				sub.grow(n.sizes, m)
				n.forwardSparse(sub, b, lo, m)
				logits := sub.act[len(sub.act)-1]
				for i := 0; i < m; i++ {
					head := logits[i*outs+b.Task.Head : i*outs+b.Task.Head+HeadSize]
					best, bestV := -1, float32(math.Inf(-1))
					for k, v := range head {
						if v > bestV {
							best, bestV = k, v
						}
					}
					ok := best >= 0 && b.Task.Head+best == b.Y[lo+i]
					correct[lo+i] = ok
					if ok {
						counts[w]++
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return total, nil
}

// Accuracy is the fraction of b's items the net answers correctly.
func (n *Net) Accuracy(b *Batch) (float64, error) {
	c, err := n.Mark(b, make([]bool, b.N()), &Workspace{})
	if err != nil {
		return 0, err
	}
	return float64(c) / float64(b.N()), nil
}

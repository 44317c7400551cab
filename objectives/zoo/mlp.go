package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"

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
	act [][]float32 // act[0] is the input, act[l+1] the output of layer l
	dz  [][]float32 // training only: gradients w.r.t. pre-activations
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

// forward runs rows input rows (already in ws.act[0]) through the network,
// leaving every layer's output in ws.act; hidden layers are ReLU'd and the
// last layer's outputs are the logits.
func (n *Net) forward(ws *Workspace, rows int) {
	for l := range n.wt {
		in, out := n.sizes[l], n.sizes[l+1]
		z := ws.act[l+1]
		for r := 0; r < rows; r++ {
			copy(z[r*out:(r+1)*out], n.b[l])
		}
		gemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, out, in, 1, ws.act[l], in, n.wt[l], out, 1, z, out)
		if l+1 < len(n.wt) {
			for i, v := range z {
				if v < 0 {
					z[i] = 0
				}
			}
		}
	}
}

// Correct counts the items of b (all of them when rows is nil, else the
// listed positions) whose task head's largest logit is the right answer.
// Ties go to the lowest unit, as argmax does.
func (n *Net) Correct(b *Batch, rows []int, ws *Workspace) (int, error) {
	if n.sizes[0] != Pixels {
		return 0, fmt.Errorf("net takes %d inputs, images have %d pixels", n.sizes[0], Pixels)
	}
	outs := n.sizes[len(n.sizes)-1]
	if b.Task.Head+HeadSize > outs {
		return 0, fmt.Errorf("task %s reads units %d–%d, the net has %d outputs", b.Task.Name, b.Task.Head, b.Task.Head+HeadSize-1, outs)
	}
	m := b.N()
	if rows != nil {
		m = len(rows)
	}
	if m == 0 {
		return 0, nil
	}
	ws.grow(n.sizes, m)
	if rows == nil {
		copy(ws.act[0], b.X)
	} else {
		for i, r := range rows {
			if r < 0 || r >= b.N() {
				return 0, fmt.Errorf("row %d is outside the batch of %d items", r, b.N())
			}
			copy(ws.act[0][i*Pixels:(i+1)*Pixels], b.X[r*Pixels:(r+1)*Pixels])
		}
	}
	n.forward(ws, m)
	logits := ws.act[len(ws.act)-1]
	correct := 0
	for i := 0; i < m; i++ {
		y := b.Y[i]
		if rows != nil {
			y = b.Y[rows[i]]
		}
		head := logits[i*outs+b.Task.Head : i*outs+b.Task.Head+HeadSize]
		best := 0
		for k, v := range head {
			if v > head[best] {
				best = k
			}
		}
		if b.Task.Head+best == y {
			correct++
		}
	}
	return correct, nil
}

// Accuracy is the fraction of b's items the net answers correctly.
func (n *Net) Accuracy(b *Batch) (float64, error) {
	c, err := n.Correct(b, nil, &Workspace{})
	if err != nil {
		return 0, err
	}
	return float64(c) / float64(b.N()), nil
}

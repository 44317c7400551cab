package zoo

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
)

// sample is one training example: an image of the training set seen through
// one of the trainer's tasks.
type sample struct {
	img  int32
	task int32
}

// trainer runs minibatch SGD with momentum (PyTorch's form: v ← μv + g,
// w ← w − ηv) on softmax cross-entropy over each example's task head only,
// so units outside the head keep their weights: the base never touches the
// second head, which stays at its random initialisation until the skill
// expert trains it.
type trainer struct {
	net      *Net
	tasks    []Task
	srcs     [][]int32
	lr, mom  float32
	batch    int
	vw, vb   [][]float32
	gw, gb   [][]float32
	ws       Workspace
	y        []int
	headOf   []int
	lossSum  float64
	lossSeen int
}

func newTrainer(net *Net, tasks []Task, lr, mom float64, batch int) *trainer {
	tr := &trainer{net: net, tasks: tasks, lr: float32(lr), mom: float32(mom), batch: batch}
	for _, t := range tasks {
		tr.srcs = append(tr.srcs, domainMaps[t.Domain])
	}
	for l := range net.wt {
		tr.vw = append(tr.vw, make([]float32, len(net.wt[l])))
		tr.vb = append(tr.vb, make([]float32, len(net.b[l])))
		tr.gw = append(tr.gw, make([]float32, len(net.wt[l])))
		tr.gb = append(tr.gb, make([]float32, len(net.b[l])))
	}
	tr.ws.grow(net.sizes, batch)
	tr.ws.dz = make([][]float32, len(net.sizes))
	for l, s := range net.sizes {
		tr.ws.dz[l] = make([]float32, batch*s)
	}
	tr.y = make([]int, batch)
	tr.headOf = make([]int, batch)
	return tr
}

// epoch shuffles the samples with rng and takes one step per minibatch (the
// last, partial one included).
func (tr *trainer) epoch(data *Images, samples []sample, rng *rand.Rand) {
	rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	for lo := 0; lo < len(samples); lo += tr.batch {
		tr.step(data, samples[lo:min(lo+tr.batch, len(samples))])
	}
}

func (tr *trainer) step(data *Images, batch []sample) {
	n, sizes, L := len(batch), tr.net.sizes, len(tr.net.wt)
	ws := &tr.ws
	for l, s := range sizes {
		ws.act[l] = ws.act[l][:n*s]
		ws.dz[l] = ws.dz[l][:n*s]
	}
	for i, s := range batch {
		t := tr.tasks[s.task]
		inputRow(ws.act[0][i*Pixels:(i+1)*Pixels], data.Image(int(s.img)), tr.srcs[s.task])
		tr.y[i] = t.Label(int(data.Labels[s.img]))
		tr.headOf[i] = t.Head
	}
	tr.net.forward(ws, nil, n)

	// Softmax cross-entropy over each row's head, averaged over the batch.
	outs := sizes[L]
	logits, dz := ws.act[L], ws.dz[L]
	clear(dz)
	inv := 1 / float32(n)
	for i := 0; i < n; i++ {
		h := tr.headOf[i]
		z := logits[i*outs+h : i*outs+h+HeadSize]
		g := dz[i*outs+h : i*outs+h+HeadSize]
		mx := z[0]
		for _, v := range z {
			mx = max(mx, v)
		}
		var sum float64
		for k, v := range z {
			e := math.Exp(float64(v - mx))
			g[k] = float32(e)
			sum += e
		}
		y := tr.y[i] - h
		tr.lossSum += math.Log(sum) - float64(z[y]-mx)
		tr.lossSeen++
		for k := range g {
			g[k] = float32(float64(g[k])/sum) * inv
		}
		g[y] -= inv
	}

	// Backpropagate: gW_l = a_lᵀ·dz_l, gb_l = Σ_rows dz_l, and
	// dz_{l−1} = (dz_l·W_lᵀ) ⊙ [a_l > 0].
	for l := L - 1; l >= 0; l-- {
		in, out := sizes[l], sizes[l+1]
		d := ws.dz[l+1]
		gemm.Sgemm(blas.Trans, blas.NoTrans, in, out, n, 1, ws.act[l], in, d, out, 0, tr.gw[l], out)
		gb := tr.gb[l]
		clear(gb)
		for r := 0; r < n; r++ {
			for k, v := range d[r*out : (r+1)*out] {
				gb[k] += v
			}
		}
		if l > 0 {
			prev := ws.dz[l]
			gemm.Sgemm(blas.NoTrans, blas.Trans, n, in, out, 1, d, out, tr.net.wt[l], out, 0, prev, in)
			for i, a := range ws.act[l] {
				if a <= 0 {
					prev[i] = 0
				}
			}
		}
	}
	for l := range tr.net.wt {
		sgdMomentum(tr.net.wt[l], tr.vw[l], tr.gw[l], tr.lr, tr.mom)
		sgdMomentum(tr.net.b[l], tr.vb[l], tr.gb[l], tr.lr, tr.mom)
	}
}

func sgdMomentum(w, v, g []float32, lr, mom float32) {
	for i := range w {
		v[i] = mom*v[i] + g[i]
		w[i] -= lr * v[i]
	}
}

// meanLoss returns the average training loss since the last call.
func (tr *trainer) meanLoss() float64 {
	if tr.lossSeen == 0 {
		return math.NaN()
	}
	m := tr.lossSum / float64(tr.lossSeen)
	tr.lossSum, tr.lossSeen = 0, 0
	return m
}

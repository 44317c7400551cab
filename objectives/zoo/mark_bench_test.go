package zoo

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMark scores 1,000 target items, the forward pass of one
// realmerge evaluation.
func BenchmarkMark(b *testing.B) {
	test, err := TestSet()
	if err != nil {
		b.Fatal(err)
	}
	net := NewNet(Sizes)
	net.initPyTorch(rand.New(rand.NewPCG(1, 1)))
	target, _ := LookupTask("target")
	batch, _ := NewBatch(test, target, Range(0, 1000))
	ws := &Workspace{}
	correct := make([]bool, batch.N())
	for b.Loop() {
		net.Mark(batch, correct, ws)
	}
}

package realmerge

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkMultiTask measures candidates per second of the multi-task
// objective's 24-gene TIES merge (6 experts × 4 layer groups, weights only)
// with every core busy, and per CPU-second.
func BenchmarkMultiTask(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  MultiConfig
	}{
		{"ties-g4", MultiConfig{Zoo: multiZoo()}},
		{"ties-g8-densities", MultiConfig{Zoo: multiZoo(), Groups: 8, Densities: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := multiObjective(b, c.cfg)
			box := o.Box()
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(1, 2))
				x := make([]float64, o.Dim())
				for pb.Next() {
					for i := range x {
						x[i] = box.Upper[i] * rng.Float64()
					}
					if _, err := o.Evaluate(context.Background(), x, rng); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "candidates/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "candidates/cpu-s")
			}
		})
	}
}

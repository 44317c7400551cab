package realmerge

import (
	"fmt"
	"io"

	"github.com/evomerge/evomerge/objectives/zoo"
)

// WriteBaselines prints, as markdown, what an evolved merge of the
// mnist-merge objective must beat: each zoo model alone, the untuned merge
// of every method at mergekit's default parameters, and hand-picked
// recipes, all as held-out accuracy on the target task — for the default
// zoo and for the zoo with a distractor expert. The experiments are
// defined here, with the objective, so the page and the searches it
// judges read one definition (`evomerge zoo baselines` only prints).
func WriteBaselines(w io.Writer) error {
	fmt.Fprintf(w, "## Baselines\n\nHeld-out accuracy (MNIST test items 1,000–9,999, never used in a search) on the target task — permuted labels of shifted digits — of zoo seed 1. Made by `evomerge zoo baselines`.\n\n")
	fill := func(v float64) func(o *Objective) []float64 {
		return func(o *Objective) []float64 {
			x := make([]float64, o.Dim())
			for i := range x {
				x[i] = v
			}
			return x
		}
	}
	prototype := func(o *Objective) []float64 {
		a, b := []float64{1.30, 1.76, 0.16}, []float64{0.45, 0.73, 2.97}
		x := make([]float64, o.Dim())
		for g := range 3 {
			x[o.Gene(g, zoo.Reader, "weight")] = a[g]
			x[o.Gene(g, zoo.Skill, "weight")] = b[g]
		}
		return x
	}
	plain := zoo.Config{Seed: 1}
	if err := baselineTable(w, "Reader and skill experts (the 6-gene objective: task arithmetic, a weight per expert and layer)", plain, []baselineRow{
		{"task_arithmetic, weights 1/M = 0.5 (mergekit-evolve's start)", Config{}, fill(0.5)},
		{"task_arithmetic, weights 1", Config{}, fill(1)},
		{"ties, weights 1, density 0.5, normalize (mergekit's defaults)", Config{Method: "ties", Normalize: true}, fill(1)},
		{"ties, weights 1, density 0.5, no normalize", Config{Method: "ties"}, fill(1)},
		{"dare_ties, weights 1, density 0.5, normalize", Config{Method: "dare_ties", Normalize: true}, fill(1)},
		{"per-layer task_arithmetic, the hand-picked vector of the measured prototype (reader 1.30, 1.76, 0.16; skill 0.45, 0.73, 2.97 by layer)", Config{}, prototype},
	}); err != nil {
		return err
	}
	if err := bestGlobalPair(w, plain); err != nil {
		return err
	}
	distract := zoo.Config{Seed: 1, Distractors: []string{"rot90"}}
	return baselineTable(w, "With a distractor expert (rotated digits), the 18-gene objective: ties with a weight and a density per expert and layer", distract, []baselineRow{
		{"task_arithmetic, weights 1/M = 1/3", Config{}, fill(1.0 / 3)},
		{"task_arithmetic, weights 1", Config{}, fill(1)},
		{"ties, weights 1, density 0.5, normalize (mergekit's defaults)", Config{Method: "ties", Normalize: true}, fill(1)},
		{"ties, weights 1, density 0.5, no normalize", Config{Method: "ties"}, fill(1)},
		{"ties, reader and skill 1, distractor 0, density 0.5, no normalize (knowing which expert to drop)", Config{Method: "ties"},
			func(o *Objective) []float64 {
				x := fill(1)(o)
				for g := range 3 {
					x[o.Gene(g, "rot90", "weight")] = 0
				}
				return x
			}},
	})
}

// baselineRow is one recipe of a baselines table: the merge method and
// its options, and the vector it scores.
type baselineRow struct {
	name string
	cfg  Config
	x    func(o *Objective) []float64
}

// baselineTable prints each model of zoo zc alone and then each row, as
// held-out accuracy.
func baselineTable(w io.Writer, title string, zc zoo.Config, rows []baselineRow) error {
	z, err := zoo.Build(zc)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### %s\n\n| model or recipe | held-out accuracy %% |\n|---|---|\n", title)
	for _, m := range z.Models {
		acc, err := zoo.EvaluateFolder(z.Path(m), "target", zoo.Range(1000, 10000))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s model alone | %.1f |\n", m, 100*acc)
	}
	for _, r := range rows {
		r.cfg.Zoo = zc
		o, err := New(r.cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %.1f |\n", r.name, o.HeldOut(r.x(o)))
	}
	return nil
}

// bestGlobalPair adds the best a person would find by hand: a grid over
// one global weight per expert, chosen on the search pool, reported on the
// held-out items.
func bestGlobalPair(w io.Writer, zc zoo.Config) error {
	o, err := New(Config{Zoo: zc, Granularity: "global"})
	if err != nil {
		return err
	}
	best, bestX := -1.0, []float64(nil)
	for i := 0; i <= 12; i++ {
		for j := 0; j <= 12; j++ {
			x := make([]float64, o.Dim())
			x[o.Gene(0, zoo.Reader, "weight")] = 0.25 * float64(i)
			x[o.Gene(0, zoo.Skill, "weight")] = 0.25 * float64(j)
			if v := o.True(x); v > best {
				best, bestX = v, x
			}
		}
	}
	fmt.Fprintf(w, "| best global task_arithmetic pair on a 0–3 grid of step 0.25 (169 merges, chosen on the search pool): reader %.2f, skill %.2f | %.1f |\n\n",
		bestX[o.Gene(0, zoo.Reader, "weight")], bestX[o.Gene(0, zoo.Skill, "weight")], o.HeldOut(bestX))
	return nil
}

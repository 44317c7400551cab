package realmerge

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/evomerge/evomerge/objectives/zoo"
)

// MultiBaseline is one untuned recipe of the multi-task testbed with its
// held-out per-task accuracies (in MultiObjective.TaskNames order) and
// their target mean.
type MultiBaseline struct {
	Name  string
	Tasks []float64
	Mean  float64
}

// multiBaselineRecipe is a baseline's merge settings and vector.
type multiBaselineRecipe struct {
	name string
	cfg  MultiConfig
	x    func(o *MultiObjective) []float64
}

func fillMulti(w float64) func(o *MultiObjective) []float64 {
	return func(o *MultiObjective) []float64 {
		x := make([]float64, o.Dim())
		for i := range x {
			x[i] = w
		}
		return x
	}
}

// onlyExperts weights the named experts w in every group, the rest 0.
func onlyExperts(w float64, names ...string) func(o *MultiObjective) []float64 {
	return func(o *MultiObjective) []float64 {
		x := make([]float64, o.Dim())
		for g := 0; g < o.Groups(); g++ {
			for _, e := range names {
				x[o.Gene(g, e, "weight")] = w
			}
		}
		return x
	}
}

// multiBaselineRecipes are the controls every tuned merge is judged by:
// mergekit-evolve's start (task arithmetic 1/M), untuned task arithmetic,
// TIES and DARE-TIES at mergekit's defaults (weight 1, density 0.5,
// normalize), and the merge a person who knew which experts matter would
// try first (the three target experts at weight 1).
func multiBaselineRecipes(inst uint64, zc zoo.Config) []multiBaselineRecipe {
	m := float64(len(zoo.MultiTaskExperts))
	c := func(method string, normalize bool) MultiConfig {
		return MultiConfig{Instance: inst, Method: method, Normalize: normalize, Zoo: zc}
	}
	return []multiBaselineRecipe{
		{fmt.Sprintf("task_arithmetic, weights 1/M = 1/%d (mergekit-evolve's start)", int(m)), c("task_arithmetic", false), fillMulti(1 / m)},
		{"task_arithmetic, weights 1", c("task_arithmetic", false), fillMulti(1)},
		{"ties, weights 1, density 0.5, normalize (mergekit's defaults)", c("ties", true), fillMulti(1)},
		{"ties, weights 1, density 0.5, no normalize", c("ties", false), fillMulti(1)},
		{"dare_ties, weights 1, density 0.5, normalize", c("dare_ties", true), fillMulti(1)},
		{"task_arithmetic, the three target experts at 1, the rest 0 (knowing which experts matter)", c("task_arithmetic", false), onlyExperts(1, zoo.MultiTaskTargets...)},
		{"ties, the three target experts at 1, the rest 0, no normalize", c("ties", false), onlyExperts(1, zoo.MultiTaskTargets...)},
		{"task_arithmetic, the three target experts and the distractor shift-x at 1 (what the distractor costs)", c("task_arithmetic", false), onlyExperts(1, append(append([]string(nil), zoo.MultiTaskTargets...), "shift-x")...)},
	}
}

// MultiBaselines scores each expert alone and the untuned merges of
// instance inst on the held-out images.
func MultiBaselines(inst uint64, zc zoo.Config) (experts, merges []MultiBaseline, err error) {
	for _, e := range append([]string{zoo.Base}, zoo.MultiTaskExperts...) {
		o, err := NewMulti(MultiConfig{Instance: inst, Method: "task_arithmetic", Zoo: zc})
		if err != nil {
			return nil, nil, err
		}
		x := make([]float64, o.Dim())
		if e != zoo.Base {
			x = onlyExperts(1, e)(o)
		}
		b, err := scoreBaseline(o, e, x)
		if err != nil {
			return nil, nil, err
		}
		experts = append(experts, b)
	}
	for _, r := range multiBaselineRecipes(inst, zc) {
		o, err := NewMulti(r.cfg)
		if err != nil {
			return nil, nil, err
		}
		b, err := scoreBaseline(o, r.name, r.x(o))
		if err != nil {
			return nil, nil, err
		}
		merges = append(merges, b)
	}
	return experts, merges, nil
}

func scoreBaseline(o *MultiObjective, name string, x []float64) (MultiBaseline, error) {
	v, err := o.HeldOutTasks(x)
	if err != nil {
		return MultiBaseline{}, fmt.Errorf("%s: %w", name, err)
	}
	mean := 0.0
	for _, a := range v[:o.Targets()] {
		mean += a
	}
	return MultiBaseline{Name: name, Tasks: v, Mean: mean / float64(o.Targets())}, nil
}

// WriteMultiBaselines prints, as markdown, the multi-task testbed's
// instance inst: each expert alone and the untuned merges per task, and
// the interference of the experts' task vectors per layer. `evomerge zoo
// baselines -testbed multitask -instance N` prints it.
func WriteMultiBaselines(w io.Writer, inst uint64, zc zoo.Config) error {
	zc.Testbed, zc.Seed = zoo.MultiTask, inst
	z, err := zoo.Build(zc)
	if err != nil {
		return err
	}
	experts, merges, err := MultiBaselines(inst, zc)
	if err != nil {
		return err
	}
	o, err := NewMulti(MultiConfig{Instance: inst, Zoo: zc})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## Multi-task testbed, instance %d\n\n", inst)
	fmt.Fprintf(w, "Held-out accuracy %% (%d MNIST test images drawn at random from the instance, disjoint from the search pool) per task; the score is the mean of the %d target tasks (%s), and %s is the base's own task, reported as retention. Made by `evomerge zoo baselines -testbed multitask -instance %d`.\n\n",
		len(o.HeldOutItems()), o.Targets(), strings.Join(zoo.MultiTaskTargets, ", "), zoo.MultiTaskRetention, inst)
	head := "| model or recipe | " + strings.Join(o.TaskNames(), " | ") + " | target mean |\n|---|" + strings.Repeat("---|", len(o.TaskNames())+1) + "\n"
	row := func(b MultiBaseline) {
		fmt.Fprintf(w, "| %s |", b.Name)
		for _, v := range b.Tasks {
			fmt.Fprintf(w, " %.1f |", v)
		}
		fmt.Fprintf(w, " %.1f |\n", b.Mean)
	}
	fmt.Fprintf(w, "### Models alone\n\n%s", head)
	for _, b := range experts {
		b.Name += " alone"
		row(b)
	}
	fmt.Fprintf(w, "\n### Untuned merges\n\n%s", head)
	for _, b := range merges {
		row(b)
	}
	pairs, err := zoo.Interference(z)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### Interference of the task vectors\n\nPer linear layer (weight and bias), over the %d pairs of experts: the cosine similarity of their task vectors (expert − base), and TIES's sign-conflict rate — among the parameters in both experts' top %.0f%% magnitudes, the share changed in opposite directions — with the share of top parameters the pair shares (%.0f%% if unrelated).\n\n",
		len(z.Experts())*(len(z.Experts())-1)/2, 100*zoo.TopFraction, 100*zoo.TopFraction)
	fmt.Fprintf(w, "| layer | cosine mean | cosine min … max | sign conflict mean | conflict min … max | top-%.0f%% overlap |\n|---|---|---|---|---|---|\n", 100*zoo.TopFraction)
	for _, s := range zoo.SummariseInterference(pairs) {
		fmt.Fprintf(w, "| %d | %+.2f | %+.2f … %+.2f | %s | %s … %s | %.0f%% |\n", s.Layer, s.MeanCosine, s.MinCosine, s.MaxCosine,
			pct(s.MeanConflict), pct(s.MinConflict), pct(s.MaxConflict), 100*s.MeanOverlap)
	}
	fmt.Fprintf(w, "\nPer pair, averaged over the layers:\n\n| experts | cosine | sign conflict |\n|---|---|---|\n")
	type acc struct{ cos, conf float64 }
	var order []string
	sums := map[string]*acc{}
	counts := map[string][2]int{}
	for _, p := range pairs {
		k := p.A + " × " + p.B
		if sums[k] == nil {
			sums[k] = &acc{}
			order = append(order, k)
		}
		c := counts[k]
		sums[k].cos += p.Cosine
		c[0]++
		if !math.IsNaN(p.Conflict) {
			sums[k].conf += p.Conflict
			c[1]++
		}
		counts[k] = c
	}
	for _, k := range order {
		c := counts[k]
		conf := math.NaN()
		if c[1] > 0 {
			conf = sums[k].conf / float64(c[1])
		}
		fmt.Fprintf(w, "| %s | %+.2f | %s |\n", k, sums[k].cos/float64(c[0]), pct(conf))
	}
	fmt.Fprintln(w)
	return nil
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

package evolve

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/algorithms/pareto"
	"github.com/evomerge/evomerge/bench/multi"
	"github.com/evomerge/evomerge/bench/plots"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// RecipeName is the file of front point i (0-based) in the front folder.
func RecipeName(i int) string { return fmt.Sprintf("%02d.yml", i+1) }

// MergeOrder ranks the front's points by greedy hypervolume subset
// selection on their observed scores: the point that adds the most
// hypervolume to those before it comes next (ties: table order), so the
// first N points are the N that together cover the most of the front.
// The reference point is the run's (floors, else reference, else 0),
// moved below the front where the front does not clear it. It returns
// each point's rank, 1-based.
func MergeOrder(r *multi.Run) []int {
	front := r.Front
	m := len(r.Tasks)
	ref := make([]float64, m)
	for k := range m {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range front {
			lo, hi = min(lo, p.Scores[k]), max(hi, p.Scores[k])
		}
		ref[k] = -min(r.Metrics.Reference[k], lo-0.1*(hi-lo)-1e-9)
	}
	ls := make([][]float64, len(front))
	for i, p := range front {
		ls[i] = make([]float64, m)
		for k, v := range p.Scores {
			ls[i][k] = -v
		}
	}
	rank := make([]int, len(front))
	var chosen [][]float64
	base := 0.0
	for n := 1; n <= len(front); n++ {
		best, gain := -1, math.Inf(-1)
		for i := range front {
			if rank[i] != 0 {
				continue
			}
			if g := pareto.Hypervolume(append(slices.Clone(chosen), ls[i]), ref) - base; g > gain+1e-12 {
				best, gain = i, g
			}
		}
		rank[best] = n
		chosen = append(chosen, ls[best])
		base += gain
	}
	return rank
}

// WriteFront writes the run's front into the folder c.Output, replacing
// it whole: NN.yml per point (a mergekit recipe for real models, the
// point for mocks) headed by its scores and how they were measured, and
// front.md, the table of every point with its figure(s). The folder is
// built beside its place and renamed there, so a reader never meets half
// a front.
func WriteFront(c *Config, r *MultiResult) error {
	run := r.Run
	if run == nil || len(run.Front) == 0 {
		return fmt.Errorf("no evaluation succeeded: no front to write")
	}
	parent := filepath.Dir(c.Output)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(c.Output)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	rank := MergeOrder(run)
	for i, p := range run.Front {
		var b strings.Builder
		fmt.Fprintf(&b, "# evomerge evolve: %s, seed %d, budget %d: front point %d of %d\n", c.Algorithm, c.Seed, c.Budget, i+1, len(run.Front))
		for _, l := range pointLines(run, r.Tasks, p, rank[i]) {
			fmt.Fprintf(&b, "# %s\n", l)
		}
		fmt.Fprintf(&b, "# items: %s\n", r.Items)
		body, err := c.recipeOf(p.X)
		if err != nil {
			return err
		}
		b.WriteString(body)
		if err := os.WriteFile(filepath.Join(tmp, RecipeName(i)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	figs, err := frontFigures(tmp, c, r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "front.md"), []byte(frontTable(c, r, rank, figs)), 0o644); err != nil {
		return err
	}
	// Replace the folder: the old one moves aside first, so a crash leaves
	// either the old front or the new one in place, never a mix.
	var old string
	if _, err := os.Stat(c.Output); err == nil {
		old = filepath.Join(parent, fmt.Sprintf(".%s.old-%d", filepath.Base(c.Output), os.Getpid()))
		os.RemoveAll(old)
		if err := os.Rename(c.Output, old); err != nil {
			return fmt.Errorf("output %s: %v", c.Output, err)
		}
	}
	if err := os.Rename(tmp, c.Output); err != nil {
		if old != "" {
			os.Rename(old, c.Output)
		}
		return fmt.Errorf("output %s: %v", c.Output, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// recipeOf is what a point's file holds after its header: a mergekit
// recipe for real models, else the point.
func (c *Config) recipeOf(x []float64) (string, error) {
	if e := c.Objective.External; c.Objective.Kind == "external" && e != nil {
		rec, err := e.Genome.Recipe(x)
		if err != nil {
			return "", err
		}
		return rec.YAML(), nil
	}
	if d, ok := c.function.(interface {
		DiskRecipe(x []float64) (*merge.Recipe, error)
	}); ok {
		rec, err := d.DiskRecipe(x)
		if err != nil {
			return "", err
		}
		return rec.YAML(), nil
	}
	return fmt.Sprintf("params: %s\n", yamlList(x)), nil
}

// pointLines say how a front point was scored.
func pointLines(run *multi.Run, tasks []string, p multi.FrontPoint, rank int) []string {
	idx := make([]string, len(p.Evals))
	for i, e := range p.Evals {
		idx[i] = fmt.Sprint(e)
	}
	how := "evaluation " + idx[0]
	if len(idx) > 1 {
		how = fmt.Sprintf("evaluations %s (mean)", strings.Join(idx, ", "))
	}
	ls := []string{
		fmt.Sprintf("scores: %s (observed by search %s)", taskScores(tasks, p.Scores), how),
		fmt.Sprintf("  selected for being non-dominated among %d evaluations: expect somewhat less when re-scored", run.EvalsUsed-run.Failures),
	}
	if p.True != nil {
		ls = append(ls, "  true scores: "+taskScores(tasks, p.True))
	}
	if p.HeldOut != nil {
		ls = append(ls, "  held-out scores: "+taskScores(tasks, p.HeldOut)+" (re-scored after the run on items the search never saw)")
	}
	if len(run.Floors) > 0 {
		keeps := "keep every floor"
		if !p.Feasible {
			keeps = "BREAK a floor (no evaluation kept every floor)"
		}
		ls = append(ls, fmt.Sprintf("floors %s: the observed scores %s", floorList(run.Floors, tasks), keeps))
	}
	ls = append(ls, fmt.Sprintf("merge order %d of %d (by hypervolume added: --merge-front N merges the first N)", rank, len(run.Front)))
	return ls
}

func floorList(f map[string]float64, tasks []string) string {
	var parts []string
	for _, t := range tasks {
		if v, ok := f[t]; ok {
			parts = append(parts, fmt.Sprintf("%s ≥ %g", t, v))
		}
	}
	return strings.Join(parts, ", ")
}

// frontTable is front.md.
func frontTable(c *Config, r *MultiResult, rank []int, figs []string) string {
	run := r.Run
	var b strings.Builder
	fmt.Fprintf(&b, "# Front of %s, seed %d, budget %d\n\n", c.Algorithm, c.Seed, c.Budget)
	fmt.Fprintf(&b, "%d points: the non-dominated set of the observed scores of %d evaluations (%d failed)", len(run.Front), run.EvalsUsed, run.Failures)
	if len(run.Floors) > 0 {
		fmt.Fprintf(&b, ", ranked under the floors %s (constrained domination: points that keep every floor first)", floorList(run.Floors, r.Tasks))
	}
	b.WriteString(". Each point's scores are its search evaluations': it was selected for being non-dominated, so expect somewhat less when it is re-scored.\n\n")
	b.WriteString("| recipe | merge order |")
	for _, t := range r.Tasks {
		b.WriteString(" " + t + " |")
	}
	hasTrue := run.Front[0].True != nil
	if hasTrue {
		for _, t := range r.Tasks {
			b.WriteString(" true " + t + " |")
		}
	}
	hasHeld := run.Front[0].HeldOut != nil
	if hasHeld {
		for _, t := range r.Tasks {
			b.WriteString(" held-out " + t + " |")
		}
	}
	b.WriteString(" evaluations |")
	if len(run.Floors) > 0 {
		b.WriteString(" keeps floors |")
	}
	b.WriteString("\n|" + strings.Repeat("---|", 3+len(r.Tasks)+len(r.Tasks)*(btoi(hasTrue)+btoi(hasHeld))+btoi(len(run.Floors) > 0)) + "\n")
	for i, p := range run.Front {
		fmt.Fprintf(&b, "| [%s](%s) | %d |", RecipeName(i), RecipeName(i), rank[i])
		for _, v := range p.Scores {
			fmt.Fprintf(&b, " %.4g |", v)
		}
		if hasTrue {
			for _, v := range p.True {
				fmt.Fprintf(&b, " %.4g |", v)
			}
		}
		if hasHeld {
			for _, v := range p.HeldOut {
				fmt.Fprintf(&b, " %.4g |", v)
			}
		}
		idx := make([]string, len(p.Evals))
		for k, e := range p.Evals {
			idx[k] = fmt.Sprint(e)
		}
		fmt.Fprintf(&b, " %s |", strings.Join(idx, ", "))
		if len(run.Floors) > 0 {
			fmt.Fprintf(&b, " %s |", map[bool]string{true: "yes", false: "no"}[p.Feasible])
		}
		b.WriteString("\n")
	}
	m := run.Metrics
	scored := m.Scored
	if scored == "heldout" {
		scored = "held-out (re-scored after the run on items the search never saw)"
	}
	fmt.Fprintf(&b, "\nHypervolume of the %s scores from the reference point %s: %.6g", scored, yamlList(m.Reference), m.Hypervolume)
	if m.HypervolumeShare != nil {
		fmt.Fprintf(&b, " (%.4f of the box up to the best scores)", *m.HypervolumeShare)
	}
	b.WriteString(".")
	if m.IGDPlus != nil {
		fmt.Fprintf(&b, " IGD+ to the true front: %.4g score points.", *m.IGDPlus)
	}
	if m.FloorViolation != nil {
		fmt.Fprintf(&b, " Share of the front whose %s scores break a floor: %.3g.", strings.TrimSuffix(strings.Split(scored, " (")[0], ","), *m.FloorViolation)
	}
	b.WriteString("\n\n")
	for _, f := range figs {
		fmt.Fprintf(&b, "![front](%s)\n", f)
	}
	fmt.Fprintf(&b, "\nItems: %s.\n", r.Items)
	return b.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// frontFigures draws the front on every pair of tasks into dir and
// returns the files' names: the observed scores and, where known, the
// same points' true scores (the search pool's, on a real objective), their
// held-out scores and the true front.
func frontFigures(dir string, c *Config, r *MultiResult) ([]string, error) {
	run := r.Run
	var truth [][]float64
	if tf, ok := c.function.(objectives.TrueFronter); ok && len(r.Tasks) == 2 {
		truth = tf.TrueFront()
	}
	var names []string
	for x := 0; x < len(r.Tasks); x++ {
		for y := x + 1; y < len(r.Tasks); y++ {
			obs := plots.FrontSeries{Name: "observed scores", Look: plots.Look{Style: 1}}
			tru := plots.FrontSeries{Name: "true scores", Look: plots.Look{Style: 2}}
			held := plots.FrontSeries{Name: "held-out scores", Look: plots.Look{Style: 3}}
			for _, p := range run.Front {
				obs.Points = append(obs.Points, [2]float64{p.Scores[x], p.Scores[y]})
				if p.True != nil {
					tru.Points = append(tru.Points, [2]float64{p.True[x], p.True[y]})
				}
				if p.HeldOut != nil {
					held.Points = append(held.Points, [2]float64{p.HeldOut[x], p.HeldOut[y]})
				}
			}
			series := []plots.FrontSeries{obs}
			if len(held.Points) > 0 {
				// A real objective: its "true" scores are the search pool's,
				// which the search saw; the held-out ones are the figure.
				tru.Name = "search-pool scores"
			}
			if len(tru.Points) > 0 {
				series = append(series, tru)
			}
			if len(held.Points) > 0 {
				series = append(series, held)
			}
			o := plots.FrontOptions{XFloor: math.NaN(), YFloor: math.NaN()}
			if v, ok := run.Floors[r.Tasks[x]]; ok {
				o.XFloor = v
			}
			if v, ok := run.Floors[r.Tasks[y]]; ok {
				o.YFloor = v
			}
			for _, z := range truth {
				o.Truth = append(o.Truth, [2]float64{z[x], z[y]})
			}
			name := "front.png"
			if len(r.Tasks) > 2 {
				name = fmt.Sprintf("front-%s-%s.png", r.Tasks[x], r.Tasks[y])
			}
			title := fmt.Sprintf("Front of %s, %d evaluations", c.Algorithm, c.Budget)
			if err := plots.Front(filepath.Join(dir, name), title, r.Tasks[x]+" score", r.Tasks[y]+" score", series, o); err != nil {
				return nil, err
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// DescribeMulti prints a multi-objective result for the terminal.
func DescribeMulti(c *Config, r *MultiResult) string {
	var b strings.Builder
	switch {
	case r.Complete:
		fmt.Fprintf(&b, "the journal holds the finished run: nothing evaluated, its %d evaluations read back\n", r.Replayed)
	case r.Replayed > 0:
		fmt.Fprintf(&b, "%d evaluations replayed from the journal\n", r.Replayed)
	}
	run := r.Run
	fmt.Fprintf(&b, "%s on %d slot%s: %d evaluations (%d failed); front of %d points\n", c.Algorithm, len(r.Slots), plural(len(r.Slots)), run.EvalsUsed, run.Failures, len(run.Front))
	rank := MergeOrder(run)
	for i, p := range run.Front {
		fmt.Fprintf(&b, "  %s (merge order %d): %s\n", RecipeName(i), rank[i], taskScores(r.Tasks, p.Scores))
	}
	m := run.Metrics
	fmt.Fprintf(&b, "hypervolume of the %s scores from %s: %.6g\n", m.Scored, yamlList(m.Reference), m.Hypervolume)
	fmt.Fprintf(&b, "items: %s\n", r.Items)
	fmt.Fprintf(&b, "front written to %s (front.md); journal %s\n", c.Output, c.Journal)
	return b.String()
}

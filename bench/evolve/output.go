package evolve

import (
	"fmt"
	"math"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// WriteBest writes the run's answer to c.Output atomically: for merges of
// real models a mergekit recipe (mergekit-yaml and evomerge merge take it
// as it is), for mock objectives the shipped point. A comment header says
// which point it is, how it was scored and on which items (Scoring).
func WriteBest(c *Config, r *Result) error {
	if r.Recommended == nil || r.Shipped == nil {
		return fmt.Errorf("no evaluation finished: nothing to write")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# evomerge evolve: %s, seed %d, budget %d\n", c.Algorithm, c.Seed, c.Budget)
	for _, l := range Scoring(r) {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	recipe, hasRecipe := c.function.(interface {
		DiskRecipe(x []float64) (*merge.Recipe, error)
	})
	switch {
	case c.Objective.Kind == "external":
		rec, err := c.Objective.External.Genome.Recipe(r.Recommended)
		if err != nil {
			return err
		}
		b.WriteString(rec.YAML())
	case hasRecipe:
		rec, err := recipe.DiskRecipe(r.Recommended)
		if err != nil {
			return err
		}
		b.WriteString(rec.YAML())
	default:
		fmt.Fprintf(&b, "params: %s\n", yamlList(r.Recommended))
	}
	return bench.WriteFileAtomic(c.Output, []byte(b.String()))
}

func yamlList(x []float64) string {
	parts := make([]string, len(x))
	for i, v := range x {
		parts[i] = fmt.Sprintf("%.6g", v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Scoring says, line by line, how many evaluations the run made, which
// point is shipped, every evaluation that scored it and on which items,
// and the finalist it was preferred to: the header of the output file and
// the summary the command prints say the same.
func Scoring(r *Result) []string {
	var ls []string
	final := r.Evaluations - r.SearchEvaluations
	if final > 0 {
		ls = append(ls, fmt.Sprintf("%d evaluations: %d by the search, %d fresh ones to score the finalists (%d failed in all)", r.Evaluations, r.SearchEvaluations, final, r.Failures))
	} else {
		ls = append(ls, fmt.Sprintf("%d evaluations by the search (%d failed)", r.Evaluations, r.Failures))
	}
	ls = append(ls, "shipped: "+r.Shipped.Label)
	ls = append(ls, "  "+howScored(r.Shipped, r.SearchEvaluations))
	if !math.IsNaN(r.RecommendedTrue) {
		ls = append(ls, fmt.Sprintf("  %s %.6g", r.TrueName, r.RecommendedTrue))
	}
	if !math.IsNaN(r.RecommendedHeldOut) {
		ls = append(ls, fmt.Sprintf("  held-out score %.6g (items never used by the search)", r.RecommendedHeldOut))
	}
	if o := r.Other; o != nil {
		ls = append(ls, "preferred to: "+o.Label)
		ls = append(ls, "  "+howScored(o, r.SearchEvaluations))
		if !math.IsNaN(o.True) {
			ls = append(ls, fmt.Sprintf("  %s %.6g", r.TrueName, o.True))
		}
	}
	if o := r.ProbeOther; o != nil {
		ls = append(ls, "preferred to: "+o.Label)
		ls = append(ls, "  "+howScored(o, 0))
		if !math.IsNaN(o.True) {
			ls = append(ls, fmt.Sprintf("  %s %.6g", r.TrueName, o.True))
		}
	}
	if r.ProbeNote != "" {
		ls = append(ls, "probe: "+r.ProbeNote)
	}
	if r.Note != "" {
		ls = append(ls, "note: "+r.Note)
	}
	ls = append(ls, "items: "+r.Items)
	return ls
}

// howScored lists the evaluations that scored f: the fresh ones if any
// (the search's are then left out: the best observed point was selected
// for scoring high, so its search score is biased), else the search's.
func howScored(f *Finalist, searched int) string {
	if len(f.Fresh) > 0 {
		s := "scored by fresh " + listScores(f.Fresh)
		if len(f.Search) > 0 {
			s += fmt.Sprintf(" (its search %s is left out: selected for being high)", listScores(f.Search))
		} else {
			s += " (never evaluated by the search)"
		}
		return s
	}
	s := "scored by search " + listScores(f.Search)
	if len(f.Search) == 1 {
		s += fmt.Sprintf(", the best of %d (selected for being high: expect less when re-scored)", searched)
	}
	return s
}

// listScores prints evaluations as "evaluations 97, 98: 53.1, 52.9;
// mean 53".
func listScores(es []bench.EvalRecord) string {
	idx := make([]string, len(es))
	sc := make([]string, len(es))
	for i, e := range es {
		idx[i] = fmt.Sprint(e.Index)
		sc[i] = "failed"
		if e.Observed != nil {
			sc[i] = fmt.Sprintf("%.6g", *e.Observed)
		}
		if e.Items > 0 {
			sc[i] += fmt.Sprintf(" on items %d–%d", e.From, e.From+e.Items-1)
		}
	}
	s := fmt.Sprintf("evaluation%s %s: %s", plural(len(es)), strings.Join(idx, ", "), strings.Join(sc, ", "))
	if m, n := meanObserved(es); len(es) > 1 && n > 0 {
		s += fmt.Sprintf("; mean %.6g", m)
		if n < len(es) {
			s += fmt.Sprintf(" of %d", n)
		}
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// describeItems says what one evaluation scores.
func (c *Config) describeItems() string {
	o := c.Objective
	switch o.Kind {
	case "external":
		e := o.External
		if len(e.Tasks) > 0 {
			parts := make([]string, len(e.Tasks))
			for i, t := range e.Tasks {
				parts[i] = t.Name + " from " + t.Score
			}
			return fmt.Sprintf("the evaluator command [%s], task scores read from one results file: %s", strings.Join(e.Args, " "), strings.Join(parts, ", "))
		}
		score := e.Score
		if score == "" {
			score = "stdout"
		}
		return fmt.Sprintf("the evaluator command [%s], score read from %s", strings.Join(e.Args, " "), score)
	case "mnist":
		if m, ok := c.function.(interface {
			Task() string
			PoolItems() []int
			HeldOutItems() []int
		}); ok {
			pool, held := m.PoolItems(), m.HeldOutItems()
			per := "mnist.items (default 200)"
			if o.MNIST.Items > 0 {
				per = fmt.Sprint(o.MNIST.Items)
			}
			return fmt.Sprintf("%s items of MNIST task %s per evaluation, drawn afresh from the search pool (test items %d–%d); held-out: test items %d–%d", per, m.Task(), pool[0], pool[len(pool)-1], held[0], held[len(held)-1])
		}
	}
	if o.Kind == "mnist-multitask" {
		if m, ok := objectives.AsMulti(c.function); ok {
			if s, ok := m.(fmt.Stringer); ok {
				return s.String()
			}
		}
	}
	name := ""
	if o.Kind == "scenario" {
		name = "scenario " + o.Scenario + ": "
	}
	if s, ok := c.function.(fmt.Stringer); ok {
		return name + s.String()
	}
	if c.function != nil {
		return name + c.function.Name()
	}
	return name + o.Kind
}

// Describe prints the result for the terminal.
func Describe(c *Config, r *Result) string {
	var b strings.Builder
	switch {
	case r.Complete:
		fmt.Fprintf(&b, "the journal holds the finished run: nothing evaluated, its %d evaluations read back\n", r.Replayed)
	case r.Replayed > 0:
		fmt.Fprintf(&b, "%d evaluations replayed from the journal\n", r.Replayed)
	}
	if run := r.Run; run != nil {
		fmt.Fprintf(&b, "%s on %d slot%s: %.1f s", run.Algorithm, len(r.Slots), plural(len(r.Slots)), run.WallMS/1000)
		if run.SlotUtilisation != nil {
			fmt.Fprintf(&b, ", slot utilisation %.0f%% (evaluation time ÷ slots × wall time", 100**run.SlotUtilisation)
			if r.Replayed > 0 {
				b.WriteString("; replayed evaluations took none")
			}
			b.WriteString(")")
		}
		if r.Complete {
			b.WriteString(" when it ran")
		}
		b.WriteString("\n")
	}
	if r.Best != nil {
		fmt.Fprintf(&b, "best observed: %.6g at evaluation %d, %s\n", *r.Best.Observed, r.Best.Index, objectives.FormatVector(r.Best.X, 3))
	}
	for _, l := range Scoring(r) {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "shipped point: %s\n", objectives.FormatVector(r.Recommended, 3))
	fmt.Fprintf(&b, "written to %s; journal %s\n", c.Output, c.Journal)
	switch {
	case r.ProgressError != nil:
		fmt.Fprintf(&b, "warning: %v\n", r.ProgressError)
	case r.ProgressPage != "":
		fmt.Fprintf(&b, "progress page %s\n", r.ProgressPage)
	}
	return b.String()
}

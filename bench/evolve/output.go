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
// as it is), for mock objectives the recommended point, each with the
// scores in a comment header.
func WriteBest(c *Config, r *Result) error {
	if r.Recommended == nil {
		return fmt.Errorf("no evaluation finished: nothing to write")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# evomerge evolve: %s, seed %d, %d evaluations (%d failed)\n", c.Algorithm, c.Seed, r.Evaluations, r.Failures)
	if r.Best != nil {
		fmt.Fprintf(&b, "# best observed score %.6g at evaluation %d\n", *r.Best.Observed, r.Best.Index)
	}
	if !math.IsNaN(r.RecommendedTrue) {
		fmt.Fprintf(&b, "# true score of this recommendation %.6g\n", r.RecommendedTrue)
	}
	if !math.IsNaN(r.RecommendedHeldOut) {
		fmt.Fprintf(&b, "# held-out score of this recommendation %.6g\n", r.RecommendedHeldOut)
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

// Describe prints the result for the terminal.
func Describe(c *Config, r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d evaluations (%d replayed from the journal, %d failed and penalised)\n", r.Evaluations, r.Replayed, r.Failures)
	if r.Best != nil {
		fmt.Fprintf(&b, "best observed: %.6g at evaluation %d, %s\n", *r.Best.Observed, r.Best.Index, objectives.FormatVector(r.Best.X, 3))
	}
	fmt.Fprintf(&b, "recommended:   %s", objectives.FormatVector(r.Recommended, 3))
	if !math.IsNaN(r.RecommendedTrue) {
		fmt.Fprintf(&b, " (true score %.6g)", r.RecommendedTrue)
	}
	if !math.IsNaN(r.RecommendedHeldOut) {
		fmt.Fprintf(&b, " (held-out score %.6g)", r.RecommendedHeldOut)
	}
	fmt.Fprintf(&b, "\nwritten to %s; journal %s\n", c.Output, c.Journal)
	return b.String()
}

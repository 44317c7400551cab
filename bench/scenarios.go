package bench

import (
	"fmt"
	"sort"
	"strings"

	"github.com/evomerge/evomerge/objectives"
)

// Scenario is a named configuration of landscape, dimension, budget and
// noise taken from a real evolutionary merge (docs/domain.md), so
// an optimiser can be chosen for the run a user is about to pay for.
type Scenario struct {
	Name string
	// From says which real run the figures come from.
	From string
	// Objective is the mock objective with the peak width of real merges
	// (0.5: a random recipe keeps about a third of the attainable score).
	Objective objectives.Spec
	Budget    int
	// Target is the true score that counts as solved. It is set where the
	// better methods can reach it within the budget, so evaluations to
	// target separate them; the report's ladder shows lower targets too.
	Target float64
	// Slots and EvalTime, when set (scenario files only), put the runs on
	// bench's simulated clock: evaluations in flight at once and the time
	// each takes (bench --slots, --eval-time).
	Slots    int
	EvalTime EvalTime
}

// Scenarios are the presets of `evomerge bench --scenario`.
var Scenarios = []Scenario{
	{
		Name:      "sakana-ps",
		From:      "Sakana's parameter-space merge: 3 models × (DARE-TIES density, weight), 1,000 CMA-ES evaluations, accuracy on 1,069 items",
		Objective: objectives.Spec{Name: "mock", Dim: 6, Items: 1069, Landscape: "ties", Width: 0.5},
		Budget:    1000, Target: 99,
	},
	{
		Name:      "mergekit-evolve",
		From:      "mergekit-evolve's default: 3 models × 8 layer groups = 24 weights, 100 evaluations, 100 benchmark items",
		Objective: objectives.Spec{Name: "mock", Dim: 24, Items: 100, Landscape: "ill", Width: 0.5},
		Budget:    100, Target: 80,
	},
	{
		Name:      "consumer-gpu",
		From:      "Mergenetic / MERGE³ on one consumer GPU: 16 parameters, 50 evaluations, 20 items",
		Objective: objectives.Spec{Name: "mock", Dim: 16, Items: 20, Landscape: "rotated", Width: 0.5},
		Budget:    50, Target: 80,
	},
	{
		Name:      "layerwise",
		From:      "a per-layer merge: 64 weights, 1,000 evaluations, 200 items",
		Objective: objectives.Spec{Name: "mock", Dim: 64, Items: 200, Landscape: "ill", Width: 0.5},
		Budget:    1000, Target: 95,
	},
	{
		Name:      "sd-block-merge",
		From:      "Stable Diffusion block-weight merger with BO/TPE: 26 block weights, 20 evaluations, ~10 judged images",
		Objective: objectives.Spec{Name: "mock", Dim: 26, Items: 10, Landscape: "peak", Width: 0.5},
		Budget:    20, Target: 70,
	},
	{
		Name:      "crashy-merge",
		From:      "a DARE-TIES merge where 10% of merges or benchmark runs crash (out of memory, evaluator errors): 6 models × (weight, density), 300 evaluations, 100 items",
		Objective: objectives.Spec{Name: "mock", Dim: 12, Items: 100, Landscape: "ties", Width: 0.5, FailRate: 0.1},
		Budget:    300, Target: 95,
	},
	{
		Name:      "pruned-boundary",
		From:      "a merge whose best recipe drops some models (weight 0) and keeps others dense (density 1): optimum on the box's boundary, 8 parameters, 300 evaluations, 200 items",
		Objective: objectives.Spec{Name: "mock", Dim: 8, Items: 200, Landscape: "boundary", Width: 0.5},
		Budget:    300, Target: 95,
	},
}

// LookupScenario finds a preset by name.
func LookupScenario(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = s.Name
	}
	sort.Strings(names)
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
}

// Describe is a one-line description for listings.
func (s Scenario) Describe() string {
	o := s.Objective
	noise := fmt.Sprintf("%d items", o.Items)
	if o.FailRate > 0 {
		noise += fmt.Sprintf(", %g%% failures", 100*o.FailRate)
	}
	return fmt.Sprintf("%d dims, %s landscape, %s, budget %d, target %g", o.Dim, o.Landscape, noise, s.Budget, s.Target)
}

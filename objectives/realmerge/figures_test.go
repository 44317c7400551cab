package realmerge

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives/zoo"
)

// TestFigures prints the design's figures for zoo seeds 0–3: every model on
// the target, the untuned merges, and what a 300-evaluation (1+1)-ES and
// random search find, all on held-out items. It trains any zoo not yet
// cached (about 15 s each), so it runs only when asked:
//
//	EVOMERGE_FIGURES=1 go test -run Figures -v ./objectives/realmerge/
func TestFigures(t *testing.T) {
	if os.Getenv("EVOMERGE_FIGURES") == "" {
		t.Skip("set EVOMERGE_FIGURES=1 to measure")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "| zoo | build s | base | reader | skill | rot90 | TA .5/.5 | TA 1/1 | TIES 1/.5 | uniform 1/3 (3 experts) | ES 300 (n=200) | RS 300 (n=200) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for seed := uint64(0); seed <= 3; seed++ {
		zc := zoo.Config{Seed: seed, Distractors: []string{"rot90"}}
		start := time.Now()
		o := objective(t, Config{Zoo: zc})
		build := time.Since(start).Seconds()
		fmt.Fprintf(&sb, "| %d | %.1f |", seed, build)
		for _, m := range o.Zoo().Models {
			a, err := zoo.EvaluateFolder(o.Zoo().Path(m), "target", o.HeldOutItems())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, " %.1f |", 100*a)
		}
		ones := func(w float64) []float64 { return docVector(t, o, []float64{w, w, w}, []float64{w, w, w}) }
		ties := objective(t, Config{Zoo: zc, Method: "ties"})
		fmt.Fprintf(&sb, " %.1f | %.1f | %.1f | %.1f |", o.HeldOut(ones(.5)), o.HeldOut(ones(1)),
			ties.HeldOut(docVector(t, ties, []float64{1, 1, 1}, []float64{1, 1, 1})), o.HeldOut(uniform(o, 1.0/3, 1)))
		rng := rand.New(rand.NewPCG(seed, 77))
		x, _ := es(o, uniform(o, 1.0/3, 1), 300, rng)
		fmt.Fprintf(&sb, " %.1f |", o.HeldOut(x))
		box := o.Box()
		best, bestObs := []float64(nil), -1.0
		for i := 0; i < 300; i++ {
			y := make([]float64, o.Dim())
			for k := range y {
				y[k] = box.Upper[k] * rng.Float64()
			}
			v, err := o.Evaluate(t.Context(), y, rng)
			if err != nil {
				t.Fatal(err)
			}
			if v.Observed > bestObs {
				best, bestObs = y, v.Observed
			}
		}
		fmt.Fprintf(&sb, " %.1f |\n", o.HeldOut(best))
	}
	t.Log("held-out accuracy (%) on the target, MNIST test items 1000–9999; 3 experts (reader, skill, rot90), 9-D per-layer TA\n" + sb.String())
}

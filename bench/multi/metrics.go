package multi

import (
	"slices"

	"github.com/evomerge/evomerge/algorithms/pareto"
	"github.com/evomerge/evomerge/objectives"
)

// Metrics measure a run's final front.
type Metrics struct {
	// Scored says which scores of the front's points the metrics use:
	// "heldout" (a real objective's scores on items never used during the
	// search: FrontPoint.HeldOut), "true" (the objective's noise-free
	// scores: what a user of the front gets) or "observed" (an objective
	// that knows no truth).
	Scored string `json:"scored"`
	// Reference is the hypervolume reference point by task: the task's
	// floor, else Job.Reference, else 0.
	Reference []float64 `json:"reference"`
	// Hypervolume is the volume the front's points dominate above the
	// reference point, in score units to the power of the tasks; a point
	// below a floor adds nothing.
	Hypervolume float64 `json:"hypervolume"`
	// HypervolumeShare is Hypervolume ÷ the volume of the box from the
	// reference point to every task's best score, for objectives that
	// know their best scores (objectives.TaskBester): 1 would mean one
	// point best at every task at once.
	HypervolumeShare *float64 `json:"hypervolume_share,omitempty"`
	// IGDPlus is the front's IGD+ distance, in score points, to the true
	// front (objectives.TrueFronter) restricted to the points that keep
	// every floor.
	IGDPlus *float64 `json:"igd_plus,omitempty"`
	// FloorViolation is the share of the front's points whose scores
	// (Scored) break a floor; absent without floors.
	FloorViolation *float64 `json:"floor_violation,omitempty"`
	// FrontSize is the number of points on the front.
	FrontSize int `json:"front_size"`
}

// Front returns the non-dominated set of the successful evaluations:
// evaluations of one point are merged (their observed scores averaged),
// then the points are ranked by constrained domination under lim (loss
// limits: −floor) and the first front is kept, ordered by the first task's
// score, highest first (ties: the earlier point).
func Front(records []Eval, lim []float64) []FrontPoint {
	var pts []FrontPoint
	var sums [][]float64
	var trues [][]float64
	for _, e := range records {
		if e.Failed() {
			continue
		}
		k := slices.IndexFunc(pts, func(p FrontPoint) bool { return slices.Equal(p.X, e.X) })
		if k < 0 {
			pts = append(pts, FrontPoint{X: e.X})
			sums = append(sums, make([]float64, len(e.Scores)))
			trues = append(trues, e.True)
			k = len(pts) - 1
		}
		pts[k].Evals = append(pts[k].Evals, e.Index)
		for j, v := range e.Scores {
			sums[k][j] += v
		}
	}
	losses := make([][]float64, len(pts))
	viol := make([]float64, len(pts))
	for k := range pts {
		n := float64(len(pts[k].Evals))
		pts[k].Scores = make([]float64, len(sums[k]))
		losses[k] = make([]float64, len(sums[k]))
		for j, s := range sums[k] {
			pts[k].Scores[j] = s / n
			losses[k][j] = -s / n
		}
		pts[k].True = trues[k]
		viol[k] = pareto.Violation(losses[k], lim)
		pts[k].Feasible = viol[k] == 0
	}
	var front []FrontPoint
	for _, i := range pareto.NonDominated(losses, viol) {
		front = append(front, pts[i])
	}
	slices.SortStableFunc(front, func(a, b FrontPoint) int {
		switch {
		case a.Scores[0] > b.Scores[0]:
			return -1
		case a.Scores[0] < b.Scores[0]:
			return 1
		}
		return 0
	})
	return front
}

// Assess measures front on f: its hypervolume from the reference point
// (floors, else reference, else 0 per task), the hypervolume's share of
// the ideal box, IGD+ to the true front and the share breaking a floor,
// all on the true scores where f knows them.
func Assess(front []FrontPoint, f objectives.MultiFunction, floors, reference map[string]float64) Metrics {
	tasks := f.Tasks()
	m := Metrics{Scored: scoredOn(front, f), FrontSize: len(front)}
	score := func(p FrontPoint) []float64 { return PointScores(p, m.Scored) }
	m.Reference = make([]float64, len(tasks))
	for j, n := range tasks {
		if v, ok := floors[n]; ok {
			m.Reference[j] = v
		} else if v, ok := reference[n]; ok {
			m.Reference[j] = v
		}
	}
	neg := func(s []float64) []float64 {
		out := make([]float64, len(s))
		for j, v := range s {
			out[j] = -v
		}
		return out
	}
	var ls [][]float64
	for _, p := range front {
		ls = append(ls, neg(score(p)))
	}
	m.Hypervolume = pareto.Hypervolume(ls, neg(m.Reference))
	if b, ok := f.(objectives.TaskBester); ok {
		vol := 1.0
		for j, best := range b.TaskBests() {
			vol *= best - m.Reference[j]
		}
		if vol > 0 {
			s := m.Hypervolume / vol
			m.HypervolumeShare = &s
		}
	}
	keeps := func(s []float64) bool {
		for j, n := range tasks {
			if v, ok := floors[n]; ok && s[j] < v {
				return false
			}
		}
		return true
	}
	if tf, ok := f.(objectives.TrueFronter); ok && len(front) > 0 {
		var ref [][]float64
		for _, z := range tf.TrueFront() {
			if keeps(z) {
				ref = append(ref, neg(z))
			}
		}
		if len(ref) > 0 {
			d := pareto.IGDPlus(ls, ref)
			m.IGDPlus = &d
		}
	}
	if len(floors) > 0 && len(front) > 0 {
		bad := 0
		for _, p := range front {
			if !keeps(score(p)) {
				bad++
			}
		}
		v := float64(bad) / float64(len(front))
		m.FloorViolation = &v
	}
	return m
}

// scoredOn is which scores the metrics of front use: held-out ones when
// the objective has them and every point was re-scored, else true ones
// when it knows them, else observed ones.
func scoredOn(front []FrontPoint, f objectives.MultiFunction) string {
	if _, ok := f.(objectives.HeldOutTasker); ok && len(front) > 0 &&
		!slices.ContainsFunc(front, func(p FrontPoint) bool { return len(p.HeldOut) != len(p.Scores) }) {
		return "heldout"
	}
	if !knowsTruth(f) {
		return "observed"
	}
	return "true"
}

// PointScores is p's scores of the kind scored names (Metrics.Scored),
// falling back to the observed ones where p lacks them.
func PointScores(p FrontPoint, scored string) []float64 {
	switch {
	case scored == "heldout" && len(p.HeldOut) == len(p.Scores):
		return p.HeldOut
	case scored == "true" && len(p.True) == len(p.Scores):
		return p.True
	}
	return p.Scores
}

package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench/plots"
)

// allColoured is the most methods a figure draws all in colour; with more,
// only the cell's top three, its random search and the methods the user
// named keep their colours, the rest are drawn in grey.
const allColoured = 6

// entryLooks gives every entry label of a report its style: a registered
// method its place in the registry (algorithms.Names), so it keeps one
// colour in every figure of every page; any other label (a method with
// hyperparameters set) a place after the registry, in name order.
func entryLooks(analyses [][]CellStats) map[string]int {
	names := algorithms.Names()
	looks := map[string]int{}
	var other []string
	for _, a := range analyses {
		for _, s := range a {
			if _, ok := looks[s.Algorithm]; ok {
				continue
			}
			if i := slices.Index(names, s.Algorithm); i >= 0 {
				looks[s.Algorithm] = 1 + i
				continue
			}
			looks[s.Algorithm] = 0
			other = append(other, s.Algorithm)
		}
	}
	sort.Strings(other)
	for k, l := range other {
		looks[l] = 1 + len(names) + k
	}
	return looks
}

// baseAlgorithm is the method of an entry label ("cmaes (sigma0=0.1)" →
// "cmaes").
func baseAlgorithm(label string) string {
	name, _, _ := strings.Cut(label, " (")
	return name
}

// look is how entry k of a cell's ranking a appears in its figures.
func (r *report) look(a []CellStats, k int) plots.Look {
	s := a[k]
	l := plots.Look{Style: r.looks[s.Algorithm]}
	if len(a) <= allColoured || k < 3 || baseAlgorithm(s.Algorithm) == "random" {
		return l
	}
	for _, h := range r.o.Highlight {
		if h == s.Algorithm || h == baseAlgorithm(s.Algorithm) {
			return l
		}
	}
	l.Muted = true
	return l
}

// cellFigures draws the figures of cell i, and with write saves each as
// SVG and PNG under plots/. A cell ranked by held-out scores (a real
// objective) gets the held-out distribution only: its search-pool curves
// are biased by the picking, and the project's figures of real objectives
// are held-out scores. Other cells get convergence (scores only), the
// runtime ECDF (fixed target) and the distributions at fixed budgets.
func (r *report) cellFigures(i int, write bool) ([]cellFigure, error) {
	c, a := r.cells[i], r.analyses[i]
	r0 := c.Runs[0]
	by := map[string][]*Run{}
	label := entryLabels(c.Runs)
	for _, run := range c.Runs {
		by[label[run]] = append(by[label[run]], run)
	}
	type built struct {
		kind, alt string
		fig       *plots.Figure
	}
	var figs []built
	if a[0].ByHeldOut {
		var ds []plots.Dist
		for k, s := range a {
			var held []float64
			for _, v := range s.HeldOuts {
				if !math.IsInf(v, 0) && !math.IsNaN(v) {
					held = append(held, v)
				}
			}
			ds = append(ds, plots.Dist{Name: s.Algorithm, Values: [][]float64{held}, Look: r.look(a, k)})
		}
		f, err := plots.NewDistributions(c.Name+": held-out score of the recommended point, every seed",
			"held-out score (box: quartiles; bar: median; whisker: worst to best run)",
			[]string{fmt.Sprintf("after the whole budget (%d evaluations)", r0.Budget)}, ds)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %v", c.Name, err)
		}
		figs = append(figs, built{"heldout", "held-out scores", f})
	} else {
		ladder := Ladder(r0)
		var ecdf []plots.ECDFSeries
		var conv []plots.Series
		at := checkpoints(r0.Budget)
		for k, s := range a {
			var rt []float64
			var traces [][]float64
			for _, run := range by[s.Algorithm] {
				for _, t := range ladder {
					rt = append(rt, run.Hit(t))
				}
				if r0.Maximizes() && run.EvalsUsed > 0 {
					tr := run.DenseTrace()
					for i, v := range tr {
						if math.IsNaN(v) {
							tr[i] = 0 // no successful evaluation yet: the worst score
						}
					}
					traces = append(traces, tr)
				}
			}
			ecdf = append(ecdf, plots.ECDFSeries{Name: s.Algorithm, Runtimes: rt, Look: r.look(a, k)})
			if len(traces) > 0 {
				ser, err := plots.SeriesFromTraces(s.Algorithm, traces, at)
				if err != nil {
					return nil, fmt.Errorf("report: %s %s: %v", c.Name, s.Algorithm, err)
				}
				ser.Look = r.look(a, k)
				conv = append(conv, ser)
			}
		}
		if len(conv) > 0 {
			f, err := plots.NewConvergence(c.Name+": best true score (median, IQR)", conv, plots.LogX())
			if err != nil {
				return nil, fmt.Errorf("report: %s: %v", c.Name, err)
			}
			figs = append(figs, built{"convergence", "convergence", f})
		}
		f, err := plots.NewECDF(c.Name+": runtime ECDF over targets", ecdf)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %v", c.Name, err)
		}
		figs = append(figs, built{"ecdf", "ECDF", f})
		if f, err := r.budgetFigure(c, a, by); err != nil {
			return nil, err
		} else if f != nil {
			figs = append(figs, built{"budget", "fixed budgets", f})
		}
	}
	var out []cellFigure
	base := anchor(c.Name)
	for _, f := range figs {
		svg, err := f.fig.Encode("svg")
		if err != nil {
			return nil, fmt.Errorf("report: %s: %v", c.Name, err)
		}
		out = append(out, cellFigure{kind: f.kind, alt: f.alt, svg: svg})
		if !write {
			continue
		}
		rel := "plots/" + base + "-" + f.kind
		if err := WriteFileAtomic(filepath.Join(r.o.Dir, filepath.FromSlash(rel+".svg")), svg); err != nil {
			return nil, fmt.Errorf("report: %v", err)
		}
		r.o.wrote(rel + ".svg")
		if err := f.fig.Save(filepath.Join(r.o.Dir, filepath.FromSlash(rel+".png"))); err != nil {
			return nil, fmt.Errorf("report: %v", err)
		}
		r.o.wrote(rel + ".png")
	}
	return out, nil
}

// budgetFigure draws the fixed-budget view of a cell: every run's best
// true value at 10, 25, 50 and 100% of the budget. For a loss it is
// log10(f − f_opt), floored at 1e-12 (a run that found the optimum).
// Before its first successful evaluation a run has no value: for a score
// it counts as 0, the worst score; for a loss it is left out.
func (r *report) budgetFigure(c CellRuns, a []CellStats, by map[string][]*Run) (*plots.Figure, error) {
	r0 := c.Runs[0]
	var panels []string
	for _, f := range budgetFractions {
		panels = append(panels, fmt.Sprintf("%g%% (%d evaluations)", 100*f, int(math.Ceil(f*float64(r0.Budget)))))
	}
	var ds []plots.Dist
	some := false
	for k, s := range a {
		d := plots.Dist{Name: s.Algorithm, Look: r.look(a, k), Values: make([][]float64, len(budgetFractions))}
		for j, f := range budgetFractions {
			for _, run := range by[s.Algorithm] {
				v := run.BestTrueAt(int(math.Ceil(f * float64(run.Budget))))
				switch {
				case r0.Maximizes() && math.IsNaN(v):
					v = 0
				case r0.Maximizes():
				case math.IsNaN(v):
					continue
				default:
					v = math.Log10(max(v-run.Best, 1e-12))
				}
				d.Values[j] = append(d.Values[j], v)
				some = true
			}
		}
		ds = append(ds, d)
	}
	if !some {
		return nil, nil
	}
	xlabel := "best true score so far (box: quartiles; bar: median; whisker: worst to best run)"
	if !r0.Maximizes() {
		xlabel = "log10(f − f_opt) of the best so far (box: quartiles; bar: median; whisker: best to worst run)"
	}
	f, err := plots.NewDistributions(c.Name+": fixed budgets, every seed", xlabel, panels, ds)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %v", c.Name, err)
	}
	return f, nil
}

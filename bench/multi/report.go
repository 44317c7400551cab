package multi

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/plots"
	"github.com/evomerge/evomerge/bench/stats"
	"github.com/evomerge/evomerge/objectives"
)

// Cell is the runs of one objective and floors at one budget, by method.
type Cell struct {
	Group  *Group
	Budget int
	Runs   map[string][]*Run
}

// Group is the runs of one objective and floors, by budget.
type Group struct {
	// Slug names the group's figures.
	Slug        string
	Objective   string
	Description string
	Tasks       []string
	Floors      map[string]float64
	Options     map[string]string
	Dim         int
	Items       int
	Width       float64
	Seed        uint64
	Varied      bool
	Cells       []*Cell
	Methods     []string
}

// Comparison is one test of a method against the baseline.
type Comparison struct {
	Cell     *Cell
	Method   string
	Baseline string
	// DeltaMedian is the method's median hypervolume minus the
	// baseline's.
	DeltaMedian float64
	P, Holm     float64
}

// groupKey identifies runs of one objective and floors.
func groupKey(r *Run) string {
	keys := make([]string, 0, len(r.Options))
	for k := range r.Options {
		keys = append(keys, k+"="+r.Options[k])
	}
	sort.Strings(keys)
	fl := make([]string, 0, len(r.Floors))
	for k, v := range r.Floors {
		fl = append(fl, fmt.Sprintf("%s>=%g", k, v))
	}
	sort.Strings(fl)
	seed := strconv.FormatUint(r.ObjectiveSeed, 10)
	if r.ObjectiveVaried {
		seed = "varied"
	}
	return fmt.Sprintf("%s|%d|%d|%g|%g|%s|%s|%s|%s", r.Objective, r.Dim, r.Items, r.Noise, r.Width, seed, strings.Join(keys, ","), strings.Join(fl, ","), strings.Join(r.Tasks, ","))
}

// Groups sorts runs into groups (in order of first appearance) and cells
// (by budget), methods in the registry's order. A run recorded twice
// (same method, budget, seed and group) is an error: it would count twice.
func Groups(runs []*Run) ([]*Group, error) {
	var groups []*Group
	byKey := map[string]*Group{}
	seen := map[string]bool{}
	for _, r := range runs {
		k := groupKey(r)
		id := fmt.Sprintf("%s|%s|%d|%d|%v", k, r.Algorithm, r.Budget, r.Seed, r.Params)
		if seen[id] {
			return nil, fmt.Errorf("%s at budget %d, seed %d is recorded twice", r.Algorithm, r.Budget, r.Seed)
		}
		seen[id] = true
		g := byKey[k]
		if g == nil {
			g = &Group{Objective: r.Objective, Description: r.Description, Tasks: r.Tasks, Floors: r.Floors, Options: r.Options,
				Dim: r.Dim, Items: r.Items, Width: r.Width, Seed: r.ObjectiveSeed, Varied: r.ObjectiveVaried}
			// A real objective's name has slashes (mnist-multitask/ties/g4/inst0):
			// the slug names files, so they become dashes.
			obj := strings.ReplaceAll(r.Objective, "/", "-")
			g.Slug = fmt.Sprintf("%s-%dtasks", obj, len(r.Tasks))
			for n := 2; slices.ContainsFunc(groups, func(o *Group) bool { return o.Slug == g.Slug }); n++ {
				g.Slug = fmt.Sprintf("%s-%dtasks-%d", obj, len(r.Tasks), n)
			}
			byKey[k] = g
			groups = append(groups, g)
		}
		i := slices.IndexFunc(g.Cells, func(c *Cell) bool { return c.Budget == r.Budget })
		if i < 0 {
			g.Cells = append(g.Cells, &Cell{Group: g, Budget: r.Budget, Runs: map[string][]*Run{}})
			i = len(g.Cells) - 1
		}
		c := g.Cells[i]
		c.Runs[r.Algorithm] = append(c.Runs[r.Algorithm], r)
		if !slices.Contains(g.Methods, r.Algorithm) {
			g.Methods = append(g.Methods, r.Algorithm)
		}
	}
	order := algorithms.MultiNames()
	for _, g := range groups {
		slices.SortFunc(g.Cells, func(a, b *Cell) int { return a.Budget - b.Budget })
		slices.SortStableFunc(g.Methods, func(a, b string) int {
			ia, ib := slices.Index(order, a), slices.Index(order, b)
			if ia < 0 {
				ia = len(order)
			}
			if ib < 0 {
				ib = len(order)
			}
			return ia - ib
		})
	}
	return groups, nil
}

// hvOf is a run's hypervolume as the report compares it: its share of the
// ideal box where known, else the raw volume.
func hvOf(r *Run) float64 {
	if r.Metrics.HypervolumeShare != nil {
		return *r.Metrics.HypervolumeShare
	}
	return r.Metrics.Hypervolume
}

func hvs(runs []*Run) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = hvOf(r)
	}
	return out
}

// Compare tests every non-baseline method against the baseline method in
// every cell (two-sided Mann–Whitney on the hypervolumes) and adjusts all
// p-values together by Holm's method.
func Compare(groups []*Group) []Comparison {
	var cs []Comparison
	for _, g := range groups {
		base := baselineOf(g)
		if base == "" {
			continue
		}
		for _, c := range g.Cells {
			b := c.Runs[base]
			if len(b) == 0 {
				continue
			}
			for _, m := range g.Methods {
				if m == base || len(c.Runs[m]) == 0 {
					continue
				}
				a := c.Runs[m]
				p, err := stats.MannWhitney(hvs(a), hvs(b))
				if err != nil {
					p = math.NaN()
				}
				cs = append(cs, Comparison{Cell: c, Method: m, Baseline: base,
					DeltaMedian: stats.Quantile(hvs(a), 0.5) - stats.Quantile(hvs(b), 0.5), P: p})
			}
		}
	}
	ps := make([]float64, len(cs))
	for i, c := range cs {
		ps[i] = c.P
	}
	for i, h := range stats.Holm(ps) {
		cs[i].Holm = h
	}
	return cs
}

// baselineOf is the group's baseline method (ws-cmaes), "" if absent.
func baselineOf(g *Group) string {
	for _, m := range g.Methods {
		if e, err := algorithms.LookupMulti(m); err == nil && e.Baseline {
			return m
		}
	}
	return ""
}

// meanInterval is the mean of xs with a 95% percentile-bootstrap interval
// (2,000 resamples from a fixed seed, so a page regenerates identically).
func meanInterval(xs []float64) (mean, lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	sum := 0.0
	for _, v := range xs {
		sum += v
	}
	mean = sum / float64(len(xs))
	rng := rand.New(rand.NewPCG(0x626f6f74, uint64(len(xs)))) // "boot"
	ms := make([]float64, 2000)
	for k := range ms {
		s := 0.0
		for range xs {
			s += xs[rng.IntN(len(xs))]
		}
		ms[k] = s / float64(len(xs))
	}
	return mean, stats.Quantile(ms, 0.025), stats.Quantile(ms, 0.975)
}

func fmtNum(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	case math.IsNaN(v):
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func fmtMedian(xs []float64) string {
	mi, err := stats.Median(xs, 0.95)
	if err != nil {
		return "—"
	}
	s := fmt.Sprintf("%s [%s, %s]", fmtNum(mi.Median), fmtNum(mi.Lo), fmtNum(mi.Hi))
	if mi.Warning != nil {
		s += "†"
	}
	return s
}

// Report writes a Markdown report of runs into dir (README.md and its
// figures) and returns the comparisons it tested. title heads the page;
// preface, if not empty, is Markdown placed before the results (the
// protocol), epilogue after them.
func Report(dir, title, preface string, runs []*Run, epilogue ...string) ([]Comparison, error) {
	groups, err := Groups(runs)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("no runs to report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cs := Compare(groups)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	if preface != "" {
		b.WriteString(strings.TrimSpace(preface) + "\n\n")
	}
	b.WriteString("## Results\n\n")
	b.WriteString(legendText(cs, heldOutRuns(runs)))
	for _, g := range groups {
		if err := writeGroup(&b, dir, g, cs); err != nil {
			return nil, err
		}
	}
	for _, e := range epilogue {
		if e = strings.TrimSpace(e); e != "" {
			b.WriteString(e + "\n")
		}
	}
	if err := bench.WriteFileAtomic(filepath.Join(dir, "README.md"), []byte(b.String())); err != nil {
		return nil, err
	}
	return cs, nil
}

// heldOutRuns reports whether any run's metrics are on held-out scores.
func heldOutRuns(runs []*Run) bool {
	return slices.ContainsFunc(runs, func(r *Run) bool { return r.Metrics.Scored == "heldout" })
}

// scoredText says which scores a run's metrics are on.
func scoredText(scored string) string {
	switch scored {
	case "heldout":
		return "held-out task scores (each front point re-scored on every task's held-out items once the run was over; the methods never saw them)"
	case "observed":
		return "observed task scores (the objective knows no truth)"
	}
	return "true task scores"
}

func legendText(cs []Comparison, heldOut bool) string {
	var b strings.Builder
	if heldOut {
		b.WriteString("Hypervolume: of the true task scores (on a real objective: the held-out task scores, as each group says) of each run's final front (the non-dominated set of its observed scores, the same rule for every method), ")
	} else {
		b.WriteString("Hypervolume: of the true task scores of each run's final front (the non-dominated set of its observed scores, the same rule for every method), ")
	}
	b.WriteString("as a share of the box from the reference point (each task's floor, else 0) to a score of 100 in every task; a point below a floor adds nothing. ")
	b.WriteString("Median [95% interval] over seeds (order statistics, as benchstat; † too few runs for a finite interval), and the 10th percentile (p10) beside it. ")
	b.WriteString("IGD+: mean distance in score points from the true front (its part that keeps every floor) to the region the found front dominates; 0 is perfect. ")
	b.WriteString("Floor violation: the share of a run's front whose true scores break a floor; mean over seeds [95% bootstrap interval]. ")
	fmt.Fprintf(&b, "Tests: two-sided Mann–Whitney of each method's hypervolumes against the weighted-sum baseline's, Holm-adjusted over all %d comparisons on this page.\n\n", len(cs))
	return b.String()
}

func floorText(f map[string]float64) string {
	if len(f) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ≥ %g", k, f[k])
	}
	return strings.Join(parts, ", ")
}

func writeGroup(b *strings.Builder, dir string, g *Group, cs []Comparison) error {
	fmt.Fprintf(b, "### %s\n\n", g.Description)
	layout := fmt.Sprintf("seed %d (one layout of optima for every run)", g.Seed)
	if g.Varied {
		layout = "a layout of optima drawn for each seed (the same for every method and budget)"
	}
	scored := map[string]bool{}
	for _, c := range g.Cells {
		for _, rs := range c.Runs {
			for _, r := range rs {
				scored[r.Metrics.Scored] = true
			}
		}
	}
	if scored["heldout"] {
		// A real objective: one instance, no layout of optima.
		layout = "the objective's own instance"
	}
	fmt.Fprintf(b, "Objective %s, %s, floors: %s.", g.Objective, layout, floorText(g.Floors))
	if scored["heldout"] || scored["observed"] {
		kinds := make([]string, 0, len(scored))
		for _, k := range []string{"heldout", "true", "observed"} {
			if scored[k] {
				kinds = append(kinds, scoredText(k))
			}
		}
		fmt.Fprintf(b, " Metrics on %s.", strings.Join(kinds, "; some runs on "))
	}
	b.WriteString("\n\n")
	base := baselineOf(g)
	for _, c := range g.Cells {
		n := 0
		for _, rs := range c.Runs {
			n = max(n, len(rs))
		}
		fmt.Fprintf(b, "**%d evaluations** (%d seeds per method)\n\n", c.Budget, n)
		b.WriteString("| method | hypervolume median [95%] | p10 | IGD+ median [95%] | floor violation mean [95%] | front size (median) | vs " + base + ": Δ median, Holm p |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, m := range g.Methods {
			rs := c.Runs[m]
			if len(rs) == 0 {
				continue
			}
			h := hvs(rs)
			var igd, viol, size []float64
			for _, r := range rs {
				if r.Metrics.IGDPlus != nil {
					igd = append(igd, *r.Metrics.IGDPlus)
				}
				if r.Metrics.FloorViolation != nil {
					viol = append(viol, *r.Metrics.FloorViolation)
				}
				size = append(size, float64(r.Metrics.FrontSize))
			}
			igdS, violS := "—", "—"
			if len(igd) > 0 {
				igdS = fmtMedian(igd)
			}
			if len(viol) > 0 {
				mean, lo, hi := meanInterval(viol)
				violS = fmt.Sprintf("%s [%s, %s]", fmtNum(mean), fmtNum(lo), fmtNum(hi))
			}
			vs := "baseline"
			if m != base {
				vs = "—"
				for _, c2 := range cs {
					if c2.Cell == c && c2.Method == m {
						vs = fmt.Sprintf("%+.3f, %s (%s)", c2.DeltaMedian, fmtP(c2.Holm), verdict(c2))
					}
				}
			}
			errs := 0
			for _, r := range rs {
				if r.Error != "" {
					errs++
				}
			}
			name := m
			if errs > 0 {
				name += fmt.Sprintf(" (%d runs with errors)", errs)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %g | %s |\n", name, fmtMedian(h), fmtNum(stats.Quantile(h, 0.1)), igdS, violS, stats.Quantile(size, 0.5), vs)
		}
		b.WriteString("\n")
	}
	// Figures: hypervolume distributions by budget; fronts at the largest.
	var panels []string
	for _, c := range g.Cells {
		panels = append(panels, fmt.Sprintf("%d evaluations", c.Budget))
	}
	order := algorithms.MultiNames()
	var dists []plots.Dist
	for _, m := range g.Methods {
		d := plots.Dist{Name: m, Look: plots.Look{Style: 1 + slices.Index(order, m)}}
		for _, c := range g.Cells {
			d.Values = append(d.Values, hvs(c.Runs[m]))
		}
		dists = append(dists, d)
	}
	hvName := "hv-" + g.Slug + ".png"
	if err := plots.Distributions(filepath.Join(dir, hvName), "Hypervolume of the final front, every seed", "hypervolume (share of the ideal box)", panels, dists); err != nil {
		return err
	}
	fmt.Fprintf(b, "![hypervolume by method and budget](%s)\n\n", hvName)
	last := g.Cells[len(g.Cells)-1]
	k := len(g.Tasks)
	for x := 0; x < k; x++ {
		for y := x + 1; y < k; y++ {
			name := fmt.Sprintf("front-%s-%d-%s-%s.png", g.Slug, last.Budget, g.Tasks[x], g.Tasks[y])
			if err := frontFigure(filepath.Join(dir, name), g, last, x, y); err != nil {
				return err
			}
			fmt.Fprintf(b, "![fronts, %s against %s](%s)\n", g.Tasks[y], g.Tasks[x], name)
		}
	}
	if scored["heldout"] {
		fmt.Fprintf(b, "\nFronts at %d evaluations: for each method, the front of its run of median hypervolume (held-out scores; projected on two tasks when there are more); dotted lines are floors.\n\n", last.Budget)
	} else {
		fmt.Fprintf(b, "\nFronts at %d evaluations: for each method, the front of its run of median hypervolume (true scores; projected on two tasks when there are more), over the true front in grey; dotted lines are floors.\n\n", last.Budget)
	}
	return nil
}

func fmtP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.001:
		return "p < 0.001"
	}
	return fmt.Sprintf("p = %.3f", p)
}

// verdict says what a comparison shows at the 5% level after Holm.
func verdict(c Comparison) string {
	switch {
	case c.Holm < 0.05 && c.DeltaMedian > 0:
		return "larger"
	case c.Holm < 0.05 && c.DeltaMedian < 0:
		return "smaller"
	}
	return "no significant difference"
}

// medianRun is the run of median hypervolume (the lower middle one).
func medianRun(rs []*Run) *Run {
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b *Run) int {
		switch {
		case hvOf(a) < hvOf(b):
			return -1
		case hvOf(a) > hvOf(b):
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}

func frontFigure(path string, g *Group, c *Cell, x, y int) error {
	order := algorithms.MultiNames()
	var series []plots.FrontSeries
	for _, m := range g.Methods {
		rs := c.Runs[m]
		if len(rs) == 0 {
			continue
		}
		r := medianRun(rs)
		s := plots.FrontSeries{Name: m, Look: plots.Look{Style: 1 + slices.Index(order, m)}}
		for _, p := range r.Front {
			sc := PointScores(p, r.Metrics.Scored)
			s.Points = append(s.Points, [2]float64{sc[x], sc[y]})
		}
		series = append(series, s)
	}
	o := plots.FrontOptions{XFloor: math.NaN(), YFloor: math.NaN()}
	if v, ok := g.Floors[g.Tasks[x]]; ok {
		o.XFloor = v
	}
	if v, ok := g.Floors[g.Tasks[y]]; ok {
		o.YFloor = v
	}
	// The true front in score space depends on the distances between the
	// optima and the widths, not on the layout: one seed's serves all.
	if f, err := objectives.New(objectives.Spec{Name: g.Objective, Dim: g.Dim, Items: g.Items, Width: g.Width, Seed: g.Seed, Options: g.Options}); err == nil {
		if tf, ok := f.(objectives.TrueFronter); ok {
			for _, z := range tf.TrueFront() {
				o.Truth = append(o.Truth, [2]float64{z[x], z[y]})
			}
			if k := len(g.Tasks); k > 2 {
				o.Truth = nil // a projection of a surface is not a line
			}
		}
	}
	title := fmt.Sprintf("Fronts at %d evaluations (median-hypervolume run of each method)", c.Budget)
	return plots.Front(path, title, g.Tasks[x]+" score", g.Tasks[y]+" score", series, o)
}

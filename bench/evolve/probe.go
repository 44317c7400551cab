package evolve

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
)

// probeMode makes a run `evomerge calibrate`'s probe: random search
// whose Top best observed points are each evaluated Times more afresh
// (bench's re-evaluation policy, Job.Reeval), on a seed derived from the
// config's, with the objective's hash in the record so a later run can
// tell the probe was of its objective.
type probeMode struct {
	Top   int `yaml:"top"`
	Times int `yaml:"times"`
}

// probeSeedLabel derives the probe's seed from the config's (bench.DeriveSeed).
const probeSeedLabel = "calibrate-probe"

// apply sets the probe's policy and seed on the job; a nil mode is a
// plain run.
func (p *probeMode) apply(c *Config, job *bench.Job) {
	if p == nil {
		return
	}
	job.Reeval = bench.Reeval{Top: p.Top, Times: p.Times}
	job.Seed = bench.DeriveSeed(c.Seed, probeSeedLabel)
	job.Objective.Options["objective"] = c.ObjectiveHash()
}

// NewProbe is the config of calibrate's probe of c's objective: the
// registered random search spending budget evaluations, the last
// top·times of them re-evaluating its top best observed points times
// each, journaled to journal (its output and progress page beside it).
// It runs with Run, as any config does: the same tracker, journal and
// resume.
func NewProbe(c *Config, budget, top, times int, journal string) (*Config, error) {
	if c.Multi() {
		return nil, fmt.Errorf("%s is multi-objective: calibrate fits a mock of one score", c.Algorithm)
	}
	if c.BudgetItems > 0 {
		return nil, fmt.Errorf("budget_items: calibrate counts whole evaluations; give budget instead")
	}
	if top < 1 || times < 1 || top*times >= budget {
		return nil, fmt.Errorf("probe of %d evaluations cannot hold %d re-evaluations of %d points and a random search", budget, times, top)
	}
	p := *c
	p.Algorithm, p.Set, p.Budget, p.FinalEvals, p.Probe = "random", nil, budget, 1, ""
	p.Journal = journal
	stem := journal[:len(journal)-len(filepath.Ext(journal))]
	p.Output = stem + ".best.yml"
	p.probe = &probeMode{Top: top, Times: times}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ProbeData is a probe journal read back: the evaluations of the random
// search and, per re-evaluated point, its search evaluation and its fresh
// ones.
type ProbeData struct {
	Path    string
	Run     *bench.Run
	Records []bench.EvalRecord
	// Search are the random search's evaluations, in order.
	Search []bench.EvalRecord
	// Repeats are the re-evaluated points, best first by the mean of their
	// fresh evaluations.
	Repeats []ProbePoint
}

// ProbePoint is a re-evaluated point of the probe.
type ProbePoint struct {
	X []float64
	// First is its search evaluation (selected for being high); Fresh
	// the re-evaluations.
	First bench.EvalRecord
	Fresh []bench.EvalRecord
}

// ReadProbe reads a probe journal and checks it is a finished probe of
// c's objective.
func ReadProbe(path string, c *Config) (*ProbeData, error) {
	contents, err := bench.ReadJournal(path)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	if len(contents.Runs) != 1 {
		return nil, fmt.Errorf("probe %s holds %d finished runs, want the one of evomerge calibrate's probe (an unfinished probe: run calibrate again)", path, len(contents.Runs))
	}
	run := contents.Runs[0]
	if run.Error != "" {
		return nil, fmt.Errorf("probe %s ended with an error: %s", path, run.Error)
	}
	if h := run.Options["objective"]; h != c.ObjectiveHash() {
		return nil, fmt.Errorf("probe %s was made on another objective or seed (hash %q, this config's %s): calibrate this config again, or remove probe:", path, h, c.ObjectiveHash())
	}
	d := &ProbeData{Path: path, Run: run}
	key := run.RunKey().Key()
	for _, l := range contents.Evals {
		if l.Key == key {
			d.Records = append(d.Records, l.Eval)
		}
	}
	for _, e := range d.Records {
		if len(e.X) != run.Dim || slices.ContainsFunc(e.X, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			return nil, fmt.Errorf("probe %s: evaluation %d has %d values, want %d finite ones (a journal edited by hand?)", path, e.Index, len(e.X), run.Dim)
		}
		if !e.Final {
			d.Search = append(d.Search, e)
			continue
		}
		i := slices.IndexFunc(d.Repeats, func(p ProbePoint) bool { return slices.Equal(p.X, e.X) })
		if i < 0 {
			first := slices.IndexFunc(d.Search, func(s bench.EvalRecord) bool { return slices.Equal(s.X, e.X) })
			if first < 0 {
				return nil, fmt.Errorf("probe %s: re-evaluation %d is of a point the search never evaluated", path, e.Index)
			}
			d.Repeats = append(d.Repeats, ProbePoint{X: e.X, First: d.Search[first]})
			i = len(d.Repeats) - 1
		}
		d.Repeats[i].Fresh = append(d.Repeats[i].Fresh, e)
	}
	if len(d.Repeats) == 0 {
		return nil, fmt.Errorf("probe %s holds no re-evaluated point: not a probe of evomerge calibrate", path)
	}
	maximize := run.Maximizes()
	slices.SortStableFunc(d.Repeats, func(a, b ProbePoint) int {
		ma, _ := meanObserved(a.Fresh)
		mb, _ := meanObserved(b.Fresh)
		switch {
		case better(maximize, ma, mb):
			return -1
		case better(maximize, mb, ma):
			return 1
		}
		return 0
	})
	if _, n := meanObserved(d.Repeats[0].Fresh); n == 0 {
		return nil, fmt.Errorf("probe %s: every re-evaluation of its best point failed", path)
	}
	return d, nil
}

// RunProbe runs the probe config p (NewProbe) and reads its journal back.
func RunProbe(ctx context.Context, p *Config, progress io.Writer) (*Result, *ProbeData, error) {
	if p.probe == nil {
		return nil, nil, fmt.Errorf("not a probe config")
	}
	res, err := Run(ctx, p, false, progress)
	if err != nil {
		return nil, nil, err
	}
	d, err := ReadProbe(p.Journal, p)
	if err != nil {
		return nil, nil, err
	}
	return res, d, nil
}

// reuseProbe lets the probe's best point compete with the run's pick: it
// is shipped instead when the mean of its fresh evaluations beats the
// score the run's pick is shipped on (its fresh evaluations if it has
// any, else its search evaluations). The run's pick, when it has only a
// search score, was selected for being high: the comparison then favours
// it, never the probe.
func (c *Config) reuseProbe(res *Result) error {
	if c.Probe == "" {
		return nil
	}
	d, err := ReadProbe(c.Probe, c)
	if err != nil {
		return err
	}
	p := d.Repeats[0]
	probe := &Finalist{Label: fmt.Sprintf("best probe point (calibrate's probe %s, its evaluation %d)", filepath.Base(d.Path), p.First.Index),
		X: p.X, Search: []bench.EvalRecord{p.First}, Fresh: p.Fresh}
	pm, _ := meanObserved(p.Fresh)
	run := res.Shipped
	rm, n := meanObserved(run.Fresh)
	how := "fresh evaluations"
	if n == 0 {
		rm, n = meanObserved(run.Search)
		how = "search evaluations (selected for being high)"
	}
	res.ProbeNote = fmt.Sprintf("the best probe point (mean %.6g of %d fresh evaluations) competed with the run's pick (mean %.6g of its %s): the same objective scored both", pm, len(p.Fresh), rm, how)
	if n > 0 && !better(res.Maximize, pm, rm) {
		res.ProbeOther = probe
		return nil
	}
	res.Shipped, res.Other = probe, run
	return nil
}

// itemList is the objective's item list (N 0: not scored on items).
func itemList(f objectives.Function) objectives.ItemList {
	if i, ok := f.(objectives.ItemFunction); ok {
		return i.Items()
	}
	return objectives.ItemList{}
}

// ItemsPerEvaluation is how many benchmark items one evaluation of the
// objective scores, and whether they are one fixed list (as lm-eval's
// --limit): 0 when the score is not an accuracy on items. For the
// multi-task testbed the items of all its target tasks count (its score
// is their mean). Call it after the config has run or been built.
func (c *Config) ItemsPerEvaluation(res *Result) (int, bool) {
	o := c.Objective
	if o.Kind == "mnist-multitask" { // either spelling: Validate makes it this kind
		// Its item list (objectives.ItemFunction) counts the items of one
		// task, what an evaluation costs as lm-eval's --limit does; its
		// score averages the answers of every target task on them.
		n := 0
		if o.MNIST != nil {
			n = o.MNIST.Items
		}
		if n == 0 {
			n = 100 // realmerge.MultiConfig's default limit
		}
		if t, ok := c.function.(interface{ Targets() int }); ok {
			n *= t.Targets()
		}
		return n, o.MNIST == nil || o.MNIST.Options["sampling"] != "resample"
	}
	if res != nil && res.ItemList.N > 0 {
		return res.ItemList.N, res.ItemList.Fixed
	}
	switch o.Kind {
	case "mnist":
		if o.MNIST.Items > 0 {
			return o.MNIST.Items, false
		}
		return 200, false // mnist-merge's default, drawn afresh
	}
	return 0, false
}

package evolve

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives/merge"
)

// ProgressPath is where the run keeps its progress page: beside the
// journal, named after it, so that two runs whose journals share a folder
// keep two pages. A journal NAME.journal.jsonl (the default for a config
// NAME.yml) has NAME.progress.html; any other journal, its name without
// its extension and then .progress.html (run.jsonl: run.progress.html).
func (c *Config) ProgressPath() string {
	stem := strings.TrimSuffix(c.Journal, filepath.Ext(c.Journal))
	stem = strings.TrimSuffix(stem, ".journal")
	return stem + ".progress.html"
}

// pageInterval is how often at most the progress page is rewritten
// during a run: a browser reloads it every few seconds, and an
// evaluation of a real merge takes minutes, so a rewrite a second costs
// nothing and shows every evaluation soon after it ends.
const pageInterval = time.Second

// progressPage keeps the run's progress page (bench.WriteProgressPage):
// rewritten after an evaluation, at most once per interval (an evaluation
// that ends sooner is shown by a rewrite at the interval's end), and a
// last time when the run ends or stops. The page is replaced atomically.
type progressPage struct {
	path     string
	base     bench.RunProgress
	recipe   func(x []float64) string
	interval time.Duration

	mu     sync.Mutex
	evals  []bench.ProgressEval
	last   time.Time // the last write
	timer  *time.Timer
	closed bool
	err    error // the first write's failure: no more writes are tried
}

func newProgressPage(c *Config, tg *target, maximize bool) *progressPage {
	p := &progressPage{path: c.ProgressPath(), interval: pageInterval, recipe: c.recipeText}
	p.base = bench.RunProgress{
		Title:    fmt.Sprintf("evomerge evolve: %s, seed %d", c.Algorithm, c.Seed),
		Budget:   c.Budget - c.reserve(),
		Maximize: maximize,
		Scored:   c.describeItems(),
		Genes:    c.geneNames(),
		Refresh:  5 * time.Second,
	}
	return p
}

// recipeText is the recipe of point x as the output file would hold it,
// or "" where the objective has none (the page then lists the point).
func (c *Config) recipeText(x []float64) string {
	if e := c.Objective.External; e != nil {
		if r, err := e.Genome.Recipe(x); err == nil {
			return r.YAML()
		}
		return ""
	}
	if d, ok := c.function.(interface {
		DiskRecipe(x []float64) (*merge.Recipe, error)
	}); ok {
		if r, err := d.DiskRecipe(x); err == nil {
			return r.YAML()
		}
	}
	return ""
}

// geneNames names the coordinates of an external evaluator's candidate:
// model, parameter and, with several groups, the group.
func (c *Config) geneNames() []string {
	e := c.Objective.External
	if e == nil {
		return nil
	}
	var names []string
	for _, m := range e.Models {
		for _, p := range e.Params {
			for g := range e.Groups {
				n := filepath.Base(m) + "." + p.Name
				if e.Groups > 1 {
					n += fmt.Sprintf("[%d]", g)
				}
				names = append(names, n)
			}
		}
	}
	return names
}

// add counts a finished evaluation (final evaluations, which re-score
// finalists, are left to the run's summary) and rewrites the page if the
// interval allows, else schedules the rewrite.
func (p *progressPage) add(e bench.EvalRecord, now time.Time) {
	if e.Final {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evals = append(p.evals, bench.ProgressEval{Index: e.Index, Observed: e.Observed, Error: e.Error, X: e.X})
	if p.closed || p.timer != nil {
		return
	}
	if wait := p.interval - now.Sub(p.last); wait > 0 {
		p.timer = time.AfterFunc(wait, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.timer = nil
			if !p.closed {
				p.write(bench.RunProgress{}, time.Now())
			}
		})
		return
	}
	p.write(bench.RunProgress{}, now)
}

// start writes the page as the run begins (with the evaluations a resumed
// run replays).
func (p *progressPage) start(replay []bench.EvalRecord, now time.Time) {
	for _, e := range replay {
		p.add(e, time.Time{})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.write(bench.RunProgress{}, now)
}

// finish writes the page a last time: done, with the run's summary, or
// stopped, saying why. It returns the first write's failure.
func (p *progressPage) finish(end bench.RunProgress) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.closed = true
	p.write(end, time.Now())
	return p.err
}

// write writes the page, with end's Done, Stopped and Summary; p.mu is
// held.
func (p *progressPage) write(end bench.RunProgress, now time.Time) {
	if p.err != nil {
		return
	}
	r := p.base
	r.Evals = p.evals
	r.Done, r.Stopped, r.Summary = end.Done, end.Stopped, end.Summary
	// The best as the page finds it: the first in index order of the
	// best score.
	var best *bench.ProgressEval
	for i, e := range p.evals {
		if e.Observed != nil && (best == nil || better(r.Maximize, *e.Observed, *best.Observed) ||
			(*e.Observed == *best.Observed && e.Index < best.Index)) {
			best = &p.evals[i]
		}
	}
	if best != nil {
		r.Recipe = p.recipe(best.X)
	}
	p.err = bench.WriteProgressPage(p.path, r)
	p.last = now
}

package evolve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/external"
)

// Entry is one journal line: an evaluation as it completed.
type Entry struct {
	Index    int       `json:"index"`
	X        []float64 `json:"x"`
	Observed *float64  `json:"observed"`
	True     *float64  `json:"true,omitempty"`
	Error    string    `json:"error,omitempty"`
	Slot     string    `json:"slot,omitempty"`
	MS       float64   `json:"ms"`
	// Final names the finalist a fresh final evaluation scored
	// ("recommendation" or "best observed"); empty during the search.
	Final string `json:"final,omitempty"`
}

// header is the journal's first line.
type header struct {
	Config    string `json:"config"`
	Algorithm string `json:"algorithm"`
	Seed      uint64 `json:"seed"`
	Budget    int    `json:"budget"`
}

// Result is what a finished (or interrupted) run found.
type Result struct {
	Evaluations int
	Replayed    int // evaluations taken from the journal
	Failures    int
	// SearchEvaluations were made by the optimiser; the rest of
	// Evaluations scored the finalists afresh.
	SearchEvaluations int
	Best              *Entry    // the best observed evaluation of the search
	Recommended       []float64 // the point shipped: Shipped.X
	// Shipped is the point written to the output, with every evaluation
	// that scored it; Other is the finalist it was preferred to, if two
	// were compared by fresh evaluations.
	Shipped, Other *Finalist
	// Note says why the shipped point is not the method's recommendation,
	// when it is not.
	Note string
	// RecommendedTrue is the shipped point's true score where the
	// objective knows it (mock objectives; for mnist, its accuracy on the
	// whole search pool); NaN otherwise. TrueName says which.
	RecommendedTrue float64
	TrueName        string
	// RecommendedHeldOut re-scores it on held-out items where the
	// objective has them (mnist); NaN otherwise.
	RecommendedHeldOut float64
	Maximize           bool
	// Items says what one evaluation scores: the objective and its items,
	// or the external evaluator's command.
	Items string
}

// Finalist is a point that may be shipped and the evaluations that scored
// it.
type Finalist struct {
	// Label says which point it is: "distribution mean of cmaes", "best
	// observed, evaluation 13".
	Label string
	X     []float64
	// Search lists the evaluations of exactly this point during the
	// search; Fresh the evaluations made afterwards to score it without
	// the luck that selected the best observed point.
	Search, Fresh []Entry
	// True is its noise-free score where the objective knows it, else NaN.
	True float64
}

// FreshMean is the mean of the finalist's successful fresh evaluations
// and how many there were.
func (f *Finalist) FreshMean() (float64, int) {
	return meanObserved(f.Fresh)
}

func meanObserved(es []Entry) (float64, int) {
	sum, n := 0.0, 0
	for _, e := range es {
		if e.Observed != nil {
			sum += *e.Observed
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / float64(n), n
}

// evaluator scores candidate index on a device slot.
type evaluator func(ctx context.Context, x []float64, slot string, index int) (objectives.Value, error)

// Run executes (or resumes) the run a config describes. progress, if not
// nil, receives a line per evaluation.
func Run(ctx context.Context, c *Config, resume bool, progress io.Writer) (*Result, error) {
	if err := c.CheckPaths(); err != nil {
		return nil, err
	}
	eval, p, slots, maximize, truth, err := c.build()
	if err != nil {
		return nil, err
	}
	h := header{Config: c.Hash(), Algorithm: c.Algorithm, Seed: c.Seed, Budget: c.Budget}
	journal, replay, err := openJournal(c.Journal, h, resume)
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	opt, _, err := algorithms.Configure(c.Algorithm, c.Set)
	if err != nil {
		return nil, err
	}
	// A method that recommends a point it never evaluated gets the budget
	// less the evaluations that will score that point and the best
	// observed one afresh: nothing is shipped unevaluated.
	reserve := c.reserve()
	o := &objective{
		eval: eval, slots: slots, budget: c.Budget - reserve, total: c.Budget, maximize: maximize,
		journal: journal, replay: replay, progress: progress,
		penalty: bench.FailurePenalty{Maximize: maximize, Floor: c.Objective.Kind != "external"},
	}
	p.Budget = c.Budget
	rng := rand.New(rand.NewPCG(c.Seed, 0x65766f6c7665)) // "evolve"
	rec, runErr := opt.Minimize(ctx, p, o, rng)
	if runErr != nil && !errors.Is(runErr, bench.ErrBudget) {
		return nil, runErr
	}
	if o.best == nil {
		return nil, fmt.Errorf("no evaluation succeeded (%d failed; the first: %s): nothing to recommend", o.failures, o.firstError)
	}
	if rec != nil {
		rec = slices.Clone(rec)
		p.Clip(rec)
	}
	res := &Result{SearchEvaluations: o.used, Best: o.best, Maximize: maximize, Items: c.describeItems()}
	if err := o.choose(ctx, c, rec, reserve, res); err != nil {
		return nil, err
	}
	res.Evaluations, res.Replayed, res.Failures = o.used, o.replayed, o.failures
	res.Recommended = res.Shipped.X
	res.RecommendedTrue = math.NaN()
	for _, f := range []*Finalist{res.Shipped, res.Other} {
		if f != nil {
			f.True = math.NaN()
			if truth != nil {
				f.True = truth(f.X)
			}
		}
	}
	res.RecommendedTrue = res.Shipped.True
	res.TrueName = "true score"
	if c.Objective.Kind == "mnist" {
		res.TrueName = "score on the whole search pool"
	}
	res.RecommendedHeldOut = math.NaN()
	if h, ok := c.function.(objectives.HeldOuter); ok {
		res.RecommendedHeldOut = h.HeldOut(res.Recommended)
	}
	return res, nil
}

// choose decides which point is shipped. A recommendation the search
// evaluated is shipped as it is. A recommendation it never evaluated (a
// distribution mean) is scored with FinalEvals fresh evaluations from the
// reserve, the best observed point with as many, and the one with fewer
// failed fresh evaluations, then the better mean of fresh scores, is
// shipped (a tie goes to the recommendation). The best observed point's
// search score is left out of that mean: it was selected for being high,
// so it is biased. Should a recommendation be unevaluated with no reserve
// (a method whose registry entry misstates what it recommends), the best
// observed point is shipped and Note says so.
func (o *objective) choose(ctx context.Context, c *Config, rec []float64, reserve int, res *Result) error {
	bestLabel := fmt.Sprintf("best observed, evaluation %d", o.best.Index)
	best := &Finalist{Label: bestLabel, X: o.best.X, Search: o.searchOf(o.best.X)}
	entry, _ := algorithms.Lookup(c.Algorithm)
	switch {
	case reserve > 0:
		finalists := []*Finalist{best}
		if rec != nil {
			finalists = []*Finalist{{Label: fmt.Sprintf("%s of %s", entry.Recommends, c.Algorithm), X: rec, Search: o.searchOf(rec)}, best}
		} else {
			res.Note = fmt.Sprintf("%s returned no recommendation: the best observed point was scored afresh", c.Algorithm)
		}
		if err := o.finalEvals(ctx, finalists, c.FinalEvals); err != nil {
			return err
		}
		shipped := finalists[0]
		if len(finalists) == 2 {
			a, b := finalists[0], finalists[1]
			ma, na := a.FreshMean()
			mb, nb := b.FreshMean()
			if nb > na || (nb == na && nb > 0 && o.better(mb, ma)) {
				shipped = b
			}
			res.Other = a
			if shipped == a {
				res.Other = b
			}
		}
		if _, n := shipped.FreshMean(); n == 0 {
			// Every fresh evaluation failed: the best observed point at
			// least has its search score.
			shipped, res.Other = best, nil
			res.Note = "every fresh evaluation of the finalists failed: shipping the best observed point, scored only during the search"
		}
		res.Shipped = shipped
	case rec == nil || slices.Equal(rec, o.best.X):
		res.Shipped = best
	case len(o.searchOf(rec)) > 0:
		ev := o.searchOf(rec)
		res.Shipped = &Finalist{Label: fmt.Sprintf("%s of %s, evaluation %d", entry.Recommends, c.Algorithm, ev[0].Index), X: rec, Search: ev}
	default:
		res.Shipped = best
		res.Note = fmt.Sprintf("%s recommended a point it never evaluated and no evaluations were reserved to score it: shipping the best observed point instead", c.Algorithm)
	}
	return nil
}

// searchOf lists the search's evaluations of exactly x.
func (o *objective) searchOf(x []float64) []Entry {
	var out []Entry
	for _, e := range o.searched {
		if slices.Equal(e.X, x) {
			out = append(out, e)
		}
	}
	return out
}

// finalEvals scores each finalist k times with fresh evaluations from the
// reserve, journaled (and on resume replayed) like the search's.
func (o *objective) finalEvals(ctx context.Context, fs []*Finalist, k int) error {
	o.budget = o.total
	var entries []Entry
	var todo []int
	for p, f := range fs {
		role := "best observed"
		if p == 0 && len(fs) == 2 {
			role = "recommendation"
		}
		for range k {
			o.used++
			idx := o.used
			if idx > o.total {
				return fmt.Errorf("internal error: final evaluation %d beyond the budget %d", idx, o.total)
			}
			if e, ok := o.replay[idx]; ok {
				if !slices.Equal(e.X, f.X) {
					return fmt.Errorf("journal %s: evaluation %d was made at %v, but this run scores %v there: the journal belongs to another run (different code or config)", o.journal.path, idx, e.X, f.X)
				}
				o.replayed++
				entries = append(entries, e)
				continue
			}
			entries = append(entries, Entry{Index: idx, X: slices.Clone(f.X), Final: role})
			todo = append(todo, len(entries)-1)
		}
	}
	if err := o.evaluateConcurrently(ctx, entries, todo); err != nil {
		return err
	}
	for i, e := range entries {
		if e.Observed == nil {
			o.failures++
		}
		f := fs[i/k]
		f.Fresh = append(f.Fresh, e)
	}
	return nil
}

// build makes the evaluation function and the search box of the config.
func (c *Config) build() (evaluator, algorithms.Problem, []string, bool, func([]float64) float64, error) {
	var p algorithms.Problem
	o := c.Objective
	switch o.Kind {
	case "scenario", "mock", "mnist":
		spec := objectives.Spec{}
		switch o.Kind {
		case "mnist":
			spec = objectives.Spec{Name: "mnist-merge", Items: o.MNIST.Items, Options: o.MNIST.Options, Seed: c.Seed}
		case "scenario":
			sc, err := bench.LookupScenario(o.Scenario)
			if err != nil {
				return nil, p, nil, false, nil, err
			}
			spec = sc.Objective
			spec.Seed = c.Seed
		default:
			spec = o.mockSpec(c.Seed)
		}
		f, err := objectives.New(spec)
		if err != nil {
			return nil, p, nil, false, nil, err
		}
		box := f.Box()
		p = algorithms.Problem{Dim: f.Dim(), Lower: box.Lower, Upper: box.Upper, Bounded: true}
		delay := o.Delay
		seed := c.Seed
		eval := func(ctx context.Context, x []float64, _ string, index int) (objectives.Value, error) {
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return objectives.Value{}, ctx.Err()
				case <-t.C:
				}
			}
			// The noise of evaluation i depends on the seed and i only, so a
			// replayed run sees the same noise as the original, and as the
			// same seed's run of evomerge bench.
			var pcg rand.PCG
			bench.NoiseSource(&pcg, seed, index)
			return f.Evaluate(ctx, x, rand.New(&pcg))
		}
		c.function = f
		return eval, p, []string{"0"}, f.Sense() == objectives.Maximize, f.True, nil
	case "external":
		e := o.External
		ev := &external.Evaluator{Genome: e.Genome, Command: e.Command, WorkDir: e.WorkDir, Seed: c.Seed, Tag: c.Hash()}
		if err := ev.Validate(); err != nil {
			return nil, p, nil, false, nil, err
		}
		if err := ev.CheckInputs(); err != nil {
			return nil, p, nil, false, nil, err
		}
		// Folders a killed run of this config left behind hold whole
		// merged models: remove them before starting again.
		if _, err := ev.RemoveStale(); err != nil {
			return nil, p, nil, false, nil, err
		}
		lo, hi := e.Genome.Box()
		p = algorithms.Problem{Dim: len(lo), Lower: lo, Upper: hi, Bounded: true}
		eval := func(ctx context.Context, x []float64, slot string, index int) (objectives.Value, error) {
			v, err := ev.Evaluate(ctx, x, slot, index)
			return objectives.Value{Observed: v, True: math.NaN()}, err
		}
		return eval, p, e.Slots, e.Direction != "minimize", nil, nil
	}
	return nil, p, nil, false, nil, fmt.Errorf("objective kind %q", o.Kind)
}

// objective is what the optimiser sees: it owns the budget, replays the
// journal, evaluates batches concurrently over the device slots and
// journals each evaluation as it completes.
type objective struct {
	eval  evaluator
	slots []string
	// budget bounds the search; total, the run, final evaluations included.
	budget, total int
	maximize      bool
	journal       *journalFile
	replay        map[int]Entry
	progress      io.Writer

	used, replayed, failures int
	best                     *Entry
	searched                 []Entry // every evaluation of the search
	scored                   int
	shown                    *Entry // the best evaluation reported so far, for progress lines
	// penalty floors scores at 0 for percentages; an external evaluator's
	// scale is unknown (a log-likelihood is negative), so its failures
	// before any success get a huge loss instead.
	penalty     bench.FailurePenalty
	failsInARow int
	firstError  string
}

// maxInitialFailures ends a run whose first evaluations all fail: that is a
// broken evaluator or recipe, not bad luck, and the budget is too dear to
// spend on penalties.
const maxInitialFailures = 10

func (o *objective) Eval(ctx context.Context, x []float64) (float64, error) {
	fs, err := o.EvalBatch(ctx, [][]float64{x})
	if err != nil {
		return 0, err
	}
	return fs[0], nil
}

// EvalBatch scores up to the rest of the budget; if the batch is longer,
// the evaluations that fit are made and journaled, then ErrBudget.
func (o *objective) EvalBatch(ctx context.Context, xs [][]float64) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := min(len(xs), o.budget-o.used)
	if n <= 0 {
		return nil, bench.ErrBudget
	}
	entries := make([]Entry, n)
	var todo []int
	for i := range n {
		idx := o.used + i + 1
		if e, ok := o.replay[idx]; ok {
			if !slices.Equal(e.X, xs[i]) {
				return nil, fmt.Errorf("journal %s: evaluation %d was made at %v, but this run asks for %v: the journal belongs to another run (different code or config)", o.journal.path, idx, e.X, xs[i])
			}
			entries[i] = e
			o.replayed++
			continue
		}
		entries[i] = Entry{Index: idx, X: slices.Clone(xs[i])}
		todo = append(todo, i)
	}
	if err := o.evaluateConcurrently(ctx, entries, todo); err != nil {
		return nil, err
	}
	// Losses in index order: penalties depend only on earlier evaluations.
	fs := make([]float64, n)
	for i := range entries {
		e := &entries[i]
		o.used++
		o.searched = append(o.searched, *e)
		if e.Observed == nil {
			o.failures++
			o.failsInARow++
			if o.firstError == "" {
				o.firstError = e.Error
			}
			if o.scored == 0 && o.failsInARow >= maxInitialFailures {
				return nil, fmt.Errorf("the first %d evaluations all failed (the first: %s): fix the evaluator or the recipe, then start again without --resume (the journal %s records the failures)", o.failsInARow, o.firstError, o.journal.path)
			}
			fs[i] = o.penalty.Loss()
			continue
		}
		o.failsInARow = 0
		loss := *e.Observed
		if o.maximize {
			loss = -loss
		}
		o.penalty.Observe(loss)
		o.scored++
		if o.best == nil || o.better(*e.Observed, *o.best.Observed) {
			o.best = e
		}
		fs[i] = loss
	}
	if n < len(xs) {
		return nil, bench.ErrBudget
	}
	return fs, nil
}

func (o *objective) better(a, b float64) bool {
	if o.maximize {
		return a > b
	}
	return a < b
}

// evaluateConcurrently runs entries[todo] over the slots, one evaluation
// per slot at a time, journaling each as it completes.
func (o *objective) evaluateConcurrently(ctx context.Context, entries []Entry, todo []int) error {
	if len(todo) == 0 {
		return nil
	}
	if err := o.journal.start(); err != nil {
		return err
	}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, slot := range o.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				e := &entries[i]
				start := time.Now()
				v, err := o.eval(ctx, e.X, slot, e.Index)
				e.MS = float64(time.Since(start).Microseconds()) / 1000
				e.Slot = slot
				switch {
				case err == nil && !math.IsNaN(v.Observed) && !math.IsInf(v.Observed, 0):
					obs := v.Observed
					e.Observed = &obs
					if !math.IsNaN(v.True) {
						t := v.True
						e.True = &t
					}
				case err == nil:
					e.Error = fmt.Sprintf("evaluator returned %g", v.Observed)
				case ctx.Err() != nil:
					mu.Lock()
					if firstErr == nil {
						firstErr = ctx.Err()
					}
					mu.Unlock()
					continue // interrupted: not journaled, it will be redone
				case errors.Is(err, objectives.ErrEvalFailed):
					e.Error = err.Error()
				default:
					// Not a failed merge or benchmark but a fault of the
					// run itself (a bad recipe, an unusable workdir): stop,
					// and do not record it as a candidate's failure.
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("evaluation %d: %w", e.Index, err)
					}
					mu.Unlock()
					continue
				}
				mu.Lock()
				jerr := o.journal.append(e)
				if jerr != nil && firstErr == nil {
					firstErr = jerr
				}
				if o.progress != nil {
					o.report(e)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (o *objective) report(e *Entry) {
	what := "eval"
	if e.Final != "" {
		what = "final eval (" + e.Final + ")"
	}
	if e.Observed == nil {
		fmt.Fprintf(o.progress, "%s %d/%d on slot %s failed (%.0f ms): %s\n", what, e.Index, o.total, e.Slot, e.MS, e.Error)
		return
	}
	if e.Final != "" {
		fmt.Fprintf(o.progress, "%s %d/%d on slot %s: score %.4g (%.0f ms)\n", what, e.Index, o.total, e.Slot, *e.Observed, e.MS)
		return
	}
	if o.shown == nil || o.better(*e.Observed, *o.shown.Observed) {
		o.shown = e
	}
	fmt.Fprintf(o.progress, "eval %d/%d on slot %s: score %.4g (%.0f ms); best so far %.4g at eval %d\n",
		e.Index, o.total, e.Slot, *e.Observed, e.MS, *o.shown.Observed, o.shown.Index)
}

// journalFile is the append-only journal. It is created, with its header,
// only when the first evaluation starts: a run refused before that (a bad
// config, a missing model folder) leaves no journal that would block the
// next attempt.
//
// One process writes a journal at a time (bench.LockJournal): an existing
// journal is locked when it is opened, before anything is read or spent;
// a new one when it is created.
type journalFile struct {
	f       *os.File // locked; nil until the journal exists
	path    string
	header  header
	fresh   bool // the file holds nothing to keep: start it with the header
	started bool
}

// start prepares the journal for the first evaluation of this process.
func (j *journalFile) start() error {
	if j.started {
		return nil
	}
	if j.f == nil {
		f, err := bench.LockJournal(j.path)
		if err != nil {
			return err
		}
		j.f = f
	}
	if j.fresh {
		if err := j.f.Truncate(0); err != nil {
			return fmt.Errorf("journal %s: %v", j.path, err)
		}
		b, _ := json.Marshal(j.header)
		if _, err := j.f.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("journal %s: %v", j.path, err)
		}
	}
	j.started = true
	return nil
}

func (j *journalFile) append(e *Entry) error {
	if err := j.start(); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	return nil
}

func (j *journalFile) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}

// openJournal prepares the journal, or with resume reads it back: its
// header must match the config, a partial last line (a kill during a
// write) is cut off, and every evaluation recorded is returned by index. A
// journal that records no evaluation (only a header, or a header cut
// short) holds nothing to resume or to protect and is started afresh;
// --resume with no journal at all is an error, since a mistyped path
// would otherwise silently start the run again.
func openJournal(path string, h header, resume bool) (*journalFile, map[int]Entry, error) {
	replay := map[int]Entry{}
	j := &journalFile{path: path, header: h, fresh: true}
	var data []byte
	_, err := os.Stat(path)
	if err == nil {
		// Lock before reading: another process may be writing it.
		if j.f, err = bench.LockJournal(path); err != nil {
			return nil, nil, err
		}
		if data, err = io.ReadAll(j.f); err != nil {
			j.f.Close()
			return nil, nil, fmt.Errorf("journal %s: %v", path, err)
		}
	}
	ok := false
	defer func() {
		if !ok && j.f != nil {
			j.f.Close()
		}
	}()
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist) && resume:
		return nil, nil, fmt.Errorf("journal %s does not exist: nothing to resume (check the path, or start the run without --resume)", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("journal %s: %v", path, err)
	case err != nil:
		// A new run.
	case headerOnly(data):
		// Nothing recorded: start afresh.
	case !resume:
		return nil, nil, fmt.Errorf("journal %s exists: pass --resume to continue that run, or remove it to start again", path)
	default:
		good, err := parseJournal(data, path, h, replay)
		if err != nil {
			return nil, nil, err
		}
		if good == 0 {
			break // the header itself was cut short
		}
		j.fresh = false
		if good < len(data) {
			if err := os.Truncate(path, int64(good)); err != nil {
				return nil, nil, err
			}
		} else if data[len(data)-1] != '\n' {
			if err := appendNewline(path); err != nil {
				return nil, nil, err
			}
		}
	}
	ok = true
	return j, replay, nil
}

// headerOnly reports whether a journal records no evaluation: it is empty,
// or its first line is all there is.
// A file that does not begin like a journal header is never taken for
// one, so a journal path that names some other file is refused, not
// overwritten.
func headerOnly(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	if !bytes.HasPrefix(data, []byte(`{"config":"`)) {
		return false
	}
	i := bytes.IndexByte(data, '\n')
	return i < 0 || len(bytes.TrimSpace(data[i+1:])) == 0
}

func appendNewline(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte{'\n'})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// parseJournal reads a journal into replay and returns the length of its
// well-formed prefix.
func parseJournal(data []byte, path string, h header, replay map[int]Entry) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	good, line := 0, 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		terminated := good+len(b) < len(data) // followed by a newline
		if !terminated && line == 1 {
			break // the header itself was cut short: start afresh
		}
		if !terminated {
			// The last line: a write cut short by a kill (drop it), or a
			// whole entry whose newline was lost (keep it).
			var e Entry
			if json.Unmarshal(b, &e) != nil || e.Index < 1 || e.Index > h.Budget || len(e.X) == 0 || replay[e.Index].X != nil {
				break
			}
		}
		if line == 1 {
			var got header
			if err := json.Unmarshal(b, &got); err != nil || got.Config == "" {
				return 0, fmt.Errorf("journal %s: line 1 is not a journal header", path)
			}
			if got != h {
				return 0, fmt.Errorf("journal %s was written by another run (algorithm %s, seed %d, budget %d, config %s; this one is %s, %d, %d, %s)", path, got.Algorithm, got.Seed, got.Budget, got.Config, h.Algorithm, h.Seed, h.Budget, h.Config)
			}
		} else {
			var e Entry
			if err := json.Unmarshal(b, &e); err != nil {
				return 0, fmt.Errorf("journal %s line %d: %v", path, line, err)
			}
			if e.Index < 1 || e.Index > h.Budget || len(e.X) == 0 {
				return 0, fmt.Errorf("journal %s line %d: evaluation index %d outside 1..%d", path, line, e.Index, h.Budget)
			}
			if _, dup := replay[e.Index]; dup {
				return 0, fmt.Errorf("journal %s line %d: evaluation %d recorded twice", path, line, e.Index)
			}
			replay[e.Index] = e
		}
		good += len(b) + 1
	}
	good = min(good, len(data))
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("journal %s: %v", path, err)
	}
	return good, nil
}

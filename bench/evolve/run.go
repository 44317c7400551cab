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
	Best        *Entry    // the best observed evaluation
	Recommended []float64 // the optimiser's answer (best observed if it has none)
	// RecommendedTrue is the recommendation's true score where the
	// objective knows it (mock objectives); NaN otherwise.
	RecommendedTrue float64
	// RecommendedHeldOut re-scores it on held-out items where the
	// objective has them (mnist); NaN otherwise.
	RecommendedHeldOut float64
	Maximize           bool
}

// evaluator scores candidate index on a device slot.
type evaluator func(ctx context.Context, x []float64, slot string, index int) (objectives.Value, error)

// Run executes (or resumes) the run a config describes. progress, if not
// nil, receives a line per evaluation.
func Run(ctx context.Context, c *Config, resume bool, progress io.Writer) (*Result, error) {
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
	o := &objective{
		eval: eval, slots: slots, budget: c.Budget, maximize: maximize,
		journal: journal, replay: replay, progress: progress,
		penalty: bench.FailurePenalty{Maximize: maximize, Floor: c.Objective.Kind != "external"},
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x65766f6c7665)) // "evolve"
	rec, runErr := opt.Minimize(ctx, p, o, rng)
	if runErr != nil && !errors.Is(runErr, bench.ErrBudget) {
		return nil, runErr
	}
	if o.best == nil {
		return nil, fmt.Errorf("no evaluation succeeded (%d failed; the first: %s): nothing to recommend", o.failures, o.firstError)
	}
	res := &Result{Evaluations: o.used, Replayed: o.replayed, Failures: o.failures, Best: o.best, Maximize: maximize, RecommendedTrue: math.NaN()}
	switch {
	case rec != nil:
		res.Recommended = append([]float64(nil), rec...)
		p.Clip(res.Recommended)
	case o.best != nil:
		res.Recommended = o.best.X
	}
	if truth != nil && res.Recommended != nil {
		res.RecommendedTrue = truth(res.Recommended)
	}
	res.RecommendedHeldOut = math.NaN()
	if h, ok := c.function.(objectives.HeldOuter); ok && res.Recommended != nil {
		res.RecommendedHeldOut = h.HeldOut(res.Recommended)
	}
	return res, nil
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
	eval     evaluator
	slots    []string
	budget   int
	maximize bool
	journal  *journalFile
	replay   map[int]Entry
	progress io.Writer

	used, replayed, failures int
	best                     *Entry
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
	if e.Observed == nil {
		fmt.Fprintf(o.progress, "eval %d/%d on slot %s failed (%.0f ms): %s\n", e.Index, o.budget, e.Slot, e.MS, e.Error)
		return
	}
	if o.shown == nil || o.better(*e.Observed, *o.shown.Observed) {
		o.shown = e
	}
	fmt.Fprintf(o.progress, "eval %d/%d on slot %s: score %.4g (%.0f ms); best so far %.4g at eval %d\n",
		e.Index, o.budget, e.Slot, *e.Observed, e.MS, *o.shown.Observed, o.shown.Index)
}

// journalFile is the append-only journal.
type journalFile struct {
	f    *os.File
	path string
}

func (j *journalFile) append(e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	return nil
}

func (j *journalFile) Close() error { return j.f.Close() }

// openJournal creates the journal, or with resume reads it back: its
// header must match the config, a partial last line (a kill during a
// write) is cut off, and every evaluation recorded is returned by index.
func openJournal(path string, h header, resume bool) (*journalFile, map[int]Entry, error) {
	replay := map[int]Entry{}
	f, err := bench.LockJournal(path) // one writer at a time
	if err != nil {
		return nil, nil, err
	}
	opened := false
	defer func() {
		if !opened {
			f.Close()
		}
	}()
	data, err := io.ReadAll(f)
	switch {
	case err == nil && len(data) > 0 && !resume:
		return nil, nil, fmt.Errorf("journal %s exists: pass --resume to continue that run, or remove it to start again", path)
	case err == nil && len(data) > 0:
		good, err := parseJournal(data, path, h, replay)
		if err != nil {
			return nil, nil, err
		}
		if good < len(data) {
			if err := os.Truncate(path, int64(good)); err != nil {
				return nil, nil, err
			}
		} else if data[len(data)-1] != '\n' {
			if err := appendNewline(path); err != nil {
				return nil, nil, err
			}
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, nil, err
	case resume:
		// Nothing to resume: start the run.
	}
	j := &journalFile{f: f, path: path}
	if len(replay) == 0 {
		if st, _ := f.Stat(); st.Size() == 0 {
			b, _ := json.Marshal(h)
			if _, err := f.Write(append(b, '\n')); err != nil {
				return nil, nil, err
			}
		}
	}
	opened = true
	return j, replay, nil
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

package evolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
)

// Result is what a finished run found: bench's record of the run and every
// evaluation it made, read the way the output file and the summary say it.
type Result struct {
	// Run is bench's record of the run, as the journal holds it.
	Run *bench.Run
	// Records are every evaluation of the run, in the order they were
	// recorded (on several slots, the order they finished).
	Records []bench.EvalRecord
	// Complete says the journal already held the finished run: nothing
	// was evaluated, the result is read back.
	Complete    bool
	Evaluations int
	Replayed    int // evaluations taken from the journal
	Failures    int
	// SearchEvaluations were made by the optimiser; the rest of
	// Evaluations scored the finalists afresh.
	SearchEvaluations int
	Best              *bench.EvalRecord // the best observed evaluation of the search
	Recommended       []float64         // the point shipped: Shipped.X
	// Shipped is the point written to the output, with every evaluation
	// that scored it; Other is the finalist it was preferred to, if two
	// were compared by fresh evaluations.
	Shipped, Other *Finalist
	// Note says why the shipped point is not the method's recommendation,
	// when it is not.
	Note string
	// ProbeNote, with a probe (Config.Probe), says how the probe's best
	// point competed with the run's pick; ProbeOther is that point when it
	// lost (when it won it is Shipped and the run's pick Other).
	ProbeNote  string
	ProbeOther *Finalist
	// ItemList and Box are the objective's items (N 0: none) and box.
	ItemList objectives.ItemList
	Box      objectives.Box
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
	// Slots names the evaluation slots (EvalRecord.Slot indexes it).
	Slots []string
	// ProgressPage is the run's progress page; ProgressError says why it
	// could not be written, if it could not (the run's result stands).
	ProgressPage  string
	ProgressError error
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
	Search, Fresh []bench.EvalRecord
	// True is its noise-free score where the objective knows it, else NaN.
	True float64
}

// FreshMean is the mean of the finalist's successful fresh evaluations
// and how many there were.
func (f *Finalist) FreshMean() (float64, int) {
	return meanObserved(f.Fresh)
}

func meanObserved(es []bench.EvalRecord) (float64, int) {
	sum, w, n := 0.0, 0.0, 0
	for _, e := range es {
		if e.Observed != nil {
			// An evaluation on items weighs by its items: scores are means
			// over their items, so this is the mean over all of them.
			k := float64(max(e.Items, 1))
			sum += k * *e.Observed
			w += k
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / w, n
}

// Run executes (or resumes) the run a config describes on bench's tracker:
// every evaluation goes through it (budget, failure penalty, box and
// finiteness checks, the final check of an unevaluated recommendation)
// and is journaled as it finishes; the run's record closes the journal.
// progress, if not nil, receives a line per evaluation.
func Run(ctx context.Context, c *Config, resume bool, progress io.Writer) (res *Result, err error) {
	if c.Multi() {
		return nil, fmt.Errorf("%s is multi-objective: its run is RunMulti", c.Algorithm)
	}
	if err := c.CheckPaths(); err != nil {
		return nil, err
	}
	tg, err := c.build()
	if err != nil {
		return nil, err
	}
	if c.Probe != "" {
		// A probe that cannot compete is refused before the budget is spent.
		if _, err := ReadProbe(c.Probe, c); err != nil {
			return nil, err
		}
	}
	key, err := bench.KeyOf(tg.job, tg.f)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(c.Journal)
	journal, replay, jobs, done, err := openJournal(c.Journal, key, resume)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A journal this run created and left empty (a run refused at its
		// first evaluation) would only block the corrected config's run.
		if st, err := os.Stat(c.Journal); res == nil && errors.Is(statErr, os.ErrNotExist) && err == nil && st.Size() == 0 {
			os.Remove(c.Journal)
		}
		journal.Close()
	}()
	out := &lockedWriter{w: progress}
	if tg.ev != nil {
		end, err := prepareExternal(ctx, tg.ev, key, journal, replay, jobs, out.line)
		if err != nil {
			return nil, err
		}
		defer end()
	}
	r := &Result{Maximize: tg.f.Sense() == objectives.Maximize, Items: c.describeItems(), Slots: tg.slots, Replayed: len(replay), ProgressPage: c.ProgressPath(),
		ItemList: itemList(tg.f), Box: tg.f.Box()}
	page := newProgressPage(c, tg, r.Maximize)
	page.start(replay, time.Now())
	defer func() {
		end := bench.RunProgress{Done: true}
		switch {
		case err != nil && errors.Is(err, context.Canceled):
			end = bench.RunProgress{Stopped: fmt.Sprintf("The run was interrupted; evomerge evolve --resume continues it from its journal %s.", c.Journal)}
		case err != nil:
			end = bench.RunProgress{Stopped: "The run stopped: " + err.Error()}
		default:
			end.Summary = Scoring(res)
		}
		if perr := page.finish(end); perr != nil && res != nil {
			res.ProgressError = perr
		}
	}()
	if done != nil {
		r.Complete = true
		return r.finished(c.finish(r, tg, done, replay))
	}
	p := &progressLines{w: out, total: c.Budget, slots: tg.slots, maximize: r.Maximize, itemBudget: c.BudgetItems}
	for _, e := range replay {
		p.seen(e)
	}
	records := slices.Clone(replay)
	job := tg.job
	job.Replay = replay
	job.Log = func(e bench.EvalRecord) error {
		if err := journal.AppendEval(key, e); err != nil {
			return err
		}
		records = append(records, e)
		p.report(e)
		page.add(e, time.Now())
		return nil
	}
	run, err := bench.ExecuteOn(ctx, job, tg.f)
	if err != nil {
		return nil, err
	}
	if run.Error != "" {
		if strings.HasPrefix(run.Error, fmt.Sprintf("the first %d evaluations all failed", maxInitialFailures)) {
			return nil, fmt.Errorf("%s: fix the evaluator or the recipe, then remove the journal %s (it records the failures) and start again", run.Error, c.Journal)
		}
		if len(records) > 0 {
			return nil, fmt.Errorf("%s (the %d finished evaluations are in the journal %s: --resume continues from them)", run.Error, len(records), c.Journal)
		}
		return nil, errors.New(run.Error)
	}
	if err := journal.Append(run); err != nil {
		return nil, err
	}
	return r.finished(c.finish(r, tg, run, records))
}

// lockedWriter serialises the lines of the run (one per evaluation, from
// the tracker) and of the slurm backend (one per job, from the
// evaluations in flight); a nil w discards them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	if l.w == nil {
		return len(b), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) line(s string) { fmt.Fprintln(l, s) }

// finished returns r, or nil and err.
func (r *Result) finished(err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// finish reads the run's record and evaluations into res: which point is
// shipped, and every evaluation that scored it.
func (c *Config) finish(res *Result, tg *target, run *bench.Run, records []bench.EvalRecord) error {
	res.Run, res.Records = run, records
	res.Evaluations, res.Failures = run.EvalsUsed, run.Failures
	var search []bench.EvalRecord
	for i, e := range records {
		if e.Final {
			continue
		}
		search = append(search, e)
		if e.Observed != nil && (res.Best == nil || better(res.Maximize, *e.Observed, *res.Best.Observed)) {
			res.Best = &records[i]
		}
	}
	res.SearchEvaluations = len(search)
	if res.Best == nil || run.Recommended == nil {
		return fmt.Errorf("no evaluation succeeded (%d failed; the first: %s): nothing to recommend", run.Failures, run.FirstFailure)
	}
	of := func(x []float64, final bool) []bench.EvalRecord {
		var out []bench.EvalRecord
		for _, e := range records {
			if e.Final == final && slices.Equal(e.X, x) {
				out = append(out, e)
			}
		}
		return out
	}
	finalist := func(label string, x []float64) *Finalist {
		return &Finalist{Label: label, X: x, Search: of(x, false), Fresh: of(x, true)}
	}
	entry, _ := algorithms.Lookup(c.Algorithm)
	best := finalist(fmt.Sprintf("best observed, evaluation %d", res.Best.Index), res.Best.X)
	rec := run.Recommended
	switch fc := run.FinalCheck; {
	case fc != nil:
		bo := best
		if !slices.Equal(fc.BestObserved, best.X) {
			bo = finalist("best observed before the final check", fc.BestObserved)
		}
		method := finalist(fmt.Sprintf("%s of %s", entry.Recommends, c.Algorithm), fc.Method)
		res.Shipped, res.Other = method, bo
		if fc.Chosen == "best observed" {
			res.Shipped, res.Other = bo, method
		}
	case slices.Equal(rec, best.X):
		res.Shipped = best
	case len(of(rec, false)) > 0:
		res.Shipped = finalist(fmt.Sprintf("%s of %s, evaluation %d", entry.Recommends, c.Algorithm, of(rec, false)[0].Index), rec)
	default:
		res.Shipped = best
		res.Note = fmt.Sprintf("%s recommended a point it never evaluated and no evaluations were reserved to score it: shipping the best observed point instead", c.Algorithm)
	}
	if res.Note == "" && run.Recommendation != entry.Recommends && run.Recommendation != "best observed" && run.FinalCheck == nil {
		res.Note = run.Recommendation
	}
	if err := c.reuseProbe(res); err != nil {
		return err
	}
	res.Recommended = res.Shipped.X
	res.TrueName = "true score"
	if c.Objective.Kind == "mnist" || c.Objective.Kind == "mnist-multitask" {
		res.TrueName = "score on the whole search pool"
	}
	known := objectives.KnowsTruth(tg.f)
	for _, f := range []*Finalist{res.Shipped, res.Other, res.ProbeOther} {
		if f != nil {
			f.True = math.NaN()
			if known {
				f.True = tg.f.True(f.X)
			}
		}
	}
	res.RecommendedTrue = res.Shipped.True
	res.RecommendedHeldOut = math.NaN()
	if h, ok := c.function.(objectives.HeldOuter); ok {
		res.RecommendedHeldOut = h.HeldOut(res.Recommended)
	}
	return nil
}

func better(maximize bool, a, b float64) bool {
	if maximize {
		return a > b
	}
	return a < b
}

// progressLines prints a line per evaluation as it finishes.
type progressLines struct {
	w     io.Writer
	total int
	slots []string
	// itemBudget, with an item budget, makes each line say the items of
	// its evaluation and the items spent (total is then unknown).
	itemBudget, items int
	maximize          bool
	best              *bench.EvalRecord // the best search evaluation so far
}

// seen counts a replayed evaluation towards the best so far.
func (p *progressLines) seen(e bench.EvalRecord) {
	if !e.Final && e.Observed != nil && (p.best == nil || better(p.maximize, *e.Observed, *p.best.Observed)) {
		p.best = &e
	}
}

func (p *progressLines) report(e bench.EvalRecord) {
	p.seen(e)
	if p.w == nil {
		return
	}
	slot := fmt.Sprint(e.Slot)
	if e.Slot < len(p.slots) {
		slot = p.slots[e.Slot]
	}
	what := "eval"
	if p.itemBudget > 0 {
		p.items += e.Items
		what = fmt.Sprintf("eval (items %d–%d; %d of %d spent)", e.From, e.From+e.Items-1, p.items, p.itemBudget)
	}
	if e.Final {
		what = "final eval (recommendation)"
		if p.best != nil && slices.Equal(e.X, p.best.X) {
			what = "final eval (best observed)"
		}
	}
	count := fmt.Sprintf("%d/%d", e.Index, p.total)
	if p.itemBudget > 0 {
		count = fmt.Sprint(e.Index) // evaluations of any size: no total
	}
	switch {
	case e.Observed == nil:
		fmt.Fprintf(p.w, "%s %s on slot %s failed (%.0f ms): %s\n", what, count, slot, e.MS, e.Error)
	case e.Final || p.best == nil:
		fmt.Fprintf(p.w, "%s %s on slot %s: score %.4g (%.0f ms)\n", what, count, slot, *e.Observed, e.MS)
	default:
		fmt.Fprintf(p.w, "%s %s on slot %s: score %.4g (%.0f ms); best so far %.4g at eval %d\n",
			what, count, slot, *e.Observed, e.MS, *p.best.Observed, p.best.Index)
	}
}

// openJournal opens the run's journal (bench's format: evaluation lines
// as they finish, then the run's record) under its lock, or with resume
// reads it back: the evaluation lines of this run, in the order they were
// written, and its record if the run finished. A journal holding lines of
// any other run is refused: it belongs to another config. --resume with
// no journal at all is an error, since a mistyped path would otherwise
// silently start the run again.
func openJournal(path string, key bench.RunKey, resume bool) (*bench.Journal, []bench.EvalRecord, []bench.JobLine, *bench.Run, error) {
	if err := refuseOldFormat(path); err != nil {
		return nil, nil, nil, nil, err
	}
	if resume {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, nil, fmt.Errorf("journal %s does not exist: nothing to resume (check the path, or start the run without --resume)", path)
		}
	}
	j, contents, err := bench.OpenJournalContents(path, resume)
	if err != nil {
		if !resume && strings.Contains(err.Error(), "pass --resume") {
			return nil, nil, nil, nil, fmt.Errorf("journal %s exists: pass --resume to continue that run, or remove it to start again", path)
		}
		return nil, nil, nil, nil, err
	}
	k := key.Key()
	var replay []bench.EvalRecord
	var done *bench.Run
	other := func(what string) error {
		j.Close()
		return fmt.Errorf("journal %s holds %s of another run (another algorithm, seed, budget or objective: the config changed since it was written): give this run its own journal, or restore the config", path, what)
	}
	for _, l := range contents.Evals {
		if l.Key != k {
			return nil, nil, nil, nil, other("evaluations")
		}
		replay = append(replay, l.Eval)
	}
	for _, l := range contents.Jobs {
		if l.Key != k {
			return nil, nil, nil, nil, other("Slurm jobs")
		}
	}
	for _, r := range contents.Runs {
		if r.RunKey() != key {
			return nil, nil, nil, nil, other("the record")
		}
		done = r
	}
	return j, replay, contents.Jobs, done, nil
}

// refuseOldFormat refuses a journal written before evolve ran on bench's
// tracker (a header line, then one line per evaluation): the optimisers
// then heard a generation's results in submission order, so its
// evaluations cannot be replayed into a run that hears them as they
// finish. One that records no evaluation (only its header, as a run
// refused before its first evaluation left it) holds nothing to keep and
// is emptied, so it does not block the run.
func refuseOldFormat(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil // absent, or unreadable: opening it will say so
	}
	f, err := bench.LockJournal(path) // another process may be writing it
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil || !bytes.HasPrefix(data, []byte(`{"config":"`)) {
		return nil
	}
	if i := bytes.IndexByte(data, '\n'); i < 0 || len(bytes.TrimSpace(data[i+1:])) == 0 {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("journal %s: %v", path, err)
		}
		return nil
	}
	return fmt.Errorf("journal %s is in the older format of evomerge evolve (a header line, then one line per evaluation), which this version cannot resume: finish it with the version that wrote it, or move it away and start the run again", path)
}

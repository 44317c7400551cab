package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// Comparison configures a run of several algorithms × seeds on one
// objective configuration.
type Comparison struct {
	// Scenario labels the runs with a preset's name, if any.
	Scenario   string
	Algorithms []string
	// Settings holds hyperparameter overrides per algorithm.
	Settings  map[string]map[string]string
	Objective objectives.Spec
	Seeds     int    // runs per algorithm
	Seed      uint64 // master seed: the objective and every job seed derive from it
	Budget    int
	Target    float64 // NaN: the objective's default
	// Parallel bounds the runs in flight; 0 means GOMAXPROCS.
	Parallel    int
	EvalTimeout time.Duration
	// Progress, if non-nil, receives a one-line count of finished runs.
	Progress io.Writer
	// Skip, if set, reports jobs already recorded, so that a resumed suite
	// does not repeat them (see Resume).
	Skip func(Job) bool
	// Reeval sets the re-evaluation recommendation policy of every run.
	Reeval Reeval
	// Slots and EvalTime set every job's evaluations in flight and
	// evaluation-time model (see Job).
	Slots    int
	EvalTime EvalTime
	// ItemBudget, if positive, gives every run that many benchmark items
	// instead of Budget evaluations (Job.ItemBudget); Budget must then be
	// ItemEvals(ItemBudget, items per evaluation).
	ItemBudget int
	// Done, if set, is called as each run finishes (from one goroutine at a
	// time), e.g. to append it to a journal.
	Done func(*Run) error
	// Shard, if set, keeps only the runs of one shard (see Shard): N
	// machines given shards 0/N … N-1/N make the whole comparison.
	Shard Shard
}

// Cell is the Run.Cell of every run of the comparison. It builds the
// objective, whose name, dimension and default target are part of it.
func (c *Comparison) Cell() (Cell, error) {
	spec := c.Objective
	spec.Seed = c.Seed
	f, err := objectives.New(spec)
	if err != nil {
		return Cell{}, err
	}
	target := c.Target
	if math.IsNaN(target) {
		target = f.DefaultTarget() // as ExecuteOn records it
	}
	o := c.Objective
	return Cell{
		Scenario: c.Scenario, Objective: f.Name(), Dim: f.Dim(), Noise: canonFloat(o.Noise), Items: o.Items,
		Landscape: o.Landscape, NoiseModel: o.NoiseModel, FailRate: canonFloat(o.FailRate), Width: canonFloat(o.Width),
		Optimum: canonFloats(o.Optimum), Options: canonOptions(o.Options),
		Budget: c.Budget, Target: canonFloat(target), Policy: c.Reeval.Policy(),
		Slots: canonSlots(c.Slots), EvalTime: c.EvalTime.String(),
		ItemModel: o.ItemModel, ItemBudget: c.ItemBudget,
	}, nil
}

// JobKey is the Run.RunKey the job's record will have, in a comparison
// whose runs have the given cell.
func JobKey(cell Cell, j Job) (RunKey, error) {
	_, params, err := algorithms.Configure(j.Algorithm, j.Settings)
	if err != nil {
		return RunKey{}, err
	}
	m := map[string]string{}
	for _, p := range params {
		m[p.Name] = p.Value
	}
	return RunKey{Entry: Entry{Cell: cell, Alg: j.Algorithm, Params: formatParams(m)}, Seed: j.Seed}, nil
}

// Jobs expands the comparison into its jobs, in a fixed order. A job's seed
// depends only on the master seed, the algorithm and the run index.
func (c *Comparison) Jobs() ([]Job, error) {
	if len(c.Algorithms) == 0 {
		return nil, fmt.Errorf("no algorithms selected")
	}
	if c.Seeds < 1 {
		return nil, fmt.Errorf("seeds %d: need at least 1 run per algorithm", c.Seeds)
	}
	if c.Budget < 1 {
		return nil, fmt.Errorf("budget %d: must be at least 1 evaluation", c.Budget)
	}
	if c.Reeval != (Reeval{}) && c.Reeval.Reserve() >= c.Budget {
		return nil, fmt.Errorf("--reeval %s reserves %d of a budget of %d evaluations: nothing would be left to search", c.Reeval, c.Reeval.Reserve(), c.Budget)
	}
	for i, alg := range c.Algorithms {
		if contains(c.Algorithms[:i], alg) {
			// Its jobs would repeat the same seeds: twice the samples, none new.
			return nil, fmt.Errorf("algorithm %q is selected twice", alg)
		}
	}
	for alg := range c.Settings {
		if !contains(c.Algorithms, alg) {
			if _, err := algorithms.Lookup(alg); err != nil {
				return nil, fmt.Errorf("--set names %w", err)
			}
			return nil, fmt.Errorf("--set names algorithm %q, which is not selected", alg)
		}
	}
	obj := c.Objective
	obj.Seed = c.Seed
	var jobs []Job
	for _, alg := range c.Algorithms {
		// Fail early on unknown algorithms or hyperparameters.
		if _, _, err := algorithms.Configure(alg, c.Settings[alg]); err != nil {
			return nil, err
		}
		for i := range c.Seeds {
			jobs = append(jobs, Job{
				Scenario: c.Scenario, Algorithm: alg, Settings: c.Settings[alg], Objective: obj,
				Seed:   DeriveSeed(c.Seed, alg, strconv.Itoa(i)),
				Budget: c.Budget, Target: c.Target, EvalTimeout: c.EvalTimeout, Reeval: c.Reeval,
				Slots: c.Slots, EvalTime: c.EvalTime, ItemBudget: c.ItemBudget,
			})
		}
	}
	return jobs, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// ShardJobs are the jobs of c.Shard (every job for the zero Shard) with
// their RunKeys, in job order.
func (c *Comparison) ShardJobs() ([]Job, []RunKey, error) {
	jobs, err := c.Jobs()
	if err != nil {
		return nil, nil, err
	}
	cell, err := c.Cell()
	if err != nil {
		return nil, nil, err
	}
	var kept []Job
	var keys []RunKey
	for _, j := range jobs {
		k, err := JobKey(cell, j)
		if err != nil {
			return nil, nil, err
		}
		if c.Shard.Holds(k) {
			kept = append(kept, j)
			keys = append(keys, k)
		}
	}
	return kept, keys, nil
}

// Run executes every job of the comparison (of its shard, if set)
// concurrently and returns the records in job order, whatever the
// scheduling, so output is identical at any parallelism. Runs skipped by
// c.Skip are absent from the result.
func (c *Comparison) Run(ctx context.Context) ([]*Run, error) {
	jobs, _, err := c.ShardJobs()
	if err != nil {
		return nil, err
	}
	var kept []Job
	for _, j := range jobs {
		if c.Skip == nil || !c.Skip(j) {
			kept = append(kept, j)
		}
	}
	obj := c.Objective
	obj.Seed = c.Seed
	return RunJobs(ctx, kept, obj, c.Parallel, c.Progress, c.Done)
}

// errDryRun is what the dry run's objective answers at once.
var errDryRun = errors.New("dry run")

// dryRun starts the job's optimiser against an objective that refuses the
// first evaluation: a method that rejects its hyperparameters for this
// problem does so before evaluating anything, so a bad --set is reported
// once, before any run, instead of as an error in every run.
func dryRun(ctx context.Context, j Job, f objectives.Function) error {
	opt, _, err := algorithms.Configure(j.Algorithm, j.Settings)
	if err != nil {
		return err
	}
	box := f.Box()
	p := algorithms.Problem{Dim: f.Dim(), Lower: box.Lower, Upper: box.Upper, Bounded: box.Constraint, X0: j.X0, Sigma0: j.Sigma0,
		Budget: max(j.Budget-j.Reeval.Top*j.Reeval.Times, 0)} // as ExecuteOn's limit
	var obj algorithms.Objective = refuseAll{}
	if j.ItemBudget > 0 {
		ifn, err := checkItemJob(j, f)
		if err != nil {
			return err
		}
		l := ifn.Items()
		obj = refuseItems{algorithms.ItemSpace{Full: l.N, Budget: j.ItemBudget, Fixed: l.Fixed, PrefixOnly: l.PrefixOnly}}
	}
	_, err = safeMinimize(ctx, opt, p, obj, rand.New(rand.NewPCG(0, 0)))
	if err != nil && !errors.Is(err, errDryRun) {
		if len(j.Settings) == 0 {
			return fmt.Errorf("algorithm %s: %v", j.Algorithm, err)
		}
		return fmt.Errorf("algorithm %s (%s): %v", j.Algorithm, formatParams(j.Settings), err)
	}
	return nil
}

type refuseAll struct{}

func (refuseAll) Eval(context.Context, []float64) (float64, error) { return 0, errDryRun }

// refuseItems is refuseAll for a run with an item budget: an ItemPool of
// one slot, so a fidelity-aware method checks its settings against the
// items before it is refused.
type refuseItems struct{ space algorithms.ItemSpace }

func (refuseItems) Eval(context.Context, []float64) (float64, error) { return 0, errDryRun }
func (refuseItems) Slots() int                                       { return 1 }
func (refuseItems) Submit(context.Context, algorithms.Candidate) error {
	return errDryRun
}
func (refuseItems) Next(context.Context) (int, float64, error) { return 0, 0, errDryRun }
func (r refuseItems) Items() algorithms.ItemSpace              { return r.space }
func (refuseItems) SubmitItems(context.Context, algorithms.Candidate, int, int) error {
	return errDryRun
}
func (refuseItems) NextItems(context.Context) (algorithms.ItemResult, error) {
	return algorithms.ItemResult{}, errDryRun
}

// RunJobs executes jobs concurrently on one objective (built once from
// spec and shared), at most parallel at a time (0: GOMAXPROCS), and returns
// their records in job order. done, if set, sees each record as it
// finishes, one at a time. The first error that is not a recorded run
// failure (a bad job, a cancelled context, done's error) stops everything.
func RunJobs(ctx context.Context, jobs []Job, spec objectives.Spec, parallel int, progress io.Writer, done func(*Run) error) ([]*Run, error) {
	f, err := objectives.New(spec)
	if err != nil {
		return nil, err
	}
	checked := map[string]bool{}
	for _, j := range jobs {
		key := j.Algorithm + " " + formatParams(j.Settings)
		if checked[key] {
			continue
		}
		checked[key] = true
		if err := dryRun(ctx, j, f); err != nil {
			return nil, err
		}
	}
	limit := parallel
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	runs := make([]*Run, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	var mu sync.Mutex
	finished := 0
	for i, job := range jobs {
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			r, err := ExecuteOn(gctx, job, f)
			if err != nil {
				return err
			}
			runs[i] = r
			mu.Lock()
			defer mu.Unlock()
			finished++
			if progress != nil {
				fmt.Fprintf(progress, "\r%d/%d runs", finished, len(jobs))
			}
			if done != nil {
				return done(r)
			}
			return nil
		})
	}
	err = g.Wait()
	if progress != nil && len(jobs) > 0 {
		fmt.Fprintln(progress)
	}
	if err != nil {
		return nil, err
	}
	return runs, nil
}

// Resume makes the comparison skip the runs its journal already holds,
// except those recorded with an error, which run again (their new record
// supersedes the old; see Resolve). done are the records read back from
// the journal by OpenJournal, named journal in errors. Records of this
// comparison's cell drawn from another master seed are refused: their
// objective differs, so they are not the runs this comparison would make.
func (c *Comparison) Resume(journal string, done []*Run) error {
	cell, err := c.Cell()
	if err != nil {
		return err
	}
	recorded := map[RunKey]bool{}
	for _, r := range done {
		if r.Cell() != cell {
			continue
		}
		if r.ObjectiveSeed != nil && *r.ObjectiveSeed != c.Seed {
			return fmt.Errorf("journal %s holds runs of %s drawn from master seed %d; this comparison uses --seed %d (use another journal)", journal, cell, *r.ObjectiveSeed, c.Seed)
		}
		if r.Error == "" {
			recorded[r.RunKey()] = true
		}
	}
	c.Skip = func(j Job) bool {
		k, err := JobKey(cell, j) // errs only on settings Jobs has already refused
		return err == nil && recorded[k]
	}
	return nil
}

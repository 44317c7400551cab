package bench

import (
	"context"
	"fmt"
	"io"
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
	// Skip, if set, reports runs already recorded (by algorithm and seed)
	// so that a resumed suite does not repeat them.
	Skip func(alg string, seed uint64) bool
	// Done, if set, is called as each run finishes (from one goroutine at a
	// time), e.g. to append it to a journal.
	Done func(*Run) error
}

// CellKey is the Run.Cell of every run of the comparison.
func (c *Comparison) CellKey() string {
	r := Run{Scenario: c.Scenario, Objective: c.Objective.Name, Dim: c.Objective.Dim, Noise: c.Objective.Noise,
		Items: c.Objective.Items, Landscape: c.Objective.Landscape, NoiseModel: c.Objective.NoiseModel,
		FailRate: c.Objective.FailRate, Width: c.Objective.Width, Budget: c.Budget, Target: c.Target}
	return r.Cell()
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
				Budget: c.Budget, Target: c.Target, EvalTimeout: c.EvalTimeout,
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

// Run executes every job of the comparison concurrently and returns the
// records in job order, whatever the scheduling, so output is identical at
// any parallelism. Runs skipped by c.Skip are absent from the result.
func (c *Comparison) Run(ctx context.Context) ([]*Run, error) {
	jobs, err := c.Jobs()
	if err != nil {
		return nil, err
	}
	obj := c.Objective
	obj.Seed = c.Seed
	f, err := objectives.New(obj)
	if err != nil {
		return nil, err
	}
	limit := c.Parallel
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	runs := make([]*Run, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	var mu sync.Mutex
	finished, total := 0, len(jobs)
	for i, job := range jobs {
		if c.Skip != nil && c.Skip(job.Algorithm, job.Seed) {
			total--
			continue
		}
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
			if c.Progress != nil {
				fmt.Fprintf(c.Progress, "\r%d/%d runs", finished, total)
			}
			if c.Done != nil {
				return c.Done(r)
			}
			return nil
		})
	}
	err = g.Wait()
	if c.Progress != nil && total > 0 {
		fmt.Fprintln(c.Progress)
	}
	if err != nil {
		return nil, err
	}
	out := runs[:0]
	for _, r := range runs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

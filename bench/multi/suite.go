package multi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
)

// Suite is a comparison of multi-objective methods on one objective at
// several budgets, every method on the same seeds.
type Suite struct {
	// Job is the template of every run: objective (its Seed is the seed
	// every run's objective is drawn from, so all face one layout of
	// optima), floors, reference point, slots. Algorithm, Seed and Budget
	// are set per run.
	Job        Job
	Algorithms []string
	Budgets    []int
	// Seeds is the number of runs per method and budget.
	Seeds int
	// MasterSeed derives run i's seed (the same for every method and
	// budget: common random numbers).
	MasterSeed uint64
	// Parallel is how many runs execute at once (0: 1). Results do not
	// depend on it.
	Parallel int
	// VaryObjective draws run i's objective from its own seed (the same
	// for every method and budget), so that a comparison covers many
	// layouts of the optima instead of the one of Job.Objective.Seed.
	VaryObjective bool
}

// ObjectiveSeed is the objective seed of run i of a suite that varies its
// objective.
func ObjectiveSeed(master uint64, i int) uint64 {
	return bench.DeriveSeed(master, "multi-objective", strconv.Itoa(i))
}

// RunSeed is the seed of run i of a suite.
func RunSeed(master uint64, i int) uint64 {
	return bench.DeriveSeed(master, "multi-run", strconv.Itoa(i))
}

// Jobs lists the suite's runs: by budget, then method, then seed.
func (s Suite) Jobs() ([]Job, error) {
	if s.Seeds < 1 {
		return nil, fmt.Errorf("seeds %d: want at least 1", s.Seeds)
	}
	if len(s.Algorithms) == 0 || len(s.Budgets) == 0 {
		return nil, fmt.Errorf("a suite needs at least one method and one budget")
	}
	seen := map[string]bool{}
	for _, a := range s.Algorithms {
		if _, err := algorithms.LookupMulti(a); err != nil {
			return nil, err
		}
		if seen[a] {
			return nil, fmt.Errorf("method %s is listed twice", a)
		}
		seen[a] = true
	}
	var jobs []Job
	for _, b := range s.Budgets {
		if b < 1 {
			return nil, fmt.Errorf("budget %d: must be at least 1", b)
		}
		for _, a := range s.Algorithms {
			for i := range s.Seeds {
				j := s.Job
				j.Algorithm, j.Budget, j.Seed = a, b, RunSeed(s.MasterSeed, i)
				j.Settings = maps.Clone(s.Job.Settings)
				if s.VaryObjective {
					j.Objective.Seed = ObjectiveSeed(s.MasterSeed, i)
				}
				jobs = append(jobs, j)
			}
		}
	}
	return jobs, nil
}

// RunSuite executes every run of s, Parallel at a time, and returns their
// records in the order of Jobs. A run that cannot start ends the suite
// with its error; progress, if set, is called after each run.
func RunSuite(ctx context.Context, s Suite, progress func(done, total int)) ([]*Run, error) {
	jobs, err := s.Jobs()
	if err != nil {
		return nil, err
	}
	runs := make([]*Run, len(jobs))
	var g errgroup.Group
	g.SetLimit(max(s.Parallel, 1))
	var mu sync.Mutex
	finished := 0
	for i, j := range jobs {
		g.Go(func() error {
			r, _, err := Execute(ctx, j)
			if err != nil {
				return fmt.Errorf("%s, budget %d, seed %d: %w", j.Algorithm, j.Budget, j.Seed, err)
			}
			r.WallMS = 0 // the record is the same on any machine
			r.ObjectiveVaried = s.VaryObjective
			runs[i] = r
			if progress != nil {
				mu.Lock()
				finished++
				progress(finished, len(jobs))
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return runs, nil
}

// WriteRuns writes one JSON line per run.
func WriteRuns(w io.Writer, runs []*Run) error {
	for _, r := range runs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// ReadRuns reads the records WriteRuns wrote; a malformed line is an error
// naming the file and line.
func ReadRuns(path string) ([]*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseRuns(data, path)
}

// ParseRuns reads run records, one JSON object per line.
func ParseRuns(data []byte, name string) ([]*Run, error) {
	var runs []*Run
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var r Run
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s line %d: not a multi-objective run record: %v", name, line, err)
		}
		if err := r.valid(); err != nil {
			return nil, fmt.Errorf("%s line %d: %v", name, line, err)
		}
		runs = append(runs, &r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return runs, nil
}

// valid checks a record read back.
func (r *Run) valid() error {
	if r.Algorithm == "" || r.Budget < 1 || r.EvalsUsed < 0 || r.EvalsUsed > r.Budget || len(r.Tasks) < 2 {
		return fmt.Errorf("incomplete run record (algorithm %q, budget %d, evals_used %d, %d tasks)", r.Algorithm, r.Budget, r.EvalsUsed, len(r.Tasks))
	}
	if len(r.Metrics.Reference) != len(r.Tasks) {
		return fmt.Errorf("run record has a reference point of %d values for %d tasks", len(r.Metrics.Reference), len(r.Tasks))
	}
	for i, p := range r.Front {
		if len(p.Scores) != len(r.Tasks) || (p.True != nil && len(p.True) != len(r.Tasks)) || (p.HeldOut != nil && len(p.HeldOut) != len(r.Tasks)) {
			return fmt.Errorf("front point %d has %d scores for %d tasks", i+1, len(p.Scores), len(r.Tasks))
		}
	}
	return nil
}

package evolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives/external"
)

// JobPrefix begins the name of every Slurm job of this run: evomerge-,
// then a hash of the config and of the journal's path, so that two runs
// (even of one config, with two journals) never take each other's jobs
// for their own; then the evaluation's index follows.
func (c *Config) JobPrefix() string {
	journal, err := filepath.Abs(c.Journal)
	if err != nil {
		journal = c.Journal
	}
	h := sha256.Sum256([]byte(c.Hash() + "\n" + journal))
	return "evomerge-" + hex.EncodeToString(h[:6]) + "-"
}

// prepareExternal readies an external evaluator once the run holds its
// journal: on the slurm backend it journals every job, finds the jobs a
// killed process left in flight (the last submission of each evaluation
// the journal holds no result of) and hands them to the backend to adopt,
// and cancels any other active job of this run (one submitted but never
// journaled). Then it removes the merge folders a killed process left,
// but those of the adopted jobs. It returns what the run does when it
// ends.
func prepareExternal(ctx context.Context, ev *external.Evaluator, key bench.RunKey, journal *bench.Journal, replay []bench.EvalRecord, lines []bench.JobLine, log func(string)) (func(), error) {
	s := ev.Slurm
	if s == nil {
		// Folders a killed run of this config left behind hold whole
		// merged models: remove them before starting again.
		_, err := ev.RemoveStale()
		return func() {}, err
	}
	done := map[int]bool{}
	for _, e := range replay {
		done[e.Index] = true
	}
	last := map[int]external.Job{}
	for _, l := range lines {
		j, err := external.ParseJob(l.Job)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %v", journal.Path(), err)
		}
		if j.End != "" || done[j.Index] {
			continue
		}
		if p, ok := last[j.Index]; !ok || j.Attempt >= p.Attempt {
			last[j.Index] = j
		}
	}
	var adopt []external.Job
	keepIDs := map[string]bool{}
	var keepDirs []string
	for _, j := range last {
		if st, err := os.Stat(filepath.Join(j.Dir, "model")); err != nil || !st.IsDir() {
			continue // its merged model is gone: evaluated afresh if asked
		}
		adopt = append(adopt, j)
		keepIDs[j.ID] = true
		keepDirs = append(keepDirs, j.Dir)
	}
	s.Record = func(j external.Job) error { return journal.AppendJob(key, j) }
	s.Log = log
	cancelled, err := s.Sweep(ctx, keepIDs)
	if err != nil {
		return nil, err
	}
	if len(cancelled) > 0 {
		log(fmt.Sprintf("cancelled Slurm jobs %s of this run, which no evaluation waits for", strings.Join(cancelled, " ")))
	}
	s.Adopt(adopt)
	for _, j := range adopt {
		log(fmt.Sprintf("evaluation %d: Slurm job %s was in flight when the run stopped: its result is collected, not submitted again", j.Index, j.ID))
	}
	if _, err := ev.RemoveStale(keepDirs...); err != nil {
		return nil, err
	}
	return func() {
		// No evaluation runs now: an adopted job the run never asked for,
		// or one whose submission was cut short, is cancelled, so the run
		// leaves no job behind.
		ids, err := s.Sweep(context.WithoutCancel(ctx), nil)
		switch {
		case err != nil:
			log(fmt.Sprintf("warning: %v: check squeue --me for jobs named %s*", err, s.Name))
		case len(ids) > 0:
			log(fmt.Sprintf("cancelled Slurm jobs %s of this run, which no evaluation waits for", strings.Join(ids, " ")))
		}
		for _, j := range s.Unadopted() {
			if !ev.Keep {
				os.RemoveAll(j.Dir)
			}
		}
	}, nil
}

package evolve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/multi"
)

// MultiResult is what a finished multi-objective run found.
type MultiResult struct {
	// Run is the run's record: its front and metrics.
	Run *multi.Run
	// Records are every evaluation, by index.
	Records []multi.Eval
	// Complete says the journal already held the finished run.
	Complete bool
	Replayed int
	Tasks    []string
	Items    string
	Slots    []string
}

// multiLine is a line of a multi-objective run's journal: an evaluation
// as it finished, or the run's record, named by the run's key.
type multiLine struct {
	Key  string      `json:"mo"`
	Eval *multi.Eval `json:"eval,omitempty"`
	Run  *multi.Run  `json:"run,omitempty"`
}

// multiKey names a config's lines in its journal.
func (c *Config) multiKey() string { return "evolve-" + c.Hash() }

// RunMulti executes (or resumes) a multi-objective config: every
// evaluation goes through bench/multi's harness and is journaled as it
// finishes; the run's record closes the journal. Results are told to the
// method in submission order, so a resumed run replays by index alone and
// reaches the front of an uninterrupted one.
func RunMulti(ctx context.Context, c *Config, resume bool, progress io.Writer) (res *MultiResult, err error) {
	if err := c.CheckPaths(); err != nil {
		return nil, err
	}
	tg, err := c.buildMulti()
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(c.Journal)
	j, replay, done, err := openMultiJournal(c.Journal, c.multiKey(), resume)
	if err != nil {
		return nil, err
	}
	defer func() {
		if st, err := os.Stat(c.Journal); res == nil && errors.Is(statErr, os.ErrNotExist) && err == nil && st.Size() == 0 {
			os.Remove(c.Journal)
		}
		j.Close()
	}()
	r := &MultiResult{Tasks: tg.f.Tasks(), Items: c.describeItems(), Slots: tg.slots, Replayed: len(replay)}
	if done != nil {
		r.Complete, r.Run, r.Records = true, done, byIndex(replay)
		return r, nil
	}
	p := &multiProgress{w: progress, total: c.Budget, slots: tg.slots, tasks: r.Tasks}
	records := slices.Clone(replay)
	job := tg.job
	job.Replay = replay
	job.Log = func(e multi.Eval) error {
		if err := appendLine(j, multiLine{Key: c.multiKey(), Eval: &e}); err != nil {
			return fmt.Errorf("journal %s: %v", c.Journal, err)
		}
		records = append(records, e)
		p.report(e)
		return nil
	}
	run, _, err := multi.ExecuteOn(ctx, job, tg.f)
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
	run.WallMS = 0 // the record is the same however long the run took
	if err := appendLine(j, multiLine{Key: c.multiKey(), Run: run}); err != nil {
		return nil, fmt.Errorf("journal %s: %v", c.Journal, err)
	}
	r.Run, r.Records = run, byIndex(records)
	return r, nil
}

func byIndex(es []multi.Eval) []multi.Eval {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b multi.Eval) int { return a.Index - b.Index })
	return out
}

// appendLine writes one journal line in a single write call.
func appendLine(f *os.File, l multiLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}

// openMultiJournal opens a multi-objective run's journal under its lock,
// or with resume reads it back: this run's evaluations and its record if
// it finished. A journal of any other run (another config, or a
// single-objective journal) is refused; a partial last line (a write a
// kill cut short) is cut off.
func openMultiJournal(path, key string, resume bool) (*os.File, []multi.Eval, *multi.Run, error) {
	if resume {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("journal %s does not exist: nothing to resume (check the path, or start the run without --resume)", path)
		}
	}
	f, err := bench.LockJournal(path)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*os.File, []multi.Eval, *multi.Run, error) {
		f.Close()
		return nil, nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("journal %s: %v", path, err))
	}
	if st.Size() == 0 {
		return f, nil, nil, nil
	}
	if !resume {
		return fail(fmt.Errorf("journal %s exists: pass --resume to continue that run, or remove it to start again", path))
	}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return fail(fmt.Errorf("journal %s: %v", path, err))
	}
	evals, run, good, err := parseMultiJournal(data, path, key)
	if err != nil {
		return fail(err)
	}
	if good < int64(len(data)) {
		if err := f.Truncate(good); err != nil {
			return fail(fmt.Errorf("journal %s: cutting off a partial last line: %v", path, err))
		}
	}
	if good > 0 && data[good-1] != '\n' {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fail(fmt.Errorf("journal %s: %v", path, err))
		}
	}
	return f, evals, run, nil
}

// parseMultiJournal reads a multi-objective journal: its evaluations in
// file order, its run record if any, and the length of its well-formed
// prefix (a last line without its newline is kept when whole).
func parseMultiJournal(data []byte, path, key string) ([]multi.Eval, *multi.Run, int64, error) {
	var evals []multi.Eval
	var run *multi.Run
	seen := map[int]bool{}
	var good int64
	parse := func(b []byte) (*multiLine, error) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var l multiLine
		if err := dec.Decode(&l); err != nil {
			return nil, err
		}
		if l.Key == "" || (l.Eval == nil) == (l.Run == nil) {
			return nil, errors.New("neither an evaluation nor a run record")
		}
		if e := l.Eval; e != nil && (e.Index < 1 || len(e.X) == 0 || e.Slot < 0 || e.MS < 0 || (e.Scores == nil && e.Error == "")) {
			return nil, fmt.Errorf("incomplete evaluation line (index %d, %d coordinates)", e.Index, len(e.X))
		}
		return &l, nil
	}
	rd := bufio.NewReader(bytes.NewReader(data))
	for line := 1; ; line++ {
		b, err := rd.ReadBytes('\n')
		if len(b) == 0 {
			break
		}
		whole := err == nil
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) == 0 {
			good += int64(len(b))
			continue
		}
		l, perr := parse(trimmed)
		if perr != nil {
			if !whole {
				break // a write cut short: cut it off
			}
			if bytes.HasPrefix(trimmed, []byte(`{"eval":`)) || !bytes.HasPrefix(trimmed, []byte(`{"mo":`)) {
				return nil, nil, 0, fmt.Errorf("journal %s holds lines of a single-objective run, not of a multi-objective one: give this run its own journal", path)
			}
			return nil, nil, 0, fmt.Errorf("journal %s line %d: %v", path, line, perr)
		}
		if l.Key != key {
			return nil, nil, 0, fmt.Errorf("journal %s holds lines of another run (another algorithm, seed, budget, floors or objective: the config changed since it was written): give this run its own journal, or restore the config", path)
		}
		if l.Eval != nil {
			if seen[l.Eval.Index] {
				return nil, nil, 0, fmt.Errorf("journal %s line %d: evaluation %d is recorded twice", path, line, l.Eval.Index)
			}
			seen[l.Eval.Index] = true
			evals = append(evals, *l.Eval)
		} else {
			run = l.Run
		}
		good += int64(len(b))
		if !whole {
			break
		}
	}
	return evals, run, good, nil
}

// multiProgress prints a line per evaluation as it finishes.
type multiProgress struct {
	w     io.Writer
	total int
	slots []string
	tasks []string
}

func (p *multiProgress) report(e multi.Eval) {
	if p.w == nil {
		return
	}
	slot := fmt.Sprint(e.Slot)
	if e.Slot < len(p.slots) {
		slot = p.slots[e.Slot]
	}
	if e.Failed() {
		fmt.Fprintf(p.w, "eval %d/%d on slot %s failed (%.0f ms): %s\n", e.Index, p.total, slot, e.MS, e.Error)
		return
	}
	fmt.Fprintf(p.w, "eval %d/%d on slot %s: %s (%.0f ms)\n", e.Index, p.total, slot, taskScores(p.tasks, e.Scores), e.MS)
}

// taskScores prints "retention 71.2, math 40.5".
func taskScores(tasks []string, s []float64) string {
	parts := make([]string, len(s))
	for j, v := range s {
		parts[j] = fmt.Sprintf("%s %.4g", tasks[j], v)
	}
	return strings.Join(parts, ", ")
}

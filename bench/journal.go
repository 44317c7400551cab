package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Journal is an append-only file of run records, one JSON line per run,
// written as each run finishes. An interrupted suite loses at most the runs
// in flight; a resumed one skips what the journal holds.
//
// A run that takes days (evomerge evolve) also journals each evaluation
// as it finishes, on an evaluation line naming its run (EvalLine), before
// its run record: resumed, the run replays them (Job.Replay) and loses no
// evaluation. Readers of run records (ReadRuns, Resolve, report) skip
// evaluation lines.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenJournal opens path for appending, under an exclusive lock held until
// Close (see LockJournal): a second writer is refused. With resume false
// the file must not exist or be empty, so a finished suite is never
// silently mixed with a new one. With resume true the whole journal is
// read before any run starts, and its records are returned as Resolve
// keeps them (a run recorded twice with results is an error, as in
// report); a partial last line (a process killed mid-write) is cut off.
func OpenJournal(path string, resume bool) (*Journal, []*Run, error) {
	j, c, err := OpenJournalContents(path, resume)
	return j, c.Runs, err
}

// Contents is what a journal holds.
type Contents struct {
	// Runs are the run records as Resolve keeps them.
	Runs []*Run
	// Evals are the evaluation lines, in file order.
	Evals []EvalLine
	// Jobs are the job lines, in file order.
	Jobs []JobLine
}

// OpenJournalContents is OpenJournal returning the evaluation lines too.
func OpenJournalContents(path string, resume bool) (*Journal, Contents, error) {
	f, err := LockJournal(path)
	if err != nil {
		return nil, Contents{}, err
	}
	c, err := readLocked(f, path, resume)
	if err != nil {
		f.Close()
		return nil, Contents{}, err
	}
	return &Journal{f: f, path: path}, c, nil
}

// EvalLine is an evaluation line of a journal: one evaluation of a run in
// progress, named by its run's RunKey.Key.
type EvalLine struct {
	Eval EvalRecord `json:"eval"`
	Key  string     `json:"key"`
}

// evalPrefix begins every evaluation line (AppendEval writes Eval first).
var evalPrefix = []byte(`{"eval":`)

// JobLine is a job line of a journal: an evaluation of a run in progress
// handed to a batch scheduler (evolve's slurm backend), written when the
// job is submitted and when it ends, so that a resumed run finds the jobs
// a killed one left in flight. Its content belongs to the backend that
// wrote it (bench only checks it is a JSON object); readers of run
// records skip it, as they skip evaluation lines.
type JobLine struct {
	Job json.RawMessage `json:"job"`
	Key string          `json:"key"`
}

// jobPrefix begins every job line (AppendJob writes Job first).
var jobPrefix = []byte(`{"job":`)

func validJob(l *JobLine) error {
	if l.Key == "" || !bytes.HasPrefix(bytes.TrimSpace(l.Job), []byte("{")) {
		return fmt.Errorf("incomplete job line (key %q)", l.Key)
	}
	return nil
}

func validEval(l *EvalLine) error {
	e := l.Eval
	if l.Key == "" || e.Index < 1 || len(e.X) == 0 || e.Slot < 0 || e.MS < 0 || (e.Observed == nil && e.Error == "") {
		return fmt.Errorf("incomplete evaluation line (key %q, index %d, %d coordinates)", l.Key, e.Index, len(e.X))
	}
	return nil
}

// readLocked reads the records of a locked journal and repairs its end.
func readLocked(f *os.File, path string, resume bool) (Contents, error) {
	st, err := f.Stat()
	if err != nil {
		return Contents{}, fmt.Errorf("journal %s: %v", path, err)
	}
	if st.Size() == 0 {
		return Contents{}, nil
	}
	if !resume {
		return Contents{}, fmt.Errorf("journal %s already holds runs: pass --resume to continue it, or choose another file", path)
	}
	c, good, err := parseJournal(io.NewSectionReader(f, 0, st.Size()), path)
	if err != nil {
		return Contents{}, err
	}
	if good < st.Size() {
		if err := f.Truncate(good); err != nil {
			return Contents{}, fmt.Errorf("journal %s: cutting off a partial last record: %v", path, err)
		}
	}
	if good > 0 && !endsWithNewline(f, good) {
		// A whole record whose newline was never written: complete it.
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return Contents{}, fmt.Errorf("journal %s: %v", path, err)
		}
	}
	if c.Runs, err = Resolve(c.Runs); err != nil {
		return Contents{}, fmt.Errorf("journal %s: %v", path, err)
	}
	return c, nil
}

// ReadJournal reads a journal's contents without locking or repairing
// it: for a finished journal read by another command (evolve reads
// calibrate's probe). A partial last line is left out.
func ReadJournal(path string) (Contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return Contents{}, err
	}
	defer f.Close()
	c, _, err := parseJournal(f, path)
	if err != nil {
		return Contents{}, err
	}
	if c.Runs, err = Resolve(c.Runs); err != nil {
		return Contents{}, fmt.Errorf("journal %s: %v", path, err)
	}
	return c, nil
}

// Append writes one record in a single write call.
func (j *Journal) Append(r *Run) error {
	b, err := MarshalRun(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	return nil
}

// AppendEval writes one evaluation line of the run key in a single write
// call.
func (j *Journal) AppendEval(key RunKey, e EvalRecord) error {
	b, err := json.Marshal(EvalLine{Eval: e, Key: key.Key()})
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	return nil
}

// AppendJob writes one job line of the run key in a single write call;
// job is the backend's record, encoded as a JSON object.
func (j *Journal) AppendJob(key RunKey, job any) error {
	raw, err := json.Marshal(job)
	if err != nil {
		return err
	}
	b, err := json.Marshal(JobLine{Job: raw, Key: key.Key()})
	if err != nil {
		return err
	}
	if err := validJob(&JobLine{Job: raw, Key: key.Key()}); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal %s: %v", j.path, err)
	}
	return nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadRuns reads every record of a journal. A truncated last line is
// ignored (see OpenJournal); any other malformed line is an error naming
// the file and line.
func ReadRuns(path string) ([]*Run, error) {
	runs, _, err := readRuns(path)
	return runs, err
}

// validRun checks a record's internal consistency.
func validRun(r *Run) error {
	most := r.Budget // evaluations a run may make
	if r.ItemBudget > 0 {
		// An evaluation of a run with an item budget costs one item or more.
		most = r.ItemBudget
		if r.ItemsUsed < 0 || r.ItemsUsed > r.ItemBudget {
			return fmt.Errorf("items_used %d outside 0..%d", r.ItemsUsed, r.ItemBudget)
		}
	}
	if r.Algorithm == "" || r.Budget < 1 || r.EvalsUsed < 0 || r.EvalsUsed > most {
		return fmt.Errorf("incomplete run record (algorithm %q, budget %d, evals_used %d)", r.Algorithm, r.Budget, r.EvalsUsed)
	}
	if r.EvalsToTarget != nil && (*r.EvalsToTarget < 1 || *r.EvalsToTarget > r.EvalsUsed) {
		return fmt.Errorf("evals_to_target %d outside 1..%d", *r.EvalsToTarget, r.EvalsUsed)
	}
	prev := 0
	for _, tp := range r.Trace {
		if tp.Eval <= prev || tp.Eval > r.EvalsUsed {
			return fmt.Errorf("trace evaluation %d out of order or past evals_used %d", tp.Eval, r.EvalsUsed)
		}
		prev = tp.Eval
	}
	return nil
}

// endsWithNewline reports whether the first size bytes of f end a line.
func endsWithNewline(f *os.File, size int64) bool {
	b := make([]byte, 1)
	_, err := f.ReadAt(b, size-1)
	return err == nil && b[0] == '\n'
}

// readRuns also returns the length of the well-formed prefix.
func readRuns(path string) ([]*Run, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %v", err)
	}
	defer f.Close()
	return parseRuns(f, path)
}

func parseRuns(rd io.Reader, name string) ([]*Run, int64, error) {
	c, good, err := parseJournal(rd, name)
	return c.Runs, good, err
}

// parseLine reads one line of a journal into c: a run record, an
// evaluation line or a job line.
func parseLine(b []byte, c *Contents) error {
	switch {
	case bytes.HasPrefix(b, evalPrefix):
		var l EvalLine
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("not an evaluation line: %v", err)
		}
		if err := validEval(&l); err != nil {
			return err
		}
		c.Evals = append(c.Evals, l)
		return nil
	case bytes.HasPrefix(b, jobPrefix):
		var l JobLine
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("not a job line: %v", err)
		}
		if err := validJob(&l); err != nil {
			return err
		}
		c.Jobs = append(c.Jobs, l)
		return nil
	}
	r, err := UnmarshalRun(b)
	if err != nil {
		return fmt.Errorf("not a run record: %v", err)
	}
	if err := validRun(r); err != nil {
		return err
	}
	c.Runs = append(c.Runs, r)
	return nil
}

// parseJournal reads a journal's run records and evaluation lines and
// returns the length of its well-formed prefix: a last line without its
// newline is kept if it is whole, else cut off (a write a kill cut short).
func parseJournal(rd io.Reader, name string) (Contents, int64, error) {
	br := bufio.NewReaderSize(rd, 1<<16)
	var c Contents
	var good int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] != '\n' && err == io.EOF {
			// The last line has no newline: a write cut short, unless it
			// is a whole record whose newline was lost. Keep only that.
			last := c
			if perr := parseLine(bytes.TrimSpace(b), &last); perr == nil {
				return last, good + int64(len(b)), nil
			}
			return c, good, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Contents{}, 0, fmt.Errorf("journal %s: %v", name, err)
		}
		if len(b) == 0 {
			return c, good, nil
		}
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) > 0 {
			if perr := parseLine(trimmed, &c); perr != nil {
				return Contents{}, 0, fmt.Errorf("journal %s line %d: %v", name, line, perr)
			}
		}
		good += int64(len(b))
		if errors.Is(err, io.EOF) {
			return c, good, nil
		}
	}
}

// Resolve applies the journal's retry rule to records read back from
// journals. A run recorded with an error is not done for good: --resume
// runs it again and appends the new record, which supersedes the old. So of
// the records of one run (one RunKey) Resolve keeps the one without an
// error, or the last if every one has an error. Two records of one run
// without errors are refused: the same records given twice, or two writers
// on one journal, would otherwise count one run as two samples. report and
// --resume both read records through Resolve, so they agree. The kept
// records stay in their input order.
func Resolve(runs []*Run) ([]*Run, error) {
	keep := map[RunKey]int{} // key → index in runs of the record kept
	keys := make([]RunKey, len(runs))
	for i, r := range runs {
		k := r.RunKey()
		keys[i] = k
		j, ok := keep[k]
		switch {
		case !ok:
			keep[k] = i
		case runs[j].Error == "" && r.Error == "":
			return nil, fmt.Errorf("%s is recorded twice with results: duplicates would count as two samples", k)
		case runs[j].Error != "":
			keep[k] = i // a retry, or a later error of a run that failed before
		}
	}
	out := make([]*Run, 0, len(keep))
	for i, r := range runs {
		if keep[keys[i]] == i {
			out = append(out, r)
		}
	}
	return out, nil
}

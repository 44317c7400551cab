package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Journal is an append-only file of run records, one JSON line per run,
// written as each run finishes. An interrupted suite loses at most the runs
// in flight; a resumed one skips what the journal holds.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenJournal opens path for appending. With resume false the file must
// not exist or be empty, so a finished suite is never silently mixed with a
// new one. With resume true the records already there are returned; a
// partial last line (a process killed mid-write) is cut off.
func OpenJournal(path string, resume bool) (*Journal, []*Run, error) {
	var runs []*Run
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if !resume {
			return nil, nil, fmt.Errorf("journal %s already holds runs: pass --resume to continue it, or choose another file", path)
		}
		var good int64
		runs, good, err = readRuns(path)
		if err != nil {
			return nil, nil, err
		}
		if good < st.Size() {
			if err := os.Truncate(path, good); err != nil {
				return nil, nil, fmt.Errorf("journal %s: cutting off a partial last record: %v", path, err)
			}
		}
		if good > 0 && !endsWithNewline(path) {
			// A whole record whose newline was never written: complete it.
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.Write([]byte{'\n'})
				f.Close()
			}
			if err != nil {
				return nil, nil, fmt.Errorf("journal %s: %v", path, err)
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %v", err)
	}
	return &Journal{f: f, path: path}, runs, nil
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
	if r.Algorithm == "" || r.Budget < 1 || r.EvalsUsed < 0 || r.EvalsUsed > r.Budget {
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

func endsWithNewline(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return true
	}
	b := make([]byte, 1)
	_, err = f.ReadAt(b, st.Size()-1)
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
	br := bufio.NewReaderSize(rd, 1<<16)
	var runs []*Run
	var good int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] != '\n' && err == io.EOF {
			// The last line has no newline: a write cut short, unless it
			// is a whole record whose newline was lost. Keep only that.
			if r, perr := UnmarshalRun(bytes.TrimSpace(b)); perr == nil && validRun(r) == nil {
				return append(runs, r), good + int64(len(b)), nil
			}
			return runs, good, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("journal %s: %v", name, err)
		}
		if len(b) == 0 {
			return runs, good, nil
		}
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) > 0 {
			r, perr := UnmarshalRun(trimmed)
			if perr != nil {
				return nil, 0, fmt.Errorf("journal %s line %d: not a run record: %v", name, line, perr)
			}
			if err := validRun(r); err != nil {
				return nil, 0, fmt.Errorf("journal %s line %d: %v", name, line, err)
			}
			runs = append(runs, r)
		}
		good += int64(len(b))
		if errors.Is(err, io.EOF) {
			return runs, good, nil
		}
	}
}

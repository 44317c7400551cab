package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJournalSecondWriterRefused: two writers on one journal would both
// skip the same recorded runs and append the same new ones (issue 9, item
// 6: 70 duplicate records). The second is refused at once; once the first
// closes the journal, it can be resumed.
func TestJournalSecondWriterRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.jsonl")
	j, _, err := OpenJournal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenJournal(path, true)
	if err == nil || !strings.Contains(err.Error(), "journal "+path+" is in use by another evomerge process") {
		j.Close()
		t.Fatalf("second writer: %v", err)
	}
	t.Log(err)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, _, err := OpenJournal(path, true)
	if err != nil {
		t.Fatalf("after the first writer closed: %v", err)
	}
	j2.Close()
}

func TestFlockHolder(t *testing.T) {
	locks := []byte("1: POSIX  ADVISORY  WRITE 77 fe:00:42 0 EOF\n" +
		"2: FLOCK  ADVISORY  WRITE 12137 fe:00:9983356 0 EOF\n" +
		"2: -> FLOCK  ADVISORY  WRITE 12138 fe:00:9983356 0 EOF\n" +
		"3: FLOCK  ADVISORY  WRITE 555 08:01:42 0 EOF\n")
	for _, c := range []struct {
		major, minor, ino uint64
		want              int
	}{
		{0xfe, 0, 9983356, 12137},
		{8, 1, 42, 555},
		{0xfe, 0, 42, 0}, // only a POSIX lock there
		{0xfe, 1, 9983356, 0},
	} {
		if got := flockHolder(locks, c.major, c.minor, c.ino); got != c.want {
			t.Errorf("%x:%x:%d: pid %d, want %d", c.major, c.minor, c.ino, got, c.want)
		}
	}
}

func FuzzFlockHolder(f *testing.F) {
	f.Add([]byte("2: FLOCK  ADVISORY  WRITE 12137 fe:00:9983356 0 EOF\n"), uint64(0xfe), uint64(0), uint64(9983356))
	f.Add([]byte("2: -> FLOCK ADVISORY WRITE -1 ::: 0 EOF"), uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, major, minor, ino uint64) {
		if pid := flockHolder(b, major, minor, ino); pid < 0 {
			t.Fatalf("pid %d", pid)
		}
	})
}

// setError rewrites the journal with the record of the given line (from 0)
// marked as ended by an error.
func setError(t *testing.T, path string, line int) *Run {
	t.Helper()
	runs, err := ReadRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	runs[line].Error = "evaluation 3: objective did not answer within 1ns"
	var b []byte
	for _, r := range runs {
		m, err := MarshalRun(r)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, m...), '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return runs[line]
}

// TestResumeRetriesErroredRuns: a run recorded with an error is not done
// for good: --resume runs it again, the new record supersedes the old
// one, and the report of the resumed journal equals the report of a
// journal that never held the error.
func TestResumeRetriesErroredRuns(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.jsonl")
	if err := runJournaled(t, whole, false, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "errored.jsonl")
	b, _ := os.ReadFile(whole)
	os.WriteFile(path, b, 0o644)
	bad := setError(t, path, 5)
	before, _ := ReadRuns(path)

	var rerun []*Run
	j, done, err := OpenJournal(path, true)
	if err != nil {
		t.Fatal(err)
	}
	c := journalComparison()
	if err := c.Resume(path, done); err != nil {
		t.Fatal(err)
	}
	c.Done = func(r *Run) error {
		rerun = append(rerun, r)
		return j.Append(r)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if len(rerun) != 1 || rerun[0].RunKey() != bad.RunKey() || rerun[0].Error != "" {
		t.Fatalf("resume ran %d runs, want only the errored one again", len(rerun))
	}
	after, _ := ReadRuns(path)
	if len(after) != len(before)+1 {
		t.Fatalf("%d records after resume, want %d (the error kept, its retry appended)", len(after), len(before)+1)
	}
	if got, want := reportOf(t, path), reportOf(t, whole); got != want {
		t.Errorf("the report of the retried journal differs from the uninterrupted one")
	}
	// Resuming again finds nothing left to do.
	j, done, err = OpenJournal(path, true)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if len(done) != len(before) {
		t.Errorf("resume sees %d runs, want %d", len(done), len(before))
	}
}

// TestReportAndResumeAgreeOnDuplicates: records of one run are read the
// same way by report and by --resume.
func TestReportAndResumeAgreeOnDuplicates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runs.jsonl")
	if err := runJournaled(t, path, false, 0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	first := b[:strings.IndexByte(string(b), '\n')+1]

	// Two records of one run with results: both refuse.
	dup := filepath.Join(dir, "dup.jsonl")
	os.WriteFile(dup, append(append([]byte(nil), b...), first...), 0o644)
	runs, err := ReadRuns(dup)
	if err != nil {
		t.Fatal(err)
	}
	rerr := BuildReport(runs, ReportOptions{Dir: filepath.Join(dir, "page"), Seed: 1})
	_, _, jerr := OpenJournal(dup, true)
	for _, err := range []error{rerr, jerr} {
		if err == nil || !strings.Contains(err.Error(), "recorded twice") {
			t.Errorf("a run recorded twice: %v", err)
		}
	}
	if jerr != nil && !strings.Contains(jerr.Error(), dup) {
		t.Errorf("resume error does not name the journal: %v", jerr)
	}

	// An errored record before the good one of the same run: both keep
	// the good one.
	var r Run
	if err := json.Unmarshal(first, &r); err != nil {
		t.Fatal(err)
	}
	r.Error = "objective did not answer within 1ns"
	m, _ := MarshalRun(&r)
	retried := filepath.Join(dir, "retried.jsonl")
	os.WriteFile(retried, append(append(m, '\n'), b...), 0o644)
	if got, want := reportOf(t, retried), reportOf(t, path); got != want {
		t.Errorf("report counts a superseded error")
	}
	j, done, err := OpenJournal(retried, true)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	all, _ := ReadRuns(path)
	if len(done) != len(all) {
		t.Fatalf("resume sees %d runs, want %d", len(done), len(all))
	}
	for _, d := range done {
		if d.Error != "" {
			t.Errorf("resume kept the superseded error of %s", d.RunKey())
		}
	}
}

func TestResolve(t *testing.T) {
	mk := func(seed uint64, e string) *Run {
		return &Run{Algorithm: "random", Objective: "mock", Dim: 2, Budget: 10, Seed: seed, Error: e}
	}
	a1, a2, b1, b2, c1 := mk(1, "x"), mk(1, ""), mk(2, "y"), mk(2, "z"), mk(3, "")
	got, err := Resolve([]*Run{a1, b1, a2, c1, b2})
	if err != nil {
		t.Fatal(err)
	}
	// Seed 1: the good record; seed 2: the last error; seed 3 as is; in
	// input order.
	if len(got) != 3 || got[0] != a2 || got[1] != c1 || got[2] != b2 {
		t.Errorf("kept %v", got)
	}
	// A good record followed by an error (journals given in another order) keeps the good one.
	if got, err := Resolve([]*Run{a2, a1}); err != nil || len(got) != 1 || got[0] != a2 {
		t.Errorf("good then error: %v, %v", got, err)
	}
	if _, err := Resolve([]*Run{c1, mk(3, "")}); err == nil || !strings.Contains(err.Error(), "recorded twice") {
		t.Errorf("two good records of one run: %v", err)
	}
}

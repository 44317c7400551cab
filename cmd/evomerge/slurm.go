package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/internal/slurm"
)

func init() {
	commands["slurm"] = command{"run a bench suite on a Slurm cluster as one job array: slurm bench [bench flags] --shards N --report DIR", runSlurm}
}

// slurmPoll is the longest pause between two squeue calls of a waiting
// slurm bench; the pauses grow to it from a second, so a short job is
// seen to end soon and a long one costs the controller little. A
// variable so that tests against the local cluster need not wait long.
var slurmPoll = 30 * time.Second

// slurmQueueFailures is how many squeue calls in a row may fail (a
// controller restarting, say) before waiting gives up.
const slurmQueueFailures = 60

func runSlurm(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "usage: evomerge slurm bench [bench flags] --shards N --report DIR [--sbatch-arg ARG]... [--no-wait] [--resume]\n\nRuns an evomerge bench suite as one Slurm job array of N shards, waits for it, resubmits shards that failed or were pre-empted, and builds the report in DIR. See evomerge slurm bench -h and docs/cluster.md.")
		if len(args) == 0 {
			return fmt.Errorf("slurm: name what to run: evomerge slurm bench …")
		}
		return nil
	}
	if args[0] != "bench" {
		return fmt.Errorf("slurm: unknown command %q: evomerge slurm runs bench (evomerge slurm bench [bench flags] --shards N --report DIR)", args[0])
	}
	return runSlurmBench(ctx, stdout, stderr, args[1:])
}

// recorder wraps a flag so that every value given to it on the command
// line is kept as "--name=value", in order: the exact bench arguments the
// shard tasks are to run with, whatever the flag's type.
type recorder struct {
	flag.Value
	name string
	args *[]string
}

func (r recorder) Set(v string) error {
	if err := r.Value.Set(v); err != nil {
		return err
	}
	*r.args = append(*r.args, "--"+r.name+"="+v)
	return nil
}

func (r recorder) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// slurmBench is one "evomerge slurm bench" invocation: the suite, its
// shards and the folder that receives their journals and the report.
type slurmBench struct {
	b         benchFlags
	shards    int
	sbatch    []string // extra sbatch arguments, in order
	noWait    bool
	resubmit  int
	exe       string
	benchArgs []string // the bench flags the tasks run with
	ownArgs   []string // slurm bench's own flags but --no-wait and --resume
	args      []string
	dir       string // absolute report folder
	expected  []map[bench.RunKey]bool
	total     int
}

func (s *slurmBench) shardDir() string { return filepath.Join(s.dir, "shards") }
func (s *slurmBench) journal(i int) string {
	return filepath.Join(s.shardDir(), fmt.Sprintf("shard-%d.jsonl", i))
}
func (s *slurmBench) log(i int) string {
	return filepath.Join(s.shardDir(), fmt.Sprintf("shard-%d.log", i))
}
func (s *slurmBench) scriptPath() string { return filepath.Join(s.shardDir(), "bench.sbatch") }
func (s *slurmBench) jobsPath() string   { return filepath.Join(s.shardDir(), "jobs.txt") }
func (s *slurmBench) rel(path string) string {
	r, _ := filepath.Rel(s.dir, path)
	return filepath.ToSlash(r)
}

// taskArgs are the arguments of shard i's task.
func (s *slurmBench) taskArgs(i int) []string {
	return append(append([]string{"bench"}, s.benchArgs...), fmt.Sprintf("--shard=%d/%d", i, s.shards), "--journal="+s.journal(i), "--resume")
}

func runSlurmBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge slurm bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &slurmBench{args: args}
	s.b.register(fs)
	// Every bench flag is recorded for the tasks, but those slurm bench
	// sets itself or takes for its own meaning.
	own := map[string]bool{"report": true, "resume": true, "force": true}
	fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] {
			f.Value = recorder{f.Value, f.Name, &s.benchArgs}
		}
	})
	fs.IntVar(&s.shards, "shards", 0, "split the suite into `N` shards, one array task each (required)")
	fs.Func("sbatch-arg", "pass `ARG` to sbatch (repeatable), e.g. --sbatch-arg=--partition=cpu --sbatch-arg=--time=2:00:00 --sbatch-arg=--cpus-per-task=8", func(v string) error {
		s.sbatch = append(s.sbatch, v)
		return nil
	})
	fs.BoolVar(&s.noWait, "no-wait", false, "submit, print the job id and the command that waits for it and builds the report, and return")
	fs.IntVar(&s.resubmit, "resubmit", 2, "resubmit a shard whose task ended before recording all its runs (failed, cancelled, pre-empted, timed out) at most this many times")
	fs.StringVar(&s.exe, "evomerge", "", "the evomerge binary the tasks run, at a path every node sees (default: this one)")
	for _, name := range []string{"shards", "sbatch-arg", "resubmit", "evomerge", "force"} {
		f := fs.Lookup(name)
		f.Value = recorder{f.Value, name, &s.ownArgs}
	}
	fs.Lookup("report").Usage = "the folder (on storage every node sees) that receives the shards' journals and logs in shards/, and the report (required)"
	fs.Lookup("resume").Usage = "continue the submission in the --report folder: wait for its jobs, resubmit unfinished shards, build the report (same flags as the first time)"
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge slurm bench [bench flags] --shards N --report DIR [--sbatch-arg ARG]... [--no-wait] [--resume]\n\nSubmits one Slurm job array (sbatch --array=0-(N-1)) whose task i runs evomerge bench --shard i/N with a journal in DIR/shards and --resume, waits for it, resubmits the shards whose task failed or was pre-empted (they resume their journals), and builds the report in DIR: the page a one-machine run of the same bench flags gives. DIR must be on storage the nodes share, and the evomerge binary at a path they see.")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("slurm bench: unexpected argument %q", fs.Arg(0))
	}
	if err := s.check(stderr); err != nil {
		return err
	}
	if err := s.prepare(); err != nil {
		return err
	}
	for submissions := 0; ; submissions++ {
		if err := s.waitAll(ctx, stderr); err != nil {
			return err
		}
		todo, err := s.unfinished()
		if err != nil {
			return err
		}
		if len(todo) == 0 {
			return s.report(stdout)
		}
		if submissions > s.resubmit {
			return s.giveUp(ctx, todo)
		}
		id, err := s.submit(ctx, todo)
		if err != nil {
			return err
		}
		what := "submitted"
		if submissions > 0 || s.b.resume {
			what = "resubmitted"
		}
		fmt.Fprintf(stderr, "%s job %s: shards %s of %d (%s)\n", what, id, indices(todo), s.shards, s.dir)
		if s.noWait {
			fmt.Fprintf(stdout, "%s\nWhen it has run (squeue -j %s shows nothing), build the report (it waits for the job if it still runs, and resubmits unfinished shards) with:\n  %s\n", id, id, s.resumeCommand())
			return nil
		}
	}
}

// check validates the flags, the bench flags included, before anything is
// written or submitted, and works out which runs each shard holds.
func (s *slurmBench) check(stderr io.Writer) error {
	if s.shards < 1 {
		return fmt.Errorf("slurm bench: --shards %d: want at least 1 shard (one array task each)", s.shards)
	}
	if s.b.report == "" {
		return fmt.Errorf("slurm bench: --report DIR is required: the folder receives the shards' journals and the report")
	}
	if s.b.journal != "" || s.b.shard.Count != 0 {
		return fmt.Errorf("slurm bench: --journal and --shard are set by slurm bench for each task (journals go to DIR/shards)")
	}
	if s.resubmit < 0 {
		return fmt.Errorf("slurm bench: --resubmit %d: must not be negative", s.resubmit)
	}
	for _, a := range s.sbatch {
		for _, f := range []string{"--array", "-a", "--parsable", "--output", "-o", "--error", "-e"} {
			if a == f || strings.HasPrefix(a, f+"=") || (len(f) == 2 && strings.HasPrefix(a, f)) {
				return fmt.Errorf("slurm bench: --sbatch-arg %s: slurm bench sets %s itself", a, f)
			}
		}
	}
	dir, err := filepath.Abs(s.b.report)
	if err != nil {
		return fmt.Errorf("slurm bench: --report %s: %v", s.b.report, err)
	}
	s.dir = dir
	if err := s.checkBench(stderr); err != nil {
		return err
	}
	if err := slurm.Available(); err != nil {
		return fmt.Errorf("slurm bench: %v", err)
	}
	if s.exe == "" {
		if s.exe, err = os.Executable(); err != nil {
			return fmt.Errorf("slurm bench: cannot tell where this evomerge binary is (%v): name it with --evomerge PATH", err)
		}
		if inside(os.TempDir(), s.exe) {
			fmt.Fprintf(stderr, "warning: the tasks run %s, in this machine's temporary folder (go run?): other nodes may not see it, and it may be gone before they start; go build it to shared storage and pass --evomerge PATH\n", s.exe)
		}
	} else if s.exe, err = filepath.Abs(s.exe); err != nil {
		return fmt.Errorf("slurm bench: --evomerge: %v", err)
	}
	if st, err := os.Stat(s.exe); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("slurm bench: --evomerge %s is not an executable file", s.exe)
	}
	return nil
}

// checkBench parses the tasks' bench flags as a task will, so that every
// bad one fails here, once, not in N tasks on the cluster, and works out
// which runs each shard holds.
func (s *slurmBench) checkBench(stderr io.Writer) error {
	var p benchPlan
	if err := p.parse(io.Discard, stderr, s.taskArgs(0)[1:]); err != nil {
		return fmt.Errorf("slurm bench: %v", err)
	}
	if p.comps == nil {
		return fmt.Errorf("slurm bench: --list-scenarios runs nothing: use evomerge bench --list-scenarios")
	}
	s.expected = make([]map[bench.RunKey]bool, s.shards)
	for i := range s.expected {
		s.expected[i] = map[bench.RunKey]bool{}
	}
	for _, c := range p.comps {
		c.Shard = bench.Shard{}
		_, keys, err := c.ShardJobs()
		if err != nil {
			return fmt.Errorf("slurm bench: %v", err)
		}
		for _, k := range keys {
			s.expected[bench.ShardOf(k, s.shards)][k] = true
			s.total++
		}
	}
	return nil
}

// script is the batch script of every array task: it runs the task's
// shard with its journal, resuming it if an earlier task left one.
func (s *slurmBench) script() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by evomerge slurm bench; task i of the array runs shard i of the suite,\n# journaling to shards/shard-i.jsonl and resuming what an earlier task of it left.\n")
	b.WriteString("exec")
	for _, a := range append([]string{s.exe, "bench"}, s.benchArgs...) {
		b.WriteString(" " + shellQuote(a))
	}
	n := strconv.Itoa(s.shards)
	fmt.Fprintf(&b, ` --shard="$SLURM_ARRAY_TASK_ID/%s" --journal=%s"$SLURM_ARRAY_TASK_ID".jsonl --resume`+"\n",
		n, shellQuote(filepath.Join(s.shardDir(), "shard-")))
	return b.String()
}

// shellQuote quotes a word for sh.
func shellQuote(a string) string {
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// prepare claims the report folder for this submission (a new one), or
// checks that it holds the same one (--resume).
func (s *slurmBench) prepare() error {
	want := s.script()
	old, err := os.ReadFile(s.scriptPath())
	switch {
	case s.b.resume && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("slurm bench: --resume: %s holds no submission (no %s); drop --resume to submit one", s.dir, s.rel(s.scriptPath()))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("slurm bench: %v", err)
	case s.b.resume && string(old) != want:
		return fmt.Errorf("slurm bench: --resume: %s was submitted with other flags (its %s differs from the one these flags make): give the flags of that submission, or use another --report folder", s.dir, s.rel(s.scriptPath()))
	case s.b.resume:
		return nil
	case err == nil:
		return fmt.Errorf("slurm bench: %s holds an earlier submission (%s): pass --resume to continue it, or choose another --report folder", s.dir, s.rel(s.scriptPath()))
	}
	files := []string{s.rel(s.scriptPath()), s.rel(s.jobsPath())}
	for i := range s.shards {
		files = append(files, s.rel(s.journal(i)), s.rel(s.log(i)))
	}
	if err := bench.ClaimReportFiles(s.dir, s.b.force, files); err != nil {
		return fmt.Errorf("slurm bench: %v", err)
	}
	if err := os.MkdirAll(s.shardDir(), 0o755); err != nil {
		return fmt.Errorf("slurm bench: %v", err)
	}
	return bench.WriteFileAtomic(s.scriptPath(), []byte(want))
}

// jobs are the ids of every job submitted for this report folder.
func (s *slurmBench) jobs() ([]string, error) {
	b, err := os.ReadFile(s.jobsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("slurm bench: %v", err)
	}
	return strings.Fields(string(b)), nil
}

// submit submits one array job of the given shards and records its id.
func (s *slurmBench) submit(ctx context.Context, shards []int) (string, error) {
	args := []string{"--array=" + indices(shards), "--job-name=evomerge-bench",
		"--output=" + filepath.Join(s.shardDir(), "shard-%a.log"), "--open-mode=append",
		// A pre-empted task is resubmitted by slurm bench, which then
		// knows of it; a requeue by Slurm as well would start a second
		// writer on the same journal.
		"--no-requeue"}
	args = append(append(args, s.sbatch...), s.scriptPath())
	id, err := slurm.Submit(ctx, args...)
	if err != nil {
		return "", fmt.Errorf("slurm bench: submitting shards %s: %v", indices(shards), err)
	}
	f, err := os.OpenFile(s.jobsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = fmt.Fprintln(f, id)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return "", fmt.Errorf("slurm bench: job %s is submitted, but recording it in %s failed (%v): scancel %s", id, s.jobsPath(), err, id)
	}
	return id, nil
}

// waitAll waits until no job submitted for this folder is queued or
// running, printing the runs recorded so far as they grow.
func (s *slurmBench) waitAll(ctx context.Context, stderr io.Writer) error {
	ids, err := s.jobs()
	if err != nil {
		return err
	}
	last, failures := -1, 0
	for _, id := range ids {
		pause := min(time.Second, slurmPoll)
		for {
			ts, err := slurm.Queue(ctx, id)
			if ctx.Err() != nil {
				return s.interrupted(id)
			}
			if err != nil {
				if failures++; failures >= slurmQueueFailures {
					return fmt.Errorf("slurm bench: waiting for job %s: %v (%d times in a row); evomerge slurm bench … --resume waits again", id, err, failures)
				}
			} else {
				failures = 0
				if !slurm.Active(ts) {
					break
				}
			}
			if n := s.recorded(); n != last {
				fmt.Fprintf(stderr, "job %s: %d of %d runs recorded\n", id, n, s.total)
				last = n
			}
			select {
			case <-ctx.Done():
				return s.interrupted(id)
			case <-time.After(pause):
			}
			pause = min(2*pause, slurmPoll)
		}
	}
	return nil
}

func (s *slurmBench) interrupted(id string) error {
	return fmt.Errorf("slurm bench: interrupted while job %s runs; it goes on: scancel %s stops it, and\n  %s\nwaits for it again and builds the report", id, id, s.resumeCommand())
}

// done returns the runs shard i's journal holds that it should, with or
// without an error (a run that ended in an error is a result, as on one
// machine).
func (s *slurmBench) done(i int) (int, error) {
	if _, err := os.Stat(s.journal(i)); errors.Is(err, fs.ErrNotExist) {
		return 0, nil // its task has not started
	}
	runs, err := bench.ReadRuns(s.journal(i))
	if err != nil {
		return 0, fmt.Errorf("slurm bench: %v", err)
	}
	seen := map[bench.RunKey]bool{}
	for _, r := range runs {
		if k := r.RunKey(); s.expected[i][k] {
			seen[k] = true
		}
	}
	return len(seen), nil
}

// recorded counts the runs recorded in every journal, for progress.
func (s *slurmBench) recorded() int {
	n := 0
	for i := range s.shards {
		d, _ := s.done(i) // a journal mid-write is read again at the next poll
		n += d
	}
	return n
}

// unfinished returns the shards whose journal lacks some of their runs.
func (s *slurmBench) unfinished() ([]int, error) {
	var todo []int
	for i := range s.shards {
		n, err := s.done(i)
		if err != nil {
			return nil, err
		}
		if n < len(s.expected[i]) {
			todo = append(todo, i)
		}
	}
	return todo, nil
}

// giveUp reports the shards that still lack runs after every resubmission.
func (s *slurmBench) giveUp(ctx context.Context, todo []int) error {
	var b strings.Builder
	what := "shards"
	if len(todo) == 1 {
		what = "shard"
	}
	fmt.Fprintf(&b, "slurm bench: %s %s still lack runs after %d submissions of their tasks", what, indices(todo), s.resubmit+1)
	if ids, _ := s.jobs(); len(ids) > 0 {
		last := ids[len(ids)-1]
		if ts, err := slurm.Queue(ctx, last); err == nil && len(ts) > 0 {
			var states []string
			for _, t := range ts {
				states = append(states, t.ID+" "+t.State)
			}
			fmt.Fprintf(&b, " (job %s: %s)", last, strings.Join(states, ", "))
		}
	}
	for _, i := range todo {
		fmt.Fprintf(&b, "\nshard %d: %s", i, s.log(i))
		if tail := lastLines(s.log(i), 5); tail != "" {
			b.WriteString(" ends:\n" + tail)
		}
	}
	b.WriteString("\nfix the cause, then " + s.resumeCommand())
	return errors.New(b.String())
}

// lastLines returns the last n lines of a file, indented ("" if none).
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// report builds the page from every shard's journal.
func (s *slurmBench) report(stdout io.Writer) error {
	var runs []*bench.Run
	for i := range s.shards {
		if len(s.expected[i]) == 0 {
			continue // a shard that holds no runs was never submitted
		}
		rs, err := bench.ReadRuns(s.journal(i))
		if err != nil {
			return fmt.Errorf("slurm bench: %v", err)
		}
		runs = append(runs, rs...)
	}
	err := bench.BuildReport(runs, bench.ReportOptions{Dir: s.dir, Title: benchReportTitle,
		Command: "evomerge slurm bench " + strings.Join(s.args, " "), Seed: s.b.seed, Plots: true, HTML: true, Force: s.b.force})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s from %d runs in %d shards\n", filepath.Join(s.dir, "README.md"), s.total, s.shards)
	return nil
}

// resumeCommand is the command that continues this submission.
func (s *slurmBench) resumeCommand() string {
	args := []string{"evomerge", "slurm", "bench"}
	args = append(append(args, s.benchArgs...), s.ownArgs...)
	args = append(args, "--report="+s.dir, "--resume")
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			args[i] = shellQuote(a)
		}
	}
	return strings.Join(args, " ")
}

// indices writes shard numbers as sbatch --array takes them: "0-3",
// "1,4-5".
func indices(xs []int) string {
	xs = append([]int(nil), xs...)
	sort.Ints(xs)
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(xs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

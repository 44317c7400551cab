package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/internal/slurm"
	"github.com/evomerge/evomerge/objectives"
)

// SlurmBackend runs the evaluator command of each evaluation as a Slurm
// batch job instead of a process on this machine. The merge still runs
// here, where evomerge runs: the native engine needs no GPU, so no GPU
// time is spent merging, and the nodes need only the evaluator, not
// evomerge; the merged model goes to the evaluator's WorkDir, which must
// be on storage the nodes share.
//
// A job is submitted with sbatch --parsable (not --wait: a process that
// waits for each job could not be re-attached to after a kill -9) and
// ends by writing an exit file beside its output, which says the
// evaluator's exit status, the node and the CUDA_VISIBLE_DEVICES Slurm
// gave it. evomerge looks for that file, and asks squeue whether the job
// still runs, so a job submitted by an earlier, killed process is waited
// for the same way (Adopt). A job that ends without the file (timed out
// by Slurm, cancelled, pre-empted, its node lost) is a failed attempt,
// retried like a failed command and then penalised.
type SlurmBackend struct {
	// Gres is what each job asks for with --gres (default gpu:1; "none":
	// no --gres).
	Gres string
	// Args are more sbatch arguments (partition, CPUs, memory, --time).
	Args []string
	// Poll is the longest pause between two squeue calls about a job
	// (default 30 s): the pauses grow to it from a second. The exit file
	// is looked for every Poll/5, at most every second.
	Poll time.Duration
	// Name begins every job's name (Name + index). It must belong to this
	// run alone: Sweep cancels the run's active jobs by it.
	Name string
	// Record, if set, journals a job when it is submitted and when it
	// ends, before the evaluation goes on: a resumed run finds there the
	// jobs a killed one left in flight.
	Record func(Job) error
	// Log, if set, receives a line when a job is submitted and when it
	// ends.
	Log func(string)

	mu    sync.Mutex
	adopt map[int]Job
}

// Job is one submission of an evaluation as the journal records it: a
// line when it is submitted (Dir and X set) and one when it ends (End
// set).
type Job struct {
	// Index is the evaluation, Attempt the submission of it (0 first).
	Index   int `json:"index"`
	Attempt int `json:"attempt"`
	// ID is Slurm's job id.
	ID string `json:"id"`
	// Dir is the evaluation's folder (the merged model, and a folder per
	// attempt); X the candidate, which a resumed run must ask for again
	// to adopt the job.
	Dir string    `json:"dir,omitempty"`
	X   []float64 `json:"x,omitempty"`
	// End says how the job ended ("exit 0", "exit 3", "timed out after
	// 30m0s", "CANCELLED before the evaluator finished"); Node and Devices
	// where it ran (Slurm's node name, its CUDA_VISIBLE_DEVICES).
	End     string `json:"end,omitempty"`
	Node    string `json:"node,omitempty"`
	Devices string `json:"devices,omitempty"`
}

var jobID = regexp.MustCompile(`^[0-9]+$`)

// ParseJob reads a job as a journal's job line holds it, and checks it.
func ParseJob(raw []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return Job{}, fmt.Errorf("job line: %v", err)
	}
	switch {
	case j.Index < 1 || j.Attempt < 0:
		return Job{}, fmt.Errorf("job line: evaluation %d, attempt %d", j.Index, j.Attempt)
	case !jobID.MatchString(j.ID):
		return Job{}, fmt.Errorf("job line of evaluation %d: job id %q is not a number", j.Index, j.ID)
	case j.End == "" && (!filepath.IsAbs(j.Dir) || len(j.X) == 0):
		return Job{}, fmt.Errorf("job line of evaluation %d: a submission names its folder (absolute) and candidate", j.Index)
	}
	return j, nil
}

func (s *SlurmBackend) poll() time.Duration {
	if s.Poll <= 0 {
		return 30 * time.Second
	}
	return s.Poll
}

func (s *SlurmBackend) log(format string, args ...any) {
	if s.Log != nil {
		s.Log(fmt.Sprintf(format, args...))
	}
}

// Adopt hands the backend the jobs a killed process left in flight (the
// last submission of each evaluation the journal holds no result of):
// when the run asks for that evaluation again at the same candidate, it
// waits for that job, or reads its result if it has ended, instead of
// merging and submitting anew.
func (s *SlurmBackend) Adopt(jobs []Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adopt = map[int]Job{}
	for _, j := range jobs {
		s.adopt[j.Index] = j
	}
}

// take returns the adopted job of evaluation index, if the run asks for
// it at the candidate it was submitted with.
func (s *SlurmBackend) take(index int, x []float64) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.adopt[index]
	if !ok || !slices.Equal(j.X, x) {
		return Job{}, false
	}
	delete(s.adopt, index)
	return j, true
}

// Unadopted returns the adopted jobs the run never asked for again.
func (s *SlurmBackend) Unadopted() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var js []Job
	for _, j := range s.adopt {
		js = append(js, j)
	}
	slices.SortFunc(js, func(a, b Job) int { return a.Index - b.Index })
	return js
}

// Sweep cancels every queued or running job named with s.Name but those
// of keep, and waits until Slurm has ended them: the jobs of an
// evaluation the run no longer waits for, or one a killed process
// submitted but never recorded. It returns their ids.
func (s *SlurmBackend) Sweep(ctx context.Context, keep map[string]bool) ([]string, error) {
	js, err := slurm.Named(ctx, s.Name)
	if err != nil {
		return nil, fmt.Errorf("looking for this run's Slurm jobs: %v", err)
	}
	var ids []string
	for _, j := range js {
		if !keep[j.ID] {
			ids = append(ids, j.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := cancelJobs(ctx, ids...); err != nil {
		return ids, err
	}
	return ids, nil
}

// cancelJobs runs scancel, then waits (at most a minute) until squeue
// shows none of the jobs queued, running or completing.
func cancelJobs(ctx context.Context, ids ...string) error {
	ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer stop()
	if err := slurm.Cancel(ctx, ids...); err != nil {
		return fmt.Errorf("cancelling Slurm jobs %s: %v", strings.Join(ids, " "), err)
	}
	for {
		ts, err := slurm.Queue(ctx, strings.Join(ids, ","))
		if err == nil && !slurm.Active(ts) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Slurm jobs %s were cancelled but still show in squeue after a minute", strings.Join(ids, " "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Validate reports unusable settings, before anything is submitted.
func (s *SlurmBackend) Validate(c *Command) error {
	for _, a := range s.Args {
		for _, f := range []string{"--output", "-o", "--error", "-e", "--job-name", "-J", "--parsable", "--wait", "-W", "--array", "-a", "--requeue", "--no-requeue", "--gres", "--open-mode"} {
			if a == f || strings.HasPrefix(a, f+"=") || (len(f) == 2 && strings.HasPrefix(a, f)) {
				what := "evomerge sets " + f + " itself"
				if f == "--gres" {
					what = "give the GPUs with slurm.gres"
				}
				return fmt.Errorf("slurm.sbatch_args %s: %s", a, what)
			}
		}
	}
	for _, kv := range c.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envName.MatchString(k) {
			return fmt.Errorf("env %q: want NAME=VALUE, NAME a shell variable name (the job's script exports it)", kv)
		}
		if k == "CUDA_VISIBLE_DEVICES" {
			return fmt.Errorf("env %q: with backend slurm, Slurm sets CUDA_VISIBLE_DEVICES to the GPU it gives the job (slurm.gres): remove it", kv)
		}
	}
	if s.Poll != 0 && s.Poll < 100*time.Millisecond {
		return fmt.Errorf("slurm.poll %v: at least 100ms", s.Poll)
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// attemptDir is the folder of one submission: its script, its stdout and
// stderr, the evaluator's {output} and the exit file.
func attemptDir(dir string, attempt int) string {
	return filepath.Join(dir, fmt.Sprintf("attempt-%d", attempt))
}

// script is the batch script of one attempt: it exports the command's
// environment, runs the command (under timeout(1) when the command has a
// timeout, so the bound holds to the second where Slurm's --time is
// checked about every 30 s), and writes the exit file atomically.
func (s *SlurmBackend) script(c *Command, args []string, expand *strings.Replacer, adir string, index, attempt int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# Written by evomerge evolve: evaluation %d, attempt %d. evomerge merged the model\n# before submitting; this job runs the evaluator on it and writes the exit file.\n", index, attempt)
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(expand.Replace(kv), "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	if c.Timeout > 0 {
		fmt.Fprintf(&b, "timeout --kill-after=10 %s ", strconv.FormatFloat(c.Timeout.Seconds(), 'f', -1, 64))
	}
	for i, a := range args {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(shellQuote(a))
	}
	exit := filepath.Join(adir, "exit")
	fmt.Fprintf(&b, "\nrc=$?\nprintf 'exit=%%s\\nnode=%%s\\ndevices=%%s\\n' \"$rc\" \"${SLURMD_NODENAME:-$(hostname)}\" \"${CUDA_VISIBLE_DEVICES-}\" >%s && mv %s %s\nexit \"$rc\"\n",
		shellQuote(exit+".tmp"), shellQuote(exit+".tmp"), shellQuote(exit))
	return b.String()
}

func shellQuote(a string) string {
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// submit writes the attempt's script and submits it, then journals the
// job.
func (s *SlurmBackend) submit(ctx context.Context, e *Evaluator, dir, modelDir, slot string, index, attempt int, x []float64) (Job, error) {
	adir := attemptDir(dir, attempt)
	outDir := filepath.Join(adir, "output")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Job{}, fmt.Errorf("evaluation %d: %w", index, err)
	}
	expand := strings.NewReplacer("{model}", modelDir, "{output}", outDir, "{slot}", slot, "{index}", strconv.Itoa(index))
	args := make([]string, len(e.Command.Args))
	for i, a := range e.Command.Args {
		args[i] = expand.Replace(a)
	}
	scriptPath := filepath.Join(adir, "job.sh")
	if err := os.WriteFile(scriptPath, []byte(s.script(&e.Command, args, expand, adir, index, attempt)), 0o755); err != nil {
		return Job{}, fmt.Errorf("evaluation %d: %w", index, err)
	}
	sb := []string{"--job-name=" + s.Name + strconv.Itoa(index), "--output=" + filepath.Join(adir, "stdout"),
		"--error=" + filepath.Join(adir, "stderr"),
		// A pre-empted job is resubmitted by evomerge, which counts it as
		// an attempt; a requeue by Slurm as well would run it twice.
		"--no-requeue"}
	if g := s.Gres; g != "none" {
		if g == "" {
			g = "gpu:1"
		}
		sb = append(sb, "--gres="+g)
	}
	if e.Command.Timeout > 0 && !slices.ContainsFunc(s.Args, func(a string) bool {
		return a == "--time" || a == "-t" || strings.HasPrefix(a, "--time=") || strings.HasPrefix(a, "-t")
	}) {
		// Slurm's limit backs up timeout(1) in the script: a minute more.
		sb = append(sb, fmt.Sprintf("--time=%d", int(math.Ceil(e.Command.Timeout.Minutes()))+1))
	}
	sb = append(append(sb, s.Args...), scriptPath)
	id, err := slurm.Submit(ctx, sb...)
	if err != nil {
		if ctx.Err() != nil {
			return Job{}, ctx.Err()
		}
		return Job{}, fmt.Errorf("evaluation %d: %v", index, err)
	}
	j := Job{Index: index, Attempt: attempt, ID: id, Dir: dir, X: slices.Clone(x)}
	if s.Record != nil {
		if err := s.Record(j); err != nil {
			cancelJobs(ctx, id)
			return Job{}, err
		}
	}
	s.log("evaluation %d: Slurm job %s submitted (attempt %d of %d)", index, id, attempt+1, e.Command.Retries+1)
	return j, nil
}

// exitStatus is what a job's exit file says.
type exitStatus struct {
	code          int
	node, devices string
}

// ParseExit reads a job's exit file: exit=CODE, node=NAME and
// devices=LIST lines, as the job's script writes them.
func ParseExit(b []byte) (exitStatus, error) {
	var st exitStatus
	seen := false
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			if strings.TrimSpace(line) != "" {
				return exitStatus{}, fmt.Errorf("exit file line %q: want KEY=VALUE", tail(line, 80))
			}
		case k == "exit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 255 {
				return exitStatus{}, fmt.Errorf("exit file: exit status %q is not 0 to 255", tail(v, 80))
			}
			st.code, seen = n, true
		case k == "node":
			st.node = tail(v, 200)
		case k == "devices":
			st.devices = tail(v, 200)
		}
	}
	if !seen {
		return exitStatus{}, errors.New("exit file holds no exit status")
	}
	return st, nil
}

// readExit reads the exit file of an attempt; false if it is not there
// yet.
func readExit(adir string) (exitStatus, bool, error) {
	b, err := os.ReadFile(filepath.Join(adir, "exit"))
	if errors.Is(err, fs.ErrNotExist) {
		return exitStatus{}, false, nil
	}
	if err != nil {
		return exitStatus{}, false, err
	}
	st, err := ParseExit(b)
	return st, err == nil, err
}

// squeueFailures is how many squeue calls about one job may fail in a row
// (a controller restarting, say) before the run stops.
const squeueFailures = 60

// wait waits for job j to end and returns what its exit file says, or
// false if it ended without writing one. A cancelled context cancels the
// job.
func (s *SlurmBackend) wait(ctx context.Context, j Job) (exitStatus, bool, error) {
	adir := attemptDir(j.Dir, j.Attempt)
	look := min(max(s.poll()/5, 50*time.Millisecond), time.Second)
	pause := min(time.Second, s.poll())
	next := time.Now().Add(pause)
	failures := 0
	for {
		st, ok, err := readExit(adir)
		if err != nil {
			return exitStatus{}, false, fmt.Errorf("evaluation %d, Slurm job %s: %v", j.Index, j.ID, err)
		}
		if ok {
			return st, true, nil
		}
		if !time.Now().Before(next) {
			ts, err := slurm.Queue(ctx, j.ID)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				if failures++; failures >= squeueFailures {
					return exitStatus{}, false, fmt.Errorf("waiting for Slurm job %s of evaluation %d: %v (%d times in a row)", j.ID, j.Index, err, failures)
				}
			case !slurm.Active(ts):
				// On shared storage the file may show late: look again
				// for a while before taking the job for lost.
				for range 5 {
					if st, ok, _ := readExit(adir); ok {
						return st, true, nil
					}
					select {
					case <-ctx.Done():
						return exitStatus{}, false, ctx.Err()
					case <-time.After(pause / 5):
					}
				}
				state := "ended"
				if len(ts) > 0 {
					state = ts[0].State
				}
				return exitStatus{node: state}, false, nil
			default:
				failures = 0
			}
			pause = min(2*pause, s.poll())
			next = time.Now().Add(pause)
		}
		select {
		case <-ctx.Done():
			if err := cancelJobs(ctx, j.ID); err != nil {
				s.log("evaluation %d: %v", j.Index, err)
			} else {
				s.log("evaluation %d: Slurm job %s cancelled", j.Index, j.ID)
			}
			return exitStatus{}, false, ctx.Err()
		case <-time.After(look):
		}
	}
}

// attempt runs one attempt of evaluation index as a Slurm job (or waits
// for the adopted one) and returns its scores (one, or one per task). An
// error wrapping errAttempt is the attempt's failure; any other ends the
// evaluation.
func (s *SlurmBackend) attempt(ctx context.Context, e *Evaluator, dir, modelDir, slot string, index, attempt int, x []float64, adopted *Job) ([]float64, error) {
	j := Job{}
	if adopted != nil {
		j = *adopted
		s.log("evaluation %d: waiting for Slurm job %s, submitted before the restart", index, j.ID)
	} else {
		var err error
		if j, err = s.submit(ctx, e, dir, modelDir, slot, index, attempt, x); err != nil {
			return nil, err
		}
	}
	st, ok, err := s.wait(ctx, j)
	if err != nil {
		return nil, err
	}
	adir := attemptDir(j.Dir, j.Attempt)
	end := Job{Index: j.Index, Attempt: j.Attempt, ID: j.ID, Node: st.node, Devices: st.devices}
	var score []float64
	var fail error
	switch {
	case !ok:
		end.Node = ""
		end.End = st.node + " before the evaluator finished"
		fail = fmt.Errorf("Slurm job %s ended %s (timed out, cancelled or pre-empted)", j.ID, end.End)
	case st.code == 124 && e.Command.Timeout > 0:
		end.End = fmt.Sprintf("timed out after %v", e.Command.Timeout)
		fail = fmt.Errorf("evaluator timed out after %v (Slurm job %s)", e.Command.Timeout, j.ID)
	case st.code != 0:
		end.End = fmt.Sprintf("exit %d", st.code)
		stderr, _ := os.ReadFile(filepath.Join(adir, "stderr"))
		fail = fmt.Errorf("evaluator %s: exit status %d (Slurm job %s); stderr: %s", e.Command.Args[0], st.code, j.ID, tail(string(stderr), 400))
	default:
		end.End = "exit 0"
		score, fail = e.readScores(filepath.Join(adir, "stdout"), filepath.Join(adir, "output"))
		if fail != nil {
			fail = fmt.Errorf("%v (Slurm job %s)", fail, j.ID)
		}
	}
	if s.Record != nil {
		if err := s.Record(end); err != nil {
			return nil, err
		}
	}
	where := ""
	if end.Node != "" {
		where = fmt.Sprintf(" on node %s, CUDA_VISIBLE_DEVICES=%s", end.Node, end.Devices)
	}
	s.log("evaluation %d: Slurm job %s ended%s: %s", index, j.ID, where, end.End)
	if fail != nil {
		return nil, &attemptError{fail}
	}
	return score, nil
}

// attemptError is the failure of one attempt: the next is tried.
type attemptError struct{ error }

func (a *attemptError) Unwrap() error { return a.error }

// evaluateSlurm is Evaluate on the slurm backend for a candidate whose
// model is merged in dir (or whose job a killed process submitted).
func (e *Evaluator) evaluateSlurm(ctx context.Context, dir, modelDir, slot string, index int, x []float64, adopted *Job) ([]float64, error) {
	first := 0
	if adopted != nil {
		first = adopted.Attempt
	}
	var lastErr error
	for attempt := first; attempt <= e.Command.Retries; attempt++ {
		var a *Job
		if adopted != nil && attempt == adopted.Attempt {
			a = adopted
		}
		score, err := e.Slurm.attempt(ctx, e, dir, modelDir, slot, index, attempt, x, a)
		if err == nil {
			return score, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ae *attemptError
		if !errors.As(err, &ae) {
			return nil, err
		}
		lastErr = ae.error
	}
	return nil, fmt.Errorf("evaluation %d on slot %s: %v (after %d attempts): %w", index, slot, lastErr, e.Command.Retries+1, objectives.ErrEvalFailed)
}

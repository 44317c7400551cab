// Package slurm is evomerge's client of a Slurm cluster: it submits batch
// jobs with sbatch, reads their states with squeue and cancels them with
// scancel. It runs Slurm's own commands rather than talking to slurmctld,
// so it works wherever a user can type them (a login node, or inside an
// allocation) with the site's configuration and authentication. It needs
// no job accounting (sacct): squeue answers for recent jobs, and callers
// learn what a job achieved from its own output files, which also holds
// when a job was purged from the controller's memory.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Available says whether Slurm's client commands are on PATH, naming the
// first one missing.
func Available() error {
	for _, c := range []string{"sbatch", "squeue", "scancel"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s not found on PATH: run this on a machine that submits to a Slurm cluster (a login node), or start a local one (docs/cluster.md)", c)
		}
	}
	return nil
}

// Submit runs "sbatch --parsable ARGS" and returns the job id. A refused
// submission is an error holding sbatch's own message.
func Submit(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--parsable"}, args...)
	out, err := run(ctx, "sbatch", full...)
	if err != nil {
		return "", err
	}
	id, err := ParseJobID(out)
	if err != nil {
		return "", fmt.Errorf("sbatch %s: %v", strings.Join(full, " "), err)
	}
	return id, nil
}

// ParseJobID reads sbatch --parsable's answer: "ID" or "ID;CLUSTER",
// possibly after warning lines.
func ParseJobID(out string) (string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	id, _, _ := strings.Cut(last, ";")
	if n, err := strconv.ParseUint(id, 10, 64); err != nil || n == 0 {
		return "", fmt.Errorf("its answer %q holds no job id", out)
	}
	return id, nil
}

// Task is one line of squeue: a job, an array task ("12_3") or a range
// of pending array tasks ("12_[4-7]"), and its state (PENDING, RUNNING,
// COMPLETED, …).
type Task struct {
	ID, State string
}

// Queue returns the tasks of job id that squeue knows, in every state.
// A job the controller has forgotten (MinJobAge after it ended) yields no
// tasks and no error.
func Queue(ctx context.Context, id string) ([]Task, error) {
	out, err := run(ctx, "squeue", "--jobs="+id, "--noheader", "--states=all", "--format=%i %T")
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return nil, nil
		}
		return nil, err
	}
	return ParseQueue(out)
}

// ParseQueue reads squeue --noheader --format="%i %T" output.
func ParseQueue(out string) ([]Task, error) {
	var ts []Task
	for i, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || f[0] == "" || strings.ToUpper(f[1]) != f[1] {
			return nil, fmt.Errorf("squeue line %d: %q is not a job id and a state", i+1, line)
		}
		ts = append(ts, Task{ID: f[0], State: f[1]})
	}
	return ts, nil
}

// final are the states a job or task does not leave by itself. A task
// that is requeued passes through REQUEUED to PENDING, which is not final.
var final = map[string]bool{
	"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true, "NODE_FAIL": true,
	"OUT_OF_MEMORY": true, "BOOT_FAIL": true, "DEADLINE": true, "PREEMPTED": true, "SPECIAL_EXIT": true,
	"REVOKED": true,
}

// Active reports whether any of ts is not in a final state (queued,
// running, completing, suspended, requeued, …).
func Active(ts []Task) bool {
	for _, t := range ts {
		if !final[t.State] {
			return true
		}
	}
	return false
}

// Job is one of the user's jobs as squeue lists it: its id, state and
// name.
type Job struct {
	ID, State, Name string
}

// Named returns the user's jobs (squeue --me) whose names begin with
// prefix and that are queued, running or completing: how a program that
// names its jobs finds those it submitted but never recorded (killed
// between sbatch's answer and writing the id down).
func Named(ctx context.Context, prefix string) ([]Job, error) {
	out, err := run(ctx, "squeue", "--me", "--noheader", "--format=%i %T %j")
	if err != nil {
		return nil, err
	}
	all, err := ParseNamed(out)
	if err != nil {
		return nil, err
	}
	var js []Job
	for _, j := range all {
		if strings.HasPrefix(j.Name, prefix) && !final[j.State] {
			js = append(js, j)
		}
	}
	return js, nil
}

// ParseNamed reads squeue --noheader --format="%i %T %j" output; the
// name, last, may hold spaces.
func ParseNamed(out string) ([]Job, error) {
	var js []Job
	for i, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.SplitN(strings.TrimLeft(line, " "), " ", 3)
		if len(f) != 3 || !only(f[0], "0123456789_") || !only(f[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") || strings.TrimSpace(f[2]) == "" {
			return nil, fmt.Errorf("squeue line %d: %q is not a job id, a state and a name", i+1, line)
		}
		js = append(js, Job{ID: f[0], State: f[1], Name: strings.TrimRight(f[2], " \r")})
	}
	return js, nil
}

// only reports whether s is made of the characters of set, and not empty.
func only(s, set string) bool {
	return s != "" && strings.Trim(s, set) == ""
}

// Cancel runs scancel on the jobs.
func Cancel(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := run(ctx, "scancel", ids...)
	return err
}

// run runs a Slurm command and returns its stdout; a failure carries the
// command line and its stderr.
func run(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		var ee *exec.ExitError
		if msg == "" || !errors.As(err, &ee) {
			msg = err.Error()
		}
		return out.String(), fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return out.String(), nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/internal/slurm"
	"github.com/evomerge/evomerge/internal/slurmtest"
	"github.com/evomerge/evomerge/internal/toymodel"
	"github.com/evomerge/evomerge/objectives/external"
)

// slurmEvaluator is the evaluator script of the Slurm tests: it prints the
// GPU Slurm gave its job and a score, the merged weight (every weight of
// the toy models is one value: 1 in a, 3 in b), read from the merged
// model's first float after the safetensors header. It appends
// "INDEX CUDA_VISIBLE_DEVICES" to $EVAL_LOG. With $BARRIER set,
// evaluations 1 and 2 wait (at most 30 s) until both have started, so
// that two jobs run at once; with $HANG set, it never ends.
const slurmEvaluator = `#!/bin/sh
echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"
echo "$2 $CUDA_VISIBLE_DEVICES" >>"$EVAL_LOG"
[ -n "$HANG" ] && exec sleep 300
if [ -n "$BARRIER" ] && [ "$2" -le 2 ]; then
	touch "$BARRIER/$2"
	i=0
	while { [ ! -e "$BARRIER/1" ] || [ ! -e "$BARRIER/2" ]; } && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
fi
sleep 0.5
n=$(od -An -t u8 -N 8 "$1/model.safetensors" | tr -d ' ')
echo "score $(od -An -t f4 -j $((8+n)) -N 4 "$1/model.safetensors" | tr -d ' ')"
`

// slurmRun is a folder with the toy models, the evaluator and a config of
// the slurm backend: cmaes (a generation at a time, so each evaluation's
// candidate does not depend on the order in which jobs finish), 8
// evaluations by the search and 2 to score the finalists, 2 jobs in
// flight.
type slurmRun struct {
	dir, work, log string
}

func newSlurmRun(t *testing.T) *slurmRun {
	t.Helper()
	r := &slurmRun{dir: t.TempDir()}
	toymodel.Write(t, filepath.Join(r.dir, "a"), 1)
	toymodel.Write(t, filepath.Join(r.dir, "b"), 3)
	os.WriteFile(filepath.Join(r.dir, "eval.sh"), []byte(slurmEvaluator), 0o755)
	r.work = filepath.Join(r.dir, "work")
	os.Mkdir(r.work, 0o755)
	r.log = filepath.Join(r.dir, "eval.log")
	return r
}

// config writes NAME.yml with extra environment for the evaluator.
func (r *slurmRun) config(t *testing.T, name string, env ...string) string {
	t.Helper()
	env = append(env, "EVAL_LOG="+r.log)
	p := filepath.Join(r.dir, name+".yml")
	body := `algorithm: cmaes
set: {popsize: 4}
budget: 10
seed: 3
objective:
  kind: external
  external:
    method: linear
    models: [a, b]
    params: [{name: weight, min: 0.1, max: 1}]
    groups: 1
    parameters: {normalize: true}
    command: [sh, "` + filepath.Join(r.dir, "eval.sh") + `", "{model}", "{index}"]
    env: ["` + strings.Join(env, `", "`) + `"]
    timeout: 1m
    slots: 2
    workdir: work
    backend: slurm
    slurm: {poll: 1s}
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// jobLines reads a journal's job lines.
func jobLines(t *testing.T, journal string) []external.Job {
	t.Helper()
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	var js []external.Job
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l bench.JobLine
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"job":`)) || json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		j, err := external.ParseJob(l.Job)
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, j)
	}
	return js
}

// activeJobs lists the run's jobs Slurm still has queued or running.
func activeJobs(t *testing.T, prefix string) []slurm.Job {
	t.Helper()
	js, err := slurm.Named(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// inFlight returns the evaluations whose job was submitted (a job line)
// and whose result is not journaled, and how many results are.
func inFlight(journal string) ([]int, int) {
	b, _ := os.ReadFile(journal)
	done := map[int]bool{}
	var sub []int
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e bench.EvalLine
		var l bench.JobLine
		switch {
		case bytes.HasPrefix(line, []byte(`{"eval":`)) && json.Unmarshal(line, &e) == nil:
			done[e.Eval.Index] = true
		case bytes.HasPrefix(line, []byte(`{"job":`)) && json.Unmarshal(line, &l) == nil:
			if j, err := external.ParseJob(l.Job); err == nil && j.End == "" {
				sub = append(sub, j.Index)
			}
		}
	}
	var out []int
	for _, i := range sub {
		if !done[i] && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out, len(done)
}

// TestEvolveOnSlurm runs evomerge evolve with the slurm backend on a real
// cluster (the local one of .ci/slurm-local.sh, 2 fake GPUs): two jobs
// at once use both GPUs; a run killed with SIGKILL and resumed collects
// the jobs it left in flight and journals the evaluations of an
// uninterrupted run; SIGTERM cancels the jobs; no run leaves a job in
// squeue.
func TestEvolveOnSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and submits jobs")
	}
	slurmtest.Require(t)

	t.Run("two jobs at once use both GPUs", func(t *testing.T) {
		r := newSlurmRun(t)
		barrier := filepath.Join(r.dir, "barrier")
		os.Mkdir(barrier, 0o755)
		cfg := r.config(t, "run", "BARRIER="+barrier)
		out, stderr, err := runArgs(t, "evolve", cfg)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		c, _ := evolve.LoadConfig(cfg)
		if n := len(journalEntries(t, c.Journal)); n != 10 {
			t.Errorf("%d evaluations journaled, want 10", n)
		}
		devices := map[string]bool{}
		for _, j := range jobLines(t, c.Journal) {
			if j.End != "" {
				devices[j.Devices] = true
				if j.End != "exit 0" {
					t.Errorf("job %s of evaluation %d ended %q", j.ID, j.Index, j.End)
				}
			}
		}
		if !devices["0"] || !devices["1"] || len(devices) != 2 {
			t.Errorf("the jobs saw CUDA_VISIBLE_DEVICES %v, want both GPUs, 0 and 1", devices)
		}
		if log, _ := os.ReadFile(r.log); !bytes.Contains(log, []byte(" 0\n")) || !bytes.Contains(log, []byte(" 1\n")) {
			t.Errorf("the evaluator's own log does not show both GPUs:\n%s", log)
		}
		if !strings.Contains(stderr, "Slurm job") || !strings.Contains(stderr, "CUDA_VISIBLE_DEVICES=1") {
			t.Errorf("the progress lines do not name the jobs and their GPUs:\n%s", stderr)
		}
		page, _ := os.ReadFile(c.ProgressPath())
		for _, want := range []string{"Finished: 8 of 8 evaluations", "merge_method: linear", "shipped: ", `data-series="best observed so far"`} {
			if !bytes.Contains(page, []byte(want)) {
				t.Errorf("the progress page lacks %q", want)
			}
		}
		if !strings.Contains(out, "progress page "+c.ProgressPath()) {
			t.Errorf("the summary does not name the progress page:\n%s", out)
		}
		if left, _ := os.ReadDir(r.work); len(left) != 0 {
			t.Errorf("merged models left behind: %d folders", len(left))
		}
		if js := activeJobs(t, c.JobPrefix()); len(js) != 0 {
			t.Errorf("jobs left in squeue: %v", js)
		}
		ms := 0.0
		b, _ := os.ReadFile(c.Journal)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var e bench.EvalLine
			if bytes.HasPrefix(line, []byte(`{"eval":`)) && json.Unmarshal(line, &e) == nil {
				ms += e.Eval.MS
			}
		}
		t.Logf("%s; mean evaluation %.0f ms (the evaluator sleeps 500 ms)", strings.SplitN(out, "\n", 2)[0], ms/10)
	})

	dir := t.TempDir()
	bin := filepath.Join(dir, "evomerge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("kill -9, then --resume", func(t *testing.T) {
		r := newSlurmRun(t)
		whole, killed := r.config(t, "whole"), r.config(t, "killed")
		if _, stderr, err := runArgs(t, "evolve", "--quiet", whole); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		c, _ := evolve.LoadConfig(killed)
		cmd := exec.Command(bin, "evolve", "--quiet", killed)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once 3 results are journaled and a job is in flight. A
		// guard against a hang, not a timing assertion.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if f, n := inFlight(c.Journal); n >= 3 && len(f) > 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("the run made no progress")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill() // SIGKILL: no chance to cancel its jobs
		cmd.Wait()
		flying, n := inFlight(c.Journal)
		if n >= 10 {
			t.Fatalf("the run finished before it was killed")
		}
		// A job submitted just before the kill but never journaled: the
		// resumed run must find it by its name and cancel it.
		orphan, err := slurm.Submit(context.Background(), "--job-name="+c.JobPrefix()+"99", "--output=/dev/null", "--wrap=sleep 300")
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runArgs(t, "evolve", "--resume", killed)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		// The planted job must be among those cancelled; a job the killed
		// run submitted but had not yet journaled is an orphan too, and
		// may be cancelled with it.
		if !cancelledJob(stderr, orphan) {
			t.Errorf("the resumed run did not cancel the unjournaled job %s:\n%s", orphan, stderr)
		}
		// Every job in flight at the kill was collected, not submitted
		// again: its evaluation has one submission.
		subs := map[int]int{}
		for _, j := range jobLines(t, c.Journal) {
			if j.End == "" {
				subs[j.Index]++
			}
		}
		for _, i := range flying {
			if subs[i] != 1 || !strings.Contains(stderr, "evaluation "+itoa(i)+": Slurm job") {
				t.Errorf("evaluation %d, in flight at the kill, was submitted %d times", i, subs[i])
			}
		}
		// The journals hold the same evaluations: each index at the same
		// point with the same score (the order of results may differ, as
		// with 2 slots it does between any two runs), the same run
		// record but for its timing and trace, and the same output file.
		cw, _ := evolve.LoadConfig(whole)
		a, b := journalEntries(t, cw.Journal), journalEntries(t, c.Journal)
		if len(a) != 10 || len(b) != 10 {
			t.Fatalf("%d and %d evaluations journaled, want 10 each", len(a), len(b))
		}
		for i := 1; i <= 10; i++ {
			if a[i] != b[i] {
				t.Errorf("evaluation %d differs after the resume:\n%s\n%s", i, a[i], b[i])
			}
		}
		ra, _ := bench.ReadRuns(cw.Journal)
		rb, _ := bench.ReadRuns(c.Journal)
		if len(ra) != 1 || len(rb) != 1 || !slices.Equal(ra[0].Recommended, rb[0].Recommended) || ra[0].EvalsUsed != rb[0].EvalsUsed || ra[0].Failures != rb[0].Failures {
			t.Errorf("the run records differ: %+v\n%+v", ra, rb)
		}
		wa, _ := os.ReadFile(cw.Output)
		wb, _ := os.ReadFile(c.Output)
		if len(wa) == 0 || !bytes.Equal(wa, wb) {
			t.Errorf("results differ:\n%s\n---\n%s", wa, wb)
		}
		if js := activeJobs(t, c.JobPrefix()); len(js) != 0 {
			t.Errorf("jobs left in squeue: %v", js)
		}
		if ts, _ := slurm.Queue(context.Background(), orphan); slurm.Active(ts) {
			t.Errorf("the orphan job %s still runs", orphan)
		}
		if left, _ := os.ReadDir(r.work); len(left) != 0 {
			t.Errorf("merged models left behind: %d folders", len(left))
		}
		t.Logf("killed after %d of 10 results, %d jobs in flight (evaluations %v)", n, len(flying), flying)
	})

	t.Run("SIGTERM cancels the jobs", func(t *testing.T) {
		r := newSlurmRun(t)
		cfg := r.config(t, "run", "HANG=1")
		c, _ := evolve.LoadConfig(cfg)
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "evolve", cfg)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if f, _ := inFlight(c.Journal); len(f) == 2 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("no job was submitted")
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err == nil {
			t.Error("the interrupted run exited 0")
		}
		t.Logf("stderr:\n%s", stderr.String())
		if s := stderr.String(); !strings.Contains(s, "interrupted") || !strings.Contains(s, "--resume") || strings.Count(s, "cancelled") < 2 {
			t.Errorf("stderr does not say both jobs were cancelled and how to resume:\n%s", s)
		}
		if js := activeJobs(t, c.JobPrefix()); len(js) != 0 {
			t.Errorf("jobs left in squeue: %v", js)
		}
		if page, _ := os.ReadFile(c.ProgressPath()); !bytes.Contains(page, []byte("Stopped: 0 of 8 evaluations")) {
			t.Errorf("the progress page does not say the run stopped:\n%.500s", page)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// cancelledJob reports whether a "cancelled Slurm jobs ID ID … of this
// run" line of stderr names job id.
func cancelledJob(stderr, id string) bool {
	for _, l := range strings.Split(stderr, "\n") {
		_, rest, ok := strings.Cut(l, "cancelled Slurm jobs ")
		if !ok {
			continue
		}
		ids, _, _ := strings.Cut(rest, " of this run")
		for _, f := range strings.Fields(ids) {
			if f == id {
				return true
			}
		}
	}
	return false
}

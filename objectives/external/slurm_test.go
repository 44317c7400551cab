package external

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/slurm"
	"github.com/evomerge/evomerge/internal/slurmtest"
	"github.com/evomerge/evomerge/objectives"
)

// slurmEvaluator is toyEvaluator on the slurm backend; the jobs it
// submits and ends are kept in order.
func slurmEvaluator(t *testing.T, mode string) (*Evaluator, *jobLog) {
	t.Helper()
	e := toyEvaluator(t, mode, "{model}")
	log := &jobLog{}
	e.Slurm = &SlurmBackend{Poll: time.Second, Name: "evomerge-test-", Record: log.record}
	return e, log
}

type jobLog struct {
	mu   sync.Mutex
	jobs []Job
	sub  chan Job
}

func (l *jobLog) record(j Job) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs = append(l.jobs, j)
	if l.sub != nil && j.End == "" {
		l.sub <- j
	}
	return nil
}

func (l *jobLog) ends() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, j := range l.jobs {
		if j.End != "" {
			out = append(out, j.End)
		}
	}
	return out
}

// TestSlurmBackend runs evaluations as jobs of a real Slurm cluster (the
// local one of .ci/slurm-local.sh, with fake GPUs): a job's score is read
// from its output and its GPU from Slurm's CUDA_VISIBLE_DEVICES; a job
// that fails, times out or is cancelled under the evaluator (as a
// pre-emption does) is retried and then penalised; a cancelled context
// cancels the job.
func TestSlurmBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("submits jobs")
	}
	slurmtest.Require(t)

	t.Run("a job's score and GPU", func(t *testing.T) {
		e, log := slurmEvaluator(t, "mean")
		got, err := e.Evaluate(context.Background(), []float64{0.25, 0.75}, "0", 1)
		if err != nil || math.Abs(got-2.5) > 1e-6 {
			t.Fatalf("score %g, %v; want 2.5", got, err)
		}
		if len(log.jobs) != 2 || log.jobs[0].End != "" || log.jobs[1].End != "exit 0" || log.jobs[1].ID != log.jobs[0].ID ||
			(log.jobs[1].Devices != "0" && log.jobs[1].Devices != "1") || log.jobs[1].Node == "" {
			t.Errorf("jobs recorded: %+v", log.jobs)
		}
		if left, _ := os.ReadDir(e.WorkDir); len(left) != 0 {
			t.Errorf("folders left behind: %v", left)
		}
	})

	t.Run("a failing job is retried, then penalised", func(t *testing.T) {
		e, log := slurmEvaluator(t, "fail")
		e.Command.Retries = 1
		_, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 2)
		if !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "2 attempts") {
			t.Errorf("error %v: want a penalised failure quoting the evaluator's stderr after 2 attempts", err)
		}
		if ends := log.ends(); strings.Join(ends, ",") != "exit 3,exit 3" {
			t.Errorf("job ends %v", ends)
		}
	})

	t.Run("a job that times out is penalised", func(t *testing.T) {
		e, log := slurmEvaluator(t, "hang")
		e.Command.Timeout = time.Second
		_, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 3)
		if !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "timed out after 1s") {
			t.Errorf("error %v", err)
		}
		if ends := log.ends(); len(ends) != 1 || ends[0] != "timed out after 1s" {
			t.Errorf("job ends %v", ends)
		}
	})

	t.Run("a job cancelled under the evaluator is retried", func(t *testing.T) {
		e, log := slurmEvaluator(t, "cancel-once")
		t.Setenv("EVOMERGE_TEST_MARK", filepath.Join(t.TempDir(), "mark"))
		e.Command.Retries = 1
		got, err := e.Evaluate(context.Background(), []float64{0.25, 0.75}, "0", 4)
		if err != nil || math.Abs(got-2.5) > 1e-6 {
			t.Errorf("score %g, %v; want 2.5 from the second attempt", got, err)
		}
		if ends := log.ends(); len(ends) != 2 || ends[0] != "CANCELLED before the evaluator finished" || ends[1] != "exit 0" {
			t.Errorf("job ends %v", ends)
		}
	})

	t.Run("a cancelled run cancels its job", func(t *testing.T) {
		e, log := slurmEvaluator(t, "hang")
		log.sub = make(chan Job, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-log.sub
			cancel()
		}()
		_, err := e.Evaluate(ctx, []float64{0.5, 0.5}, "0", 5)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want the context's", err)
		}
		ts, err := slurm.Queue(context.Background(), log.jobs[0].ID)
		if err != nil || slurm.Active(ts) {
			t.Errorf("job %s after the cancel: %v %v", log.jobs[0].ID, ts, err)
		}
	})

	t.Run("sbatch's refusal ends the evaluation", func(t *testing.T) {
		e, _ := slurmEvaluator(t, "mean")
		e.Slurm.Args = []string{"--partition=no-such-partition"}
		_, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 6)
		if err == nil || errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "partition") {
			t.Errorf("error %v, want a fault of the run naming sbatch's reason", err)
		}
	})
}

// TestSlurmScript runs a job's script without Slurm: it runs the command
// with the environment given, bounds it with the timeout, and writes the
// exit file with the exit status, the node and CUDA_VISIBLE_DEVICES.
func TestSlurmScript(t *testing.T) {
	dir := t.TempDir()
	s := &SlurmBackend{}
	out := filepath.Join(dir, "out")
	c := &Command{Env: []string{"GREETING=it's {slot}"}}
	expand := strings.NewReplacer("{slot}", "3")
	run := func(c *Command, args ...string) exitStatus {
		t.Helper()
		os.Remove(filepath.Join(dir, "exit"))
		script := filepath.Join(dir, "job.sh")
		os.WriteFile(script, []byte(s.script(c, args, expand, dir, 1, 0)), 0o755)
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), "SLURMD_NODENAME=node7", "CUDA_VISIBLE_DEVICES=1")
		cmd.Run()
		st, ok, err := readExit(dir)
		if !ok || err != nil {
			t.Fatalf("no exit file: %v", err)
		}
		return st
	}
	st := run(c, "sh", "-c", `printf '%s' "$GREETING" >"$0"; exit 4`, out)
	if b, _ := os.ReadFile(out); string(b) != "it's 3" || st != (exitStatus{4, "node7", "1"}) {
		t.Errorf("output %q, status %+v", b, st)
	}
	c.Timeout = 200 * time.Millisecond
	if st := run(c, "sleep", "30"); st.code != 124 {
		t.Errorf("a command past its timeout exited %d, want timeout(1)'s 124", st.code)
	}
}

func TestSlurmSettingsRefused(t *testing.T) {
	for _, c := range []struct {
		s    *SlurmBackend
		env  []string
		want string
	}{
		{&SlurmBackend{Args: []string{"--output=/tmp/x"}}, nil, "evomerge sets --output itself"},
		{&SlurmBackend{Args: []string{"-Jname"}}, nil, "evomerge sets -J itself"},
		{&SlurmBackend{Args: []string{"--gres=gpu:2"}}, nil, "slurm.gres"},
		{&SlurmBackend{Args: []string{"--wait"}}, nil, "--wait"},
		{&SlurmBackend{}, []string{"CUDA_VISIBLE_DEVICES={slot}"}, "Slurm sets CUDA_VISIBLE_DEVICES"},
		{&SlurmBackend{}, []string{"A-B=1"}, "shell variable name"},
		{&SlurmBackend{Poll: time.Millisecond}, nil, "slurm.poll"},
	} {
		err := c.s.Validate(&Command{Args: []string{"x"}, Env: c.env})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.s.Args, c.env, err, c.want)
		}
	}
	if err := (&SlurmBackend{Args: []string{"--partition=gpu", "--time=10"}}).Validate(&Command{Args: []string{"x"}, Env: []string{"HF_HOME=/data"}}); err != nil {
		t.Errorf("good settings refused: %v", err)
	}
}

func TestParseJobAndExit(t *testing.T) {
	if _, err := ParseJob([]byte(`{"index":2,"attempt":0,"id":"17","dir":"/w/e","x":[0.5]}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"index":0,"id":"1","dir":"/w","x":[1]}`, `{"index":1,"id":"x","dir":"/w","x":[1]}`, `{"index":1,"id":"1","dir":"w","x":[1]}`, `{"index":1,"id":"1","dir":"/w"}`, `[]`} {
		if _, err := ParseJob([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	st, err := ParseExit([]byte("exit=3\nnode=n1\ndevices=0,1\n"))
	if err != nil || st != (exitStatus{3, "n1", "0,1"}) {
		t.Errorf("%+v %v", st, err)
	}
	for _, bad := range []string{"", "node=n1\n", "exit=x\n", "exit=300\n", "garbage\n"} {
		if _, err := ParseExit([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseJob: a journal's job line is outside input; an accepted one
// names an evaluation, a numeric job id and, for a submission, an
// absolute folder and a candidate.
func FuzzParseJob(f *testing.F) {
	f.Add([]byte(`{"index":2,"attempt":0,"id":"17","dir":"/w/e","x":[0.5]}`))
	f.Add([]byte(`{"index":2,"attempt":0,"id":"17","end":"exit 0","node":"n","devices":"1"}`))
	f.Add([]byte(`{"index":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseJob(b)
		if err != nil {
			return
		}
		if j.Index < 1 || j.Attempt < 0 || !jobID.MatchString(j.ID) || (j.End == "" && (!filepath.IsAbs(j.Dir) || len(j.X) == 0)) {
			t.Fatalf("%q gave %+v", b, j)
		}
	})
}

// FuzzParseExit: an exit file is outside input (a job writes it); an
// accepted one holds an exit status of 0 to 255.
func FuzzParseExit(f *testing.F) {
	f.Add([]byte("exit=0\nnode=n\ndevices=0\n"))
	f.Add([]byte("exit=-1\n"))
	f.Add([]byte("exit=1\nexit=2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseExit(b)
		if err == nil && (st.code < 0 || st.code > 255) {
			t.Fatalf("%q gave %+v", b, st)
		}
	})
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/slurm"
	"github.com/evomerge/evomerge/internal/slurmtest"
)

// slurmSuite is the suite of the Slurm tests: 3 algorithms × 4 seeds,
// run one at a time in a task (--parallel 1), so that a shard's tpe runs
// (about 0.7 s each) keep its task busy long enough to be cancelled
// after its first records.
var slurmSuite = []string{"--algs", "random,cmaes,tpe", "--seeds", "4", "--budget", "1000", "--parallel", "1", "--format", "csv"}

// pageFiles returns README.md, the HTML page and every figure of a report
// folder.
func pageFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, pattern := range []string{"README.md", bench.HTMLName, "plots/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, m)
			files[rel] = b
		}
	}
	if files["README.md"] == nil || files[bench.HTMLName] == nil {
		t.Fatalf("%s lacks README.md or %s", dir, bench.HTMLName)
	}
	return files
}

// onePage is the page of the one-machine run of slurmSuite, built with the
// title and command line slurm bench puts on its page.
func onePage(t *testing.T, journal, command string) map[string][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "one")
	if _, _, err := runArgs(t, "report", "--out", out, "--title", benchReportTitle, "--command", command, journal); err != nil {
		t.Fatal(err)
	}
	return pageFiles(t, out)
}

func samePages(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if want[n] == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if string(want[n]) != string(got[n]) {
			t.Errorf("%s differs from the one-machine run's:\n%.3000s\n---\n%.3000s", n, want[n], got[n])
		}
	}
}

// TestSlurmBench runs suites on a real Slurm cluster (the local one CI
// starts with .ci/slurm-local.sh): the sharded report is the one-machine
// run's byte for byte, also after a shard task is cancelled half-way and
// resubmitted, and a refused submission or a shard that keeps failing
// ends with an error naming the cause.
func TestSlurmBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and submits jobs")
	}
	slurmtest.Require(t)
	defer func(p time.Duration) { slurmPoll = p }(slurmPoll)
	slurmPoll = 200 * time.Millisecond
	dir := t.TempDir()
	bin := filepath.Join(dir, "evomerge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	journal := filepath.Join(dir, "one.jsonl")
	if _, _, err := runArgs(t, append([]string{"bench", "--journal", journal}, slurmSuite...)...); err != nil {
		t.Fatal(err)
	}
	one, err := bench.ReadRuns(journal)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("4 shards give the one-machine page", func(t *testing.T) {
		report := filepath.Join(t.TempDir(), "report")
		args := append(append([]string{}, slurmSuite...), "--shards", "4", "--report", report, "--evomerge", bin)
		if _, errs, err := runArgs(t, append([]string{"slurm", "bench"}, args...)...); err != nil {
			t.Fatalf("%v\n%s", err, errs)
		}
		samePages(t, onePage(t, journal, "evomerge slurm bench "+strings.Join(args, " ")), pageFiles(t, report))

		// The folder now holds a submission: it is continued only with
		// --resume and the same flags, and then nothing is resubmitted.
		_, _, err := runArgs(t, append([]string{"slurm", "bench"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "holds an earlier submission") {
			t.Errorf("a second submission into the folder: %v", err)
		}
		other := append(append([]string{"slurm", "bench", "--resume"}, args...), "--seed", "2")
		if _, _, err := runArgs(t, other...); err == nil || !strings.Contains(err.Error(), "submitted with other flags") {
			t.Errorf("--resume with another --seed: %v", err)
		}
		_, errs, err := runArgs(t, append([]string{"slurm", "bench", "--resume"}, args...)...)
		if err != nil || strings.Contains(errs, "submitted") {
			t.Errorf("--resume of a finished submission: %v\n%s", err, errs)
		}
		empty := append(append([]string{"slurm", "bench", "--resume"}, slurmSuite...), "--shards", "4", "--report", t.TempDir(), "--evomerge", bin)
		if _, _, err := runArgs(t, empty...); err == nil || !strings.Contains(err.Error(), "holds no submission") {
			t.Errorf("--resume of an empty folder: %v", err)
		}
	})

	t.Run("a cancelled shard is resubmitted and resumes its journal", func(t *testing.T) {
		// The shard to cancel: one with a quick run, recorded first, and
		// a tpe run still to come.
		byShard := map[int][]string{}
		for _, r := range one {
			i := bench.ShardOf(r.RunKey(), 4)
			byShard[i] = append(byShard[i], r.Algorithm)
		}
		victim := -1
		for i := range 4 {
			algs := byShard[i]
			if slices.Contains(algs, "tpe") && slices.ContainsFunc(algs, func(a string) bool { return a != "tpe" }) {
				victim = i
				break
			}
		}
		if victim < 0 {
			t.Fatalf("no shard holds a tpe run and another: %v", byShard)
		}
		report := filepath.Join(t.TempDir(), "report")
		args := append(append([]string{}, slurmSuite...), "--shards", "4", "--report", report, "--evomerge", bin)
		out, errs, err := runArgs(t, append([]string{"slurm", "bench", "--no-wait"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, errs)
		}
		id := strings.Fields(out)[0]
		if !strings.Contains(out, "--resume") {
			t.Errorf("--no-wait does not say how to build the report later:\n%s", out)
		}
		shardJournal := filepath.Join(report, "shards", "shard-"+strconv.Itoa(victim)+".jsonl")
		recorded := func() int {
			rs, _ := bench.ReadRuns(shardJournal)
			return len(rs)
		}
		// A guard against a hang, not a timing assertion.
		for deadline := time.Now().Add(3 * time.Minute); recorded() == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("shard %d recorded nothing in 3 minutes", victim)
			}
		}
		task := id + "_" + strconv.Itoa(victim)
		if err := slurm.Cancel(t.Context(), task); err != nil {
			t.Fatal(err)
		}
		for {
			ts, err := slurm.Queue(t.Context(), task)
			if err != nil {
				t.Fatal(err)
			}
			if !slurm.Active(ts) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		n := recorded()
		if n >= len(byShard[victim]) {
			t.Fatalf("shard %d had recorded all its %d runs before scancel took effect: nothing was left to resume", victim, n)
		}
		_, errs, err = runArgs(t, append([]string{"slurm", "bench", "--resume"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, errs)
		}
		if !strings.Contains(errs, "resubmitted job") || !strings.Contains(errs, "shards "+strconv.Itoa(victim)+" of 4") {
			t.Errorf("the resumed command did not say it resubmitted shard %d:\n%s", victim, errs)
		}
		log, _ := os.ReadFile(filepath.Join(report, "shards", "shard-"+strconv.Itoa(victim)+".log"))
		if !strings.Contains(string(log), "resuming "+shardJournal+": "+strconv.Itoa(n)+" runs already recorded") {
			t.Errorf("the resubmitted task did not resume the %d runs its journal held:\n%s", n, log)
		}
		samePages(t, onePage(t, journal, "evomerge slurm bench --resume "+strings.Join(args, " ")), pageFiles(t, report))
	})

	t.Run("a refused submission names sbatch's reason", func(t *testing.T) {
		report := filepath.Join(t.TempDir(), "report")
		_, _, err := runArgs(t, append(append([]string{"slurm", "bench"}, slurmSuite...), "--shards", "2", "--report", report,
			"--evomerge", bin, "--sbatch-arg=--partition=no-such-partition")...)
		if err == nil || !strings.Contains(err.Error(), "submitting shards 0-1") || !strings.Contains(err.Error(), "partition") {
			t.Errorf("error %v, want one saying the submission was refused and why", err)
		}
	})

	t.Run("a shard that keeps failing ends with its log", func(t *testing.T) {
		report := filepath.Join(t.TempDir(), "report")
		failing := filepath.Join(t.TempDir(), "evomerge-broken")
		os.WriteFile(failing, []byte("#!/bin/sh\necho 'cannot start: broken install' >&2\nexit 3\n"), 0o755)
		_, _, err := runArgs(t, "slurm", "bench", "--algs", "random", "--seeds", "2", "--budget", "50", "--shards", "1",
			"--report", report, "--evomerge", failing, "--resubmit", "1")
		if err == nil || !strings.Contains(err.Error(), "still lack runs after 2 submissions") ||
			!strings.Contains(err.Error(), "cannot start: broken install") || !strings.Contains(err.Error(), "--resume") {
			t.Errorf("error %v, want one naming the shard, its log's last lines and how to continue", err)
		}
	})
}

// TestSlurmBenchWithoutSlurm: without sbatch the command fails at once,
// saying so, and writes nothing.
func TestSlurmBenchWithoutSlurm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	report := filepath.Join(t.TempDir(), "report")
	_, _, err := runArgs(t, "slurm", "bench", "--algs", "random", "--seeds", "2", "--shards", "2", "--report", report)
	if err == nil || !strings.Contains(err.Error(), "sbatch not found on PATH") {
		t.Errorf("error %v, want one saying sbatch is missing", err)
	}
	if _, err := os.Stat(report); err == nil {
		t.Errorf("%s was written", report)
	}
}

// TestSlurmBenchFlagErrors: bad flags are refused before anything is
// submitted, naming the flag.
func TestSlurmBenchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"slurm"}, "name what to run"},
		{[]string{"slurm", "evolve"}, `unknown command "evolve"`},
		{[]string{"slurm", "bench", "--report", report}, "--shards 0"},
		{[]string{"slurm", "bench", "--shards", "2"}, "--report DIR is required"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--journal", "j"}, "--journal and --shard are set by slurm bench"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--sbatch-arg=--array=0-9"}, "slurm bench sets --array itself"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--sbatch-arg", "-o/tmp/x"}, "slurm bench sets -o itself"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--resubmit", "-1"}, "--resubmit -1"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "extra"}, `unexpected argument "extra"`},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--algs", "random,nosuch"}, "nosuch"},
		{[]string{"slurm", "bench", "--shards", "2", "--report", report, "--list-scenarios"}, "runs nothing"},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}

func TestArrayIndices(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{2}, "2"},
		{[]int{5, 1, 4, 0}, "0-1,4-5"},
		{[]int{0, 2, 4}, "0,2,4"},
	} {
		if got := indices(c.in); got != c.want {
			t.Errorf("%v: %q, want %q", c.in, got, c.want)
		}
	}
}

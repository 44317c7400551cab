package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// Command is how a merged model is scored.
type Command struct {
	// Args is the argument vector, run without a shell. Placeholders:
	// {model} the merged model folder, {output} a fresh folder for the
	// evaluator's results, {slot} the device slot (e.g. a GPU index),
	// {index} the evaluation number.
	Args []string `yaml:"command"`
	// Timeout bounds one attempt (0: no bound).
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a failed attempt is repeated.
	Retries int `yaml:"retries"`
	// Score says where the score is read: "stdout" (the last number the
	// command prints) or "json:PATH", a dotted path into a JSON file of
	// {output} (the newest *.json below it, as lm-evaluation-harness writes
	// results_<time>.json in a subfolder), e.g.
	// json:results.gsm8k.exact_match,strict-match.
	Score string `yaml:"score"`
	// Env adds KEY=VALUE entries to the environment; {slot} is expanded
	// (e.g. CUDA_VISIBLE_DEVICES={slot}).
	Env []string `yaml:"env"`
	// Tasks, instead of Score, reads several scores from the one JSON file
	// the command writes (lm-evaluation-harness's results_<time>.json for
	// a list of tasks): a multi-objective run sees each as a task, a
	// single-objective one their weighted sum. Each task's score is
	// json:PATH, higher is better.
	Tasks []TaskScore `yaml:"tasks,omitempty"`
}

// TaskScore names one task and where its score is read.
type TaskScore struct {
	Name  string `yaml:"name"`
	Score string `yaml:"score"`
}

// Validate reports an unusable command.
func (c *Command) Validate() error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return fmt.Errorf("evaluator: empty command")
	}
	if c.Timeout < 0 || c.Retries < 0 {
		return fmt.Errorf("evaluator: timeout and retries must not be negative")
	}
	if _, err := parseScoreSpec(c.Score); err != nil {
		return err
	}
	if len(c.Tasks) > 0 {
		if c.Score != "" {
			return fmt.Errorf("evaluator: score and tasks are both set: give each task's score path under tasks, or one score")
		}
		if len(c.Tasks) < 2 {
			return fmt.Errorf("evaluator: tasks lists %d task: a single score is score: json:PATH", len(c.Tasks))
		}
		seen := map[string]bool{}
		for i, t := range c.Tasks {
			if err := objectives.CheckTaskName(t.Name); err != nil {
				return fmt.Errorf("evaluator: task %d: %v", i+1, err)
			}
			if seen[t.Name] {
				return fmt.Errorf("evaluator: task %s is listed twice", t.Name)
			}
			seen[t.Name] = true
			spec, err := parseScoreSpec(t.Score)
			if err != nil {
				return fmt.Errorf("evaluator: task %s: %v", t.Name, err)
			}
			if spec.stdout {
				return fmt.Errorf("evaluator: task %s: score %q: several tasks are read from one JSON file, so each needs json:PATH", t.Name, t.Score)
			}
		}
	}
	return nil
}

// TaskNames lists the tasks of a command with several scores (nil for one).
func (c *Command) TaskNames() []string {
	var n []string
	for _, t := range c.Tasks {
		n = append(n, t.Name)
	}
	return n
}

type scoreSpec struct {
	stdout bool
	path   []string
}

func parseScoreSpec(s string) (scoreSpec, error) {
	switch {
	case s == "stdout" || s == "":
		return scoreSpec{stdout: true}, nil
	case strings.HasPrefix(s, "json:"):
		p := strings.TrimPrefix(s, "json:")
		parts := strings.Split(p, ".")
		for _, k := range parts {
			if k == "" {
				return scoreSpec{}, fmt.Errorf("evaluator: score path %q has an empty key", p)
			}
		}
		return scoreSpec{path: parts}, nil
	}
	return scoreSpec{}, fmt.Errorf("evaluator: score %q: want stdout or json:PATH", s)
}

// Evaluator merges and scores candidates; it is safe for concurrent use,
// one evaluation per device slot.
type Evaluator struct {
	Genome  Genome
	Command Command
	// WorkDir holds the temporary folders (default os.TempDir()); put it
	// on a disk with room for a few merged models.
	WorkDir string
	// Seed drives the random merge methods (DARE, DELLA).
	Seed uint64
	// Keep leaves each evaluation's folder in place for debugging.
	Keep bool
	// Tag names this run's temporary folders (evomerge-eval-TAG-INDEX-*),
	// so a resumed run can remove what a killed one left (RemoveStale).
	Tag string
}

// RemoveStale deletes the temporary folders of this run (same Tag) that a
// killed process left in WorkDir; it returns how many it removed.
func (e *Evaluator) RemoveStale() (int, error) {
	dir := e.WorkDir
	if dir == "" {
		dir = os.TempDir()
	}
	matches, err := filepath.Glob(filepath.Join(dir, "evomerge-eval-"+e.Tag+"-*"))
	if err != nil {
		return 0, err
	}
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			return 0, err
		}
	}
	return len(matches), nil
}

// CheckInputs verifies what a run needs before spending its budget: every
// model folder exists and the evaluator command can be found.
func (e *Evaluator) CheckInputs() error {
	models := append([]string{}, e.Genome.Models...)
	if e.Genome.BaseModel != "" {
		models = append(models, e.Genome.BaseModel)
	}
	for _, m := range models {
		if st, err := os.Stat(m); err != nil || !st.IsDir() {
			return fmt.Errorf("model folder %s: not found", m)
		}
	}
	if _, err := exec.LookPath(e.Command.Args[0]); err != nil {
		return fmt.Errorf("evaluator command %q: %v", e.Command.Args[0], err)
	}
	if e.WorkDir != "" {
		if st, err := os.Stat(e.WorkDir); err != nil || !st.IsDir() {
			return fmt.Errorf("workdir %s: not a folder", e.WorkDir)
		}
	}
	return nil
}

// Validate reports an unusable evaluator.
func (e *Evaluator) Validate() error {
	if err := e.Genome.Validate(); err != nil {
		return err
	}
	return e.Command.Validate()
}

// Evaluate merges candidate x, runs the evaluator on slot and returns the
// score. A merge or evaluator failure returns an error wrapping
// objectives.ErrEvalFailed (the run goes on and penalises the candidate);
// a cancelled context returns ctx.Err().
func (e *Evaluator) Evaluate(ctx context.Context, x []float64, slot string, index int) (float64, error) {
	if len(e.Command.Tasks) > 0 {
		return 0, fmt.Errorf("evaluator: the command scores %d tasks: use EvaluateTasks", len(e.Command.Tasks))
	}
	s, err := e.evaluate(ctx, x, slot, index)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

// EvaluateTasks is Evaluate for a command with several tasks: every task's
// score, in the order of Command.Tasks, read from one JSON file of one
// run of the command.
func (e *Evaluator) EvaluateTasks(ctx context.Context, x []float64, slot string, index int) ([]float64, error) {
	if len(e.Command.Tasks) == 0 {
		return nil, fmt.Errorf("evaluator: the command has no tasks: use Evaluate")
	}
	return e.evaluate(ctx, x, slot, index)
}

func (e *Evaluator) evaluate(ctx context.Context, x []float64, slot string, index int) ([]float64, error) {
	recipe, err := e.Genome.Recipe(x)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.WorkDir, fmt.Sprintf("evomerge-eval-%s-%d-*", e.Tag, index))
	if err != nil {
		return nil, fmt.Errorf("evaluation %d: %w", index, err)
	}
	if !e.Keep {
		defer os.RemoveAll(dir)
	}
	recipePath := filepath.Join(dir, "recipe.yml")
	if err := os.WriteFile(recipePath, []byte(recipe.YAML()), 0o644); err != nil {
		return nil, fmt.Errorf("evaluation %d: %w", index, err)
	}
	modelDir := filepath.Join(dir, "model")
	if err := merge.Run(ctx, merge.RunOptions{Recipe: recipePath, OutDir: modelDir, Seed: e.Seed + uint64(index)}); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("evaluation %d: merge failed: %v: %w", index, err, objectives.ErrEvalFailed)
	}
	var lastErr error
	for attempt := 0; attempt <= e.Command.Retries; attempt++ {
		outDir := filepath.Join(dir, fmt.Sprintf("output-%d", attempt))
		if err := os.Mkdir(outDir, 0o755); err != nil {
			return nil, fmt.Errorf("evaluation %d: %w", index, err)
		}
		score, err := e.runOnce(ctx, modelDir, outDir, slot, index)
		if err == nil {
			return score, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
	}
	return nil, fmt.Errorf("evaluation %d on slot %s: %v (after %d attempts): %w", index, slot, lastErr, e.Command.Retries+1, objectives.ErrEvalFailed)
}

func (e *Evaluator) runOnce(ctx context.Context, modelDir, outDir, slot string, index int) ([]float64, error) {
	expand := strings.NewReplacer("{model}", modelDir, "{output}", outDir, "{slot}", slot, "{index}", strconv.Itoa(index))
	args := make([]string, len(e.Command.Args))
	for i, a := range e.Command.Args {
		args[i] = expand.Replace(a)
	}
	rctx := ctx
	if e.Command.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, e.Command.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(rctx, args[0], args[1:]...)
	// Its own process group, so a timeout kills the evaluator's children
	// (lm_eval's workers, srun's step) too, not only the first process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = os.Environ()
	for _, kv := range e.Command.Env {
		cmd.Env = append(cmd.Env, expand.Replace(kv))
	}
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 1<<20, 1<<16
	err := runKillingGroup(cmd, &stdout, &stderr)
	if rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return nil, fmt.Errorf("evaluator timed out after %v", e.Command.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluator %s: %v; stderr: %s", args[0], err, tail(stderr.String(), 400))
	}
	spec, _ := parseScoreSpec(e.Command.Score)
	if spec.stdout && len(e.Command.Tasks) == 0 {
		v, err := ScoreFromStdout(stdout.Bytes())
		if err != nil {
			return nil, err
		}
		return []float64{v}, nil
	}
	file, err := newestJSON(outDir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(e.Command.Tasks) > 0 {
		paths := make([][]string, len(e.Command.Tasks))
		for i, t := range e.Command.Tasks {
			ts, _ := parseScoreSpec(t.Score)
			paths[i] = ts.path
		}
		return ScoresFromJSON(data, paths)
	}
	v, err := ScoreFromJSON(data, spec.path)
	if err != nil {
		return nil, err
	}
	return []float64{v}, nil
}

// runKillingGroup runs cmd with its output collected into stdout and
// stderr. When the evaluator exits, whatever it left running in its
// process group (a backgrounded server, a forgotten `sleep &`) is killed,
// and the score it printed is kept. With exec's own output pipes, Run
// would wait for those children, which hold the pipes open, until
// WaitDelay and then discard a valid score ("WaitDelay expired"), leaving
// the children orphaned; with pipes made here, the wait ends with the
// evaluator and the kill closes the children's ends.
func runKillingGroup(cmd *exec.Cmd, stdout, stderr *limitedBuffer) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	defer outR.Close()
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	var wg sync.WaitGroup
	for _, p := range []struct {
		r *os.File
		b *limitedBuffer
	}{{outR, stdout}, {errR, stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(p.b, p.r)
		}()
	}
	err = cmd.Start()
	// The evaluator has its own copies now (or never started): close ours
	// so the readers see the end once the evaluator's group is gone.
	outW.Close()
	errW.Close()
	if err == nil {
		err = waitKillGroup(cmd)
	}
	// A child that left the group (setsid) may still hold a pipe: give the
	// readers the same grace as exec's WaitDelay, then stop reading.
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(cmd.WaitDelay)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		outR.Close()
		errR.Close()
		<-done
	}
	return err
}

// ScoreFromStdout returns the last number printed (the last field of the
// last non-empty line), the convention of simple evaluator scripts.
func ScoreFromStdout(out []byte) (float64, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("evaluator printed %q last, not a finite number", tail(lines[i], 80))
		}
		return v, nil
	}
	return 0, errors.New("evaluator printed no score")
}

// ScoreFromJSON follows a path of object keys into a JSON document and
// returns the number there.
func ScoreFromJSON(data []byte, path []string) (float64, error) {
	doc, err := decodeScores(data)
	if err != nil {
		return 0, err
	}
	return scoreAt(doc, path)
}

// ScoresFromJSON reads one number per path from one JSON document (the
// tasks of one lm-evaluation-harness results file).
func ScoresFromJSON(data []byte, paths [][]string) ([]float64, error) {
	doc, err := decodeScores(data)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(paths))
	for i, p := range paths {
		if out[i], err = scoreAt(doc, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeScores(data []byte) (any, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("score file is not JSON: %v", err)
	}
	return doc, nil
}

// scoreAt follows path into a decoded document.
func scoreAt(doc any, path []string) (float64, error) {
	cur := doc
	for i, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("score path %s: %s is not an object", strings.Join(path, "."), strings.Join(path[:i], "."))
		}
		next, ok := m[k]
		if !ok {
			keys := make([]string, 0, len(m))
			for kk := range m {
				keys = append(keys, kk)
			}
			sort.Strings(keys)
			if len(keys) > 12 {
				keys = append(keys[:12], "…")
			}
			return 0, fmt.Errorf("score path %s: no key %q (have %s)", strings.Join(path, "."), k, strings.Join(keys, ", "))
		}
		cur = next
	}
	n, ok := cur.(json.Number)
	if !ok {
		return 0, fmt.Errorf("score path %s: not a number", strings.Join(path, "."))
	}
	v, err := n.Float64()
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("score path %s: %q is not a finite number", strings.Join(path, "."), n)
	}
	return v, nil
}

// newestJSON finds the most recently written .json file below dir.
func newestJSON(dir string) (string, error) {
	var best string
	var bestTime time.Time
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if best == "" || info.ModTime().After(bestTime) || (info.ModTime().Equal(bestTime) && p > best) {
			best, bestTime = p, info.ModTime()
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if best == "" {
		return "", fmt.Errorf("evaluator wrote no .json file in its output folder")
	}
	return best, nil
}

// limitedBuffer keeps at most max bytes (the tail is what matters for
// errors; a score printed last is kept whole up to 1 MiB of output).
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.Buffer.Write(p)
	if over := b.Buffer.Len() - b.max; over > 0 {
		rest := append([]byte(nil), b.Buffer.Bytes()[over:]...)
		b.Buffer.Reset()
		b.Buffer.Write(rest)
	}
	return n, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

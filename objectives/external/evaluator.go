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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evomerge/evomerge/internal/slurm"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// Command is how a merged model is scored.
type Command struct {
	// Args is the argument vector, run without a shell. Placeholders:
	// {model} the merged model folder, {output} a fresh folder for the
	// evaluator's results, {slot} the device slot (e.g. a GPU index),
	// {index} the evaluation number; {limit}, the number of benchmark
	// items to score (lm-eval's --limit), and {offset}, the first of them,
	// for a run with an item budget (see Items).
	Args []string `yaml:"command"`
	// Items is the number of items of a full evaluation: the {limit} of
	// a candidate scored on all of them. A command with {limit} needs it;
	// its items are one fixed ordered list (lm-eval --limit n scores a
	// task's first n documents), and without {offset} only prefixes of it
	// can be scored, so raising a candidate from n to m items costs m.
	Items int `yaml:"items,omitempty"`
	// PerItem, "GLOB:FIELD", reads each item's score from the JSON-lines
	// files matching GLOB below {output}, one object per item with its
	// "doc_id" and FIELD (a number or a boolean): lm-eval's --log_samples
	// writes samples_TASK_DATE.jsonl files whose objects carry each metric
	// as a key, e.g. samples_*.jsonl:acc. They must hold exactly the
	// items scored (one task per command: lm-eval's --limit is per task).
	PerItem string `yaml:"per_item,omitempty"`
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
	// Merge, if set, builds the merged model instead of the native engine,
	// with mergekit's own code and its GPU merging: e.g. [mergekit-yaml,
	// "{recipe}", "{model}", --cuda]. It
	// runs like Args (no shell, its own process group, Timeout, Retries
	// and Env) with {recipe} the candidate's recipe file (what best.yml
	// would hold), {model} the folder to create, {seed} the merge's seed
	// (for mergekit's --random-seed), {slot} and {index}.
	Merge []string `yaml:"merge_command,omitempty"`
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
	if err := c.validateTasks(); err != nil {
		return err
	}
	limit, offset := c.uses("{limit}"), c.uses("{offset}")
	switch {
	case c.Items < 0:
		return fmt.Errorf("evaluator: items %d must not be negative", c.Items)
	case limit && c.Items == 0:
		return fmt.Errorf("evaluator: the command takes {limit}: give items, the number of items of a full evaluation (its {limit} then)")
	case !limit && c.Items > 0:
		return fmt.Errorf("evaluator: items %d given, but the command has no {limit} placeholder to pass a number of items", c.Items)
	case offset && !limit:
		return fmt.Errorf("evaluator: the command takes {offset} but not {limit}")
	}
	if c.PerItem != "" {
		if !limit {
			return fmt.Errorf("evaluator: per_item needs a command scored on items ({limit})")
		}
		if _, _, err := parsePerItem(c.PerItem); err != nil {
			return err
		}
		if len(c.Tasks) > 0 {
			return fmt.Errorf("evaluator: per_item reads the items of one task, but tasks lists %d: leave per_item out (each task's score is read from the results file), or score one task", len(c.Tasks))
		}
	}
	if c.Merge != nil {
		if len(c.Merge) == 0 || c.Merge[0] == "" {
			return fmt.Errorf("merge_command: empty command (leave it out to merge with the native engine)")
		}
		all := strings.Join(c.Merge, " ")
		for _, p := range []struct{ name, why string }{
			{"{recipe}", "the recipe file evomerge writes for the candidate"},
			{"{model}", "the folder the merged model must be written to, which the evaluator then scores"},
		} {
			if !strings.Contains(all, p.name) {
				return fmt.Errorf("merge_command %q names no %s: %s", c.Merge, p.name, p.why)
			}
		}
		if strings.Contains(all, "{output}") {
			return fmt.Errorf("merge_command %q names {output}: that is the evaluator's results folder, made after the merge", c.Merge)
		}
	}
	return nil
}

// validateTasks checks the tasks list: names, no duplicate, each a
// json:PATH into the one results file, and no score beside it.
func (c *Command) validateTasks() error {
	if len(c.Tasks) == 0 {
		return nil
	}
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

// scorePaths is where each score is read in the results JSON: every
// task's path, or the one score's; nil for a score printed on stdout.
func (c *Command) scorePaths() [][]string {
	if len(c.Tasks) > 0 {
		paths := make([][]string, len(c.Tasks))
		for i, t := range c.Tasks {
			ts, _ := parseScoreSpec(t.Score)
			paths[i] = ts.path
		}
		return paths
	}
	if spec, _ := parseScoreSpec(c.Score); !spec.stdout {
		return [][]string{spec.path}
	}
	return nil
}

// uses reports whether a placeholder appears in the command.
func (c *Command) uses(placeholder string) bool {
	for _, a := range c.Args {
		if strings.Contains(a, placeholder) {
			return true
		}
	}
	return false
}

// ItemList is the evaluator's item list: Items items, fixed, prefixes only
// without {offset}; N is 0 for a command without {limit}.
func (c *Command) ItemList() objectives.ItemList {
	if !c.uses("{limit}") {
		return objectives.ItemList{}
	}
	return objectives.ItemList{N: c.Items, Fixed: true, PrefixOnly: !c.uses("{offset}")}
}

// parsePerItem reads "GLOB:FIELD".
func parsePerItem(s string) (glob, field string, err error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return "", "", fmt.Errorf("evaluator: per_item %q: want GLOB:FIELD, e.g. samples_*.jsonl:acc", s)
	}
	glob, field = s[:i], s[i+1:]
	if _, err := filepath.Match(glob, ""); err != nil {
		return "", "", fmt.Errorf("evaluator: per_item %q: bad pattern: %v", s, err)
	}
	return glob, field, nil
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
	// Slurm, if set, runs the command of each evaluation as a Slurm batch
	// job (SlurmBackend); the merge still runs here.
	Slurm *SlurmBackend
}

// RemoveStale deletes the temporary folders of this run (same Tag) that a
// killed process left in WorkDir, but those of keep (the folders of the
// jobs a resumed run adopts); it returns how many it removed.
func (e *Evaluator) RemoveStale(keep ...string) (int, error) {
	dir := e.WorkDir
	if dir == "" {
		dir = os.TempDir()
	}
	matches, err := filepath.Glob(filepath.Join(dir, "evomerge-eval-"+e.Tag+"-*"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range matches {
		if slices.ContainsFunc(keep, func(k string) bool { return filepath.Clean(k) == m }) {
			continue
		}
		if err := os.RemoveAll(m); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
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
	if e.Slurm != nil {
		// The command runs on the nodes, whose PATH may differ: only
		// Slurm's commands must be found here.
		if err := slurm.Available(); err != nil {
			return fmt.Errorf("backend slurm: %v", err)
		}
	} else if _, err := exec.LookPath(e.Command.Args[0]); err != nil {
		return fmt.Errorf("evaluator command %q: %v", e.Command.Args[0], err)
	}
	// The merge runs here on either backend.
	if m := e.Command.Merge; len(m) > 0 {
		if _, err := exec.LookPath(m[0]); err != nil {
			return fmt.Errorf("merge_command %q: %v", m[0], err)
		}
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
	if err := e.Command.Validate(); err != nil {
		return err
	}
	if m := e.Command.Merge; m != nil && merge.RandomMethod(e.Genome.Method) && !strings.Contains(strings.Join(m, " "), "{seed}") {
		return fmt.Errorf("merge_command %q: method %s draws random masks, and a merge must be reproducible from the run's seed: pass {seed} (mergekit-yaml: --random-seed \"{seed}\")", m, e.Genome.Method)
	}
	if e.Slurm != nil {
		if e.Command.ItemList().N > 0 || e.Command.PerItem != "" {
			return fmt.Errorf("backend slurm: {limit}, {offset} and per_item (items as a fidelity) are not supported on Slurm jobs yet: score every item, or use the local backend")
		}
		return e.Slurm.Validate(&e.Command)
	}
	return nil
}

// Evaluate merges candidate x, runs the evaluator on slot and returns the
// score. A merge or evaluator failure returns an error wrapping
// objectives.ErrEvalFailed (the run goes on and penalises the candidate);
// a cancelled context returns ctx.Err(). A command with {limit} scores
// every item. On the slurm backend the evaluator runs as a Slurm job, and
// an evaluation whose job a killed process left (SlurmBackend.Adopt) waits
// for that job.
func (e *Evaluator) Evaluate(ctx context.Context, x []float64, slot string, index int) (float64, error) {
	v, _, err := e.EvaluateItems(ctx, x, slot, index, 0, e.Command.ItemList().N)
	return v, err
}

// EvaluateItems is Evaluate on n items from item from ({limit} n,
// {offset} from), with each item's score when PerItem says where to read
// them. n is 0 for a command without {limit}.
func (e *Evaluator) EvaluateItems(ctx context.Context, x []float64, slot string, index, from, n int) (float64, []float64, error) {
	if len(e.Command.Tasks) > 0 {
		return 0, nil, fmt.Errorf("evaluator: the command scores %d tasks: use EvaluateTasks", len(e.Command.Tasks))
	}
	s, per, err := e.evaluate(ctx, x, slot, index, from, n)
	if err != nil {
		return 0, nil, err
	}
	return s[0], per, nil
}

// EvaluateTasks is Evaluate for a command with several tasks: every task's
// score, in the order of Command.Tasks, read from one JSON file of one
// run of the command. A command with {limit} scores every item of each
// task.
func (e *Evaluator) EvaluateTasks(ctx context.Context, x []float64, slot string, index int) ([]float64, error) {
	return e.EvaluateTasksItems(ctx, x, slot, index, 0, e.Command.ItemList().N)
}

// EvaluateTasksItems is EvaluateTasks on n items of each task from item
// from ({limit} n, {offset} from: lm-eval's --limit is per task).
func (e *Evaluator) EvaluateTasksItems(ctx context.Context, x []float64, slot string, index, from, n int) ([]float64, error) {
	if len(e.Command.Tasks) == 0 {
		return nil, fmt.Errorf("evaluator: the command has no tasks: use Evaluate")
	}
	s, _, err := e.evaluate(ctx, x, slot, index, from, n)
	return s, err
}

// evaluate merges x and runs the command on n items from item from: the
// scores (one, or one per task) and the per-item scores of per_item.
func (e *Evaluator) evaluate(ctx context.Context, x []float64, slot string, index, from, n int) ([]float64, []float64, error) {
	l := e.Command.ItemList()
	if l.N > 0 {
		if err := objectives.CheckItemRange(l, from, n); err != nil {
			return nil, nil, fmt.Errorf("evaluation %d: %w", index, err)
		}
	} else if n != 0 {
		return nil, nil, fmt.Errorf("evaluation %d: the command has no {limit}: it cannot score %d items", index, n)
	}
	recipe, err := e.Genome.Recipe(x)
	if err != nil {
		return nil, nil, err
	}
	if e.Slurm != nil {
		if j, ok := e.Slurm.take(index, x); ok {
			if !e.Keep {
				defer os.RemoveAll(j.Dir)
			}
			v, err := e.evaluateSlurm(ctx, j.Dir, filepath.Join(j.Dir, "model"), slot, index, x, &j)
			return v, nil, err
		}
	}
	dir, err := os.MkdirTemp(e.WorkDir, fmt.Sprintf("evomerge-eval-%s-%d-*", e.Tag, index))
	if err != nil {
		return nil, nil, fmt.Errorf("evaluation %d: %w", index, err)
	}
	if !e.Keep {
		defer os.RemoveAll(dir)
	}
	recipePath := filepath.Join(dir, "recipe.yml")
	if err := os.WriteFile(recipePath, []byte(recipe.YAML()), 0o644); err != nil {
		return nil, nil, fmt.Errorf("evaluation %d: %w", index, err)
	}
	modelDir := filepath.Join(dir, "model")
	if err := e.Build(ctx, recipePath, modelDir, slot, index, e.Seed+uint64(index)); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("evaluation %d: %w", index, err)
	}
	if e.Slurm != nil {
		// Per-item scores and item ranges are not passed to Slurm jobs
		// (Validate refuses {limit} and per_item with the slurm backend).
		v, err := e.evaluateSlurm(ctx, dir, modelDir, slot, index, x, nil)
		return v, nil, err
	}
	var lastErr error
	for attempt := 0; attempt <= e.Command.Retries; attempt++ {
		outDir := filepath.Join(dir, fmt.Sprintf("output-%d", attempt))
		if err := os.Mkdir(outDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("evaluation %d: %w", index, err)
		}
		score, per, err := e.runOnce(ctx, modelDir, outDir, slot, index, from, n)
		if err == nil {
			return score, per, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		lastErr = err
	}
	return nil, nil, fmt.Errorf("evaluation %d on slot %s: %v (after %d attempts): %w", index, slot, lastErr, e.Command.Retries+1, objectives.ErrEvalFailed)
}

// Build writes the merged model of the recipe file to modelDir: with the
// native engine, or by running the merge command (Command.Merge), retried
// like the evaluator. On the slurm backend it too runs here, on the
// submitting machine, before the job is submitted. A failed merge returns
// an error wrapping objectives.ErrEvalFailed; a cancelled context,
// ctx.Err().
func (e *Evaluator) Build(ctx context.Context, recipePath, modelDir, slot string, index int, seed uint64) error {
	if len(e.Command.Merge) == 0 {
		if err := merge.Run(ctx, merge.RunOptions{Recipe: recipePath, OutDir: modelDir, Seed: seed}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("merge failed: %v: %w", err, objectives.ErrEvalFailed)
		}
		return nil
	}
	expand := strings.NewReplacer("{recipe}", recipePath, "{model}", modelDir, "{seed}", strconv.FormatUint(seed, 10),
		"{slot}", slot, "{index}", strconv.Itoa(index))
	var lastErr error
	for attempt := 0; attempt <= e.Command.Retries; attempt++ {
		// What a failed attempt left of a model is not the next one's.
		if err := os.RemoveAll(modelDir); err != nil {
			return err
		}
		_, err := e.runProcess(ctx, "merge command", e.Command.Merge, expand)
		if err == nil {
			st, serr := os.Stat(modelDir)
			if serr == nil && st.IsDir() {
				return nil
			}
			err = fmt.Errorf("merge command %s exited 0 but wrote no model folder %s", e.Command.Merge[0], modelDir)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
	}
	return fmt.Errorf("merge failed on slot %s: %v (after %d attempts): %w", slot, lastErr, e.Command.Retries+1, objectives.ErrEvalFailed)
}

// runOnce runs the command once and reads its scores: one, or one per
// task (all from the same JSON file), and the per-item scores.
func (e *Evaluator) runOnce(ctx context.Context, modelDir, outDir, slot string, index, from, n int) ([]float64, []float64, error) {
	expand := strings.NewReplacer("{model}", modelDir, "{output}", outDir, "{slot}", slot, "{index}", strconv.Itoa(index),
		"{limit}", strconv.Itoa(n), "{offset}", strconv.Itoa(from))
	out, err := e.runProcess(ctx, "evaluator", e.Command.Args, expand)
	if err != nil {
		return nil, nil, err
	}
	var scores []float64
	if paths := e.Command.scorePaths(); paths != nil {
		scores, err = scoresFromJSONIn(outDir, paths)
	} else {
		var v float64
		v, err = ScoreFromStdout(out)
		scores = []float64{v}
	}
	if err != nil {
		return nil, nil, err
	}
	if e.Command.PerItem == "" {
		return scores, nil, nil
	}
	per, err := readPerItem(outDir, e.Command.PerItem, n)
	return scores, per, err
}

// readScores reads the scores of a finished job: from its stdout file, or
// from the newest JSON file below outDir (every task's, for tasks).
func (e *Evaluator) readScores(stdoutPath, outDir string) ([]float64, error) {
	if paths := e.Command.scorePaths(); paths != nil {
		return scoresFromJSONIn(outDir, paths)
	}
	f, err := os.Open(stdoutPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The last MiB holds the last number printed, as for a local command.
	if st, err := f.Stat(); err == nil && st.Size() > 1<<20 {
		f.Seek(st.Size()-1<<20, io.SeekStart)
	}
	out, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	v, err := ScoreFromStdout(out)
	if err != nil {
		return nil, err
	}
	return []float64{v}, nil
}

// scoresFromJSONIn reads one number per path from the newest JSON file
// below outDir.
func scoresFromJSONIn(outDir string, paths [][]string) ([]float64, error) {
	file, err := newestJSON(outDir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ScoresFromJSON(data, paths)
}

// readPerItem reads the per-item scores PerItem names from below dir:
// every matching file's items, in file-name then doc_id order, which must
// number n.
func readPerItem(dir, perItem string, n int) ([]float64, error) {
	glob, field, err := parsePerItem(perItem)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(glob, d.Name()); ok && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("per_item: no file matching %s below the output folder (does the command log samples there?)", glob)
	}
	sort.Strings(files)
	var out []float64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		items, err := ParseSamples(data, field)
		if err != nil {
			return nil, fmt.Errorf("per_item %s: %v", filepath.Base(f), err)
		}
		for _, it := range items {
			out = append(out, it.Score)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("per_item: %d items in %d files, but %d were scored (one task per command: lm-eval's --limit is per task)", len(out), len(files), n)
	}
	return out, nil
}

// Sample is one item's score read from a samples file.
type Sample struct {
	DocID int
	Score float64
}

// ParseSamples reads a JSON-lines samples file (lm-eval's --log_samples):
// every non-empty line an object with an integer "doc_id" and field, a
// finite number or a boolean. Items are returned in doc_id order; a
// doc_id given twice is an error.
func ParseSamples(data []byte, field string) ([]Sample, error) {
	var out []Sample
	seen := map[int]bool{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %v", i+1, err)
		}
		var id int
		if err := json.Unmarshal(obj["doc_id"], &id); err != nil || obj["doc_id"] == nil {
			return nil, fmt.Errorf("line %d: no integer doc_id", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("line %d: doc_id %d given twice", i+1, id)
		}
		seen[id] = true
		raw, ok := obj[field]
		if !ok {
			return nil, fmt.Errorf("line %d: no field %q", i+1, field)
		}
		var v float64
		var b bool
		switch {
		case json.Unmarshal(raw, &v) == nil:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d: %s is not finite", i+1, field)
			}
		case json.Unmarshal(raw, &b) == nil:
			if b {
				v = 1
			}
		default:
			return nil, fmt.Errorf("line %d: %s is %s, not a number or a boolean", i+1, field, tail(string(raw), 40))
		}
		out = append(out, Sample{DocID: id, Score: v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].DocID < out[b].DocID })
	return out, nil
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

// runProcess runs argv with its placeholders replaced by expand, without
// a shell, in its own process group (a timeout or cancellation kills its
// children too), with the command's timeout and environment, and returns
// its standard output. what names it in errors ("evaluator", "merge
// command").
func (e *Evaluator) runProcess(ctx context.Context, what string, argv []string, expand *strings.Replacer) ([]byte, error) {
	args := make([]string, len(argv))
	for i, a := range argv {
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
		return nil, fmt.Errorf("%s timed out after %v", what, e.Command.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v; stderr: %s", what, args[0], err, tail(stderr.String(), 400))
	}
	return stdout.Bytes(), nil
}

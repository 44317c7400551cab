package external

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/mergekitcheck"
	"github.com/evomerge/evomerge/internal/toymodel"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/merge"
)

// standInMerge is the merge_command of the tests: mergekit-yaml's stand-in
// (mergekitcheck.StandIn), or a failure on request
// (EVOMERGE_TEST_MERGE: fail, fail-once with EVOMERGE_TEST_MARK, hang,
// nothing: exit 0 without a model).
func standInMerge(args []string) int {
	switch os.Getenv("EVOMERGE_TEST_MERGE") {
	case "fail":
		fmt.Fprintln(os.Stderr, "RuntimeError: CUDA error: out of memory while merging")
		return 1
	case "fail-once":
		if f, err := os.OpenFile(os.Getenv("EVOMERGE_TEST_MARK"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			os.MkdirAll(args[1], 0o755) // a half-written model
			os.WriteFile(filepath.Join(args[1], "model.safetensors"), []byte("trunc"), 0o644)
			return 1
		}
	case "hang":
		time.Sleep(time.Hour)
	case "nothing":
		return 0
	}
	return mergekitcheck.StandIn(args, os.Stderr)
}

// TestMain lets the test binary act as an evaluator process: with
// EVOMERGE_TEST_EVALUATOR set it reads the merged model given as its
// argument and prints the mean of layers.0.weight (or misbehaves on
// request), so the tests run a real separate process on a real merge.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "mergekit-yaml" {
		os.Exit(standInMerge(os.Args[2:]))
	}
	switch os.Getenv("EVOMERGE_TEST_EVALUATOR") {
	case "":
		os.Exit(m.Run())
	case "mean":
		model, err := merge.LoadModel(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w, _ := model.View("model.layers.0.weight")
		s := 0.0
		for _, v := range w {
			s += float64(v)
		}
		if len(os.Args) > 2 { // lm-eval style: a results JSON in a subfolder
			dir := filepath.Join(os.Args[2], "model-name")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "results_2026.json"), []byte(fmt.Sprintf(`{"results":{"toy":{"acc,none":%g}}}`, s/float64(len(w)))), 0o644)
			os.Exit(0)
		}
		fmt.Printf("loading...\nscore %g\n", s/float64(len(w)))
		os.Exit(0)
	case "tasks": // two tasks whose scores conflict: the mean m and 4 − m
		model, err := merge.LoadModel(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w, _ := model.View("model.layers.0.weight")
		s := 0.0
		for _, v := range w {
			s += float64(v)
		}
		m := s / float64(len(w))
		dir := filepath.Join(os.Args[2], "model-name")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "results_2026.json"), []byte(fmt.Sprintf(`{"results":{"toy":{"acc,none":%g},"other":{"acc,none":%g}}}`, m, 4-m)), 0o644)
		os.Exit(0)
	case "items":
		// args: model limit offset output. Item d is right iff
		// (d + round(mean weight)) is even; the samples file is lm-eval's
		// layout (a model-named subfolder, doc_id and acc per line).
		model, err := merge.LoadModel(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w, _ := model.View("model.layers.0.weight")
		limit, _ := strconv.Atoi(os.Args[2])
		offset, _ := strconv.Atoi(os.Args[3])
		dir := filepath.Join(os.Args[4], "merged")
		os.MkdirAll(dir, 0o755)
		var lines []string
		right := 0
		for d := offset + limit - 1; d >= offset; d-- { // any order: read by doc_id
			acc := 0
			if (d+int(math.Round(float64(w[0]))))%2 == 0 {
				acc, right = 1, right+1
			}
			lines = append(lines, fmt.Sprintf(`{"doc_id": %d, "acc": %d, "doc": {"q": "?"}}`, d, acc))
		}
		os.WriteFile(filepath.Join(dir, "samples_toy_2026.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		fmt.Printf("acc %g\n", float64(right)/float64(limit))
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "CUDA out of memory")
		os.Exit(3)
	case "cancel-once":
		// Pre-empted the first time: the job is cancelled under it.
		if mark := os.Getenv("EVOMERGE_TEST_MARK"); mark != "" {
			if f, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
				f.Close()
				exec.Command("scancel", os.Getenv("SLURM_JOB_ID")).Run()
				time.Sleep(time.Hour)
			}
		}
		os.Setenv("EVOMERGE_TEST_EVALUATOR", "mean")
		syscall.Exec(os.Args[0], os.Args, os.Environ())
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
	}
}

func toyEvaluator(t *testing.T, mode string, args ...string) *Evaluator {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	toymodel.Write(t, a, 1)
	toymodel.Write(t, b, 3)
	t.Setenv("EVOMERGE_TEST_EVALUATOR", mode)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	return &Evaluator{
		Genome: Genome{Method: "linear", Models: []string{a, b}, Params: []Param{{Name: "weight", Min: 0, Max: 1}}, Groups: 1,
			Fixed: map[string]any{"normalize": true}},
		Command: Command{Args: append([]string{os.Args[0]}, args...), Timeout: 20 * time.Second, Score: "stdout"},
		WorkDir: work,
	}
}

// TestEndToEnd merges two real checkpoints with the candidate's weights and
// reads the score a separate process computed from the merged weights.
func TestEndToEnd(t *testing.T) {
	e := toyEvaluator(t, "mean", "{model}")
	// Normalised linear merge of 1 and 3 with weights 0.25, 0.75: 2.5.
	got, err := e.Evaluate(context.Background(), []float64{0.25, 0.75}, "0", 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-2.5) > 1e-6 {
		t.Errorf("score %g, want 2.5", got)
	}
	left, _ := os.ReadDir(e.WorkDir)
	if len(left) != 0 {
		t.Errorf("temporary folders left behind: %v", left)
	}
	// lm-evaluation-harness style: the score read from a results JSON.
	e = toyEvaluator(t, "mean", "{model}", "{output}")
	e.Command.Score = "json:results.toy.acc,none"
	got, err = e.Evaluate(context.Background(), []float64{1, 0}, "0", 2)
	if err != nil || math.Abs(got-1) > 1e-6 {
		t.Errorf("json score %g (%v), want 1", got, err)
	}
}

// TestTasks reads two task scores from one results file of one run of the
// command, and checks the tasks' validation.
func TestTasks(t *testing.T) {
	e := toyEvaluator(t, "tasks", "{model}", "{output}")
	e.Command.Score = ""
	e.Command.Tasks = []TaskScore{{Name: "toy", Score: "json:results.toy.acc,none"}, {Name: "other", Score: "json:results.other.acc,none"}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := e.EvaluateTasks(context.Background(), []float64{0.25, 0.75}, "0", 1)
	if err != nil || len(got) != 2 || math.Abs(got[0]-2.5) > 1e-6 || math.Abs(got[1]-1.5) > 1e-6 {
		t.Errorf("task scores %v (%v), want [2.5 1.5]", got, err)
	}
	if _, err := e.Evaluate(context.Background(), []float64{0.25, 0.75}, "0", 2); err == nil || !strings.Contains(err.Error(), "EvaluateTasks") {
		t.Errorf("Evaluate of a command with tasks: %v", err)
	}
	// With {limit}, every task is scored on the range asked for, checked
	// against the command's items.
	e.Command.Args = append(e.Command.Args, "{limit}")
	e.Command.Items = 10
	if got, err := e.EvaluateTasksItems(context.Background(), []float64{0.25, 0.75}, "0", 4, 0, 5); err != nil || len(got) != 2 {
		t.Errorf("task scores on 5 of 10 items: %v (%v)", got, err)
	}
	if _, err := e.EvaluateTasksItems(context.Background(), []float64{0.25, 0.75}, "0", 5, 0, 11); err == nil || errors.Is(err, objectives.ErrEvalFailed) {
		t.Errorf("11 of 10 items: %v, want a refusal, not a penalised failure", err)
	}
	e.Command.Args, e.Command.Items = e.Command.Args[:len(e.Command.Args)-1], 0
	e.Command.Tasks[1].Score = "json:results.missing.acc"
	if _, err := e.EvaluateTasks(context.Background(), []float64{0.25, 0.75}, "0", 3); !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "no key \"missing\"") {
		t.Errorf("a missing task score: %v", err)
	}
	for _, c := range []struct {
		cmd  Command
		want string
	}{
		{Command{Args: []string{"x"}, Score: "stdout", Tasks: []TaskScore{{"a", "json:a"}, {"b", "json:b"}}}, "both set"},
		{Command{Args: []string{"x"}, Tasks: []TaskScore{{"a", "json:a"}}}, "lists 1 task"},
		{Command{Args: []string{"x"}, Tasks: []TaskScore{{"a", "json:a"}, {"a", "json:b"}}}, "listed twice"},
		{Command{Args: []string{"x"}, Tasks: []TaskScore{{"a", "json:a"}, {"b", "stdout"}}}, "needs json:PATH"},
		{Command{Args: []string{"x"}, Tasks: []TaskScore{{"a b", "json:a"}, {"b", "json:b"}}}, "task name"},
		{Command{Args: []string{"x"}, Tasks: []TaskScore{{"a", "json:a..b"}, {"b", "json:b"}}}, "empty key"},
		{Command{Args: []string{"x", "{limit}"}, Items: 10, PerItem: "samples_*.jsonl:acc", Tasks: []TaskScore{{"a", "json:a"}, {"b", "json:b"}}}, "per_item reads the items of one task"},
	} {
		if err := c.cmd.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.cmd.Tasks, err, c.want)
		}
	}
}

func TestFailuresArePenalisedNotFatal(t *testing.T) {
	e := toyEvaluator(t, "fail")
	e.Command.Retries = 2
	_, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "1", 3)
	if !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %v: want a penalised failure quoting the evaluator's stderr after 3 attempts", err)
	}
	e = toyEvaluator(t, "hang")
	e.Command.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err = e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 4)
	if !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("hanging evaluator: %v", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("the timeout did not stop the evaluator")
	}
	// A broken recipe (an unknown model folder) is a failed merge.
	e = toyEvaluator(t, "mean", "{model}")
	e.Genome.Models[1] = filepath.Join(e.WorkDir, "missing")
	if _, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 5); !errors.Is(err, objectives.ErrEvalFailed) {
		t.Errorf("missing model: %v", err)
	}
}

func TestGenomeLayout(t *testing.T) {
	g := Genome{Method: "dare_ties", BaseModel: "base", Models: []string{"a", "b"},
		Params: []Param{{Name: "weight", Min: 0, Max: 2}, {Name: "density", Min: 0.1, Max: 1}}, Groups: 3}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if g.Dim() != 12 {
		t.Fatalf("dim %d", g.Dim())
	}
	x := make([]float64, 12)
	for i := range x {
		x[i] = float64(i) / 10
	}
	r, err := g.Recipe(x)
	if err != nil {
		t.Fatal(err)
	}
	if r.Models[1].Model != "b" || fmt.Sprint(r.Models[1].Parameters["density"]) != "[0.9 1 1.1]" || r.Models[2].Model != "base" {
		t.Errorf("layout: %+v", r.Models)
	}
	lo, hi := g.Box()
	if lo[3] != 0.1 || hi[0] != 2 {
		t.Errorf("box %v %v", lo, hi)
	}
	for _, bad := range []Genome{
		{Method: "nope", Models: []string{"a"}, Params: g.Params, Groups: 1},
		{Method: "linear", Params: g.Params, Groups: 1},
		{Method: "linear", Models: []string{"a"}, Groups: 1},
		{Method: "linear", Models: []string{"a"}, Params: []Param{{Name: "w", Min: 1, Max: 0}}, Groups: 1},
		{Method: "linear", Models: []string{"a"}, Params: g.Params, Groups: 0},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestScoreParsers(t *testing.T) {
	v, err := ScoreFromJSON([]byte(`{"results":{"gsm8k":{"exact_match,strict-match":0.52,"alias":"gsm8k"}}}`), []string{"results", "gsm8k", "exact_match,strict-match"})
	if err != nil || v != 0.52 {
		t.Errorf("json: %g %v", v, err)
	}
	if _, err := ScoreFromJSON([]byte(`{"results":{"gsm8k":{}}}`), []string{"results", "arc"}); err == nil || !strings.Contains(err.Error(), "gsm8k") {
		t.Errorf("a missing key must list the keys there: %v", err)
	}
	if _, err := ScoreFromJSON([]byte(`{"a":"x"}`), []string{"a"}); err == nil {
		t.Error("a string accepted as a score")
	}
	v, err = ScoreFromStdout([]byte("epoch 1\naccuracy: 0.91\n\n"))
	if err != nil || v != 0.91 {
		t.Errorf("stdout: %g %v", v, err)
	}
	for _, bad := range []string{"", "done\n", "NaN\n", "acc inf"} {
		if _, err := ScoreFromStdout([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, spec := range []string{"json:", "json:a..b", "xml:a"} {
		if _, err := parseScoreSpec(spec); err == nil {
			t.Errorf("score spec %q accepted", spec)
		}
	}
}

func FuzzScoreFromJSON(f *testing.F) {
	f.Add([]byte(`{"results":{"t":{"m":1}}}`), "results.t.m")
	f.Add([]byte(`[1,2]`), "a")
	f.Add([]byte(`{"a":1e400}`), "a")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		spec, err := parseScoreSpec("json:" + path)
		if err != nil {
			return
		}
		v, err := ScoreFromJSON(data, spec.path)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("non-finite score %g accepted", v)
		}
	})
}

func FuzzScoresFromJSON(f *testing.F) {
	f.Add([]byte(`{"results":{"a":{"m":1},"b":{"m":2}}}`), "results.a.m", "results.b.m")
	f.Add([]byte(`{"a":1}`), "a", "a")
	f.Fuzz(func(t *testing.T, data []byte, p1, p2 string) {
		s1, err1 := parseScoreSpec("json:" + p1)
		s2, err2 := parseScoreSpec("json:" + p2)
		if err1 != nil || err2 != nil {
			return
		}
		vs, err := ScoresFromJSON(data, [][]string{s1.path, s2.path})
		if err != nil {
			return
		}
		if len(vs) != 2 {
			t.Fatalf("%d scores for 2 paths", len(vs))
		}
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite score %g accepted", v)
			}
		}
		if a, err := ScoreFromJSON(data, s1.path); err != nil || a != vs[0] {
			t.Fatalf("ScoresFromJSON %v disagrees with ScoreFromJSON %g (%v)", vs, a, err)
		}
	})
}

func FuzzScoreFromStdout(f *testing.F) {
	f.Add([]byte("score 0.5\n"))
	f.Add([]byte("1e999"))
	f.Add([]byte("\n\n  \n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		v, err := ScoreFromStdout(out)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("non-finite score %g accepted", v)
		}
		_ = strconv.Quote(string(out))
	})
}

// A command with {limit} and {offset} scores a range of its fixed item
// list, and per_item reads each item's score from lm-eval-style samples.
func TestEvaluateItems(t *testing.T) {
	e := toyEvaluator(t, "items", "{model}", "{limit}", "{offset}", "{output}")
	e.Command.Items, e.Command.PerItem = 10, "samples_*.jsonl:acc"
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if l := e.Command.ItemList(); l != (objectives.ItemList{N: 10, Fixed: true}) {
		t.Fatalf("item list %+v", l)
	}
	// Weights 1, 0: every weight is 1, so odd items are right.
	got, per, err := e.EvaluateItems(context.Background(), []float64{1, 0}, "0", 1, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 0, 1, 0}; got != 0.5 || !slices.Equal(per, want) {
		t.Errorf("items 3…6: score %g, per item %v; want 0.5 and %v", got, per, want)
	}
	if _, _, err := e.EvaluateItems(context.Background(), []float64{1, 0}, "0", 2, 8, 4); err == nil {
		t.Error("items 8…11 of a list of 10 accepted")
	}
	full, err := e.Evaluate(context.Background(), []float64{1, 0}, "0", 3)
	if err != nil || full != 0.5 {
		t.Errorf("all 10 items: %g, %v", full, err)
	}
	// Without {offset} only prefixes can be scored.
	e.Command.Args = []string{os.Args[0], "{model}", "{limit}", "0", "{output}"}
	if l := e.Command.ItemList(); !l.PrefixOnly {
		t.Errorf("a command without {offset}: %+v", l)
	}
	if _, _, err := e.EvaluateItems(context.Background(), []float64{1, 0}, "0", 4, 3, 4); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("a range not from item 0 on a prefix-only command: %v", err)
	}
	// A samples file that holds other items than were scored is an error
	// (a failed evaluation), not a silently wrong score.
	e.Command.Args = []string{os.Args[0], "{model}", "{limit}", "1", "{output}"}
	e.Command.PerItem = "samples_*.jsonl:nope"
	if _, _, err := e.EvaluateItems(context.Background(), []float64{1, 0}, "0", 5, 0, 4); !errors.Is(err, objectives.ErrEvalFailed) || !strings.Contains(err.Error(), "no field") {
		t.Errorf("a samples file without the field: %v", err)
	}
}

func TestItemCommandValidation(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		want string
	}{
		{Command{Args: []string{"e", "--limit", "{limit}"}}, "give items"},
		{Command{Args: []string{"e"}, Items: 10}, "no {limit}"},
		{Command{Args: []string{"e", "{offset}"}}, "not {limit}"},
		{Command{Args: []string{"e", "{limit}"}, Items: -1}, "negative"},
		{Command{Args: []string{"e", "{limit}"}, Items: 5, PerItem: "samples.jsonl"}, "GLOB:FIELD"},
		{Command{Args: []string{"e", "{limit}"}, Items: 5, PerItem: "[:acc"}, "bad pattern"},
		{Command{Args: []string{"e"}, PerItem: "s*.jsonl:acc"}, "needs a command scored on items"},
	} {
		if err := c.cmd.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.cmd, err, c.want)
		}
	}
}

func TestParseSamples(t *testing.T) {
	got, err := ParseSamples([]byte(`{"doc_id": 2, "acc": true}
{"doc_id": 0, "acc": 0.5, "filtered_resps": ["x"]}

{"doc_id": 1, "acc": false}
`), "acc")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Sample{{0, 0.5}, {1, 0}, {2, 1}}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	for _, bad := range []string{`{"doc_id": 0}`, `{"acc": 1}`, `{"doc_id": 0, "acc": "x"}`, `{"doc_id": 0, "acc": 1}` + "\n" + `{"doc_id": 0, "acc": 1}`, `[1]`, `{"doc_id": 1.5, "acc": 1}`} {
		if _, err := ParseSamples([]byte(bad), "acc"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseSamples(f *testing.F) {
	f.Add([]byte(`{"doc_id": 0, "acc": 1}`), "acc")
	f.Add([]byte(`{"doc_id": 0, "acc": 1e999}`), "acc")
	f.Add([]byte("{\"doc_id\": -3, \"em\": false}\n\n"), "em")
	f.Fuzz(func(t *testing.T, data []byte, field string) {
		items, err := ParseSamples(data, field)
		if err != nil {
			return
		}
		for i, it := range items {
			if math.IsNaN(it.Score) || math.IsInf(it.Score, 0) {
				t.Fatalf("non-finite score %g accepted", it.Score)
			}
			if i > 0 && items[i-1].DocID >= it.DocID {
				t.Fatalf("doc_ids not increasing: %v", items)
			}
		}
	})
}

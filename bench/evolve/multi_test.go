package evolve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const moBody = `algorithm: nsga2
set: {pop: 8}
budget: 48
seed: 3
floor: {retention: 50}
objective:
  kind: mock-tasks
  mock_tasks: {dim: 4, tasks: [retention, math], widths: [0.5, 0.5], items: [200, 200]}
  slots: 3
`

// readFront returns every file of a front folder.
func readFront(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(b)
	}
	return out
}

// TestMultiResume runs a multi-objective config, then resumes copies of
// its journal cut at several points (one cut mid-line, as a kill leaves
// it): each resumed run evaluates only what is missing and writes the
// same front, byte for byte. A finished journal resumes to the same front
// without evaluating.
func TestMultiResume(t *testing.T) {
	c := testConfig(t, moBody)
	res, err := RunMulti(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFront(c, res); err != nil {
		t.Fatal(err)
	}
	want := readFront(t, c.Output)
	if len(want) < 4 || !strings.Contains(want["front.md"], "| recipe | merge order | retention | math |") || !strings.Contains(want["01.yml"], "# scores: retention ") {
		t.Fatalf("front folder: %v", want)
	}
	journal, _ := os.ReadFile(c.Journal)
	lines := bytes.SplitAfter(bytes.TrimRight(journal, "\n"), []byte("\n"))
	if len(lines) != 49 {
		t.Fatalf("%d journal lines, want 48 evaluations and the record", len(lines))
	}
	for _, cut := range []int{0, 5, 20, 48, 49} {
		other := testConfig(t, moBody)
		data := bytes.Join(lines[:cut], nil)
		if cut == 20 {
			data = append(data, lines[20][:len(lines[20])/2]...) // a write cut short
		}
		os.WriteFile(other.Journal, data, 0o644)
		got, err := RunMulti(context.Background(), other, true, nil)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got.Replayed != min(cut, 48) || got.Complete != (cut == 49) {
			t.Errorf("cut %d: replayed %d, complete %v", cut, got.Replayed, got.Complete)
		}
		if err := WriteFront(other, got); err != nil {
			t.Fatal(err)
		}
		have := readFront(t, other.Output)
		for name, w := range want {
			if have[name] != w {
				t.Fatalf("cut %d: %s differs after resuming:\n%s\n---\n%s", cut, name, w, have[name])
			}
		}
		if len(have) != len(want) {
			t.Errorf("cut %d: %d files, want %d", cut, len(have), len(want))
		}
	}
}

// TestMultiJournalRefused: a journal of another config, a single-objective
// journal and a run without --resume over a journal are refused, and
// nothing is changed.
func TestMultiJournalRefused(t *testing.T) {
	c := testConfig(t, moBody)
	if _, err := RunMulti(context.Background(), c, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := RunMulti(context.Background(), c, false, nil); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("a second run without --resume: %v", err)
	}
	other := testConfig(t, strings.Replace(moBody, "retention: 50", "retention: 55", 1))
	other.Journal = c.Journal
	if _, err := RunMulti(context.Background(), other, true, nil); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("a journal of another floor: %v", err)
	}
	single := testConfig(t, meanBody)
	if _, err := Run(context.Background(), single, false, nil); err != nil {
		t.Fatal(err)
	}
	c2 := testConfig(t, moBody)
	c2.Journal = single.Journal
	before, _ := os.ReadFile(single.Journal)
	if _, err := RunMulti(context.Background(), c2, true, nil); err == nil || !strings.Contains(err.Error(), "single-objective") {
		t.Errorf("a single-objective journal: %v", err)
	}
	if after, _ := os.ReadFile(single.Journal); !bytes.Equal(before, after) {
		t.Error("the refused journal was changed")
	}
}

// TestMultiConfigErrors: configs that cannot run as written are refused
// with an error naming the problem.
func TestMultiConfigErrors(t *testing.T) {
	const mt = "objective: {kind: mock-tasks, mock_tasks: {dim: 4, tasks: [a, b]}}\n"
	for body, want := range map[string]string{
		"algorithm: nsga2\nbudget: 10\nseed: 1\nobjective: {kind: mock, mock: {dim: 3}}\n":             "must score several tasks",
		"algorithm: cmaes\nbudget: 10\nseed: 1\nfloor: {a: 3}\n" + mt:                                  "applies to multi-objective algorithms",
		"algorithm: nsga2\nbudget: 10\nseed: 1\nfloor: {c: 3}\n" + mt:                                  "names task \"c\"",
		"algorithm: nsga2\nbudget: 10\nseed: 1\nset: {popsize: 3}\n" + mt:                              "no hyperparameter \"popsize\"",
		"algorithm: nsga2\nbudget: 10\nseed: 1\nobjective: {kind: mock-tasks}\n":                       "needs objective.mock_tasks",
		"algorithm: nsga2\nbudget: 10\nseed: 1\nobjective: {kind: mock, mock_tasks: {dim: 3}}\n":       "does not use objective.mock_tasks",
		"algorithm: nsga2\nbudget: 10\nseed: 1\nobjective: {kind: mock-tasks, mock_tasks: {dim: 1}}\n": "at least 2 weights",
	} {
		_, err := ParseConfig([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", body, err, want)
		}
	}
	// A single-objective method on the multi-task mock runs on its
	// weighted sum.
	c := testConfig(t, "algorithm: random\nbudget: 20\nseed: 1\n"+strings.Replace(mt, "tasks: [a, b]", "tasks: [a, b], weights: [3, 1]", 1))
	res, err := Run(context.Background(), c, false, nil)
	if err != nil || res.Evaluations != 20 {
		t.Fatalf("random on the weighted sum: %v", err)
	}
}

// TestHashOfOlderConfigs pins the hashes of configs written before
// multi-objective runs existed: their journals must still resume, so no
// new key may change the hash of a config that does not use it.
func TestHashOfOlderConfigs(t *testing.T) {
	for body, want := range map[string]string{
		"algorithm: cmaes\nbudget: 40\nseed: 4\nobjective: {kind: mock, mock: {dim: 3}}\n":                                                                                                                   "9931144b8145e91b",
		"algorithm: cmaes\nbudget: 40\nseed: 4\nobjective: {kind: external, external: {method: linear, models: [a, b], params: [{name: weight, min: 0, max: 1}], groups: 1, command: [x], score: stdout}}\n": "f5ac79ee6233829e",
	} {
		c, err := ParseConfig([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Hash(); got != want {
			t.Errorf("hash %s, want %s (the version before multi-objective runs): journals of this config would no longer resume", got, want)
		}
	}
}

// FuzzParseMultiJournal feeds arbitrary bytes to the multi-objective
// journal's reader: it returns evaluations of the key only, each index
// once, a prefix length within the data, or an error; never a panic.
func FuzzParseMultiJournal(f *testing.F) {
	f.Add([]byte(`{"mo":"k","eval":{"index":1,"x":[0.5],"scores":[1,2],"slot":0,"ms":1}}` + "\n" + `{"mo":"k","run":{"algorithm":"nsga2"}}` + "\n"))
	f.Add([]byte(`{"mo":"k","eval":{"index":1,"x":[0.5],"error":"x","slot":0,"ms":1}}` + "\n" + `{"mo":"k","ev`))
	f.Add([]byte(`{"eval":{"index":1},"key":"a"}` + "\n"))
	f.Add([]byte("\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evals, _, good, err := parseMultiJournal(data, "fuzz", "k")
		if err != nil {
			return
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("prefix %d of %d bytes", good, len(data))
		}
		seen := map[int]bool{}
		for _, e := range evals {
			if e.Index < 1 || len(e.X) == 0 || seen[e.Index] || (e.Scores == nil && e.Error == "") {
				t.Fatalf("accepted evaluation %+v", e)
			}
			seen[e.Index] = true
		}
	})
}

// TestMultiRealTestbed: evolve in multi-objective mode runs on the real
// multi-task testbed (kind mnist-multitask): the front's recipes are
// mergekit recipes over the zoo's folders, each headed by its observed,
// pool and held-out scores on the three target tasks and retention.
func TestMultiRealTestbed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds or reads the multi-task testbed's instance 0")
	}
	c := testConfig(t, `algorithm: nsga2
set: {pop: 8}
budget: 16
seed: 2
floor: {retention: 50}
objective:
  kind: mnist-multitask
  mnist: {items: 50, options: {instance: "0"}}
`)
	if got := strings.Join(c.Tasks(), ","); got != "shift,rot90-p,flip-q,retention" {
		t.Fatalf("tasks %s", got)
	}
	res, err := RunMulti(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Error != "" || res.Run.Metrics.Scored != "heldout" {
		t.Fatalf("run error %q, metrics on %s scores", res.Run.Error, res.Run.Metrics.Scored)
	}
	if err := WriteFront(c, res); err != nil {
		t.Fatal(err)
	}
	front := readFront(t, c.Output)
	r := front["01.yml"]
	for _, want := range []string{"# scores: shift ", "held-out scores: shift ", "merge_method: ties", "retention "} {
		if !strings.Contains(r, want) {
			t.Errorf("01.yml lacks %q:\n%s", want, r)
		}
	}
	if md := front["front.md"]; !strings.Contains(md, "mnist-multitask") || !strings.Contains(md, "| held-out shift |") || !strings.Contains(md, "Hypervolume of the held-out") {
		t.Errorf("front.md does not name the objective:\n%s", front["front.md"])
	}
}

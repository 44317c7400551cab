package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/objectives"
)

func TestScenarioFileRoundTrip(t *testing.T) {
	cases := []Scenario{
		{Name: "fitted", From: "evomerge calibrate of my.yml: 20 probe evaluations", Budget: 380, Target: 87.5,
			Objective: objectives.Spec{Name: "mock", Dim: 6, Landscape: "peak", Width: 0.47, Items: 100, ItemModel: "fixed:0.8"}},
		{Name: "ill.v2", Budget: 50, Target: 80,
			Objective: objectives.Spec{Name: "mock", Dim: 3, Landscape: "ill", Width: 0.3, Noise: 1.25, NoiseModel: "cn-moderate", FailRate: 0.05, Optimum: []float64{0.1, 0.5, 1}},
			Slots:     4, EvalTime: EvalTime{Kind: "lognormal", Median: 5 * time.Minute, Sigma: 0.5}},
	}
	// Every preset, renamed, round-trips too.
	for _, s := range Scenarios {
		s.Name = "my-" + s.Name
		cases = append(cases, s)
	}
	dir := t.TempDir()
	for _, s := range cases {
		path := filepath.Join(dir, s.Name+".yml")
		if err := WriteScenarioFile(path, s); err != nil {
			t.Fatal(err)
		}
		got, err := LoadScenarioFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", s.Name, got, s)
		}
	}
}

func TestScenarioFileErrors(t *testing.T) {
	good := "name: x\nbudget: 100\ntarget: 80\nmock:\n  dim: 6\n  width: 0.5\n"
	if _, err := ParseScenario([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ text, want string }{
		{"", "empty"},
		{"name: x\nbudget: 100\ntarget: 80\nmock:\n  dim: 6\n  widht: 0.5\n", "line 6: field widht not found"},
		{"name: x\nbudget: ten\ntarget: 80\nmock: {dim: 6}\n", "line 2"},
		{"name: x\nbudget: 100\nmock: {dim: 6}\n", "target is missing"},
		{"budget: 100\ntarget: 80\nmock: {dim: 6}\n", "name is missing"},
		{"name: a b\nbudget: 100\ntarget: 80\nmock: {dim: 6}\n", "line 1: name"},
		{"name: sakana-ps\nbudget: 100\ntarget: 80\nmock: {dim: 6}\n", "preset's name"},
		{"name: x\nbudget: 0\ntarget: 80\nmock: {dim: 6}\n", "line 2: budget 0"},
		{"name: x\nbudget: 10\ntarget: 180\nmock: {dim: 6}\n", "line 3: target 180"},
		{"name: x\nbudget: 10\ntarget: 80\nmock:\n  dim: 6\n  landscape: hilly\n", "line 4: mock: mock objective: unknown landscape"},
		{"name: x\nbudget: 10\ntarget: 80\nmock:\n  dim: 0\n", "line 4: mock"},
		{"name: x\nbudget: 10\ntarget: 80\nmock: {dim: 2, width: .nan}\n", "mock.width is NaN"},
		{"name: x\nbudget: 10\ntarget: 80\nmock: {dim: 2}\nslots: 3\n", "line 5: slots 3 needs eval_time"},
		{"name: x\nbudget: 10\ntarget: 80\nmock: {dim: 2}\neval_time: slow\n", "line 5: eval_time"},
		{good + "---\n" + good, "second YAML document"},
	} {
		_, err := ParseScenario([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.text, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(path, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenarioFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name the file %s", err, path)
	}
}

// FuzzParseScenario: any input either fails with an error or gives a
// scenario whose objective builds and which writes and reads back to
// itself.
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte("name: x\nbudget: 100\ntarget: 80\nmock:\n  dim: 6\n  width: 0.5\n  items: 100\n  item_model: fixed\n"))
	f.Add([]byte("name: y\nbudget: 5\ntarget: 0\nmock: {dim: 2, optimum: [0, 1], landscape: ties}\nslots: 2\neval_time: fixed:1m\n"))
	f.Add([]byte("name: z\nbudget: 5\ntarget: 50\nmock: {dim: 1, noise_model: un-severe, fail_rate: 0.5, noise: 3}\n"))
	f.Add([]byte("- 1\n- 2\n"))
	f.Add([]byte("name: [x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data)
		if err != nil {
			return
		}
		if _, err := objectives.New(s.Objective); err != nil {
			t.Fatalf("parsed scenario does not build: %v", err)
		}
		b, err := MarshalScenario(s)
		if err != nil {
			t.Fatalf("parsed scenario does not write: %v", err)
		}
		back, err := ParseScenario(b)
		if err != nil {
			t.Fatalf("written scenario does not parse: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip changed the scenario:\n%+v\n%+v", s, back)
		}
	})
}

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/evomerge/evomerge/objectives"
)

// scenarioFile is a scenario as `evomerge bench --scenario-file` and
// `evomerge tune --scenario-file` read it: a preset a user (or evomerge
// calibrate) writes instead of choosing one of Scenarios. Its keys are
// those of evolve's objective.mock block, so a fitted scenario and the
// config it came from read alike.
type scenarioFile struct {
	Name   string   `yaml:"name"`
	From   string   `yaml:"from,omitempty"`
	Budget int      `yaml:"budget"`
	Target *float64 `yaml:"target"`
	Mock   mockFile `yaml:"mock"`
	// Slots and EvalTime put the scenario on bench's simulated clock
	// (--slots, --eval-time): how many evaluations run at once and how
	// long each takes.
	Slots    int    `yaml:"slots,omitempty"`
	EvalTime string `yaml:"eval_time,omitempty"`
}

type mockFile struct {
	Dim        int       `yaml:"dim"`
	Landscape  string    `yaml:"landscape,omitempty"`
	Width      float64   `yaml:"width,omitempty"`
	Noise      float64   `yaml:"noise,omitempty"`
	Items      int       `yaml:"items,omitempty"`
	ItemModel  string    `yaml:"item_model,omitempty"`
	NoiseModel string    `yaml:"noise_model,omitempty"`
	FailRate   float64   `yaml:"fail_rate,omitempty"`
	Optimum    []float64 `yaml:"optimum,omitempty,flow"`
}

// scenarioNamePattern keeps a file scenario's name usable as a cell label
// and a file name: it is printed in tables and written into records.
var scenarioNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadScenarioFile reads a scenario file; every error names the file,
// and the line and key where the YAML decoder or the check knows them.
func LoadScenarioFile(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario file %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes a scenario file strictly (unknown keys, a second
// document and wrong types are errors) and checks it by building its
// objective once, so a scenario that parses is one bench can run.
func ParseScenario(data []byte) (Scenario, error) {
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Scenario{}, fmt.Errorf("empty: want name, budget, target and a mock block")
		}
		return Scenario{}, fmt.Errorf("%v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Scenario{}, fmt.Errorf("line %d: a second YAML document: a scenario file holds one", extra.Line)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // decoded above: only for the lines of keys
	at := func(keys ...string) string {
		if l := keyLine(&root, keys...); l > 0 {
			return fmt.Sprintf("line %d: %s", l, strings.Join(keys, "."))
		}
		return strings.Join(keys, ".")
	}
	switch {
	case f.Name == "":
		return Scenario{}, fmt.Errorf("name is missing (a label for the records, e.g. name: my-merge)")
	case !scenarioNamePattern.MatchString(f.Name):
		return Scenario{}, fmt.Errorf("%s %q: want letters, digits, '.', '_' or '-' (at most 64, not starting with a punctuation mark)", at("name"), f.Name)
	}
	if _, err := LookupScenario(f.Name); err == nil {
		return Scenario{}, fmt.Errorf("%s %q is a preset's name (evomerge bench --scenario %s): give the file's scenario its own name, so records of the two never mix", at("name"), f.Name, f.Name)
	}
	if f.Budget < 1 {
		return Scenario{}, fmt.Errorf("%s %d: want at least 1 evaluation", at("budget"), f.Budget)
	}
	if f.Target == nil {
		return Scenario{}, fmt.Errorf("target is missing: the true score that counts as solved (the mock's optimum scores 100)")
	}
	if t := *f.Target; math.IsNaN(t) || math.IsInf(t, 0) || t < 0 || t > 100 {
		return Scenario{}, fmt.Errorf("%s %g: want a true score in [0, 100]", at("target"), t)
	}
	if f.Slots < 0 || f.Slots > 1024 {
		return Scenario{}, fmt.Errorf("%s %d: want 1 to 1024 evaluations at once", at("slots"), f.Slots)
	}
	et, err := ParseEvalTime(f.EvalTime)
	if err != nil {
		return Scenario{}, fmt.Errorf("%s: %v", at("eval_time"), err)
	}
	if f.Slots > 1 && et.Kind == "" {
		return Scenario{}, fmt.Errorf("%s %d needs eval_time (e.g. lognormal:median=5m,sigma=0.5): bench simulates the cluster's clock", at("slots"), f.Slots)
	}
	m := f.Mock
	for _, v := range []struct {
		key string
		x   float64
	}{{"width", m.Width}, {"noise", m.Noise}, {"fail_rate", m.FailRate}} {
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return Scenario{}, fmt.Errorf("%s is %g: want a finite number", at("mock", v.key), v.x)
		}
	}
	spec := objectives.Spec{Name: "mock", Dim: m.Dim, Noise: m.Noise, Items: m.Items, Optimum: m.Optimum, Landscape: m.Landscape,
		NoiseModel: m.NoiseModel, FailRate: m.FailRate, Width: m.Width, ItemModel: m.ItemModel}
	if m.ItemModel == "sampled" {
		spec.ItemModel = "" // the default, spelt out: one cell either way
	}
	if m.Dim > 10_000 {
		return Scenario{}, fmt.Errorf("%s %d: at most 10,000 genes", at("mock", "dim"), m.Dim)
	}
	if _, err := objectives.New(spec); err != nil {
		return Scenario{}, fmt.Errorf("%s: %v", at("mock"), err)
	}
	return Scenario{Name: f.Name, From: f.From, Objective: spec, Budget: f.Budget, Target: *f.Target, Slots: f.Slots, EvalTime: et}, nil
}

// keyLine finds the line of a key path in a decoded document (0: absent).
func keyLine(n *yaml.Node, keys ...string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// WriteScenarioFile writes s in the form ParseScenario reads (a file
// --scenario-file runs as it is), atomically. s must be a mock scenario.
func WriteScenarioFile(path string, s Scenario) error {
	b, err := MarshalScenario(s)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// MarshalScenario is the text WriteScenarioFile writes; ParseScenario
// reads it back to s (with a "sampled" item model spelt as the default).
func MarshalScenario(s Scenario) ([]byte, error) {
	o := s.Objective
	if o.Name != "mock" {
		return nil, fmt.Errorf("scenario %s: a scenario file describes a mock objective, not %s", s.Name, o.Name)
	}
	if len(o.Options) > 0 {
		return nil, fmt.Errorf("scenario %s: a mock objective has no options", s.Name)
	}
	t := s.Target
	f := scenarioFile{Name: s.Name, From: s.From, Budget: s.Budget, Target: &t, Slots: s.Slots, EvalTime: s.EvalTime.String(),
		Mock: mockFile{Dim: o.Dim, Landscape: o.Landscape, Width: o.Width, Noise: o.Noise, Items: o.Items, ItemModel: o.ItemModel,
			NoiseModel: o.NoiseModel, FailRate: o.FailRate, Optimum: o.Optimum}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if _, err := ParseScenario(b.Bytes()); err != nil {
		return nil, fmt.Errorf("scenario %s does not read back: %w", s.Name, err)
	}
	return b.Bytes(), nil
}

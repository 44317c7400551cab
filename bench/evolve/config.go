// Package evolve runs one evolutionary merge for real: an optimiser against
// one objective (a mock scenario, the MNIST zoo or real LLMs scored by an
// external evaluator) with a journal of every evaluation written as it
// completes, so a run killed at any moment resumes with no evaluation lost
// or repeated and reaches the result of an uninterrupted run.
package evolve

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/external"
	"github.com/evomerge/evomerge/objectives/realmerge"
)

// Config is the YAML file `evomerge evolve` reads.
type Config struct {
	// Algorithm names the optimiser (required: a default would hide
	// which method ran); Set overrides its hyperparameters.
	Algorithm string            `yaml:"algorithm"`
	Set       map[string]string `yaml:"set"`
	// Budget is the number of evaluations, final ones included.
	Budget int `yaml:"budget"`
	// BudgetItems, instead of Budget, gives the run a budget of benchmark
	// items (bench --budget-items): scoring a candidate on n items costs
	// n. The objective must be scored on items: the mock with items, or an
	// external command with {limit} (and items: N, a full evaluation).
	// Budget is then BudgetItems ÷ N, the full evaluations it buys.
	BudgetItems int `yaml:"budget_items,omitempty"`
	// Seed drives every random choice of the run (required, 0 included:
	// an unstated seed is an irreproducible run waiting to happen).
	Seed uint64 `yaml:"seed"`
	// FinalEvals is how many fresh evaluations score each finalist when
	// the method recommends a point it never evaluated (the CMA-ES
	// family's distribution mean): that point and the best observed one
	// are each scored FinalEvals times, from the budget, and the better
	// by the mean of those fresh scores is shipped. Default 1.
	FinalEvals int `yaml:"final_evals"`
	// Journal is where every evaluation is recorded (default: the config's
	// path with .journal.jsonl).
	Journal string `yaml:"journal"`
	// Output receives the best candidate: a mergekit recipe for merge
	// objectives (default: the config's path with .best.yml). With a
	// multi-objective algorithm it is the folder of the front (default:
	// the config's path with .front): NN.yml per point, front.md.
	Output    string          `yaml:"output"`
	Objective ObjectiveConfig `yaml:"objective"`
	// Floor sets minimum scores by task (floor: {retention: 95}) for a
	// multi-objective algorithm: constraints of the search, and of the
	// front written.
	Floor map[string]float64 `yaml:"floor"`
	// Reference is the hypervolume reference score by task for tasks
	// without a floor (default 0), for the front's summary.
	Reference map[string]float64 `yaml:"reference"`
	// Probe names the journal of `evomerge calibrate`'s probe of this
	// objective (probe.jsonl): its best point, scored by fresh
	// evaluations of the same objective, competes with the run's own pick
	// for the output, so the probe's evaluations are not wasted (the run's
	// budget is what calibrate left after the probe).
	Probe string `yaml:"probe,omitempty"`

	function objectives.Function // built by build, for in-process objectives
	path     string              // the config file, an input no output may overwrite
	// probe, set by NewProbe only, makes the run calibrate's probe: the
	// job's re-evaluation policy, and a seed of its own (so a random
	// search recommended afterwards does not draw the probe's points again).
	probe *probeMode
}

// ObjectiveConfig selects and configures the objective.
type ObjectiveConfig struct {
	// Kind is scenario, mock, mock-tasks, mnist, mnist-multitask or
	// external.
	Kind string `yaml:"kind"`
	// Scenario names a preset (kind scenario).
	Scenario string `yaml:"scenario"`
	// Mock configures kind mock.
	Mock *MockConfig `yaml:"mock"`
	// Delay makes every mock evaluation take this long, to watch a run or
	// rehearse an interruption.
	Delay time.Duration `yaml:"delay"`
	// Slots is how many evaluations of an in-process objective run at once
	// (default 1): with Delay, a rehearsal of a run on several GPUs.
	Slots int `yaml:"slots"`
	// External configures kind external.
	External *ExternalConfig `yaml:"external"`
	// MockTasks configures kind mock-tasks, the multi-task mock.
	MockTasks *MockTasksConfig `yaml:"mock_tasks,omitempty"`
	// MNIST configures kind mnist, the in-process real-merge objective of
	// the MNIST zoo (objective mnist-merge of evomerge bench), and kind
	// mnist-multitask, the multi-task testbed (objective mnist-multitask:
	// its items per task and options).
	MNIST *MNISTConfig `yaml:"mnist"`
}

// MNISTConfig is the real-merge objective's settings: items per
// evaluation and the options of `evomerge bench --opt` (method, densities,
// distractors, granularity, …).
type MNISTConfig struct {
	// Testbed is the zoo the merge runs on: "" or mnist (the
	// two-expert merge of objective mnist-merge) or multitask (the
	// multi-task testbed of objective mnist-multitask: experts from one
	// base, scored on the mean of several tasks; its options are
	// instance, method, groups, densities, density, normalize,
	// weight-max, pool, sampling, target).
	Testbed string            `yaml:"testbed,omitempty"`
	Items   int               `yaml:"items"`
	Options map[string]string `yaml:"options"`
}

// testbedObjectives maps objective.mnist.testbed to the objective it
// builds.
var testbedObjectives = map[string]string{"": "mnist-merge", "mnist": "mnist-merge", "multitask": "mnist-multitask"}

// MockConfig is the mock merge objective's settings.
type MockConfig struct {
	Dim       int       `yaml:"dim"`
	Noise     float64   `yaml:"noise"`
	Items     int       `yaml:"items"`
	Landscape string    `yaml:"landscape"`
	Width     float64   `yaml:"width"`
	FailRate  float64   `yaml:"fail_rate"`
	Optimum   []float64 `yaml:"optimum"`
	// ItemModel is how the items are drawn: sampled (default) or
	// fixed[:RHO] (objectives.ParseItemModel).
	ItemModel string `yaml:"item_model,omitempty"`
}

// MockTasksConfig is the multi-task mock's settings (objectives.MultiMock).
type MockTasksConfig struct {
	Dim      int       `yaml:"dim"`
	Tasks    []string  `yaml:"tasks"`
	Conflict float64   `yaml:"conflict"`
	Widths   []float64 `yaml:"widths"`
	Items    []int     `yaml:"items"`
	Noise    float64   `yaml:"noise"`
	FailRate float64   `yaml:"fail_rate"`
	// Weights scalarise the tasks for a single-objective algorithm.
	Weights []float64 `yaml:"weights"`
}

// ExternalConfig describes a merge of real models scored by a command.
type ExternalConfig struct {
	external.Genome  `yaml:",inline"`
	external.Command `yaml:",inline"`
	// Slots are the device slots evaluations run on concurrently, one
	// evaluation per slot (e.g. GPU indices "0", "1"); default one slot "0".
	// A number N stands for the slots "0" … "N-1". With backend slurm
	// they are the jobs in flight, and Slurm picks the GPUs.
	Slots SlotList `yaml:"slots"`
	// Direction is maximize (default) or minimize.
	Direction string `yaml:"direction"`
	// WorkDir holds the temporary merged models (default the system's).
	WorkDir string `yaml:"workdir"`
	// Weights scalarise the command's tasks (tasks:) by name for a
	// single-objective algorithm, as mergekit-evolve's weighted tasks
	// (default: equal).
	Weights map[string]float64 `yaml:"weights,omitempty"`
	// Backend is where the command runs: local (default), a process on
	// this machine per slot; slurm, a Slurm batch job per evaluation.
	Backend string `yaml:"backend,omitempty"`
	// Slurm configures backend slurm.
	Slurm *SlurmConfig `yaml:"slurm,omitempty"`
}

// SlurmConfig is how backend slurm submits each evaluation's command
// (external.SlurmBackend; docs/cluster.md).
type SlurmConfig struct {
	// Gres is each job's --gres (default gpu:1; none: no --gres).
	Gres string `yaml:"gres,omitempty"`
	// SbatchArgs are more sbatch arguments: partition, CPUs, memory,
	// --time (default: the command's timeout and a minute).
	SbatchArgs []string `yaml:"sbatch_args,omitempty"`
	// Poll is the longest pause between two squeue calls about a job
	// (default 30s).
	Poll time.Duration `yaml:"poll,omitempty"`
}

// SlotList is the slots of an external evaluator: a list of names, or a
// number N of slots named "0" … "N-1".
type SlotList []string

// UnmarshalYAML takes a list of names or a count.
func (s *SlotList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var k int
		if err := n.Decode(&k); err != nil {
			return err
		}
		if k < 1 || k > maxSlots {
			return fmt.Errorf("line %d: slots %d: want 1 to %d slots, or a list of names", n.Line, k, maxSlots)
		}
		*s = slotNames(k)
		return nil
	}
	var names []string
	if err := n.Decode(&names); err != nil {
		return fmt.Errorf("line %d: slots: want a number of slots or a list of names (e.g. [\"0\", \"1\"])", n.Line)
	}
	*s = names
	return nil
}

// LoadConfig reads and checks a config file. Relative paths in it
// (journal, output, model folders, workdir) are taken from the file's folder.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.Probe = rel(c.Probe)
	stem := strings.TrimSuffix(path, filepath.Ext(path))
	if c.Journal == "" {
		c.Journal = stem + ".journal.jsonl"
	} else {
		c.Journal = rel(c.Journal)
	}
	if c.Output == "" {
		c.Output = stem + ".best.yml"
		if c.Multi() {
			c.Output = stem + ".front"
		}
	} else {
		c.Output = rel(c.Output)
	}
	if e := c.Objective.External; e != nil {
		e.BaseModel = rel(e.BaseModel)
		for i := range e.Models {
			e.Models[i] = rel(e.Models[i])
		}
		e.WorkDir = rel(e.WorkDir)
	}
	return c, nil
}

// ParseConfig decodes a config, rejecting unknown keys and bad values with
// an error naming them.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	// Keys whose absence the zero value cannot show.
	var present struct {
		Seed       *uint64 `yaml:"seed"`
		FinalEvals *int    `yaml:"final_evals"`
	}
	if err := yaml.Unmarshal(data, &present); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	if present.Seed == nil {
		return nil, fmt.Errorf("config: seed is missing: every random choice of the run flows from it (any integer ≥ 0, e.g. seed: 1)")
	}
	if present.FinalEvals == nil {
		c.FinalEvals = 1
	}
	return &c, c.Validate()
}

// Validate checks the config without touching the disk.
func (c *Config) Validate() error {
	if c.Algorithm == "" {
		return fmt.Errorf("config: algorithm is missing (known: %s; multi-objective: %s)", strings.Join(algorithms.Names(), ", "), strings.Join(algorithms.MultiNames(), ", "))
	}
	if c.Multi() {
		if _, _, err := algorithms.ConfigureMulti(c.Algorithm, c.Set); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	} else if _, _, err := algorithms.Configure(c.Algorithm, c.Set); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.FinalEvals < 1 {
		return fmt.Errorf("config: final_evals %d must be at least 1", c.FinalEvals)
	}
	o := &c.Objective
	if o.Delay < 0 {
		return fmt.Errorf("config: objective.delay must not be negative")
	}
	if o.Slots < 0 || o.Slots > maxSlots {
		return fmt.Errorf("config: objective.slots %d: want 1 to %d evaluations at once", o.Slots, maxSlots)
	}
	if err := o.checkBlocks(); err != nil {
		return err
	}
	switch o.Kind {
	case "scenario":
		sc, err := bench.LookupScenario(o.Scenario)
		if err != nil {
			return fmt.Errorf("config: objective.scenario: %w", err)
		}
		if c.Budget == 0 && c.BudgetItems == 0 {
			c.Budget = sc.Budget
		}
	case "mock":
		if o.Mock == nil {
			return fmt.Errorf("config: objective.kind mock needs objective.mock")
		}
		if _, err := objectives.New(o.mockSpec(c.Seed)); err != nil {
			return fmt.Errorf("config: objective.mock: %w", err)
		}
	case "external":
		e := o.External
		if e == nil {
			return fmt.Errorf("config: objective.kind external needs objective.external")
		}
		// The genome, the commands, and the seed a random method's merge
		// command must be given; the backend is checked below.
		if err := (&external.Evaluator{Genome: e.Genome, Command: e.Command}).Validate(); err != nil {
			return fmt.Errorf("config: objective.external: %w", err)
		}
		if e.Direction != "" && e.Direction != "maximize" && e.Direction != "minimize" {
			return fmt.Errorf("config: objective.external.direction %q: maximize or minimize", e.Direction)
		}
		if len(e.Slots) == 0 {
			e.Slots = SlotList{"0"}
		}
		if err := e.checkBackend(); err != nil {
			return err
		}
		if len(e.Slots) > maxSlots {
			return fmt.Errorf("config: objective.external.slots lists %d slots: at most %d", len(e.Slots), maxSlots)
		}
		seen := map[string]bool{}
		for _, s := range e.Slots {
			if seen[s] {
				return fmt.Errorf("config: objective.external.slots lists %q twice", s)
			}
			seen[s] = true
		}
	case "mnist", "mnist-multitask":
		if o.MNIST == nil {
			o.MNIST = &MNISTConfig{}
		}
		if o.MNIST.Items < 0 {
			return fmt.Errorf("config: objective.mnist.items must not be negative")
		}
		obj, ok := testbedObjectives[o.MNIST.Testbed]
		if !ok {
			return fmt.Errorf("config: objective.mnist.testbed %q: want mnist (the two-expert merge, the default) or multitask", o.MNIST.Testbed)
		}
		// kind mnist with testbed multitask is kind mnist-multitask: one
		// objective, two spellings, and the code below knows it by kind.
		if o.Kind == "mnist" && obj == "mnist-multitask" {
			o.Kind = "mnist-multitask"
		} else if o.Kind == "mnist-multitask" && obj == "mnist-merge" && o.MNIST.Testbed != "" {
			return fmt.Errorf("config: objective.kind mnist-multitask conflicts with objective.mnist.testbed %q", o.MNIST.Testbed)
		}
	case "mock-tasks":
		if o.MockTasks == nil {
			return fmt.Errorf("config: objective.kind mock-tasks needs objective.mock_tasks")
		}
		if _, err := objectives.NewMultiMock(o.mockTasksConfig(c.Seed)); err != nil {
			return fmt.Errorf("config: objective.mock_tasks: %w", err)
		}
	case "":
		return fmt.Errorf("config: objective.kind is missing (scenario, mock, mock-tasks, mnist, mnist-multitask or external)")
	default:
		return fmt.Errorf("config: objective.kind %q: want scenario, mock, mock-tasks, mnist, mnist-multitask or external", o.Kind)
	}
	if err := c.validateTasks(); err != nil {
		return err
	}
	switch {
	case c.BudgetItems < 0:
		return fmt.Errorf("config: budget_items %d must be at least 1", c.BudgetItems)
	case c.BudgetItems > 0 && c.Budget != 0:
		return fmt.Errorf("config: budget and budget_items both set the budget: give one (budget_items B buys B ÷ items full evaluations)")
	case c.BudgetItems > 0:
		return nil // the objective's items give the evaluations (build)
	}
	if strings.Contains(c.Algorithm, ":") {
		return fmt.Errorf("config: algorithm %s is a fidelity strategy, which spends benchmark items: give budget_items instead of budget", c.Algorithm)
	}
	if c.Budget < 1 {
		return fmt.Errorf("config: budget %d must be at least 1", c.Budget)
	}
	if r := c.reserve(); r > 0 && c.Budget <= r {
		return fmt.Errorf("config: budget %d leaves no evaluation for the search: %s recommends its distribution mean, a point it never evaluated, so %d evaluations (final_evals %d for it and %d for the best observed point) are reserved to score both", c.Budget, c.Algorithm, r, c.FinalEvals, c.FinalEvals)
	}
	return nil
}

// checkBackend checks the backend and its settings.
func (e *ExternalConfig) checkBackend() error {
	switch e.Backend {
	case "", "local":
		if e.Slurm != nil {
			return fmt.Errorf("config: objective.external.slurm is set but the backend is %q: add backend: slurm, or remove the slurm block", cmp.Or(e.Backend, "local"))
		}
		e.Backend = "" // the default spelt out is the same run (Hash)
		return nil
	case "slurm":
	default:
		return fmt.Errorf("config: objective.external.backend %q: local or slurm", e.Backend)
	}
	if e.WorkDir == "" {
		return fmt.Errorf("config: objective.external.backend slurm needs workdir: a folder on storage every node sees, where evomerge writes the merged models the jobs score")
	}
	if err := e.slurmBackend("").Validate(&e.Command); err != nil {
		return fmt.Errorf("config: objective.external.%v", err)
	}
	return nil
}

// slurmBackend is the backend the config describes, its jobs named
// name+INDEX.
func (e *ExternalConfig) slurmBackend(name string) *external.SlurmBackend {
	s := e.Slurm
	if s == nil {
		s = &SlurmConfig{}
	}
	return &external.SlurmBackend{Gres: s.Gres, Args: s.SbatchArgs, Poll: s.Poll, Name: name}
}

// maxSlots bounds the evaluations in flight: each holds a goroutine and,
// for an external evaluator, a merged model on disk.
const maxSlots = 1024

// checkBlocks refuses settings that the objective's kind would ignore: a
// block that silently does nothing hides a mistyped kind.
func (o *ObjectiveConfig) checkBlocks() error {
	set := []struct {
		key     string
		owners  []string
		present bool
	}{
		{"scenario", []string{"scenario"}, o.Scenario != ""},
		{"mock", []string{"mock"}, o.Mock != nil},
		{"external", []string{"external"}, o.External != nil},
		{"mnist", []string{"mnist", "mnist-multitask"}, o.MNIST != nil},
		{"mock_tasks", []string{"mock-tasks"}, o.MockTasks != nil},
		{"delay", []string{"scenario", "mock", "mock-tasks", "mnist"}, o.Delay != 0},
		{"slots", []string{"scenario", "mock", "mock-tasks", "mnist", "mnist-multitask"}, o.Slots != 0},
	}
	for _, b := range set {
		if !b.present || o.Kind == "" || slices.Contains(b.owners, o.Kind) {
			continue
		}
		return fmt.Errorf("config: objective.kind %s does not use objective.%s (it belongs to kind %s): remove it or change the kind", o.Kind, b.key, strings.Join(b.owners, ", "))
	}
	return nil
}

// reserve is how many evaluations of the budget are kept back from the
// optimiser to score its recommendation and the best observed point with
// fresh evaluations: 2·FinalEvals for a method whose recommendation is a
// point it never evaluated (the configured optimiser says so through
// algorithms.UnevaluatedRecommender: cmaes with recommend=best does not),
// none for methods that recommend an evaluated point.
func (c *Config) reserve() int {
	if c.Multi() {
		return 0 // the front is of evaluated points: nothing to score afresh
	}
	opt, _, err := algorithms.Configure(c.Algorithm, c.Set)
	if err != nil {
		return 0
	}
	if u, ok := opt.(algorithms.UnevaluatedRecommender); !ok || !u.RecommendsUnevaluated() {
		return 0
	}
	return 2 * c.FinalEvals
}

func (o *ObjectiveConfig) mockSpec(seed uint64) objectives.Spec {
	m := o.Mock
	return objectives.Spec{Name: "mock", Dim: m.Dim, Noise: m.Noise, Items: m.Items, Landscape: m.Landscape,
		Width: m.Width, FailRate: m.FailRate, Optimum: m.Optimum, Seed: seed, ItemModel: m.ItemModel}
}

// Hash identifies what a journal was written for: resuming with another
// algorithm, seed, budget or objective is refused.
func (c *Config) Hash() string {
	o := c.Objective
	o.Delay = 0 // pacing changes no result
	if e := o.External; e != nil && e.Slurm != nil {
		ec, sc := *e, *e.Slurm
		sc.Poll = 0
		ec.Slurm, o.External = &sc, &ec
	}
	b, _ := yaml.Marshal(struct {
		A     string
		S     map[string]string
		B     int
		Seed  uint64
		Final int
		O     ObjectiveConfig
		// Left out when 0 or empty, so configs without them keep
		// their hash.
		Items int                `yaml:",omitempty"`
		F     map[string]float64 `yaml:",omitempty"`
		R     map[string]float64 `yaml:",omitempty"`
		Probe string             `yaml:",omitempty"`
		PM    *probeMode         `yaml:",omitempty"`
	}{c.Algorithm, c.Set, c.Budget, c.Seed, c.FinalEvals, o, c.BudgetItems, c.Floor, c.Reference, probeName(c.Probe), c.probe})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// absPath is p made absolute ("" stays "").
func absPath(p string) string {
	if p == "" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// probeName is the probe journal's file name, or "" without one: the
// hash follows the journal, not the folder it was moved to.
func probeName(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Base(p)
}

// ObjectiveHash identifies the objective alone (its block and the seed
// that draws whatever it draws): a probe journal is reused only by a run
// of the objective it probed.
func (c *Config) ObjectiveHash() string {
	o := c.Objective
	o.Delay, o.Slots = 0, 0 // pacing changes no score
	if o.Kind == "mnist-multitask" {
		// One objective, two spellings (kind mnist with testbed
		// multitask): hashed as the latter, so a probe made under either
		// serves a config written in the other.
		m := MNISTConfig{}
		if o.MNIST != nil {
			m = *o.MNIST
		}
		o.Kind, m.Testbed = "mnist", "multitask"
		o.MNIST = &m
	}
	if e := o.External; e != nil {
		ec := *e
		ec.Slots, ec.Slurm, ec.Backend, ec.WorkDir = nil, nil, "", ""
		// The same models, wherever the config naming them lies.
		ec.BaseModel = absPath(ec.BaseModel)
		ec.Models = make([]string, len(e.Models))
		for i, m := range e.Models {
			ec.Models[i] = absPath(m)
		}
		o.External = &ec
	}
	b, _ := yaml.Marshal(struct {
		Seed uint64
		O    ObjectiveConfig
	}{c.Seed, o})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Multi reports whether the config runs a multi-objective algorithm: its
// objective must score several tasks, and its output is a front.
func (c *Config) Multi() bool { return algorithms.IsMulti(c.Algorithm) }

// Tasks names the objective's tasks, nil for an objective of one score.
func (c *Config) Tasks() []string {
	o := c.Objective
	switch {
	case o.Kind == "mock-tasks" && o.MockTasks != nil:
		if len(o.MockTasks.Tasks) > 0 {
			return o.MockTasks.Tasks
		}
		return []string{"t1", "t2"}
	case o.Kind == "external" && o.External != nil:
		return o.External.TaskNames()
	case o.Kind == "mnist-multitask":
		return realmerge.MultiTaskNames()
	}
	return nil
}

// validateTasks checks what depends on the objective's tasks: a
// multi-objective algorithm needs several, floors and a reference point
// name them and need a multi-objective algorithm, and external weights
// name the command's tasks.
func (c *Config) validateTasks() error {
	tasks := c.Tasks()
	if c.Multi() && len(tasks) < 2 {
		return fmt.Errorf("config: algorithm %s is multi-objective: the objective must score several tasks (kind mock-tasks, mnist-multitask, or kind external with tasks:)", c.Algorithm)
	}
	if c.Multi() {
		// The multi-objective run (RunMulti) spends whole evaluations and
		// runs its commands on this machine: it has no item budget and no
		// Slurm jobs in its journal to resume.
		if c.BudgetItems > 0 {
			return fmt.Errorf("config: budget_items with multi-objective algorithm %s: a multi-objective run spends whole evaluations; give budget (evaluations) instead", c.Algorithm)
		}
		if e := c.Objective.External; e != nil && e.Backend == "slurm" {
			return fmt.Errorf("config: objective.external.backend slurm with multi-objective algorithm %s: a multi-objective run evaluates on this machine's slots only; use backend local (slots: the devices)", c.Algorithm)
		}
	}
	for key, m := range map[string]map[string]float64{"floor": c.Floor, "reference": c.Reference} {
		if len(m) > 0 && !c.Multi() {
			return fmt.Errorf("config: %s applies to multi-objective algorithms (%s): a weighted sum cannot keep one", key, strings.Join(algorithms.MultiNames(), ", "))
		}
		for n, v := range m {
			if !slices.Contains(tasks, n) {
				return fmt.Errorf("config: %s names task %q; the objective's tasks are %s", key, n, strings.Join(tasks, ", "))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("config: %s of task %s is %g, not a finite score", key, n, v)
			}
		}
	}
	if e := c.Objective.External; e != nil && len(e.Weights) > 0 {
		if len(tasks) == 0 {
			return fmt.Errorf("config: objective.external.weights needs tasks: to weigh")
		}
		for n, w := range e.Weights {
			if !slices.Contains(tasks, n) {
				return fmt.Errorf("config: objective.external.weights names task %q; the tasks are %s", n, strings.Join(tasks, ", "))
			}
			if !(w >= 0) || math.IsInf(w, 0) {
				return fmt.Errorf("config: objective.external.weights of task %s is %g: want a finite weight ≥ 0", n, w)
			}
		}
	}
	return nil
}

func (o *ObjectiveConfig) mockTasksConfig(seed uint64) objectives.MultiMockConfig {
	m := o.MockTasks
	c := objectives.MultiMockConfig{Dim: m.Dim, Names: m.Tasks, Conflict: m.Conflict, Widths: m.Widths, Items: m.Items,
		Noise: m.Noise, FailRate: m.FailRate, Weights: m.Weights, Seed: seed}
	if c.Names == nil {
		c.Tasks = 2
	}
	return c
}

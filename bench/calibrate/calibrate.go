package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/evolve"
	"github.com/evomerge/evomerge/bench/stats"
)

// Options configure a calibration.
type Options struct {
	// Config is the evolve config whose objective, budget and seed are
	// calibrated.
	Config string
	// Out is the folder of the outputs (default: the config's folder's
	// calibrate/); an existing non-empty one is refused unless Force.
	Out   string
	Force bool
	// Probe is the probe's evaluations (0: ProbeSize of the budget).
	Probe int
	// Seeds is the runs per optimiser and setting on the fitted mock
	// (0: 10); Workers the runs in flight (0: GOMAXPROCS; results do not
	// depend on it).
	Seeds, Workers int
	// Algs are the optimisers ranked (nil: every registered
	// single-objective one), each over its own tuning grid.
	Algs []string
	// Progress receives the probe's lines; nil discards them.
	Progress io.Writer
}

// ProbeSize is the default probe: 5% of the budget, at least 20
// evaluations.
func ProbeSize(budget int) int { return max(20, int(math.Ceil(0.05*float64(budget)))) }

// Design splits a probe of n evaluations: m = 2 points (the two best
// random recipes, as bench's re-evaluation policy picks them) re-scored
// k = max(2, n/10) times each, and n − m·k random recipes.
func Design(n int) (random, m, k int) {
	k = max(2, n/10)
	return n - 2*k, 2, k
}

// Ranked is one optimiser and setting on the fitted mock: the true score
// of its recommendation at the budget, median and 10th/90th percentiles
// over the seeds (a failed run counts as −∞).
type Ranked struct {
	Algorithm string            `json:"algorithm"`
	Settings  map[string]string `json:"settings"`
	// Defaults marks the algorithm's default settings; SameAs lists grid
	// settings that ran exactly as the defaults did.
	Defaults bool                `json:"defaults"`
	SameAs   []map[string]string `json:"same_as,omitempty"`
	Median   float64             `json:"median"`
	P10      float64             `json:"p10"`
	P90      float64             `json:"p90"`
	Seeds    int                 `json:"seeds"`
}

// Label prints the row as ALG name=value….
func (r Ranked) Label() string {
	l := bench.TuneRow{Setting: r.Settings, IsDefault: r.Defaults, SameAs: r.SameAs}.Label()
	return r.Algorithm + " " + l
}

// Calibration is what calibrate measured, fitted and ranked; it is
// written as calibration.json.
type Calibration struct {
	Config    string         `json:"config"`
	Budget    int            `json:"budget"`
	ProbeSize int            `json:"probe_size"`
	Remainder int            `json:"remainder"`
	Seed      uint64         `json:"seed"`
	Seeds     int            `json:"seeds"`
	Estimates *Estimates     `json:"estimates"`
	Scenario  ScenarioRecord `json:"scenario"`
	// TargetRule says how the scenario's target was set.
	TargetRule string `json:"target_rule"`
	// Ranking is every optimiser and setting, best first: by median, then
	// 10th percentile, then name.
	Ranking []Ranked `json:"ranking"`
}

// ScenarioRecord is the fitted scenario as calibration.json holds it.
type ScenarioRecord struct {
	Name       string  `json:"name"`
	Budget     int     `json:"budget"`
	Target     float64 `json:"target"`
	Dim        int     `json:"dim"`
	Landscape  string  `json:"landscape"`
	Width      float64 `json:"width"`
	Noise      float64 `json:"noise"`
	Items      int     `json:"items"`
	ItemModel  string  `json:"item_model,omitempty"`
	FailRate   float64 `json:"fail_rate,omitempty"`
	ObjectSeed uint64  `json:"objective_seed"`
}

// Result is a finished calibration and where its files are.
type Result struct {
	Calibration
	Out          string
	ScenarioPath string
	EvolvePath   string
}

var namePart = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Run probes the config's objective, fits the mock, ranks the optimisers
// on it and writes the folder: scenario.yml, evolve.yml, probe.jsonl
// (with the probe's progress page), report.md and calibration.json. The
// files are written into a temporary folder beside Out and moved into
// Out at the end, so Out never holds a partial calibration.
func Run(ctx context.Context, o Options) (*Result, error) {
	cfg, err := evolve.LoadConfig(o.Config)
	if err != nil {
		return nil, err
	}
	if cfg.Multi() {
		return nil, fmt.Errorf("%s: algorithm %s is multi-objective: calibrate ranks single-objective optimisers on one score", o.Config, cfg.Algorithm)
	}
	if cfg.BudgetItems > 0 {
		return nil, fmt.Errorf("%s: budget_items: calibrate counts whole evaluations; give budget instead", o.Config)
	}
	if cfg.Probe != "" {
		return nil, fmt.Errorf("%s already names a probe (%s): calibrate the config it came from", o.Config, cfg.Probe)
	}
	if e := cfg.Objective.External; e != nil && e.Direction == "minimize" {
		return nil, fmt.Errorf("%s: objective.external.direction minimize: calibrate fits the mock's score, a percentage to maximise, and cannot map a loss onto it", o.Config)
	}
	n := o.Probe
	if n == 0 {
		n = ProbeSize(cfg.Budget)
	}
	if n < 12 {
		return nil, fmt.Errorf("--probe %d: at least 12 evaluations (random recipes and re-evaluations of two of them)", n)
	}
	random, m, k := Design(n)
	remainder := cfg.Budget - n
	if remainder < 10 {
		return nil, fmt.Errorf("%s: budget %d leaves %d evaluations after a probe of %d: give a larger budget or a smaller --probe", o.Config, cfg.Budget, remainder, n)
	}
	seeds := o.Seeds
	if seeds == 0 {
		seeds = 10
	}
	if seeds < 2 {
		return nil, fmt.Errorf("--seeds %d: at least 2 runs per setting for a median and its spread", seeds)
	}
	if o.Workers < 0 {
		return nil, fmt.Errorf("--workers %d: must not be negative", o.Workers)
	}
	algs := o.Algs
	if algs == nil {
		algs = algorithms.Names()
	}
	for _, a := range algs {
		if _, err := algorithms.Lookup(a); err != nil {
			return nil, fmt.Errorf("--algs: %w", err)
		}
	}
	out := o.Out
	if out == "" {
		out = filepath.Join(filepath.Dir(o.Config), "calibrate")
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 && !o.Force {
		return nil, fmt.Errorf("output folder %s exists and is not empty: give another --out, or --force to replace the files calibrate writes", out)
	} else if err == nil && o.Force {
		for _, f := range outputFiles {
			if err := os.Remove(filepath.Join(out, f)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// 1. The probe, run by evolve's engine and journaled.
	pc, err := evolve.NewProbe(cfg, n, m, k, filepath.Join(tmp, "probe.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Config, err)
	}
	res, data, err := evolve.RunProbe(ctx, pc, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	items, fixed := pc.ItemsPerEvaluation(res)
	// 2. The estimates and 3. the fitted mock.
	est, err := Measure(data, res.Box, items, fixed, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", o.Config, err)
	}
	spec := est.Spec(cfg.Seed)
	bestU := min(100*est.BestProbe/est.Attainable, 100)
	target := math.Round((bestU + 100) / 2)
	stem := strings.TrimSuffix(filepath.Base(o.Config), filepath.Ext(o.Config))
	name := "calibrated-" + strings.Trim(namePart.ReplaceAllString(stem, "-"), "-.")
	if len(name) > 64 {
		name = name[:64]
	}
	sc := bench.Scenario{Name: name, Objective: spec, Budget: remainder, Target: target,
		From: fmt.Sprintf("evomerge calibrate of %s: %d probe evaluations (%d random recipes, %d re-scored %d times)", filepath.Base(o.Config), n, random, m, k)}
	// 4. Every optimiser and setting on the fitted mock.
	ranking, err := rank(ctx, sc, algs, seeds, o.Workers, cfg.Seed)
	if err != nil {
		return nil, err
	}
	cal := Calibration{Config: o.Config, Budget: cfg.Budget, ProbeSize: n, Remainder: remainder, Seed: cfg.Seed, Seeds: seeds,
		Estimates: est, Ranking: ranking,
		TargetRule: fmt.Sprintf("halfway from the best probe point's score on the mock's scale (%.3g) to the optimum (100)", bestU),
		Scenario: ScenarioRecord{Name: sc.Name, Budget: sc.Budget, Target: sc.Target, Dim: spec.Dim, Landscape: spec.Landscape, Width: spec.Width,
			Noise: spec.Noise, Items: spec.Items, ItemModel: spec.ItemModel, FailRate: spec.FailRate, ObjectSeed: spec.Seed}}
	// 5. The files.
	if err := bench.WriteScenarioFile(filepath.Join(tmp, "scenario.yml"), sc); err != nil {
		return nil, err
	}
	evolveText, err := evolveConfig(o.Config, cfg, ranking[0], remainder, seeds)
	if err != nil {
		return nil, err
	}
	evolvePath := filepath.Join(tmp, "evolve.yml")
	if err := bench.WriteFileAtomic(evolvePath, evolveText); err != nil {
		return nil, err
	}
	back, err := evolve.LoadConfig(evolvePath)
	if err != nil {
		return nil, fmt.Errorf("the written evolve.yml does not load (a bug): %w", err)
	}
	if back.ObjectiveHash() != cfg.ObjectiveHash() {
		return nil, fmt.Errorf("the written evolve.yml describes another objective than %s (a bug)", o.Config)
	}
	js, err := json.MarshalIndent(jsonSafe(cal), "", "  ")
	if err != nil {
		return nil, err
	}
	if err := bench.WriteFileAtomic(filepath.Join(tmp, "calibration.json"), append(js, '\n')); err != nil {
		return nil, err
	}
	if err := bench.WriteFileAtomic(filepath.Join(tmp, "report.md"), []byte(Report(cal, sc))); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return nil, err
		}
	}
	return &Result{Calibration: cal, Out: out, ScenarioPath: filepath.Join(out, "scenario.yml"), EvolvePath: filepath.Join(out, "evolve.yml")}, nil
}

// outputFiles are the files calibrate writes (--force replaces them).
var outputFiles = []string{"scenario.yml", "evolve.yml", "probe.jsonl", "probe.progress.html", "probe.best.yml", "report.md", "calibration.json"}

// jsonSafe replaces infinite scores (runs that failed) by the worst finite
// stand-in JSON can hold: −1 (a score below any the mock gives).
func jsonSafe(c Calibration) Calibration {
	r := make([]Ranked, len(c.Ranking))
	for i, x := range c.Ranking {
		for _, p := range []*float64{&x.Median, &x.P10, &x.P90} {
			if math.IsInf(*p, 0) || math.IsNaN(*p) {
				*p = -1
			}
		}
		r[i] = x
	}
	c.Ranking = r
	return c
}

// rank runs every algorithm over its own tuning grid (tune's machinery:
// the same seeds for every setting; an algorithm without a grid runs its
// defaults) on the scenario and ranks all rows best first: by median
// recommended true score, then by 10th percentile, then by name (a
// stated, deterministic tie rule).
func rank(ctx context.Context, sc bench.Scenario, algs []string, seeds, workers int, seed uint64) ([]Ranked, error) {
	base := bench.Comparison{Scenario: sc.Name, Objective: sc.Objective, Seeds: seeds, Seed: seed, Budget: sc.Budget, Target: sc.Target, Parallel: workers}
	var all []Ranked
	for _, a := range algs {
		e, _ := algorithms.Lookup(a)
		if len(e.Grid) == 0 {
			c := base
			c.Algorithms = []string{a}
			runs, err := c.Run(ctx)
			if err != nil {
				return nil, err
			}
			var v []float64
			for _, r := range runs {
				x := r.RecommendTrue
				if math.IsNaN(x) {
					x = math.Inf(-1)
				}
				v = append(v, x)
			}
			mi, err := stats.Median(v, 0.95)
			if err != nil {
				return nil, err
			}
			all = append(all, Ranked{Algorithm: a, Settings: map[string]string{}, Defaults: true, Median: mi.Median,
				P10: stats.Quantile(v, 0.1), P90: stats.Quantile(v, 0.9), Seeds: len(v)})
			continue
		}
		t := &bench.Tuning{Algorithm: a, Base: base}
		rows, err := t.Run(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("tuning %s on the fitted mock: %w", a, err)
		}
		for _, r := range rows {
			s := r.Setting
			if s == nil {
				s = map[string]string{}
			}
			all = append(all, Ranked{Algorithm: a, Settings: s, Defaults: r.IsDefault, SameAs: r.SameAs, Median: r.RecTrue.Median, P10: r.P10, P90: r.P90, Seeds: r.Runs})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Median != b.Median {
			return a.Median > b.Median
		}
		if a.P10 != b.P10 {
			return a.P10 > b.P10
		}
		return a.Label() < b.Label()
	})
	return all, nil
}

// evolveConfig is the user's config with the recommended algorithm and
// settings, the budget after the probe, its own journal and output, and
// the probe to reuse; everything else is kept as written (comments too),
// except relative model and workdir paths, made absolute so the file runs
// from the calibration folder. A comment header states the prediction.
func evolveConfig(path string, cfg *evolve.Config, best Ranked, remainder, seeds int) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	root := doc.Content[0]
	setKey(root, "algorithm", best.Algorithm)
	if len(best.Settings) > 0 {
		setKey(root, "set", best.Settings)
	} else {
		deleteKey(root, "set")
	}
	setKey(root, "budget", remainder)
	setKey(root, "journal", "run.journal.jsonl")
	setKey(root, "output", "best.yml")
	setKey(root, "probe", "probe.jsonl")
	dir := filepath.Dir(path)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		a, err := filepath.Abs(filepath.Join(dir, p))
		if err != nil {
			return p
		}
		return a
	}
	if ext := findKey(findKey(root, "objective"), "external"); ext != nil {
		for _, key := range []string{"base_model", "workdir"} {
			if v := findKey(ext, key); v != nil && v.Kind == yaml.ScalarNode {
				v.Value = abs(v.Value)
			}
		}
		if v := findKey(ext, "models"); v != nil && v.Kind == yaml.SequenceNode {
			for _, m := range v.Content {
				m.Value = abs(m.Value)
			}
		}
	}
	body, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# evomerge calibrate of %s\n", filepath.Base(path))
	fmt.Fprintf(&b, "# recommended: %s\n", best.Label())
	fmt.Fprintf(&b, "# predicted on the fitted mock (scenario.yml, in the mock's units: its optimum scores 100, not your objective's scale):\n")
	fmt.Fprintf(&b, "#   true score of the recommendation at budget %d: median %.3g, 10th–90th percentile %.3g–%.3g over %d seeds\n", remainder, best.Median, best.P10, best.P90, seeds)
	fmt.Fprintf(&b, "# budget is what the probe left of %d; the probe's best point competes with the run's pick (probe: probe.jsonl)\n", cfg.Budget)
	b.Write(body)
	return []byte(b.String()), nil
}

func findKey(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, key string, v any) {
	var n yaml.Node
	_ = n.Encode(v)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &n
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &n)
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// Report is report.md: the measurements, the fitted scenario and the ten
// best optimisers and settings on it.
func Report(c Calibration, sc bench.Scenario) string {
	e := c.Estimates
	var b strings.Builder
	fmt.Fprintf(&b, "# evomerge calibrate: %s\n\n", filepath.Base(c.Config))
	fmt.Fprintf(&b, "Budget %d: a probe of %d evaluations (%d random recipes; the %d best re-scored %d times each), %d left for the run. Seed %d.\n\n",
		c.Budget, c.ProbeSize, e.Random, e.RepeatPoints, e.Repeats, c.Remainder, c.Seed)
	b.WriteString("## Measurements (objective units unless said)\n\n")
	b.WriteString(Describe(e))
	fmt.Fprintf(&b, "\n## Fitted scenario (scenario.yml)\n\n%s: %s. Target %g: %s.\n\n", sc.Name, sc.Describe(), sc.Target, c.TargetRule)
	fmt.Fprintf(&b, "Width %g, noise σ %g (mock units), items %d %s.\n\n", sc.Objective.Width, sc.Objective.Noise, sc.Objective.Items, sc.Objective.ItemModel)
	fmt.Fprintf(&b, "## Optimisers on the fitted mock (top 10 of %d; true score of the recommendation at budget %d, %d seeds; mock units)\n\n", len(c.Ranking), c.Remainder, c.Seeds)
	b.WriteString("| rank | optimiser and settings | median | p10 | p90 |\n|---:|---|---:|---:|---:|\n")
	for i, r := range c.Ranking[:min(10, len(c.Ranking))] {
		fmt.Fprintf(&b, "| %d | %s | %.2f | %.2f | %.2f |\n", i+1, r.Label(), r.Median, r.P10, r.P90)
	}
	b.WriteString("\nRanked by median, then 10th percentile, then name. The figures are on the fitted mock, in its units; the real run's score is its own.\n")
	return b.String()
}

// Describe prints the estimates, one per line.
func Describe(e *Estimates) string {
	var b strings.Builder
	det := ""
	if e.Deterministic {
		det = " (deterministic: re-scoring gives the same score)"
	}
	fmt.Fprintf(&b, "- evaluation noise: pooled sd of re-evaluations %.4g%s\n", e.NoiseSD, det)
	fmt.Fprintf(&b, "- random recipes: mean %.4g, sd %.4g; best probe point (mean of fresh scores) %.4g; ratio %.3f\n", e.RandomMean, e.RandomSD, e.BestProbe, e.Ratio)
	fmt.Fprintf(&b, "- fitted width %.3g: a random recipe keeps %.0f%% of the attainable score, estimated at %.4g\n", e.Width, 100*e.KeptShare, e.Attainable)
	sens := make([]string, len(e.Sensitivity))
	for i, s := range e.Sensitivity {
		sens[i] = fmt.Sprintf("%.2f", s)
	}
	fmt.Fprintf(&b, "- per-gene sensitivity |ρ|: %s\n", strings.Join(sens, " "))
	fmt.Fprintf(&b, "- concentration (max/mean sensitivity) %.2f, threshold for ill %.2f; boundary share %.2f, threshold %.2f: landscape %s\n",
		e.Concentration, e.ConcentrationThreshold, e.BoundaryShare, e.BoundaryThreshold, e.Landscape)
	if e.Items > 0 {
		kind := "drawn afresh"
		if e.ItemsFixed {
			kind = "a fixed list"
		}
		fmt.Fprintf(&b, "- items per evaluation: %d, %s\n", e.Items, kind)
	}
	fmt.Fprintf(&b, "- noise beyond the items (mock units): %.3g; failure rate %.2g\n", e.NoiseMock, e.FailRate)
	for _, n := range e.Notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	return b.String()
}

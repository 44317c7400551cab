package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/objectives"
)

func init() {
	commands["bench"] = command{"compare optimisers, every algorithm × seed concurrently, on one objective", runBench}
}

// benchFlags are the flags of "evomerge bench"; their names are a
// contract with scripts.
type benchFlags struct {
	algs, objective, format string
	dim, items, budget      int
	seeds, parallel         int
	noise, target           optFloat
	seed                    uint64
	optimum                 floatList
	sets                    settings
	evalTimeout             time.Duration
	progress                bool
	landscape, noiseModel   string
	failRate, width         float64
	scenario, journal       string
	suite, listScenarios    bool
	resume                  bool
	report                  string
	force                   bool
	opts                    options
	reeval                  bench.Reeval
	slots                   int
	evalTime                bench.EvalTime
	shard                   bench.Shard
	itemBudget              int
	itemModel               string
	// scenarioFile is --scenario-file; fileScenario the scenario read
	// from it, which comparison uses as it uses a preset.
	scenarioFile string
	fileScenario *bench.Scenario
}

// options collects repeatable --opt name=value flags.
type options map[string]string

func (o options) String() string { return fmt.Sprint(map[string]string(o)) }

func (o options) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want name=value", v)
	}
	o[k] = val
	return nil
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.algs, "algs", strings.Join(algorithms.DefaultNames(), ","), "comma-separated algorithms, or all (known: "+strings.Join(algorithms.Names(), ", ")+")")
	b.registerObjective(fs)
	fs.IntVar(&b.seeds, "seeds", 25, "runs per algorithm")
	fs.StringVar(&b.format, "format", "table", "output: "+strings.Join(bench.Formats, "|"))
	b.sets = map[string]map[string]string{}
	fs.Var(b.sets, "set", "hyperparameter alg.param=value (repeatable; unknown names are an error)")
	fs.StringVar(&b.scenario, "scenario", "", "run a preset scenario (see --list-scenarios); sets objective, dimension, items, landscape, budget and target")
	fs.BoolVar(&b.suite, "suite", false, "run every scenario")
	b.registerScenarioFile(fs)
	fs.BoolVar(&b.listScenarios, "list-scenarios", false, "list the scenarios and exit")
	fs.StringVar(&b.journal, "journal", "", "append every run's record (JSON lines) to this file as it finishes")
	fs.BoolVar(&b.resume, "resume", false, "with --journal: skip the runs the journal already holds and continue it")
	fs.StringVar(&b.report, "report", "", "with --journal: afterwards, rebuild the report of every run in the journal into this folder: README.md (tables, plots/) and the same page as one self-contained index.html")
	fs.BoolVar(&b.force, "force", false, "with --report: write into the folder even if it holds files no report wrote")
	fs.IntVar(&b.slots, "slots", 1, "evaluation slots (GPUs) per run: candidates in flight at once; more than 1 needs --eval-time")
	fs.Var(&b.evalTime, "eval-time", "simulate a cluster: each evaluation takes a duration drawn from the run's seed, `fixed:5m or lognormal:median=5m,sigma=0.5`, on a simulated clock (nothing sleeps; results do not depend on --parallel); records simulated time to target, at budget and slot utilisation")
	fs.IntVar(&b.itemBudget, "budget-items", 0, "give every run this many benchmark `items` instead of --budget evaluations: scoring a candidate on n items costs n (the objective must be scored on items, e.g. the mock with --items); plain methods score every candidate on all items, fidelity strategies (STRATEGY:METHOD, e.g. sh:cmaes) choose")
	fs.Var(&b.shard, "shard", "run only shard `i/N` of the runs (0 ≤ i < N), chosen by a hash of each run's identity, so a run's seed and result do not depend on N; N machines run shards 0/N … N-1/N with their own --journal, and evomerge report builds the page from all the journals")
	fs.BoolVar(&b.progress, "progress", term.IsTerminal(int(os.Stderr.Fd())), "show progress on stderr (default: when stderr is a terminal)")
}

// registerObjective registers the flags that describe the objective, the
// budget and the seeding, shared by bench and tune.
func (b *benchFlags) registerObjective(fs *flag.FlagSet) {
	fs.StringVar(&b.objective, "objective", "mock", "objective: "+strings.Join(objectives.Names(), "|"))
	fs.IntVar(&b.dim, "dim", 4, "dimension")
	fs.Var(&b.noise, "noise", "`σ` of additive Gaussian noise on every observed score (default: 1 for the mock, as the original simulator; 0 for the classic functions and registered objectives, whose noise is their own)")
	fs.IntVar(&b.items, "items", 0, "score as an accuracy on this many benchmark items (mock: binomial noise; mnist-merge: sampled test images)")
	fs.Var(&b.optimum, "optimum", "mock only: the optimum, comma-separated in [0,1] (default: drawn from --seed)")
	fs.IntVar(&b.budget, "budget", 1000, "evaluations per run")
	fs.Uint64Var(&b.seed, "seed", 1, "master seed: the objective and every run's seed derive from it")
	fs.Var(&b.target, "target", "the `target` in the objective's terms: a score to reach (mock: default 99) or a precision f − f_opt (classic functions: default 1e-8)")
	fs.IntVar(&b.parallel, "parallel", 0, "runs in flight; 0 means GOMAXPROCS (results do not depend on it)")
	fs.DurationVar(&b.evalTimeout, "eval-timeout", time.Minute, "a run whose evaluation takes longer ends with an error; 0 means no limit")
	fs.StringVar(&b.landscape, "landscape", "", "mock only: landscape shape, one of "+strings.Join(objectives.Landscapes, "|")+" (default peak)")
	fs.StringVar(&b.noiseModel, "noise-model", "", "mock only: COCO noise model on the regret, one of "+strings.Join(objectives.NoiseModels, "|"))
	fs.Float64Var(&b.failRate, "fail-rate", 0, "mock only: probability that an evaluation fails like a crashed merge (penalised, the run goes on)")
	fs.Float64Var(&b.width, "width", 0, "mock only: peak width per coordinate (0 means 0.25, the pycma set-up; scenarios use 0.5)")
	fs.StringVar(&b.itemModel, "item-model", "", "mock only, with items: how they are drawn, sampled (afresh for every evaluation, the default) or fixed[:RHO] (one ordered list, as lm-eval's --limit takes a task's first items; RHO, default 0.8, is how strongly an item's difficulty is shared by all candidates)")
	b.opts = options{}
	fs.Var(b.opts, "opt", "option of a registered objective, name=value (repeatable), e.g. --objective mnist-merge --opt method=ties")
	fs.Var(&b.reeval, "reeval", "recommendation policy \"best after re-evaluation\": `TOPxTIMES` (e.g. 3x4) keeps TOP·TIMES evaluations of the budget to re-evaluate the TOP best observed points TIMES each, and recommends the best mean")
}

// comparison builds the comparison the flags describe; scenario, when not
// empty, replaces the objective flags with a preset.
func (b *benchFlags) comparison(stderr io.Writer, set map[string]bool, scenario string) (*bench.Comparison, bench.Header, error) {
	var h bench.Header
	algs := algorithms.Names()
	if b.algs != "all" {
		var err error
		if algs, err = nameList("algs", b.algs); err != nil {
			return nil, h, err
		}
	}
	for _, a := range algs {
		if _, err := algorithms.Lookup(a); err != nil {
			return nil, h, fmt.Errorf("--algs: %w", err)
		}
	}
	if b.itemBudget < 0 {
		return nil, h, fmt.Errorf("--budget-items %d: want a positive number of items", b.itemBudget)
	}
	if set["budget-items"] && set["budget"] {
		return nil, h, fmt.Errorf("--budget and --budget-items both set the budget: give one (--budget-items B gives B items, i.e. B ÷ items full evaluations)")
	}
	if _, _, err := objectives.ParseItemModel(b.itemModel); err != nil {
		return nil, h, fmt.Errorf("--item-model: %w", err)
	}
	itemModel := b.itemModel
	if itemModel == "sampled" {
		itemModel = "" // the default: one cell, whichever way it is spelled
	}
	if b.parallel < 0 {
		return nil, h, fmt.Errorf("--parallel %d: must not be negative", b.parallel)
	}
	if b.evalTimeout < 0 {
		return nil, h, fmt.Errorf("--eval-timeout %v: must not be negative (0 means no limit)", b.evalTimeout)
	}
	// Added noise is the mock's, as in the original simulator; the classic
	// functions are deterministic test functions and registered objectives
	// bring their own noise, so neither gets any unless asked.
	noise := b.noise.or(0)
	if b.objective == "mock" {
		noise = b.noise.or(1)
	}
	spec := objectives.Spec{Name: b.objective, Dim: b.dim, Noise: noise, Items: b.items, Optimum: b.optimum, Seed: b.seed,
		Landscape: b.landscape, NoiseModel: b.noiseModel, FailRate: b.failRate, Width: b.width, ItemModel: itemModel}
	if len(b.opts) > 0 {
		spec.Options = b.opts
	}
	if !set["dim"] && !contains([]string{"mock", "sphere", "ellipsoid", "rosenbrock", "rastrigin"}, b.objective) {
		spec.Dim = 0 // a registered objective knows its own dimension
	}
	budget := b.budget
	target := b.target.or(math.NaN())
	if scenario != "" {
		for _, name := range []string{"objective", "dim", "items", "optimum", "landscape", "noise-model", "fail-rate", "budget", "noise", "width", "opt"} {
			if !set[name] {
				continue
			}
			if !set["scenario"] && !b.suite {
				// tune's default scenario: the user never asked for it.
				return nil, h, fmt.Errorf("--%s: this command runs on the scenario %s unless told otherwise, and the scenario sets the objective; to use your objective flags instead, add --scenario \"\" (e.g. --scenario \"\" --objective sphere --dim 4)", name, scenario)
			}
			if b.fileScenario != nil {
				return nil, h, fmt.Errorf("--%s conflicts with --scenario-file %s, which sets it", name, b.scenarioFile)
			}
			return nil, h, fmt.Errorf("--%s conflicts with --scenario/--suite, which set it", name)
		}
		sc, err := b.lookupScenario(scenario)
		if err != nil {
			return nil, h, err
		}
		spec = sc.Objective
		spec.Seed = b.seed
		spec.ItemModel = itemModel
		budget = sc.Budget
		if math.IsNaN(target) {
			target = sc.Target
		}
	}
	f, err := objectives.New(spec)
	if err != nil {
		return nil, h, err
	}
	spec.Dim = f.Dim()
	if math.IsNaN(target) {
		target = f.DefaultTarget()
	}
	if b.itemBudget > 0 {
		ifn, ok := f.(objectives.ItemFunction)
		if !ok || ifn.Items().N < 1 {
			return nil, h, fmt.Errorf("--budget-items: objective %s is not scored on benchmark items (give the mock --items N, or use mnist-multitask, scored on a fixed list of --items images per task)", spec.Name)
		}
		n := ifn.Items().N
		if b.itemBudget < n {
			return nil, h, fmt.Errorf("--budget-items %d: less than one full evaluation of %d items", b.itemBudget, n)
		}
		budget = bench.ItemEvals(b.itemBudget, n)
	} else {
		for _, a := range algs {
			if strings.Contains(a, ":") {
				return nil, h, fmt.Errorf("--algs %s: a fidelity strategy spends benchmark items: give --budget-items (and an objective scored on items)", a)
			}
		}
	}
	if math.IsInf(target, 0) || (f.Sense() == objectives.Minimize && target < 0) {
		return nil, h, fmt.Errorf("--target %g: want a finite score, or a non-negative precision f − f_opt for %s", target, spec.Name)
	}
	c := &bench.Comparison{
		Scenario: scenario, Algorithms: algs, Settings: b.sets, Objective: spec, Seeds: b.seeds, Seed: b.seed,
		Budget: budget, Target: target, Parallel: b.parallel, EvalTimeout: b.evalTimeout, Reeval: b.reeval,
		Slots: b.slots, EvalTime: b.evalTime, ItemBudget: b.itemBudget,
	}
	if b.progress {
		c.Progress = stderr
	}
	meaning := "true score ≥"
	if f.Sense() == objectives.Minimize {
		meaning = "f − f_opt ≤"
	}
	name := spec.Name
	if scenario != "" {
		name = "scenario " + scenario + ": " + name
	}
	if spec.Landscape != "" {
		name += " (" + spec.Landscape + " landscape)"
	}
	h = bench.Header{Objective: name, Dim: spec.Dim, Noise: spec.Noise, Items: spec.Items, Budget: budget,
		Target: target, Seeds: b.seeds, Seed: b.seed, TargetMeaning: meaning,
		NoiseModel: spec.NoiseModel, FailRate: spec.FailRate, Width: spec.Width, Optimum: spec.Optimum, Options: spec.Options,
		EvalTimeout: b.evalTimeout.Seconds(), Policy: b.reeval.Policy(), EvalTime: b.evalTime.String(),
		ItemBudget: b.itemBudget, ItemModel: spec.ItemModel}
	if b.slots > 1 || b.evalTime.Kind != "" {
		h.Slots = max(b.slots, 1)
	}
	if _, err := c.Jobs(); err != nil { // bad settings fail before any run
		return nil, h, err
	}
	return c, h, nil
}

// registerScenarioFile registers --scenario-file, shared by bench and
// tune.
func (b *benchFlags) registerScenarioFile(fs *flag.FlagSet) {
	fs.StringVar(&b.scenarioFile, "scenario-file", "", "run the scenario this YAML `file` describes (name, from, budget, target, a mock block, optionally slots and eval_time; docs/calibrate.md), as --scenario runs a preset; evomerge calibrate writes one")
}

// useScenarioFile reads --scenario-file, if given, into b: it then
// stands where --scenario NAME would, with the same conflicts, and its
// slots and eval_time conflict with --slots and --eval-time.
func (b *benchFlags) useScenarioFile(set map[string]bool) error {
	if b.scenarioFile == "" {
		return nil
	}
	if set["scenario"] {
		return fmt.Errorf("--scenario-file and --scenario both name the scenario: give one")
	}
	if b.suite {
		return fmt.Errorf("--suite runs every preset; drop --scenario-file %s", b.scenarioFile)
	}
	sc, err := bench.LoadScenarioFile(b.scenarioFile)
	if err != nil {
		return err
	}
	if sc.Slots > 0 && set["slots"] {
		return fmt.Errorf("--slots conflicts with --scenario-file %s, which sets slots: %d", b.scenarioFile, sc.Slots)
	}
	if sc.EvalTime.Kind != "" && set["eval-time"] {
		return fmt.Errorf("--eval-time conflicts with --scenario-file %s, which sets eval_time: %s", b.scenarioFile, sc.EvalTime)
	}
	b.fileScenario, b.scenario = &sc, sc.Name
	set["scenario"] = true // asked for: the objective flags conflict with it
	return nil
}

// lookupScenario is the scenario of that name: the one read from
// --scenario-file, or a preset.
func (b *benchFlags) lookupScenario(name string) (bench.Scenario, error) {
	if b.fileScenario != nil && b.fileScenario.Name == name {
		return *b.fileScenario, nil
	}
	return bench.LookupScenario(name)
}

// benchPlan is a bench command parsed and checked, ready to run: every
// bad flag fails in parse, before any run.
type benchPlan struct {
	b         benchFlags
	args      []string
	scenarios []string
	comps     []*bench.Comparison
	headers   []bench.Header
}

func runBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	var p benchPlan
	if err := p.parse(stdout, stderr, args); err != nil || p.comps == nil {
		return err // an error, or --list-scenarios has printed its list
	}
	return p.run(ctx, stdout, stderr)
}

// parse reads bench's flags into p and builds its comparisons; it leaves
// p.comps nil when there is nothing to run (--list-scenarios).
func (p *benchPlan) parse(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := &p.b
	b.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge bench [flags]\n\nRuns every selected algorithm × seed concurrently on one objective and compares them.")
		fs.PrintDefaults()
		writeAlgorithms(fs.Output())
	}
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if b.listScenarios {
		for _, s := range bench.Scenarios {
			fmt.Fprintf(stdout, "%-16s %s\n%-16s   from: %s\n", s.Name, s.Describe(), "", s.From)
		}
		return nil
	}
	if !contains(bench.Formats, b.format) {
		return fmt.Errorf("--format %q: want one of %s", b.format, strings.Join(bench.Formats, ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := b.useScenarioFile(set); err != nil {
		return err
	}
	if b.suite && b.scenario != "" {
		return fmt.Errorf("--suite runs every scenario; drop --scenario %s", b.scenario)
	}
	if b.resume && b.journal == "" {
		return fmt.Errorf("--resume needs --journal FILE")
	}
	if b.report != "" && b.journal == "" {
		return fmt.Errorf("--report needs --journal FILE: the report is built from the raw records")
	}
	if b.report != "" {
		// Before any run: the report is written after all of them.
		if err := bench.CheckReportDir(b.report, b.force); err != nil {
			return err
		}
		if inside(b.report, b.journal) && !b.force {
			return fmt.Errorf("--journal %s is inside the --report folder %s, which then holds a file no report wrote: keep the journal elsewhere, or pass --force", b.journal, b.report)
		}
	} else if b.force {
		return fmt.Errorf("--force applies to --report, which is not given")
	}
	if b.shard.Count > 1 && b.report != "" {
		return fmt.Errorf("--report with --shard %s would build a page of one shard's runs: build it from every shard's journal with evomerge report --out FOLDER JOURNAL…", b.shard)
	}
	if b.fileScenario != nil && b.fileScenario.Slots > 0 {
		b.slots = b.fileScenario.Slots
	}
	if b.fileScenario != nil && b.fileScenario.EvalTime.Kind != "" {
		b.evalTime = b.fileScenario.EvalTime
	}
	if b.slots < 1 {
		return fmt.Errorf("--slots %d: want at least 1 evaluation slot", b.slots)
	}
	if b.slots > 1 && b.evalTime.Kind == "" {
		// bench's objectives answer in microseconds: several slots only mean
		// something on a simulated clock, and real concurrency would make
		// the order of results, and so the results, depend on the machine.
		return fmt.Errorf("--slots %d needs --eval-time (e.g. lognormal:median=5m,sigma=0.5): bench simulates the cluster's clock", b.slots)
	}
	if b.suite && !set["algs"] {
		b.algs = strings.Join(algorithms.Names(), ",")
	}
	scenarios := []string{b.scenario}
	if b.suite {
		scenarios = nil
		for _, s := range bench.Scenarios {
			scenarios = append(scenarios, s.Name)
		}
	}
	// Build every comparison first, so bad flags fail before any run.
	var comps []*bench.Comparison
	var headers []bench.Header
	for _, sc := range scenarios {
		c, h, err := b.comparison(stderr, set, sc)
		if err != nil {
			return err
		}
		c.Shard = b.shard
		comps = append(comps, c)
		headers = append(headers, h)
	}
	p.args, p.scenarios, p.comps, p.headers = args, scenarios, comps, headers
	return nil
}

// run runs the parsed comparisons, journals them and writes the output
// and the report.
func (p *benchPlan) run(ctx context.Context, stdout, stderr io.Writer) error {
	b, args, scenarios, comps, headers := &p.b, p.args, p.scenarios, p.comps, p.headers
	if b.shard.Count > 1 {
		total, mine := 0, 0
		for _, c := range comps {
			all, err := c.Jobs()
			if err != nil {
				return err
			}
			_, keys, err := c.ShardJobs()
			if err != nil {
				return err
			}
			total += len(all)
			mine += len(keys)
		}
		fmt.Fprintf(stderr, "shard %s: %d of the %d runs (the other shards hold the rest)\n", b.shard, mine, total)
	}
	var journal *bench.Journal
	if b.journal != "" {
		j, done, err := bench.OpenJournal(b.journal, b.resume)
		if err != nil {
			return err
		}
		defer j.Close()
		journal = j
		if b.resume {
			retry := 0
			for _, r := range done {
				if r.Error != "" {
					retry++
				}
			}
			fmt.Fprintf(stderr, "resuming %s: %d runs already recorded (%d ended by an error: this command runs those of its cells again)\n", b.journal, len(done), retry)
		}
		for _, c := range comps {
			if err := c.Resume(b.journal, done); err != nil {
				return err
			}
			c.Done = journal.Append
		}
	}
	for i, c := range comps {
		runs, err := c.Run(ctx)
		if err != nil {
			return err
		}
		if len(comps) > 1 {
			fmt.Fprintf(stdout, "\n## %s\n\n", scenarios[i])
		}
		if err := bench.Write(stdout, b.format, headers[i], runs); err != nil {
			return err
		}
	}
	if b.report != "" {
		runs, err := bench.ReadRuns(b.journal)
		if err != nil {
			return err
		}
		return bench.BuildReport(runs, bench.ReportOptions{Dir: b.report, Title: benchReportTitle,
			Command: "evomerge bench " + strings.Join(args, " "), Seed: b.seed, Plots: true, HTML: true, Force: b.force})
	}
	return nil
}

// benchReportTitle heads the page of bench --report and slurm bench.
const benchReportTitle = "evomerge: every algorithm on every scenario"

// inside reports whether path lies in folder dir.
func inside(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && filepath.IsLocal(rel)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

package validity

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/stats"
)

// Cell is a real cell of the study: a genome (its layer groups) and a
// budget.
type Cell struct {
	Name   string // e.g. g4-100
	Groups string // the objective's groups option
	Budget int
}

// Calibration is what calibrate recommended for one cell and instance.
type Calibration struct {
	// Scenario is the fitted scenario's name, as the mock runs record it.
	Scenario string
	// Algorithm and Params are the recommended optimiser and its
	// hyperparameters (those calibrate set; the rest are defaults).
	Algorithm string
	Params    map[string]string
	// Predicted is the recommendation's median score on the fitted mock.
	Predicted float64
}

// Baselines are an instance's untuned merges, held-out.
type Baselines struct {
	TA, TIES float64
}

// Study is the input of the analysis: the runs of every stage and what
// the protocol fixes.
type Study struct {
	Cells     []Cell
	Methods   []string // the methods compared at their defaults
	Instances []int
	// RealSeeds and MockSeeds are the runs per method and instance on a
	// real cell and on a fitted scenario.
	RealSeeds, MockSeeds int
	// Real, Long, Mock, Advice and Suite are the run records: the methods
	// on the real cells, the 1,000-evaluation runs, the methods on the
	// fitted scenarios, the recommendations on the real cells, and the
	// methods on the built-in scenarios.
	Real, Long, Mock, Advice, Suite []*bench.Run
	// Calibrations are keyed by Key(cell, instance).
	Calibrations map[string]Calibration
	Baselines    map[int]Baselines
	// DifficultyCell names the cell of the difficulty checks 2 and 3;
	// LongBudget and LongGroups are the budget and genome of the Long runs.
	DifficultyCell string
	LongBudget     int
	LongGroups     string
	// Objective, when set, is the name every real run's objective starts
	// with (its record names it with its options, mnist-multitask/ties/…).
	Objective string
	Bootstrap int
	Seed      uint64
}

// Key names a cell on an instance.
func Key(cell string, instance int) string { return fmt.Sprintf("%s/%d", cell, instance) }

// ConfigLabel names a method with the hyperparameters given (none: its
// defaults).
func ConfigLabel(alg string, params map[string]string) string {
	if len(params) == 0 {
		return alg
	}
	keys := sortedKeys(params)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return alg + " (" + strings.Join(parts, ", ") + ")"
}

// realCell finds a real run's cell and instance from its objective
// options and budget.
func (s *Study) realCell(r *bench.Run) (string, int, error) {
	if s.Objective != "" && !strings.HasPrefix(r.Objective, s.Objective) {
		return "", 0, fmt.Errorf("run of %s on %s: not the study's objective %s", r.Algorithm, r.Objective, s.Objective)
	}
	inst, err := strconv.Atoi(r.Options["instance"])
	if err != nil {
		return "", 0, fmt.Errorf("run of %s on %s: no zoo instance in its options", r.Algorithm, r.Objective)
	}
	for _, c := range s.Cells {
		if r.Options["groups"] == c.Groups && r.Budget == c.Budget {
			return c.Name, inst, nil
		}
	}
	return "", 0, fmt.Errorf("run of %s on %s with budget %d: not a cell of the study", r.Algorithm, r.Objective, r.Budget)
}

// seedIndex recovers a run's position among its comparison's seeds.
func seedIndex(r *bench.Run, n int) (int, error) {
	if r.ObjectiveSeed == nil {
		return 0, fmt.Errorf("run of %s: no master seed recorded", r.Algorithm)
	}
	for i := range n {
		if bench.DeriveSeed(*r.ObjectiveSeed, r.Algorithm, strconv.Itoa(i)) == r.Seed {
			return i, nil
		}
	}
	return 0, fmt.Errorf("run of %s with seed %d: not one of the first %d seeds of master seed %d", r.Algorithm, r.Seed, n, *r.ObjectiveSeed)
}

func heldOut(r *bench.Run) (float64, error) {
	if r.Error != "" {
		return 0, fmt.Errorf("run of %s on %s ended with an error: %s", r.Algorithm, r.Objective, r.Error)
	}
	if r.RecommendHeldOut == nil {
		return 0, fmt.Errorf("run of %s on %s has no held-out score", r.Algorithm, r.Objective)
	}
	return *r.RecommendHeldOut, nil
}

// samples groups real-objective runs by cell and configuration label.
func (s *Study) samples(runs []*bench.Run, label func(*bench.Run) string) (map[string]map[string]Sample, error) {
	out := map[string]map[string]Sample{}
	for _, r := range runs {
		cell, inst, err := s.realCell(r)
		if err != nil {
			return nil, err
		}
		k, err := seedIndex(r, s.RealSeeds)
		if err != nil {
			return nil, err
		}
		v, err := heldOut(r)
		if err != nil {
			return nil, err
		}
		if out[cell] == nil {
			out[cell] = map[string]Sample{}
		}
		l := label(r)
		if out[cell][l] == nil {
			out[cell][l] = Sample{}
		}
		if err := out[cell][l].Add(inst, k, v); err != nil {
			return nil, fmt.Errorf("cell %s, %s: %v", cell, l, err)
		}
	}
	return out, nil
}

// Result is the analysis of a study.
type Result struct {
	Difficulty Difficulty
	Cells      []CellResult
	// MedianTau is the median of the cells' τ; Above counts the cells
	// where τ exceeds the baseline's; MedianRegret is the median over
	// every cell and instance.
	MedianTau    float64
	Above        int
	MedianRegret float64
}

// Difficulty holds the testbed checks made before any comparison.
type Difficulty struct {
	Instances []InstanceDifficulty
	// SplitHalfRho is Spearman's ρ between the rankings of the two seed
	// halves in the difficulty cell; Random and Best the pooled random
	// search and best method there.
	SplitHalfRho float64
	Random, Best Summary
	BestMethod   string
}

// InstanceDifficulty is one instance's difficulty figures.
type InstanceDifficulty struct {
	Instance          int
	TA, TIES          float64
	Long              []float64 // held-out scores of the 1,000-evaluation runs
	LongBest          float64
	Random, Best      Summary // in the difficulty cell
	BestMethod        string
	TAGap, TIESGap    float64
	RandomGap         float64
	HasLong, HasCells bool
}

// Summary is a sample's median with its 95% order-statistic interval,
// 10th percentile and worst value.
type Summary struct {
	N                  int
	Median, P10, Worst float64
	Lo, Hi             float64
}

func summarise(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{Median: math.NaN(), P10: math.NaN(), Worst: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	s := Summary{N: len(xs), Median: stats.Quantile(xs, 0.5), P10: stats.Quantile(xs, 0.1), Worst: slices.Min(xs), Lo: math.NaN(), Hi: math.NaN()}
	if m, err := stats.Median(xs, 0.95); err == nil && m.Warning == nil {
		s.Lo, s.Hi = m.Lo, m.Hi
	}
	return s
}

// CellResult is one cell's figures.
type CellResult struct {
	Cell                    Cell
	Real, Predicted         Ranking
	RealRuns, MockRuns      map[string]Summary
	Tau                     float64
	TauCI                   Interval
	Ceiling                 float64
	Baseline                float64
	BaselineCI              Interval
	Regrets                 []Regret
	RegretMedian, RegretP90 float64
}

// Regret is what following one instance's recommendation cost.
type Regret struct {
	Instance    int
	Recommended string
	Predicted   float64
	Score       float64 // its median held-out score on the real cell
	Best        string  // the best configuration in hindsight
	BestScore   float64
	Regret      float64
}

// Analyse computes every figure of the protocol.
func (s *Study) Analyse() (*Result, error) {
	real, err := s.samples(s.Real, func(r *bench.Run) string { return r.Algorithm })
	if err != nil {
		return nil, fmt.Errorf("real runs: %v", err)
	}
	// Every run of a cell's recommendations is the recommendation of its
	// instance's calibration: one sample per cell, by instance.
	advice, err := s.samples(s.Advice, func(r *bench.Run) string { return "advice" })
	if err != nil {
		return nil, fmt.Errorf("advice runs: %v", err)
	}
	if err := s.checkAdvice(); err != nil {
		return nil, err
	}
	mock, err := s.mockSamples()
	if err != nil {
		return nil, err
	}
	base, err := s.suiteRanking()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if res.Difficulty, err = s.difficulty(real); err != nil {
		return nil, err
	}
	var taus, regrets []float64
	for ci, c := range s.Cells {
		rs := restrict(real[c.Name], s.Methods)
		if len(rs) != len(s.Methods) {
			return nil, fmt.Errorf("cell %s: runs of %d of the %d methods", c.Name, len(rs), len(s.Methods))
		}
		ms := restrict(mock[c.Name], s.Methods)
		if len(ms) != len(s.Methods) {
			return nil, fmt.Errorf("cell %s: fitted-scenario runs of %d of the %d methods", c.Name, len(ms), len(s.Methods))
		}
		all := func(int, int) bool { return true }
		cr := CellResult{Cell: c, Real: MedianRanking(rs, all), Predicted: MedianRanking(ms, all),
			RealRuns: map[string]Summary{}, MockRuns: map[string]Summary{}}
		for _, m := range s.Methods {
			cr.RealRuns[m] = summarise(rs[m].All())
			cr.MockRuns[m] = summarise(ms[m].All())
		}
		cr.Tau = Tau(cr.Predicted, cr.Real)
		half := s.RealSeeds / 2
		a, b := SplitHalf(rs, func(k int) bool { return k < half })
		cr.Ceiling = Tau(a, b)
		cr.Baseline = Tau(base, cr.Real)
		rng := rand.New(rand.NewPCG(bench.DeriveSeed(s.Seed, "validity", c.Name), uint64(ci)))
		cr.TauCI = BootstrapTau(rng, s.Bootstrap, s.Instances,
			func(r *Resample) Ranking { return r.Ranking(ms) }, func(r *Resample) Ranking { return r.Ranking(rs) })
		cr.BaselineCI = BootstrapTau(rng, s.Bootstrap, s.Instances,
			func(*Resample) Ranking { return base }, func(r *Resample) Ranking { return r.Ranking(rs) })
		var cellRegrets []float64
		for _, inst := range s.Instances {
			cal, ok := s.Calibrations[Key(c.Name, inst)]
			if !ok {
				return nil, fmt.Errorf("cell %s instance %d: no calibration", c.Name, inst)
			}
			adv := advice[c.Name]["advice"]
			if adv == nil || len(adv[inst]) == 0 {
				return nil, fmt.Errorf("cell %s instance %d: no runs of the recommendation", c.Name, inst)
			}
			on := func(i, _ int) bool { return i == inst }
			g := Regret{Instance: inst, Recommended: ConfigLabel(cal.Algorithm, cal.Params), Predicted: cal.Predicted,
				Score: adv.Median(on)}
			g.Best, g.BestScore = g.Recommended, g.Score
			for _, m := range s.Methods {
				if v := rs[m].Median(on); v > g.BestScore {
					g.Best, g.BestScore = m, v
				}
			}
			g.Regret = g.BestScore - g.Score
			cr.Regrets = append(cr.Regrets, g)
			cellRegrets = append(cellRegrets, g.Regret)
		}
		cr.RegretMedian = stats.Quantile(cellRegrets, 0.5)
		cr.RegretP90 = stats.Quantile(cellRegrets, 0.9)
		regrets = append(regrets, cellRegrets...)
		taus = append(taus, cr.Tau)
		if cr.Tau > cr.Baseline {
			res.Above++
		}
		res.Cells = append(res.Cells, cr)
	}
	res.MedianTau = stats.Quantile(taus, 0.5)
	res.MedianRegret = stats.Quantile(regrets, 0.5)
	return res, nil
}

// checkAdvice makes sure every run of a recommendation is of the
// configuration its instance's calibration recommended: a journal left
// from another calibration would otherwise be scored under its label.
func (s *Study) checkAdvice() error {
	for _, r := range s.Advice {
		cell, inst, err := s.realCell(r)
		if err != nil {
			return err
		}
		cal, ok := s.Calibrations[Key(cell, inst)]
		if !ok {
			return fmt.Errorf("cell %s instance %d: no calibration", cell, inst)
		}
		if r.Algorithm != cal.Algorithm {
			return fmt.Errorf("cell %s instance %d: a run of %s, but calibrate recommended %s", cell, inst, r.Algorithm, ConfigLabel(cal.Algorithm, cal.Params))
		}
		for k, v := range cal.Params {
			if r.Params[k] != v {
				return fmt.Errorf("cell %s instance %d: a run of %s with %s=%q, but calibrate recommended %s", cell, inst, r.Algorithm, k, r.Params[k], ConfigLabel(cal.Algorithm, cal.Params))
			}
		}
	}
	return nil
}

// restrict keeps the samples of the methods given.
func restrict(m map[string]Sample, methods []string) map[string]Sample {
	out := map[string]Sample{}
	for _, k := range methods {
		if s, ok := m[k]; ok {
			out[k] = s
		}
	}
	return out
}

// mockSamples groups the runs on fitted scenarios by the cell and
// instance whose calibration fitted them.
func (s *Study) mockSamples() (map[string]map[string]Sample, error) {
	owner := map[string][2]any{}
	for _, c := range s.Cells {
		for _, inst := range s.Instances {
			cal, ok := s.Calibrations[Key(c.Name, inst)]
			if !ok {
				return nil, fmt.Errorf("cell %s instance %d: no calibration", c.Name, inst)
			}
			if _, dup := owner[cal.Scenario]; dup {
				return nil, fmt.Errorf("fitted scenario %q belongs to two calibrations", cal.Scenario)
			}
			owner[cal.Scenario] = [2]any{c.Name, inst}
		}
	}
	out := map[string]map[string]Sample{}
	for _, r := range s.Mock {
		o, ok := owner[r.Scenario]
		if !ok {
			return nil, fmt.Errorf("mock run of %s on scenario %q: no calibration fitted it", r.Algorithm, r.Scenario)
		}
		if r.Error != "" {
			return nil, fmt.Errorf("mock run of %s on %s ended with an error: %s", r.Algorithm, r.Scenario, r.Error)
		}
		k, err := seedIndex(r, s.MockSeeds)
		if err != nil {
			return nil, fmt.Errorf("mock runs: %v", err)
		}
		cell, inst := o[0].(string), o[1].(int)
		if out[cell] == nil {
			out[cell] = map[string]Sample{}
		}
		if out[cell][r.Algorithm] == nil {
			out[cell][r.Algorithm] = Sample{}
		}
		if err := out[cell][r.Algorithm].Add(inst, k, r.RecommendTrue); err != nil {
			return nil, fmt.Errorf("mock runs, %s on %s: %v", r.Algorithm, r.Scenario, err)
		}
	}
	return out, nil
}

// suiteRanking is the baseline: each method's average rank over the
// built-in scenarios, each ranked by median true score of the
// recommendation.
func (s *Study) suiteRanking() (Ranking, error) {
	by := map[string]map[string][]float64{}
	for _, r := range s.Suite {
		if r.Scenario == "" {
			return nil, fmt.Errorf("suite run of %s: no scenario", r.Algorithm)
		}
		if by[r.Scenario] == nil {
			by[r.Scenario] = map[string][]float64{}
		}
		by[r.Scenario][r.Algorithm] = append(by[r.Scenario][r.Algorithm], r.RecommendTrue)
	}
	if len(by) == 0 {
		return nil, fmt.Errorf("no suite runs")
	}
	var rankings []Ranking
	for _, sc := range sortedKeys(by) {
		r := Ranking{}
		for _, m := range s.Methods {
			xs, ok := by[sc][m]
			if !ok {
				return nil, fmt.Errorf("suite scenario %s has no runs of %s", sc, m)
			}
			r[m] = stats.Quantile(xs, 0.5)
		}
		rankings = append(rankings, r)
	}
	return AverageRank(rankings), nil
}

func (s *Study) difficulty(real map[string]map[string]Sample) (Difficulty, error) {
	d := Difficulty{}
	long := map[int][]float64{}
	for _, r := range s.Long {
		inst, err := strconv.Atoi(r.Options["instance"])
		if err != nil {
			return d, fmt.Errorf("1,000-evaluation run of %s: no zoo instance in its options", r.Algorithm)
		}
		if r.Budget != s.LongBudget || r.Options["groups"] != s.LongGroups || (s.Objective != "" && !strings.HasPrefix(r.Objective, s.Objective)) {
			return d, fmt.Errorf("long run of %s on %s, budget %d, groups %q: want budget %d, groups %q", r.Algorithm, r.Objective, r.Budget, r.Options["groups"], s.LongBudget, s.LongGroups)
		}
		v, err := heldOut(r)
		if err != nil {
			return d, err
		}
		long[inst] = append(long[inst], v)
	}
	cell := restrict(real[s.DifficultyCell], s.Methods)
	if len(cell) != len(s.Methods) {
		return d, fmt.Errorf("difficulty cell %s: runs of %d of the %d methods", s.DifficultyCell, len(cell), len(s.Methods))
	}
	all := func(int, int) bool { return true }
	d.BestMethod, d.Best = bestOf(cell, s.Methods, all)
	d.Random = summarise(cell["random"].All())
	half := s.RealSeeds / 2
	a, b := SplitHalf(cell, func(k int) bool { return k < half })
	d.SplitHalfRho = Spearman(a, b)
	for _, inst := range s.Instances {
		b, ok := s.Baselines[inst]
		if !ok {
			return d, fmt.Errorf("instance %d: no baselines", inst)
		}
		id := InstanceDifficulty{Instance: inst, TA: b.TA, TIES: b.TIES, Long: long[inst], HasLong: len(long[inst]) > 0}
		id.LongBest = math.NaN()
		if id.HasLong {
			id.LongBest = slices.Max(long[inst])
		}
		id.TAGap, id.TIESGap = id.LongBest-id.TA, id.LongBest-id.TIES
		on := func(i, _ int) bool { return i == inst }
		id.BestMethod, id.Best = bestOf(cell, s.Methods, on)
		id.Random = summarise(cell["random"].Select(on))
		id.RandomGap = id.Best.Median - id.Random.Median
		id.HasCells = id.Best.N > 0
		d.Instances = append(d.Instances, id)
	}
	return d, nil
}

// bestOf is the method with the highest median over the runs keep
// accepts (the first in methods' order on a tie).
func bestOf(samples map[string]Sample, methods []string, keep func(int, int) bool) (string, Summary) {
	best, bs := "", Summary{Median: math.Inf(-1)}
	for _, m := range methods {
		if sm := summarise(samples[m].Select(keep)); sm.N > 0 && sm.Median > bs.Median {
			best, bs = m, sm
		}
	}
	return best, bs
}

// Page writes the results in markdown.
func (res *Result) Page(b *bytes.Buffer, s *Study) {
	f1 := func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	f2 := func(v float64) string {
		if math.IsNaN(v) {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	sum := func(x Summary) string { return fmt.Sprintf("%s (%s, %s)", f1(x.Median), f1(x.P10), f1(x.Worst)) }
	// ci is sum with the median's 95% interval, where the sample allows one.
	ci := func(x Summary) string {
		if math.IsNaN(x.Lo) {
			return sum(x)
		}
		return fmt.Sprintf("%s [%s, %s] (%s, %s)", f1(x.Median), f1(x.Lo), f1(x.Hi), f1(x.P10), f1(x.Worst))
	}
	holds := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "**does not hold**"
	}
	d := res.Difficulty
	b.WriteString("## Difficulty of the testbed\n\n")
	fmt.Fprintf(b, "Held-out target mean. Untuned merges from `evomerge zoo baselines -testbed multitask`; the 1,000-evaluation runs are CMA-ES at its defaults on the 24-gene genome; cell %s gives random search and the best method at 100 evaluations, as median (10th percentile, worst) over %d seeds.\n\n", s.DifficultyCell, s.RealSeeds)
	b.WriteString("| instance | TA 1/6 | TIES defaults | best at 1,000 | best − TA | best − TIES | random at 100 | best method at 100 | best − random |\n|---|---|---|---|---|---|---|---|---|\n")
	check1, check2 := true, true
	for _, id := range d.Instances {
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s %s | %s |\n", id.Instance, f1(id.TA), f1(id.TIES), f1(id.LongBest),
			f1(id.TAGap), f1(id.TIESGap), sum(id.Random), id.BestMethod, sum(id.Best), f1(id.RandomGap))
		if !(id.TAGap >= 10 && id.TIESGap >= 10) {
			check1 = false
		}
	}
	gap := d.Best.Median - d.Random.Median
	check2 = gap >= 5
	minGap := math.Inf(1)
	for _, id := range d.Instances {
		minGap = math.Min(minGap, id.RandomGap)
	}
	check2 = check2 && minGap >= 5
	fmt.Fprintf(b, "\n1. Untuned merges at least 10 points below the best at 1,000 evaluations, on every instance: %s.\n", holds(check1))
	fmt.Fprintf(b, "2. Random search at 100 evaluations at least 5 points below the best method, on every instance (the smallest gap is %s) and pooled over instances (%s %s against random %s, a gap of %s): %s.\n", f1(minGap), d.BestMethod, sum(d.Best), sum(d.Random), f1(gap), holds(check2))
	fmt.Fprintf(b, "3. Split-half reliability of the ranking in %s at least 0.8: Spearman's ρ = %s, %s.\n\n", s.DifficultyCell, f2(d.SplitHalfRho), holds(d.SplitHalfRho >= 0.8))

	b.WriteString("## Predictive validity, per cell\n\n")
	fmt.Fprintf(b, "τ: Kendall's τ-b between the fitted mocks' ranking and the real ranking of the %d methods, with its 95%% bootstrap interval (%d resamples of instances, then seeds). Ceiling: the real ranking's split-half τ. Baseline: τ of the average rank over the built-in scenarios. Regret: best median in hindsight minus the recommendation's median, held-out points, over the %d instances.\n\n", len(s.Methods), s.Bootstrap, len(s.Instances))
	b.WriteString("| cell | τ [95% CI] | ceiling | baseline τ [95% CI] | regret median | regret p90 |\n|---|---|---|---|---|---|\n")
	for _, c := range res.Cells {
		fmt.Fprintf(b, "| %s | %s [%s, %s] | %s | %s [%s, %s] | %s | %s |\n", c.Cell.Name, f2(c.Tau), f2(c.TauCI.Lo), f2(c.TauCI.Hi), f2(c.Ceiling),
			f2(c.Baseline), f2(c.BaselineCI.Lo), f2(c.BaselineCI.Hi), f1(c.RegretMedian), f1(c.RegretP90))
	}
	fmt.Fprintf(b, "\nAgainst the goal stated in the protocol:\n\n")
	fmt.Fprintf(b, "- median τ over the %d cells: %s (goal ≥ 0.6): %s;\n", len(res.Cells), f2(res.MedianTau), met(res.MedianTau >= 0.6))
	fmt.Fprintf(b, "- τ above the baseline's in %d of %d cells (goal: at least %d): %s;\n", res.Above, len(res.Cells), (2*len(res.Cells)+2)/3, met(3*res.Above >= 2*len(res.Cells)))
	fmt.Fprintf(b, "- median regret over every cell and instance: %s points (goal ≤ 1): %s.\n\n", f1(res.MedianRegret), met(res.MedianRegret <= 1))

	b.WriteString("## Rankings\n\n")
	fmt.Fprintf(b, "Per cell, each method's held-out score on the real cell (%d runs: %d instances × %d seeds) and its true score on the fitted scenarios (%d runs), as median [95%% order-statistic interval] (10th percentile, worst); rank 1 is the best. Medians whose intervals overlap are not told apart by these runs.\n\n", len(s.Instances)*s.RealSeeds, len(s.Instances), s.RealSeeds, len(s.Instances)*s.MockSeeds)
	for _, c := range res.Cells {
		fmt.Fprintf(b, "### %s\n\n| method | real rank | real held-out | predicted rank | fitted mock |\n|---|---|---|---|---|\n", c.Cell.Name)
		rr, pr := rankOf(c.Real, s.Methods), rankOf(c.Predicted, s.Methods)
		order := slices.Clone(s.Methods)
		slices.SortStableFunc(order, func(x, y string) int { return cmpFloat(rr[x], rr[y]) })
		for _, m := range order {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", m, rankText(rr[m]), ci(c.RealRuns[m]), rankText(pr[m]), ci(c.MockRuns[m]))
		}
		b.WriteString("\n| instance | recommended | predicted (mock) | held-out, median | best in hindsight | its median | regret |\n|---|---|---|---|---|---|---|\n")
		for _, g := range c.Regrets {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s |\n", g.Instance, g.Recommended, f1(g.Predicted), f1(g.Score), g.Best, f1(g.BestScore), f1(g.Regret))
		}
		b.WriteString("\n")
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// rankOf gives each method its average rank (1 = the highest score).
func rankOf(r Ranking, methods []string) map[string]float64 {
	neg := make([]float64, len(methods))
	for i, m := range methods {
		neg[i] = -r[m]
	}
	out := map[string]float64{}
	for i, v := range AverageRanks(neg) {
		out[methods[i]] = v
	}
	return out
}

func rankText(v float64) string {
	if v == math.Trunc(v) {
		return strconv.Itoa(int(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

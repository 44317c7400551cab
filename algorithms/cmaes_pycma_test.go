package algorithms_test

// Acceptance tests of the CMA-ES against pycma 4.4.0: the distribution of
// evaluations to a target over 25 seeds must match pycma's (raw runs in
// testdata/pycma, see its README).
//
//	go test ./algorithms -run Pycma -v                        # short form
//	EVOMERGE_PYCMA_FULL=1 go test ./algorithms -run Pycma -v  # every cell

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aclements/go-moremath/stats"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

const cmaPycmaDir = "../testdata/pycma"

// cmaFullPycma reports whether every cell should run (EVOMERGE_PYCMA_FULL=1).
func cmaFullPycma() bool { return os.Getenv("EVOMERGE_PYCMA_FULL") == "1" }

// cmaCountingObjective counts evaluations, refuses them after the budget or
// once the target is hit, and checks that bounded runs stay in the box.
type cmaCountingObjective struct {
	eval   func(x []float64) (loss float64, hit bool)
	budget int
	box    *algorithms.Problem // non-nil: every x must lie inside

	evals   int
	hitAt   int // 1-based index of the first evaluation that hit, 0 if none
	badEval string
}

func (o *cmaCountingObjective) Eval(_ context.Context, x []float64) (float64, error) {
	if o.evals >= o.budget || o.hitAt > 0 {
		return 0, algorithms.ErrStop
	}
	o.evals++
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			o.badEval = fmt.Sprintf("evaluation %d: non-finite x[%d] = %g", o.evals, i, v)
		}
		if o.box != nil && (v < o.box.Lower[i] || v > o.box.Upper[i]) {
			o.badEval = fmt.Sprintf("evaluation %d: x[%d] = %g outside [%g, %g]", o.evals, i, v, o.box.Lower[i], o.box.Upper[i])
		}
	}
	f, hit := o.eval(x)
	if hit && o.hitAt == 0 {
		o.hitAt = o.evals
	}
	return f, nil
}

// The classic functions are the project's own (objectives), with f_opt = 0
// at the origin as pycma ran them: the comparison checks them too.
var cmaClassicFuncs = map[string]func([]float64) float64{
	"sphere": objectives.Sphere, "ellipsoid": objectives.Ellipsoid, "rosenbrock": objectives.Rosenbrock, "rastrigin": objectives.Rastrigin,
}

// Seeds: each run's randomness comes from PCG streams keyed by the seed;
// the stream constant separates start point, optimiser and noise.
const (
	cmaStreamX0    = 0x5eed0001
	cmaStreamAlg   = 0x5eed0002
	cmaStreamNoise = 0x5eed0003
)

// cmaRunClassic runs one seed of a classic cell: x0 ~ U[-4,4]^n, σ0 = 2, no
// bounds, target 1e-8, budget 2e4·n. It returns evaluations to target
// (+Inf on a miss).
func cmaRunClassic(t testing.TB, newOpt func() algorithms.Optimizer, fn string, n int, seed uint64) float64 {
	f := cmaClassicFuncs[fn]
	x0rng := rand.New(rand.NewPCG(seed, cmaStreamX0))
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = -4 + 8*x0rng.Float64()
	}
	lo, hi := make([]float64, n), make([]float64, n)
	for i := range lo {
		lo[i], hi[i] = -4, 4
	}
	p := algorithms.Problem{Dim: n, Lower: lo, Upper: hi, X0: x0, Sigma0: 2}
	obj := &cmaCountingObjective{budget: 20000 * n, eval: func(x []float64) (float64, bool) {
		v := f(x)
		return v, v <= 1e-8
	}}
	_, err := newOpt().Minimize(context.Background(), p, obj, rand.New(rand.NewPCG(seed, cmaStreamAlg)))
	if err != algorithms.ErrStop {
		t.Errorf("%s n=%d seed %d: Minimize returned %v, want ErrStop", fn, n, seed, err)
	}
	if obj.badEval != "" {
		t.Errorf("%s n=%d seed %d: %s", fn, n, seed, obj.badEval)
	}
	if obj.hitAt == 0 {
		return math.Inf(1)
	}
	return float64(obj.hitAt)
}

// cmaMergeWStar returns w* of the mock merge objective for dimension n.
func cmaMergeWStar(t testing.TB, n int) []float64 {
	b, err := os.ReadFile(filepath.Join(cmaPycmaDir, "summary_merge.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		WStar map[string][]float64 `json:"merge_wstar"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	w := s.WStar[strconv.Itoa(n)]
	if len(w) != n {
		t.Fatalf("summary_merge.json has no w* for n=%d", n)
	}
	return w
}

// cmaMergeTrue is the mock merge objective's true score: 100·exp(−‖w−w*‖²/
// (2·0.25²·n/4)) with w clipped into [0,1].
func cmaMergeTrue(w, wstar []float64) float64 {
	d := 0.0
	for i, v := range w {
		v = min(max(v, 0), 1)
		d += (v - wstar[i]) * (v - wstar[i])
	}
	n := float64(len(w))
	return 100 * math.Exp(-d/(2*0.25*0.25*n/4))
}

// cmaRunMerge runs one seed of the bounded mock merge objective (x0 = 0.5·1,
// σ0 = 0.3, budget 5000) and returns evaluations until a candidate's TRUE
// score reaches 99 (+Inf on a miss).
func cmaRunMerge(t testing.TB, newOpt func() algorithms.Optimizer, n int, noise float64, wstar []float64, seed uint64, budget int) float64 {
	lo, hi, x0 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range lo {
		lo[i], hi[i], x0[i] = 0, 1, 0.5
	}
	p := algorithms.Problem{Dim: n, Lower: lo, Upper: hi, Bounded: true, X0: x0, Sigma0: 0.3}
	nrng := rand.New(rand.NewPCG(seed, cmaStreamNoise))
	obj := &cmaCountingObjective{budget: budget, box: &p, eval: func(x []float64) (float64, bool) {
		s := cmaMergeTrue(x, wstar)
		return -(s + noise*nrng.NormFloat64()), s >= 99
	}}
	_, err := newOpt().Minimize(context.Background(), p, obj, rand.New(rand.NewPCG(seed, cmaStreamAlg)))
	if err != algorithms.ErrStop {
		t.Errorf("merge n=%d noise %g seed %d: Minimize returned %v, want ErrStop", n, noise, seed, err)
	}
	if obj.badEval != "" {
		t.Errorf("merge n=%d noise %g seed %d: %s", n, noise, seed, obj.badEval)
	}
	if obj.hitAt == 0 {
		return math.Inf(1)
	}
	return float64(obj.hitAt)
}

// cmaRunSeeds runs f for seeds 0..runs-1 on all CPUs; results by seed.
func cmaRunSeeds(runs int, f func(seed uint64) float64) []float64 {
	out := make([]float64, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = f(uint64(i))
			}
		}()
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// cmaPercentile interpolates linearly between order statistics (numpy's
// default, as the reference summaries); misses (+Inf) sort last, so a
// cmaPercentile touching one is +Inf.
func cmaPercentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if math.IsInf(s[lo], 1) || math.IsInf(s[hi], 1) {
		return math.Inf(1)
	}
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}

func cmaSuccesses(xs []float64) int {
	k := 0
	for _, v := range xs {
		if !math.IsInf(v, 1) {
			k++
		}
	}
	return k
}

// cmaUTest is the two-sided Mann–Whitney U test with misses mapped to a huge
// finite number, so that they tie with each other and rank last.
func cmaUTest(a, b []float64) float64 {
	fin := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, v := range xs {
			if math.IsInf(v, 1) {
				v = 1e15
			}
			out[i] = v
		}
		return out
	}
	r, err := stats.MannWhitneyUTest(fin(a), fin(b), stats.LocationDiffers)
	if err != nil {
		if err == stats.ErrSamplesEqual {
			return 1
		}
		return math.NaN()
	}
	return r.P
}

// cmaReadRaw reads a reference CSV and returns the column col of the rows
// matching every key=value of match, in file order (seed order).
func cmaReadRaw(t testing.TB, file string, match map[string]string, col string) []float64 {
	fh, err := os.Open(filepath.Join(cmaPycmaDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := map[string]int{}
	for i, h := range rows[0] {
		head[h] = i
	}
	var out []float64
	for _, r := range rows[1:] {
		ok := true
		for k, v := range match {
			if r[head[k]] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(r[head[col]], 64)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rows match %v", file, match)
	}
	return out
}

// cmaPycmaCell is one comparison: ours against pycma's raw runs.
type cmaPycmaCell struct {
	name      string
	ours, ref []float64
	// accept: for classic cells the median in pycma's p10–p90 band and a
	// non-significant U test; for merge cells all runs successful and the
	// median in the band.
	merge bool
	// informational cells are printed but not asserted
	informational bool
}

func (c cmaPycmaCell) verdict() (string, bool) {
	lo, hi := cmaPercentile(c.ref, 10), cmaPercentile(c.ref, 90)
	med := cmaPercentile(c.ours, 50)
	in := med >= lo && med <= hi
	p := cmaUTest(c.ours, c.ref)
	var ok bool
	var why []string
	if !in {
		why = append(why, "median outside band")
	}
	if c.merge {
		ok = in && cmaSuccesses(c.ours) == len(c.ours)
		if cmaSuccesses(c.ours) != len(c.ours) {
			why = append(why, "misses")
		}
	} else {
		ok = in && p >= 0.05
		if p < 0.05 {
			why = append(why, "U test significant")
		}
	}
	v := "ok"
	if !ok {
		v = "FAIL: " + strings.Join(why, ", ")
	}
	if c.informational {
		v = "(info) " + v
	}
	return v, ok
}

func cmaFmtEvals(v float64) string {
	if math.IsInf(v, 1) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func (c cmaPycmaCell) row() string {
	v, _ := c.verdict()
	return fmt.Sprintf("| %s | %s [%s–%s] %d/%d | %s [%s–%s] %d/%d | %.3f | %s |", c.name,
		cmaFmtEvals(cmaPercentile(c.ours, 50)), cmaFmtEvals(cmaPercentile(c.ours, 10)), cmaFmtEvals(cmaPercentile(c.ours, 90)), cmaSuccesses(c.ours), len(c.ours),
		cmaFmtEvals(cmaPercentile(c.ref, 50)), cmaFmtEvals(cmaPercentile(c.ref, 10)), cmaFmtEvals(cmaPercentile(c.ref, 90)), cmaSuccesses(c.ref), len(c.ref),
		cmaUTest(c.ours, c.ref), v)
}

func cmaReportCells(t *testing.T, cells []cmaPycmaCell) {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n| cell | ours median [p10–p90] succ. | pycma median [p10–p90] succ. | U-test p | verdict |\n|---|---|---|---|---|\n")
	for _, c := range cells {
		b.WriteString(c.row() + "\n")
	}
	t.Log(b.String())
	for _, c := range cells {
		if v, ok := c.verdict(); !ok && !c.informational {
			t.Errorf("%s: %s", c.name, v)
		}
	}
}

// cmaNewCMAES is the cmaes entry with pycma's box handling, BoundTransform
// (the default box handling is another since issue 17; the comparison with
// pycma's bounded runs keeps pycma's).
func cmaNewCMAES() algorithms.Optimizer {
	return &algorithms.CMAES{CMASettings: algorithms.CMASettings{Bound: algorithms.BoundTransform}}
}

type cmaClassicCase struct {
	fn   string
	n    int
	info bool
}

func cmaClassicCell(t *testing.T, newOpt func() algorithms.Optimizer, variant string, c cmaClassicCase, runs int) cmaPycmaCell {
	ours := cmaRunSeeds(runs, func(seed uint64) float64 { return cmaRunClassic(t, newOpt, c.fn, c.n, seed) })
	ref := cmaReadRaw(t, "raw_classic.csv", map[string]string{"function": c.fn, "n": strconv.Itoa(c.n), "variant": variant}, "hit_evals")
	return cmaPycmaCell{name: fmt.Sprintf("%s n=%d (%s)", c.fn, c.n, variant), ours: ours, ref: ref, informational: c.info}
}

type cmaMergeCase struct {
	n     int
	noise float64
	info  bool
}

func cmaMergeCell(t *testing.T, newOpt func() algorithms.Optimizer, c cmaMergeCase, runs int) cmaPycmaCell {
	wstar := cmaMergeWStar(t, c.n)
	ours := cmaRunSeeds(runs, func(seed uint64) float64 { return cmaRunMerge(t, newOpt, c.n, c.noise, wstar, seed, 5000) })
	ref := cmaReadRaw(t, "raw_merge.csv", map[string]string{"n": strconv.Itoa(c.n), "noise_sd": strconv.FormatFloat(c.noise, 'f', 1, 64), "variant": "bounded"}, "hit_eval_99")
	return cmaPycmaCell{name: fmt.Sprintf("merge n=%d noise %g (bounded)", c.n, c.noise), ours: ours, ref: ref, merge: true, informational: c.info}
}

// TestPycmaCMAES compares the cmaes entry with pycma's single runs.
func TestPycmaCMAES(t *testing.T) {
	classic := []cmaClassicCase{{"sphere", 4, false}, {"ellipsoid", 4, false}}
	merge := []cmaMergeCase{{4, 0, false}, {4, 1, false}}
	if testing.Short() && !cmaFullPycma() {
		classic = classic[:1]
		merge = merge[:1]
	}
	if cmaFullPycma() {
		classic = append(classic,
			cmaClassicCase{"rosenbrock", 4, false},
			cmaClassicCase{"sphere", 10, false}, cmaClassicCase{"ellipsoid", 10, false}, cmaClassicCase{"rosenbrock", 10, false},
			cmaClassicCase{"sphere", 20, true}, cmaClassicCase{"ellipsoid", 20, true}, cmaClassicCase{"rosenbrock", 20, true},
		)
		merge = append(merge, cmaMergeCase{16, 0, false}, cmaMergeCase{16, 1, false}, cmaMergeCase{64, 0, true})
	}
	var cells []cmaPycmaCell
	for _, c := range classic {
		cells = append(cells, cmaClassicCell(t, cmaNewCMAES, "default", c, 25))
	}
	for _, c := range merge {
		cells = append(cells, cmaMergeCell(t, cmaNewCMAES, c, 25))
	}
	cmaReportCells(t, cells)
}

// TestPycmaIPOP compares ipop-cmaes with pycma's IPOP runs (restarts with
// doubled population from a new uniform x0 until target or budget).
func TestPycmaIPOP(t *testing.T) {
	newIPOP := func() algorithms.Optimizer { return &algorithms.RestartCMAES{} }
	classic := []cmaClassicCase{{"rastrigin", 4, false}}
	if testing.Short() && !cmaFullPycma() {
		t.Skip("IPOP comparison skipped in -short mode")
	}
	if cmaFullPycma() {
		classic = append(classic,
			cmaClassicCase{"rastrigin", 10, false},
			cmaClassicCase{"rosenbrock", 4, false}, cmaClassicCase{"rosenbrock", 10, false},
		)
	}
	var cells []cmaPycmaCell
	for _, c := range classic {
		cell := cmaClassicCell(t, newIPOP, "ipop", c, 25)
		cell.merge = true // accept on band and successes: restarts make U tests of heavy tails fragile
		cells = append(cells, cell)
	}
	cmaReportCells(t, cells)
}

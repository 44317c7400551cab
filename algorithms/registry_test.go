package algorithms_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

// evaluated runs the named method, configured with settings, on a shifted
// sphere in the unit box of dimension n until budget evaluations are spent,
// and returns the points it evaluated. A run that ends other than by the
// budget fails the test: the settings must be usable, not only parsable.
func evaluated(t *testing.T, name string, settings map[string]string, n, budget int, seed uint64) [][]float64 {
	t.Helper()
	opt, _, err := algorithms.Configure(name, settings)
	if err != nil {
		t.Fatalf("%s %v: %v", name, settings, err)
	}
	opt2 := make([]float64, n)
	for i := range opt2 {
		opt2[i] = testOptimum[i%len(testOptimum)]
	}
	r := &recorder{budget: budget, f: shiftedSphere(opt2)}
	p := unitProblem(n, true)
	p.Budget = budget
	if _, err := opt.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(seed, 7))); !errors.Is(err, errBudget) {
		t.Fatalf("%s %v in dimension %d, budget %d: the run ended with %v, not by the budget", name, settings, n, budget, err)
	}
	return r.xs
}

// gridSettings expands a grid into its settings.
func gridSettings(grid map[string][]string) []map[string]string {
	keys := make([]string, 0, len(grid))
	for k := range grid {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	settings := []map[string]string{{}}
	for _, k := range keys {
		var next []map[string]string
		for _, s := range settings {
			for _, v := range grid[k] {
				c := map[string]string{k: v}
				for kk, vv := range s {
					c[kk] = vv
				}
				next = append(next, c)
			}
		}
		settings = next
	}
	return settings
}

// TestEntriesComplete holds every registered method to what front ends
// read from its Entry, so adding a method is its file and its
// registration: a name, a summary and a recommendation policy; a
// population rule exactly when it has a population parameter, at least one
// evaluation per generation in every dimension; and a tuning grid whose
// every setting runs — or, without a grid, hyperparameters none of which
// changes the search.
func TestEntriesComplete(t *testing.T) {
	for _, name := range algorithms.Names() {
		t.Run(name, func(t *testing.T) {
			e, err := algorithms.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != name || e.Summary == "" || e.Recommends == "" || e.New == nil {
				t.Fatalf("entry %+v: want Name, Summary, Recommends and New filled", e)
			}
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			e.New().Flags(fs)
			if (e.PopParam == "") != (e.Pop == nil) {
				t.Fatalf("PopParam %q but Pop set: %v; a method with a population needs both", e.PopParam, e.Pop != nil)
			}
			if e.PopParam != "" {
				if fs.Lookup(e.PopParam) == nil {
					t.Fatalf("PopParam %q is not a hyperparameter of %s", e.PopParam, name)
				}
				for n := 1; n <= 100; n++ {
					if p := e.Pop(n); p < 1 {
						t.Fatalf("Pop(%d) = %d: want at least 1", n, p)
					}
				}
			}
			if len(e.Grid) > 0 {
				for k, vs := range e.Grid {
					if len(vs) == 0 {
						t.Errorf("grid of %s is empty", k)
					}
				}
				for _, s := range gridSettings(e.Grid) {
					evaluated(t, name, s, 4, 40, 1)
				}
				return
			}
			// No grid: claim checked, nothing to tune. Moving each
			// hyperparameter away from its default must leave the
			// evaluated points as they were.
			base := evaluated(t, name, nil, 4, 40, 1)
			fs.VisitAll(func(f *flag.Flag) {
				other := ""
				if b, err := strconv.ParseBool(f.DefValue); err == nil {
					other = strconv.FormatBool(!b)
				} else if v, err := strconv.ParseFloat(f.DefValue, 64); err == nil {
					other = strconv.FormatFloat(2*v+1, 'g', -1, 64)
				} else {
					t.Errorf("no Grid, and hyperparameter %s=%q cannot be checked to leave the search unchanged: give %s a Grid", f.Name, f.DefValue, name)
					return
				}
				if xs := evaluated(t, name, map[string]string{f.Name: other}, 4, 40, 1); !slices.EqualFunc(xs, base, slices.Equal) {
					t.Errorf("no Grid, but %s=%s changes the search: give %s a Grid", f.Name, other, name)
				}
			})
		})
	}
}

// TestPopIsTheDefault checks each population rule against the method: a
// run with the population parameter at 0 must evaluate exactly the points
// of a run with it set to Pop(n), in several dimensions.
func TestPopIsTheDefault(t *testing.T) {
	for _, name := range algorithms.Names() {
		e, _ := algorithms.Lookup(name)
		if e.Pop == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 3, 10, 40} {
				pop := e.Pop(n)
				budget := 3*pop + 5
				zero := evaluated(t, name, map[string]string{e.PopParam: "0"}, n, budget, 3)
				set := evaluated(t, name, map[string]string{e.PopParam: strconv.Itoa(pop)}, n, budget, 3)
				if !slices.EqualFunc(zero, set, slices.Equal) {
					t.Errorf("dimension %d: %s=0 and %s=%d (Pop) evaluate different points", n, e.PopParam, e.PopParam, pop)
				}
			}
		})
	}
}

// TestPopulation resolves the population a configured run uses.
func TestPopulation(t *testing.T) {
	for _, c := range []struct {
		alg      string
		settings map[string]string
		dim      int
		want     int
	}{
		{"cmaes", nil, 4, 8},    // 4+⌊3 ln 4⌋
		{"cmaes", nil, 100, 17}, // 4+⌊3 ln 100⌋
		{"cmaes", map[string]string{"popsize": "12"}, 4, 12},
		{"de", nil, 4, 20}, // 10·n capped to [5, 20]
		{"de", nil, 1, 10},
		{"pso", nil, 4, 14}, // 10+⌊2√n⌋
		{"simple-es", nil, 4, 20},
		{"simple-es", map[string]string{"pop": "0"}, 4, 20},
		{"tpe", nil, 4, 0}, // no population
	} {
		e, _ := algorithms.Lookup(c.alg)
		_, params, err := algorithms.Configure(c.alg, c.settings)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Population(c.dim, params); got != c.want {
			t.Errorf("%s %v in dimension %d: Population = %d, want %d", c.alg, c.settings, c.dim, got, c.want)
		}
	}
}

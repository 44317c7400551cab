package algorithms_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/algorithms"
)

var updateSequences = flag.Bool("update-sequences", false, "rewrite testdata/sequences.golden (only before changing a method: the file is the record of what one-slot runs did)")

// sequenceRuns are the runs whose candidates testdata/sequences.golden
// records: a bounded 4-D box with a known budget (which sizes gp-bo's
// start-up) for two seeds, and the same box as a mere region of interest.
var sequenceRuns = []struct {
	name    string
	bounded bool
	budget  int
	seed    uint64
}{
	{"bounded-seed1", true, 60, 1},
	{"bounded-seed2", true, 60, 2},
	{"unbounded-seed3", false, 0, 3},
}

const sequenceLength = 60

// sequenceSettings are non-default settings whose code paths the default
// runs miss, recorded on the first of sequenceRuns.
var sequenceSettings = []struct {
	name     string
	settings map[string]string
}{
	{"one-plus-one-es", map[string]string{"reeval": "3"}},
	{"tpe", map[string]string{"multivariate": "true", "startup": "5"}},
	{"gp-bo", map[string]string{"init": "3", "refit-growth": "1.2"}},
}

func formatVec(x []float64) string {
	s := make([]string, len(x))
	for i, v := range x {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, " ")
}

// TestOneSlotSequences holds every method, run on a plain Objective (one
// slot), to the candidates, recommendation and phase counts it produced
// before the batch and asynchronous engine was introduced: with one slot
// the engine must ask for the same points with the same random draws, so
// that committed results do not change. The golden file was written from
// the methods as they were before that change and must not be rewritten
// to make a changed method pass.
func TestOneSlotSequences(t *testing.T) {
	var out bytes.Buffer
	type config struct {
		name     string
		settings map[string]string
	}
	var configs []config
	for _, name := range algorithms.Names() {
		configs = append(configs, config{name, nil})
	}
	for _, c := range sequenceSettings {
		configs = append(configs, config{c.name, c.settings})
	}
	for _, c := range configs {
		runs := sequenceRuns
		name := c.name
		if c.settings != nil {
			runs = runs[:1]
			keys := slices.Sorted(maps.Keys(c.settings))
			for _, k := range keys {
				name += " " + k + "=" + c.settings[k]
			}
		}
		for _, sr := range runs {
			p := unitProblem(4, sr.bounded)
			p.Budget = sr.budget
			opt, _, err := algorithms.Configure(c.name, c.settings)
			if err != nil {
				t.Fatal(err)
			}
			r := &recorder{budget: sequenceLength, f: shiftedSphere(testOptimum)}
			rec, err := opt.Minimize(context.Background(), p, r, rand.New(rand.NewPCG(sr.seed, 1)))
			if !errors.Is(err, errBudget) {
				t.Fatalf("%s %s: Minimize returned %v", name, sr.name, err)
			}
			fmt.Fprintf(&out, "# %s %s\n", name, sr.name)
			for _, x := range r.xs {
				fmt.Fprintln(&out, formatVec(x))
			}
			fmt.Fprintf(&out, "recommend: %s\n", formatVec(rec))
			if pc, ok := opt.(algorithms.PhaseCounter); ok {
				ph := pc.PhaseEvals()
				fmt.Fprintf(&out, "phases: initial %d model %d\n", ph[algorithms.PhaseInitial], ph[algorithms.PhaseModel])
			}
		}
	}
	path := filepath.Join("testdata", "sequences.golden")
	if *updateSequences {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(out.String(), "\n")
	exp := strings.Split(string(want), "\n")
	section := ""
	for i := range max(len(got), len(exp)) {
		var g, e string
		if i < len(got) {
			g = got[i]
		}
		if i < len(exp) {
			e = exp[i]
		}
		if strings.HasPrefix(e, "# ") {
			section = e
		}
		if g != e {
			t.Fatalf("%s: line %d of %s differs:\n got  %q\n want %q", section, i+1, path, g, e)
		}
	}
}

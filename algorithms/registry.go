package algorithms

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Entry describes one named optimiser of the comparison.
type Entry struct {
	// Name is how users select the method (--alg, --algs).
	Name string
	// Summary is one line for help texts and the README.
	Summary string
	// Recommends says which point the method returns as its answer:
	// "best observed" or "distribution mean" (see Optimizer.Minimize).
	// Whether a configured optimiser may hand over a point it never
	// evaluated is not fixed per method (cmaes with recommend=best does
	// not): that is the optional interface UnevaluatedRecommender.
	Recommends string
	// PopParam names the hyperparameter that sets the population (the
	// evaluations per generation), so generic front ends such as the
	// simulator's --pop can set it; empty if the method has none.
	PopParam string
	// Pop is the method's default population rule: the population it
	// uses in dimension dim when PopParam is 0. It lives here, with the
	// method, so front ends that group evaluations into generations (the
	// simulator's lines, the overhead benchmark) need not repeat the
	// formula; nil exactly when PopParam is empty. See Population.
	Pop func(dim int) int
	// Grid is the hyperparameter values `evomerge tune` tries when the
	// user gives no --grid: the knobs that matter at real-merge budgets,
	// a few values each around the defaults ("0" selects a formula
	// default). Nil only for a method none of whose hyperparameters
	// changes its search (random), so there is nothing to tune.
	Grid map[string][]string
	// Batch says how the method fills several evaluation slots (a Pool
	// with Slots() > 1: GPUs evaluating at once): BatchAsync,
	// BatchGeneration or BatchOneSlot. A method that leaves slots idle
	// says so here, so that tables and help texts can show it beside the
	// method's wall-clock figures.
	Batch string
	// New returns a fresh optimiser with default hyperparameters.
	New func() Optimizer
}

// Population is the population a run of the method configured with
// params (as Configure returns them) uses in dimension dim: PopParam's
// value if it is positive, else the default rule Pop; 0 if the method has
// no population.
func (e Entry) Population(dim int, params []Param) int {
	if e.PopParam == "" || e.Pop == nil {
		return 0
	}
	for _, p := range params {
		if p.Name == e.PopParam {
			if v, err := strconv.Atoi(p.Value); err == nil && v > 0 {
				return v
			}
		}
	}
	return e.Pop(dim)
}

// Values of Entry.Batch.
const (
	// BatchAsync: a slot that frees up gets a new candidate at once,
	// proposed from the results known so far and the candidates still
	// being evaluated; no slot waits for another.
	BatchAsync = "async"
	// BatchGeneration: the members of a generation fill the slots as they
	// free up, and the next generation is proposed once the current one's
	// last results are back, so slots idle while a generation's tail is
	// evaluated (none when the population is a multiple of the slots and
	// evaluations take equal time).
	BatchGeneration = "generation"
	// BatchOneSlot: one candidate at a time, whatever the slots.
	BatchOneSlot = "one slot"
)

var registry = map[string]Entry{}

// Register adds an entry; it is called from init functions, so a duplicate
// name is a programming error and panics.
func Register(e Entry) {
	switch e.Batch {
	case BatchAsync, BatchGeneration, BatchOneSlot:
	default:
		panic(fmt.Sprintf("algorithms: %s registered with batch capability %q", e.Name, e.Batch))
	}
	if _, dup := registry[e.Name]; dup {
		panic("algorithms: duplicate registration of " + e.Name)
	}
	if strings.Contains(e.Name, ":") {
		panic("algorithms: " + e.Name + ": \":\" joins a fidelity strategy to a method")
	}
	registry[e.Name] = e
}

// defaultOrder lists the methods of the default comparison first, in the
// order tables show them; any other registered method follows by name.
var defaultOrder = []string{"simple-es", "cmaes", "ga", "random", "gonum-cmaes"}

// Names returns every registered method, default comparison first.
func Names() []string { return orderedNames(defaultOrder, registry) }

// orderedNames lists a registry's names: those of order first, in that
// order, then the others by name.
func orderedNames[E any](order []string, reg map[string]E) []string {
	seen := map[string]bool{}
	var names []string
	for _, n := range order {
		if _, ok := reg[n]; ok {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range reg {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// DefaultNames returns the methods of the default comparison.
func DefaultNames() []string {
	var names []string
	for _, n := range defaultOrder {
		if _, ok := registry[n]; ok {
			names = append(names, n)
		}
	}
	return names
}

// Lookup finds an entry by name: a registered method, or a fidelity-aware
// strategy wrapping one (STRATEGY:METHOD, see fidelity.go).
func Lookup(name string) (Entry, error) {
	if strings.Contains(name, ":") {
		return lookupWrapped(name)
	}
	e, ok := registry[name]
	if !ok && IsMulti(name) {
		return Entry{}, fmt.Errorf("%s is a multi-objective method: it needs several task scores and answers with a front (evomerge mobench, or evolve with an objective of several tasks)", name)
	}
	if !ok {
		return Entry{}, fmt.Errorf("unknown algorithm %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return e, nil
}

// Param is one hyperparameter as configured for a run.
type Param struct {
	Name, Value, Usage string
}

// Configure makes a fresh optimiser of the named method with the given
// hyperparameter settings (name → value) applied, and returns it with the
// full list of hyperparameters it will use. An unknown hyperparameter name
// or an unparsable value is an error naming both.
func Configure(name string, settings map[string]string) (Optimizer, []Param, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	opt := e.New()
	params, err := applySettings(name, opt.Flags, settings)
	if err != nil {
		return nil, nil, err
	}
	return opt, params, nil
}

// applySettings registers a fresh optimiser's hyperparameters with
// register, sets settings on them (in name order) and returns the full
// list as configured. An unknown name or an unparsable value is an error
// naming both. Configure and ConfigureMulti share it.
func applySettings(name string, register func(*flag.FlagSet), settings map[string]string) ([]Param, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	register(fs)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if fs.Lookup(k) == nil {
			return nil, fmt.Errorf("algorithm %s has no hyperparameter %q (it has: %s)", name, k, strings.Join(paramNames(fs), ", "))
		}
		if err := fs.Set(k, settings[k]); err != nil {
			return nil, fmt.Errorf("algorithm %s, hyperparameter %s=%q: %v", name, k, settings[k], err)
		}
	}
	var params []Param
	fs.VisitAll(func(f *flag.Flag) {
		params = append(params, Param{Name: f.Name, Value: f.Value.String(), Usage: f.Usage})
	})
	return params, nil
}

func paramNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

package bench

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Cell is the identity of a benchmark cell: everything that decides which
// runs are comparable samples of one experiment. Runs whose Cells are ==
// are pooled in one table; runs whose Cells differ in any field never are,
// and --resume never takes one for the other. Cell is comparable, so it is
// a map key itself (as x/perf's benchproc.Key is): floats are held as their
// shortest exact decimal form, so NaN, −0 and float formatting cannot split
// or merge cells, and maps and lists as canonical strings.
//
// A Cell is computed from a run's record (Run.Cell) or a comparison's
// configuration (Comparison.Cell). A field that older records lack reads as
// its zero value, which means what the record meant before the field
// existed (no slots, no time model), so old journals load unchanged.
type Cell struct {
	// Scenario is the preset the runs were made for ("" for none).
	Scenario string
	// Objective is the objective's name as it reports it (a registered
	// objective's name lists its non-default settings).
	Objective string
	Dim       int
	Noise     string
	Items     int
	// Landscape, NoiseModel, FailRate, Width and Optimum are the mock's.
	Landscape  string
	NoiseModel string
	FailRate   string
	Width      string
	Optimum    string // comma-separated coordinates; "" when drawn from the seed
	// Options are a registered objective's options, url-encoded with
	// sorted names ("" for none).
	Options string
	Budget  int
	// Target is in the objective's terms (objectives.Reached).
	Target string
	// Policy is the harness's recommendation policy ("reeval 3x4"); ""
	// means each method's own.
	Policy string
	// Slots is the number of evaluations in flight when above 1; 0 means
	// one at a time (a record of 1 slot reads as 0: the same runs).
	Slots int
	// EvalTime is the evaluation-time model of the simulated clock, as
	// EvalTime.String prints it; "" means none.
	EvalTime string
	// ItemModel is how the mock's items are drawn ("" afresh) and
	// ItemBudget the runs' item budget (0: Budget counts evaluations).
	// Both are left out of Key when unset, so cells without them keep
	// the keys, and shards, they always had.
	ItemModel  string
	ItemBudget int
}

// canonFloat is the shortest decimal that reads back as v, with −0 as 0.
func canonFloat(v float64) string {
	if v == 0 {
		v = 0 // −0 == 0: one cell
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func canonFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, v := range xs {
		parts[i] = canonFloat(v)
	}
	return strings.Join(parts, ",")
}

// canonOptions encodes options with sorted names and escaped values, so
// that different maps never encode alike.
func canonOptions(m map[string]string) string {
	v := url.Values{}
	for k, x := range m {
		v.Set(k, x)
	}
	return v.Encode()
}

func canonSlots(n int) int {
	if n <= 1 {
		return 0
	}
	return n
}

// Cell is the identity of the cell the run belongs to, from its record's
// fields alone.
func (r *Run) Cell() Cell {
	return Cell{
		Scenario: r.Scenario, Objective: r.Objective, Dim: r.Dim, Noise: canonFloat(r.Noise), Items: r.Items,
		Landscape: r.Landscape, NoiseModel: r.NoiseModel, FailRate: canonFloat(r.FailRate), Width: canonFloat(r.Width),
		Optimum: canonFloats(r.Optimum), Options: canonOptions(r.Options),
		Budget: r.Budget, Target: canonFloat(r.Target), Policy: r.Policy,
		Slots: canonSlots(r.Slots), EvalTime: r.EvalTime,
		ItemModel: r.ItemModel, ItemBudget: r.ItemBudget,
	}
}

// cellField is one field of a Cell: its name in keys and names, its
// canonical value, and its value as tables print it.
type cellField struct{ name, value, shown string }

// fields lists every field but the scenario, in the order of keys and
// names. Options stay one field here; names spell them out (see opts).
func (c Cell) fields() []cellField {
	return []cellField{
		{"obj", c.Objective, c.Objective},
		{"dim", strconv.Itoa(c.Dim), strconv.Itoa(c.Dim)},
		{"noise", c.Noise, shownFloat(c.Noise)},
		{"items", strconv.Itoa(c.Items), strconv.Itoa(c.Items)},
		{"landscape", c.Landscape, c.Landscape},
		{"noise-model", c.NoiseModel, c.NoiseModel},
		{"fail-rate", c.FailRate, shownFloat(c.FailRate)},
		{"width", c.Width, shownFloat(c.Width)},
		{"optimum", c.Optimum, shownFloats(c.Optimum)},
		{"options", c.Options, c.Options},
		{"policy", c.Policy, c.Policy},
		{"budget", strconv.Itoa(c.Budget), strconv.Itoa(c.Budget)},
		{"target", c.Target, shownFloat(c.Target)},
		{"slots", strconv.Itoa(c.Slots), strconv.Itoa(c.Slots)},
		{"eval-time", c.EvalTime, c.EvalTime},
		{"item-model", c.ItemModel, c.ItemModel},
		{"item-budget", strconv.Itoa(c.ItemBudget), strconv.Itoa(c.ItemBudget)},
	}
}

// keyOptional are the fields a Key leaves out at their zero value: fields
// added after keys were first written to journals and hashed into shards.
var keyOptional = map[string]string{"item-model": "", "item-budget": "0"}

// keyEscape keeps a value from spelling another field: "/" separates
// fields in a Key and "%" escapes.
var keyEscape = strings.NewReplacer("%", "%25", "/", "%2F")

// Key is the one full canonical spelling of the cell: every field, named,
// in a fixed order, with "%" and "/" escaped in values. Two cells have
// the same Key exactly when they are ==.
func (c Cell) Key() string {
	var b strings.Builder
	b.WriteString("scenario=" + keyEscape.Replace(c.Scenario))
	for _, f := range c.fields() {
		if zero, ok := keyOptional[f.name]; ok && f.value == zero {
			continue
		}
		b.WriteString("/" + f.name + "=" + keyEscape.Replace(f.value))
	}
	return b.String()
}

// String is the cell's name in tables, page headings, anchors and figure
// names. A scenario's cell is the scenario's name followed by only the
// fields that differ from the preset ("sd-block-merge/target=50"), so the
// preset's own runs keep the name they always had. Other cells name the
// objective and its settings, leaving out what is unset.
func (c Cell) String() string {
	parts := c.nameParts()
	if c.Scenario != "" {
		return strings.Join(parts, "/")
	}
	// The objective's name leads without "obj=": it may hold "/" itself
	// (mnist-merge/ties/…), which names read as its settings.
	return c.Objective + "/" + strings.Join(parts[1:], "/")
}

// nameParts are the parts of the cell's names (String, benchName), each
// name=value but the first: the scenario's name, or "obj=" the objective.
func (c Cell) nameParts() []string {
	if c.Scenario != "" {
		preset := c.preset()
		parts := []string{c.Scenario}
		pf := preset.fields()
		for i, f := range c.fields() {
			if f.value != pf[i].value {
				parts = append(parts, c.shownParts(f)...)
			}
		}
		return parts
	}
	// A registered objective's name already lists its settings and its
	// options; the mock-only fields are left out when unset.
	registered := strings.Contains(c.Objective, "/")
	var parts []string
	for _, f := range c.fields() {
		switch f.name {
		case "noise":
			if registered && f.value == "0" {
				continue
			}
		case "items", "fail-rate", "width", "slots", "item-budget":
			if f.value == "0" {
				continue
			}
		case "options":
			if registered || f.value == "" {
				continue
			}
		case "landscape", "noise-model", "optimum", "policy", "eval-time", "item-model":
			if f.value == "" {
				continue
			}
		}
		parts = append(parts, c.shownParts(f)...)
	}
	return parts
}

// shownParts prints one field as name=value: options as one part per
// option, the policy as "reeval=3x4".
func (c Cell) shownParts(f cellField) []string {
	switch f.name {
	case "options":
		opts, err := url.ParseQuery(f.value)
		if err != nil { // not from canonOptions: show it as it is
			return []string{"options=" + f.value}
		}
		keys := make([]string, 0, len(opts))
		for k := range opts {
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			return []string{"options="}
		}
		sort.Strings(keys)
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k + "=" + opts.Get(k)
		}
		return out
	case "policy":
		if name, v, ok := strings.Cut(f.value, " "); ok {
			return []string{name + "=" + v}
		}
	}
	return []string{f.name + "=" + f.shown}
}

// preset is the cell of the scenario's own runs: the preset's objective,
// budget and target, with nothing else set. An unknown scenario (a name
// from an older version) has no preset: every set field is shown.
func (c Cell) preset() Cell {
	sc, err := LookupScenario(c.Scenario)
	if err != nil {
		return Cell{Scenario: c.Scenario, Noise: "0", FailRate: "0", Width: "0", Target: "0"}
	}
	o := sc.Objective
	return Cell{
		Scenario: sc.Name, Objective: o.Name, Dim: o.Dim, Noise: canonFloat(o.Noise), Items: o.Items,
		Landscape: o.Landscape, NoiseModel: o.NoiseModel, FailRate: canonFloat(o.FailRate), Width: canonFloat(o.Width),
		Optimum: canonFloats(o.Optimum), Options: canonOptions(o.Options),
		Budget: sc.Budget, Target: canonFloat(sc.Target),
	}
}

// shownFloat prints a canonical float as tables do (6 significant digits).
func shownFloat(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return fmtG(v)
}

func shownFloats(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = shownFloat(p)
	}
	return strings.Join(parts, ",")
}

// Entry is one configuration of one method in one cell: the runs a table
// row pools. Params are the run's hyperparameters as formatParams prints
// them (sorted name=value pairs).
type Entry struct {
	Cell   Cell
	Alg    string
	Params string
}

// RunKey identifies one run: its entry and its seed. --resume skips a job
// whose RunKey the journal holds; Resolve keeps one record per RunKey.
type RunKey struct {
	Entry Entry
	Seed  uint64
}

// String names the run in messages.
func (k RunKey) String() string {
	s := fmt.Sprintf("the run of %s, seed %d in %s", k.Entry.Alg, k.Seed, k.Entry.Cell)
	if k.Entry.Params != "" {
		s += " (" + k.Entry.Params + ")"
	}
	return s
}

// Key is the one canonical spelling of the run key, as a journal's
// evaluation lines name their run: the cell's Key followed by the
// algorithm, its hyperparameters and the seed. Two keys have the same Key
// exactly when they are ==.
func (k RunKey) Key() string {
	return k.Entry.Cell.Key() + "/alg=" + keyEscape.Replace(k.Entry.Alg) +
		"/params=" + keyEscape.Replace(k.Entry.Params) + "/seed=" + strconv.FormatUint(k.Seed, 10)
}

// Entry is the run's cell, algorithm and hyperparameters.
func (r *Run) Entry() Entry {
	return Entry{Cell: r.Cell(), Alg: r.Algorithm, Params: formatParams(r.Params)}
}

// RunKey identifies the run for --resume and Resolve: its cell, algorithm,
// every hyperparameter and seed, so a run made with other settings is
// never taken for this one.
func (r *Run) RunKey() RunKey { return RunKey{Entry: r.Entry(), Seed: r.Seed} }

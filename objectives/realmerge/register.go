package realmerge

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/objectives"
	"github.com/evomerge/evomerge/objectives/zoo"
)

func init() {
	objectives.Register("mnist-merge", FromSpec)
}

// optionNames are the options of FromSpec, with what they set.
var optionNames = map[string]string{
	"method":      "task_arithmetic (default), ties or dare_ties",
	"granularity": "layer (default) or global",
	"densities":   "true: a density gene per expert and group (ties, dare_ties)",
	"density":     "fixed density without density genes (default 0.5)",
	"normalize":   "true: mergekit's normalize",
	"weight-max":  "upper bound of weight genes (default 3)",
	"pool":        "search pool size, test items 0..pool-1 (default 1000)",
	"task":        "zoo task scored (default target)",
	"zoo-seed":    "seed of the model zoo (default 1, the zoo of the published figures)",
	"distractors": "distractor experts, '+'-separated: rot90, flip",
	"init":        "zoo initialisation: pytorch (default) or he (harder merges)",
	"target":      "target accuracy in percent (default 80)",
}

// FromSpec builds the objective from a harness Spec: Items sets the items
// per evaluation, Options the rest (see optionNames); Dim, if set, must
// match the genome. The zoo is built (or read from its cache) on first use.
func FromSpec(s objectives.Spec) (objectives.Function, error) {
	if s.Noise != 0 || s.Landscape != "" || s.NoiseModel != "" || s.FailRate != 0 || s.Width != 0 || s.Optimum != nil {
		return nil, fmt.Errorf("objective mnist-merge: its noise is real (set it with --items); mock settings do not apply")
	}
	cfg := Config{Items: s.Items, Zoo: zoo.Config{Seed: 1}}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s.Options[k]
		var err error
		switch k {
		case "method":
			cfg.Method = v
		case "granularity":
			cfg.Granularity = v
		case "densities":
			cfg.Densities, err = strconv.ParseBool(v)
		case "normalize":
			cfg.Normalize, err = strconv.ParseBool(v)
		case "density":
			cfg.Density, err = strconv.ParseFloat(v, 64)
		case "weight-max":
			cfg.WeightMax, err = strconv.ParseFloat(v, 64)
		case "target":
			cfg.Target, err = strconv.ParseFloat(v, 64)
		case "pool":
			cfg.Pool, err = strconv.Atoi(v)
		case "task":
			cfg.Task = v
		case "zoo-seed":
			cfg.Zoo.Seed, err = strconv.ParseUint(v, 10, 64)
		case "distractors":
			cfg.Zoo.Distractors = strings.Split(v, "+")
		case "init":
			cfg.Zoo.Init = v
		default:
			return nil, unknownOption("mnist-merge", k, optionNames)
		}
		if err != nil {
			return nil, fmt.Errorf("objective mnist-merge: option %s=%q: %v", k, v, err)
		}
	}
	o, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if s.Dim != 0 && s.Dim != o.Dim() {
		return nil, fmt.Errorf("objective mnist-merge: --dim %d, but this genome has %d genes (leave --dim unset)", s.Dim, o.Dim())
	}
	return o, nil
}

// unknownOption is the error for an option an objective does not have,
// listing those it has with what each does.
func unknownOption(objective, name string, options map[string]string) error {
	known := make([]string, 0, len(options))
	for n, doc := range options {
		known = append(known, n+" ("+doc+")")
	}
	sort.Strings(known)
	return fmt.Errorf("objective %s has no option %q; it has: %s", objective, name, strings.Join(known, "; "))
}

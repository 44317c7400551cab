package realmerge

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/evomerge/evomerge/objectives"
)

func init() {
	objectives.Register("mnist-multitask", MultiFromSpec)
}

// multiOptionNames are the options of MultiFromSpec, with what they set.
var multiOptionNames = map[string]string{
	"instance":   "zoo instance of the multi-task testbed (default 0)",
	"method":     "ties (default), dare_ties or task_arithmetic",
	"groups":     "layer groups of the genome: 1, 2, 4 (default) or 8",
	"densities":  "true: a density gene per expert and group (ties, dare_ties)",
	"density":    "fixed density without density genes (default 0.5)",
	"normalize":  "true: mergekit's normalize",
	"weight-max": "upper bound of weight genes (default 2)",
	"pool":       "search pool size in test images, drawn at random (default 300)",
	"sampling":   "fixed (default: one subset of --items items per task, as lm-eval --limit) or resample (fresh items per evaluation)",
	"target":     "target accuracy in percent (default 45)",
}

// MultiFromSpec builds the multi-task objective from a harness Spec:
// Items sets the items per task (the limit), Options the rest (see
// multiOptionNames); Dim, if set, must match the genome.
func MultiFromSpec(s objectives.Spec) (objectives.Function, error) {
	if s.Noise != 0 || s.Landscape != "" || s.NoiseModel != "" || s.FailRate != 0 || s.Width != 0 || s.Optimum != nil {
		return nil, fmt.Errorf("objective mnist-multitask: its noise is real (set the items per task with --items); mock settings do not apply")
	}
	cfg := MultiConfig{Limit: s.Items}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s.Options[k]
		var err error
		switch k {
		case "instance":
			cfg.Instance, err = strconv.ParseUint(v, 10, 64)
		case "method":
			cfg.Method = v
		case "groups":
			cfg.Groups, err = strconv.Atoi(v)
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
		case "sampling":
			switch v {
			case "fixed":
				cfg.Resample = false
			case "resample":
				cfg.Resample = true
			default:
				err = fmt.Errorf("want fixed or resample")
			}
		default:
			return nil, unknownOption("mnist-multitask", k, multiOptionNames)
		}
		if err != nil {
			return nil, fmt.Errorf("objective mnist-multitask: option %s=%q: %v", k, v, err)
		}
	}
	o, err := NewMulti(cfg)
	if err != nil {
		return nil, err
	}
	if s.Dim != 0 && s.Dim != o.Dim() {
		return nil, fmt.Errorf("objective mnist-multitask: --dim %d, but this genome has %d genes (leave --dim unset)", s.Dim, o.Dim())
	}
	return o, nil
}

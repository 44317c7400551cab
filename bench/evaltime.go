package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// EvalTime is the model of how long one evaluation takes on one slot, for
// runs on a simulated clock: real evaluations (a merge and a benchmark)
// take minutes and GPUs are few, so what a user compares is time to
// target on K slots, not evaluations. The zero value means "no model":
// evaluations take no time and nothing is simulated.
type EvalTime struct {
	// Kind is "fixed" or "lognormal"; empty means no model.
	Kind string
	// Median is the fixed duration, or the lognormal's median e^μ.
	Median time.Duration
	// Sigma is the lognormal's σ (the standard deviation of the log).
	Sigma float64
}

// ParseEvalTime reads "fixed:5m" or "lognormal:median=5m,sigma=0.5"
// (durations as Go's time.ParseDuration reads them). An empty string is
// the zero EvalTime.
func ParseEvalTime(s string) (EvalTime, error) {
	if s == "" {
		return EvalTime{}, nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	bad := func(format string, a ...any) (EvalTime, error) {
		return EvalTime{}, fmt.Errorf("evaluation time %q: %s (forms: fixed:5m, lognormal:median=5m,sigma=0.5)", s, fmt.Sprintf(format, a...))
	}
	if !ok {
		return bad("no model named before a colon")
	}
	switch kind {
	case "fixed":
		d, err := time.ParseDuration(rest)
		if err != nil {
			return bad("%v", err)
		}
		if d <= 0 {
			return bad("the duration must be positive")
		}
		return EvalTime{Kind: "fixed", Median: d}, nil
	case "lognormal":
		e := EvalTime{Kind: "lognormal", Sigma: math.NaN()}
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return bad("%q is not name=value", kv)
			}
			switch k {
			case "median":
				if e.Median != 0 {
					return bad("median given twice")
				}
				d, err := time.ParseDuration(v)
				if err != nil {
					return bad("median: %v", err)
				}
				if d <= 0 {
					return bad("the median must be positive")
				}
				e.Median = d
			case "sigma":
				if !math.IsNaN(e.Sigma) {
					return bad("sigma given twice")
				}
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !(f >= 0) || math.IsInf(f, 0) || f > 5 {
					return bad("sigma %q must be a number in [0, 5]", v)
				}
				e.Sigma = f
			default:
				return bad("unknown parameter %q (median, sigma)", k)
			}
		}
		if e.Median == 0 || math.IsNaN(e.Sigma) {
			return bad("lognormal needs both median and sigma")
		}
		return e, nil
	}
	return bad("unknown model %q (fixed, lognormal)", kind)
}

// String prints the model in the form ParseEvalTime reads.
func (e EvalTime) String() string {
	switch e.Kind {
	case "fixed":
		return "fixed:" + e.Median.String()
	case "lognormal":
		return fmt.Sprintf("lognormal:median=%s,sigma=%s", e.Median, strconv.FormatFloat(e.Sigma, 'g', -1, 64))
	}
	return ""
}

// Set implements flag.Value.
func (e *EvalTime) Set(s string) error {
	v, err := ParseEvalTime(s)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Seconds draws the duration of evaluation index (1-based, in the order
// candidates were handed out) of the run with the given seed. The draw
// depends on the seed and the index only, so the simulated clock gives
// the same result at any parallelism and for any completion order.
func (e EvalTime) Seconds(seed uint64, index int) float64 {
	switch e.Kind {
	case "fixed":
		return e.Median.Seconds()
	case "lognormal":
		rng := rand.New(rand.NewPCG(seed^0x6576616c74696d65, uint64(index))) // "evaltime"
		return e.Median.Seconds() * math.Exp(e.Sigma*rng.NormFloat64())
	}
	return 0
}

package merge

import (
	"fmt"
	"math"
	"strings"
)

// A parameter value as written in a recipe: a scalar (number, bool or
// string), a list of numbers (a gradient interpolated across layers), a list
// of other scalars (a step function), or a list of {filter, value} entries.
// Values are kept as decoded from YAML (float64/int/bool/string, []any,
// map[string]any) and evaluated per tensor by evalSetting.

// evalSetting is mergekit's evaluate_setting: it returns the value of v at
// layer position t for tensor name, and found=false when v is null or a
// filter list with no matching entry (so lookup falls through to the next
// scope).
func evalSetting(v any, t float64, name string) (val any, found bool, err error) {
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case float64, bool, string:
		return x, true, nil
	case int:
		return float64(x), true, nil
	case []any:
		if len(x) == 0 {
			return nil, false, fmt.Errorf("empty list")
		}
		if _, ok := x[0].(map[string]any); ok {
			for i, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, false, fmt.Errorf("entry %d of a filter list is not a {filter, value} map", i)
				}
				for k := range m {
					if k != "filter" && k != "value" {
						return nil, false, fmt.Errorf("filter entry %d has unknown key %q", i, k)
					}
				}
				f, isStr := m["filter"].(string)
				if m["filter"] != nil && !isStr {
					return nil, false, fmt.Errorf("filter entry %d: filter must be a string or null", i)
				}
				if m["filter"] == nil || f == "*" || strings.Contains(name, f) {
					return evalSetting(m["value"], t, name)
				}
			}
			return nil, false, nil
		}
		nums := make([]float64, len(x))
		numeric := true
		for i, e := range x {
			f, ok := asNumber(e)
			if !ok {
				numeric = false
				break
			}
			nums[i] = f
		}
		if numeric {
			return interpolate(nums, t), true, nil
		}
		for i, e := range x {
			switch e.(type) {
			case string, float64, int, bool:
			default:
				return nil, false, fmt.Errorf("list entry %d (%v) is not a scalar", i, e)
			}
		}
		i := int(t * float64(len(x)-1))
		i = max(0, min(len(x)-1, i))
		return evalSetting(x[i], t, name)
	}
	return nil, false, fmt.Errorf("unsupported value %v (%T)", v, v)
}

// interpolate evaluates a gradient: knots evenly spaced over t ∈ [0, 1],
// piecewise linear between them, with mergekit's exact formula.
func interpolate(v []float64, t float64) float64 {
	n := len(v)
	if n == 1 {
		return v[0]
	}
	s := t * float64(n-1)
	i0 := int(s)
	i0 = max(0, min(n-1, i0))
	i1 := min(n-1, i0+1)
	f := s - float64(i0)
	return (1-f)*v[i0] + f*v[i1]
}

func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// params holds resolved numeric parameter values for one tensor (bools as
// 1/0). A missing key means "not set"; methods fill in their defaults.
type params map[string]float64

func (p params) bool(k string) bool { return p[k] != 0 && !math.IsNaN(p[k]) }

// numeric converts an evaluated setting to a float64 parameter value.
func numeric(key string, v any) (float64, error) {
	if f, ok := asNumber(v); ok {
		return f, nil
	}
	return 0, fmt.Errorf("parameter %s: want a number or bool, got %v", key, v)
}

// layerT is the position of layer idx in an output slice of n layers, as
// mergekit's planner computes it: idx/(n−1), and 1 for a one-layer slice (so
// it takes a gradient's last value). Embeddings, the final norm and lm_head
// use t = 0.
func layerT(idx, n int) float64 {
	if n <= 1 {
		return 1
	}
	return float64(idx) / float64(n-1)
}

// domain is the set of values a parameter may take. mergekit checks few of
// them (a negative DARE density fails inside torch.bernoulli, a TIES density
// keeping no element fails its k > 0 assertion, others give silently odd
// merges); here every value outside its domain is an error naming it.
type domain struct {
	lo, hi   float64
	integer  bool
	boolean  bool
	describe string
}

var (
	anyFinite   = domain{lo: math.Inf(-1), hi: math.Inf(1), describe: "any finite number"}
	unitRange   = domain{lo: 0, hi: 1, describe: "[0, 1]"}
	nonNegative = domain{lo: 0, hi: math.Inf(1), describe: "[0, ∞)"}
	boolean     = domain{boolean: true, describe: "true or false"}
)

// paramDomains gives each parameter name's domain; a name has the same
// meaning in every method that reads it.
var paramDomains = map[string]domain{
	"weight": anyFinite, "lambda": anyFinite, "scale": anyFinite,
	// slerp extrapolates for t outside [0, 1], as mergekit's does.
	"t":           anyFinite,
	"density":     unitRange,
	"gamma":       unitRange,
	"select_topk": unitRange,
	"epsilon":     nonNegative,
	"tol":         nonNegative,
	"eps":         nonNegative,
	"r":           nonNegative,
	"alpha":       nonNegative,
	"max_iter":    {lo: 0, hi: 1 << 20, integer: true, describe: "a whole number ≥ 0"},
	"normalize":   boolean, "rescale": boolean, "int8_mask": boolean, "nuslerp_flatten": boolean,
	"nuslerp_row_wise": boolean, "filter_wise": boolean, "normalize_weights": boolean,
}

// methodDomains narrows a name's domain for one method.
var methodDomains = map[string]map[string]domain{
	// nearswap's t is a distance: below 0 every weight clamps to 0.
	"nearswap": {"t": nonNegative},
}

// checkDomain reports a value outside parameter key's domain for method.
func checkDomain(method, key string, v float64) error {
	d, ok := methodDomains[method][key]
	if !ok {
		d, ok = paramDomains[key]
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("parameter %s = %v is not a finite number", key, v)
	}
	if !ok {
		return nil
	}
	if d.boolean {
		if v != 0 && v != 1 {
			return fmt.Errorf("parameter %s = %v must be %s", key, v, d.describe)
		}
		return nil
	}
	switch {
	case d.integer && v != math.Trunc(v), v < d.lo, v > d.hi:
		return fmt.Errorf("parameter %s = %v is outside its domain, %s, for %s", key, v, d.describe, method)
	}
	return nil
}

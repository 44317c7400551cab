package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// floatList is a comma-separated list flag such as --optimum 0.1,0.2.
type floatList []float64

func (l *floatList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (l *floatList) Set(s string) error {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%q is not a finite number", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// settings collects repeatable --set alg.param=value flags.
type settings map[string]map[string]string

func (s settings) String() string {
	var parts []string
	for alg, m := range s {
		for k, v := range m {
			parts = append(parts, alg+"."+k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func (s settings) Set(v string) error {
	key, val, ok := strings.Cut(v, "=")
	alg, name, ok2 := strings.Cut(key, ".")
	if !ok || !ok2 || alg == "" || name == "" {
		return fmt.Errorf("%q: want alg.param=value, e.g. cmaes.popsize=12", v)
	}
	if s[alg] == nil {
		s[alg] = map[string]string{}
	}
	s[alg][name] = val
	return nil
}

// nameList parses a comma-separated list of names given to flag. Every
// entry must be present and distinct: a repeated algorithm would run the
// same seeds again and count each pair as two independent samples, and an
// empty entry ("a,,b") is a typo that would otherwise vanish silently.
func nameList(flag, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--%s is empty", flag)
	}
	var out []string
	seen := map[string]bool{}
	for i, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return nil, fmt.Errorf("--%s %q: entry %d is empty", flag, s, i+1)
		case seen[p]:
			return nil, fmt.Errorf("--%s %q: %q is listed twice; each entry is run once per seed", flag, s, p)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// optFloat is a float flag whose absence is visible: --noise and --target
// take their default from the objective, so "unset" must differ from any
// value a user could type. Its zero value prints no "(default …)" in help.
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) {
		return fmt.Errorf("%q is not a number", s)
	}
	o.v, o.set = v, true
	return nil
}

// or returns the value if set, else def.
func (o optFloat) or(def float64) float64 {
	if o.set {
		return o.v
	}
	return def
}

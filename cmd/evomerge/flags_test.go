package main

import (
	"math"
	"strings"
	"testing"
)

// FuzzFlagParsers feeds arbitrary text to the parsers of the list-valued
// flags: each must accept it with a well-formed result or refuse it with an
// error, never panic.
func FuzzFlagParsers(f *testing.F) {
	for _, s := range []string{"0.1,0.2", "cmaes.popsize=8", "pop=1,2,3", "a=", "=1", ",,", "1e400", "x.y.z=w=v", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l floatList
		if err := l.Set(s); err == nil {
			for _, v := range l {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("floatList accepted %g from %q", v, s)
				}
			}
		}
		set := settings{}
		if err := set.Set(s); err == nil {
			for alg, m := range set {
				for k := range m {
					if alg == "" || k == "" {
						t.Fatalf("settings accepted an empty name from %q", s)
					}
				}
			}
		}
		g := gridFlag{}
		if err := g.Set(s); err == nil {
			for k, vs := range g {
				if k == "" || len(vs) == 0 {
					t.Fatalf("grid accepted %q → %v", s, g)
				}
				for _, v := range vs {
					if strings.TrimSpace(v) == "" {
						t.Fatalf("grid accepted an empty value from %q", s)
					}
				}
			}
		}
		o := options{}
		if err := o.Set(s); err == nil && o[""] != "" {
			t.Fatalf("options accepted an empty name from %q", s)
		}
		fl := floors{}
		if err := fl.Set(s); err == nil {
			for k, v := range fl {
				if k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("floors accepted %q → %v", s, fl)
				}
			}
		}
		if l, err := intList("budgets", s); err == nil {
			for _, v := range l {
				if v < 1 {
					t.Fatalf("intList accepted %d from %q", v, s)
				}
			}
		}
	})
}

package bench

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseEvalTime(t *testing.T) {
	good := map[string]EvalTime{
		"":                              EvalTime{},
		"fixed:5m":                      {Kind: "fixed", Median: 5 * time.Minute},
		"lognormal:median=5m,sigma=0.5": {Kind: "lognormal", Median: 5 * time.Minute, Sigma: 0.5},
		"lognormal:sigma=0,median=1.5s": {Kind: "lognormal", Median: 1500 * time.Millisecond, Sigma: 0},
	}
	for s, want := range good {
		got, err := ParseEvalTime(s)
		if err != nil || got != want {
			t.Errorf("ParseEvalTime(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if s != "" {
			again, err := ParseEvalTime(got.String())
			if err != nil || again != got {
				t.Errorf("%q does not survive String: %q", s, got.String())
			}
		}
	}
	for _, s := range []string{"5m", "fixed:", "fixed:-1s", "fixed:0s", "gamma:5m", "lognormal:median=5m",
		"lognormal:median=5m,sigma=-1", "lognormal:median=5m,sigma=NaN", "lognormal:median=5m,sigma=0.5,x=1",
		"lognormal:median=0s,sigma=1", "lognormal:median=5m,median=4m,sigma=1", "lognormal:median5m"} {
		if _, err := ParseEvalTime(s); err == nil || !strings.Contains(err.Error(), "evaluation time") {
			t.Errorf("ParseEvalTime(%q) = %v, want an error naming the evaluation time", s, err)
		}
	}
}

// TestEvalTimeDraws checks the lognormal's median and spread over many
// indices, and that a draw depends only on the seed and the index.
func TestEvalTimeDraws(t *testing.T) {
	e := EvalTime{Kind: "lognormal", Median: time.Minute, Sigma: 0.5}
	var xs, logs []float64
	for i := 1; i <= 4001; i++ {
		v := e.Seconds(7, i)
		if v != e.Seconds(7, i) {
			t.Fatal("a draw is not a function of seed and index")
		}
		xs = append(xs, v)
		logs = append(logs, math.Log(v/60))
	}
	sort.Float64s(xs)
	if med := xs[len(xs)/2]; math.Abs(med-60) > 3 {
		t.Errorf("median %g s, want about 60", med)
	}
	m, s2 := 0.0, 0.0
	for _, l := range logs {
		m += l
	}
	m /= float64(len(logs))
	for _, l := range logs {
		s2 += (l - m) * (l - m)
	}
	if sd := math.Sqrt(s2 / float64(len(logs)-1)); math.Abs(sd-0.5) > 0.03 {
		t.Errorf("σ of the log %g, want about 0.5", sd)
	}
	if e.Seconds(7, 1) == e.Seconds(8, 1) {
		t.Error("two seeds give the same draw")
	}
	if (EvalTime{Kind: "fixed", Median: time.Second}).Seconds(1, 5) != 1 {
		t.Error("fixed time is not fixed")
	}
}

func FuzzParseEvalTime(f *testing.F) {
	for _, s := range []string{"fixed:5m", "lognormal:median=5m,sigma=0.5", "", "x:y", "lognormal:,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEvalTime(s)
		if err != nil {
			return
		}
		if e.Kind != "" {
			again, err := ParseEvalTime(e.String())
			if err != nil || again != e {
				t.Fatalf("%q parses to %+v, whose String %q parses to %+v, %v", s, e, e.String(), again, err)
			}
			if v := e.Seconds(1, 1); !(v > 0) || math.IsInf(v, 0) {
				t.Fatalf("%q draws %g seconds", s, v)
			}
		}
	})
}

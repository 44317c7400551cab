package validity

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

// realRun is a record of a method on the real cell g4-100 of instance
// inst, seed index k.
func realRun(alg string, inst, k int, budget int, score float64) *bench.Run {
	master := uint64(1)
	v := score
	return &bench.Run{Algorithm: alg, Objective: "mnist-multitask", Budget: budget,
		Options: map[string]string{"groups": "4", "instance": strconv.Itoa(inst)}, ObjectiveSeed: &master,
		Seed: bench.DeriveSeed(master, alg, strconv.Itoa(k)), RecommendHeldOut: &v}
}

func mockRun(alg, scenario string, k int, score float64) *bench.Run {
	master := uint64(1)
	return &bench.Run{Algorithm: alg, Scenario: scenario, ObjectiveSeed: &master,
		Seed: bench.DeriveSeed(master, alg, strconv.Itoa(k)), RecommendTrue: score}
}

// study builds a small study whose figures are known by construction:
// three methods, real scores a > b > c on both instances, the fitted
// mocks ranking them a > c > b, the suite c > b > a.
func study() *Study {
	s := &Study{
		Cells:     []Cell{{Name: "g4-100", Groups: "4", Budget: 100}},
		Methods:   []string{"a", "b", "random"},
		Instances: []int{0, 1},
		RealSeeds: 2, MockSeeds: 2,
		Calibrations: map[string]Calibration{
			Key("g4-100", 0): {Scenario: "fit-0", Algorithm: "b", Params: map[string]string{"x": "1"}, Predicted: 70},
			Key("g4-100", 1): {Scenario: "fit-1", Algorithm: "a", Predicted: 80},
		},
		Baselines:      map[int]Baselines{0: {TA: 10, TIES: 20}, 1: {TA: 12, TIES: 45}},
		DifficultyCell: "g4-100",
		LongBudget:     1000,
		LongGroups:     "4",
		Objective:      "mnist-multitask",
		Bootstrap:      200,
		Seed:           1,
	}
	real := map[string]float64{"a": 50, "b": 40, "random": 30}
	mock := map[string]float64{"a": 90, "b": 60, "random": 70}
	suite := map[string]float64{"a": 10, "b": 20, "random": 30}
	for _, inst := range s.Instances {
		for k := range 2 {
			for m, v := range real {
				s.Real = append(s.Real, realRun(m, inst, k, 100, v+float64(k)))
			}
			for m, v := range mock {
				s.Mock = append(s.Mock, mockRun(m, "fit-"+strconv.Itoa(inst), k, v+float64(k)))
			}
		}
		s.Long = append(s.Long, realRun("cmaes", inst, 0, 1000, 60))
	}
	// Instance 0's recommendation (b with x=1) scores 45 and 47: median
	// 46, below a's 50.5 there: regret 4.5. Instance 1's (a) scores as a:
	// regret 0.
	for k, v := range []float64{45, 47} {
		r := realRun("b", 0, k, 100, v)
		r.Params = map[string]string{"x": "1", "y": "default"}
		s.Advice = append(s.Advice, r)
	}
	for k, v := range []float64{50, 51} {
		s.Advice = append(s.Advice, realRun("a", 1, k, 100, v))
	}
	for _, sc := range []string{"p", "q"} {
		for m, v := range suite {
			s.Suite = append(s.Suite, &bench.Run{Algorithm: m, Scenario: sc, RecommendTrue: v})
		}
	}
	return s
}

func TestAnalyseKnownStudy(t *testing.T) {
	s := study()
	res, err := s.Analyse()
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cells[0]
	// Real a > b > random, predicted a > random > b: one discordant pair
	// of three, τ = 1/3. Suite random > b > a: τ = −1.
	if math.Abs(c.Tau-1.0/3) > 1e-12 {
		t.Errorf("τ = %v, want 1/3", c.Tau)
	}
	if c.Baseline != -1 {
		t.Errorf("baseline τ = %v, want −1", c.Baseline)
	}
	if c.Ceiling != 1 {
		t.Errorf("ceiling = %v, want 1 (both halves rank a > b > random)", c.Ceiling)
	}
	if !(c.TauCI.Lo <= c.Tau && c.Tau <= c.TauCI.Hi) {
		t.Errorf("τ %v outside its interval %v", c.Tau, c.TauCI)
	}
	if len(c.Regrets) != 2 || c.Regrets[0].Regret != 4.5 || c.Regrets[1].Regret != 0 {
		t.Fatalf("regrets %+v, want 4.5 on instance 0 and 0 on instance 1", c.Regrets)
	}
	if c.Regrets[0].Best != "a" || c.Regrets[0].Recommended != "b (x=1)" {
		t.Errorf("instance 0: best %q, recommended %q", c.Regrets[0].Best, c.Regrets[0].Recommended)
	}
	if res.MedianRegret != 2.25 || res.Above != 1 {
		t.Errorf("median regret %v (want 2.25), cells above the baseline %d (want 1)", res.MedianRegret, res.Above)
	}
	d := res.Difficulty
	if d.Instances[1].TIESGap != 15 || d.Instances[0].TAGap != 50 {
		t.Errorf("gaps %+v", d.Instances)
	}
	if d.BestMethod != "a" || d.Best.Median != 50.5 || d.Random.Median != 30.5 {
		t.Errorf("best %s %+v, random %+v", d.BestMethod, d.Best, d.Random)
	}
	var b bytes.Buffer
	res.Page(&b, s)
	page := b.String()
	for _, want := range []string{
		"| g4-100 | 0.33 [",
		"2. Random search at 100 evaluations at least 5 points below the best method, on every instance (the smallest gap is 20.0) and pooled over instances (a 50.5 (50.0, 50.0) against random 30.5 (30.0, 30.0), a gap of 20.0): holds.",
		"median regret over every cell and instance: 2.2 points (goal ≤ 1): **missed**",
		"| 0 | b (x=1) | 70.0 | 46.0 | a | 50.5 | 4.5 |",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	// The same input gives the same page, bootstrap included.
	res2, err := study().Analyse()
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	res2.Page(&b2, study())
	if b2.String() != page {
		t.Error("two analyses of one study differ")
	}
}

func TestAnalyseRefusesIncompleteStudies(t *testing.T) {
	for name, spoil := range map[string]func(*Study){
		"a method missing": func(s *Study) { s.Methods = append(s.Methods, "tpe") },
		"no calibration":   func(s *Study) { delete(s.Calibrations, Key("g4-100", 1)) },
		"a failed run":     func(s *Study) { s.Real[0].Error = "merge failed" },
		"a duplicate run":  func(s *Study) { s.Real = append(s.Real, s.Real[0]) },
		"a foreign seed":   func(s *Study) { s.Real[0].Seed++ },
		"an unknown scenario": func(s *Study) {
			s.Mock[0].Scenario = "other"
		},
		"a run outside the cells": func(s *Study) { s.Real[0].Budget = 50 },
		"no baselines":            func(s *Study) { delete(s.Baselines, 0) },
		"advice of another configuration": func(s *Study) {
			s.Advice[0].Params = map[string]string{"x": "2"}
		},
		"advice of another method":     func(s *Study) { s.Advice[2].Algorithm = "b" },
		"a long run of another budget": func(s *Study) { s.Long[0].Budget = 300 },
		"another objective":            func(s *Study) { s.Real[1].Objective = "mnist-merge" },
	} {
		s := study()
		spoil(s)
		if _, err := s.Analyse(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

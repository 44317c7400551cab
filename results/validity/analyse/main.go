// Command analyse writes results/validity/README.md from the study's
// records: the protocol (protocol.md), then every figure it names, then the
// reading of them (answer.md, if present). results/validity/run.sh runs it
// last; it reads only files and the cached zoo instances, and writes the
// page atomically, byte-identical for the same records.
//
//	go run ./results/validity/analyse -dir results/validity -suite results/suite/runs.jsonl
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/bench/validity"
	"github.com/evomerge/evomerge/objectives/realmerge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// The design the protocol fixes (run.sh runs the same).
var (
	cells = []validity.Cell{
		{Name: "g1-50", Groups: "1", Budget: 50}, {Name: "g1-100", Groups: "1", Budget: 100}, {Name: "g1-300", Groups: "1", Budget: 300},
		{Name: "g4-50", Groups: "4", Budget: 50}, {Name: "g4-100", Groups: "4", Budget: 100}, {Name: "g4-300", Groups: "4", Budget: 300},
	}
	methods   = []string{"cmaes", "sep-cmaes", "tpe", "gp-bo", "one-plus-one-es", "de", "pso", "random"}
	instances = []int{0, 1, 2, 3, 4}
)

const (
	realSeeds, mockSeeds = 4, 10
	bootstrap            = 2000
)

// Baseline names in realmerge.MultiBaselines.
const (
	taName   = "task_arithmetic, weights 1/M = 1/6 (mergekit-evolve's start)"
	tiesName = "ties, weights 1, density 0.5, normalize (mergekit's defaults)"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "analyse:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "results/validity", "the study's folder")
	suite := flag.String("suite", "results/suite/runs.jsonl", "records of the built-in scenarios (the baseline)")
	advice := flag.String("advice", "", "print the bench flags of the recommendation in this calibrate folder, and exit")
	flag.Parse()
	if *advice != "" {
		return printAdvice(*advice)
	}
	s := &validity.Study{Cells: cells, Methods: methods, Instances: instances, RealSeeds: realSeeds, MockSeeds: mockSeeds,
		DifficultyCell: "g4-100", LongBudget: 1000, LongGroups: "4", Objective: "mnist-multitask/",
		Bootstrap: bootstrap, Seed: 1, Calibrations: map[string]validity.Calibration{},
		Baselines: map[int]validity.Baselines{}}
	var err error
	for _, in := range []struct {
		dst  *[]*bench.Run
		path string
	}{
		{&s.Real, filepath.Join(*dir, "real.jsonl")}, {&s.Long, filepath.Join(*dir, "long.jsonl")},
		{&s.Mock, filepath.Join(*dir, "mock.jsonl")}, {&s.Advice, filepath.Join(*dir, "advice.jsonl")}, {&s.Suite, *suite},
	} {
		if *in.dst, err = bench.ReadRuns(in.path); err != nil {
			return err
		}
	}
	for _, c := range cells {
		for _, i := range instances {
			cal, err := readCalibration(filepath.Join(*dir, "calibrate", fmt.Sprintf("%s-%d", c.Name, i)))
			if err != nil {
				return err
			}
			s.Calibrations[validity.Key(c.Name, i)] = cal
		}
	}
	for _, i := range instances {
		_, merges, err := realmerge.MultiBaselines(uint64(i), zoo.Config{})
		if err != nil {
			return fmt.Errorf("instance %d baselines: %v", i, err)
		}
		b := validity.Baselines{TA: -1, TIES: -1}
		for _, m := range merges {
			switch m.Name {
			case taName:
				b.TA = m.Mean
			case tiesName:
				b.TIES = m.Mean
			}
		}
		if b.TA < 0 || b.TIES < 0 {
			return fmt.Errorf("instance %d: the baselines lack %q or %q", i, taName, tiesName)
		}
		s.Baselines[i] = b
	}
	res, err := s.Analyse()
	if err != nil {
		return err
	}
	var page bytes.Buffer
	protocol, err := os.ReadFile(filepath.Join(*dir, "protocol.md"))
	if err != nil {
		return err
	}
	page.Write(protocol)
	page.WriteString("\n# Results\n\nMade by `results/validity/run.sh` from the records in this folder (real.jsonl, long.jsonl, mock.jsonl, advice.jsonl, calibrate/), as the protocol above describes.\n\n")
	res.Page(&page, s)
	answer, err := os.ReadFile(filepath.Join(*dir, "answer.md"))
	switch {
	case err == nil:
		page.WriteString("\n")
		page.Write(answer)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return bench.WriteFileAtomic(filepath.Join(*dir, "README.md"), page.Bytes())
}

// calibration is the part of calibrate's calibration.json the study reads:
// the fitted scenario's name, and the ranking on it, whose first row is
// the recommendation.
type calibration struct {
	Scenario struct {
		Name string `json:"name"`
	} `json:"scenario"`
	Ranking []struct {
		Algorithm string            `json:"algorithm"`
		Settings  map[string]string `json:"settings"`
		Median    float64           `json:"median"`
	} `json:"ranking"`
}

func readCalibration(dir string) (validity.Calibration, error) {
	path := filepath.Join(dir, "calibration.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return validity.Calibration{}, err
	}
	var c calibration
	if err := json.Unmarshal(data, &c); err != nil {
		return validity.Calibration{}, fmt.Errorf("%s: %v", path, err)
	}
	if c.Scenario.Name == "" || len(c.Ranking) == 0 || c.Ranking[0].Algorithm == "" {
		return validity.Calibration{}, fmt.Errorf("%s: no fitted scenario name or no ranking", path)
	}
	r := c.Ranking[0]
	return validity.Calibration{Scenario: c.Scenario.Name, Algorithm: r.Algorithm, Params: r.Settings, Predicted: r.Median}, nil
}

// printAdvice prints the bench flags that run a calibration's
// recommendation: --algs ALG and one --set ALG.NAME=VALUE per setting.
func printAdvice(dir string) error {
	c, err := readCalibration(dir)
	if err != nil {
		return err
	}
	args := []string{"--algs", c.Algorithm}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		args = append(args, "--set", c.Algorithm+"."+k+"="+c.Params[k])
	}
	fmt.Println(strings.Join(args, " "))
	return nil
}

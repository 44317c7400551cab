//go:build ignore

// gen_optima writes optima.csv: the optimum w* of the mock merge objective
// (objectives.NewMock with Seed = seed, as `evomerge bench --objective
// mock --seed SEED --dim N` draws it) for n = 4, 8, 16 and seeds 0..24,
// which run.py reads so that Optuna solves exactly the problems evomerge
// solves. algorithms/cmaes_optuna_test.go checks the file against the
// objective's own draw.
//
//	go run testdata/optuna/gen_optima.go > testdata/optuna/optima.csv
package main

import (
	"encoding/csv"
	"log"
	"os"
	"strconv"

	"github.com/evomerge/evomerge/objectives"
)

func main() {
	w := csv.NewWriter(os.Stdout)
	if err := w.Write([]string{"n", "seed", "coord", "wstar"}); err != nil {
		log.Fatal(err)
	}
	for _, n := range []int{4, 8, 16} {
		for seed := range 25 {
			m, err := objectives.NewMock(objectives.MockConfig{Dim: n, Seed: uint64(seed)})
			if err != nil {
				log.Fatal(err)
			}
			for i, v := range m.Optimum() {
				if err := w.Write([]string{strconv.Itoa(n), strconv.Itoa(seed), strconv.Itoa(i), strconv.FormatFloat(v, 'g', -1, 64)}); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		log.Fatal(err)
	}
}

package bench

import (
	"context"
	"math"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

// TestKeyOfReeval: the key of a job with a re-evaluation policy is the key
// its record gets, so a journal's evaluation lines and its record agree.
func TestKeyOfReeval(t *testing.T) {
	job := Job{Algorithm: "random", Seed: 3, Budget: 20, Target: math.NaN(), Reeval: Reeval{Top: 2, Times: 3},
		Objective: objectives.Spec{Name: "mock", Dim: 3, Width: 0.5}}
	f, err := objectives.New(job.Objective)
	if err != nil {
		t.Fatal(err)
	}
	key, err := KeyOf(job, f)
	if err != nil {
		t.Fatal(err)
	}
	run, err := ExecuteOn(context.Background(), job, f)
	if err != nil {
		t.Fatal(err)
	}
	if run.RunKey() != key {
		t.Errorf("KeyOf %s, the record's key %s", key.Key(), run.RunKey().Key())
	}
}

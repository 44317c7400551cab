package main

import (
	"strings"
	"testing"
)

// TestAlgsListRefusesDuplicatesAndEmptyEntries: a repeated algorithm would
// run the same seeds twice and count every pair as two independent samples
// (issue 9, item 2); an empty entry is a typo, not a request.
func TestAlgsListRefusesDuplicatesAndEmptyEntries(t *testing.T) {
	for _, c := range []struct {
		algs, want string
	}{
		{"random,random", `"random" is listed twice`},
		{"random, ga ,random", `"random" is listed twice`},
		{"random,,ga", "entry 2 is empty"},
		{"random,", "entry 2 is empty"},
		{",random", "entry 1 is empty"},
		{"", "--algs is empty"},
	} {
		_, _, err := runArgs(t, "bench", "--algs", c.algs, "--seeds", "1", "--budget", "5", "--format", "csv")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--algs") {
			t.Errorf("--algs %q: error %v, want one naming --algs and %q", c.algs, err, c.want)
		}
	}
}

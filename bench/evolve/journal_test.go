package evolve

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/bench"
)

const slotsBody = "algorithm: tpe\nbudget: 30\nseed: 2\nobjective: {kind: mock, mock: {dim: 3, noise: 2}, slots: 4, delay: 2ms}\n"

// TestJournalIsBenchs: evolve's journal is a bench journal: evaluation
// lines as they finish, then the run's record, which report reads like
// any other; a second --resume of a finished run evaluates nothing,
// appends nothing and gives the same result.
func TestJournalIsBenchs(t *testing.T) {
	c := testConfig(t, meanBody)
	want, err := Run(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := bench.ReadRuns(c.Journal)
	if err != nil || len(runs) != 1 || runs[0].Algorithm != "cmaes" || runs[0].EvalsUsed != 60 || runs[0].Options["config"] != c.Hash() {
		t.Fatalf("ReadRuns: %v, %d records", err, len(runs))
	}
	before, _ := os.ReadFile(c.Journal)
	got, err := Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(c.Journal)
	if !got.Complete || got.Replayed != 60 || !bytes.Equal(before, after) {
		t.Errorf("complete %v, %d read back, journal changed %v", got.Complete, got.Replayed, !bytes.Equal(before, after))
	}
	if a, b := strings.Join(Scoring(want), "\n"), strings.Join(Scoring(got), "\n"); a != b {
		t.Errorf("the result read back differs:\n%s\n---\n%s", a, b)
	}
}

// TestJournalOfAnotherConfigIsRefused: the run's key carries the
// config's hash, so resuming with a journal of any other config (here
// only final_evals differs, which bench's key alone would not show) is
// refused; so is a journal in the older format.
func TestJournalOfAnotherConfigIsRefused(t *testing.T) {
	c := testConfig(t, meanBody)
	if _, err := Run(context.Background(), c, false, nil); err != nil {
		t.Fatal(err)
	}
	other := testConfig(t, strings.Replace(meanBody, "final_evals: 2", "final_evals: 3", 1))
	other.Journal = c.Journal
	if _, err := Run(context.Background(), other, true, nil); err == nil || !strings.Contains(err.Error(), "of another run") {
		t.Errorf("a journal of another config: %v", err)
	}
	// Cut the run's record: its evaluation lines alone are refused too.
	data, _ := os.ReadFile(c.Journal)
	lines := bytes.SplitAfter(data, []byte("\n"))
	os.WriteFile(c.Journal, bytes.Join(lines[:10], nil), 0o644)
	if _, err := Run(context.Background(), other, true, nil); err == nil || !strings.Contains(err.Error(), "evaluations of another run") {
		t.Errorf("evaluation lines of another config: %v", err)
	}
	old := `{"config":"0123456789abcdef","algorithm":"cmaes","seed":3,"budget":60}` + "\n" + `{"index":1,"x":[0.5,0.5,0.5,0.5],"observed":3,"ms":1}` + "\n"
	os.WriteFile(c.Journal, []byte(old), 0o644)
	for _, resume := range []bool{false, true} {
		if _, err := Run(context.Background(), c, resume, nil); err == nil || !strings.Contains(err.Error(), "older format") {
			t.Errorf("resume %v of an old journal: %v", resume, err)
		}
	}
	if b, _ := os.ReadFile(c.Journal); string(b) != old {
		t.Error("the old journal was changed")
	}
}

// TestResumeOnSeveralSlots: on several slots results come back in the
// order evaluations finish, which the machine decides; the journal
// records that order, and a resume replays it. Resumed from every
// evaluation line (the run's record lost), the run evaluates nothing and
// reaches the same record; resumed from part of them, it keeps those,
// evaluates the rest, and spends exactly the budget.
func TestResumeOnSeveralSlots(t *testing.T) {
	c := testConfig(t, slotsBody)
	want, err := Run(context.Background(), c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(c.Journal)
	lines := bytes.SplitAfter(bytes.TrimRight(data, "\n"), []byte("\n"))
	evals := bytes.Join(lines[:len(lines)-1], nil)
	os.WriteFile(c.Journal, evals, 0o644)
	got, err := Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete || got.Replayed != 30 || len(got.Records) != 30 || !reflect.DeepEqual(untimed(got.Run), untimed(want.Run)) {
		t.Errorf("full replay: complete %v, replayed %d, records %d\n%+v\n%+v", got.Complete, got.Replayed, len(got.Records), got.Run, want.Run)
	}
	if after, _ := os.ReadFile(c.Journal); !bytes.HasPrefix(after, evals) || bytes.Count(after, []byte("\n")) != 31 {
		t.Errorf("the journal after a full replay:\n%s", after)
	}
	os.WriteFile(c.Journal, bytes.Join(lines[:12], nil), 0o644)
	got, err = Run(context.Background(), c, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := journalLines(t, c.Journal)
	seen := map[int]bool{}
	for _, e := range recs {
		seen[e.Index] = true
	}
	if got.Replayed != 12 || len(recs) != 30 || len(seen) != 30 || !reflect.DeepEqual(recs[:12], journalLines(t, writeTemp(t, bytes.Join(lines[:12], nil)))) {
		t.Errorf("partial replay: replayed %d, %d records, %d indices", got.Replayed, len(recs), len(seen))
	}
}

func untimed(r *bench.Run) *bench.Run {
	c := *r
	c.WallMS, c.SlotUtilisation = 0, nil
	return &c
}

func writeTemp(t *testing.T, b []byte) string {
	p := t.TempDir() + "/j.jsonl"
	os.WriteFile(p, b, 0o644)
	return p
}

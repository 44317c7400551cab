package bench

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/objectives"
)

func TestShardSet(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/1", Shard{0, 1}, ""},
		{"3/4", Shard{3, 4}, ""},
		{"4/4", Shard{}, "counts from 0 to 3"},
		{"-1/4", Shard{}, "counts from 0"},
		{"0/0", Shard{}, "at least 1 shard"},
		{"1", Shard{}, "want i/N"},
		{"a/4", Shard{}, "want i/N"},
		{"1/4/5", Shard{}, "want i/N"},
		{"", Shard{}, "want i/N"},
	} {
		var s Shard
		err := s.Set(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || s != c.want || s.String() != c.in {
			t.Errorf("%q: %+v (%q), %v", c.in, s, s.String(), err)
		}
	}
}

// FuzzShardSet: --shard is outside input; whatever it is, Set either
// refuses it or yields a shard that holds an index in range and prints
// back as a value Set accepts as the same shard.
func FuzzShardSet(f *testing.F) {
	for _, s := range []string{"0/4", "3/4", "4/4", "0/0", "x", "1/2/3", "+1/2", "01/02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s Shard
		if err := s.Set(in); err != nil {
			return
		}
		if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
			t.Fatalf("%q gave %+v", in, s)
		}
		var again Shard
		if err := again.Set(s.String()); err != nil || again != s {
			t.Fatalf("%q gave %+v, whose String %q reads back as %+v, %v", in, s, s.String(), again, err)
		}
	})
}

// shardComparisons are two cells, one with two settings of one algorithm,
// as a tune journal holds.
func shardComparisons() []*Comparison {
	return []*Comparison{
		{Algorithms: []string{"random", "cmaes", "de"}, Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1},
			Seeds: 6, Seed: 5, Budget: 120, Target: 95, Parallel: 2},
		{Algorithms: []string{"cmaes"}, Settings: map[string]map[string]string{"cmaes": {"popsize": "4"}},
			Objective: objectives.Spec{Name: "mock", Dim: 4, Noise: 1}, Seeds: 6, Seed: 5, Budget: 120, Target: 95, Parallel: 2},
		{Algorithms: []string{"random", "ga"}, Objective: objectives.Spec{Name: "sphere", Dim: 3},
			Seeds: 5, Seed: 5, Budget: 100, Target: 1e-2, Parallel: 2},
	}
}

// runAll runs the comparisons, each on the given shard, and returns every
// record, checking that each record belongs to the shard that made it.
func runAll(t *testing.T, s Shard) []*Run {
	t.Helper()
	var runs []*Run
	for _, c := range shardComparisons() {
		c.Shard = s
		rs, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !s.Holds(r.RunKey()) {
				t.Errorf("shard %s made %s, which its record assigns to shard %d", s, r.RunKey(), ShardOf(r.RunKey(), s.Count))
			}
		}
		runs = append(runs, rs...)
	}
	return runs
}

// TestShardsPartitionRuns: for any N the shards' jobs are the whole
// comparison's, each once, with the same seeds.
func TestShardsPartitionRuns(t *testing.T) {
	for _, c := range shardComparisons() {
		all, keys, err := c.ShardJobs()
		if err != nil {
			t.Fatal(err)
		}
		jobs, _ := c.Jobs()
		if len(all) != len(jobs) {
			t.Fatalf("the zero shard holds %d of %d jobs", len(all), len(jobs))
		}
		for _, n := range []int{1, 2, 3, 4, 7} {
			seen := map[RunKey]int{}
			for i := range n {
				c.Shard = Shard{i, n}
				js, ks, err := c.ShardJobs()
				if err != nil {
					t.Fatal(err)
				}
				for j, k := range ks {
					seen[k]++
					if ShardOf(k, n) != i && n > 1 {
						t.Errorf("shard %d/%d holds %s", i, n, k)
					}
					if js[j].Seed != k.Seed {
						t.Errorf("job seed %d, key seed %d", js[j].Seed, k.Seed)
					}
				}
			}
			if len(seen) != len(keys) {
				t.Errorf("N=%d: shards hold %d distinct runs, want %d", n, len(seen), len(keys))
			}
			for _, k := range keys {
				if seen[k] != 1 {
					t.Errorf("N=%d: %s is in %d shards", n, k, seen[k])
				}
			}
		}
	}
}

// pageOf builds the report of runs (with figures and the HTML page) and
// returns every file of it but the manifest, by name.
func pageOf(t *testing.T, runs []*Run) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := BuildReport(runs, ReportOptions{Dir: dir, Command: "test", Seed: 1, Plots: true, HTML: true}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ManifestName {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func samePage(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d files, want %d", what, len(b), len(a))
	}
	for name, want := range a {
		if got, ok := b[name]; !ok {
			t.Errorf("%s: no %s", what, name)
		} else if got != want {
			t.Errorf("%s: %s differs:\n%s\n---\n%s", what, name, want, got)
		}
	}
}

// TestShardedReportIsOneMachines: the runs of 4 shards, merged, give the
// page of the one-machine run byte for byte, and the page does not
// depend on the order of the records (shard journals come in any order;
// GroupCells sorts), here including a cell where one algorithm ran with
// two settings on the same seeds.
func TestShardedReportIsOneMachines(t *testing.T) {
	whole := runAll(t, Shard{})
	want := pageOf(t, whole)
	var sharded []*Run
	for i := range 4 {
		sharded = append(sharded, runAll(t, Shard{i, 4})...)
	}
	if len(sharded) != len(whole) {
		t.Fatalf("4 shards made %d runs, one machine %d", len(sharded), len(whole))
	}
	samePage(t, "4 shards", want, pageOf(t, sharded))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3 {
		shuffled := append([]*Run(nil), whole...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		samePage(t, "shuffled records "+string(rune('1'+i)), want, pageOf(t, shuffled))
	}
}

// TestReportIgnoresRecordOrder: two entries of one algorithm whose
// statistics tie (the same runs under two settings' names) are still
// shown in one order whatever the order of the records.
func TestReportIgnoresRecordOrder(t *testing.T) {
	c := shardComparisons()[0]
	runs, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Algorithm == "random" {
			twin := *r
			twin.Params = map[string]string{"twin": "1"}
			runs = append(runs, &twin)
		}
	}
	want := pageOf(t, runs)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 4 {
		shuffled := append([]*Run(nil), runs...)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		samePage(t, "shuffled records "+string(rune('1'+i)), want, pageOf(t, shuffled))
	}
}

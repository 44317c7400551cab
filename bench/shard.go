package bench

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects a deterministic share of a suite's runs, so that N
// machines (or the N tasks of a Slurm array) together run every run once.
// A run belongs to shard Index of Count by a hash of its identity (its
// RunKey: cell, algorithm, hyperparameters and seed), not by its position
// in the job list: a run's seed and result are those of the one-machine
// run whatever Count is, and adding an algorithm or a scenario to the
// suite leaves the other runs' shard assignment alone. The zero Shard
// holds every run.
type Shard struct {
	Index, Count int
}

// String is the i/N form the --shard flag takes; "" for the zero Shard.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Set parses "i/N" with 0 ≤ i < N (indices count from 0, as Slurm's
// SLURM_ARRAY_TASK_ID does for --array=0-(N-1)).
func (s *Shard) Set(v string) error {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return fmt.Errorf("%q: want i/N, e.g. 0/4 for the first of 4 shards", v)
	case n < 1:
		return fmt.Errorf("%q: want at least 1 shard", v)
	case i < 0 || i >= n:
		return fmt.Errorf("%q: the shard index counts from 0 to %d", v, n-1)
	}
	*s = Shard{Index: i, Count: n}
	return nil
}

// Holds reports whether the run k belongs to this shard.
func (s Shard) Holds(k RunKey) bool {
	if s.Count <= 1 {
		return true
	}
	return ShardOf(k, s.Count) == s.Index
}

// ShardOf is the shard of n that run k belongs to: FNV-1a of the run's
// cell key (Cell.Key, its one canonical spelling), algorithm,
// hyperparameters and seed, modulo n. Every field is one the run's record
// carries, so a record read back from a journal is assigned the shard its
// job was. Each text is prefixed by its length, so fields cannot run into
// one another.
func ShardOf(k RunKey, n int) int {
	h := fnv.New64a()
	for _, s := range []string{k.Entry.Cell.Key(), k.Entry.Alg, k.Entry.Params} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	fmt.Fprintf(h, "%d", k.Seed)
	return int(h.Sum64() % uint64(n))
}

package realmerge

import (
	"testing"

	"github.com/evomerge/evomerge/objectives/zoo"
)

var multiMemo = map[string]*MultiObjective{}

// multiZoo is the multi-task testbed's training as the tests build it: the
// full instance (cached after the first build), or under the race detector
// a quick one on 6,000 images whose figures are only logged.
func multiZoo() zoo.Config {
	if raceEnabled {
		return zoo.Config{TrainImages: 6000, BaseEpochs: 2}
	}
	return zoo.Config{}
}

func multiObjective(t testing.TB, cfg MultiConfig) *MultiObjective {
	t.Helper()
	c := cfg.withDefaults()
	key := multiName(c) + "|" + c.Zoo.Hash()
	objMu.Lock()
	defer objMu.Unlock()
	if o, ok := multiMemo[key]; ok {
		return o
	}
	o, err := NewMulti(cfg)
	if err != nil {
		t.Fatal(err)
	}
	multiMemo[key] = o
	return o
}

package evolve

import (
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("algorithm: cmaes\nbudget: 10\nobjective: {kind: scenario, scenario: sakana-ps}\n"))
	f.Add([]byte("objective: {kind: mock, mock: {dim: 3, items: 20}}\nbudget: 4\n"))
	f.Add([]byte("objective: {kind: external, external: {method: ties, models: [a, b], base_model: c, params: [{name: weight, min: 0, max: 1}], groups: 2, command: [x, '{model}'], slots: ['0', '1'], score: 'json:results.t.m'}}\nbudget: 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Budget < 1 {
			t.Fatalf("budget %d accepted", c.Budget)
		}
		if _, p, slots, _, _, err := c.build(); err == nil && (p.Validate() != nil || len(slots) == 0) {
			t.Fatalf("accepted config builds a bad problem: %v %v", p.Validate(), slots)
		}
	})
}

func FuzzParseJournal(f *testing.F) {
	h := header{Config: "abc", Algorithm: "cmaes", Seed: 1, Budget: 10}
	f.Add([]byte(`{"config":"abc","algorithm":"cmaes","seed":1,"budget":10}` + "\n" + `{"index":1,"x":[0.5],"observed":3}` + "\n"))
	f.Add([]byte(`{"config":"abc","algorithm":"cmaes","seed":1,"budget":10}` + "\n" + `{"index":1,"x":[0.5],"obs`))
	f.Fuzz(func(t *testing.T, data []byte) {
		replay := map[int]Entry{}
		good, err := parseJournal(data, "fuzz", h, replay)
		if err != nil {
			return
		}
		if good > len(data) {
			t.Fatalf("good prefix %d past the end %d", good, len(data))
		}
		for i, e := range replay {
			if i < 1 || i > h.Budget || e.Index != i || len(e.X) == 0 {
				t.Fatalf("bad entry accepted: %+v", e)
			}
		}
	})
}

package algorithms

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// shufflePool evaluates on k slots and returns results in an order drawn
// from its own seed, as evaluations of uneven length would finish.
type shufflePool struct {
	f        func([]float64) float64
	k, limit int
	used     int
	rng      *rand.Rand
	pending  []Candidate
	told     []int
	maxOut   int
}

var errSpent = errors.New("spent")

func (p *shufflePool) Eval(ctx context.Context, x []float64) (float64, error) {
	panic("not used")
}
func (p *shufflePool) Slots() int { return p.k }
func (p *shufflePool) Submit(ctx context.Context, c Candidate) error {
	if p.used >= p.limit {
		return errSpent
	}
	p.used++
	p.pending = append(p.pending, Candidate{ID: c.ID, X: slices.Clone(c.X)})
	p.maxOut = max(p.maxOut, len(p.pending))
	return nil
}
func (p *shufflePool) Next(ctx context.Context) (int, float64, error) {
	i := p.rng.IntN(len(p.pending))
	c := p.pending[i]
	p.pending = slices.Delete(p.pending, i, i+1)
	p.told = append(p.told, c.ID)
	return c.ID, p.f(c.X), nil
}

func sphere4(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += (v - 0.3) * (v - 0.3)
	}
	return s
}

// TestGenerationsOverSlots drives CMA-ES over 1, 3 and 8 slots with
// results in shuffled order: every candidate is told once, the slots are
// never overfilled, the budget is exact, and the method still converges.
func TestGenerationsOverSlots(t *testing.T) {
	for _, k := range []int{1, 3, 8} {
		c := &CMAES{}
		p := Problem{Dim: 4, Lower: []float64{0, 0, 0, 0}, Upper: []float64{1, 1, 1, 1}, Bounded: true}
		if err := c.Start(p); err != nil {
			t.Fatal(err)
		}
		pool := &shufflePool{f: sphere4, k: k, limit: 600, rng: rand.New(rand.NewPCG(uint64(k), 1))}
		err := DriveAsync(context.Background(), Generations(c), pool, rand.New(rand.NewPCG(1, 2)))
		if !errors.Is(err, errSpent) {
			t.Fatalf("k=%d: run ended with %v", k, err)
		}
		if pool.used != 600 || len(pool.told) != 600 || pool.maxOut > k {
			t.Errorf("k=%d: %d submitted, %d told, up to %d in flight", k, pool.used, len(pool.told), pool.maxOut)
		}
		seen := map[int]bool{}
		for _, id := range pool.told {
			if seen[id] {
				t.Fatalf("k=%d: ID %d told twice", k, id)
			}
			seen[id] = true
		}
		if f := sphere4(c.Mean()); f > 1e-6 {
			t.Errorf("k=%d: mean at f = %g after 600 evaluations", k, f)
		}
	}
}

// TestDriveAsyncOneSlotIsDrive: with one slot the asynchronous engine
// draws the same samples and makes the same updates as Drive.
func TestDriveAsyncOneSlotIsDrive(t *testing.T) {
	p := Problem{Dim: 4, Lower: []float64{0, 0, 0, 0}, Upper: []float64{1, 1, 1, 1}, Bounded: true}
	var xs [2][][]float64
	for i := range 2 {
		c := &CMAES{}
		if err := c.Start(p); err != nil {
			t.Fatal(err)
		}
		obj := &recordingObjective{limit: 100}
		var err error
		if i == 0 {
			err = Drive(context.Background(), c, obj, rand.New(rand.NewPCG(5, 6)))
		} else {
			err = DriveAsync(context.Background(), Generations(c), PoolOf(obj), rand.New(rand.NewPCG(5, 6)))
		}
		if !errors.Is(err, errSpent) {
			t.Fatal(err)
		}
		xs[i] = obj.xs
	}
	if len(xs[0]) != len(xs[1]) {
		t.Fatalf("%d against %d evaluations", len(xs[0]), len(xs[1]))
	}
	for i := range xs[0] {
		if !slices.Equal(xs[0][i], xs[1][i]) {
			t.Fatalf("evaluation %d differs: %v against %v", i+1, xs[0][i], xs[1][i])
		}
	}
}

type recordingObjective struct {
	limit int
	xs    [][]float64
}

func (r *recordingObjective) Eval(ctx context.Context, x []float64) (float64, error) {
	if len(r.xs) >= r.limit {
		return 0, errSpent
	}
	r.xs = append(r.xs, slices.Clone(x))
	return sphere4(x), nil
}

type idleAsker struct{}

func (idleAsker) AskK(*rand.Rand, int) []Candidate { return nil }
func (idleAsker) TellID(int, float64)              {}

func TestDriveAsyncRefusesAnIdleOptimiser(t *testing.T) {
	err := DriveAsync(context.Background(), idleAsker{}, PoolOf(&recordingObjective{limit: 5}), rand.New(rand.NewPCG(1, 1)))
	if err == nil {
		t.Fatal("an optimiser that proposes nothing must end the run with an error")
	}
}

// The restart variants start new runs (with other populations) inside
// Ask; through Generations on several slots every candidate is still told
// once and the runs restart as they do on one slot.
func TestRestartsOverSlots(t *testing.T) {
	for _, bipop := range []bool{false, true} {
		r := &RestartCMAES{BIPOP: bipop}
		p := Problem{Dim: 4, Lower: []float64{0, 0, 0, 0}, Upper: []float64{1, 1, 1, 1}, Bounded: true}
		pool := &shufflePool{f: sphere4, k: 3, limit: 4000, rng: rand.New(rand.NewPCG(4, 1))}
		if _, err := r.Minimize(context.Background(), p, pool, rand.New(rand.NewPCG(1, 2))); !errors.Is(err, errSpent) {
			t.Fatalf("bipop=%v: run ended with %v", bipop, err)
		}
		if pool.used != 4000 || len(pool.told) != 4000 || pool.maxOut > 3 {
			t.Errorf("bipop=%v: %d submitted, %d told, up to %d in flight", bipop, pool.used, len(pool.told), pool.maxOut)
		}
		if r.Restarts() < 2 {
			t.Errorf("bipop=%v: %d restarts in 4,000 evaluations of a sphere", bipop, r.Restarts())
		}
	}
}

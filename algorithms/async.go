package algorithms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
)

// Candidate is a point an Asker hands out, with the ID under which its
// loss is told back. IDs are unique within a run.
type Candidate struct {
	ID int
	X  []float64
}

// Asker is an optimiser that proposes candidates as evaluation slots free
// up and takes their losses back in any order: the shape real merges need,
// where each evaluation holds a GPU for minutes and a slot that waits for
// the slowest member of a generation is a GPU left idle. It follows
// gonum's optimize.Method, whose tasks carry IDs and whose results may
// arrive in any order.
type Asker interface {
	// AskK returns at most k new candidates (k ≥ 1). It may return fewer,
	// even none, while it waits for the losses of candidates already out
	// (a CMA-ES generation is updated only once complete), but it returns
	// at least one when nothing is out.
	AskK(rng *rand.Rand, k int) []Candidate
	// TellID gives the loss of candidate id; each ID handed out is told at
	// most once (never, if the run ended while it was out).
	TellID(id int, loss float64)
}

// Pool evaluates candidates on a fixed number of slots at once. It is the
// harness's side of DriveAsync: the harness owns the budget, the clock (a
// real one, or a simulated one for bench --slots) and the order in which
// results come back; the optimiser only proposes and learns.
type Pool interface {
	Objective
	// Slots is how many candidates may be in flight at once (≥ 1).
	Slots() int
	// Submit starts evaluating c. An error means no evaluation may start
	// (the budget is spent, the context cancelled, a fault): the run ends
	// once the evaluations in flight are collected.
	Submit(ctx context.Context, c Candidate) error
	// Next waits until an evaluation in flight finishes and returns its
	// candidate's ID and loss. An error ends the run at once.
	Next(ctx context.Context) (id int, loss float64, err error)
}

// DriveAsync runs a against pool: it keeps every slot busy with the
// candidates a proposes, tells each loss as it comes back, and returns the
// error that ended the run (ErrBudget-like errors from Submit once the
// evaluations in flight are told, or the first error of Next).
func DriveAsync(ctx context.Context, a Asker, pool Pool, rng *rand.Rand) error {
	return driveSlots(ctx, a.AskK, a.TellID, pool.Slots(), pool.Submit, pool.Next, rng)
}

// driveSlots is the loop of DriveAsync and DriveMulti, whose losses are a
// number or a vector: it keeps every one of slots busy with the
// candidates ask proposes, tells each loss as next hands it back, and
// returns the error that ended the run (submit's, once the evaluations in
// flight are told, or next's at once).
func driveSlots[L any](ctx context.Context, ask func(*rand.Rand, int) []Candidate, tell func(int, L), slots int,
	submit func(context.Context, Candidate) error, next func(context.Context) (int, L, error), rng *rand.Rand) error {
	inflight := 0
	var stop error
	for {
		if stop == nil {
			if free := slots - inflight; free > 0 {
				cs := ask(rng, free)
				if len(cs) == 0 && inflight == 0 {
					return errors.New("optimiser proposed no candidate while none was being evaluated")
				}
				if len(cs) > free {
					panic(fmt.Sprintf("algorithms: AskK returned %d candidates for %d free slots", len(cs), free))
				}
				for _, c := range cs {
					if err := submit(ctx, c); err != nil {
						stop = err
						break
					}
					inflight++
				}
			}
		}
		if inflight == 0 {
			return stop
		}
		id, loss, err := next(ctx)
		if err != nil {
			return err
		}
		inflight--
		tell(id, loss)
	}
}

// serialPool is the Pool of an Objective that evaluates one candidate at a
// time: Submit evaluates at once and Next hands the result back.
type serialPool struct {
	Objective
	id   int
	loss float64
	full bool
}

func (s *serialPool) Slots() int { return 1 }

func (s *serialPool) Submit(ctx context.Context, c Candidate) error {
	if s.full {
		panic("algorithms: serialPool got a second candidate in flight")
	}
	f, err := s.Eval(ctx, c.X)
	if err != nil {
		return err
	}
	s.id, s.loss, s.full = c.ID, f, true
	return nil
}

func (s *serialPool) Next(context.Context) (int, float64, error) {
	if !s.full {
		panic("algorithms: Next with nothing in flight")
	}
	s.full = false
	return s.id, s.loss, nil
}

// PoolOf returns obj as a Pool: itself if it is one, else a pool of one
// slot that calls obj.Eval.
func PoolOf(obj Objective) Pool {
	if p, ok := obj.(Pool); ok {
		return p
	}
	return &serialPool{Objective: obj}
}

// serialObjective is the Objective of a method that evaluates one point
// at a time inside a library's own loop (gonum's optimize.Minimize): on a
// Pool each Eval is one Submit and its Next, so the harness sees every
// evaluation through the same two calls whatever the method.
type serialObjective struct {
	pool Pool
	id   int // the next candidate's ID
}

func (s *serialObjective) Eval(ctx context.Context, x []float64) (float64, error) {
	if err := s.pool.Submit(ctx, Candidate{ID: s.id, X: x}); err != nil {
		return 0, err
	}
	s.id++
	_, f, err := s.pool.Next(ctx)
	return f, err
}

// oneSlot returns obj for a method that evaluates one point at a time:
// obj itself, or an Objective over its single slot when obj is a Pool.
func oneSlot(obj Objective) Objective {
	if p, ok := obj.(Pool); ok {
		return &serialObjective{pool: p}
	}
	return obj
}

// Generations turns a Stepper, which proposes a whole generation and
// learns from it at once, into an Asker: the members of a generation are
// handed out as slots free up and the next generation is asked once every
// member's loss is back. While a generation's last results are pending it
// proposes nothing: the update of a CMA-ES needs the λ samples of one
// distribution, and samples drawn early from the old distribution would
// change the method (Hansen's tutorial, arXiv:1604.00772, section 3). With
// as many slots as λ, or λ a multiple of the slots and equal evaluation
// times, no slot idles.
func Generations(s Stepper) Asker { return &generations{s: s} }

type generations struct {
	s        Stepper
	xs       [][]float64
	fs       []float64
	base     int // ID of xs[0]
	next     int // members handed out
	told     int
	received []bool
}

func (g *generations) AskK(rng *rand.Rand, k int) []Candidate {
	if g.next == len(g.xs) {
		if g.told < len(g.xs) {
			return nil // wait for this generation's last losses
		}
		g.base += len(g.xs)
		g.xs = g.s.Ask(rng)
		if len(g.xs) == 0 {
			return nil
		}
		g.fs = make([]float64, len(g.xs))
		g.received = make([]bool, len(g.xs))
		g.next, g.told = 0, 0
	}
	n := min(k, len(g.xs)-g.next)
	cs := make([]Candidate, n)
	for i := range cs {
		cs[i] = Candidate{ID: g.base + g.next + i, X: g.xs[g.next+i]}
	}
	g.next += n
	return cs
}

func (g *generations) TellID(id int, loss float64) {
	i := id - g.base
	if i < 0 || i >= g.next || g.received[i] {
		panic(fmt.Sprintf("algorithms: TellID(%d) is not a pending member of this generation", id))
	}
	g.fs[i], g.received[i] = loss, true
	g.told++
	if mt, ok := g.s.(memberTeller); ok {
		mt.tellMember(i)
	}
	if g.told == len(g.xs) {
		g.s.Tell(g.xs, g.fs)
	}
}

package bench

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/objectives"
)

// pool is the part of a tracker that evaluates on several slots, or on a
// simulated clock. The tracker still owns everything a result changes
// (admit before an evaluation, record after it); the pool decides only
// when an evaluation runs and in which order results come back:
//
//   - on a simulated clock (bench --eval-time: in-process objectives that
//     answer in microseconds standing in for merges that take minutes),
//     Submit evaluates at once and schedules the result at now + a duration
//     drawn from the run's seed and the evaluation's index; Next pops the
//     earliest (ties by submission order) and advances the clock. Nothing
//     sleeps and nothing depends on the machine, so a run is the same at
//     any --parallel;
//   - for real (several slots, no time model), Submit starts the
//     evaluation on its own goroutine and Next takes the first to finish.
//     The order of results then depends on the machine, as it does for
//     real GPUs; a fault cancels the evaluations still running.
type pool struct {
	t     *tracker
	slots int
	sim   bool
	// instant is a clock on which evaluations take no time: the one slot
	// of a run with an item budget and no time model, whose record then
	// has no simulated times.
	instant bool
	// inflight counts evaluations submitted and not yet handed back.
	inflight int
	// evalID numbers the candidates of Eval and evalMany: negative, so they
	// never meet the IDs of an Asker, which count up from 0.
	evalID int

	// free lists the slot numbers no evaluation in flight holds, lowest
	// last: each submission takes the lowest.
	free []int

	// busy is the slots' busy time in seconds: simulated, or on real
	// slots the sum of the evaluations' wall durations.
	busy float64
	// The simulated clock, in seconds.
	now   float64
	queue events

	// Real concurrency: bctx is cancelled by a fault or by close.
	bctx   context.Context
	cancel context.CancelFunc
	done   chan event
	// evals runs each evaluation's goroutine. Its goroutines return no
	// error: an evaluation's outcome, failure included, is an event the
	// tracker judges in record (a failed merge is penalised, a fault ends
	// the run); a fault cancels the rest of the batch through cancel.
	evals errgroup.Group
	// replayed holds the candidates in flight whose outcome a record of
	// the replay gives, by index, until the replay's order hands them back.
	replayed map[int]event
}

// event is an evaluation in flight, with its outcome once known.
type event struct {
	end, dur float64 // simulated finish time and duration
	index    int     // submission order (1-based)
	id       int     // the candidate's ID
	slot     int     // the slot it holds
	ms       float64 // its duration in milliseconds (simulated on a clock)
	replayed bool    // its outcome is a record of Job.Replay
	x        []float64
	v        objectives.Value
	err      error
	// from and n are the items it is scored on (n 0: as the objective
	// evaluates, without an item budget), per their outcomes.
	from, n int
	per     []float64
}

// events is a min-heap of evaluations by finish time, then by submission
// order, so simultaneous finishes come back in a fixed order.
type events []event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if q[i].end != q[j].end {
		return q[i].end < q[j].end
	}
	return q[i].index < q[j].index
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func newPool(t *tracker, slots int, sim bool) *pool {
	p := &pool{t: t, slots: slots, sim: sim}
	for s := slots - 1; s >= 0; s-- {
		p.free = append(p.free, s)
	}
	return p
}

// poolTracker is a tracker seen as an algorithms.Pool. The tracker itself
// is not one, so that Drive keeps its one-at-a-time path (and its exact
// results) for a job of one slot without a clock.
type poolTracker struct{ *tracker }

var _ algorithms.Pool = poolTracker{}

func (p poolTracker) Slots() int { return p.pool.slots }

func (p poolTracker) Submit(ctx context.Context, c algorithms.Candidate) error {
	from, n := p.items.full()
	return p.pool.submit(ctx, c, from, n)
}

func (p poolTracker) Next(ctx context.Context) (int, float64, error) { return p.pool.next(ctx) }

// submit admits c and starts its evaluation, on n items from item from
// (n 0: no item budget).
func (p *pool) submit(ctx context.Context, c algorithms.Candidate, from, n int) error {
	t := p.t
	if p.inflight >= p.slots {
		if t.fault == nil {
			t.fault = fmt.Errorf("optimiser submitted candidate %d while all %d slots were busy", c.ID, p.slots)
		}
		return t.fault
	}
	index, err := t.admit(ctx, c.X, from, n)
	if err != nil {
		return err
	}
	x := slices.Clone(c.X) // the optimiser may reuse its slice
	rec, replayed, err := t.replay.take(index, x, from, n)
	if err != nil {
		t.fault = err
		return err
	}
	slot := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	e := event{index: index, id: c.ID, slot: slot, x: x, replayed: replayed, from: from, n: n}
	info := EvalInfo{Index: index, Slot: slot}
	if p.sim {
		if replayed {
			e.v, e.err = rec.outcome()
			e.per = rec.PerItem
		} else {
			NoiseSource(&t.pcg, t.job.Seed, index)
			var iv objectives.ItemValue
			iv, e.err = t.evaluate(withEvalInfo(ctx, info), x, from, n, t.noise)
			e.v, e.per = iv.Value, iv.PerItem
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		e.dur = t.job.EvalTime.Seconds(t.job.Seed, index) * t.items.timeShare(n)
		e.end, e.ms = p.now+e.dur, e.dur*1000
		heap.Push(&p.queue, e)
		p.inflight++
		return nil
	}
	if p.bctx == nil {
		p.bctx, p.cancel = context.WithCancel(ctx)
		p.done = make(chan event, p.slots) // a finished evaluation never blocks
		p.replayed = map[int]event{}
	}
	p.inflight++
	if replayed {
		e.v, e.err = rec.outcome()
		e.ms, e.per = rec.MS, rec.PerItem
		p.replayed[index] = e
		return nil
	}
	p.evals.Go(func() error {
		var pcg rand.PCG // evaluations in flight at once each need a source
		NoiseSource(&pcg, t.job.Seed, index)
		start := time.Now()
		var iv objectives.ItemValue
		iv, e.err = t.evaluate(withEvalInfo(p.bctx, info), x, from, n, rand.New(&pcg))
		e.v, e.per = iv.Value, iv.PerItem
		e.ms = float64(time.Since(start).Microseconds()) / 1000
		p.done <- e
		return nil
	})
	return nil
}

// next waits for the next evaluation to finish, records it and returns its
// candidate's ID and loss.
func (p *pool) next(ctx context.Context) (int, float64, error) {
	e, loss, err := p.nextEvent(ctx)
	return e.id, loss, err
}

// nextEvent is next with the whole evaluation.
func (p *pool) nextEvent(ctx context.Context) (event, float64, error) {
	t := p.t
	if p.inflight == 0 {
		return event{}, 0, errors.New("bench: Next with no evaluation in flight")
	}
	var e event
	switch r := t.replay; {
	case p.sim:
		e = heap.Pop(&p.queue).(event)
		p.now = e.end
		p.busy += e.dur
	case r != nil && r.pos < len(r.order):
		// Results come back in the order the previous process recorded
		// them, so the optimiser hears what it heard then; evaluations
		// that process never finished are told after them.
		idx := r.order[r.pos]
		got, ok := p.replayed[idx]
		if !ok {
			t.fault = fmt.Errorf("the journal records evaluation %d next, but this run has not submitted it: the journal belongs to another run (other code or config)", idx)
			return event{}, 0, t.fault
		}
		r.pos++
		delete(p.replayed, idx)
		e = got
	default:
		select {
		case e = <-p.done:
			p.busy += e.ms / 1000
		case <-ctx.Done():
			return event{}, 0, ctx.Err()
		}
	}
	p.inflight--
	p.free = append(p.free, e.slot)
	slices.SortFunc(p.free, func(a, b int) int { return b - a })
	loss, err := t.record(ctx, e)
	if err != nil && p.cancel != nil {
		p.cancel() // a fault ends the run: stop the rest of the batch
	}
	return e, loss, err
}

// evalOne is Eval on a pool: a submission and a wait for it, one slot
// busy. Methods that evaluate one point at a time run this way.
func (p *pool) evalOne(ctx context.Context, x []float64) (float64, error) {
	if p.inflight > 0 {
		if p.t.fault == nil {
			p.t.fault = errors.New("optimiser called Eval while candidates it submitted were in flight")
		}
		return 0, p.t.fault
	}
	p.evalID--
	id := p.evalID
	from, n := p.t.items.full()
	if err := p.submit(ctx, algorithms.Candidate{ID: id, X: x}, from, n); err != nil {
		return 0, err
	}
	got, loss, err := p.next(ctx)
	if err == nil && got != id {
		err = fmt.Errorf("bench: pool returned candidate %d for %d", got, id) // cannot happen: one in flight
	}
	return loss, err
}

// evalMany evaluates xs on every slot, submitting them in order (so each
// has the noise and duration it has one at a time), and stores each loss
// in fs at its position. An error stops the submissions and is returned
// at once.
func (p *pool) evalMany(ctx context.Context, xs [][]float64, fs []float64) error {
	base := p.evalID
	p.evalID -= len(xs)
	sent := 0
	var stop error
	for {
		for stop == nil && sent < len(xs) && p.inflight < p.slots {
			from, n := p.t.items.full()
			if err := p.submit(ctx, algorithms.Candidate{ID: base - 1 - sent, X: xs[sent]}, from, n); err != nil {
				stop = err
				break
			}
			sent++
		}
		if p.inflight == 0 {
			return stop
		}
		id, loss, err := p.next(ctx)
		if err != nil {
			return err
		}
		if i := base - 1 - id; i >= 0 && i < len(xs) {
			fs[i] = loss
		}
	}
}

// close cancels the evaluations still running (after a fault or a panic
// of the optimiser) and waits for their goroutines, so none outlives the
// run. An evaluation that ignores its context ends at the per-evaluation
// timeout; without one, close waits for it, as the serial path would.
func (p *pool) close() {
	if p.cancel != nil {
		p.cancel()
		p.evals.Wait()
	}
}

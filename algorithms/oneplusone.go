package algorithms

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

func init() {
	Register(Entry{
		Name:       "one-plus-one-es",
		Summary:    "(1+1)-ES with isotropic Gaussian mutation and the 1/5th success rule (Kern et al. 2004), reflection at the box (one evaluation slot)",
		Recommends: "the parent (the best observed unless reeval is set)",
		Grid:       map[string][]string{"sigma": {"0.05", "0.1", "0.2", "0.3"}},
		Batch:      BatchOneSlot,
		New:        func() Optimizer { return &OnePlusOneES{Sigma: 0.3, Up: 1.0 / 3, Target: 0.2} },
	})
}

// OnePlusOneES is the (1+1) evolution strategy with the 1/5th success rule
// in the form of S. Kern, S. D. Müller, N. Hansen, D. Büche, J. Ocenasek and
// P. Koumoutsakos, "Learning probability distributions in continuous
// evolutionary algorithms – a comparative review", Natural Computing 3
// (2004) 77–112, also the one of A. Auger and N. Hansen's tutorials:
//
//   - the parent x has step size σ; the offspring is y = x + σ·N(0, I);
//   - success means f(y) ≤ f(x) (ties accepted, so plateaus are crossed);
//     then x ← y and σ ← σ·exp(Up), Up = 1/3 by default;
//   - failure: σ ← σ·exp(−Up·Target/(1−Target)) = σ·exp(−1/12) by default,
//     so σ is stationary at a success rate of exactly Target = 1/5.
//
// The parent starts at Problem.Start() with σ = Sigma × the mean box width
// (or Problem.Sigma0). σ is kept in [1e-12, 1]× the box width when the box
// is a constraint (a larger step only reflects back), and above 1e-12× the
// width otherwise.
//
// Box handling (Problem.Bounded): each coordinate of the offspring is
// reflected at the bounds (mirrored, and periodically so if the step
// crosses the box more than once), which keeps the mutation distribution
// symmetric around the parent inside the box, unlike clipping, which piles
// offspring on the faces. Without Bounded the box is only the start region
// and the strategy moves freely outside it.
//
// Recommendation: the parent, which is the best point observed when the
// objective is noiseless. Under noise the parent's score is stale and,
// being the minimum of noisy draws, biased low (winner's curse): a lucky
// parent blocks all progress. Reeval = k > 0 re-evaluates the parent every
// k generations and from then on scores it by the mean of its
// re-evaluations alone: the evaluation that got it accepted is left out,
// since it was selected for being low, while the re-evaluations are
// independent draws and so unbiased. A lucky parent is thus replaced at its
// first re-evaluation. Each re-evaluation costs one evaluation. Reeval = 0 (the default) is the textbook
// algorithm.
//
// One evaluation slot (BatchOneSlot), whatever the slots: each offspring
// is drawn around the parent that the previous offspring's loss decided,
// and the success rule adapts σ from one comparison at a time. A (1+λ)
// variant would fill λ slots, but it is a different method (the 1/5th
// rule is stated for one offspring per comparison) and is not offered
// under this name.
//
// A zero field means its documented default (the registry's values); a
// value outside a field's domain is an error naming it.
type OnePlusOneES struct {
	Sigma  float64 // initial step as a fraction of the mean box width, finite and > 0; 0 means 0.3
	Up     float64 // log step-size increase on success, finite and > 0; 0 means 1/3
	Target float64 // target success rate, in (0, 1); 0 means 1/5
	Reeval int     // re-evaluate the parent every Reeval generations, ≥ 0; 0 = never
}

// Flags registers the hyperparameters.
func (o *OnePlusOneES) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&o.Sigma, "sigma", o.Sigma, "initial step as a fraction of the mean box width, > 0 (Problem.Sigma0 overrides); 0 means 0.3")
	fs.Float64Var(&o.Up, "up", o.Up, "ln of the step-size factor on success, > 0; failure uses −up·target/(1−target); 0 means 1/3")
	fs.Float64Var(&o.Target, "target", o.Target, "target success rate of the success rule, in (0,1); 0 means 0.2")
	fs.IntVar(&o.Reeval, "reeval", o.Reeval, "re-evaluate the parent every k generations and average its scores (noise); 0 = never")
}

// Minimize implements Optimizer.
func (o *OnePlusOneES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	frac, upLog, target := o.Sigma, o.Up, o.Target
	if frac == 0 {
		frac = 0.3
	}
	if upLog == 0 {
		upLog = 1.0 / 3
	}
	if target == 0 {
		target = 0.2
	}
	switch {
	case !(frac > 0) || math.IsInf(frac, 0):
		return nil, fmt.Errorf("one-plus-one-es: sigma %g: must be finite and > 0 (0 means 0.3)", o.Sigma)
	case !(upLog > 0) || math.IsInf(upLog, 0):
		return nil, fmt.Errorf("one-plus-one-es: up %g: must be finite and > 0 (0 means 1/3)", o.Up)
	case !(target > 0 && target < 1):
		return nil, fmt.Errorf("one-plus-one-es: target %g: must lie in (0, 1) (0 means 0.2)", o.Target)
	case o.Reeval < 0:
		return nil, fmt.Errorf("one-plus-one-es: reeval %d: must be ≥ 0 (0 means never)", o.Reeval)
	}
	width := p.Width()
	sigma := frac * width
	if p.Sigma0 > 0 {
		sigma = p.Sigma0
	}
	up, down := math.Exp(upLog), math.Exp(-upLog*target/(1-target))
	lo, hi := 1e-12*width, math.Inf(1)
	if p.Bounded {
		hi = width
	}

	x := p.Start()
	if p.Bounded {
		p.Clip(x)
	}
	a := &opoAsker{o: o, p: p, x: x, sigma: sigma, up: up, down: down, lo: lo, hi: hi, id: -1}
	err := DriveAsync(ctx, a, PoolOf(obj), rng)
	return a.x, err
}

// opoAsker is one run of the (1+1)-ES as an Asker of one candidate at a
// time: the start point, then per generation the parent's re-evaluation
// (when due) and the offspring.
type opoAsker struct {
	o                  *OnePlusOneES
	p                  Problem
	x, y               []float64 // parent and offspring
	fx, sigma          float64
	up, down, lo, hi   float64
	sum                float64 // the re-evaluations of the current parent
	count              int
	g                  int  // the generation being evaluated; 0 is the start point
	reevaluated        bool // the parent's re-evaluation of generation g is told
	id                 int  // the candidate in flight, −1 if none
	next               int  // the next candidate's ID
	isReeval, inFlight bool
}

func (a *opoAsker) AskK(rng *rand.Rand, k int) []Candidate {
	if a.inFlight {
		return nil // one slot: the next candidate depends on this one's loss
	}
	a.inFlight, a.id = true, a.next
	a.next++
	if a.g == 0 {
		a.isReeval = false
		return []Candidate{{ID: a.id, X: a.x}}
	}
	if a.o.Reeval > 0 && a.g%a.o.Reeval == 0 && !a.reevaluated {
		a.isReeval = true
		return []Candidate{{ID: a.id, X: slices.Clone(a.x)}}
	}
	a.isReeval = false
	y := make([]float64, a.p.Dim)
	for i := range y {
		y[i] = a.x[i] + a.sigma*rng.NormFloat64()
	}
	if a.p.Bounded {
		reflect(a.p, y)
	}
	a.y = y
	return []Candidate{{ID: a.id, X: y}}
}

func (a *opoAsker) TellID(id int, loss float64) {
	if !a.inFlight || id != a.id {
		panic(fmt.Sprintf("one-plus-one-es: TellID(%d) is not the candidate in flight", id))
	}
	a.inFlight = false
	f := orWorst(loss)
	switch {
	case a.g == 0:
		a.fx = f
		a.g = 1
	case a.isReeval:
		a.sum += f
		a.count++
		a.fx = a.sum / float64(a.count)
		a.reevaluated = true
	default:
		if f <= a.fx {
			a.x = a.y
			a.fx, a.sum, a.count = f, 0, 0
			a.sigma = min(a.sigma*a.up, a.hi)
		} else {
			a.sigma = max(a.sigma*a.down, a.lo)
		}
		a.g++
		a.reevaluated = false
	}
}

// orWorst maps a NaN loss (a failed evaluation the harness passed on) to
// +Inf, so that comparisons rank it last instead of freezing a method that
// tests f < best. The methods of this file, de.go, pso.go and tpe.go use it.
func orWorst(f float64) float64 {
	if math.IsNaN(f) {
		return math.Inf(1)
	}
	return f
}

// reflect mirrors x into the box in place, coordinate by coordinate; a
// coordinate that crosses the box several times is folded periodically.
func reflect(p Problem, x []float64) {
	for i, v := range x {
		a, b := p.Lower[i], p.Upper[i]
		if v >= a && v <= b {
			continue
		}
		w := b - a
		t := math.Mod(v-a, 2*w)
		if t < 0 {
			t += 2 * w
		}
		if t > w {
			t = 2*w - t
		}
		if math.IsNaN(t) { // v infinite
			t = w / 2
		}
		x[i] = min(max(a+t, a), b)
	}
}

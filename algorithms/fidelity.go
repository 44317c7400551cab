package algorithms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// Fidelity-aware strategies spend benchmark items where they matter: a
// candidate is scored on few items first, and only the promising ones get
// more. Each wraps any registered method (the base), which proposes the
// candidates and learns their scores as it would under full evaluation:
// the strategy decides how many items each candidate is scored on. Items
// are an unbiased fidelity: a score on n items has the expectation of the
// full score and only a larger variance (unlike the epochs of
// hyperparameter optimisation), so a base method is told each candidate's
// mean score over the items it got, whatever their number.
//
// A wrapped method is named STRATEGY:BASE (sh:cmaes, race:tpe). Its
// hyperparameters are the strategy's, and the base's prefixed "base."
// (--set sh:cmaes.base.popsize=12). It needs a run with an item budget
// (bench --budget-items): an ItemPool.

// strategy is one fidelity-aware strategy.
type strategy struct {
	name, summary, recommends string
	batch                     string
	new                       func(base Entry) *Fidelity
}

// strategies are the strategies by prefix; StrategyNames orders them.
var strategies = map[string]strategy{}

func registerStrategy(s strategy) { strategies[s.name] = s }

// StrategyNames lists the fidelity-aware strategies' prefixes.
func StrategyNames() []string {
	var names []string
	for n := range strategies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StrategySummary is a strategy's one-line description, for help texts.
func StrategySummary(name string) string { return strategies[name].summary }

// lookupWrapped finds STRATEGY:BASE.
func lookupWrapped(name string) (Entry, error) {
	prefix, baseName, _ := strings.Cut(name, ":")
	s, ok := strategies[prefix]
	if !ok {
		return Entry{}, fmt.Errorf("unknown strategy %q in %q (known: %s; e.g. sh:cmaes)", prefix, name, strings.Join(StrategyNames(), ", "))
	}
	if strings.Contains(baseName, ":") {
		return Entry{}, fmt.Errorf("%q: a strategy wraps one registered method, not another strategy", name)
	}
	base, ok := registry[baseName]
	if !ok {
		return Entry{}, fmt.Errorf("%q: unknown algorithm %q (known: %s)", name, baseName, strings.Join(Names(), ", "))
	}
	if s.name == "sh" || s.name == "hb" {
		if base.Batch == BatchOneSlot {
			return Entry{}, fmt.Errorf("%q: %s proposes one candidate at a time, and successive halving needs a batch to halve", name, baseName)
		}
	}
	batch := s.batch
	if batch == "" {
		batch = base.Batch
	}
	return Entry{
		Name: name, Summary: s.summary + ", proposing with " + baseName, Recommends: s.recommends,
		Batch: batch, New: func() Optimizer { return s.new(base) },
	}, nil
}

// Fidelity is a base method wrapped by a fidelity-aware strategy.
type Fidelity struct {
	kind  string
	base  Entry
	inner Optimizer

	hp hyper

	// A run's state.
	pool                   ItemPool
	space                  ItemSpace
	items, block, minItems int // hp's, with 0 resolved for this item space
	ids                    int // IDs of evaluations submitted to pool
	spent                  int // items submitted
	limit                  int // items the search may spend (the rest is the final pick's)
	cands                  []*cand
	best                   *cand // the answer so far: most items, then lowest mean loss
	inc                    *cand // race: the incumbent
	bracket                int   // hb: brackets run so far
}

// hyper are a strategy's hyperparameters; which apply depends on its kind.
type hyper struct {
	items      int     // lim, top: items per candidate (0: a tenth of Full)
	reserve    float64 // top: share of the budget kept for the final pick
	topK       int     // top: candidates the final pick re-scores
	eta        int     // sh, hb: halving rate
	minItems   int     // sh, hb: items of the lowest rung (0: Full/η³)
	block      int     // race, prace: items added per step (0: Full/20)
	confidence float64 // race, prace: two-sided confidence of a decision
}

func newFidelity(kind string, base Entry) *Fidelity {
	return &Fidelity{kind: kind, base: base, inner: base.New(), hp: hyper{reserve: 0.2, topK: 5, eta: 3, confidence: 0.95}}
}

func init() {
	registerStrategy(strategy{name: "lim", // the base's batch capability
		summary:    "every candidate on its first `items` items only, as users lower lm-eval's --limit by hand",
		recommends: "best observed (on its reduced items)",
		new:        func(b Entry) *Fidelity { return newFidelity("lim", b) }})
	registerStrategy(strategy{name: "top",
		summary:    "every candidate on `items` items, then a reserved share of the budget re-scores the top k on more items and the best mean is picked",
		recommends: "best mean of the top k after re-scoring on more items",
		new:        func(b Entry) *Fidelity { return newFidelity("top", b) }})
	registerStrategy(strategy{name: "sh", batch: BatchGeneration,
		summary:    "successive halving over items: each batch on few items, the best 1/η promoted to η× more, up to a full evaluation",
		recommends: "best mean among the candidates scored on the most items",
		new:        func(b Entry) *Fidelity { return newFidelity("sh", b) }})
	registerStrategy(strategy{name: "hb", batch: BatchGeneration,
		summary:    "Hyperband over items: successive halving whose brackets cycle from aggressive (few items, many candidates) to full evaluation",
		recommends: "best mean among the candidates scored on the most items",
		new:        func(b Entry) *Fidelity { return newFidelity("hb", b) }})
	registerStrategy(strategy{name: "race", batch: BatchOneSlot,
		summary:    "racing: each candidate gets items a block at a time until a confidence bound separates it from the incumbent (unpaired)",
		recommends: "the incumbent of the race",
		new:        func(b Entry) *Fidelity { return newFidelity("race", b) }})
	registerStrategy(strategy{name: "prace", batch: BatchOneSlot,
		summary:    "racing on a fixed item list with paired comparisons: challenger and incumbent are compared item by item on the same items",
		recommends: "the incumbent of the race",
		new:        func(b Entry) *Fidelity { return newFidelity("prace", b) }})
}

// Flags registers the strategy's hyperparameters and the base's, the
// latter prefixed "base.".
func (f *Fidelity) Flags(fs *flag.FlagSet) {
	switch f.kind {
	case "lim", "top":
		fs.IntVar(&f.hp.items, "items", f.hp.items, "items each candidate is scored on (its first items on a fixed list); 0 means a tenth of a full evaluation")
	}
	switch f.kind {
	case "top":
		fs.Float64Var(&f.hp.reserve, "reserve", f.hp.reserve, "share of the item budget kept to re-score the top candidates, in (0, 1); on a fixed list no more than raising each to the whole list")
		fs.IntVar(&f.hp.topK, "k", f.hp.topK, "candidates the final pick re-scores (≥ 1)")
	case "sh", "hb":
		// Jamieson & Talwalkar (2016); Li et al. (2018), η = 3.
		fs.IntVar(&f.hp.eta, "eta", f.hp.eta, "halving rate η ≥ 2: a rung keeps the best 1/η and scores them on η× the items")
		fs.IntVar(&f.hp.minItems, "min-items", f.hp.minItems, "items of the lowest rung; 0 means a full evaluation ÷ η³")
	case "race", "prace":
		fs.IntVar(&f.hp.block, "block", f.hp.block, "items added to a candidate per step; 0 means a twentieth of a full evaluation")
		fs.Float64Var(&f.hp.confidence, "confidence", f.hp.confidence, "two-sided confidence at which one step's comparison decides, in (0.5, 1)")
	}
	sub := flag.NewFlagSet("base", flag.ContinueOnError)
	f.inner.Flags(sub)
	sub.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, "base."+fl.Name, fl.Usage) })
}

// check validates the hyperparameters against the item space.
func (f *Fidelity) check(s ItemSpace) error {
	h := f.hp
	switch {
	case h.items < 0:
		return fmt.Errorf("items %d: want ≥ 0", h.items)
	case h.items > s.Full:
		return fmt.Errorf("items %d: above the %d items of a full evaluation", h.items, s.Full)
	case !(h.reserve > 0 && h.reserve < 1):
		return fmt.Errorf("reserve %g: want a share in (0, 1)", h.reserve)
	case h.topK < 1:
		return fmt.Errorf("k %d: want ≥ 1", h.topK)
	case h.eta < 2 || h.eta > 1000:
		return fmt.Errorf("eta %d: want 2 to 1000", h.eta)
	case h.minItems < 0 || h.minItems > s.Full:
		return fmt.Errorf("min-items %d: want 0 to %d", h.minItems, s.Full)
	case h.block < 0 || h.block > s.Full:
		return fmt.Errorf("block %d: want 0 to %d", h.block, s.Full)
	case !(h.confidence > 0.5 && h.confidence < 1):
		return fmt.Errorf("confidence %g: want (0.5, 1)", h.confidence)
	case f.kind == "prace" && !s.Fixed:
		return errors.New("paired racing needs a fixed item list (mock --item-model fixed, an lm-eval task with --limit): on items drawn afresh no two candidates share an item; use race")
	}
	return nil
}

// cand is a candidate of the base method and what its items told.
type cand struct {
	id    int // the base's candidate ID
	x     []float64
	items int       // items scored so far
	sum   float64   // Σ of its items' losses (mean loss = sum/items)
	per   []float64 // per-item losses in item order; nil when any evaluation reported none
	// blocks are the mean losses of its evaluations' new items, and
	// blockN their item counts (the unit of comparison without per-item
	// outcomes).
	blocks []float64
	blockN []int
	failed bool
	order  int // position among the run's candidates
}

func (c *cand) mean() float64 { return c.sum / float64(c.items) }

// better orders answers: more items, then the lower mean loss, then the
// earlier candidate.
func (c *cand) better(d *cand) bool {
	if d == nil {
		return true
	}
	if c.items != d.items {
		return c.items > d.items
	}
	if c.mean() != d.mean() {
		return c.mean() < d.mean()
	}
	return c.order < d.order
}

// req is one evaluation to make: candidate c raised to `to` items.
type req struct {
	c  *cand
	to int
}

// Minimize runs the base method with the strategy deciding each
// candidate's items.
func (f *Fidelity) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	pool, ok := obj.(ItemPool)
	if !ok || pool.Items().Full < 1 {
		return nil, fmt.Errorf("%s:%s spends benchmark items: run it with an item budget (bench --budget-items) on an objective scored on items", f.kind, f.base.Name)
	}
	space := pool.Items()
	if space.Budget < 1 {
		return nil, fmt.Errorf("%s:%s: no items to spend (budget %d)", f.kind, f.base.Name, space.Budget)
	}
	if err := f.check(space); err != nil {
		return nil, fmt.Errorf("%s:%s: %v", f.kind, f.base.Name, err)
	}
	*f = Fidelity{kind: f.kind, base: f.base, inner: f.inner, hp: f.hp, pool: pool, space: space, limit: space.Budget,
		items: f.hp.items, block: f.hp.block, minItems: f.hp.minItems}
	if f.items == 0 {
		f.items = max(1, space.Full/10)
	}
	if f.block == 0 {
		f.block = max(1, space.Full/20)
	}
	if f.minItems == 0 {
		e := float64(f.hp.eta)
		f.minItems = max(1, int(math.Ceil(float64(space.Full)/(e*e*e))))
	}
	if f.kind == "top" {
		keep := int(f.hp.reserve * float64(space.Budget))
		if space.Fixed {
			keep = min(keep, f.hp.topK*(space.Full-f.items))
		}
		f.limit = space.Budget - keep
	}
	px := &proxy{f: f, slots: f.slots()}
	inner := p
	inner.Budget = f.candidates()
	_, err := f.inner.Minimize(ctx, inner, px, rng)
	if errors.Is(err, errSearchOver) {
		err = f.finalPick(ctx)
	}
	if f.best == nil {
		return nil, err
	}
	return slices.Clone(f.best.x), err
}

// errSearchOver ends the base method's search when only the final pick's
// share of the budget is left.
var errSearchOver = errors.New("the search's share of the item budget is spent")

// overLimit is the error of an evaluation the method's limit cannot pay
// for: the end of the search when a final pick's share is kept, else the
// end of the budget.
func (f *Fidelity) overLimit() error {
	if f.limit < f.space.Budget {
		return errSearchOver
	}
	return ErrBudget
}

// Incumbent is the answer so far (Incumbenter).
func (f *Fidelity) Incumbent() []float64 {
	if f.best == nil {
		return nil
	}
	return f.best.x
}

// slots is how many candidates the base may have out at once: a bracket
// for successive halving, one challenger for a race, the harness's slots
// otherwise.
func (f *Fidelity) slots() int {
	switch f.kind {
	case "sh", "hb":
		return f.bracketSize(f.nextBracket())
	case "race", "prace":
		return 1
	}
	return f.pool.Slots()
}

// candidates estimates how many candidates the budget buys, the budget the
// base method sizes its start-up phase by.
func (f *Fidelity) candidates() int {
	perCand := float64(f.space.Full)
	switch f.kind {
	case "lim", "top":
		perCand = float64(f.items)
	case "sh", "hb":
		s := f.smax()
		perCand = float64(f.minItems) * float64(s+1) // each rung costs about the first's
	case "race", "prace":
		perCand = 2 * float64(f.block)
	}
	return max(1, int(float64(f.limit)/perCand))
}

// run makes the evaluations of reqs on every slot of the pool, in order,
// and adds each outcome to its candidate. It stops submitting at the
// pool's first refusal and returns it once the evaluations in flight are
// back.
func (f *Fidelity) run(ctx context.Context, reqs []req) error {
	out := map[int]req{}
	next := 0
	var stop error
	for {
		for stop == nil && next < len(reqs) && len(out) < f.pool.Slots() {
			r := reqs[next]
			from, n := r.c.items, r.to-r.c.items
			if f.space.PrefixOnly {
				from, n = 0, r.to
			}
			if n <= 0 {
				next++
				continue
			}
			if f.spent+n > f.limit {
				stop = f.overLimit()
				break
			}
			id := f.ids
			if err := f.pool.SubmitItems(ctx, Candidate{ID: id, X: r.c.x}, from, n); err != nil {
				stop = err
				break
			}
			f.ids++
			f.spent += n
			out[id] = r
			next++
		}
		if len(out) == 0 {
			return stop
		}
		res, err := f.pool.NextItems(ctx)
		if err != nil {
			return err
		}
		r, ok := out[res.ID]
		if !ok {
			return fmt.Errorf("%s:%s: the pool returned evaluation %d, which is not in flight", f.kind, f.base.Name, res.ID)
		}
		delete(out, res.ID)
		f.add(r, res)
	}
}

// add records the outcome of raising r.c to r.to items.
func (f *Fidelity) add(r req, res ItemResult) {
	c := r.c
	n := r.to - c.items
	// The new items' mean loss; a prefix evaluation scores the old items
	// again, whose sum is known.
	total := res.Loss * float64(n)
	var per []float64
	if f.space.PrefixOnly {
		total = res.Loss*float64(r.to) - c.sum
		if len(res.PerItem) == r.to {
			per = res.PerItem[c.items:]
		}
	} else if len(res.PerItem) == n {
		per = res.PerItem
	}
	if res.Failed {
		c.failed = true
		total = res.Loss * float64(n)
	}
	if per == nil {
		c.per = nil
	} else if c.items == 0 || c.per != nil {
		c.per = append(c.per, per...)
	}
	c.blocks = append(c.blocks, total/float64(n))
	c.blockN = append(c.blockN, n)
	c.sum += total
	c.items = r.to
	if f.kind != "race" && f.kind != "prace" && c.better(f.best) {
		f.best = c
	}
}

// newCand registers a candidate of the base method.
func (f *Fidelity) newCand(c Candidate) *cand {
	k := &cand{id: c.ID, x: slices.Clone(c.X), order: len(f.cands)}
	f.cands = append(f.cands, k)
	return k
}

// score scores a batch of the base's candidates as the strategy does.
func (f *Fidelity) score(ctx context.Context, batch []*cand) error {
	switch f.kind {
	case "sh", "hb":
		return f.halve(ctx, batch)
	case "race", "prace":
		for _, c := range batch {
			if err := f.race(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}
	reqs := make([]req, len(batch))
	for i, c := range batch {
		reqs[i] = req{c, f.items}
	}
	return f.run(ctx, reqs)
}

// Successive halving (Karnin, Koren & Somekh, "Almost optimal exploration
// in multi-armed bandits", ICML 2013; Jamieson & Talwalkar, "Non-stochastic
// best arm identification and hyperparameter optimization", AISTATS 2016)
// and Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar,
// "Hyperband: a novel bandit-based approach to hyperparameter
// optimization", JMLR 18, 2018), with items as the resource. A promoted
// candidate keeps its items and is scored on the next ones only (on a
// fixed list, the next part of the list), so a rung costs the new items.

// smax is the most aggressive bracket: rungs from minItems to Full.
func (f *Fidelity) smax() int {
	s := 0
	eta := float64(f.hp.eta)
	for r := float64(f.space.Full); r/eta >= float64(f.minItems) && s < 30; r /= eta {
		s++
	}
	return s
}

// nextBracket is the bracket of the next batch: always the most aggressive
// for successive halving; Hyperband cycles s = smax … 0.
func (f *Fidelity) nextBracket() int {
	s := f.smax()
	if f.kind == "hb" {
		return s - f.bracket%(s+1)
	}
	return s
}

// bracketSize is Hyperband's n_s = ⌈(smax+1)/(s+1)·η^s⌉, η^smax for
// successive halving's single bracket.
func (f *Fidelity) bracketSize(s int) int {
	n := math.Pow(float64(f.hp.eta), float64(s))
	if f.kind == "hb" {
		n = math.Ceil(float64(f.smax()+1) / float64(s+1) * n)
	}
	return max(1, int(min(n, 1<<12)))
}

// halve runs one bracket on batch: rung k scores the survivors on
// Full·η^(k−s) items and keeps the best 1/η.
func (f *Fidelity) halve(ctx context.Context, batch []*cand) error {
	s := f.nextBracket()
	f.bracket++
	alive := slices.Clone(batch)
	for k := 0; k <= s; k++ {
		to := int(math.Ceil(float64(f.space.Full) / math.Pow(float64(f.hp.eta), float64(s-k))))
		to = min(max(to, 1), f.space.Full)
		reqs := make([]req, len(alive))
		for i, c := range alive {
			reqs[i] = req{c, to}
		}
		if err := f.run(ctx, reqs); err != nil {
			return err
		}
		if k == s {
			break
		}
		sort.SliceStable(alive, func(i, j int) bool { return alive[i].mean() < alive[j].mean() })
		alive = alive[:max(1, len(alive)/f.hp.eta)]
	}
	return nil
}

// Racing (Maron & Moore, "Hoeffding races: accelerating model selection
// search for classification and function approximation", NIPS 1993; the
// incumbent's intensification of SMAC, Hutter, Hoos & Leyton-Brown,
// "Sequential model-based optimization for general algorithm
// configuration", LION 2011; irace, López-Ibáñez et al., Operations
// Research Perspectives 3, 2016): a challenger gets items a block at a
// time, the incumbent a block whenever the challenger has caught up, until
// a normal confidence interval of the difference of their mean losses
// excludes 0, or both have every item and the lower mean wins. The paired
// variant compares the two item by item on the items both have (a fixed
// list's prefix), whose differences vary less than two independent means
// when the items' difficulties are shared. Without per-item outcomes the
// units are the evaluations' blocks. Repeated looks make the per-look
// confidence an optimistic guide, as in every racing method.

// race races challenger c against the incumbent.
func (f *Fidelity) race(ctx context.Context, c *cand) error {
	capItems := f.space.Full
	step := func(k *cand) error {
		return f.run(ctx, []req{{k, min(k.items+f.block, capItems)}})
	}
	if f.inc == nil {
		if err := step(c); err != nil {
			return err
		}
		f.inc, f.best = c, c
		return nil
	}
	inc := f.inc
	for {
		switch {
		case c.items < inc.items || inc.items >= capItems:
			if c.items >= capItems {
				break
			}
			if err := step(c); err != nil {
				return err
			}
		default:
			if err := step(inc); err != nil {
				return err
			}
		}
		if c.failed {
			return nil
		}
		lo, hi, ok := f.compare(c, inc)
		switch {
		case ok && lo > 0:
			return nil
		case ok && hi < 0, c.items >= capItems && inc.items >= capItems && c.mean() < inc.mean():
			f.inc, f.best = c, c
			return nil
		case c.items >= capItems && inc.items >= capItems:
			return nil
		}
	}
}

// minItemUnits and minBlockUnits are the fewest items, or evaluations'
// blocks without per-item outcomes, a comparison decides on: a normal
// interval needs them, and a sample variance of a few 0/1 outcomes is
// often 0.
const minItemUnits, minBlockUnits = 30, 3

// compare returns a confidence interval of c's mean loss minus the
// incumbent's: paired over their shared items for prace, else from the
// two samples; ok is false with too few units to say.
func (f *Fidelity) compare(c, inc *cand) (lo, hi float64, ok bool) {
	z := math.Sqrt2 * math.Erfinv(f.hp.confidence)
	if f.kind == "prace" {
		var d []float64
		least := minItemUnits
		if c.per != nil && inc.per != nil {
			m := min(len(c.per), len(inc.per))
			for i := range m {
				d = append(d, c.per[i]-inc.per[i])
			}
		} else {
			least = minBlockUnits
			// Blocks of the same items: the first blocks of both, while
			// their item counts agree.
			for i := 0; i < len(c.blocks) && i < len(inc.blocks) && c.blockN[i] == inc.blockN[i]; i++ {
				d = append(d, c.blocks[i]-inc.blocks[i])
			}
		}
		m, v, n := meanVar(d)
		if n < least {
			return 0, 0, false
		}
		se := math.Sqrt(v / float64(n))
		return m - z*se, m + z*se, true
	}
	a, b, least := c.per, inc.per, minItemUnits
	if a == nil || b == nil {
		a, b, least = c.blocks, inc.blocks, minBlockUnits
	}
	ma, va, na := meanVar(a)
	mb, vb, nb := meanVar(b)
	if na < least || nb < least {
		return 0, 0, false
	}
	se := math.Sqrt(va/float64(na) + vb/float64(nb))
	d := ma - mb
	return d - z*se, d + z*se, true
}

// meanVar is the mean and the unbiased variance of xs.
func meanVar(xs []float64) (m, v float64, n int) {
	n = len(xs)
	if n == 0 {
		return 0, 0, 0
	}
	for _, x := range xs {
		m += x
	}
	m /= float64(n)
	if n < 2 {
		return m, 0, n
	}
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(n-1), n
}

// finalPick spends the reserved share of the budget on the top k distinct
// candidates by mean loss, equally, raising each towards the whole list
// (on a fixed list) or by fresh items of at most a full evaluation each,
// and answers the best mean among them.
func (f *Fidelity) finalPick(ctx context.Context) error {
	f.limit = f.space.Budget
	var pool []*cand
	for _, c := range f.cands {
		if c.items > 0 && !c.failed {
			pool = append(pool, c)
		}
	}
	sort.SliceStable(pool, func(i, j int) bool { return pool[i].mean() < pool[j].mean() })
	var top []*cand
	for _, c := range pool {
		dup := false
		for _, t := range top {
			dup = dup || slices.Equal(t.x, c.x)
		}
		if !dup {
			top = append(top, c)
		}
		if len(top) == f.hp.topK {
			break
		}
	}
	if len(top) == 0 {
		return ErrBudget
	}
	share := (f.space.Budget - f.spent) / len(top)
	var reqs []req
	for _, c := range top {
		goal := c.items + share
		if f.space.Fixed {
			goal = min(goal, f.space.Full)
		}
		// Fresh items come in evaluations of at most a full one.
		for at := c.items; at < goal; {
			next := min(goal, at+f.space.Full)
			if f.space.Fixed {
				next = goal
			}
			reqs = append(reqs, req{c, next})
			at = next
		}
	}
	err := f.runSeq(ctx, reqs)
	f.best = nil
	for _, c := range top {
		if c.better(f.best) {
			f.best = c
		}
	}
	if err == nil || errors.Is(err, errSearchOver) {
		err = ErrBudget
	}
	return err
}

// runSeq is run for requests of which several may raise one candidate:
// each candidate's requests are made in order, one in flight at a time.
func (f *Fidelity) runSeq(ctx context.Context, reqs []req) error {
	for len(reqs) > 0 {
		var now, later []req
		seen := map[*cand]bool{}
		for _, r := range reqs {
			if seen[r.c] {
				later = append(later, r)
				continue
			}
			seen[r.c] = true
			now = append(now, r)
		}
		if err := f.run(ctx, now); err != nil {
			return err
		}
		reqs = later
	}
	return nil
}

// proxy is the Pool the base method sees: the strategy scores what the
// base submits when the base waits for a result, and hands each
// candidate's mean loss back once.
type proxy struct {
	f       *Fidelity
	slots   int
	pending []*cand
	ready   []*cand
	stop    error
	evalID  int // IDs of Eval's candidates: negative, apart from the base's
	queued  int // items the pending candidates will cost at least
}

func (p *proxy) Slots() int { return p.slots }

func (p *proxy) Submit(ctx context.Context, c Candidate) error {
	if p.stop != nil {
		return p.stop
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f := p.f
	first := f.items
	switch f.kind {
	case "sh", "hb":
		first = f.minItems
	case "race", "prace":
		first = f.block
	}
	if f.spent+p.queued+first > f.limit {
		p.stop = f.overLimit()
		return p.stop
	}
	p.queued += first
	p.pending = append(p.pending, f.newCand(c))
	return nil
}

func (p *proxy) Next(ctx context.Context) (int, float64, error) {
	if len(p.ready) == 0 {
		if len(p.pending) == 0 {
			if p.stop != nil {
				return 0, 0, p.stop // the rest of the last batch went unscored
			}
			return 0, 0, errors.New("fidelity strategy: Next with nothing in flight")
		}
		batch := p.pending
		p.pending, p.queued = nil, 0
		err := p.f.score(ctx, batch)
		for _, c := range batch {
			if c.items > 0 {
				p.ready = append(p.ready, c)
			}
		}
		if err != nil && p.stop == nil {
			p.stop = err
		}
		if p.f.kind == "sh" || p.f.kind == "hb" {
			p.slots = p.f.bracketSize(p.f.nextBracket())
		}
		if len(p.ready) == 0 {
			return 0, 0, p.stop
		}
	}
	c := p.ready[0]
	p.ready = p.ready[1:]
	return c.id, c.mean(), nil
}

// Eval is one candidate submitted and waited for, for methods that
// evaluate one point at a time.
func (p *proxy) Eval(ctx context.Context, x []float64) (float64, error) {
	p.evalID--
	if err := p.Submit(ctx, Candidate{ID: p.evalID, X: x}); err != nil {
		return 0, err
	}
	_, loss, err := p.Next(ctx)
	return loss, err
}

package objectives

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// EvaluateItems on all items observes exactly what Evaluate observes with
// the same noise source, so a plain method under an item budget makes the
// run it makes under an evaluation budget.
func TestEvaluateItemsMatchesEvaluate(t *testing.T) {
	for _, c := range []MockConfig{
		{Dim: 4, Items: 100, Noise: 1, Seed: 3},
		{Dim: 6, Items: 37, Landscape: "ties", Width: 0.5, Seed: 5, NoiseModel: "gn-moderate"},
		{Dim: 3, Items: 50, FailRate: 0.3, Seed: 9},
	} {
		m, err := NewMock(c)
		if err != nil {
			t.Fatal(err)
		}
		for k := range 20 {
			x := []float64{0.1 * float64(k%10), 0.5, 0.3, 0.7, 0.2, 0.9}[:c.Dim]
			a, errA := m.Evaluate(context.Background(), x, rand.New(rand.NewPCG(uint64(k), 1)))
			b, errB := m.EvaluateItems(context.Background(), x, 0, c.Items, rand.New(rand.NewPCG(uint64(k), 1)))
			if (errA == nil) != (errB == nil) || a != b.Value {
				t.Fatalf("%+v, x %v: Evaluate %v (%v), EvaluateItems %v (%v)", c, x, a, errA, b.Value, errB)
			}
			if errB == nil && len(b.PerItem) != c.Items {
				t.Fatalf("%d per-item outcomes for %d items", len(b.PerItem), c.Items)
			}
		}
	}
}

// A fixed list answers the same candidate the same way, item by item, so
// a prefix extended by a range is the longer prefix.
func TestFixedItemsPrefix(t *testing.T) {
	m, err := NewMock(MockConfig{Dim: 4, Items: 300, ItemModel: "fixed", Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.3, 0.6, 0.2, 0.8}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	all, _ := m.EvaluateItems(ctx, x, 0, 300, rng)
	a, _ := m.EvaluateItems(ctx, x, 0, 100, rng)
	b, _ := m.EvaluateItems(ctx, x, 100, 200, rng)
	if !slices.Equal(all.PerItem, append(a.PerItem, b.PerItem...)) {
		t.Fatal("items 0…99 then 100…299 differ from items 0…299")
	}
	if got := (a.Observed*100 + b.Observed*200) / 300; math.Abs(got-all.Observed) > 1e-9 {
		t.Fatalf("ranges combine to %g, the whole list scores %g", got, all.Observed)
	}
	full, _ := m.Evaluate(ctx, x, rng)
	if full != all.Value {
		t.Fatalf("Evaluate %v, EvaluateItems on every item %v", full, all.Value)
	}
	if _, err := m.EvaluateItems(ctx, x, 250, 100, rng); err == nil {
		t.Fatal("items 250…349 of a list of 300 accepted")
	}
}

// Each candidate's chance on an item is its true score; two candidates'
// answers on one item are correlated through its difficulty when ρ > 0
// and not when ρ = 0.
func TestFixedItemsMarginalAndPairing(t *testing.T) {
	const n = 20000
	corr := func(rho string) (pa, pb, r float64) {
		m, err := NewMock(MockConfig{Dim: 2, Items: n, ItemModel: rho, Width: 0.5, Optimum: []float64{0.5, 0.5}, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		xa, xb := []float64{0.2, 0.6}, []float64{0.8, 0.4} // equal true scores
		a, _ := m.EvaluateItems(context.Background(), xa, 0, n, nil)
		b, _ := m.EvaluateItems(context.Background(), xb, 0, n, nil)
		var sa, sb, sab float64
		for i := range n {
			sa += a.PerItem[i]
			sb += b.PerItem[i]
			sab += a.PerItem[i] * b.PerItem[i]
		}
		pa, pb = sa/n, sb/n
		cov := sab/n - pa*pb
		return pa, pb, cov / math.Sqrt(pa*(1-pa)*pb*(1-pb))
	}
	m, _ := NewMock(MockConfig{Dim: 2, Width: 0.5, Optimum: []float64{0.5, 0.5}})
	p := m.True([]float64{0.2, 0.6}) / 100
	for _, c := range []struct {
		model  string
		lo, hi float64
	}{{"fixed", 0.3, 0.7}, {"fixed:0", -0.03, 0.03}} {
		pa, pb, r := corr(c.model)
		// 4 standard errors of a proportion over 20,000 items.
		tol := 4 * math.Sqrt(p*(1-p)/n)
		if c.model == "fixed" {
			tol = 0.03 // the list's own difficulties add a shared error
		}
		if math.Abs(pa-p) > tol || math.Abs(pb-p) > tol {
			t.Errorf("%s: accuracies %.4f and %.4f over the list, true score %.4f", c.model, pa, pb, p)
		}
		if r < c.lo || r > c.hi {
			t.Errorf("%s: correlation of two candidates' answers %.3f, want in [%g, %g]", c.model, r, c.lo, c.hi)
		}
	}
}

func TestParseItemModel(t *testing.T) {
	for _, c := range []struct {
		in    string
		fixed bool
		rho   float64
		ok    bool
	}{
		{"", false, -1, true}, {"sampled", false, -1, true}, {"fixed", true, DefaultItemCorr, true},
		{"fixed:0.5", true, 0.5, true}, {"fixed:0", true, 0, true},
		{"fixed:1", false, 0, false}, {"fixed:-0.1", false, 0, false}, {"fixed:NaN", false, 0, false}, {"fixd", false, 0, false},
	} {
		fixed, rho, err := ParseItemModel(c.in)
		if (err == nil) != c.ok || (c.ok && (fixed != c.fixed || rho != c.rho)) {
			t.Errorf("ParseItemModel(%q) = %v, %g, %v", c.in, fixed, rho, err)
		}
	}
	if _, err := NewMock(MockConfig{Dim: 2, ItemModel: "fixed"}); err == nil {
		t.Error("a fixed item list without items accepted")
	}
	if _, err := New(Spec{Name: "sphere", Dim: 2, ItemModel: "fixed"}); err == nil {
		t.Error("an item model on sphere accepted")
	}
}

func FuzzParseItemModel(f *testing.F) {
	for _, s := range []string{"", "fixed", "fixed:0.3", "fixed:", "fixed:1e309", "sampled"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fixed, rho, err := ParseItemModel(s)
		if err != nil {
			return
		}
		if fixed && !(rho >= 0 && rho < 1) {
			t.Fatalf("%q: accepted ρ %g", s, rho)
		}
	})
}

func TestCheckItemRange(t *testing.T) {
	fixed := ItemList{N: 10, Fixed: true}
	for _, c := range []struct {
		l       ItemList
		from, n int
		ok      bool
	}{
		{fixed, 0, 10, true}, {fixed, 9, 1, true}, {fixed, 9, 2, false}, {fixed, -1, 2, false}, {fixed, 0, 0, false},
		{ItemList{N: 10}, 50, 10, true}, {ItemList{N: 10}, 0, 11, false},
		{ItemList{N: 10, Fixed: true, PrefixOnly: true}, 2, 3, false},
	} {
		if err := CheckItemRange(c.l, c.from, c.n); (err == nil) != c.ok {
			t.Errorf("CheckItemRange(%+v, %d, %d) = %v", c.l, c.from, c.n, err)
		}
	}
}

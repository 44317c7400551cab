package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sampleWithU returns a (n1 values) and b (n2 values) with no ties whose
// Mann–Whitney statistic (pairs with a > b) is u.
func sampleWithU(n1, n2, u int) (a, b []float64) {
	for j := 1; j <= n2; j++ {
		b = append(b, float64(10*j))
	}
	for i := 0; i < n1; i++ {
		c := min(n2, u)
		u -= c
		a = append(a, float64(10*c)+1+0.1*float64(i))
	}
	return a, b
}

// Mann & Whitney (1947), Table I: P(U <= u) for n1 = n2 = 5 is k/252 with
// k = 1, 2, 4, 7, 12, 19 for u = 0..5 (0.004, 0.008, 0.016, 0.028, 0.048,
// 0.075); the two-sided p doubles it.
func TestMannWhitneyExactTable(t *testing.T) {
	for u, k := range []float64{1, 2, 4, 7, 12, 19} {
		a, b := sampleWithU(5, 5, u)
		p, err := MannWhitney(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * k / 252; math.Abs(p-want) > 1e-12 {
			t.Errorf("n=5,5 U=%d: p=%v, table %v", u, p, want)
		}
		// Symmetric in the arguments.
		if q, _ := MannWhitney(b, a); math.Abs(q-p) > 1e-12 {
			t.Errorf("n=5,5 U=%d: p(a,b)=%v p(b,a)=%v", u, p, q)
		}
	}
	// Complete separation with 3 vs 3: 2/C(6,3) = 0.1.
	if p, _ := MannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6}); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("3 vs 3 separated: p=%v, want 0.1", p)
	}
}

// Published critical values of U for a two-sided test at alpha = 0.05
// (e.g. Zar, Biostatistical Analysis, Table B.11): U <= crit is significant,
// crit+1 is not.
func TestMannWhitneyCriticalValues(t *testing.T) {
	for _, c := range []struct{ n1, n2, crit int }{
		{5, 5, 2}, {6, 6, 5}, {7, 7, 8}, {8, 8, 13}, {10, 10, 23}, {5, 10, 8}, {20, 20, 127},
	} {
		a, b := sampleWithU(c.n1, c.n2, c.crit)
		p, _ := MannWhitney(a, b)
		a, b = sampleWithU(c.n1, c.n2, c.crit+1)
		q, _ := MannWhitney(a, b)
		if !(p <= 0.05 && q > 0.05) {
			t.Errorf("n=%d,%d: p(U=%d)=%v, p(U=%d)=%v; want critical value %d", c.n1, c.n2, c.crit, p, c.crit+1, q, c.crit)
		}
	}
}

// bruteU computes the midrank U statistic of a (pairs a > b, ties 1/2).
func bruteU(a, b []float64) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

// brutePermutation is an independent exact permutation test: enumerate
// every way of splitting the pooled values into groups of len(a) and
// len(b) and return 2·min(P(U <= u), P(U >= u)).
func brutePermutation(a, b []float64) float64 {
	pool := append(slices.Clone(a), b...)
	n1, n := len(a), len(pool)
	u0 := bruteU(a, b)
	var le, ge, total float64
	for mask := 0; mask < 1<<n; mask++ {
		var x, y []float64
		for i, v := range pool {
			if mask&(1<<i) != 0 {
				x = append(x, v)
			} else {
				y = append(y, v)
			}
		}
		if len(x) != n1 {
			continue
		}
		u := bruteU(x, y)
		total++
		if u <= u0+1e-9 {
			le++
		}
		if u >= u0-1e-9 {
			ge++
		}
	}
	return min(1, 2*min(le, ge)/total)
}

// Censored runs (+Inf) tie last; ties are handled exactly.
func TestMannWhitneyInfAndTies(t *testing.T) {
	cases := [][2][]float64{
		{{1, 2, 3, inf}, {4, 5, inf, inf}},
		{{100, 200, inf, inf, inf}, {150, 150, 300, 400, inf}},
		{{inf, inf, inf}, {1, 2, 3, 4}},
		{{5, 5, 5, 7}, {5, 6, inf, inf, inf, inf}},
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for range 30 {
		n1, n2 := 2+rng.IntN(5), 2+rng.IntN(5)
		var c [2][]float64
		for k, n := range []int{n1, n2} {
			for range n {
				v := float64(rng.IntN(6))
				if v == 5 {
					v = inf
				}
				c[k] = append(c[k], v)
			}
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		a, b := c[0], c[1]
		got, err := MannWhitney(a, b)
		if err != nil {
			t.Fatal(err)
		}
		want := brutePermutation(a, b)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%v vs %v: p=%v, permutation test %v", a, b, got, want)
		}
		// Replacing +Inf by a value above every finite one must not matter.
		big := func(xs []float64) []float64 {
			ys := slices.Clone(xs)
			for i := range ys {
				if math.IsInf(ys[i], 1) {
					ys[i] = 1e300
				}
			}
			return ys
		}
		if q, _ := MannWhitney(big(a), big(b)); q != got {
			t.Errorf("%v vs %v: p=%v with +Inf, %v with sentinel", a, b, got, q)
		}
	}
	// Hand-computed: a={1,2,3,∞}, b={4,5,∞,∞}: ranks of a 1,2,3,7 → U=3.
	if u := bruteU([]float64{1, 2, 3, inf}, []float64{4, 5, inf, inf}); u != 3 {
		t.Errorf("U=%v, want 3", u)
	}
}

func TestMannWhitneyLargeSamples(t *testing.T) {
	// Normal approximation path (ties, > 25 per side): the shifted sample
	// is detected, identical samples are not.
	rng := rand.New(rand.NewPCG(15, 16))
	var a, b []float64
	for range 40 {
		a = append(a, math.Round(rng.NormFloat64()*10))
		b = append(b, math.Round(rng.NormFloat64()*10+15))
	}
	a[0], b[0], b[1] = inf, inf, inf
	if p, err := MannWhitney(a, b); err != nil || p > 1e-6 {
		t.Errorf("shifted samples: p=%v, %v", p, err)
	}
	if p, err := MannWhitney(a, a); err != nil || p < 0.9 {
		t.Errorf("identical samples: p=%v, %v", p, err)
	}
}

func TestMannWhitneyDegenerate(t *testing.T) {
	if p, err := MannWhitney([]float64{inf, inf}, []float64{inf, inf, inf}); err != nil || p != 1 {
		t.Errorf("all failed: p=%v, %v; want 1", p, err)
	}
	for _, c := range [][2][]float64{{nil, {1}}, {{1}, nil}, {{1, math.NaN()}, {2}}} {
		if _, err := MannWhitney(c[0], c[1]); err == nil {
			t.Errorf("MannWhitney(%v, %v): no error", c[0], c[1])
		}
	}
}

func TestHolm(t *testing.T) {
	// Worked example: sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1 = 0.02, 0.03,
	// 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06.
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	// Monotonicity lifts the largest p too: 0.2·3 = 0.6, 0.2·2 = 0.4 → 0.6,
	// 0.5·1 → 0.6. Empty is empty.
	got = Holm([]float64{0.5, 0.2, 0.2})
	if want := []float64{0.6, 0.6, 0.6}; !slices.EqualFunc(got, want, func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }) {
		t.Errorf("Holm = %v, want %v", got, want)
	}
	if got := Holm([]float64{0.9, 0.8}); got[0] != 1 || got[1] != 1 {
		t.Errorf("Holm cap: %v", got)
	}
	if got := Holm(nil); len(got) != 0 {
		t.Errorf("Holm(nil) = %v", got)
	}
	for _, bad := range [][]float64{{0.1, math.NaN()}, {0.1, 1.5}, {-0.1}} {
		for _, v := range Holm(bad) {
			if !math.IsNaN(v) {
				t.Errorf("Holm(%v) = %v, want NaN", bad, Holm(bad))
				break
			}
		}
	}
}

// Without ties the permutation DP must reproduce go-moremath's exact U
// distribution (which is symmetric, so both two-sided conventions agree).
func TestExactTiesPNoTiesMatchesMoremath(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for range 50 {
		n1, n2 := 1+rng.IntN(12), 1+rng.IntN(12)
		vals := rng.Perm(n1 + n2)
		var a, b []float64
		for i, v := range vals {
			if i < n1 {
				a = append(a, float64(v))
			} else {
				b = append(b, float64(v))
			}
		}
		groups, twoR1 := tieGroups(a, b)
		got := exactTiesP(groups, n1, twoR1)
		want, err := MannWhitney(a, b) // no ties: go-moremath exact path
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%v vs %v: DP %v, go-moremath %v", a, b, got, want)
		}
	}
}

// go-moremath's exact tie path mirrors the lower tail; the documented
// counter-example must come out as full enumeration says.
func TestMannWhitneyAsymmetricTies(t *testing.T) {
	p, err := MannWhitney([]float64{inf, 2, 0}, []float64{0, 2})
	if err != nil || math.Abs(p-1) > 1e-12 {
		t.Errorf("p=%v, %v; want 1 (P(R1 >= 10) = 5/10)", p, err)
	}
	// Larger: 9 vs 9 with a block of failures, against enumeration.
	a := []float64{120, 130, 130, 150, 170, inf, inf, inf, inf}
	b := []float64{90, 100, 110, 120, 125, 140, 160, inf, inf}
	got, _ := MannWhitney(a, b)
	if want := brutePermutation(a, b); math.Abs(got-want) > 1e-12 {
		t.Errorf("p=%v, permutation test %v", got, want)
	}
}

func TestMannWhitneyExactTiesSpeed(t *testing.T) {
	// The largest exact case (25 vs 25, heavy ties) must stay cheap.
	var a, b []float64
	for i := range 25 {
		a = append(a, float64(i%7))
		b = append(b, float64(i%5)+1)
	}
	for i := range 8 {
		a[i], b[2*i] = inf, inf
	}
	p, err := MannWhitney(a, b)
	if err != nil || !(p > 0 && p <= 1) {
		t.Errorf("p=%v, %v", p, err)
	}
}

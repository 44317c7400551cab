package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

var inf = math.Inf(1)

func TestQuantileHand(t *testing.T) {
	// Expected values are numpy.percentile(xs, 100*p) worked by hand.
	cases := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{4, 1, 3, 2}, 0.1, 1.3},
		{[]float64{15, 20, 35, 40, 50}, 0.4, 29},
		{[]float64{15, 20, 35, 40, 50}, 0.5, 35},
		{[]float64{7}, 0.9, 7},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{3, inf, 1}, 0.5, 3},    // lands exactly on 3
		{[]float64{3, inf, 1}, 0.75, inf}, // between 3 and +Inf
		{[]float64{3, inf, 1}, 0.25, 2},
		{[]float64{inf, inf}, 0.5, inf},
		{[]float64{1, inf, inf, inf}, 0.2, inf},
		{[]float64{math.Inf(-1), 1, 2}, 0.25, math.Inf(-1)},
	}
	for _, c := range cases {
		in := slices.Clone(c.xs)
		got := Quantile(in, c.p)
		if !same(got, c.want) {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.xs, c.p, got, c.want)
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("Quantile modified its input: %v", in)
		}
	}
	for _, c := range []struct {
		xs []float64
		p  float64
	}{
		{nil, 0.5},
		{[]float64{1, 2}, -0.1},
		{[]float64{1, 2}, 1.1},
		{[]float64{1, 2}, math.NaN()},
		{[]float64{1, math.NaN()}, 0.5},
		{[]float64{math.Inf(-1), inf}, 0.5},
	} {
		if got := Quantile(c.xs, c.p); !math.IsNaN(got) {
			t.Errorf("Quantile(%v, %v) = %v, want NaN", c.xs, c.p, got)
		}
	}
}

// TestQuantileMonotone checks numpy's two-sided lerp keeps the quantile
// non-decreasing in p.
func TestQuantileMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 17)
	for i := range xs {
		xs[i] = rng.NormFloat64() * 1e6
	}
	prev := math.Inf(-1)
	for i := 0; i <= 1000; i++ {
		q := Quantile(xs, float64(i)/1000)
		if q < prev {
			t.Fatalf("Quantile decreased at p=%v: %v < %v", float64(i)/1000, q, prev)
		}
		prev = q
	}
}

// benchstatSummary is what benchstat prints for xs.
func benchstatSummary(xs []float64, conf float64) benchmath.Summary {
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds), conf)
}

func TestMedianMatchesBenchmath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, conf := range []float64{0.9, 0.95, 0.99} {
		for n := 1; n <= 60; n++ { // crosses go-moremath's exact/normal switch at 30
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = math.Round(rng.ExpFloat64()*1000) + 1 // runtimes, with ties
			}
			got, err := Median(xs, conf)
			if err != nil {
				t.Fatal(err)
			}
			want := benchstatSummary(xs, conf)
			if !same(got.Median, want.Center) || got.Lo != want.Lo || got.Hi != want.Hi || got.Confidence != want.Confidence {
				t.Errorf("n=%d conf=%v: got %+v, benchmath %+v", n, conf, got, want)
			}
			if (got.Warning != nil) != (len(want.Warnings) > 0) {
				t.Fatalf("n=%d conf=%v: warning %v, benchmath %v", n, conf, got.Warning, want.Warnings)
			}
			if got.Warning != nil {
				if !errors.Is(got.Warning, ErrTooFewSamples) || !strings.HasSuffix(got.Warning.Error(), want.Warnings[0].Error()) {
					t.Errorf("n=%d: warning %q, benchmath %q", n, got.Warning, want.Warnings[0])
				}
			}
		}
	}
}

// TestMedianCensored compares with benchmath on data where failures are
// replaced by a huge finite sentinel, which ranks the same way.
func TestMedianCensored(t *testing.T) {
	const sentinel = 1e300
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(40)
		xs, ys := make([]float64, n), make([]float64, n)
		fail := rng.Float64()
		for i := range xs {
			xs[i] = float64(1 + rng.IntN(5000))
			if rng.Float64() < fail {
				xs[i] = inf
			}
			ys[i] = min(xs[i], sentinel)
		}
		got, err := Median(xs, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		want := benchstatSummary(ys, 0.95)
		back := func(v float64) float64 {
			if v >= sentinel/1e10 {
				return inf
			}
			return v
		}
		if !same(got.Median, back(want.Center)) || got.Lo != back(want.Lo) || got.Hi != back(want.Hi) {
			t.Errorf("%v: got %+v, benchmath with sentinel %+v", xs, got, want)
		}
		if math.IsNaN(got.Median) {
			t.Errorf("%v: NaN median", xs)
		}
	}
}

func TestMedianTooFew(t *testing.T) {
	// domain.md: a 95% median interval from order statistics needs >= 6.
	five, err := Median([]float64{5, 1, 4, 2, 3}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(five.Warning, ErrTooFewSamples) || !strings.Contains(five.Warning.Error(), ">= 6 samples") {
		t.Errorf("n=5: warning %v", five.Warning)
	}
	// benchmath left-biases the ambiguous interval: (-Inf, x(5)], with
	// coverage P(0 <= K <= 4) = 31/32 for K ~ Binomial(5, 1/2).
	if five.Median != 3 || !math.IsInf(five.Lo, -1) || five.Hi != 5 || five.Confidence != 31.0/32 {
		t.Errorf("n=5: %+v", five)
	}
	six, err := Median([]float64{6, 5, 1, 4, 2, 3}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// Binomial(6, 1/2): P(1 <= K <= 5) = 62/64 = 0.96875 >= 0.95, so the
	// interval is [x(1), x(6)].
	if six.Warning != nil || six.Median != 3.5 || six.Lo != 1 || six.Hi != 6 || math.Abs(six.Confidence-62.0/64) > 1e-12 {
		t.Errorf("n=6: %+v", six)
	}
	// All failed: the median is +Inf, but the interval is not "too few".
	allFail, _ := Median(slices.Repeat([]float64{inf}, 10), 0.95)
	if allFail.Warning != nil || !math.IsInf(allFail.Median, 1) || !math.IsInf(allFail.Lo, 1) {
		t.Errorf("all failed: %+v", allFail)
	}
}

func TestMedianInvalid(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		conf float64
	}{
		{nil, 0.95},
		{[]float64{1, math.NaN()}, 0.95},
		{[]float64{1, 2}, 0},
		{[]float64{1, 2}, 1},
		{[]float64{1, 2}, math.NaN()},
	} {
		if _, err := Median(c.xs, c.conf); err == nil {
			t.Errorf("Median(%v, %v): no error", c.xs, c.conf)
		}
	}
	xs := []float64{3, 1, 2}
	Median(xs, 0.95)
	if !slices.Equal(xs, []float64{3, 1, 2}) {
		t.Errorf("Median modified its input: %v", xs)
	}
}

package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestARTHand(t *testing.T) {
	// 2 successes at 100 and 300, failures after 1000 and 600 evaluations:
	// (100 + 300 + 1000 + 600) / 2 = 1000.
	runs := []Run{{100, 100}, {inf, 1000}, {300, 5000}, {inf, 600}}
	if got, err := ART(runs); err != nil || got != 1000 {
		t.Errorf("ART = %v, %v; want 1000", got, err)
	}
	if got, err := ART([]Run{{inf, 10}, {inf, 20}}); err != nil || !math.IsInf(got, 1) {
		t.Errorf("ART(no successes) = %v, %v; want +Inf", got, err)
	}
	for _, bad := range [][]Run{nil, {{math.NaN(), 1}}, {{-1, 1}}, {{inf, inf}}, {{inf, math.NaN()}}, {{inf, -5}}} {
		if _, err := ART(bad); err == nil {
			t.Errorf("ART(%v): no error", bad)
		}
		if _, _, err := ARTBootstrap(bad, 0.95, 10, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("ARTBootstrap(%v): no error", bad)
		}
	}
}

// With every run successful a simulated restart is one uniform draw, so
// the bootstrap is the ordinary bootstrap of the mean: replay it with the
// same random stream.
func TestARTBootstrapAllSuccessful(t *testing.T) {
	runs := []Run{{120, 0}, {80, 0}, {95, 0}, {210, 0}, {150, 0}, {99, 0}, {101, 0}}
	const reps = 500
	got := bootstrapMeans(runs, reps, rand.New(rand.NewPCG(7, 8)))
	rng := rand.New(rand.NewPCG(7, 8))
	for b := 0; b < reps; b++ {
		var sum float64
		for range runs {
			sum += runs[rng.IntN(len(runs))].Hit
		}
		if want := sum / float64(len(runs)); got[b] != want {
			t.Fatalf("replicate %d: %v, plain bootstrap %v", b, got[b], want)
		}
	}
	// Constant runtimes: no spread at all.
	lo, hi, err := ARTBootstrap([]Run{{42, 0}, {42, 0}, {42, 0}}, 0.95, 100, rand.New(rand.NewPCG(1, 2)))
	if err != nil || lo != 42 || hi != 42 {
		t.Errorf("constant runs: %v–%v, %v", lo, hi, err)
	}
}

// The expected simulated-restart runtime given the data is
// E = (1−p)/p · mean failure cost + mean success cost = ART, so the mean of
// many bootstrap replicates must converge to ART.
func TestARTBootstrapConvergesToART(t *testing.T) {
	runs := []Run{
		{350, 0}, {420, 0}, {510, 0}, {275, 0}, {inf, 2000}, {inf, 1500},
		{inf, 3000}, {390, 0}, {inf, 2500}, {610, 0},
	}
	art, _ := ART(runs)
	// Closed form: p = 6/10, failures average 2250, successes 425.8333.
	closed := (1-0.6)/0.6*2250 + (350+420+510+275+390+610)/6.0
	if math.Abs(art-closed) > 1e-9 {
		t.Fatalf("ART %v != closed form %v", art, closed)
	}
	const reps = 4000
	rng := rand.New(rand.NewPCG(9, 10))
	means := bootstrapMeans(runs, reps, rng)
	var m, m2 float64
	for _, v := range means {
		m += v
		m2 += v * v
	}
	m /= reps
	sd := math.Sqrt(m2/reps - m*m)
	if se := sd / math.Sqrt(reps); math.Abs(m-art) > 4*se {
		t.Errorf("bootstrap mean %v, ART %v (4 s.e. = %v)", m, art, 4*se)
	}
	lo, hi, err := ARTBootstrap(runs, 0.9, 2000, rand.New(rand.NewPCG(11, 12)))
	if err != nil || !(lo < art && art < hi) {
		t.Errorf("90%% interval %v–%v does not contain ART %v (%v)", lo, hi, art, err)
	}
	// Same seed, same interval; and 99% is wider than 90%.
	lo2, hi2, _ := ARTBootstrap(runs, 0.9, 2000, rand.New(rand.NewPCG(11, 12)))
	if lo2 != lo || hi2 != hi {
		t.Errorf("not reproducible: %v–%v vs %v–%v", lo, hi, lo2, hi2)
	}
	lo3, hi3, _ := ARTBootstrap(runs, 0.99, 2000, rand.New(rand.NewPCG(11, 12)))
	if !(lo3 <= lo && hi3 >= hi) {
		t.Errorf("99%% %v–%v not wider than 90%% %v–%v", lo3, hi3, lo, hi)
	}
}

func TestARTBootstrapEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	lo, hi, err := ARTBootstrap([]Run{{inf, 10}, {inf, 10}}, 0.95, 100, rng)
	if err != nil || !math.IsInf(lo, 1) || !math.IsInf(hi, 1) {
		t.Errorf("no successes: %v–%v, %v", lo, hi, err)
	}
	runs := []Run{{1, 1}}
	if _, _, err := ARTBootstrap(runs, 0.95, 100, nil); err == nil {
		t.Error("nil rng: no error")
	}
	if _, _, err := ARTBootstrap(runs, 0.95, 0, rng); err == nil {
		t.Error("0 reps: no error")
	}
	if _, _, err := ARTBootstrap(runs, 1.5, 10, rng); err == nil {
		t.Error("confidence 1.5: no error")
	}
}

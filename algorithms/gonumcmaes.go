package algorithms

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

func init() {
	Register(Entry{
		Name:       "gonum-cmaes",
		Summary:    "gonum's optimize.CmaEsChol, a Cholesky CMA variant, as a named comparison entry (one evaluation slot)",
		Recommends: "best observed",
		PopParam:   "popsize",
		Pop:        defaultLambda,
		Grid:       cmaGrid(),
		Batch:      BatchOneSlot,
		New:        func() Optimizer { return &GonumCMAES{} },
	})
}

// GonumCMAES runs gonum's optimize.CmaEsChol (Krause et al. 2016) as it
// ships, for comparison with our own CMA-ES. Known deviations from a
// standard CMA-ES (docs/library-pitfalls.md): σ does not scale the
// samples, so the initial spread is set through InitCholesky = σ0·I;
// the default converger would stop early, so NeverTerminate is used; the
// evaluation count is exact because evaluations are serial (Concurrent 1)
// and the harness refuses the one past the budget.
//
// Box: CmaEsChol is unbounded. When the box is a constraint a sample x is
// evaluated at its projection clip(x) into the box and CmaEsChol is told
// f(clip(x)) + ‖x − clip(x)‖² · |f(clip(x))| + ‖x − clip(x)‖², a penalty
// that steers the distribution back inside without ever evaluating outside.
//
// One evaluation slot (BatchOneSlot), whatever the slots: gonum's own
// concurrency (Settings.Concurrent, which CmaEsChol accepts up to λ) calls
// the objective from several goroutines at once, so the order in which
// the harness sees, counts and refuses evaluations would depend on the
// scheduler, and a run would not be reproducible from its seed. Driving
// CmaEsChol's task channels directly would mean reimplementing gonum's
// Minimize loop around it; the project's own cmaes is the CMA-ES that
// fills the slots with its generations.
type GonumCMAES struct {
	PopSize int     // λ; 0 means 4+⌊3 ln n⌋
	Sigma0  float64 // initial step as a fraction of the box width; 0 means Problem.Sigma0, else 0.3
}

// Flags registers the hyperparameters.
func (g *GonumCMAES) Flags(fs *flag.FlagSet) {
	fs.IntVar(&g.PopSize, "popsize", g.PopSize, "population λ, 0 or ≥ 2, at most the budget; 0 means 4+⌊3 ln n⌋")
	fs.Float64Var(&g.Sigma0, "sigma0", g.Sigma0, "initial step as a fraction of the box width, finite and ≥ 0; 0 means the problem's σ0, else 0.3")
}

// errObjective carries the harness's stop reason through gonum.
type errObjective struct{ err error }

// Minimize implements Optimizer.
func (g *GonumCMAES) Minimize(ctx context.Context, p Problem, obj Objective, rng *rand.Rand) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if g.PopSize < 0 || g.PopSize == 1 {
		return nil, fmt.Errorf("gonum-cmaes: popsize %d: must be 0 (default) or at least 2", g.PopSize)
	}
	if !(g.Sigma0 >= 0) || math.IsInf(g.Sigma0, 0) {
		return nil, fmt.Errorf("gonum-cmaes: sigma0 %g: must be finite and not negative (0 means the default)", g.Sigma0)
	}
	// CmaEsChol holds its Cholesky factor and update matrices (about 5n²
	// with the initial factor) and the λ×n samples.
	if err := checkPopBudget("gonum-cmaes", "popsize", g.PopSize, p); err != nil {
		return nil, err
	}
	lam := lambdaOf(g.PopSize, p.Dim)
	nf := float64(p.Dim)
	if err := checkMemory("gonum-cmaes", fmt.Sprintf("dimension %d with population λ = %d", p.Dim, lam),
		"the Cholesky factor, its updates and the population (about 5n² + 3λn numbers)", 5*nf*nf+3*float64(lam)*nf+16*nf); err != nil {
		return nil, err
	}
	sigma := 0.3 * p.Width()
	if g.Sigma0 > 0 {
		sigma = g.Sigma0 * p.Width()
	} else if p.Sigma0 > 0 {
		sigma = p.Sigma0
	}
	var stop error
	obj = oneSlot(obj)
	y := make([]float64, p.Dim)
	problem := optimize.Problem{Func: func(x []float64) float64 {
		if stop != nil {
			return 0
		}
		copy(y, x)
		pen := 0.0
		if p.Bounded {
			p.Clip(y)
			for i := range x {
				d := x[i] - y[i]
				pen += d * d
			}
		}
		f, err := obj.Eval(ctx, y)
		if err != nil {
			stop = err
			return 0
		}
		if pen > 0 {
			a := f
			if a < 0 {
				a = -a
			}
			f += pen*a + pen
		}
		return f
	}}
	diag := mat.NewDiagDense(p.Dim, nil)
	for i := range p.Dim {
		diag.SetDiag(i, sigma*sigma)
	}
	var chol mat.Cholesky
	if !chol.Factorize(diag) {
		return nil, errors.New("gonum-cmaes: initial covariance is not positive definite")
	}
	method := &optimize.CmaEsChol{
		Population:   g.PopSize,
		InitCholesky: &chol,
		Src:          rand.NewPCG(rng.Uint64(), rng.Uint64()),
	}
	settings := &optimize.Settings{
		Converger:  optimize.NeverTerminate{},
		Concurrent: 1,
		Recorder:   stopRecorder{&stop},
	}
	for {
		_, err := optimize.Minimize(problem, p.Start(), settings, method)
		if stop != nil {
			return nil, stop
		}
		if err != nil {
			return nil, err
		}
		// CmaEsChol ended on its own (e.g. its StopLogDet): restart from
		// the centre, as the budget is not spent.
		method.Src = rand.NewPCG(rng.Uint64(), rng.Uint64())
	}
}

// stopRecorder ends gonum's loop as soon as the harness refuses an
// evaluation.
type stopRecorder struct{ stop *error }

func (s stopRecorder) Init() error { return nil }

func (s stopRecorder) Record(*optimize.Location, optimize.Operation, *optimize.Stats) error {
	return *s.stop
}

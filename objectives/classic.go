package objectives

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// Classic is one of COCO's classic test functions, shifted so that its
// optimum x_opt is drawn uniformly from [−4,4]^n with the seed (never at
// the origin, where a method biased towards zero would look good), with
// f_opt = 0:
//
//	sphere      f(x) = Σ z_i²
//	ellipsoid   f(x) = Σ 10^(6·i/(n−1)) z_i²                (condition 1e6)
//	rosenbrock  f(x) = Σ_{i<n} 100·(u_i² − u_{i+1})² + (u_i − 1)², u = z + 1
//	rastrigin   f(x) = 10·n + Σ z_i² − 10·cos(2π z_i)
//
// with z = x − x_opt. As in COCO the functions are defined on all of R^n:
// the box [−5,5]^n is only a region of interest. Noise, when set, is
// additive Gaussian on the observed value.
type Classic struct {
	name  string
	dim   int
	noise float64
	xopt  []float64
	box   Box
	f     func(z []float64) float64
}

// NewClassic builds a shifted classic function.
func NewClassic(name string, dim int, noise float64, seed uint64) (*Classic, error) {
	if dim < 1 {
		return nil, fmt.Errorf("objective %s: dimension %d must be at least 1", name, dim)
	}
	c := &Classic{name: name, dim: dim, noise: noise}
	switch name {
	case "sphere":
		c.f = Sphere
	case "ellipsoid":
		c.f = Ellipsoid
	case "rosenbrock":
		c.f = Rosenbrock
	case "rastrigin":
		c.f = Rastrigin
	default:
		return nil, fmt.Errorf("unknown classic function %q", name)
	}
	r := seededRand(seed, 0x7368696674) // "shift"
	c.xopt = make([]float64, dim)
	for i := range c.xopt {
		c.xopt[i] = -4 + 8*r.Float64()
	}
	c.box = Box{Lower: make([]float64, dim), Upper: make([]float64, dim)}
	for i := range dim {
		c.box.Lower[i], c.box.Upper[i] = -5, 5
	}
	return c, nil
}

// Sphere is Σ z_i².
func Sphere(z []float64) float64 {
	s := 0.0
	for _, v := range z {
		s += v * v
	}
	return s
}

// Ellipsoid is the axis-parallel ellipsoid of condition 1e6.
func Ellipsoid(z []float64) float64 {
	n := len(z)
	if n == 1 {
		return z[0] * z[0]
	}
	s := 0.0
	for i, v := range z {
		s += math.Pow(10, 6*float64(i)/float64(n-1)) * v * v
	}
	return s
}

// Rosenbrock has its optimum at z = 0 (u = z + 1 = 1).
func Rosenbrock(z []float64) float64 {
	s := 0.0
	for i := 0; i+1 < len(z); i++ {
		u, v := z[i]+1, z[i+1]+1
		a := u*u - v
		s += 100*a*a + (u-1)*(u-1)
	}
	return s
}

// Rastrigin is 10n + Σ z_i² − 10 cos(2π z_i).
func Rastrigin(z []float64) float64 {
	s := 10 * float64(len(z))
	for _, v := range z {
		s += v*v - 10*math.Cos(2*math.Pi*v)
	}
	return s
}

// Name is the function's name.
func (c *Classic) Name() string { return c.name }

// Dim is the dimension.
func (c *Classic) Dim() int { return c.dim }

// Box is [−5,5]^n, a region of interest only.
func (c *Classic) Box() Box { return c.box }

// Sense is Minimize.
func (c *Classic) Sense() Sense { return Minimize }

// Best is f_opt = 0.
func (c *Classic) Best() float64 { return 0 }

// DefaultTarget is a precision of 1e-8.
func (c *Classic) DefaultTarget() float64 { return 1e-8 }

// Optimum returns a copy of x_opt.
func (c *Classic) Optimum() []float64 { return append([]float64(nil), c.xopt...) }

// True is the noise-free value.
func (c *Classic) True(x []float64) float64 {
	var buf [64]float64
	z := buf[:0]
	if len(x) > len(buf) {
		z = make([]float64, 0, len(x))
	}
	for i, v := range x {
		z = append(z, v-c.xopt[i])
	}
	return c.f(z)
}

// Evaluate returns the observed and true value of x.
func (c *Classic) Evaluate(ctx context.Context, x []float64, rng *rand.Rand) (Value, error) {
	if len(x) != c.dim {
		return Value{}, fmt.Errorf("objective %s: candidate has %d coordinates, want %d", c.name, len(x), c.dim)
	}
	t := c.True(x)
	obs := t
	if c.noise > 0 {
		obs += c.noise * rng.NormFloat64()
	}
	return Value{Observed: obs, True: t}, nil
}

// String describes the function for headers.
func (c *Classic) String() string {
	return fmt.Sprintf("%s, %d dimensions, shifted optimum", c.name, c.dim)
}

package pareto

// SimplexLattice returns every k-vector of non-negative multiples of 1/h
// summing to 1 (Das and Dennis 1998), in lexicographic order of the
// multiples, first coordinate largest first.
func SimplexLattice(k, h int) [][]float64 {
	var out [][]float64
	c := make([]int, k)
	var rec func(j, left int)
	rec = func(j, left int) {
		if j == k-1 {
			c[j] = left
			l := make([]float64, k)
			for i, v := range c {
				l[i] = float64(v) / float64(h)
			}
			out = append(out, l)
			return
		}
		for v := left; v >= 0; v-- {
			c[j] = v
			rec(j+1, left-v)
		}
	}
	rec(0, h)
	return out
}

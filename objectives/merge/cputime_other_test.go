//go:build !linux

package merge

func cpuSeconds() float64 { return 0 }

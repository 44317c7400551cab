//go:build !unix

package merge

// processAlive cannot tell here, so every temporary folder counts as a live
// merge's and none is removed.
func processAlive(pid int) bool { return true }

//go:build !unix

package zoo

// lockFile is a no-op where flock is unavailable: concurrent processes may
// then both train a zoo, and the atomic rename keeps one complete copy.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }

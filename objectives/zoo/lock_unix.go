//go:build unix

package zoo

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path (creating it), so that
// processes building the same zoo train it once: the others wait and then
// find it cached. The kernel drops the lock if the holder dies, so a
// killed build never blocks later ones.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

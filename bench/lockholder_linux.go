package bench

import (
	"os"
	"syscall"
)

// lockHolder returns the id of the process holding a flock on f, read from
// /proc/locks, or 0 if it cannot tell.
func lockHolder(f *os.File) int {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	dev := uint64(sys.Dev)
	// The kernel's encoding of a device number (glibc's gnu_dev_major/minor).
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	return flockHolder(locks, major, minor, uint64(sys.Ino))
}

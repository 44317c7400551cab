package bench

import (
	"bytes"
	"strconv"
	"strings"
)

// flockHolder finds, in the text of Linux's /proc/locks, the process id
// holding a flock on the file with the given device and inode numbers; 0
// if there is none or the text is not understood. A line reads
//
//	1: FLOCK  ADVISORY  WRITE 12137 fe:00:9983356 0 EOF
//
// (id, type, mode, access, pid, major:minor:inode in hex:hex:decimal, range);
// waiters are marked "->" after the id and skipped.
func flockHolder(procLocks []byte, major, minor, ino uint64) int {
	for _, line := range bytes.Split(procLocks, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 {
			continue
		}
		parts := strings.Split(f[5], ":")
		if len(parts) != 3 {
			continue
		}
		ma, err1 := strconv.ParseUint(parts[0], 16, 64)
		mi, err2 := strconv.ParseUint(parts[1], 16, 64)
		in, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil && ma == major && mi == minor && in == ino {
			return pid
		}
	}
	return 0
}

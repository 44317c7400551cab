//go:build unix

package bench

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockJournal opens a journal for reading and appending, creating it if
// needed, and takes an exclusive advisory lock (flock) on it that lasts
// until the file is closed. Two writers on one journal would both skip the
// same recorded runs and append the same new ones twice, so the second is
// refused at once instead of waiting: it names the holder's process id
// when the system says. The kernel drops the lock when its holder dies, so
// a killed run never blocks a later --resume. Readers (report) take no
// lock: a writer only appends whole lines, and a partial last line is
// ignored.
func LockJournal(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		who := ""
		if pid := lockHolder(f); pid > 0 {
			who = fmt.Sprintf(" (pid %d)", pid)
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("journal %s is in use by another evomerge process%s: wait for it to finish, or write to another journal", path, who)
		}
		return nil, fmt.Errorf("journal %s: cannot lock it: %v", path, err)
	}
	return f, nil
}

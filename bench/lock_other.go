//go:build !unix

package bench

import (
	"fmt"
	"os"
)

// LockJournal opens a journal for reading and appending, creating it if
// needed. Where flock is unavailable it takes no lock: two processes
// writing one journal there are not detected, and report refuses the
// duplicate records they leave.
func LockJournal(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %v", err)
	}
	return f, nil
}

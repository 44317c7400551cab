//go:build !linux

package external

import (
	"os/exec"
	"syscall"
)

// dieWithParent has no portable equivalent outside Linux.
func dieWithParent(*syscall.SysProcAttr) {}

// waitKillGroup reaps the evaluator, then kills what it left running in
// its process group. Without waitid's WNOWAIT the kill comes after the
// reap, when the group id could in principle have been reused.
func waitKillGroup(cmd *exec.Cmd) error {
	err := cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return err
}

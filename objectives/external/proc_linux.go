package external

import (
	"os/exec"
	"syscall"
	"unsafe"
)

// dieWithParent asks Linux to kill the evaluator when evomerge dies (even
// by kill -9), so a pre-empted driver leaves no evaluator holding a GPU.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// waitKillGroup waits for the evaluator (the leader of its own process
// group) to exit, kills whatever it left running in its group, then reaps
// it. The kill happens while the leader is still unreaped (waitid with
// WNOWAIT), so its pid, which is the group's id, cannot yet have been
// given to another process: the kill reaches only this evaluator's group,
// never another slot's evaluator that happened to get the same number.
func waitKillGroup(cmd *exec.Cmd) error {
	const pPID = 1 // P_PID
	pid := cmd.Process.Pid
	var info [16]uint64 // siginfo_t, 128 bytes
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if e != syscall.EINTR {
			break
		}
	}
	syscall.Kill(-pid, syscall.SIGKILL) // ESRCH: the group has no one left
	return cmd.Wait()
}

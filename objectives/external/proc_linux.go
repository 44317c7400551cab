package external

import "syscall"

// dieWithParent asks Linux to kill the evaluator when evomerge dies (even
// by kill -9), so a pre-empted driver leaves no evaluator holding a GPU.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBackgroundChildKeepsScoreAndDies: an evaluator script that leaves a
// background child (sleep 1000 &) and then prints a score has its score
// kept, and the child, in the evaluator's process group, is killed once the
// script exits instead of being orphaned. Before the fix the score was
// discarded with "WaitDelay expired" and the sleep survived.
func TestBackgroundChildKeepsScoreAndDies(t *testing.T) {
	e := toyEvaluator(t, "unused")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pgid")
	script := filepath.Join(dir, "eval.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nsleep 1000 &\necho $$ > \"$1\"\necho score 0.75\n"), 0o755)
	e.Command.Args = []string{script, pidFile}
	got, err := e.Evaluate(context.Background(), []float64{0.5, 0.5}, "0", 1)
	b, rerr := os.ReadFile(pidFile)
	pgid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if rerr != nil || perr != nil || pgid <= 1 {
		t.Fatalf("the script recorded no process group: %q %v %v", b, rerr, perr)
	}
	defer syscall.Kill(-pgid, syscall.SIGKILL) // clean up whatever the test finds
	if err != nil || got != 0.75 {
		t.Errorf("score %g, %v: want 0.75 kept", got, err)
	}
	// SIGKILL was sent before Evaluate returned; the killed sleep leaves the
	// group once its new parent reaps it. Wait for that (a liveness
	// bound, not a speed assertion).
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if zombiesOnly(pgid) {
			return // killed, awaiting a reaper that may not exist in a container
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has live members: kill(-pgid, 0) = %v", pgid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombiesOnly reports whether every process of group pgid has exited
// (state Z) but not yet been reaped.
func zombiesOnly(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	found := false
	for _, d := range ents {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		if f[0] != "Z" && f[0] != "X" {
			return false
		}
		found = true
	}
	return found
}

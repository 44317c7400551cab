// Package slurmtest lets tests run against a real Slurm cluster: the
// single-node one .ci/slurm-local.sh starts (CI starts it in .ci/run), or
// any cluster the environment points at.
package slurmtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CIEnv is set to 1 by .ci/run: there, a test that needs Slurm and finds
// none fails, so CI cannot pass by skipping the tests that matter.
const CIEnv = "EVOMERGE_CI"

// Require returns when a Slurm cluster answers with a node ready for jobs.
// Otherwise the test fails under CI (EVOMERGE_CI=1) and is skipped
// elsewhere, saying how to start one. When SLURM_CONF is unset and the
// system has no configuration, it uses the configuration of a cluster
// that .ci/slurm-local.sh started with its default folder, as the script
// prints with "env".
func Require(t testing.TB) {
	t.Helper()
	if err := find(t); err != "" {
		msg := "no Slurm cluster: " + err + "; start a local one with `sudo SLURM_LOCAL_GPUS=2 .ci/slurm-local.sh start` and `eval $(.ci/slurm-local.sh env)` (docs/cluster.md)"
		if os.Getenv(CIEnv) == "1" {
			t.Fatal(msg + " (" + CIEnv + "=1: under CI this test must run)")
		}
		t.Skip(msg)
	}
}

// find returns why no cluster is usable, or "".
func find(t testing.TB) string {
	for _, c := range []string{"sbatch", "squeue", "scancel", "sinfo"} {
		if _, err := exec.LookPath(c); err != nil {
			return c + " is not on PATH"
		}
	}
	if conf := os.Getenv("SLURM_CONF"); conf != "" {
		if _, err := os.Stat(conf); err != nil {
			return "SLURM_CONF: " + err.Error() // sinfo would retry for a minute
		}
	} else {
		if _, err := os.Stat("/etc/slurm/slurm.conf"); err != nil {
			local := filepath.Join(os.TempDir(), "slurm-local", "state", "etc", "slurm.conf")
			if _, err := os.Stat(local); err != nil {
				return "SLURM_CONF is unset, and neither /etc/slurm/slurm.conf nor " + local + " exists"
			}
			t.Setenv("SLURM_CONF", local)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sinfo", "--noheader", "--format=%T").CombinedOutput()
	if err != nil {
		return "sinfo: " + strings.TrimSpace(string(out)) + " (" + err.Error() + ")"
	}
	for _, s := range strings.Fields(string(out)) {
		switch strings.TrimSuffix(s, "*") {
		case "idle", "mixed", "allocated", "completing":
			return ""
		}
	}
	return "sinfo shows no node ready for jobs (" + strings.TrimSpace(string(out)) + ")"
}

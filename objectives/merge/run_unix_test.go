//go:build unix

package merge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// The output folder gets the mode a plain mkdir gives under the user's
// umask; it used to be 0700 (os.MkdirTemp), unreadable by anyone else.
func TestOutputFolderMode(t *testing.T) {
	models := map[string]map[string]Tensor{"a": tinyLlama(1, 1, 6, 4, true)}
	recipe := "merge_method: passthrough\nmodels:\n  - {model: %[1]s/a}\n"
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o755}, {0o027, 0o750}} {
		syscall.Umask(c.umask)
		out, err := mergeFolders(t, models, st.F32, 1, recipe, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.want {
			t.Errorf("umask %03o: output folder mode %v, want %v", c.umask, fi.Mode().Perm(), c.want)
		}
		if fi, _ := os.Stat(filepath.Join(out, st.SingleName)); fi.Mode().Perm() != c.want&0o666 {
			t.Errorf("umask %03o: weights mode %v, want %v", c.umask, fi.Mode().Perm(), c.want&0o666)
		}
	}
}

// Every file and the folder are synced before the rename, and the parent
// after it, so a power cut cannot leave a renamed but incomplete model.
func TestRunSyncsBeforeRename(t *testing.T) {
	var synced []string
	saved := syncPath
	syncPath = func(path string) error {
		synced = append(synced, filepath.Base(path))
		return saved(path)
	}
	defer func() { syncPath = saved }()
	models := map[string]map[string]Tensor{"a": tinyLlama(1, 1, 6, 4, true)}
	out, err := mergeFolders(t, models, st.F32, 1, "merge_method: passthrough\nmodels:\n  - {model: %[1]s/a}\n", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(synced, " ")
	for _, want := range []string{st.SingleName, "config.json", "tokenizer.json", "README.md"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s not synced (synced: %s)", want, got)
		}
	}
	// The temporary folder is synced before the rename, the parent after.
	n := len(synced)
	if n < 2 || !strings.HasPrefix(synced[n-2], ".out.tmp-") || synced[n-1] != filepath.Base(filepath.Dir(out)) {
		t.Errorf("folder syncs missing or out of order: %s", got)
	}
}

// helperEnv marks a test binary started as a merge subprocess.
const helperEnv = "EVOMERGE_MERGE_HELPER"

// TestMergeHelperProcess is not a test: run by the tests below in a child
// process, it merges the recipe in EVOMERGE_MERGE_HELPER (recipe|out) with
// RunCLI, stopping after the weights are written until its context ends.
func TestMergeHelperProcess(t *testing.T) {
	arg := os.Getenv(helperEnv)
	if arg == "" {
		t.Skip("helper process")
	}
	recipe, out, _ := strings.Cut(arg, "|")
	testHookAfterWeights = func(ctx context.Context) {
		fmt.Println("ready")
		<-ctx.Done()
	}
	err := RunCLI(context.Background(), os.Stdout, os.Stderr, []string{"-quiet", recipe, out})
	fmt.Println("exit:", err)
	os.Exit(3)
}

// startHelper starts a merge in a child process and waits until its weights
// are written to the temporary folder.
func startHelper(t *testing.T, recipe, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMergeHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+recipe+"|"+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		close(ready)
	}()
	if ok := <-ready; !ok {
		cmd.Wait()
		t.Fatalf("helper did not get ready: %s", stderr.String())
	}
	return cmd
}

func tempFolders(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var tmp []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

// A merge killed with SIGKILL leaves its temporary folder; the next run for
// the same output folder removes it. Folders of a live merge are kept.
func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "a"), tinyLlama(1, 1, 6, 4, true), st.F32, 1, 0)
	rp := filepath.Join(dir, "r.yml")
	os.WriteFile(rp, []byte("merge_method: passthrough\nmodels:\n  - {model: "+dir+"/a}\n"), 0o644)
	out := filepath.Join(dir, "out")
	cmd := startHelper(t, rp, out)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	stale := tempFolders(t, dir)
	if len(stale) != 1 {
		t.Fatalf("after kill -9: temporary folders %v, want the killed merge's one", stale)
	}
	// A live merge's folder (this process's parent is alive) is kept.
	live := filepath.Join(dir, fmt.Sprintf(".out.tmp-%d-0", os.Getppid()))
	os.Mkdir(live, 0o755)
	if err := Run(context.Background(), RunOptions{Recipe: rp, OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if left := tempFolders(t, dir); len(left) != 1 || left[0] != filepath.Base(live) {
		t.Errorf("after the next run: temporary folders %v, want only the live one %s", left, filepath.Base(live))
	}
}

// SIGTERM stops a merge as SIGINT does: the temporary folder is removed
// and no output folder appears.
func TestSIGTERMCleansUp(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "a"), tinyLlama(1, 1, 6, 4, true), st.F32, 1, 0)
	rp := filepath.Join(dir, "r.yml")
	os.WriteFile(rp, []byte("merge_method: passthrough\nmodels:\n  - {model: "+dir+"/a}\n"), 0o644)
	out := filepath.Join(dir, "out")
	cmd := startHelper(t, rp, out)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("merge did not stop on SIGTERM")
	}
	if left := tempFolders(t, dir); len(left) != 0 {
		t.Errorf("SIGTERM left %v", left)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("SIGTERM left an output folder")
	}
}

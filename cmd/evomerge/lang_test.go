package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden stdout files under testdata")

// TestMain runs the tests in the C locale, so that a developer's Japanese
// locale does not change the simulator's lines under tests that expect
// English; the language tests set the locale they test.
func TestMain(m *testing.M) {
	if os.Getenv("EVOMERGE_TEST_TASKS_EVALUATOR") != "" { // evolve_multi_test.go
		os.Exit(tasksEvaluator(os.Args[1:]))
	}
	if code, ok := playProgram(os.Args[1:]); ok { // mergecmd_test.go
		os.Exit(code)
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

// TestSimulatorGolden pins the default command's whole output in both
// languages (testdata/*.stdout, as x/perf's benchstat tests do): the
// locale picks the language, --lang overrides it, and the Gen lines are
// the same in both.
func TestSimulatorGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		env    map[string]string
		args   []string
	}{
		{"simulate-en", nil, nil},
		{"simulate-en", map[string]string{"LANG": "en_US.UTF-8"}, nil},
		{"simulate-ja", map[string]string{"LANG": "ja_JP.UTF-8"}, nil},
		{"simulate-ja", map[string]string{"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, nil},
		{"simulate-en", map[string]string{"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, nil},
		{"simulate-ja", map[string]string{"LANG": "C"}, []string{"--lang", "ja"}},
		{"simulate-en", map[string]string{"LC_ALL": "ja_JP.UTF-8"}, []string{"--lang", "en"}},
		{"simulate-ja-missed", map[string]string{"LANG": "ja_JP.UTF-8"}, []string{"--budget", "30"}},
		{"simulate-ja-cmaes", nil, []string{"--lang", "ja", "--alg", "cmaes"}},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		out, _, err := runArgs(t, c.args...)
		for k := range c.env {
			os.Unsetenv(k)
		}
		if err != nil {
			t.Fatalf("%v %v: %v", c.env, c.args, err)
		}
		path := filepath.Join("testdata", c.golden+".stdout")
		if *updateGolden {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			got := filepath.Join("testdata", c.golden+".got-stdout")
			os.WriteFile(got, []byte(out), 0o644)
			t.Errorf("%v %v: output differs from %s (written to %s; go test -run SimulatorGolden -update rewrites it)", c.env, c.args, path, got)
		}
	}
	// The Gen lines are identical in both languages.
	en, _ := os.ReadFile(filepath.Join("testdata", "simulate-en.stdout"))
	ja, _ := os.ReadFile(filepath.Join("testdata", "simulate-ja.stdout"))
	if gen(en) != gen(ja) || gen(en) == "" {
		t.Error("the Gen lines differ between the languages")
	}
	if !bytes.Contains(ja, []byte("🧬")) || !bytes.Contains(ja, []byte("🎯")) {
		t.Errorf("the Japanese output lacks the original's 🧬 and 🎯 lines:\n%s", ja)
	}
}

func gen(b []byte) string {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Gen ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestLangFlag(t *testing.T) {
	if _, _, err := runArgs(t, "--lang", "fr"); err == nil || !strings.Contains(err.Error(), "--lang") {
		t.Errorf("--lang fr: %v", err)
	}
}

package zoo

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The default zoo is trained once per test binary into the shared cache
// (EVOMERGE_ZOO_CACHE or the user cache), so repeated test runs reuse it.
var (
	defaultOnce sync.Once
	defaultZoo  *Zoo
	defaultErr  error
)

func testZoo(t testing.TB) *Zoo {
	t.Helper()
	defaultOnce.Do(func() {
		defaultZoo, defaultErr = Build(TestConfig(raceEnabled))
	})
	if defaultErr != nil {
		t.Fatal(defaultErr)
	}
	return defaultZoo
}

// smallConfig trains in about a second, for tests of the build itself.
func smallConfig(dir string, seed uint64) Config {
	n := 2000
	if raceEnabled {
		n = 300
	}
	return Config{Seed: seed, BaseEpochs: 1, TrainImages: n, CacheDir: dir, Distractors: []string{"flip"}}
}

// evalItems is how many test items the accuracy tests score: all 10,000,
// or 2,000 under the race detector (enough to tell 0.1 from 0.9).
func evalItems() int {
	if raceEnabled {
		return 2000
	}
	return 10000
}

func TestBuildDeterministic(t *testing.T) {
	sums := map[string]string{}
	for _, c := range []struct {
		name  string
		seed  uint64
		procs int
	}{{"a", 7, 2}, {"b", 7, 1}, {"c", 8, 2}} {
		old := runtime.GOMAXPROCS(c.procs)
		z, err := Build(smallConfig(t.TempDir(), c.seed))
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		if sums[c.name], err = z.Checksum(); err != nil {
			t.Fatal(err)
		}
	}
	if sums["a"] != sums["b"] {
		t.Errorf("same seed, GOMAXPROCS 2 vs 1: checksums %s vs %s", sums["a"], sums["b"])
	}
	if sums["a"] == sums["c"] {
		t.Errorf("seeds 7 and 8 gave identical zoos")
	}
}

func TestBuildCacheAndAtomicity(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir, 3)
	z, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, cfg.Hash()); z.Dir != want {
		t.Errorf("zoo in %s, want %s", z.Dir, want)
	}
	if got := strings.Join(z.Models, ","); got != "base,reader,skill,flip" {
		t.Errorf("models %s", got)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != cfg.Hash() && e.Name() != cfg.Hash()+".lock" {
			t.Errorf("cache holds %s besides the zoo and its lock file", e.Name())
		}
	}
	// A cached zoo is reused, not rebuilt: make its weights unreadable as
	// a marker and check the second Build does not notice.
	st := filepath.Join(z.Path(Skill), "model.safetensors")
	before, _ := os.Stat(st)
	z2, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(st)
	if z2.Dir != z.Dir || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("second build rewrote the cached zoo")
	}
	// An incomplete zoo folder is reported, never silently used.
	if err := os.Remove(st); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("incomplete zoo: got %v", err)
	}
}

func TestBuildFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EVOMERGE_MNIST_DIR", t.TempDir()) // no MNIST files there
	if _, err := Build(smallConfig(dir, 1)); err == nil {
		t.Fatal("build without data succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("failed build left %s behind", e.Name())
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{Distractors: []string{"target"}},
		{Distractors: []string{"rot90", "rot90"}},
		{BaseEpochs: -1},
		{ExpertLR: -0.1},
		{Momentum: 1},
		{TrainImages: 70000},
	} {
		c.CacheDir = t.TempDir()
		if _, err := Build(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if (Config{Seed: 1}).Hash() == (Config{Seed: 2}).Hash() {
		t.Error("seeds 1 and 2 share a hash")
	}
	if (Config{}).Hash() != (Config{BaseEpochs: 5, CacheDir: "/elsewhere"}).Hash() {
		t.Error("defaults or the cache folder change the hash")
	}
}

// taMerge is task arithmetic by hand: base + Σ w[e][l]·(expert_e − base)
// per layer l, the reference the realmerge objective is checked against.
func taMerge(t testing.TB, nets []*Net, w [][]float64) *Net {
	t.Helper()
	out := NewNet(Sizes)
	for l := 0; l < out.Layers(); l++ {
		bw, bb := nets[0].Layer(l)
		ow, ob := append([]float32(nil), bw...), append([]float32(nil), bb...)
		for e := range w {
			ew, eb := nets[e+1].Layer(l)
			for i := range ow {
				ow[i] += float32(w[e][l]) * (ew[i] - bw[i])
			}
			for i := range ob {
				ob[i] += float32(w[e][l]) * (eb[i] - bb[i])
			}
		}
		if err := out.SetLayer(l, ow, ob); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestZooAccuracies(t *testing.T) {
	z := testZoo(t)
	all := Range(0, evalItems())
	acc := func(model, task string) float64 {
		a, err := EvaluateFolder(z.Path(model), task, all)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-6s on %-6s %.3f", model, task, a)
		return a
	}
	for _, c := range []struct {
		model, task string
		min         float64
	}{{Base, "digits", .95}, {Reader, "shift", .9}, {Skill, "perm", .95}, {"rot90", "rot90", .9}} {
		if a := acc(c.model, c.task); a < c.min && !raceEnabled {
			t.Errorf("%s on its own task %s: %.3f < %.2f", c.model, c.task, a, c.min)
		}
	}
	best := 0.0
	for _, m := range z.Models {
		a := acc(m, "target")
		if a > 0.2 && !raceEnabled {
			t.Errorf("%s on the target: %.3f, want chance (≤ 0.2)", m, a)
		}
		best = max(best, a)
	}
	var nets []*Net
	for _, m := range z.Models {
		n, _, err := LoadNet(z.Path(m))
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, n)
	}
	test, err := TestSet()
	if err != nil {
		t.Fatal(err)
	}
	target, _ := LookupTask("target")
	held, err := NewBatch(test, target, Range(1000, evalItems()))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := taMerge(t, nets[:3], [][]float64{{1, 1, 1}, {1, 1, 1}}).Accuracy(held)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TA 1/1 (reader, skill) on held-out target: %.3f", merged)
	if merged < best+0.3 && !raceEnabled {
		t.Errorf("TA 1/1 merge %.3f does not clearly beat the best single model %.3f", merged, best)
	}
}

func TestEvaluateFolderErrors(t *testing.T) {
	z := testZoo(t)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, ConfigName), []byte(`{"model_type":"llama"}`), 0o644)
	noWeights := t.TempDir()
	cj, _ := os.ReadFile(filepath.Join(z.Path(Base), ConfigName))
	os.WriteFile(filepath.Join(noWeights, ConfigName), cj, 0o644)
	wrongShape := t.TempDir()
	os.WriteFile(filepath.Join(wrongShape, ConfigName), []byte(strings.Replace(string(cj), "128", "100", 1)), 0o644)
	st, _ := os.ReadFile(filepath.Join(z.Path(Base), "model.safetensors"))
	os.WriteFile(filepath.Join(wrongShape, "model.safetensors"), st, 0o644)
	for _, c := range []struct {
		dir, task string
		items     []int
		want      string
	}{
		{z.Path(Base), "nope", []int{1}, "unknown task"},
		{z.Path(Base), "target", nil, "no items"},
		{z.Path(Base), "target", []int{10000}, "outside the test set"},
		{filepath.Join(bad, "missing"), "target", []int{1}, "no such file"},
		{bad, "target", []int{1}, "model_type"},
		{noWeights, "target", []int{1}, "model.safetensors"},
		{wrongShape, "target", []int{1}, "shape"},
	} {
		_, err := EvaluateFolder(c.dir, c.task, c.items)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EvaluateFolder(%s, %s, %v): got %v, want an error about %q", c.dir, c.task, c.items, err, c.want)
		}
	}
}

func TestNetRoundTrip(t *testing.T) {
	z := testZoo(t)
	n, cfg, err := LoadNet(z.Path(Reader))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NumHiddenLayers != 3 || cfg.Zoo == nil || cfg.Zoo.Role != Reader {
		t.Errorf("config %+v", cfg)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	if err := WriteFolder(dir, n, nil); err != nil {
		t.Fatal(err)
	}
	a, err := EvaluateFolder(dir, "shift", Range(0, 500))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EvaluateFolder(z.Path(Reader), "shift", Range(0, 500))
	if a != b {
		t.Errorf("round trip changed accuracy: %.3f vs %.3f", a, b)
	}
}

func TestDomains(t *testing.T) {
	// One ink pixel at (row 2, col 3) moves where each domain says.
	img := make([]byte, Pixels)
	img[2*Side+3] = 255
	row := make([]float32, Pixels)
	for d, want := range map[string]int{"plain": 2*Side + 3, "shift": 7*Side + 8, "flip": 2*Side + 24, "rot90": (Side-1-3)*Side + 2} {
		inputRow(row, img, domainMaps[d])
		for j, v := range row {
			if (v != 0) != (j == want) {
				t.Errorf("domain %s: pixel %d = %g, ink expected only at %d", d, j, v, want)
			}
		}
	}
}

func idxFiles(n int, labels []byte) (img, lab []byte) {
	img = binary.BigEndian.AppendUint32(nil, idxImages)
	img = binary.BigEndian.AppendUint32(img, uint32(n))
	img = binary.BigEndian.AppendUint32(img, Side)
	img = binary.BigEndian.AppendUint32(img, Side)
	img = append(img, make([]byte, n*Pixels)...)
	lab = binary.BigEndian.AppendUint32(nil, idxLabels)
	lab = binary.BigEndian.AppendUint32(lab, uint32(len(labels)))
	return img, append(lab, labels...)
}

func TestParseIDX(t *testing.T) {
	img, lab := idxFiles(2, []byte{3, 9})
	s, err := parseIDX(img, lab)
	if err != nil || s.N != 2 || s.Labels[1] != 9 {
		t.Fatalf("parseIDX: %v %+v", err, s)
	}
	_, badLab := idxFiles(2, []byte{3, 10})
	_, shortLab := idxFiles(2, []byte{3})
	for name, c := range map[string][2][]byte{
		"truncated images": {img[:len(img)-1], lab},
		"label 10":         {img, badLab},
		"count mismatch":   {img, shortLab},
		"swapped":          {lab, img},
		"empty":            {nil, nil},
	} {
		if _, err := parseIDX(c[0], c[1]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseIDX(f *testing.F) {
	img, lab := idxFiles(1, []byte{4})
	f.Add(img, lab)
	f.Add(img[:20], lab[:8])
	f.Fuzz(func(t *testing.T, img, lab []byte) {
		s, err := parseIDX(img, lab)
		if err != nil {
			return
		}
		if len(s.Pix) != s.N*Pixels || len(s.Labels) != s.N {
			t.Fatalf("accepted set has %d pixels and %d labels for %d images", len(s.Pix), len(s.Labels), s.N)
		}
	})
}

func FuzzParseModelConfig(f *testing.F) {
	f.Add([]byte(`{"model_type":"evomerge_mlp","num_hidden_layers":3,"layer_sizes":[784,128,64,20],"hidden_act":"relu","torch_dtype":"float32"}`))
	f.Add([]byte(`{"model_type":"evomerge_mlp","num_hidden_layers":1,"layer_sizes":[784,10]}`))
	f.Add([]byte(`{"model_type":"evomerge_mlp","num_hidden_layers":2,"layer_sizes":[784,-1,10]}`))
	f.Add([]byte(`{"model_type":"evomerge_mlp","num_hidden_layers":1,"layer_sizes":[784,99999999999]} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseModelConfig(data)
		if err != nil {
			return
		}
		if c.NumHiddenLayers != len(c.LayerSizes)-1 || c.LayerSizes[0] != Pixels {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
		for _, s := range c.LayerSizes {
			if s < 1 || s > maxLayerSize {
				t.Fatalf("accepted layer size %d", s)
			}
		}
		NewNet(c.LayerSizes) // must not panic
	})
}

// TestSparseForwardMatchesDense checks that scoring from the non-zero
// inputs gives bit-identical logits to the dense matrix product.
func TestSparseForwardMatchesDense(t *testing.T) {
	n, _, err := LoadNet(testZoo(t).Path(Reader))
	if err != nil {
		t.Fatal(err)
	}
	test, err := TestSet()
	if err != nil {
		t.Fatal(err)
	}
	task, _ := LookupTask("target")
	b, err := NewBatch(test, task, Range(100, 100+markChunk))
	if err != nil {
		t.Fatal(err)
	}
	var dense, sparse Workspace
	dense.grow(n.sizes, markChunk)
	sparse.grow(n.sizes, markChunk)
	n.forward(&dense, b.X, markChunk)
	n.forwardSparse(&sparse, b, 0, markChunk)
	for l := 1; l < len(n.sizes); l++ {
		for i, v := range dense.act[l] {
			if sparse.act[l][i] != v {
				t.Fatalf("layer %d value %d: sparse %g, dense %g", l, i, sparse.act[l][i], v)
			}
		}
	}
}

func TestParseItems(t *testing.T) {
	for s, want := range map[string]string{
		"7":                 "[7]",
		"0:3, 9,9998:10000": "[0 1 2 9 9998 9999]",
		"5:5,4":             "[4]",
	} {
		got, err := ParseItems(s)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseItems(%q) = %v, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "10000", "3:2", "0:10001", "a", "1,,2", "5:5", ":4"} {
		if _, err := ParseItems(s); err == nil {
			t.Errorf("ParseItems(%q) accepted", s)
		}
	}
}

func FuzzParseItems(f *testing.F) {
	for _, s := range []string{"7", "0:1000,5000", "1000:10000", "3:2", " 4 : 9 ", "0:10000,0:10000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseItems(s)
		if err != nil {
			return
		}
		if len(items) == 0 || len(items) > maxItems {
			t.Fatalf("%q gave %d items", s, len(items))
		}
		for _, it := range items {
			if it < 0 || it > 9999 {
				t.Fatalf("%q gave item %d", s, it)
			}
		}
	})
}

func TestCLI(t *testing.T) {
	z := testZoo(t)
	var out, errb strings.Builder
	ctx := context.Background()
	if err := RunCLI(ctx, &out, &errb, []string{"eval", "-task", "shift", "-items", "0:500", z.Path(Reader)}); err != nil {
		t.Fatal(err)
	}
	want, _ := EvaluateFolder(z.Path(Reader), "shift", Range(0, 500))
	if got := strings.TrimSpace(out.String()); got != fmt.Sprintf("%.4f", 100*want) {
		t.Errorf("eval printed %q, want %.4f", got, 100*want)
	}
	out.Reset()
	// The CLI builds full zoos only; the race detector's test zoo is a quick
	// one, so there the build is checked on a fresh small cache instead.
	if !raceEnabled {
		if err := RunCLI(ctx, &out, &errb, []string{"build", "-quiet", "-seed", "1", "-distractors", "rot90"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "reader\t"+z.Path(Reader)+"\n") {
			t.Errorf("build printed %q", out.String())
		}
		out.Reset()
		mz := testMultiZoo(t)
		if err := RunCLI(ctx, &out, &errb, []string{"build", "-quiet", "-testbed", MultiTask, "-instance", "0"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "shift-x\t"+mz.Path("shift-x")+"\n") {
			t.Errorf("build -testbed multitask -instance 0 printed %q", out.String())
		}
	}
	for _, bad := range [][]string{nil, {"nope"}, {"eval"}, {"eval", "-items", "x", z.Path(Base)}, {"build", "-distractors", "mnist"},
		{"build", "-instance", "2"}, {"build", "-testbed", MultiTask, "-instance", "2", "-seed", "3"}, {"build", "-testbed", "triple"},
		{"build", "-testbed", MultiTask, "-distractors", "flip"}} {
		if err := RunCLI(ctx, &out, &errb, bad); err == nil {
			t.Errorf("RunCLI(%q) succeeded", bad)
		}
	}
}

// TestBuildRefusesChangedWeights: a cached zoo whose weights differ from
// the checksum recorded at build is refused with a message saying what to
// do, never reused; a zoo from before checksums were kept gets one.
func TestBuildRefusesChangedWeights(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir, 4)
	z, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := z.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(filepath.Join(z.Dir, ChecksumName))
	if err != nil || strings.TrimSpace(string(rec)) != sum {
		t.Fatalf("build recorded %q (%v), want the checksum %s", rec, err, sum)
	}
	// Flip one byte of a weight, keeping the file's size and form.
	w := filepath.Join(z.Path(Reader), "model.safetensors")
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x40
	if err := os.WriteFile(w, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg)
	if err == nil || !strings.Contains(err.Error(), "changed since they were built") || !strings.Contains(err.Error(), "delete "+z.Dir) {
		t.Fatalf("changed weights: got %v", err)
	}
	// Restored, the zoo is reused; without a recorded checksum (an older
	// cache) it is recorded on reuse.
	b[len(b)-1] ^= 0x40
	if err := os.WriteFile(w, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(z.Dir, ChecksumName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg); err != nil {
		t.Fatal(err)
	}
	if rec, err := os.ReadFile(filepath.Join(z.Dir, ChecksumName)); err != nil || strings.TrimSpace(string(rec)) != sum {
		t.Errorf("older cache: recorded %q (%v), want %s", rec, err, sum)
	}
}

// TestCacheDirEnvironment: EVOMERGE_CACHE moves evomerge's cache (the
// zoo goes in its zoo folder); EVOMERGE_ZOO_CACHE, the older variable
// naming the zoo folder itself, still wins.
func TestCacheDirEnvironment(t *testing.T) {
	base := t.TempDir()
	t.Setenv("EVOMERGE_ZOO_CACHE", "")
	t.Setenv("EVOMERGE_CACHE", base)
	if got, want := DefaultCacheDir(), filepath.Join(base, "zoo"); got != want {
		t.Errorf("EVOMERGE_CACHE=%s: zoo cache %s, want %s", base, got, want)
	}
	t.Setenv("EVOMERGE_ZOO_CACHE", filepath.Join(base, "old"))
	if got := DefaultCacheDir(); got != filepath.Join(base, "old") {
		t.Errorf("EVOMERGE_ZOO_CACHE must still name the zoo folder: got %s", got)
	}
}

// TestMNISTDirWithoutGo stands for a deployed binary on a machine without
// Go: no module cache, no go command. The error must say how to point
// evomerge at the data, and the go command must not be run.
func TestMNISTDirWithoutGo(t *testing.T) {
	t.Setenv("EVOMERGE_MNIST_DIR", "")
	t.Setenv("GOMODCACHE", "")
	oldLook, oldGOPATH := lookPath, defaultGOPATH
	defer func() { lookPath, defaultGOPATH = oldLook, oldGOPATH }()
	asked := false
	lookPath = func(string) (string, error) { asked = true; return "", os.ErrNotExist }
	defaultGOPATH = t.TempDir()
	_, err := MNISTDir()
	if err == nil || !strings.Contains(err.Error(), "set EVOMERGE_MNIST_DIR to a folder holding") {
		t.Fatalf("without Go: got %v", err)
	}
	if !asked {
		t.Error("the go command was not looked up on PATH first")
	}
	// A wrong EVOMERGE_MNIST_DIR is named at once, not when a file fails
	// to open later.
	empty := t.TempDir()
	t.Setenv("EVOMERGE_MNIST_DIR", empty)
	if _, err := MNISTDir(); err == nil || !strings.Contains(err.Error(), "EVOMERGE_MNIST_DIR="+empty) {
		t.Errorf("empty EVOMERGE_MNIST_DIR: got %v", err)
	}
	// With the data there, it is found.
	lookPath, defaultGOPATH = oldLook, oldGOPATH
	t.Setenv("EVOMERGE_MNIST_DIR", "")
	d, err := MNISTDir()
	if err != nil {
		t.Skipf("no MNIST data on this machine: %v", err)
	}
	t.Setenv("EVOMERGE_MNIST_DIR", d)
	if got, err := MNISTDir(); err != nil || got != d {
		t.Errorf("EVOMERGE_MNIST_DIR=%s: got %s, %v", d, got, err)
	}
}

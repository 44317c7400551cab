package merge

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Benchmark sizes: 4 models (a base and three fine-tunes) of 16 layers of
// one 2048×2048 float32 matrix each, 256 MiB per model, 1 GiB of input.
// BENCH_MERGE_LAYERS overrides the layer count (e.g. 2 for a quick run).
func benchLayers() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_MERGE_LAYERS")); err == nil && n > 0 {
		return n
	}
	return 16
}

const benchDim = 2048

// benchTensor fills a tensor with cheap deterministic noise (an xorshift
// stream): generating a GiB with a Gaussian RNG would dominate the run.
func benchTensor(seed uint64, n int, base []float32) []float32 {
	x := make([]float32, n)
	s := seed*0x9e3779b97f4a7c15 + 1
	for i := range x {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v := float32(int32(s>>32)) / (1 << 31)
		if base != nil {
			x[i] = base[i] + 0.01*v
		} else {
			x[i] = v
		}
	}
	return x
}

func benchModels(b *testing.B, dt st.DType) (map[string]Source, int64) {
	layers := benchLayers()
	srcs := map[string]Source{}
	var total int64
	baseT := map[string][]float32{}
	for m, name := range []string{"base", "m1", "m2", "m3"} {
		ts := map[string]Tensor{}
		for l := 0; l < layers; l++ {
			tn := fmt.Sprintf("model.layers.%d.mlp.up_proj.weight", l)
			var bt []float32
			if name != "base" {
				bt = baseT[tn]
			}
			data := benchTensor(uint64(m*1000+l), benchDim*benchDim, bt)
			st.RoundSlice(dt, data)
			if name == "base" {
				baseT[tn] = data
			}
			ts[tn] = Tensor{Shape: []int{benchDim, benchDim}, Data: data}
			total += int64(4 * len(data))
		}
		mod, err := NewModel(ts, layers, dt)
		if err != nil {
			b.Fatal(err)
		}
		srcs[name] = mod
	}
	return srcs, total
}

// BenchmarkThroughput measures GB/s of input read for a plain copy of the
// input bytes and for linear, task_arithmetic, ties, dare_ties and slerp
// (base and m1) merges of the same in-memory models, in one run, all cores:
//
//	go test -run '^$' -bench Throughput -benchtime 3x ./objectives/merge/
func BenchmarkThroughput(b *testing.B) {
	srcs, _ := benchModels(b, st.F32)
	recipes := map[string]string{
		"linear":          "merge_method: linear\nmodels:\n  - {model: m1, parameters: {weight: 0.5}}\n  - {model: m2, parameters: {weight: 0.3}}\n  - {model: m3, parameters: {weight: 0.2}}\n",
		"task_arithmetic": "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: m1, parameters: {weight: 0.5}}\n  - {model: m2, parameters: {weight: 0.3}}\n  - {model: m3, parameters: {weight: 0.2}}\n",
		"ties":            "merge_method: ties\nbase_model: base\nmodels:\n  - {model: m1, parameters: {weight: 0.5, density: 0.5}}\n  - {model: m2, parameters: {weight: 0.3, density: 0.5}}\n  - {model: m3, parameters: {weight: 0.2, density: 0.5}}\n",
		"dare_ties":       "merge_method: dare_ties\nbase_model: base\nmodels:\n  - {model: m1, parameters: {weight: 0.5, density: 0.5}}\n  - {model: m2, parameters: {weight: 0.3, density: 0.5}}\n  - {model: m3, parameters: {weight: 0.2, density: 0.5}}\n",
		"slerp":           "merge_method: slerp\nbase_model: base\nparameters: {t: 0.3}\nmodels:\n  - {model: base}\n  - {model: m1}\n",
	}
	mg := NewMerger(srcs)
	inputBytes := func(models ...string) int64 {
		var n int64
		for _, m := range models {
			s := srcs[m]
			for _, name := range s.Names() {
				sh, _ := s.Shape(name)
				n += int64(4 * numel(sh))
			}
		}
		return n
	}
	b.Run("op=copy", func(b *testing.B) {
		// The same bytes as task_arithmetic reads (4 models), copied into
		// one output buffer per tensor, block by block on all cores.
		models := []string{"base", "m1", "m2", "m3"}
		bytes := inputBytes(models...)
		b.SetBytes(bytes)
		dst := make([]float32, benchDim*benchDim)
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, m := range models {
				v := srcs[m].(viewer)
				for _, name := range srcs[m].Names() {
					x, _ := v.View(name)
					parallelFor(len(x), selChunk, runtime.GOMAXPROCS(0), func(_, lo, hi int) { copy(dst[lo:hi], x[lo:hi]) })
				}
			}
		}
		reportGBs(b, bytes, cpu0)
	})
	for _, op := range []string{"linear", "task_arithmetic", "ties", "dare_ties", "slerp"} {
		r, err := ParseRecipe([]byte(recipes[op]))
		if err != nil {
			b.Fatal(err)
		}
		models := []string{"m1", "m2", "m3"}
		switch op {
		case "slerp":
			models = []string{"base", "m1"}
		case "linear":
		default:
			models = append(models, "base")
		}
		bytes := inputBytes(models...)
		b.Run("op="+op, func(b *testing.B) {
			b.SetBytes(bytes)
			var out Output
			if err := mg.Merge(context.Background(), r, &out); err != nil { // allocate the output once
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			for b.Loop() {
				if err := mg.Merge(context.Background(), r, &out); err != nil {
					b.Fatal(err)
				}
			}
			reportGBs(b, bytes, cpu0)
		})
	}
}

// BenchmarkThroughputBF16 is task_arithmetic on bfloat16 models computed
// in bfloat16 (dtype: bfloat16), rounding after every operation as mergekit
// does; mergekit's own figure for this on such a machine is 0.85 GB/s:
//
//	go test -run '^$' -bench ThroughputBF16 -benchtime 3x ./objectives/merge/
func BenchmarkThroughputBF16(b *testing.B) {
	srcs, bytes := benchModels(b, st.BF16)
	bytes /= 2 // stored as bfloat16: 2 bytes per value
	r, err := ParseRecipe([]byte("merge_method: task_arithmetic\nbase_model: base\ndtype: bfloat16\nmodels:\n  - {model: m1, parameters: {weight: 0.5}}\n  - {model: m2, parameters: {weight: 0.3}}\n  - {model: m3, parameters: {weight: 0.2}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	mg := NewMerger(srcs)
	var out Output
	if err := mg.Merge(context.Background(), r, &out); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bytes)
	cpu0 := cpuSeconds()
	for b.Loop() {
		if err := mg.Merge(context.Background(), r, &out); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b, bytes, cpu0)
}

// llama7BLayout is the tensor layout of the disk benchmark: two layers of a
// Llama-7B's attention projections and one layer of its MLP, 269.5M
// elements (1.0 GiB as float32) per model.
var llama7BLayout = func() []st.Spec {
	var specs []st.Spec
	for l := 0; l < 2; l++ {
		for _, p := range "qkvo" {
			specs = append(specs, st.Spec{Name: fmt.Sprintf("model.layers.%d.self_attn.%c_proj.weight", l, p), Shape: []int{4096, 4096}})
		}
	}
	return append(specs,
		st.Spec{Name: "model.layers.0.mlp.gate_proj.weight", Shape: []int{11008, 4096}},
		st.Spec{Name: "model.layers.0.mlp.up_proj.weight", Shape: []int{11008, 4096}},
		st.Spec{Name: "model.layers.0.mlp.down_proj.weight", Shape: []int{4096, 11008}})
}()

// writeBenchModels writes a base and fine-tunes (base + 0.002·noise) with
// the llama7BLayout shapes, rows divided by rowDiv, in dtype dt.
func writeBenchModels(b testing.TB, dir string, names []string, dt st.DType, rowDiv int) {
	b.Helper()
	base := map[string][]float32{}
	for m, name := range names {
		specs := slices.Clone(llama7BLayout)
		for k := range specs {
			specs[k].DType = dt
			specs[k].Shape = []int{max(1, specs[k].Shape[0]/rowDiv), specs[k].Shape[1]}
		}
		md := filepath.Join(dir, name)
		os.MkdirAll(md, 0o755)
		sw, err := st.NewShardedWriter(md, specs, 0)
		if err != nil {
			b.Fatal(err)
		}
		for k, sp := range specs {
			n := numel(sp.Shape)
			var x []float32
			if m == 0 {
				x = benchTensor(uint64(k+1), n, nil)
				for e := range x {
					x[e] *= 0.02
				}
				base[sp.Name] = x
			} else {
				x = benchTensor(uint64(m*1000+k), n, nil)
				bt := base[sp.Name]
				for e := range x {
					x[e] = bt[e] + 0.2*x[e]*0.01
				}
			}
			if err := sw.WriteFloat32(sp.Name, x); err != nil {
				b.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(md, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"],"num_hidden_layers":2}`), 0o644)
	}
}

// copyFiles copies each model folder's weights into dst with io.Copy (on
// Linux a copy_file_range in the kernel, as cp does) and returns the bytes.
func copyFiles(b testing.TB, models []string, dst string) int64 {
	var total int64
	for i, m := range models {
		in, err := os.Open(filepath.Join(m, st.SingleName))
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, fmt.Sprintf("copy%d.safetensors", i)))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(out, in)
		if err != nil {
			b.Fatal(err)
		}
		total += n
		in.Close()
		out.Close()
	}
	return total
}

// BenchmarkDiskMerge merges Llama-7B-shaped float32 safetensors (a base and
// two fine-tunes, 1.0 GiB each, generated in the test's temporary folder)
// disk to disk with Run, the code of `evomerge merge`, and in the same
// iteration copies the same input files with io.Copy (what cp does), so the
// two are measured side by side under the same load. Per method it reports
// the merge's GB/s of input read, the copy's GB/s of the same bytes, their
// ratio (merge time over copy time, inverted: ≥ 1 is faster than the copy),
// the merge's CPU seconds and its peak resident memory (VmHWM, reset before
// each merge). Every other method's iteration also runs the task_arithmetic
// merge of the same files, so cpu-x-task_arithmetic (the method's CPU
// seconds per input byte over task_arithmetic's, both measured in that
// iteration under the same load) compares the methods' costs:
//
//	go test -run '^$' -bench DiskMerge -benchtime 3x ./objectives/merge/
//
// BENCH_MERGE_ROWDIV=8 divides every tensor's rows for a quick run;
// BENCH_MERGE_DTYPE=bfloat16 writes bf16 models.
func BenchmarkDiskMerge(b *testing.B) {
	rowDiv := 1
	if n, err := strconv.Atoi(os.Getenv("BENCH_MERGE_ROWDIV")); err == nil && n > 0 {
		rowDiv = n
	}
	dt := st.F32
	if v := os.Getenv("BENCH_MERGE_DTYPE"); v != "" {
		var err error
		if dt, err = st.ParseDType(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	writeBenchModels(b, dir, []string{"base", "ft1", "ft2"}, dt, rowDiv)
	debug.FreeOSMemory() // so the peak below is the merge's, not the generator's
	ft := func(name, params string) string {
		return fmt.Sprintf("  - {model: %s/%s, parameters: {%s}}\n", dir, name, params)
	}
	recipes := []struct{ name, yaml string }{
		{"linear", "merge_method: linear\nmodels:\n" + ft("base", "weight: 0.4") + ft("ft1", "weight: 0.3") + ft("ft2", "weight: 0.3")},
		{"task_arithmetic", "merge_method: task_arithmetic\nbase_model: " + dir + "/base\nmodels:\n" + ft("ft1", "weight: 0.5") + ft("ft2", "weight: 0.5")},
		{"ties", "merge_method: ties\nbase_model: " + dir + "/base\nmodels:\n" + ft("ft1", "weight: 0.5, density: 0.5") + ft("ft2", "weight: 0.5, density: 0.5")},
		{"dare_ties", "merge_method: dare_ties\nbase_model: " + dir + "/base\nmodels:\n" + ft("ft1", "weight: 0.5, density: 0.5") + ft("ft2", "weight: 0.5, density: 0.5")},
		{"slerp", "merge_method: slerp\nbase_model: " + dir + "/base\nparameters: {t: 0.3}\nmodels:\n  - {model: " + dir + "/base}\n  - {model: " + dir + "/ft1}\n"},
	}
	recipePath := func(name string) string { return filepath.Join(dir, name+".yml") }
	for _, rc := range recipes {
		os.WriteFile(recipePath(rc.name), []byte(rc.yaml), 0o644)
	}
	for _, rc := range recipes {
		rp := recipePath(rc.name)
		models := []string{dir + "/base", dir + "/ft1", dir + "/ft2"}
		if rc.name == "slerp" {
			models = models[:2]
		}
		b.Run("op="+rc.name, func(b *testing.B) {
			var mergeT, copyT, cpu, taCPU float64
			var bytes int64
			peak := 0.0
			for b.Loop() {
				if rc.name != "task_arithmetic" {
					c0 := cpuSeconds()
					if err := Run(context.Background(), RunOptions{Recipe: recipePath("task_arithmetic"), OutDir: filepath.Join(dir, "out"), Force: true}); err != nil {
						b.Fatal(err)
					}
					taCPU += cpuSeconds() - c0
					os.RemoveAll(filepath.Join(dir, "out"))
				}
				cdir := filepath.Join(dir, "copies")
				os.MkdirAll(cdir, 0o755)
				t0 := time.Now()
				bytes = copyFiles(b, models, cdir)
				copyT += time.Since(t0).Seconds()
				os.RemoveAll(cdir)

				os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
				c0 := cpuSeconds()
				t0 = time.Now()
				if err := Run(context.Background(), RunOptions{Recipe: rp, OutDir: filepath.Join(dir, "out"), Force: true}); err != nil {
					b.Fatal(err)
				}
				mergeT += time.Since(t0).Seconds()
				cpu += cpuSeconds() - c0
				peak = max(peak, vmHWM())
				os.RemoveAll(filepath.Join(dir, "out"))
			}
			n := float64(b.N)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(bytes)*n/mergeT/1e9, "merge-GB/s")
			b.ReportMetric(float64(bytes)*n/copyT/1e9, "copy-GB/s")
			b.ReportMetric(copyT/mergeT, "x-copy")
			b.ReportMetric(cpu/n, "cpu-s/merge")
			if taCPU > 0 {
				// task_arithmetic reads base, ft1 and ft2: three models.
				taBytes := float64(bytes) * 3 / float64(len(models))
				b.ReportMetric((cpu/float64(bytes))/(taCPU/taBytes), "cpu-x-task_arithmetic")
			}
			b.ReportMetric(peak/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(bytes)/(1<<30), "input-GiB")
		})
	}
}

// vmHWM is the peak resident set size in bytes (Linux), or 0.
func vmHWM() float64 { return procStatus("VmHWM:") }

// vmRSS is the resident set size in bytes (Linux), or 0.
func vmRSS() float64 { return procStatus("VmRSS:") }

func procStatus(field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// reportGBs reports input GB/s of wall-clock time and per CPU-second used
// since cpu0 (the two agree on an idle machine with one core per worker).
func reportGBs(b *testing.B, bytes int64, cpu0 float64) {
	total := float64(bytes) * float64(b.N) / 1e9
	b.ReportMetric(total/b.Elapsed().Seconds(), "GB/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu, "GB/cpu-s")
	}
}

// BenchmarkSmallMerge is the in-process cost of one merge of an MLP the size
// of the MNIST real-merge objective (784-128-64-20, three models), as an
// evolutionary run pays it per evaluation.
func BenchmarkSmallMerge(b *testing.B) {
	dims := []int{784, 128, 64, 20}
	srcs := map[string]Source{}
	for m, name := range []string{"base", "a", "b"} {
		ts := map[string]Tensor{}
		for l := 0; l+1 < len(dims); l++ {
			w := benchTensor(uint64(10*m+l), dims[l]*dims[l+1], nil)
			ts[fmt.Sprintf("layers.%d.weight", l)] = Tensor{Shape: []int{dims[l+1], dims[l]}, Data: w}
			ts[fmt.Sprintf("layers.%d.bias", l)] = Tensor{Shape: []int{dims[l+1]}, Data: benchTensor(uint64(100+10*m+l), dims[l+1], nil)}
		}
		mod, err := NewModel(ts, 0, st.F32)
		if err != nil {
			b.Fatal(err)
		}
		srcs[name] = mod
	}
	mg := NewMerger(srcs)
	for _, method := range []string{"task_arithmetic", "ties"} {
		r, err := ParseRecipe([]byte("merge_method: " + method + "\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: [1.3, 1.7, 0.2], density: 0.6}}\n  - {model: b, parameters: {weight: [0.4, 0.7, 2.9], density: 0.6}}\n"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("method="+method, func(b *testing.B) {
			var out Output
			for b.Loop() {
				if err := mg.Merge(context.Background(), r, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package merge

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evomerge/evomerge/internal/cli"
	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// RunOptions configures a merge from a recipe file into a model folder,
// like mergekit-yaml.
type RunOptions struct {
	Recipe string // path of the YAML recipe
	OutDir string
	// MaxShardBytes splits the weights into shards of at most this many
	// bytes (0: one file).
	MaxShardBytes int64
	// Force replaces an existing non-empty OutDir (atomically, by rename).
	Force   bool
	Seed    uint64
	Workers int
	// Progress, if set, receives a progress line about once a second for
	// merges of more than ProgressMinBytes of output.
	Progress io.Writer
	// Warnings, if set, receives one line per thing the merge did that the
	// user may not expect (a model left out of a tensor's merge, an unknown
	// parameter name).
	Warnings io.Writer
	// MaxMemory bounds the memory the merge holds at once, in bytes (0:
	// DefaultMaxMemory). Elementwise methods stream in fixed-size blocks
	// well under it; a whole-tensor method (nuslerp, model_stock, karcher,
	// ...) on a tensor that needs more fails with an error naming it.
	MaxMemory int64
	// AllowNonFinite keeps a merged tensor holding NaN or ±Inf values that
	// none of its inputs had; by default that is an error naming the tensor.
	AllowNonFinite bool

	// masks replaces the random keep-mask draws (tests only).
	masks func(tensor, model string, n int) []float32
}

// DefaultMaxMemory is the default memory budget of a merge, which fits a
// laptop.
const DefaultMaxMemory = 2 << 30

// ProgressMinBytes is the output size above which Run reports progress.
const ProgressMinBytes = 256 << 20

// tokenizerFiles are copied from the base (or first) model, as mergekit does.
var tokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
	"vocab.json", "vocab.txt", "merges.txt", "added_tokens.json", "generation_config.json", "chat_template.jinja",
}

// Run merges the recipe's models into OutDir. The output is built in a
// temporary folder beside OutDir and renamed into place only when complete:
// a failed merge leaves nothing behind and never half-overwrites OutDir.
func Run(ctx context.Context, o RunOptions) (err error) {
	raw, err := os.ReadFile(o.Recipe)
	if err != nil {
		return err
	}
	r, err := ParseRecipe(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Recipe, err)
	}
	if o.OutDir == "" {
		return fmt.Errorf("no output folder given")
	}
	out := filepath.Clean(o.OutDir)
	if err := checkOutDir(out, o.Force); err != nil {
		return err
	}
	sources := map[string]Source{}
	var order []string
	for _, name := range recipeModels(r) {
		if _, ok := sources[name]; ok {
			continue
		}
		c, err := OpenCheckpoint(name)
		if err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		defer c.Close()
		sources[name] = c
		order = append(order, name)
	}
	mg := NewMerger(sources)
	mg.Seed, mg.Workers, mg.masks, mg.AllowNonFinite = o.Seed, o.Workers, o.masks, o.AllowNonFinite
	p, err := mg.Plan(r)
	if err != nil {
		return err
	}
	if o.Warnings != nil {
		for _, w := range p.Warnings() {
			fmt.Fprintf(o.Warnings, "warning: %s\n", w)
		}
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o777); err != nil {
		return err
	}
	removeStaleTemps(parent, filepath.Base(out), o.Warnings)
	tmp, err := makeTempDir(parent, filepath.Base(out))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := mg.writeWeights(ctx, p, tmp, o); err != nil {
		return err
	}
	if testHookAfterWeights != nil {
		testHookAfterWeights(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ref := order[0]
	if r.BaseModel != "" {
		ref = r.BaseModel
	}
	if err := writeConfig(ref, tmp, p); err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		if err := copyFile(filepath.Join(ref, f), filepath.Join(tmp, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "README.md"), []byte(modelCard(r, order, raw)), 0o644); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	if err := replaceDir(tmp, out); err != nil {
		return err
	}
	return syncDir(parent)
}

// testHookAfterWeights, if set, runs once the weights are written (tests
// interrupt a merge there).
var testHookAfterWeights func(ctx context.Context)

// tempPrefix is the start of the temporary folders a merge into out builds
// its output in: .OUT.tmp-PID-N beside OUT.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// makeTempDir creates the temporary output folder with os.Mkdir's 0777,
// so it ends with the mode a plain mkdir gives under the user's umask (not
// os.MkdirTemp's 0700, which would hide the merged model from other users).
// Its name carries the process id so a later run can tell a stale folder
// from a live merge's.
func makeTempDir(parent, base string) (string, error) {
	for n := 0; ; n++ {
		dir := filepath.Join(parent, fmt.Sprintf("%s%d-%d", tempPrefix(base), os.Getpid(), n))
		err := os.Mkdir(dir, 0o777)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || n > 1000 {
			return "", err
		}
	}
}

// removeStaleTemps deletes the temporary folders earlier merges into the
// same output folder left when they were killed (kill -9, a crash, a power
// cut): those named .OUT.tmp-PID-N whose process is gone. A live merge's
// folder is kept, as is anything else (.OUT.tmp-PID-N.old holds a previous
// output being replaced).
func removeStaleTemps(parent, base string, log io.Writer) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), tempPrefix(base))
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, n, ok := strings.Cut(rest, "-")
		pid, err1 := strconv.Atoi(pidStr)
		_, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(parent, e.Name())); err == nil && log != nil {
			fmt.Fprintf(log, "removed %s, left by an interrupted merge (process %d)\n", filepath.Join(parent, e.Name()), pid)
		}
	}
}

// syncPath flushes a file or folder to stable storage (a variable so tests
// can see the order of syncs).
var syncPath = func(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncTree syncs every file of the finished output folder, then the folder
// itself, so that the rename that publishes it can never expose a folder
// whose contents a power cut lost.
func syncTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := syncPath(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("syncing %s: %w", filepath.Join(dir, e.Name()), err)
			}
		}
	}
	return syncDir(dir)
}

// syncDir syncs a folder's entries; platforms that cannot sync a folder
// (Windows) skip it.
func syncDir(dir string) error {
	if err := syncPath(dir); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func recipeModels(r *Recipe) []string {
	var names []string
	for _, m := range r.Models {
		names = append(names, m.Model)
	}
	for _, s := range r.Slices {
		for _, so := range s.Sources {
			names = append(names, so.Model)
		}
		if s.BaseModel != "" {
			names = append(names, s.BaseModel)
		}
	}
	if r.BaseModel != "" {
		names = append(names, r.BaseModel)
	}
	return names
}

func checkOutDir(out string, force bool) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", out, err)
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("output folder %s exists and is not empty (use -force to replace it)", out)
	}
	return nil
}

// replaceDir moves the finished tmp folder to out. An existing out is
// first renamed aside, so at every moment out is either the old folder or
// the complete new one.
func replaceDir(tmp, out string) error {
	if _, err := os.Stat(out); err == nil {
		old := tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, out); err != nil {
			os.Rename(old, out)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(tmp, out)
}

// writeWeights merges the tensors into (sharded) safetensors in dir: the
// files are laid out first, and each block is written at its final offset
// as soon as it is merged.
func (m *Merger) writeWeights(ctx context.Context, p *Plan, dir string, o RunOptions) error {
	specs := make([]st.Spec, len(p.tensors))
	var total int64
	for i, pt := range p.tensors {
		specs[i] = st.Spec{Name: pt.name, DType: pt.outDType, Shape: pt.shape}
		total += int64(numel(pt.shape) * pt.outDType.Size())
	}
	layout, err := st.CreateLayout(dir, specs, o.MaxShardBytes)
	if err != nil {
		return err
	}
	var done, tensors atomic.Int64
	var progress sync.WaitGroup
	stop := make(chan struct{})
	if o.Progress != nil && total >= ProgressMinBytes {
		start := time.Now()
		report := func() {
			fmt.Fprintf(o.Progress, "merge: %d/%d tensors, %.2f/%.2f GB written, %.1f s\n",
				tensors.Load(), len(p.tensors), float64(done.Load())/1e9, float64(total)/1e9, time.Since(start).Seconds())
		}
		progress.Add(1)
		go func() {
			defer progress.Done()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					report()
				case <-stop:
					report()
					return
				}
			}
		}()
	}
	budget := o.MaxMemory
	if budget == 0 {
		budget = DefaultMaxMemory
	}
	err = m.runPlan(ctx, p, func(i int) (sink, *finisher) {
		pt := &p.tensors[i]
		s := &fileSink{finisher: finisher{dt: pt.dtype, odt: pt.outDType}, layout: layout, index: i,
			bufs: map[int][]float32{}, bytes: map[int][]byte{}}
		return s, &s.finisher
	}, budget, true, func(i int) {
		done.Add(int64(numel(p.tensors[i].shape) * p.tensors[i].outDType.Size()))
		tensors.Add(1)
	})
	close(stop)
	progress.Wait()
	if err != nil {
		layout.Abort()
		return err
	}
	return layout.Close()
}

// writeConfig copies the reference model's config.json with torch_dtype
// set to the output dtype and the layer count updated.
func writeConfig(ref, dir string, p *Plan) error {
	raw, err := os.ReadFile(filepath.Join(ref, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s/config.json: %v", ref, err)
	}
	cfg["torch_dtype"], _ = json.Marshal(p.outDType.TorchName())
	if _, ok := cfg["dtype"]; ok { // newer transformers write "dtype"
		cfg["dtype"] = cfg["torch_dtype"]
	}
	for _, k := range layerKeys {
		if _, ok := cfg[k]; ok && p.layers > 0 {
			cfg[k], _ = json.Marshal(p.layers)
			break
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	outF, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(outF, in); err != nil {
		outF.Close()
		return err
	}
	return outF.Close()
}

func modelCard(r *Recipe, models []string, recipe []byte) string {
	var b strings.Builder
	b.WriteString("---\nlibrary_name: transformers\ntags:\n- merge\n- evomerge\n")
	if r.BaseModel != "" {
		fmt.Fprintf(&b, "base_model: %s\n", strconv.Quote(r.BaseModel))
	}
	b.WriteString("---\n# Merged model\n\n")
	fmt.Fprintf(&b, "This model was merged with `evomerge merge`, a native implementation of mergekit's `%s` method.\n\n", r.MergeMethod)
	b.WriteString("## Models merged\n\n")
	sorted := append([]string(nil), models...)
	sort.Strings(sorted)
	for _, m := range sorted {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	b.WriteString("\n## Recipe\n\n```yaml\n")
	b.Write(recipe)
	if len(recipe) > 0 && recipe[len(recipe)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("```\n")
	return b.String()
}

// RunCLI implements `evomerge merge [flags] RECIPE.yml OUT_DIR`. Flags may
// come before or after the two arguments.
func RunCLI(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	// SIGTERM (a job scheduler, systemd, kill) stops a merge as SIGINT does:
	// the temporary folder is removed and OUT_DIR is left as it was.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shard := fs.String("max-shard-size", "5GB", "largest shard of the output weights (e.g. 500MB, 5GB; 0 = one file)")
	seed := fs.Uint64("seed", 0, "seed for the random methods (dare_*, della*)")
	workers := fs.Int("workers", 0, "goroutines to use (0 = all cores)")
	force := fs.Bool("force", false, "replace OUT_DIR if it exists and is not empty")
	quiet := fs.Bool("quiet", false, "no progress lines")
	maxMem := fs.String("max-memory", "2GiB", "memory the merge may hold at once (e.g. 512MiB, 4GiB); elementwise methods stream in blocks well under it")
	allowNonFinite := fs.Bool("allow-non-finite", false, "keep merged tensors holding non-finite values (not-a-number, ±infinity) that no input had; by default such a tensor is an error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: evomerge merge [flags] RECIPE.yml OUT_DIR\n\nMerges the models of a mergekit recipe into OUT_DIR, as mergekit-yaml does.\nMethods: %s\n\nFlags:\n", strings.Join(MethodNames(), ", "))
		fs.PrintDefaults()
	}
	// Help a user asked for is output (stdout); a bad flag is an error
	// (stderr).
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("merge: want RECIPE.yml and OUT_DIR, got %d arguments", len(pos))
	}
	maxShard, err := parseSize(*shard)
	if err != nil {
		return fmt.Errorf("merge: -max-shard-size: %w", err)
	}
	maxMemory, err := parseSize(*maxMem)
	if err != nil || maxMemory <= 0 {
		return fmt.Errorf("merge: -max-memory: bad size %q", *maxMem)
	}
	o := RunOptions{MaxMemory: maxMemory, Recipe: pos[0], OutDir: pos[1], MaxShardBytes: maxShard, Force: *force, Seed: *seed, Workers: *workers, AllowNonFinite: *allowNonFinite}
	if !*quiet {
		o.Progress = stderr
	}
	o.Warnings = stderr
	start := time.Now()
	if err := Run(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s into %s in %.1f s\n", pos[0], pos[1], time.Since(start).Seconds())
	return nil
}

// parseSize reads sizes like 5GB, 500MB, 2GiB or a plain byte count.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * float64(mult)), nil
}

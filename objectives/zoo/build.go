package zoo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// formatVersion is part of every cache key: bump it whenever training or
// the folder layout changes, so stale zoos are never reused.
const formatVersion = 1

// Model names in a zoo. Distractor experts are named after their task.
const (
	Base   = "base"
	Reader = "reader"
	Skill  = "skill"
)

// Config describes a zoo. Zero values mean the documented defaults, which
// are the measured design of docs/mnist-merge.md ("design B").
type Config struct {
	// Testbed is the zoo's design: "" or ReaderSkill (the default, design
	// B: base, reader, skill and optional distractors) or MultiTask (an
	// eight-layer base and six experts on conflicting tasks of one shared
	// head; see MultiTask).
	Testbed string
	// Seed fixes the initialisation and every shuffle. For the multi-task
	// testbed it is the instance number (`zoo build --instance N`).
	Seed uint64
	// Distractors lists extra experts, each fine-tuned from the base like
	// the reader on one of the tasks rot90 or flip. They make a merge
	// search harder: their deltas only hurt the target.
	Distractors []string
	// BaseEpochs over plain digits (default 5) at BaseLR (default 0.05).
	BaseEpochs int
	BaseLR     float64
	// ExpertEpochs (default 1) at ExpertLR (default 0.01) for every expert.
	ExpertEpochs int
	ExpertLR     float64
	// Momentum of SGD (default 0.9) and BatchSize (default 128).
	Momentum  float64
	BatchSize int
	// Init is the weight initialisation: "pytorch" (the default,
	// torch.nn.Linear's uniform ±1/√fan_in) or "he" (normal with standard
	// deviation √(2/fan_in), biases zero). He's larger random rows on the
	// unused second head make the skill expert's head delta need a larger
	// weight, so plain task arithmetic gains less and tuning more.
	Init string
	// TrainImages, when positive, trains on only the first that many
	// training images (quick tests); 0 means all 60,000.
	TrainImages int

	// CacheDir holds built zoos, one folder per configuration hash. Empty
	// means $EVOMERGE_ZOO_CACHE, else os.UserCacheDir()/evomerge/zoo. It is
	// not part of the hash.
	CacheDir string
	// Logf, when set, receives progress lines. Not part of the hash.
	Logf func(format string, args ...any) `json:"-"`
}

// withDefaults fills in zero fields.
func (c Config) withDefaults() Config {
	if c.Testbed == ReaderSkill {
		c.Testbed = ""
	}
	if c.Testbed == MultiTask {
		c = c.multiTaskDefaults()
	}
	if c.BaseEpochs == 0 {
		c.BaseEpochs = 5
	}
	if c.BaseLR == 0 {
		c.BaseLR = 0.05
	}
	if c.ExpertEpochs == 0 {
		c.ExpertEpochs = 1
	}
	if c.ExpertLR == 0 {
		c.ExpertLR = 0.01
	}
	if c.Momentum == 0 {
		c.Momentum = 0.9
	}
	if c.BatchSize == 0 {
		c.BatchSize = 128
	}
	if c.Init == "" {
		c.Init = "pytorch"
	}
	if c.TrainImages == 0 {
		c.TrainImages = 60000
	}
	c.Distractors = slices.Clone(c.Distractors)
	return c
}

func (c Config) validate() error {
	if c.Testbed != "" && c.Testbed != MultiTask {
		return fmt.Errorf("zoo config: unknown testbed %q (known: %s, %s)", c.Testbed, ReaderSkill, MultiTask)
	}
	if c.Testbed == MultiTask && len(c.Distractors) > 0 {
		return fmt.Errorf("zoo config: the %s testbed has its own experts; distractors %v apply to the %s testbed only", MultiTask, c.Distractors, ReaderSkill)
	}
	for _, e := range []struct {
		name  string
		v     int
		lo, h int
	}{{"BaseEpochs", c.BaseEpochs, 1, 100}, {"ExpertEpochs", c.ExpertEpochs, 1, 100}, {"BatchSize", c.BatchSize, 1, 60000}, {"TrainImages", c.TrainImages, 1, 60000}} {
		if e.v < e.lo || e.v > e.h {
			return fmt.Errorf("zoo config: %s = %d is outside %d..%d", e.name, e.v, e.lo, e.h)
		}
	}
	for _, e := range []struct {
		name string
		v    float64
	}{{"BaseLR", c.BaseLR}, {"ExpertLR", c.ExpertLR}} {
		if !(e.v > 0 && e.v <= 10) {
			return fmt.Errorf("zoo config: %s = %g must be in (0, 10]", e.name, e.v)
		}
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("zoo config: Momentum = %g must be in [0, 1)", c.Momentum)
	}
	if c.Init != "pytorch" && c.Init != "he" {
		return fmt.Errorf("zoo config: Init %q is neither pytorch nor he", c.Init)
	}
	seen := map[string]bool{}
	for _, d := range c.Distractors {
		if d != "rot90" && d != "flip" {
			return fmt.Errorf("zoo config: unknown distractor %q (known: rot90, flip)", d)
		}
		if seen[d] {
			return fmt.Errorf("zoo config: distractor %q listed twice", d)
		}
		seen[d] = true
	}
	return nil
}

// Hash identifies the trained weights a configuration produces: equal
// hashes, equal zoos. It names the cache folder.
func (c Config) Hash() string {
	c = c.withDefaults()
	key, _ := json.Marshal(struct {
		Format                int
		Seed                  uint64
		Distractors           []string
		BaseEpochs, ExpEpochs int
		BaseLR, ExpLR, Mom    float64
		Batch, Images         int
		Sizes                 []int
		Init                  string `json:",omitempty"`
		Testbed               string `json:",omitempty"`
	}{formatVersion, c.Seed, c.Distractors, c.BaseEpochs, c.ExpertEpochs, c.BaseLR, c.ExpertLR, c.Momentum, c.BatchSize, c.TrainImages, c.Sizes(), initKey(c.Init), c.Testbed})
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// Zoo is a built model zoo on disk: one Hugging Face-style folder per model.
type Zoo struct {
	// Dir is the zoo's folder; model m is in Dir/m.
	Dir string
	// Config is the configuration with defaults filled in.
	Config Config
	// Models lists the models: base, reader, skill, then the distractors
	// (reader-skill testbed), or base then MultiTaskExperts.
	Models []string
}

// Path is model's folder.
func (z *Zoo) Path(model string) string { return filepath.Join(z.Dir, model) }

// Experts lists the fine-tuned models (every model but the base).
func (z *Zoo) Experts() []string { return z.Models[1:] }

// Checksum is a SHA-256 over every model's weight file, in model order: two
// zoos with equal checksums hold bit-identical weights.
func (z *Zoo) Checksum() (string, error) { return checksumDir(z.Dir, z.Models) }

// ChecksumName is the file in a zoo folder that records the Checksum of
// its weights when they were built; every later Build compares.
const ChecksumName = "zoo.sha256"

// verify compares the zoo's weights with the checksum recorded at build, so
// a cached model that changed since (a damaged disk, an edited file) is
// never used as if it were the one the configuration trains. A zoo built
// before checksums were recorded gets its checksum recorded now.
func (z *Zoo) verify(logf func(string, ...any)) error {
	sum, err := z.Checksum()
	if err != nil {
		return fmt.Errorf("zoo %s: %w", z.Dir, err)
	}
	path := filepath.Join(z.Dir, ChecksumName)
	rec, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if logf != nil {
			logf("zoo: %s predates recorded checksums; recording sha256 %s", z.Dir, sum)
		}
		return writeFileAtomic(path, []byte(sum+"\n"))
	}
	if err != nil {
		return fmt.Errorf("zoo %s: %w", z.Dir, err)
	}
	if want := strings.TrimSpace(string(rec)); want != sum {
		return fmt.Errorf("zoo %s: its weights changed since they were built (sha256 now %s, recorded %s in %s): the cache is damaged or was edited; delete %s and run again to rebuild it",
			z.Dir, sum, want, ChecksumName, z.Dir)
	}
	return nil
}

// checksumDir is Checksum for the models in dir.
func checksumDir(dir string, models []string) (string, error) {
	h := sha256.New()
	for _, m := range models {
		f, err := os.Open(filepath.Join(dir, m, st.SingleName))
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expert is one fine-tuning job.
type expert struct {
	name  string
	tasks []Task
}

func (c Config) models() []expert {
	if c.Testbed == MultiTask {
		return multiTaskExperts()
	}
	ex := []expert{
		{Reader, []Task{tasks["shift"]}},
		// Half the skill expert's data replays the base task, which keeps
		// its lower layers near the base (mnist-merge.md).
		{Skill, []Task{tasks["perm"], tasks["digits"]}},
	}
	for _, d := range c.Distractors {
		ex = append(ex, expert{d, []Task{tasks[d]}})
	}
	return ex
}

// DefaultCacheDir is where Build keeps zoos when Config.CacheDir is empty:
// $EVOMERGE_ZOO_CACHE (the zoo folder itself, as in earlier versions), else
// $EVOMERGE_CACHE/zoo (evomerge's cache folder), else
// os.UserCacheDir()/evomerge/zoo, else (no home folder, as in some CI
// sandboxes) a folder in os.TempDir().
func DefaultCacheDir() string {
	if d := os.Getenv("EVOMERGE_ZOO_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("EVOMERGE_CACHE"); d != "" {
		return filepath.Join(d, "zoo")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "evomerge", "zoo")
	}
	return filepath.Join(os.TempDir(), "evomerge-zoo")
}

// buildLocks serialises builds of one zoo folder within a process, so
// concurrent callers train once; across processes the atomic rename decides.
var buildLocks sync.Map

// Build returns the zoo of cfg, training it on MNIST the first time and
// reusing the cached folder afterwards. A build writes into a temporary
// folder next to the final one and renames it into place, so an interrupted
// build leaves no half-written zoo behind (only a .tmp folder, which the
// next build of the same zoo removes). Processes building the same zoo
// take turns on a lock file beside it, so it is trained once.
func Build(cfg Config) (*Zoo, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	root := cfg.CacheDir
	if root == "" {
		root = DefaultCacheDir()
	}
	z := &Zoo{Dir: filepath.Join(root, cfg.Hash()), Config: cfg, Models: []string{Base}}
	for _, e := range cfg.models() {
		z.Models = append(z.Models, e.name)
	}
	mu, _ := buildLocks.LoadOrStore(z.Dir, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if z.complete() {
		return z, z.verify(cfg.Logf)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("zoo cache: %w", err)
	}
	unlock, err := lockFile(z.Dir + ".lock")
	if err != nil {
		return nil, fmt.Errorf("zoo cache: %w", err)
	}
	defer unlock()
	if z.complete() { // built by another process while we waited
		return z, z.verify(cfg.Logf)
	}
	if _, err := os.Stat(z.Dir); err == nil {
		return nil, fmt.Errorf("zoo %s exists but is incomplete; delete it to rebuild", z.Dir)
	}
	// Holding the lock, any temporary folder of this zoo is a leftover of
	// an interrupted build.
	if stale, _ := filepath.Glob(filepath.Join(root, ".tmp-"+cfg.Hash()+"-*")); len(stale) > 0 {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+cfg.Hash()+"-")
	if err != nil {
		return nil, fmt.Errorf("zoo cache: %w", err)
	}
	if err := trainZoo(cfg, z, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("zoo cache: %w", err)
	}
	if err := os.Rename(tmp, z.Dir); err != nil {
		os.RemoveAll(tmp)
		if z.complete() { // another process finished first
			return z, z.verify(cfg.Logf)
		}
		return nil, fmt.Errorf("zoo cache: %w", err)
	}
	return z, nil
}

// complete reports whether every model folder is in place.
func (z *Zoo) complete() bool {
	for _, m := range z.Models {
		for _, f := range []string{ConfigName, st.SingleName} {
			if _, err := os.Stat(filepath.Join(z.Path(m), f)); err != nil {
				return false
			}
		}
	}
	return true
}

// stream derives a PCG stream number from a label, so that each use of the
// seed (initialisation, each model's shuffles) draws independent numbers
// and adding a distractor never changes the other models.
func stream(label string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return h.Sum64()
}

func trainZoo(cfg Config, z *Zoo, dir string) error {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	mdir, err := MNISTDir()
	if err != nil {
		return err
	}
	data, err := LoadMNIST(mdir)
	if err != nil {
		return err
	}
	train := data.Train
	start := time.Now()
	base := NewNet(cfg.Sizes())
	initRng := rand.New(rand.NewPCG(cfg.Seed, stream("init")))
	if cfg.Init == "he" {
		base.initHe(initRng)
	} else {
		base.initPyTorch(initRng)
	}
	tr := newTrainer(base, []Task{tasks["digits"]}, cfg.BaseLR, cfg.Momentum, cfg.BatchSize)
	samples := make([]sample, cfg.TrainImages)
	for i := range samples {
		samples[i] = sample{img: int32(i)}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, stream(Base)))
	for e := 0; e < cfg.BaseEpochs; e++ {
		tr.epoch(train, samples, rng)
		logf("zoo: base epoch %d/%d: loss %.4f (%.1fs)", e+1, cfg.BaseEpochs, tr.meanLoss(), time.Since(start).Seconds())
	}
	nets := map[string]*Net{Base: base}
	exps := cfg.models()
	out := make([]*Net, len(exps))
	errs := make([]error, len(exps))
	var wg sync.WaitGroup
	for i, e := range exps {
		wg.Go(func() {
			net := base.clone()
			tr := newTrainer(net, e.tasks, cfg.ExpertLR, cfg.Momentum, cfg.BatchSize)
			var s []sample
			for t := range e.tasks {
				for img := 0; img < cfg.TrainImages; img++ {
					s = append(s, sample{img: int32(img), task: int32(t)})
				}
			}
			rng := rand.New(rand.NewPCG(cfg.Seed, stream(e.name)))
			for ep := 0; ep < cfg.ExpertEpochs; ep++ {
				tr.epoch(train, s, rng)
				loss := tr.meanLoss()
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					errs[i] = fmt.Errorf("zoo: expert %s diverged (loss %g); lower ExpertLR", e.name, loss)
					return
				}
				logf("zoo: %s epoch %d/%d: loss %.4f (%.1fs)", e.name, ep+1, cfg.ExpertEpochs, loss, time.Since(start).Seconds())
			}
			out[i] = net
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, e := range exps {
		nets[e.name] = out[i]
	}
	for _, m := range z.Models {
		info := &ModelInfo{Role: m, Seed: cfg.Seed, Hash: cfg.Hash()}
		if m == Base {
			info.Tasks = []string{"digits"}
		}
		for _, e := range exps {
			if e.name == m {
				for _, t := range e.tasks {
					info.Tasks = append(info.Tasks, t.Name)
				}
			}
		}
		if err := WriteFolder(filepath.Join(dir, m), nets[m], info); err != nil {
			return err
		}
	}
	manifest, _ := json.MarshalIndent(struct {
		Format int      `json:"format"`
		Hash   string   `json:"hash"`
		Config Config   `json:"config"`
		Models []string `json:"models"`
	}{formatVersion, cfg.Hash(), cfg, z.Models}, "", "  ")
	if err := writeFileSync(filepath.Join(dir, "zoo.json"), append(manifest, '\n')); err != nil {
		return err
	}
	sum, err := checksumDir(dir, z.Models)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, ChecksumName), []byte(sum+"\n")); err != nil {
		return err
	}
	logf("zoo: built %s in %.1fs", z.Dir, time.Since(start).Seconds())
	return nil
}

// WriteFolder writes net as a Hugging Face-style model folder: config.json
// and model.safetensors (float32, tensors layers.<i>.weight as out×in and
// layers.<i>.bias). dir must not exist yet.
func WriteFolder(dir string, net *Net, info *ModelInfo) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	cfg := ModelConfig{
		Architectures:   []string{"EvomergeMLP"},
		ModelType:       ModelType,
		NumHiddenLayers: net.Layers(),
		LayerSizes:      net.Sizes(),
		HiddenAct:       "relu",
		TorchDType:      "float32",
		Zoo:             info,
	}
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, ConfigName), append(cj, '\n')); err != nil {
		return err
	}
	var specs []st.Spec
	for l := 0; l < net.Layers(); l++ {
		in, out := net.sizes[l], net.sizes[l+1]
		specs = append(specs, st.Spec{Name: WeightName(l), DType: st.F32, Shape: []int{out, in}},
			st.Spec{Name: BiasName(l), DType: st.F32, Shape: []int{out}})
	}
	p := filepath.Join(dir, st.SingleName)
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := st.NewWriter(f, specs, map[string]string{"format": "pt"})
	if err != nil {
		return err
	}
	for l := 0; l < net.Layers(); l++ {
		wt, b := net.Layer(l)
		if err := w.WriteFloat32(WeightName(l), wt); err != nil {
			return err
		}
		if err := w.WriteFloat32(BiasName(l), b); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return f.Close()
}

// writeFileAtomic writes data beside path and renames it into place, so a
// concurrent reader sees the whole file or none.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// initKey keeps the hash of the default initialisation what it was before
// Init existed, so caches of default zoos stay valid.
func initKey(init string) string {
	if init == "pytorch" {
		return ""
	}
	return init
}

// TestConfig is the zoo the tests of this module use: seed 1 with a rot90
// distractor, the configuration of the published figures. With quick set
// (for the race detector, which slows training about tenfold) it trains on
// 6,000 images for 2 base epochs instead: the same code paths in a few
// seconds, with weaker experts.
func TestConfig(quick bool) Config {
	c := Config{Seed: 1, Distractors: []string{"rot90"}}
	if quick {
		c.TrainImages, c.BaseEpochs = 6000, 2
	}
	return c
}

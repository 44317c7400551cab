package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"

	st "github.com/evomerge/evomerge/objectives/merge/safetensors"
)

// Source is one model's weights as a merge reads them: from files on disk
// (Checkpoint) or from memory (Model). Implementations must be safe for
// concurrent reads.
type Source interface {
	// Names lists the float tensors in sorted order.
	Names() []string
	// Shape is the named tensor's shape.
	Shape(name string) ([]int, bool)
	// Read copies the named tensor, widened to float32, into dst.
	Read(name string, dst []float32) error
	// NumLayers is the number of transformer layers (0 if none).
	NumLayers() int
	// DType is the dtype the weights are stored in; with no recipe dtype
	// the merge computes in it.
	DType() st.DType
}

// tensorDTyper is implemented by sources whose tensors may differ in dtype
// (a bf16 checkpoint with float32 norms); without it every tensor has the
// source's DType.
type tensorDTyper interface {
	TensorDType(name string) st.DType
}

// tensorDType is the dtype the named tensor is stored in.
func tensorDType(s Source, name string) st.DType {
	if d, ok := s.(tensorDTyper); ok {
		if dt := d.TensorDType(name); dt != "" {
			return dt
		}
	}
	return s.DType()
}

// viewer is implemented by in-memory sources: View returns the tensor's data
// without copying. Callers must not modify it.
type viewer interface {
	View(name string) ([]float32, bool)
}

// Tensor is a dense row-major float32 tensor. DType is the dtype its
// values represent (and a merge output's stored dtype); empty means the
// model's dtype.
type Tensor struct {
	Shape []int
	Data  []float32
	DType st.DType
}

// Model is a model held in memory as float32 tensors, for merging many
// recipes without touching disk. It is read-only once built.
type Model struct {
	tensors   map[string]*Tensor
	names     []string
	numLayers int
	dtype     st.DType
}

var _ Source = (*Model)(nil)

// NewModel builds an in-memory model. numLayers <= 0 infers the layer count
// from the tensor names. The tensors are not copied: do not modify them
// afterwards. dtype is the dtype the values represent (st.F32 for plain
// float32 models); a merge without a recipe dtype computes in it.
func NewModel(tensors map[string]Tensor, numLayers int, dtype st.DType) (*Model, error) {
	m := &Model{tensors: map[string]*Tensor{}, dtype: dtype}
	if !dtype.IsFloat() {
		return nil, fmt.Errorf("model: dtype %q is not a float type", dtype)
	}
	for name, t := range tensors {
		if numel(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("model: tensor %q: shape %v needs %d values, has %d", name, t.Shape, numel(t.Shape), len(t.Data))
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("model: tensor %q: negative dimension in %v", name, t.Shape)
			}
		}
		if t.DType != "" && !t.DType.IsFloat() {
			return nil, fmt.Errorf("model: tensor %q: dtype %q is not a float type", name, t.DType)
		}
		m.tensors[name] = &Tensor{Shape: slices.Clone(t.Shape), Data: t.Data, DType: t.DType}
		m.names = append(m.names, name)
	}
	sort.Strings(m.names)
	m.numLayers = numLayers
	if numLayers <= 0 {
		m.numLayers = layersFromNames(m.names)
	} else if n := layersFromNames(m.names); n > numLayers {
		return nil, fmt.Errorf("model: tensor names reach layer %d but numLayers is %d", n-1, numLayers)
	}
	return m, nil
}

// LoadModel reads a Hugging Face model folder fully into memory.
func LoadModel(dir string) (*Model, error) {
	c, err := OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ts := map[string]Tensor{}
	for _, name := range c.Names() {
		shape, _ := c.Shape(name)
		data := make([]float32, numel(shape))
		if err := c.Read(name, data); err != nil {
			return nil, err
		}
		ts[name] = Tensor{Shape: shape, Data: data, DType: c.TensorDType(name)}
	}
	return NewModel(ts, c.NumLayers(), c.DType())
}

func (m *Model) Names() []string { return m.names }
func (m *Model) NumLayers() int  { return m.numLayers }
func (m *Model) DType() st.DType { return m.dtype }

// TensorDType is the named tensor's dtype (the model's unless set).
func (m *Model) TensorDType(name string) st.DType {
	if t, ok := m.tensors[name]; ok && t.DType != "" {
		return t.DType
	}
	return m.dtype
}

func (m *Model) Shape(name string) ([]int, bool) {
	t, ok := m.tensors[name]
	if !ok {
		return nil, false
	}
	return t.Shape, true
}

func (m *Model) Read(name string, dst []float32) error {
	t, ok := m.tensors[name]
	if !ok {
		return fmt.Errorf("model: no tensor %q", name)
	}
	if len(dst) != len(t.Data) {
		return fmt.Errorf("model: tensor %q has %d values, buffer %d", name, len(t.Data), len(dst))
	}
	copy(dst, t.Data)
	return nil
}

func (m *Model) View(name string) ([]float32, bool) {
	t, ok := m.tensors[name]
	if !ok {
		return nil, false
	}
	return t.Data, true
}

// Checkpoint is a model folder on disk (config.json plus safetensors),
// read one tensor at a time so models larger than RAM can be merged.
type Checkpoint struct {
	dir       string
	ck        *st.Checkpoint
	names     []string
	numLayers int
}

var _ Source = (*Checkpoint)(nil)

// OpenCheckpoint opens a model folder. The layer count comes from
// config.json (num_hidden_layers or a usual synonym) or else the tensor names.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	ck, err := st.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{dir: dir, ck: ck}
	for _, name := range ck.Names() {
		ti, _ := ck.Tensor(name)
		if !ti.DType.IsFloat() {
			ck.Close()
			return nil, fmt.Errorf("model %s: tensor %q has dtype %s; only float tensors can be merged", dir, name, ti.DType)
		}
		c.names = append(c.names, name)
	}
	fromNames := layersFromNames(c.names)
	n, err := layersFromConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		ck.Close()
		return nil, err
	}
	if n == 0 {
		n = fromNames
	} else if fromNames > n {
		ck.Close()
		return nil, fmt.Errorf("model %s: tensor names reach layer %d but config.json says %d layers", dir, fromNames-1, n)
	}
	c.numLayers = n
	return c, nil
}

func (c *Checkpoint) Close() error    { return c.ck.Close() }
func (c *Checkpoint) Dir() string     { return c.dir }
func (c *Checkpoint) Names() []string { return c.names }
func (c *Checkpoint) NumLayers() int  { return c.numLayers }
func (c *Checkpoint) DType() st.DType { return c.ck.MainDType() }

// TensorDType is the dtype the named tensor is stored in.
func (c *Checkpoint) TensorDType(name string) st.DType {
	t, _ := c.ck.Tensor(name)
	return t.DType
}

func (c *Checkpoint) Shape(name string) ([]int, bool) {
	t, ok := c.ck.Tensor(name)
	return t.Shape, ok
}

func (c *Checkpoint) Read(name string, dst []float32) error { return c.ck.ReadFloat32(name, dst) }

// Bytes returns the named tensor's stored bytes from the file's memory
// mapping, or nil (see safetensors.File.Bytes).
func (c *Checkpoint) Bytes(name string) []byte { return c.ck.Bytes(name) }

// ReadBytes copies stored bytes of the named tensor.
func (c *Checkpoint) ReadBytes(name string, off int64, dst []byte) error {
	return c.ck.ReadBytes(name, off, dst)
}

var _ rawSource = (*Checkpoint)(nil)

// layerKeys are the config.json keys (and synonyms) for the layer count.
var layerKeys = []string{"num_hidden_layers", "n_layer", "num_layers", "n_layers"}

func layersFromConfig(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return 0, fmt.Errorf("%s: not valid JSON: %v", path, err)
	}
	for _, scope := range []map[string]any{cfg, asMap(cfg["text_config"])} {
		for _, k := range layerKeys {
			if v, ok := scope[k].(float64); ok {
				if v < 0 || v != float64(int(v)) {
					return 0, fmt.Errorf("%s: %s = %v is not a layer count", path, k, v)
				}
				return int(v), nil
			}
		}
	}
	return 0, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// layerRe finds the layer index in names like model.layers.3.mlp.up_proj,
// transformer.h.3.attn or blocks.3.norm: no per-architecture tables.
var layerRe = regexp.MustCompile(`(?:^|\.)(?:layers|h|blocks)\.(\d+)(?:\.|$)`)

// layerIndex returns the layer number in name and the position of its
// digits, or -1.
func layerIndex(name string) (idx, start, end int) {
	m := layerRe.FindStringSubmatchIndex(name)
	if m == nil {
		return -1, 0, 0
	}
	n, err := strconv.Atoi(name[m[2]:m[3]])
	if err != nil || n > 1<<20 {
		return -1, 0, 0
	}
	return n, m[2], m[3]
}

// withLayer replaces the layer number in name.
func withLayer(name string, layer int) string {
	_, s, e := layerIndex(name)
	return name[:s] + strconv.Itoa(layer) + name[e:]
}

func layersFromNames(names []string) int {
	n := 0
	for _, name := range names {
		if i, _, _ := layerIndex(name); i >= 0 {
			n = max(n, i+1)
		}
	}
	return n
}

package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexName is the file that maps tensor names to shards in a sharded
// Hugging Face checkpoint.
const IndexName = "model.safetensors.index.json"

// SingleName is the file name of an unsharded checkpoint.
const SingleName = "model.safetensors"

// Checkpoint is a Hugging Face model folder's weights: one model.safetensors
// or shards listed in model.safetensors.index.json. It is safe for
// concurrent reads.
type Checkpoint struct {
	Dir    string
	files  []*File
	where  map[string]int
	names  []string
	dtypes map[DType]int
}

// Index is the JSON layout of model.safetensors.index.json.
type Index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenCheckpoint opens the weights in dir, preferring the shard index when
// both it and a single file exist (as transformers does).
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, where: map[string]int{}, dtypes: map[DType]int{}}
	idxPath := filepath.Join(dir, IndexName)
	raw, err := os.ReadFile(idxPath)
	switch {
	case err == nil:
		if err := c.openSharded(idxPath, raw); err != nil {
			c.Close()
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
		f, err := Open(filepath.Join(dir, SingleName))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("model %s: neither %s nor %s found", dir, SingleName, IndexName)
			}
			return nil, err
		}
		c.files = []*File{f}
		for _, t := range f.Header().Tensors {
			c.where[t.Name] = 0
		}
	default:
		return nil, err
	}
	for name, fi := range c.where {
		c.names = append(c.names, name)
		t, _ := c.files[fi].Tensor(name)
		c.dtypes[t.DType]++
	}
	sort.Strings(c.names)
	return c, nil
}

func (c *Checkpoint) openSharded(idxPath string, raw []byte) error {
	var idx Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("%s: not valid JSON: %v", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("%s: weight_map is empty or missing", idxPath)
	}
	shards := map[string]int{}
	var shardNames []string
	for _, shard := range idx.WeightMap {
		if _, ok := shards[shard]; ok {
			continue
		}
		if shard == "" || shard != filepath.Base(shard) || strings.HasPrefix(shard, ".") {
			return fmt.Errorf("%s: shard name %q must be a plain file name in the model folder", idxPath, shard)
		}
		shards[shard] = -1
		shardNames = append(shardNames, shard)
	}
	sort.Strings(shardNames)
	for _, shard := range shardNames {
		f, err := Open(filepath.Join(c.Dir, shard))
		if err != nil {
			return fmt.Errorf("%s: %w", idxPath, err)
		}
		shards[shard] = len(c.files)
		c.files = append(c.files, f)
	}
	for name, shard := range idx.WeightMap {
		fi := shards[shard]
		if _, ok := c.files[fi].Tensor(name); !ok {
			return fmt.Errorf("%s: tensor %q is mapped to %s, which does not contain it", idxPath, name, shard)
		}
		c.where[name] = fi
	}
	return nil
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Names lists the tensor names in sorted order.
func (c *Checkpoint) Names() []string { return c.names }

// Tensor describes the named tensor.
func (c *Checkpoint) Tensor(name string) (TensorInfo, bool) {
	fi, ok := c.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return c.files[fi].Tensor(name)
}

// MainDType is the most common dtype among the checkpoint's tensors.
func (c *Checkpoint) MainDType() DType {
	var best DType
	for d, n := range c.dtypes {
		if n > c.dtypes[best] || (n == c.dtypes[best] && d < best) {
			best = d
		}
	}
	return best
}

// ReadFloat32 reads the named tensor into dst (see File.ReadFloat32).
func (c *Checkpoint) ReadFloat32(name string, dst []float32) error {
	fi, ok := c.where[name]
	if !ok {
		return fmt.Errorf("model %s: no tensor %q", c.Dir, name)
	}
	return c.files[fi].ReadFloat32(name, dst)
}

// Bytes returns the named tensor's stored bytes from its shard's memory
// mapping, or nil (see File.Bytes).
func (c *Checkpoint) Bytes(name string) []byte {
	fi, ok := c.where[name]
	if !ok {
		return nil
	}
	return c.files[fi].Bytes(name)
}

// ReadBytes copies stored bytes of the named tensor (see File.ReadBytes).
func (c *Checkpoint) ReadBytes(name string, off int64, dst []byte) error {
	fi, ok := c.where[name]
	if !ok {
		return fmt.Errorf("model %s: no tensor %q", c.Dir, name)
	}
	return c.files[fi].ReadBytes(name, off, dst)
}

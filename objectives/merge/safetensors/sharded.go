package safetensors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ShardedWriter writes a checkpoint into a folder, splitting the tensors into
// shards of at most MaxShardBytes (a tensor larger than that gets a shard of
// its own) and writing model.safetensors.index.json when there is more than
// one shard, with the names transformers expects
// (model-00001-of-00003.safetensors).
type ShardedWriter struct {
	dir    string
	shards [][]Spec
	files  []string
	cur    int
	pos    int
	f      *os.File
	w      *Writer
	total  int64
}

// NewShardedWriter plans the shards for specs (written in that order).
// maxShardBytes <= 0 means a single file.
func NewShardedWriter(dir string, specs []Spec, maxShardBytes int64) (*ShardedWriter, error) {
	sw := &ShardedWriter{dir: dir, cur: -1}
	var size int64
	for _, s := range specs {
		b := s.bytes()
		sw.total += b
		if len(sw.shards) == 0 || (maxShardBytes > 0 && size > 0 && size+b > maxShardBytes) {
			sw.shards = append(sw.shards, nil)
			size = 0
		}
		sw.shards[len(sw.shards)-1] = append(sw.shards[len(sw.shards)-1], s)
		size += b
	}
	if len(sw.shards) == 0 {
		return nil, fmt.Errorf("safetensors: no tensors to write")
	}
	for i := range sw.shards {
		name := SingleName
		if len(sw.shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(sw.shards))
		}
		sw.files = append(sw.files, name)
	}
	return sw, nil
}

// WriteFloat32 writes the next tensor (in spec order).
func (sw *ShardedWriter) WriteFloat32(name string, data []float32) error {
	if sw.w == nil || sw.pos == len(sw.shards[sw.cur]) {
		if err := sw.nextShard(); err != nil {
			return err
		}
	}
	if err := sw.w.WriteFloat32(name, data); err != nil {
		return err
	}
	sw.pos++
	return nil
}

func (sw *ShardedWriter) nextShard() error {
	if err := sw.closeShard(); err != nil {
		return err
	}
	sw.cur++
	if sw.cur >= len(sw.shards) {
		return fmt.Errorf("safetensors: more tensors written than planned")
	}
	f, err := os.Create(filepath.Join(sw.dir, sw.files[sw.cur]))
	if err != nil {
		return err
	}
	sw.f = f
	sw.pos = 0
	sw.w, err = NewWriter(f, sw.shards[sw.cur], map[string]string{"format": "pt"})
	return err
}

func (sw *ShardedWriter) closeShard() error {
	if sw.f == nil {
		return nil
	}
	err := sw.w.Close()
	if cerr := sw.f.Close(); err == nil {
		err = cerr
	}
	sw.f, sw.w = nil, nil
	return err
}

// Close finishes the last shard and writes the index. It fails if any
// planned tensor was not written.
func (sw *ShardedWriter) Close() error {
	if sw.cur != len(sw.shards)-1 || (sw.w != nil && sw.pos != len(sw.shards[sw.cur])) {
		sw.closeShard()
		return fmt.Errorf("safetensors: not every planned tensor was written")
	}
	if err := sw.closeShard(); err != nil {
		return err
	}
	if len(sw.shards) == 1 {
		return nil
	}
	idx := Index{Metadata: map[string]any{"total_size": sw.total}, WeightMap: map[string]string{}}
	for i, sh := range sw.shards {
		for _, s := range sh {
			idx.WeightMap[s.Name] = sw.files[i]
		}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(sw.dir, IndexName), append(b, '\n'), 0o644)
}

// Files lists the shard file names in order.
func (sw *ShardedWriter) Files() []string { return sw.files }

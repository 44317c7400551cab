package safetensors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"
)

// littleEndian: float32 values can be written as stored bytes in place only
// on a little-endian machine (safetensors is little-endian).
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

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
	var err error
	sw.shards, sw.files, sw.total, err = planShards(specs, maxShardBytes)
	if err != nil {
		return nil, err
	}
	return sw, nil
}

// planShards splits specs (in order) into shards of at most maxShardBytes
// (a tensor larger than that gets a shard of its own; <= 0: one file) and
// names them as transformers expects (model-00001-of-00003.safetensors).
func planShards(specs []Spec, maxShardBytes int64) (shards [][]Spec, files []string, total int64, err error) {
	var size int64
	for _, s := range specs {
		b := s.bytes()
		total += b
		if len(shards) == 0 || (maxShardBytes > 0 && size > 0 && size+b > maxShardBytes) {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], s)
		size += b
	}
	if len(shards) == 0 {
		return nil, nil, 0, fmt.Errorf("safetensors: no tensors to write")
	}
	for i := range shards {
		name := SingleName
		if len(shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
		files = append(files, name)
	}
	return shards, files, total, nil
}

// writeIndex writes model.safetensors.index.json when there are shards.
func writeIndex(dir string, shards [][]Spec, files []string, total int64) error {
	if len(shards) == 1 {
		return nil
	}
	idx := Index{Metadata: map[string]any{"total_size": total}, WeightMap: map[string]string{}}
	for i, sh := range shards {
		for _, s := range sh {
			idx.WeightMap[s.Name] = files[i]
		}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, IndexName), append(b, '\n'), 0o644)
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
	return writeIndex(sw.dir, sw.shards, sw.files, sw.total)
}

// Files lists the shard file names in order.
func (sw *ShardedWriter) Files() []string { return sw.files }

// Layout is a checkpoint folder written in any order: each shard's header is
// written and its size fixed when it is created, so tensors, and parts of
// them, can be written concurrently at their final offsets (WriteAt), with
// large positional writes and no second copy of the data in memory.
type Layout struct {
	dir     string
	shards  [][]Spec
	files   []string
	total   int64
	fds     []*os.File
	specs   []Spec
	file    []int   // spec index → shard
	start   []int64 // spec index → absolute offset of its data in the shard
	written []atomic.Int64
}

// CreateLayout creates the shard files in dir for specs (laid out in that
// order, split as NewShardedWriter splits them) with their headers written
// and their final sizes set.
func CreateLayout(dir string, specs []Spec, maxShardBytes int64) (*Layout, error) {
	l := &Layout{dir: dir, specs: specs, written: make([]atomic.Int64, len(specs))}
	var err error
	l.shards, l.files, l.total, err = planShards(specs, maxShardBytes)
	if err != nil {
		return nil, err
	}
	for si, sh := range l.shards {
		hdr, err := encodeHeader(sh, map[string]string{"format": "pt"})
		if err != nil {
			l.Abort()
			return nil, err
		}
		f, err := os.Create(filepath.Join(dir, l.files[si]))
		if err != nil {
			l.Abort()
			return nil, err
		}
		l.fds = append(l.fds, f)
		size := int64(len(hdr))
		for _, s := range sh {
			l.file = append(l.file, si)
			l.start = append(l.start, size)
			size += s.bytes()
		}
		if _, err := f.WriteAt(hdr, 0); err != nil {
			l.Abort()
			return nil, err
		}
		if err := f.Truncate(size); err != nil {
			l.Abort()
			return nil, err
		}
	}
	return l, nil
}

// WriteAt encodes data as tensor i's elements from elem on, in the tensor's
// dtype, and writes them in place. buf is scratch space for the encoded
// bytes, grown as needed and returned for reuse. Safe for concurrent use on
// disjoint ranges.
func (l *Layout) WriteAt(i, elem int, data []float32, buf []byte) ([]byte, error) {
	s := l.specs[i]
	size := int64(s.DType.Size())
	if elem < 0 || int64(elem+len(data))*size > s.bytes() {
		return buf, fmt.Errorf("safetensors: tensor %q: elements [%d,%d) outside its shape %v", s.Name, elem, elem+len(data), s.Shape)
	}
	out := buf[:0]
	if s.DType == F32 && littleEndian && len(data) > 0 {
		// Stored float32 is the in-memory layout: write it without a copy.
		out = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	} else {
		buf = Encode(buf[:0], s.DType, data)
		out = buf
	}
	if _, err := l.fds[l.file[i]].WriteAt(out, l.start[i]+int64(elem)*size); err != nil {
		return buf, fmt.Errorf("safetensors: writing tensor %q: %w", s.Name, err)
	}
	l.written[i].Add(int64(len(out)))
	return buf, nil
}

// Close checks that every tensor was written in full, closes the shards and
// writes the index.
func (l *Layout) Close() error {
	for i, s := range l.specs {
		if got := l.written[i].Load(); got != s.bytes() {
			l.Abort()
			return fmt.Errorf("safetensors: tensor %q: %d of %d bytes written", s.Name, got, s.bytes())
		}
	}
	var first error
	for _, f := range l.fds {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	l.fds = nil
	if first != nil {
		return first
	}
	return writeIndex(l.dir, l.shards, l.files, l.total)
}

// Abort closes the shards without checking them (the caller removes them).
func (l *Layout) Abort() {
	for _, f := range l.fds {
		f.Close()
	}
	l.fds = nil
}

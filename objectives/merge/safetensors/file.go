package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// File is an open safetensors file. Its methods are safe for concurrent use:
// tensor data is read with ReadAt and nothing is cached.
type File struct {
	path   string
	f      *os.File
	header *Header
	byName map[string]int
	mapped []byte // the whole file, read-only, or nil
}

// Open opens and validates the safetensors file at path. Only the header is
// read; tensor data is read on demand.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: file too short (%d bytes) for the 8-byte header length", path, st.Size())
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize || int64(n) > st.Size()-8 {
		f.Close()
		_, err := ParseHeader(lenBuf[:], st.Size(), path)
		return nil, err
	}
	buf := make([]byte, 8+n)
	copy(buf, lenBuf[:])
	if _, err := io.ReadFull(f, buf[8:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: reading header: %v", path, err)
	}
	h, err := ParseHeader(buf, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf := &File{path: path, f: f, header: h, byName: make(map[string]int, len(h.Tensors))}
	for i, t := range h.Tensors {
		sf.byName[t.Name] = i
	}
	// A failed mapping is not an error: tensors are then read with ReadAt.
	sf.mapped, _ = mapFile(f, st.Size())
	return sf, nil
}

// Close unmaps and closes the file. Slices from Bytes must not be used
// afterwards.
func (f *File) Close() error {
	if f.mapped != nil {
		unmapFile(f.mapped)
		f.mapped = nil
	}
	return f.f.Close()
}

// Bytes returns the named tensor's stored bytes from the file's read-only
// memory mapping, without copying, or nil when the file is not mapped (then
// use ReadBytes). The bytes are shared with the page cache: do not modify
// them, and note that a file truncated by another process while mapped
// faults on access (callers read it under debug.SetPanicOnFault).
func (f *File) Bytes(name string) []byte {
	t, ok := f.Tensor(name)
	if !ok || f.mapped == nil {
		return nil
	}
	return f.mapped[f.header.DataStart+t.Begin : f.header.DataStart+t.End]
}

// ReadBytes copies len(dst) stored bytes of the named tensor, from byte
// off of its data, into dst.
func (f *File) ReadBytes(name string, off int64, dst []byte) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("safetensors %s: no tensor %q", f.path, name)
	}
	if off < 0 || off+int64(len(dst)) > t.End-t.Begin {
		return fmt.Errorf("safetensors %s: tensor %q: bytes [%d,%d) outside its %d bytes", f.path, name, off, off+int64(len(dst)), t.End-t.Begin)
	}
	if _, err := f.f.ReadAt(dst, f.header.DataStart+t.Begin+off); err != nil {
		return fmt.Errorf("safetensors %s: reading tensor %q: %v", f.path, name, err)
	}
	return nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Header is the validated header. Callers must not modify it.
func (f *File) Header() *Header { return f.header }

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.header.Tensors[i], true
}

// readChunk is the size of the byte buffer used to stream a tensor, so that
// reading a tensor as float32 never holds a second full-size copy.
const readChunk = 1 << 20

// ReadFloat32 reads the named float tensor into dst, which must have exactly
// NumElements entries, widening F16/BF16 exactly and narrowing F64 to the
// nearest float32.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("safetensors %s: no tensor %q", f.path, name)
	}
	if !t.DType.IsFloat() {
		return fmt.Errorf("safetensors %s: tensor %q has dtype %s, not a float type", f.path, name, t.DType)
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("safetensors %s: tensor %q has %d elements, buffer holds %d", f.path, name, t.NumElements(), len(dst))
	}
	size := int64(t.DType.Size())
	bufLen := int64(readChunk)
	if total := t.End - t.Begin; total < bufLen {
		bufLen = total
	}
	buf := make([]byte, bufLen)
	off := f.header.DataStart + t.Begin
	for done := int64(0); done < t.End-t.Begin; {
		n := min(bufLen, t.End-t.Begin-done)
		if _, err := f.f.ReadAt(buf[:n], off+done); err != nil {
			return fmt.Errorf("safetensors %s: reading tensor %q: %v", f.path, name, err)
		}
		decode(t.DType, buf[:n], dst[done/size:(done+n)/size])
		done += n
	}
	return nil
}

// Decode converts little-endian stored bytes of dtype d into float32s
// (len(dst) values).
func Decode(d DType, src []byte, dst []float32) { decode(d, src, dst) }

// decode converts little-endian raw bytes of dtype d into float32s.
func decode(d DType, src []byte, dst []float32) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
}

// Encode appends the little-endian bytes of src converted to dtype d
// (rounding to nearest, ties to even) to dst.
func Encode(dst []byte, d DType, src []float32) []byte {
	switch d {
	case F32:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case F16:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(v))
		}
	case BF16:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint16(dst, F32ToBF16(v))
		}
	case F64:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(v)))
		}
	}
	return dst
}

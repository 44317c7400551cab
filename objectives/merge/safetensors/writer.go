package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Spec names a tensor to be written: its dtype and shape fix its byte size,
// so the whole header can be written before any data.
type Spec struct {
	Name  string
	DType DType
	Shape []int
}

func (s Spec) bytes() int64 {
	n := int64(s.DType.Size())
	for _, d := range s.Shape {
		n *= int64(d)
	}
	return n
}

// Writer streams one safetensors file: the header first, then each tensor's
// data in the order the specs were given. Holding only one tensor at a time
// keeps memory bounded by the largest tensor.
type Writer struct {
	w     *bufio.Writer
	specs []Spec
	next  int
	buf   []byte
}

// NewWriter writes the header for specs (in that order) to w and returns a
// Writer expecting the tensors' data in the same order.
func NewWriter(w io.Writer, specs []Spec, metadata map[string]string) (*Writer, error) {
	hdr, err := encodeHeader(specs, metadata)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(hdr); err != nil {
		return nil, err
	}
	return &Writer{w: bw, specs: specs}, nil
}

// encodeHeader returns the 8-byte length and the JSON header (padded with
// spaces to a multiple of 8 bytes) for tensors laid out in spec order.
func encodeHeader(specs []Spec, metadata map[string]string) ([]byte, error) {
	seen := map[string]bool{}
	var sb strings.Builder
	sb.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeJSONString(&sb, k)
			sb.WriteByte(':')
			writeJSONString(&sb, metadata[k])
		}
		sb.WriteByte('}')
	}
	var off int64
	for i, s := range specs {
		if !s.DType.IsFloat() {
			return nil, fmt.Errorf("safetensors: tensor %q: cannot write dtype %q", s.Name, s.DType)
		}
		if seen[s.Name] || s.Name == "__metadata__" {
			return nil, fmt.Errorf("safetensors: tensor %q given twice", s.Name)
		}
		seen[s.Name] = true
		if i > 0 || len(metadata) > 0 {
			sb.WriteByte(',')
		}
		writeJSONString(&sb, s.Name)
		sb.WriteString(`:{"dtype":"`)
		sb.WriteString(string(s.DType))
		sb.WriteString(`","shape":[`)
		for j, d := range s.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in %v", s.Name, s.Shape)
			}
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(d))
		}
		end := off + s.bytes()
		fmt.Fprintf(&sb, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	sb.WriteByte('}')
	for sb.Len()%8 != 0 {
		sb.WriteByte(' ')
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+sb.Len()), uint64(sb.Len()))
	return append(out, sb.String()...), nil
}

func writeJSONString(sb *strings.Builder, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	sb.Write(b)
}

// WriteFloat32 writes the next tensor, which must be the one named, converting
// data to the spec's dtype.
func (w *Writer) WriteFloat32(name string, data []float32) error {
	if w.next >= len(w.specs) {
		return fmt.Errorf("safetensors: tensor %q written after the last spec", name)
	}
	s := w.specs[w.next]
	if s.Name != name {
		return fmt.Errorf("safetensors: tensor %q written out of order (expected %q)", name, s.Name)
	}
	if int64(len(data))*int64(s.DType.Size()) != s.bytes() {
		return fmt.Errorf("safetensors: tensor %q has %d elements, shape %v needs %d", name, len(data), s.Shape, s.bytes()/int64(s.DType.Size()))
	}
	const chunk = 1 << 16
	for i := 0; i < len(data); i += chunk {
		w.buf = Encode(w.buf[:0], s.DType, data[i:min(i+chunk, len(data))])
		if _, err := w.w.Write(w.buf); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	w.next++
	return nil
}

// Close flushes buffered data and checks that every tensor was written. It
// does not close the underlying writer.
func (w *Writer) Close() error {
	if w.next != len(w.specs) {
		return fmt.Errorf("safetensors: only %d of %d tensors written", w.next, len(w.specs))
	}
	return w.w.Flush()
}

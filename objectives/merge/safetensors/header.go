package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// MaxHeaderSize is the largest JSON header accepted, the same 100 MB limit the
// reference implementation uses: it stops a corrupt length field from causing
// a huge allocation.
const MaxHeaderSize = 100_000_000

// TensorInfo describes one tensor of a file. Begin and End are byte offsets
// relative to the start of the data section (just after the header).
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Header is a parsed, validated safetensors header.
type Header struct {
	// Tensors in file order (by Begin offset).
	Tensors  []TensorInfo
	Metadata map[string]string
	// DataStart is the absolute file offset of the data section.
	DataStart int64
}

// ParseHeader parses and validates the header at the start of a file of
// fileSize bytes whose first bytes are prefix (at least 8 + header length
// bytes, or the whole file). name is used only in error messages.
//
// It checks: the length field against MaxHeaderSize and the file size, that
// the JSON is one well-formed object with unique keys, every dtype is known,
// every dimension is non-negative, shape × dtype size equals the byte range,
// and the byte ranges tile the data section exactly: no overlap, no gap, no
// trailing bytes.
func ParseHeader(prefix []byte, fileSize int64, name string) (*Header, error) {
	if len(prefix) < 8 || fileSize < 8 {
		return nil, fmt.Errorf("safetensors %s: file too short (%d bytes) for the 8-byte header length", name, fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors %s: header length %d exceeds the %d-byte limit", name, n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 {
		return nil, fmt.Errorf("safetensors %s: header length %d runs past the end of the %d-byte file", name, n, fileSize)
	}
	if uint64(len(prefix)-8) < n {
		return nil, fmt.Errorf("safetensors %s: only %d of %d header bytes available", name, len(prefix)-8, n)
	}
	h := &Header{DataStart: 8 + int64(n)}
	dataLen := fileSize - h.DataStart
	if err := h.parseJSON(prefix[8:8+n], name); err != nil {
		return nil, err
	}
	for i := range h.Tensors {
		if err := h.Tensors[i].check(dataLen); err != nil {
			return nil, fmt.Errorf("safetensors %s: tensor %q: %w", name, h.Tensors[i].Name, err)
		}
	}
	sort.SliceStable(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	// The byte ranges must tile the data section exactly, as the reference
	// implementation (huggingface/safetensors, Metadata::validate) requires:
	// a gap or trailing bytes mean a truncated, padded or tampered file.
	var end int64
	for i, cur := range h.Tensors {
		if i > 0 && cur.Begin < end {
			prev := h.Tensors[i-1]
			return nil, fmt.Errorf("safetensors %s: tensor %q bytes [%d,%d) overlap tensor %q bytes [%d,%d)",
				name, cur.Name, cur.Begin, cur.End, prev.Name, prev.Begin, prev.End)
		}
		if cur.Begin != end {
			return nil, fmt.Errorf("safetensors %s: tensor %q starts at data byte %d, leaving a gap of %d bytes after byte %d (tensors must be contiguous)",
				name, cur.Name, cur.Begin, cur.Begin-end, end)
		}
		end = cur.End
	}
	if end != dataLen {
		return nil, fmt.Errorf("safetensors %s: %d trailing bytes after the last tensor (the data section has %d bytes, the tensors use %d)",
			name, dataLen-end, dataLen, end)
	}
	return h, nil
}

type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseJSON walks the top-level object token by token, because
// encoding/json silently keeps the last of two duplicate keys and a
// duplicated tensor name must be an error.
func (h *Header) parseJSON(js []byte, name string) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("safetensors %s: header is not valid JSON: %v", name, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("safetensors %s: header is not a JSON object", name)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors %s: header is not valid JSON: %v", name, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("safetensors %s: header is not valid JSON", name)
		}
		if seen[key] {
			return fmt.Errorf("safetensors %s: tensor %q appears twice in the header", name, key)
		}
		seen[key] = true
		if key == "__metadata__" {
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return fmt.Errorf("safetensors %s: __metadata__ must map strings to strings: %v", name, err)
			}
			h.Metadata = md
			continue
		}
		var e rawEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("safetensors %s: tensor %q: bad entry: %v", name, key, err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return fmt.Errorf("safetensors %s: tensor %q: entry needs dtype, shape and data_offsets", name, key)
		}
		if len(*e.DataOffsets) != 2 {
			return fmt.Errorf("safetensors %s: tensor %q: data_offsets must have 2 entries, has %d", name, key, len(*e.DataOffsets))
		}
		ti := TensorInfo{Name: key, DType: DType(*e.DType), Begin: (*e.DataOffsets)[0], End: (*e.DataOffsets)[1]}
		for _, d := range *e.Shape {
			if d < 0 || d > math.MaxInt32*int64(1024) {
				return fmt.Errorf("safetensors %s: tensor %q: bad dimension %d in shape %v", name, key, d, *e.Shape)
			}
			ti.Shape = append(ti.Shape, int(d))
		}
		if ti.Shape == nil {
			ti.Shape = []int{}
		}
		h.Tensors = append(h.Tensors, ti)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("safetensors %s: header is not valid JSON: %v", name, err)
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("safetensors %s: trailing data after the header's JSON object", name)
	}
	// Only spaces may pad the header after the object (the format pads to 8 bytes).
	rest := js[dec.InputOffset():]
	if len(bytes.Trim(rest, " \t\r\n\x00")) != 0 {
		return fmt.Errorf("safetensors %s: trailing data after the header's JSON object", name)
	}
	return nil
}

var errOverflow = errors.New("shape is too large")

func (t TensorInfo) check(dataLen int64) error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	if t.Begin < 0 || t.End < t.Begin {
		return fmt.Errorf("bad data_offsets [%d,%d]", t.Begin, t.End)
	}
	if t.End > dataLen {
		return fmt.Errorf("data_offsets [%d,%d] run past the %d bytes of data in the file", t.Begin, t.End, dataLen)
	}
	n := int64(size)
	for _, d := range t.Shape {
		if d != 0 && n > math.MaxInt64/int64(d) {
			return errOverflow
		}
		n *= int64(d)
	}
	if n != t.End-t.Begin {
		return fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d,%d] hold %d", t.Shape, t.DType, n, t.Begin, t.End, t.End-t.Begin)
	}
	return nil
}

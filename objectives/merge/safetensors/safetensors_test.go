package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHalfRoundTripAllPatterns(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("f16 %#04x -> %v -> %#04x", h, f, got)
		}
		b := BF16ToF32(uint16(h))
		if math.IsNaN(float64(b)) {
			continue
		}
		if got := F32ToBF16(b); got != uint16(h) {
			t.Fatalf("bf16 %#04x -> %v -> %#04x", h, b, got)
		}
	}
}

func TestRoundingTiesToEven(t *testing.T) {
	cases := []struct {
		in       float32
		bf16, fp float32
	}{
		{0.3, 0.30078125, 0.300048828125},
		{1 + 1.0/512, 1, 1.001953125}, // bf16: exactly half way between 1 and 1+2⁻⁷ → even (1)
		{1 + 3.0/512, 1 + 1.0/128, 1.005859375},
		{65520, 65536, float32(math.Inf(1))},                          // fp16 overflows at 65520
		{float32(math.Ldexp(1, -25)), float32(math.Ldexp(1, -25)), 0}, // half of the smallest subnormal: ties to 0
		{float32(math.Ldexp(1.5, -25)), float32(math.Ldexp(1.5, -25)), float32(math.Ldexp(1, -24))},
	}
	for _, c := range cases {
		if got := RoundBF16(c.in); got != c.bf16 {
			t.Errorf("RoundBF16(%v) = %v, want %v", c.in, got, c.bf16)
		}
		if got := RoundF16(c.in); got != c.fp {
			t.Errorf("RoundF16(%v) = %v, want %v", c.in, got, c.fp)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	specs := []Spec{
		{Name: "a.weight", DType: F32, Shape: []int{2, 3}},
		{Name: "b", DType: BF16, Shape: []int{4}},
		{Name: "c", DType: F16, Shape: []int{1, 2}},
		{Name: "d", DType: F64, Shape: []int{}},
		{Name: "empty", DType: F32, Shape: []int{0, 5}},
	}
	data := map[string][]float32{
		"a.weight": {1, -2, 3.5, 0, 1e-3, 7},
		"b":        {0.30078125, -1, 2, 1024},
		"c":        {0.5, -65504},
		"d":        {3.25},
		"empty":    {},
	}
	sw, err := NewShardedWriter(dir, specs, 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if err := sw.WriteFloat32(s.Name, data[s.Name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sw.Files()) < 2 {
		t.Fatalf("expected several shards, got %v", sw.Files())
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range specs {
		ti, ok := c.Tensor(s.Name)
		if !ok || ti.DType != s.DType {
			t.Fatalf("tensor %s: %+v", s.Name, ti)
		}
		got := make([]float32, ti.NumElements())
		if err := c.ReadFloat32(s.Name, got); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != data[s.Name][i] {
				t.Errorf("%s[%d] = %v, want %v", s.Name, i, got[i], data[s.Name][i])
			}
		}
	}
}

// header builds a file image from a JSON header and n data bytes.
func header(js string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	b = append(b, js...)
	return append(b, make([]byte, n)...)
}

func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name, js string
		data     int
		want     string
	}{
		{"not json", `{"a":`, 0, "bad entry"},
		{"not json 2", `{"a"x`, 0, "bad entry"},
		{"not json 3", `{"a":{}`, 0, "needs dtype"},
		{"array", `[1]`, 0, "not a JSON object"},
		{"dup", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `"a" appears twice`},
		{"dtype", `{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, 4, `tensor "a": unknown dtype`},
		{"size", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8, `tensor "a": shape [2] of F32 needs 8 bytes`},
		{"past end", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4, `tensor "a": data_offsets [0,8] run past`},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `overlap`},
		{"negative", `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4, `bad dimension`},
		{"missing", `{"a":{"dtype":"F32","shape":[1]}}`, 4, `needs dtype, shape and data_offsets`},
		{"offsets", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4, `bad data_offsets`},
		{"trailing", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}x`, 4, `trailing`},
		// The reference implementation (huggingface/safetensors, Metadata::validate)
		// requires the byte ranges to tile the data section exactly.
		{"gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12, `gap`},
		{"leading gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `gap`},
		{"trailing bytes", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 5, `trailing bytes`},
		{"no tensors but data", `{"__metadata__":{"k":"v"}}`, 3, `trailing bytes`},
	}
	for _, c := range cases {
		img := header(c.js, c.data)
		_, err := ParseHeader(img, int64(len(img)), "f.safetensors")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.safetensors") {
			t.Errorf("%s: err = %v, want it to mention %q and the file", c.name, err, c.want)
		}
	}
	big := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	if _, err := ParseHeader(big, 1<<40, "big"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("huge header: %v", err)
	}
	if _, err := ParseHeader([]byte{1, 2}, 2, "tiny"); err == nil {
		t.Error("short file accepted")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map":{"a":"../x.safetensors"}}`), 0o644)
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "plain file name") {
		t.Errorf("escaping shard: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "s.safetensors"), header(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), 0o644)
	os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map":{"a":"s.safetensors"}}`), 0o644)
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, []Spec{{Name: "x", DType: BF16, Shape: []int{2, 2}}, {Name: "y", DType: F32, Shape: []int{3}}}, map[string]string{"format": "pt"})
	w.WriteFloat32("x", []float32{1, 2, 3, 4})
	w.WriteFloat32("y", []float32{1, 2, 3})
	w.Close()
	f.Add(buf.Bytes())
	f.Add(header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8))
	f.Add(header(`{"__metadata__":{"k":"v"}}`, 0))
	f.Add(header(`{"a":{"dtype":"F64","shape":[1e30],"data_offsets":[0,8]}}`, 8))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, img []byte) {
		h, err := ParseHeader(img, int64(len(img)), "fuzz")
		if err != nil {
			return
		}
		// Every accepted tensor's bytes must lie inside the image, in order,
		// tiling the data section with no gap and nothing after it.
		var prevEnd int64
		for _, ti := range h.Tensors {
			if ti.Begin != prevEnd || h.DataStart+ti.End > int64(len(img)) {
				t.Fatalf("accepted bad range %+v", ti)
			}
			if int64(ti.NumElements()*ti.DType.Size()) != ti.End-ti.Begin {
				t.Fatalf("accepted inconsistent size %+v", ti)
			}
			prevEnd = ti.End
		}
		if h.DataStart+prevEnd != int64(len(img)) {
			t.Fatalf("accepted %d trailing bytes", int64(len(img))-h.DataStart-prevEnd)
		}
	})
}

// A Layout takes tensors, and parts of them, in any order and gives the
// same files a sequential writer gives; an unfinished tensor fails Close.
func TestLayoutAnyOrder(t *testing.T) {
	specs := []Spec{
		{Name: "a", DType: F32, Shape: []int{3, 4}},
		{Name: "b", DType: BF16, Shape: []int{5}},
		{Name: "c", DType: F16, Shape: []int{2, 3}},
	}
	data := map[string][]float32{
		"a": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		"b": {0.5, -1, 2, 3, 4},
		"c": {1, 2, 3, -4, 5, 6},
	}
	for _, shard := range []int64{0, 40} {
		dir := t.TempDir()
		l, err := CreateLayout(dir, specs, shard)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for i := len(specs) - 1; i >= 0; i-- {
			d := data[specs[i].Name]
			for lo := (len(d) - 1) / 2 * 2; lo >= 0; lo -= 2 {
				if buf, err = l.WriteAt(i, lo, d[lo:min(lo+2, len(d))], buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			got := make([]float32, len(data[s.Name]))
			if err := c.ReadFloat32(s.Name, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != data[s.Name][i] {
					t.Errorf("shard %d: %s[%d] = %v, want %v", shard, s.Name, i, got[i], data[s.Name][i])
				}
			}
			if b := c.Bytes(s.Name); b != nil {
				dec := make([]float32, len(got))
				Decode(s.DType, b, dec)
				for i := range dec {
					if dec[i] != got[i] {
						t.Errorf("mapped bytes of %s differ at %d", s.Name, i)
					}
				}
			}
		}
		c.Close()
	}
	l, err := CreateLayout(t.TempDir(), specs, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.WriteAt(0, 0, data["a"], nil)
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("incomplete layout closed: %v", err)
	}
}

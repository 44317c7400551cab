// Package safetensors reads and writes the safetensors checkpoint format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header naming every tensor's dtype, shape and byte
// range, then the raw little-endian tensor bytes.
//
// The reader never trusts a header: every field is checked before any byte
// range is used, so a corrupt or hostile file gives an error naming the file
// and the tensor instead of a panic or a huge allocation. Tensor data is read
// on demand with ReadAt, so a model larger than RAM can be streamed one tensor
// at a time.
package safetensors

import (
	"fmt"
	"math"
)

// DType is a safetensors dtype string such as "F32" or "BF16".
type DType string

// The floating-point dtypes this package converts to and from float32.
// Other standard dtypes are accepted by the header parser (so a checkpoint
// holding, say, an I64 buffer still opens) but cannot be read as floats.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F64  DType = "F64"
)

// dtypeSizes lists every dtype of the safetensors specification with its
// element size in bytes.
var dtypeSizes = map[DType]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, F16: 2, BF16: 2,
	"I32": 4, "U32": 4, F32: 4,
	F64: 8, "I64": 8, "U64": 8,
}

// Size is the element size in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// IsFloat reports whether d is one of the float dtypes this package converts.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// ParseDType accepts the safetensors spellings (F32, BF16, ...) and the
// torch/mergekit spellings (float32, bfloat16, float16, float64, fp16, bf16).
func ParseDType(s string) (DType, error) {
	switch s {
	case "F32", "float32", "float", "fp32":
		return F32, nil
	case "F16", "float16", "half", "fp16":
		return F16, nil
	case "BF16", "bfloat16", "bf16":
		return BF16, nil
	case "F64", "float64", "double", "fp64":
		return F64, nil
	}
	return "", fmt.Errorf("unsupported dtype %q (want float32, float16, bfloat16 or float64)", s)
}

// TorchName is the name config.json uses for d ("bfloat16", ...).
func (d DType) TorchName() string {
	switch d {
	case F32:
		return "float32"
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	case F64:
		return "float64"
	}
	return string(d)
}

// BF16ToF32 widens a bfloat16 bit pattern; the conversion is exact.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds to the nearest bfloat16, ties to even, as torch does.
// NaN stays NaN (quiet) with its sign.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens an IEEE half bit pattern; the conversion is exact.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0:
		v := float32(man) * (1.0 / (1 << 24)) // subnormal: man·2⁻²⁴, exact
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// F32ToF16 rounds to the nearest IEEE half, ties to even, overflowing to ±Inf
// and producing subnormals exactly as a hardware conversion does.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 112
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if exp == 0 {
			return sign // float32 subnormals are far below half's range
		}
		m := man | 0x800000
		shift := uint32(14 - e)
		if shift > 24 {
			return sign
		}
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(r)
}

// RoundBF16 rounds f to the nearest bfloat16 value, returned as float32.
func RoundBF16(f float32) float32 { return BF16ToF32(F32ToBF16(f)) }

// RoundF16 rounds f to the nearest half value, returned as float32.
func RoundF16(f float32) float32 { return F16ToF32(F32ToF16(f)) }

// RoundSlice rounds every element of x to dtype d in place. It is a no-op
// for F32 and F64 (which this package holds as float32 once loaded).
func RoundSlice(d DType, x []float32) {
	switch d {
	case BF16:
		for i, v := range x {
			x[i] = RoundBF16(v)
		}
	case F16:
		for i, v := range x {
			x[i] = RoundF16(v)
		}
	}
}

// Round rounds one value to dtype d.
func Round(d DType, v float32) float32 {
	switch d {
	case BF16:
		return RoundBF16(v)
	case F16:
		return RoundF16(v)
	}
	return v
}

//go:build amd64 && !purego

#include "textflag.h"

// AVX2 kernels of the float32 DARE merge; see dare.go for what they compute
// and dare_amd64.go for their Go declarations. Eight elements per step;
// each mask byte holds the keep bits of one step (bit j: element j).

// dareBits is lane j's bit, 1<<j, to expand a mask byte into lane masks.
DATA dareBits<>+0(SB)/4, $1
DATA dareBits<>+4(SB)/4, $2
DATA dareBits<>+8(SB)/4, $4
DATA dareBits<>+12(SB)/4, $8
DATA dareBits<>+16(SB)/4, $16
DATA dareBits<>+20(SB)/4, $32
DATA dareBits<>+24(SB)/4, $64
DATA dareBits<>+28(SB)/4, $128
GLOBL dareBits<>(SB), RODATA|NOPTR, $32

// MASK expands the mask byte at (ptr) into lane masks in y (x its low
// half), using tmp.
#define MASK(ptr, tmp, x, y) \
	MOVBLZX (ptr), tmp; \
	VMOVD tmp, x; \
	VPBROADCASTD x, y; \
	VPAND Y15, y, y; \
	VPCMPEQD Y15, y, y

// func dareSumsAVX2(x, b *float32, words *uint64, nw int, all, kept *float64)
TEXT ·dareSumsAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ b+8(FP), BX
	MOVQ words+16(FP), DI
	MOVQ nw+24(FP), CX
	MOVQ all+32(FP), R8
	MOVQ kept+40(FP), R9
	VMOVSD (R8), X10
	VMOVSD (R9), X11
	VMOVDQU dareBits<>(SB), Y15
	VPCMPEQD Y13, Y13, Y13
	VPSRLD $1, Y13, Y13 // 0x7fffffff: |v|

sumsWord:
	TESTQ CX, CX
	JZ sumsDone
	VXORPS Y0, Y0, Y0 // lanes of Σ|d|
	VXORPS Y1, Y1, Y1 // lanes of Σ kept |d|
	MOVQ $8, DX

sumsStep:
	VMOVUPS (SI), Y2
	VSUBPS (BX), Y2, Y2
	VANDPS Y13, Y2, Y2
	VADDPS Y2, Y0, Y0
	MASK(DI, AX, X3, Y3)
	VANDPS Y3, Y2, Y2
	VADDPS Y2, Y1, Y1
	ADDQ $32, SI
	ADDQ $32, BX
	INCQ DI
	DECQ DX
	JNZ sumsStep

	// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then added in float64.
	VEXTRACTF128 $1, Y0, X4
	VADDPS X4, X0, X0
	VMOVHLPS X0, X0, X4
	VADDPS X4, X0, X0
	VMOVSHDUP X0, X4
	VADDSS X4, X0, X0
	VCVTSS2SD X0, X0, X0
	VADDSD X0, X10, X10
	VEXTRACTF128 $1, Y1, X4
	VADDPS X4, X1, X1
	VMOVHLPS X1, X1, X4
	VADDPS X4, X1, X1
	VMOVSHDUP X1, X4
	VADDSS X4, X1, X1
	VCVTSS2SD X1, X1, X1
	VADDSD X1, X11, X11
	DECQ CX
	JMP sumsWord

sumsDone:
	VMOVSD X10, (R8)
	VMOVSD X11, (R9)
	VZEROUPPER
	RET

// dareConsts offsets: w[i] at 32·i, f[i] at 96 + 32·i, scale at 192.

// TERM computes one model's kept, rescaled, weighted delta into y from its
// input at (xp), the base in Y0 and its mask byte at (mp), using Y5.
#define TERM(xp, mp, woff, foff, y) \
	VMOVUPS (xp), y; \
	VSUBPS Y0, y, y; \
	VMULPS foff(R13), y, y; \
	VMULPS woff(R13), y, y; \
	MASK(mp, CX, X5, Y5); \
	VPAND Y5, y, y

// AGREE sets am to all ones where term y is nonzero with the consensus sign
// (sign bits in Y4), clears y elsewhere, and sets am to 1 or 0 per lane.
#define AGREE(y, am) \
	VPXOR Y4, y, am; \
	VPCMPGTD Y12, am, am; \
	VPAND am, y, y; \
	VPSRLD $31, am, am

// func dareTies2AVX2(out, b, x0, x1 *float32, m0, m1 *uint64, n int, c *dareConsts)
TEXT ·dareTies2AVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ b+8(FP), BX
	MOVQ x0+16(FP), SI
	MOVQ x1+24(FP), DX
	MOVQ m0+32(FP), R9
	MOVQ m1+40(FP), R10
	MOVQ n+48(FP), AX
	MOVQ c+56(FP), R13
	SHRQ $3, AX
	VMOVDQU dareBits<>(SB), Y15
	VMOVUPS 192(R13), Y14
	VPCMPEQD Y13, Y13, Y13
	VPSLLD $31, Y13, Y13 // sign bit
	VPXOR Y12, Y12, Y12

ties2Step:
	TESTQ AX, AX
	JZ ties2Done
	VMOVUPS (BX), Y0
	TERM(SI, R9, 0, 96, Y1)
	TERM(DX, R10, 32, 128, Y2)
	VADDPS Y2, Y1, Y4
	VPAND Y13, Y4, Y4
	AGREE(Y1, Y5)
	AGREE(Y2, Y6)
	VADDPS Y2, Y1, Y1
	VPSLLD $1, Y6, Y6
	VPOR Y6, Y5, Y5
	VPERMPS Y14, Y5, Y5
	VMULPS Y5, Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, BX
	ADDQ $32, SI
	ADDQ $32, DX
	INCQ R9
	INCQ R10
	DECQ AX
	JMP ties2Step

ties2Done:
	VZEROUPPER
	RET

// func dareTies3AVX2(out, b, x0, x1, x2 *float32, m0, m1, m2 *uint64, n int, c *dareConsts)
TEXT ·dareTies3AVX2(SB), NOSPLIT, $0-80
	MOVQ out+0(FP), DI
	MOVQ b+8(FP), BX
	MOVQ x0+16(FP), SI
	MOVQ x1+24(FP), DX
	MOVQ x2+32(FP), R8
	MOVQ m0+40(FP), R9
	MOVQ m1+48(FP), R10
	MOVQ m2+56(FP), R11
	MOVQ n+64(FP), AX
	MOVQ c+72(FP), R13
	SHRQ $3, AX
	VMOVDQU dareBits<>(SB), Y15
	VMOVUPS 192(R13), Y14
	VPCMPEQD Y13, Y13, Y13
	VPSLLD $31, Y13, Y13
	VPXOR Y12, Y12, Y12

ties3Step:
	TESTQ AX, AX
	JZ ties3Done
	VMOVUPS (BX), Y0
	TERM(SI, R9, 0, 96, Y1)
	TERM(DX, R10, 32, 128, Y2)
	TERM(R8, R11, 64, 160, Y3)
	VADDPS Y2, Y1, Y4
	VADDPS Y3, Y4, Y4
	VPAND Y13, Y4, Y4
	AGREE(Y1, Y5)
	AGREE(Y2, Y6)
	VPSLLD $1, Y6, Y6
	VPOR Y6, Y5, Y5
	AGREE(Y3, Y6)
	VPSLLD $2, Y6, Y6
	VPOR Y6, Y5, Y5
	VADDPS Y2, Y1, Y1
	VADDPS Y3, Y1, Y1
	VPERMPS Y14, Y5, Y5
	VMULPS Y5, Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, BX
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	INCQ R9
	INCQ R10
	INCQ R11
	DECQ AX
	JMP ties3Step

ties3Done:
	VZEROUPPER
	RET

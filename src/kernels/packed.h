/* packed.h - internal: interleaved ("packed") weight layout for the int8 GEMM.
 *
 * Q4_0, Q4_1, Q5_0, Q8_0, Q4_K and Q6_K weight matrices whose row count is a multiple of 16 are
 * repacked at model load (as llama.cpp repacks Q4_0 for its AVX2/AVX-512 GEMM)
 * into panels of 16 rows. Panel p, block b (32 inputs) is one record:
 *
 *   uint16_t d[16]        the 16 rows' fp16 scales
 *   Q4_0: uint8_t q[4][16][4]   q[v][i] = row i's native qs[4v .. 4v+3]: low
 *                               nibbles are inputs 4v.., high nibbles 16+4v..
 *   Q8_0: uint8_t q[8][16][4]   q[s][i] = row i's qs[4s .. 4s+3] + 128
 *   Q4_1: uint16_t m[16] (the rows' fp16 minimums), then q as for Q4_0
 *   Q5_0: uint64_t h[8] (vector v's fifth bits, one per byte of the 64-byte nibble
 *         vector: v < 4 low nibbles, v >= 4 high nibbles), then q as for Q4_0
 *
 * Q4_K records cover a super-block (256 inputs) of 16 rows:
 *   uint16_t d[16], dmin[16]     the rows' fp16 super-block scales
 *   uint8_t sc[8][16], m[8][16]  sub-block s's 6-bit scale and min per row
 *   uint8_t q[4][8][16][4]       q[j][k][i] = row i's qs[32j + 4k .. 4k+3]: low nibbles
 *                                are sub-block 2j, high nibbles sub-block 2j+1
 * Q6_K records (super-block of 16 rows, the native size):
 *   uint16_t d[16]; int8_t sc[16][16]   sub-block s's scale per row
 *   uint8_t ql[2][2][8][16][4]          ql[j][h][k][i] = row i's ql[64j + 32h + 4k ..]: low
 *                                       nibbles are chunk h of half j, high nibbles chunk h+2
 *   uint8_t qh[2][8][16][4]             qh[j][k][i] = row i's qh[32j + 4k ..]
 * Both take Q8_K activations (per 256 inputs, as llama.cpp's k-quant dot products).
 *
 * so one 64-byte load holds four bytes for each of 16 rows and one VNNI
 * instruction (vpdpbusd, unsigned x signed) multiplies them by four activation
 * bytes broadcast to all rows. Weights are made unsigned (Q4_0: nibble 0..15,
 * Q8_0: q + 128); the offset is removed with the activation block's sum.
 *
 * On CPUs with AMX-INT8, Q4_0 and Q8_0 batches of 16+ tokens take these records as the
 * second operand of TDPBSUD (packed_avx512.c), with the same result bit for bit.
 *
 * Numerics (the packed path's reference, ks_packed_gemm_ref), Q4_0 and Q8_0: per output,
 *   acc = 0; for each block b: acc = fmaf((float)isum_b, d_w[b] * d_x[b], acc)
 * with isum_b the exact integer dot product of the block. This is the order of
 * llama.cpp's repacked Q4_0 kernels (ggml_gemm_q4_0_8x8_q8_0 on x86), so Q4_0
 * results equal llama.cpp's default (repack on) run.
 * Q4_1 keeps llama.cpp's own (unrepacked) order, ggml_vec_dot_q4_1_q8_1 on AVX2:
 * eight lanes, lane l = inputs 4l..4l+3 of each block,
 *   acc[l] = fmaf(d_w * d_x, (float)isum_l, acc[l]); summs = summs + m_w * s_x (not fused)
 *   out = ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7)) + summs
 * so SmolLM2's Q4_1 logits stay bit-identical to llama.cpp's.
 * Q5_0 keeps ggml_vec_dot_q5_0_q8_0's eight lanes the same way (no minimums); the codes
 * are made unsigned (0..31) and each lane starts from -16 x its four activation bytes' sum.
 * Q4_K keeps ggml_vec_dot_q4_K_q8_K's AVX2 order (matmul_ref.c spells it out): eight integer
 * lanes per super-block (lane k = inputs 4k..4k+3 of each 32-input chunk, times the chunk's
 * scale), each folded by one fma into its float accumulator, four lanes for the mins, so the
 * packed result equals the row kernel's bit for bit (and that equals llama.cpp's generation).
 * Q6_K likewise keeps ggml_vec_dot_q6_K_q8_K's eight lanes (minus 32 x the scaled bsums).
 * Every SIMD variant is bit-identical to the reference (tests/unit/test_kernels.c). */
#ifndef KS_KERNELS_PACKED_H
#define KS_KERNELS_PACKED_H
#include "kernels/kernels.h"
#include "tensor/dtype.h"

#define KS_PACK_ROWS 16

/* Activation block for the packed path: Q8_0 values (as quantize_row_q8_0) with
 * the fp16-rounded scale widened to float and the sum of the 32 values. */
typedef struct ks_block_q8s {
    float d;
    int32_t s;   /* sum of qs */
    float sd;    /* fp16-rounded d * s, as block_q8_1.s (Q4_1) */
    int32_t pad;
    int8_t qs[32];
} ks_block_q8s;
_Static_assert(sizeof(ks_block_q8s) == 48, "q8s block");

/* bytes of one panel-block record for a packable weight type (0 if not packable) */
size_t ks_packed_record_bytes(uint32_t type);
/* inputs one record covers: 32, or 256 for Q4_K / Q6_K */
int64_t ks_packed_block(uint32_t type);
/* the activations the packed kernel takes: Q8_K blocks (k-quants) or ks_block_q8s (others) */
static inline bool ks_packed_act_q8_K(uint32_t type) { return type == KS_DTYPE_Q4_K || type == KS_DTYPE_Q6_K; }
/* quantizes n floats (n % 32 == 0) into n/32 ks_block_q8s */
void ks_quantize_act_q8s(const float *x, void *dst, int64_t n);

/* y[t * ldy + r] for r in [r0, r1) (multiples of 16) and t < n_tok.
 * x: n_tok rows of activations (n_in/32 ks_block_q8s, or n_in/256 Q8_K blocks for k-quants). */
typedef void (*ks_packed_gemm_fn)(uint32_t type, int64_t n_in, const void *packed, int64_t r0, int64_t r1,
                                  const void *x, int64_t n_tok, float *y, int64_t ldy);
void ks_packed_gemm_ref(uint32_t type, int64_t n_in, const void *packed, int64_t r0, int64_t r1, const void *x,
                        int64_t n_tok, float *y, int64_t ldy);
/* NULL when the CPU lacks AVX-512 VNNI (or the compiler cannot target it) */
ks_packed_gemm_fn ks_packed_gemm_avx512(void);
/* Q4_0 panels by vpmaddubsw (packed_avx2.c); NULL without AVX2+FMA+F16C */
ks_packed_gemm_fn ks_packed_gemm_avx2(void);
/* ks_quantize_act_q8s on AVX2, bit-identical (the reference when the CPU lacks AVX2) */
void ks_quantize_act_q8s_avx2(const float *x, void *dst, int64_t n);
/* The one choice of packed kernel per weight type on this CPU, made once: AVX-512 VNNI for every
 * packable type, else AVX2 for Q4_0 (as llama.cpp repacks Q4_0 on AVX2), else NULL (the weight
 * keeps its row layout and the row kernels of matmul_avx2.c / matmul_ref.c). */
ks_packed_gemm_fn ks_packed_gemm_for(uint32_t type);
/* the activation quantizer that goes with ks_packed_gemm_for(type) */
typedef void (*ks_packed_quant_fn)(const float *x, void *dst, int64_t n);
ks_packed_quant_fn ks_packed_quant_for(uint32_t type);
/* ks_quantize_act_q8s / ks_q8_K_from_float, bit-identical; only when ks_packed_gemm_avx512() is non-NULL */
void ks_quantize_act_q8s_avx512(const float *x, void *dst, int64_t n);
void ks_quantize_act_q8_K_avx512(const float *x, void *dst, int64_t n);
#endif

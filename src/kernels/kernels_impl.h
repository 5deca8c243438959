/* kernels_impl.h - internal: per-ISA kernel tables (one row per weight type). */
#ifndef KS_KERNELS_IMPL_H
#define KS_KERNELS_IMPL_H
#include <math.h>

#include "kernels/kernels.h"
#include "tensor/dtype.h"

extern const ks_matmul_traits ks_matmul_ref_table[KS_DTYPE_COUNT];
/* x rounded to nearest even as an 8-bit activation, as x86's convert-then-saturating-pack
 * does it: values beyond +-127 saturate; NaN and anything outside int32 (infinities) convert
 * to INT_MIN and so give -128. Only hostile weights get there; it keeps the C free of UB. */
static inline int8_t ks_round_q8(float x) {
    const float r = nearbyintf(x);
    if (!(r >= -2147483648.f && r < 2147483648.f)) return -128;
    return r > 127.f ? 127 : r < -128.f ? -128 : (int8_t)r;
}
void ks_quantize_act_q8_0(const float *x, void *dst, int64_t n);
void ks_quantize_act_q8_1(const float *x, void *dst, int64_t n);

/* Optional ISA tables: return NULL when the CPU or the compiler lacks the ISA. */
const ks_matmul_traits *ks_matmul_avx2_table(void);

/* F16 weights x f16-rounded activations in tinyBLAS order (gemm_f16.c): rows
 * [r0, r1) of w (w_stride elements apart), x: n_tok rows of n_in floats,
 * y[t * ldy + r]. n_in % 16 == 0. */
typedef void (*ks_gemm_f16_fn)(int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1,
                               const float *x, int64_t n_tok, float *y, int64_t ldy);
void ks_gemm_f16_ref(int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1, const float *x,
                     int64_t n_tok, float *y, int64_t ldy);
ks_gemm_f16_fn ks_gemm_f16_avx512(void); /* NULL without AVX-512F + F16C + FMA */

/* F16 weights x a prompt batch in FP32, each output one fused multiply-add chain
 * over the inputs in order (gemm_f16.c; not llama.cpp's order, as exact in FP32).
 * Activations packed by ks_f16p_pack_act: block b (tokens 32b..32b+31, zeros past
 * n_tok) at xp + b * n_in * 32, element [k * 32 + j] = f16-rounded x[32b + j][k].
 * The kernel has ks_gemm_f16_fn's signature with x = the packed blocks;
 * ks_gemm_f16p_ref takes row-major f16-rounded x, as ks_gemm_f16_ref. */
#define KS_F16P_NT 32
void ks_f16p_pack_act(const float *x, int64_t n_in, int64_t n_tok, int64_t b, float *xp);
void ks_gemm_f16p_ref(int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1, const float *x,
                      int64_t n_tok, float *y, int64_t ldy);
ks_gemm_f16_fn ks_gemm_f16p_avx512(void); /* NULL without AVX-512F + F16C + FMA; xp 64-byte aligned */

/* F16 (wtype KS_DTYPE_F16) or BF16 weights x bf16 activations by BF16 dot
 * products (gemm_bf16.c): rows [r0, r1) of w (w_stride elements apart), xb:
 * n_tok rows of n_in bf16 (ks_bf16_round_rows), y[t * ldy + r]; n_in % 32 == 0.
 * Each output sums input pairs in order, as the reference does. */
typedef void (*ks_gemm_bf16_fn)(uint32_t wtype, int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0,
                                int64_t r1, const uint16_t *xb, int64_t n_tok, float *y, int64_t ldy);
void ks_gemm_bf16_ref(uint32_t wtype, int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1,
                      const uint16_t *xb, int64_t n_tok, float *y, int64_t ldy);
ks_gemm_bf16_fn ks_gemm_bf16_avx512(void); /* NULL without AVX-512F/BW + AVX512-BF16 + F16C */
/* the same product on AMX tiles (TDPBF16PS) for 32-row panels and 16-token groups,
 * the rest by ks_gemm_bf16_avx512's tiles; NULL without AMX-BF16 (and that) */
ks_gemm_bf16_fn ks_gemm_bf16_amx(void);
/* x -> bf16 as VCVTNE2PS2BF16 rounds (subnormals to zero, nearest even): the kernel's
 * activation; ks_bf16_round_row is the scalar form */
void ks_bf16_round_rows(const float *x, uint16_t *y, int64_t n);
void ks_bf16_round_row(const float *x, uint16_t *y, int64_t n);
#endif

/* kernels_impl.h - internal: per-ISA kernel tables (one row per weight type). */
#ifndef KS_KERNELS_IMPL_H
#define KS_KERNELS_IMPL_H
#include "kernels/kernels.h"
#include "tensor/dtype.h"

extern const ks_matmul_traits ks_matmul_ref_table[KS_DTYPE_COUNT];
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
#endif

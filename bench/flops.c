/* flops.c - peak FP32 fused-multiply-add rate of this machine (the ceiling for
 * prompt processing with F16/F32 weights run as FP32 FMAs, as llama.cpp does and
 * Kestrel's --f16-exact): 12 independent 512-bit (or 256-bit) FMA chains per thread;
 * and, where the CPU has AVX512-BF16, the bf16 dot-product rate (vdpbf16ps: two
 * products per FP32 lane, what kernels/gemm_bf16.c runs F16 prompts on).
 * usage: flops ; prints GFLOP/s for 1 and all threads. */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f,fma"))) static float chains512(long iters) {
    __m512 a[12];
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    }
    for (int i = 1; i < 12; i++) a[0] = _mm512_add_ps(a[0], a[i]);
    return _mm512_reduce_add_ps(a[0]);
}
__attribute__((target("avx2,fma"))) static float chains256(long iters) {
    __m256 a[12];
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    }
    float out[8];
    for (int i = 1; i < 12; i++) a[0] = _mm256_add_ps(a[0], a[i]);
    _mm256_storeu_ps(out, a[0]);
    return out[0];
}
__attribute__((target("avx512f,avx512bf16"))) static float chains_bf16(long iters) {
    __m512 a[12];
    const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], b, c);
    }
    for (int i = 1; i < 12; i++) a[0] = _mm512_add_ps(a[0], a[i]);
    return _mm512_reduce_add_ps(a[0]);
}
static int has_bf16(void) { return __builtin_cpu_supports("avx512bf16"); }
static int lanes(void) { return __builtin_cpu_supports("avx512f") ? 16 : 8; }
static float chains(long iters) { return lanes() == 16 ? chains512(iters) : chains256(iters); }
#else
static int has_bf16(void) { return 0; }
static float chains_bf16(long iters) { return (float)iters; }
static int lanes(void) { return 1; }
static float chains(long iters) {
    float a[12] = {0};
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = a[i] * 1.0000001f + 1e-7f;
    return a[0];
}
#endif
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
int main(void) {
    const long iters = 100000000;
    const int max_t = omp_get_max_threads();
    for (int t = 1; t <= max_t; t = t == max_t ? t + 1 : (t * 2 > max_t ? max_t : t * 2)) {
        double best = 0;
        for (int rep = 0; rep < 3; rep++) {
            float sink = 0;
            const double t0 = now();
#pragma omp parallel num_threads(t) reduction(+ : sink)
            sink += chains(iters);
            const double g = 2.0 * t * (double)iters * 12 * lanes() / (now() - t0) / 1e9;
            if (g > best) best = g;
            if (sink == 1234.5f) printf(" ");
        }
        printf("%d thread%s: %.0f GFLOP/s (FP32 FMA, %d lanes)\n", t, t > 1 ? "s" : "", best, lanes());
        if (!has_bf16()) continue;
        best = 0;
        for (int rep = 0; rep < 3; rep++) {
            float sink = 0;
            const double t0 = now();
#pragma omp parallel num_threads(t) reduction(+ : sink)
            sink += chains_bf16(iters);
            /* each vdpbf16ps: 16 lanes x 2 products x (multiply + add) */
            const double g = 4.0 * t * (double)iters * 12 * 16 / (now() - t0) / 1e9;
            if (g > best) best = g;
            if (sink == 1234.5f) printf(" ");
        }
        printf("%d thread%s: %.0f GFLOP/s (bf16-dot, vdpbf16ps)\n", t, t > 1 ? "s" : "", best);
    }
    return 0;
}

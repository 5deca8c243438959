/* gemm.c - the trainer's one matrix product (blocks.h train_gemm) and transpose.
 *
 * C = A B with A read through two strides, so the three products of a linear layer need only
 * one kernel: forward x W^T (W transposed once into scratch), backward dx = dy W and
 * dW = dy^T x (A = dy read column-wise). Tiles of 6 rows x 16 columns of C (12 AVX2
 * accumulators, BLIS's Haswell shape) over blocks of KB rows of B, packed (16 columns x KB rows =
 * 16 KB, contiguous, stays in L1 while the tile loop walks down A). Each C element is summed over k in increasing
 * order, by one thread: results do not depend on the thread count.
 */
#include <string.h>

#include "base/cpu.h"
#include "train/blocks.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define MR 6
#define NR 16
#define KB 256

/* plain C tile: C[0..mr)[0..nr) += A(., k) B[k][.] for k < K */
static void tile_ref(int64_t mr, int64_t nr, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B,
                     int64_t ldb, float *C, int64_t ldc) {
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < mr; i++) {
            const float a = A[i * rsa + k * csa];
            for (int64_t j = 0; j < nr; j++) acc[i][j] += a * B[k * ldb + j];
        }
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) C[i * ldc + j] += acc[i][j];
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static void tile_avx2(int64_t K, const float *A, int64_t rsa, int64_t csa,
                                                           const float *B, int64_t ldb, float *C, int64_t ldc) {
    __m256 c[MR][2];
    for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const __m256 b0 = _mm256_loadu_ps(B + k * ldb), b1 = _mm256_loadu_ps(B + k * ldb + 8);
        const float *a = A + k * csa;
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i * rsa);
            c[i][0] = _mm256_fmadd_ps(ai, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(ai, b1, c[i][1]);
        }
    }
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(C + i * ldc, _mm256_add_ps(_mm256_loadu_ps(C + i * ldc), c[i][0]));
        _mm256_storeu_ps(C + i * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(C + i * ldc + 8), c[i][1]));
    }
}
#endif

static bool use_avx2(void) {
#ifdef HAVE_X86
    return ks_cpu_has(KS_CPU_AVX2) && ks_cpu_has(KS_CPU_FMA);
#else
    return false;
#endif
}

void train_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    if (!accumulate)
        for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    const bool avx2 = use_avx2();
    const int64_t n_jb = (N + NR - 1) / NR, n_ib = (M + MR - 1) / MR;
    /* one task = one column block of 16 over a run of up to IG row tiles; the block's KB x 16 panel
     * of B is copied to contiguous memory first (rows of B a power of two apart would all fall
     * in one L1 set) */
    const int64_t IG = 32, n_ig = (n_ib + IG - 1) / IG;
#pragma omp parallel for schedule(static) collapse(2) if (M * N * K > (1 << 20))
    for (int64_t jb = 0; jb < n_jb; jb++)
        for (int64_t ig = 0; ig < n_ig; ig++) {
            float panel[KB * NR] __attribute__((aligned(64)));
            const int64_t j0 = jb * NR, nr = N - j0 < NR ? N - j0 : NR;
            for (int64_t k0 = 0; k0 < K; k0 += KB) {
                const int64_t kb = K - k0 < KB ? K - k0 : KB;
                for (int64_t k = 0; k < kb; k++) {
                    memcpy(panel + k * NR, B + (k0 + k) * ldb + j0, (size_t)nr * sizeof(float));
                    for (int64_t j = nr; j < NR; j++) panel[k * NR + j] = 0.0f;
                }
                for (int64_t ib = ig * IG; ib < n_ib && ib < (ig + 1) * IG; ib++) {
                    const int64_t i0 = ib * MR, mr = M - i0 < MR ? M - i0 : MR;
                    const float *a = A + i0 * rsa + k0 * csa;
                    float *c = C + i0 * ldc + j0;
#ifdef HAVE_X86
                    if (avx2 && mr == MR && nr == NR) {
                        tile_avx2(kb, a, rsa, csa, panel, NR, c, ldc);
                        continue;
                    }
#endif
                    tile_ref(mr, nr, kb, a, rsa, csa, panel, NR, c, ldc);
                }
            }
        }
    (void)avx2;
}

void train_transpose(float *dst, const float *src, int64_t rows, int64_t cols) {
    const int64_t TB = 32;
#pragma omp parallel for schedule(static) collapse(2) if (rows * cols > 65536)
    for (int64_t r0 = 0; r0 < rows; r0 += TB)
        for (int64_t c0 = 0; c0 < cols; c0 += TB)
            for (int64_t r = r0; r < r0 + TB && r < rows; r++)
                for (int64_t c = c0; c < c0 + TB && c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
__attribute__((target("avx2,fma"))) static void axpy_avx2(float *y, float a, const float *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif

float train_dot(const float *a, const float *b, int64_t n) {
#ifdef HAVE_X86
    if (use_avx2()) return dot_avx2(a, b, n);
#endif
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void train_axpy(float *y, float a, const float *x, int64_t n) {
#ifdef HAVE_X86
    if (use_avx2()) {
        axpy_avx2(y, a, x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* ops.c - row operations (norms, softmax, activations, rope) with ggml's numerics.
 *
 * exp is ggml's vectorised approximation (ggml_v_expf, AVX-512 form: range
 * reduction by 2^n, degree-5 polynomial, max error ~1.5 ulp) evaluated lane by
 * lane with fused multiply-adds, and sums run in ggml's 16-lane order, so that
 * results track llama.cpp's CPU backend bit for bit where it matters (greedy
 * decoding near ties). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "base/cpu.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

/* j * 2^n for integral |n| <= 192 with one rounding (as AVX-512's scalef): two
 * exact power-of-two factors, each a normal float */
static inline float scale2(float j, int n) {
    const int n1 = n >> 1, n2 = n - n1;
    union { uint32_t u; float f; } p1 = {(uint32_t)(n1 + 127) << 23}, p2 = {(uint32_t)(n2 + 127) << 23};
    return j * p1.f * p2.f;
}

float ks_expf(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (!(fabsf(n) <= 192.0f)) return n <= 0.0f ? 0.0f : n > 0.0f ? INFINITY : n; /* NaN passes through */
    return scale2(j, (int)n);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KS_AVX2 __attribute__((target("avx2,fma")))
#define KS_AVX2_F16C __attribute__((target("avx2,fma,f16c")))

/* ks_expf on 8 lanes: the same operations lane by lane (bit-identical) */
KS_AVX2 static inline __m256 expf8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r), r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256i ni = _mm256_cvtps_epi32(_mm256_blendv_ps(n, _mm256_setzero_ps(), big));
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1), bias = _mm256_set1_epi32(127);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, p1), p2);
    const __m256 alt = _mm256_blendv_ps(_mm256_setzero_ps(), _mm256_set1_ps(INFINITY),
                                        _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ));
    return _mm256_blendv_ps(res, alt, big);
}

KS_AVX2 static int64_t swiglu_avx2(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    return i;
}

KS_AVX2 static int64_t exp_sub_avx2(float *x, float max, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(max))));
    return i;
}

/* attention probabilities: x *= scale, softmax, round to f16, the operations of
 * ks_softmax_f16's scalar form lane by lane (max is order-free; each 16-value
 * chunk's sum takes ks_reduce16's tree; chunk sums are added in double in order) */
KS_AVX2_F16C static void softmax_f16_avx2(float *x, int64_t n, float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sc);
        _mm256_storeu_ps(x + i, v);
        mx = _mm256_max_ps(v, mx); /* a NaN in v keeps mx, as the scalar comparison skips it */
    }
    float max = -INFINITY, lanes[8];
    _mm256_storeu_ps(lanes, mx);
    for (int l = 0; l < 8; l++) max = lanes[l] > max ? lanes[l] : max;
    for (; i < n; i++) {
        x[i] *= scale;
        max = x[i] > max ? x[i] : max;
    }
    const __m256 vmax = _mm256_set1_ps(max);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax)));
    for (; i < n; i++) x[i] = ks_expf(x[i] - max);
    double sum = 0.0;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m256 t8 = _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 8));
        const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4)); /* (0+2), (1+3) */
        sum += (double)_mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
    }
    if (i < n) {
        float lane[16] = {0};
        for (int64_t k = 0; i + k < n; k++) lane[k] = x[i + k];
        sum += (double)ks_reduce16(lane);
    }
    const float inv = (float)(1.0 / sum);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv),
                                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    for (; i < n; i++) x[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(x[i] * inv));
}

static bool have_avx2_fma(void) {
    static int state;
    if (!state) {
        state = ks_cpu_has(KS_CPU_AVX2) && ks_cpu_has(KS_CPU_FMA) ? 1 : -1;
    }
    return state > 0;
}
#else
static bool have_avx2_fma(void) { return false; }
static int64_t swiglu_avx2(float *out, const float *gate, const float *up, int64_t n) { return 0; }
static int64_t exp_sub_avx2(float *x, float max, int64_t n) { return 0; }
static void softmax_f16_avx2(float *x, int64_t n, float scale) {}
#endif

/* ggml_vec_dot_f16's order (llama.cpp's single-token matmuls): elements in steps
 * of 64, four accumulators of 16 fused-multiply-add lanes (element e -> acc
 * (e % 64) / 16, lane e % 16), combined (a0+a2, a1+a3, then the two), reduced
 * over 16 lanes, remaining elements added in double. b is read with a stride.
 * zero_padded: the caller's vector is conceptually padded with zeros to a
 * multiple of 64 (llama.cpp pads the KV length to 256), so every element goes
 * through the lanes. */
float ks_dot_f16_order_vec(const float *a, const uint16_t *b, int64_t stride, int64_t n, bool zero_padded) {
    float acc[4][16] = {{0}};
    const int64_t np = zero_padded ? n : n & ~(int64_t)63;
    for (int64_t e = 0; e < np; e++)
        acc[(e & 63) >> 4][e & 15] = fmaf(a[e], ks_fp16_to_fp32(b[e * stride]), acc[(e & 63) >> 4][e & 15]);
    for (int l = 0; l < 16; l++) acc[0][l] += acc[2][l], acc[1][l] += acc[3][l];
    for (int l = 0; l < 16; l++) acc[0][l] += acc[1][l];
    double sum = ks_reduce16(acc[0]);
    for (int64_t e = np; e < n; e++) sum += (double)(a[e] * ks_fp16_to_fp32(b[e * stride]));
    return (float)sum;
}

/* llama.cpp's tinyBLAS order (its matmuls of two or more tokens): one accumulator
 * of 16 fused-multiply-add lanes (element e -> lane e % 16), then reduce16. */
float ks_dot_f16_order_gemm(const float *a, const uint16_t *b, int64_t stride, int64_t n) {
    float lane[16] = {0};
    for (int64_t e = 0; e < n; e++) lane[e & 15] = fmaf(a[e], ks_fp16_to_fp32(b[e * stride]), lane[e & 15]);
    return ks_reduce16(lane);
}

float ks_reduce16(const float *l) {
    float t3[8], t6[4];
    for (int i = 0; i < 8; i++) t3[i] = l[i + 8] + l[i];
    for (int i = 0; i < 4; i++) t6[i] = t3[i + 4] + t3[i];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

void ks_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0; /* ggml_compute_forward_rms_norm sums in ggml_float (double) */
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]); /* float product, double sum */
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void ks_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = (float)(sum / n);
    double var = 0.0;
    for (int64_t i = 0; i < n; i++) var += (double)(x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / sqrtf((float)(var / n) + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * scale * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

void ks_softmax(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    for (int64_t i = have_avx2_fma() ? exp_sub_avx2(x, max, n) : 0; i < n; i++) x[i] = ks_expf(x[i] - max);
    double sum = 0.0; /* per 16-lane chunk: float reduction, then double accumulation */
    for (int64_t i = 0; i < n; i += 16) {
        float lane[16] = {0};
        for (int64_t k = 0; k < 16 && i + k < n; k++) lane[k] = x[i + k];
        sum += (double)ks_reduce16(lane);
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void ks_softmax_f16_ref(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] *= scale;
    ks_softmax(x, n);
    ks_fp16_round_row(x, x, n);
}

void ks_softmax_f16(float *x, int64_t n, float scale) {
    static int f16c; /* 0 unknown, 1 yes, -1 no (benign race: every thread finds the same) */
    if (!f16c) f16c = have_avx2_fma() && ks_cpu_has(KS_CPU_F16C) ? 1 : -1;
    if (f16c > 0) softmax_f16_avx2(x, n, scale);
    else ks_softmax_f16_ref(x, n, scale);
}

void ks_swiglu(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = have_avx2_fma() ? swiglu_avx2(out, gate, up, n) : 0; i < n; i++)
        out[i] = gate[i] / (1.0f + ks_expf(-gate[i])) * up[i];
}

/* ggml's GELU (GGML_GELU_FP16, its CPU default): 0 below -10, x above 10, else the
 * tanh form at x rounded to f16, read from a table of 65536 f16 results widened to
 * float; the table's entries are computed as ggml_gelu_f32 does (x(1 + a x^2), tanhf). */
static float gelu_table[65536];
static void gelu_table_init(void) {
    for (uint32_t i = 0; i < 65536; i++) {
        const float x = ks_fp16_to_fp32((uint16_t)i);
        const float g = 0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
        gelu_table[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(g));
    }
}

void ks_gelu_f16_table(float *out, const float *x, const float *up, int64_t n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gelu_table_init);
    uint16_t h[256];
    for (int64_t i0 = 0; i0 < n; i0 += 256) {
        const int64_t m = n - i0 < 256 ? n - i0 : 256;
        ks_fp32_to_fp16_row(x + i0, h, m); /* F16C where present: the same rounding */
        for (int64_t j = 0; j < m; j++) {
            const float v = x[i0 + j];
            const float y = v <= -10.0f ? 0.0f : v >= 10.0f ? v : gelu_table[h[j]];
            out[i0 + j] = up ? y * up[i0 + j] : y;
        }
    }
}

#define KS_ROPE_BODY                                                                  \
    const int64_t half = n_rot / 2;                                                   \
    for (int64_t i = 0; i < half; i++) {                                              \
        const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;          \
        const float x0 = x[a], x1 = x[b];                                             \
        x[a] = fmaf(x0, cos_t[i], -(x1 * sin_t[i]));                                  \
        x[b] = fmaf(x0, sin_t[i], x1 * cos_t[i]);                                     \
    }
#if defined(__x86_64__) && defined(__GNUC__)
/* the same operations with fmaf as one instruction instead of a libm call */
__attribute__((target("fma"))) static void rope_fma(float *x, int64_t n_rot, const float *cos_t, const float *sin_t,
                                                    bool neox) {
    KS_ROPE_BODY
}
#endif

void ks_rope(float *x, int64_t n_rot, const float *cos_t, const float *sin_t, bool neox) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2_fma()) {
        rope_fma(x, n_rot, cos_t, sin_t, neox);
        return;
    }
#endif
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float x0 = x[a], x1 = x[b];
        /* as GCC contracts ggml's x0*cos - x1*sin (first product fused) */
        x[a] = fmaf(x0, cos_t[i], -(x1 * sin_t[i]));
        x[b] = fmaf(x0, sin_t[i], x1 * cos_t[i]);
    }
}

float ks_dot_f32(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

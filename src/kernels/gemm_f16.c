/* gemm_f16.c - F16-weight products in llama.cpp's order for F16 weights.
 *
 * llama.cpp multiplies F16 weights through llamafile's tinyBLAS (AVX-512: 16
 * lanes): the activation is rounded to f16, input e goes to lane e % 16 with
 * one fused multiply-add per 16 inputs, and the 16 lanes are summed as
 * _mm512_reduce_add_ps does (ks_reduce16). That is ks_dot_f16_order_gemm, the
 * reference; the kernel below does the same FMAs lane for lane (bit-identical,
 * tests/unit/test_kernels.c) with a 4-row x 6-token register tile.
 *
 * For one token llama.cpp skips tinyBLAS (it needs n >= 2) and calls
 * ggml_vec_dot_f16: four 16-lane accumulators over 64-input steps, combined
 * a0 += a2, a1 += a3, a0 += a1, reduce16, leftovers added in double
 * (ks_dot_f16_order_vec); the one-token kernel follows that order.
 *
 * Blocking as in packed_avx512.c: row groups that fit L2, token tiles whose
 * activations stay in L1, weights read from DRAM once per call. For one token
 * six rows from six parts of the thread's range are read together, so the
 * weights arrive as six long sequential streams (bench/membw.c: one stream per
 * thread reads ~37 GB/s, four or more ~60). */
#include <stdlib.h>

#include "base/cpu.h"
#include "kernels/kernels_impl.h"
#include "tensor/dtype.h"

void ks_gemm_f16_ref(int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1, const float *x,
                     int64_t n_tok, float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = n_tok == 1 ? ks_dot_f16_order_vec(x, w + (size_t)r * w_stride, 1, n_in, false)
                                        : ks_dot_f16_order_gemm(x + t * n_in, w + (size_t)r * w_stride, 1, n_in);
}

/* ---- the FP32 panel product for prompt batches (not llama.cpp's order) ----
 *
 * Each output is one fused multiply-add chain over the inputs in order:
 * y = fma(w[n_in-1], x[n_in-1], ... fma(w[1], x[1], w[0] * x[0])), x rounded to
 * f16 as llama.cpp rounds it for F16 weights. The kernel computes that chain
 * bit for bit with outer products: 12 weight rows (widened to float once per
 * call into a per-thread block that stays in L2) broadcast against 32 tokens'
 * activations packed input-major (ks_f16p_pack_act), a 12-row x 32-token tile
 * of 24 accumulators, so one input step is 2 loads, 12 broadcasts and 24 FMAs,
 * with no f16 conversion and no horizontal reduction in the inner loop. */

void ks_gemm_f16p_ref(int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1, const float *x,
                      int64_t n_tok, float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < n_in; k++) acc = fmaf(ks_fp16_to_fp32(w[(size_t)r * w_stride + k]), x[t * n_in + k], acc);
            y[t * ldy + r] = acc;
        }
}

static void pack_act_ref(const float *x, int64_t n_in, int64_t n_tok, int64_t b, float *xp) {
    float *dst = xp + (size_t)b * (size_t)n_in * KS_F16P_NT;
    for (int64_t j = 0; j < KS_F16P_NT; j++) {
        const int64_t t = b * KS_F16P_NT + j;
        if (t >= n_tok) {
            for (int64_t k = 0; k < n_in; k++) dst[k * KS_F16P_NT + j] = 0.0f;
            continue;
        }
        const float *xr = x + t * n_in;
        for (int64_t k0 = 0; k0 < n_in; k0 += 64) {
            float tmp[64];
            const int64_t nk = n_in - k0 < 64 ? n_in - k0 : 64;
            ks_fp16_round_row(xr + k0, tmp, nk);
            for (int64_t k = 0; k < nk; k++) dst[(k0 + k) * KS_F16P_NT + j] = tmp[k];
        }
    }
}

/* the chain from packed activations, one output at a time: the path when the
 * per-thread weight block cannot be allocated */
static void gemm_f16p_scalar(int64_t n_in, const uint16_t *w, size_t ws, int64_t r0, int64_t r1, const float *xp,
                             int64_t n_tok, float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++) {
        const float *xb = xp + (size_t)(t / KS_F16P_NT) * (size_t)n_in * KS_F16P_NT + t % KS_F16P_NT;
        for (int64_t r = r0; r < r1; r++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < n_in; k++) acc = fmaf(ks_fp16_to_fp32(w[(size_t)r * ws + k]), xb[k * KS_F16P_NT], acc);
            y[t * ldy + r] = acc;
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define KS_AVX512 __attribute__((target("avx512f,f16c,fma")))
#define KS_INLINE inline __attribute__((always_inline))

KS_AVX512 static KS_INLINE float reduce16(__m512 a) {
    const __m256 t3 = _mm256_add_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)),
                                    _mm512_castps512_ps256(a));
    const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}

KS_AVX512 static KS_INLINE void tile(const int rm, const int rn, int64_t n_in, const uint16_t *w, size_t ws,
                                     const float *x, float *y, int64_t ldy) {
    __m512 acc[6][8];
    for (int j = 0; j < rn; j++)
        for (int i = 0; i < rm; i++) acc[j][i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n_in; k += 16) {
        __m512 a[8];
        for (int i = 0; i < rm; i++) a[i] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i * ws + k)));
        for (int j = 0; j < rn; j++) {
            const __m512 b = _mm512_loadu_ps(x + j * n_in + k);
            for (int i = 0; i < rm; i++) acc[j][i] = _mm512_fmadd_ps(a[i], b, acc[j][i]);
        }
    }
    for (int j = 0; j < rn; j++)
        for (int i = 0; i < rm; i++) y[j * ldy + i] = reduce16(acc[j][i]);
}

/* rows [r0, r1) against tokens [0, n_tok) with rm-row tiles */
#define KS_ROWS(RM, NAME)                                                                                         \
    KS_AVX512 static void NAME(int64_t n_in, const uint16_t *w, size_t ws, int64_t r, const float *x,           \
                               int64_t n_tok, float *y, int64_t ldy) {                                           \
        int64_t t = 0;                                                                                           \
        const uint16_t *wr = w + (size_t)r * ws;                                                                 \
        for (; t + 6 <= n_tok; t += 6) tile(RM, 6, n_in, wr, ws, x + t * n_in, y + t * ldy + r, ldy);            \
        if (t + 4 <= n_tok) tile(RM, 4, n_in, wr, ws, x + t * n_in, y + t * ldy + r, ldy), t += 4;               \
        if (t + 2 <= n_tok) tile(RM, 2, n_in, wr, ws, x + t * n_in, y + t * ldy + r, ldy), t += 2;               \
        if (t < n_tok) tile(RM, 1, n_in, wr, ws, x + t * n_in, y + t * ldy + r, ldy);                            \
    }
KS_ROWS(4, rows4)
KS_ROWS(1, rows1)

/* one token, rm rows, ggml_vec_dot_f16's order; n_in % 64 == 0 */
KS_AVX512 static KS_INLINE void gemv_vec(const int rm, int64_t n_in, const uint16_t *const *wr, const float *x,
                                         float *const *yr) {
    __m512 acc[6][4];
    for (int i = 0; i < rm; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n_in; k += 64) {
        for (int i = 0; i < rm; i++) { /* the weights 1 KiB ahead, into L2: +17% on a Sapphire Rapids VM */
            _mm_prefetch((const char *)(wr[i] + k + 512), _MM_HINT_T1);
            _mm_prefetch((const char *)(wr[i] + k + 512 + 32), _MM_HINT_T1);
        }
        for (int j = 0; j < 4; j++) {
            const __m512 b = _mm512_loadu_ps(x + k + 16 * j);
            for (int i = 0; i < rm; i++)
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wr[i] + k + 16 * j))),
                                            b, acc[i][j]);
        }
    }
    for (int i = 0; i < rm; i++) {
        const __m512 a0 = _mm512_add_ps(_mm512_add_ps(acc[i][0], acc[i][2]), _mm512_add_ps(acc[i][1], acc[i][3]));
        *yr[i] = reduce16(a0);
    }
}
KS_AVX512 static void gemv6(int64_t n_in, const uint16_t *const *wr, const float *x, float *const *yr) {
    gemv_vec(6, n_in, wr, x, yr);
}
/* the last rm < 6 rows of a range (they were one scalar dot each: 3% of 1.1B F16 generation) */
KS_AVX512 static void gemv_tail(int rm, int64_t n_in, const uint16_t *const *wr, const float *x, float *const *yr) {
    switch (rm) {
    case 5: gemv_vec(5, n_in, wr, x, yr); break;
    case 4: gemv_vec(4, n_in, wr, x, yr); break;
    case 3: gemv_vec(3, n_in, wr, x, yr); break;
    case 2: gemv_vec(2, n_in, wr, x, yr); break;
    default: gemv_vec(1, n_in, wr, x, yr); break;
    }
}

static void gemm_f16_avx512(int64_t n_in, const uint16_t *w, size_t ws, int64_t r0, int64_t r1, const float *x,
                            int64_t n_tok, float *y, int64_t ldy) {
    if (n_tok == 1) {
        enum { S = 6, P = 1 }; /* S streams of P adjacent rows: 6 x 1 measured best (vs 1x6, 2x3, 3x2) */
        const int64_t q = n_in % 64 ? 0 : (r1 - r0) / 6 * P;
        for (int64_t r = 0; r < q; r += P) {
            const uint16_t *wr[6];
            float *yr[6];
            for (int i = 0; i < 6; i++) {
                const int64_t row = r0 + (i / P) * q + r + i % P;
                wr[i] = w + (size_t)row * ws, yr[i] = y + row;
            }
            gemv6(n_in, wr, x, yr);
        }
        int64_t r = r0 + S * q;
        if (n_in % 64 == 0 && r < r1) {
            const uint16_t *wr[6];
            float *yr[6];
            const int rm = (int)(r1 - r);
            for (int i = 0; i < rm; i++) wr[i] = w + (size_t)(r + i) * ws, yr[i] = y + r + i;
            gemv_tail(rm, n_in, wr, x, yr);
            r = r1;
        }
        for (; r < r1; r++) y[r] = ks_dot_f16_order_vec(x, w + (size_t)r * ws, 1, n_in, false);
        return;
    }
    int64_t group = (int64_t)((256 * 1024) / ((size_t)n_in * 2 * 4)) * 4; /* rows whose weights fit in 256 KiB */
    if (group < 4) group = 4;
    for (int64_t g = r0; g < r1; g += group) {
        const int64_t g1 = g + group < r1 ? g + group : r1;
        for (int64_t t = 0; t < n_tok; t += 6) {
            const int64_t nt = n_tok - t < 6 ? n_tok - t : 6;
            int64_t r = g;
            for (; r + 4 <= g1; r += 4) rows4(n_in, w, ws, r, x + t * n_in, nt, y + t * ldy, ldy);
            for (; r < g1; r++) rows1(n_in, w, ws, r, x + t * n_in, nt, y + t * ldy, ldy);
        }
    }
}

enum { P_MR = 12 };

/* 12 rows (wp, kc floats apart) x nv*16 tokens over kc inputs of one packed block
 * (xp at its first input), continuing the chains held in acc_io unless first */
KS_AVX512 static KS_INLINE void panel_tile(const int nv, int64_t kc, const float *wp, const float *xp, bool first,
                                           float *acc_io) {
    __m512 acc[P_MR][2];
    for (int i = 0; i < P_MR; i++) {
        acc[i][0] = first ? _mm512_setzero_ps() : _mm512_load_ps(acc_io + i * KS_F16P_NT);
        acc[i][1] = first || nv < 2 ? _mm512_setzero_ps() : _mm512_load_ps(acc_io + i * KS_F16P_NT + 16);
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m512 x0 = _mm512_load_ps(xp + k * KS_F16P_NT);
        const __m512 x1 = nv > 1 ? _mm512_load_ps(xp + k * KS_F16P_NT + 16) : x0;
        for (int i = 0; i < P_MR; i++) {
            const __m512 b = _mm512_set1_ps(wp[i * kc + k]);
            acc[i][0] = _mm512_fmadd_ps(b, x0, acc[i][0]);
            if (nv > 1) acc[i][1] = _mm512_fmadd_ps(b, x1, acc[i][1]);
        }
    }
    for (int i = 0; i < P_MR; i++) {
        _mm512_store_ps(acc_io + i * KS_F16P_NT, acc[i][0]);
        if (nv > 1) _mm512_store_ps(acc_io + i * KS_F16P_NT + 16, acc[i][1]);
    }
}
KS_AVX512 static void panel_tile2(int64_t kc, const float *wp, const float *xp, bool first, float *acc_io) {
    panel_tile(2, kc, wp, xp, first, acc_io);
}
KS_AVX512 static void panel_tile1(int64_t kc, const float *wp, const float *xp, bool first, float *acc_io) {
    panel_tile(1, kc, wp, xp, first, acc_io);
}

/* Blocking: rows in blocks of mc whose widened weights (mc x kc floats) stay in L2,
 * inputs in chunks of at most KC so that a 32-token activation block (32 x kc floats)
 * does too; across chunks the 12 x 32 tiles' chains wait in a per-thread accumulator
 * block (exact FP32 values, so the chains are unchanged). */
#ifndef KS_F16P_BLOCK_BYTES
#define KS_F16P_BLOCK_BYTES (768 * 1024)
#endif
#define KS_F16P_KC 2048
/* per-thread buffers, owned by the thread: allocated on first use and grown, never
 * freed (reachable from thread-local storage); NULL if an allocation fails */
static float *tls_grow(float **buf, size_t *cap, size_t need) {
    need = (need + 63) / 64 * 64;
    if (need > *cap) {
        float *nb = aligned_alloc(64, need);
        if (!nb) return NULL;
        free(*buf);
        *buf = nb, *cap = need;
    }
    return *buf;
}

KS_AVX512 static void gemm_f16p_avx512(int64_t n_in, const uint16_t *w, size_t ws, int64_t r0, int64_t r1,
                                       const float *xp, int64_t n_tok, float *y, int64_t ldy) {
    static _Thread_local float *wbuf, *abuf;
    static _Thread_local size_t wcap, acap;
    const int64_t n_chunks = (n_in + KS_F16P_KC - 1) / KS_F16P_KC;
    const int64_t kc_max = (n_in / 16 + n_chunks - 1) / n_chunks * 16; /* equal chunks, multiples of 16 */
    int64_t mc = KS_F16P_BLOCK_BYTES / (kc_max * 4) / P_MR * P_MR;
    if (mc < P_MR) mc = P_MR;
    const int64_t n_blk = (n_tok + KS_F16P_NT - 1) / KS_F16P_NT;
    float *wp = tls_grow(&wbuf, &wcap, (size_t)mc * (size_t)kc_max * 4);
    float *accb = tls_grow(&abuf, &acap, (size_t)mc * (size_t)n_blk * KS_F16P_NT * 4);
    if (!wp || !accb) {
        gemm_f16p_scalar(n_in, w, ws, r0, r1, xp, n_tok, y, ldy);
        return;
    }
    for (int64_t g = r0; g < r1; g += mc) {
        const int64_t m = r1 - g < mc ? r1 - g : mc, m_pad = (m + P_MR - 1) / P_MR * P_MR;
        for (int64_t k0 = 0; k0 < n_in; k0 += kc_max) {
            const int64_t kc = n_in - k0 < kc_max ? n_in - k0 : kc_max;
            const bool first = k0 == 0, last = k0 + kc == n_in;
            for (int64_t i = 0; i < m; i++)
                for (int64_t k = 0; k < kc; k += 16)
                    _mm512_store_ps(wp + i * kc + k, _mm512_cvtph_ps(_mm256_loadu_si256(
                                                         (const __m256i *)(w + (size_t)(g + i) * ws + k0 + k))));
            for (int64_t i = m; i < m_pad; i++)
                for (int64_t k = 0; k < kc; k += 16) _mm512_store_ps(wp + i * kc + k, _mm512_setzero_ps());
            for (int64_t b = 0; b < n_blk; b++) {
                const float *xb = xp + (size_t)b * (size_t)n_in * KS_F16P_NT + (size_t)k0 * KS_F16P_NT;
                const int64_t nt = n_tok - b * KS_F16P_NT < KS_F16P_NT ? n_tok - b * KS_F16P_NT : KS_F16P_NT;
                for (int64_t p = 0; p < m_pad; p += P_MR) {
                    float *acc = accb + ((size_t)(p / P_MR) * (size_t)n_blk + (size_t)b) * P_MR * KS_F16P_NT;
                    if (nt > 16) panel_tile2(kc, wp + p * kc, xb, first, acc);
                    else panel_tile1(kc, wp + p * kc, xb, first, acc);
                    if (!last) continue;
                    const int64_t mr = m - p < P_MR ? m - p : P_MR;
                    for (int64_t j = 0; j < nt; j++) {
                        float *yr = y + (b * KS_F16P_NT + j) * ldy + g + p;
                        for (int64_t i = 0; i < mr; i++) yr[i] = acc[i * KS_F16P_NT + j];
                    }
                }
            }
        }
    }
}

/* r[i] (16 rows of 16) -> r[j] = column j: 32-bit, then 64-bit interleaves within
 * 128-bit lanes, then two rounds of 128-bit lane shuffles */
KS_AVX512 static KS_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* u[4g + c]: rows 4g..4g+3 of columns c, c+4, c+8, c+12 (one per 128-bit lane) */
        const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int c = 0; c < 4; c++) {
        const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        const __m512 w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88), r[c + 8] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
        r[c + 4] = _mm512_shuffle_f32x4(v1, w1, 0x88), r[c + 12] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    }
}

/* pack_act_ref by 16 x 16 transposes, rounded by F16C */
KS_AVX512 static void pack_act_avx512(const float *x, int64_t n_in, int64_t n_tok, int64_t b, float *xp) {
    float *dst = xp + (size_t)b * (size_t)n_in * KS_F16P_NT;
    for (int h = 0; h < KS_F16P_NT / 16; h++) {
        const int64_t t0 = b * KS_F16P_NT + 16 * h;
        for (int64_t k = 0; k < n_in; k += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = t0 + i < n_tok ? _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + (t0 + i) * n_in + k),
                                                                        _MM_FROUND_TO_NEAREST_INT))
                                      : _mm512_setzero_ps();
            transpose16(r);
            for (int c = 0; c < 16; c++) _mm512_store_ps(dst + (k + c) * KS_F16P_NT + 16 * h, r[c]);
        }
    }
}

ks_gemm_f16_fn ks_gemm_f16p_avx512(void) {
    static int ok = -1;
    if (ok < 0) ok = ks_cpu_has(KS_CPU_AVX512F) && ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA);
    return ok ? gemm_f16p_avx512 : NULL;
}

ks_gemm_f16_fn ks_gemm_f16_avx512(void) {
    static int ok = -1;
    if (ok < 0) ok = ks_cpu_has(KS_CPU_AVX512F) && ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA);
    return ok ? gemm_f16_avx512 : NULL;
}
void ks_f16p_pack_act(const float *x, int64_t n_in, int64_t n_tok, int64_t b, float *xp) {
    if (n_in % 16 == 0 && ks_gemm_f16p_avx512()) pack_act_avx512(x, n_in, n_tok, b, xp);
    else pack_act_ref(x, n_in, n_tok, b, xp);
}
#else
void ks_f16p_pack_act(const float *x, int64_t n_in, int64_t n_tok, int64_t b, float *xp) {
    pack_act_ref(x, n_in, n_tok, b, xp);
}
ks_gemm_f16_fn ks_gemm_f16_avx512(void) { return NULL; }
ks_gemm_f16_fn ks_gemm_f16p_avx512(void) { return NULL; }
#endif

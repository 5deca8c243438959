/* attn_f16.c - attention inner products against an f16 KV cache, in llama.cpp's
 * summation orders (see docs/NUMERICS.md), with SIMD versions that perform the
 * very same fused multiply-adds lane for lane, so they are bit-identical to the
 * scalar reference (tests/unit/test_kernels.c checks equality, not closeness).
 *
 *   gemm order (batches of >= 2 tokens): element e -> lane e % 16, then reduce16
 *   vec order (one token): element e -> accumulator (e % 64) / 16, lane e % 16;
 *                          a0 += a2, a1 += a3, a0 += a1, then reduce16
 * q.k runs over head dims (contiguous); p.v runs over positions and is computed
 * for all head dims at once (one set of lane accumulators per head dim).
 */
#include <math.h>
#include <string.h>

#include "base/cpu.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

/* SIMD p.v keeps 16 (gemm) or 64 (vec) lane chains per head dim; head dims go in
 * chunks so that the chains (16 KiB) stay in L1 whatever the head size */
#define PV_CHUNK_VEC 64
#define PV_CHUNK_GEMM 256
#define PV_CHAINS_FLOATS (64 * PV_CHUNK_VEC)
_Static_assert(16 * PV_CHUNK_GEMM <= PV_CHAINS_FLOATS, "gemm chains fit the buffer");

/* ---- scalar reference ---- */
static float qk_ref(const float *q, const uint16_t *k, int64_t hd, bool vec) {
    return vec ? ks_dot_f16_order_vec(q, k, 1, hd, false) : ks_dot_f16_order_gemm(q, k, 1, hd);
}

/* s[j] = qk(q, k + j * stride) * scale for j < n_kv, rows prefetched KS_ATTN_PF ahead (one head's keys
 * lie a cache row apart: strides the hardware prefetcher follows poorly); the per-key kernel inlined */
#define KS_QK_ROWS(name, attr, qk_one)                                                                        \
    attr static void name(float *s, const float *q, const uint16_t *k, int64_t stride, int64_t n_kv, int64_t hd, \
                          bool vec, float scale) {                                                            \
        for (int64_t j = 0; j < n_kv; j++) {                                                                  \
            if (j + KS_ATTN_PF < n_kv) ks_prefetch_row(k + (j + KS_ATTN_PF) * stride, (size_t)hd * 2);          \
            s[j] = qk_one(q, k + j * stride, hd, vec) * scale;                                               \
        }                                                                                                     \
    }
KS_QK_ROWS(qk_rows_ref, , qk_ref)

static void pv_ref(float *o, const float *p, const uint16_t *v, int64_t stride, int64_t n_kv, int64_t hd, bool vec) {
    for (int64_t d = 0; d < hd; d++)
        o[d] = vec ? ks_dot_f16_order_vec(p, v + d, stride, n_kv, true) : ks_dot_f16_order_gemm(p, v + d, stride, n_kv);
}

/* batched (tinyBLAS) order over floats already widened from f16: element e of
 * a (stride sa) times b (stride sb) into lane e % 16, then reduce16 */
static float dot_gemm_f32(const float *a, int64_t sa, const float *b, int64_t sb, int64_t n) {
    float lane[16] = {0};
    for (int64_t e = 0; e < n; e++) lane[e & 15] = fmaf(a[e * sa], b[e * sb], lane[e & 15]);
    return ks_reduce16(lane);
}

/* q.k with the keys transposed: kt[d * ld + j] */
static void qk_cols_ref(float *s, const float *q, const float *kt, int64_t ld, int64_t n_kv, int64_t hd) {
    for (int64_t j = 0; j < n_kv; j++) s[j] = dot_gemm_f32(q, 1, kt + j, ld, hd);
}

/* p.v with the values transposed: vt[d * ld + j] */
static void pv_cols_ref(float *o, const float *p, const float *vt, int64_t ld, int64_t n_kv, int64_t hd) {
    for (int64_t d = 0; d < hd; d++) o[d] = dot_gemm_f32(p, 1, vt + d * ld, 1, n_kv);
}

static void qk_cols3_ref(float *const *s, const float *const *q, int nq, const float *kt, int64_t ld, int64_t n_kv,
                         int64_t hd) {
    for (int i = 0; i < nq; i++) qk_cols_ref(s[i], q[i], kt, ld, n_kv, hd);
}

static void pv_cols3_ref(float *const *o, const float *const *p, int nq, const float *vt, int64_t ld, int64_t n_kv,
                         int64_t hd) {
    for (int i = 0; i < nq; i++) pv_cols_ref(o[i], p[i], vt, ld, n_kv, hd);
}

/* SIMD p.v: an ISA's kernel runs the lane chains of llama.cpp's order (16 for gemm,
 * 64 = 4 accumulators x 16 lanes for vec; chain r in row r of acc, ld floats apart) for
 * w head dims at once; head dims go in chunks so the chains stay in L1 at every head
 * size. Folding the chains is a few adds per dim, done here in the same order. */
typedef void (*pv_chains_fn)(float *acc, int64_t ld, int n_chains, const float *p, const uint16_t *v, int64_t stride,
                             int64_t n_kv, int64_t w);
static void pv_fold(float *o, float *acc, int64_t ld, int64_t w, bool vec) {
    for (int64_t d = 0; d < w; d++) {
        float lane[16];
        for (int l = 0; l < 16; l++) {
            const float *c = acc + l * ld + d; /* chains l, 16 + l, 32 + l, 48 + l: a0 += a2, a1 += a3, a0 += a1 */
            lane[l] = vec ? (c[0] + c[32 * ld]) + (c[16 * ld] + c[48 * ld]) : c[0];
        }
        o[d] = ks_reduce16(lane);
    }
}

static void pv_chunked(pv_chains_fn chains, float *o, const float *p, const uint16_t *v, int64_t stride, int64_t n_kv,
                       int64_t hd, bool vec) {
    if (hd % 16) {
        pv_ref(o, p, v, stride, n_kv, hd, vec);
        return;
    }
    static _Thread_local float acc[PV_CHAINS_FLOATS];
    const int n_chains = vec ? 64 : 16;
    const int64_t cw = vec ? PV_CHUNK_VEC : PV_CHUNK_GEMM;
    for (int64_t d0 = 0; d0 < hd; d0 += cw) {
        const int64_t w = hd - d0 < cw ? hd - d0 : cw;
        for (int r = 0; r < n_chains; r++) memset(acc + r * cw, 0, (size_t)w * sizeof(float));
        chains(acc, cw, n_chains, p, v + d0, stride, n_kv, w);
        pv_fold(o + d0, acc, cw, w, vec);
    }
}

static const ks_attn_kernels attn_ref = {"scalar",     qk_ref,       pv_ref,      qk_cols_ref,
                                         pv_cols_ref, qk_cols3_ref, pv_cols3_ref, qk_rows_ref};

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KS_AVX512 __attribute__((target("avx512f,f16c,fma")))
#define KS_AVX2 __attribute__((target("avx2,f16c,fma")))
#define KS_INLINE inline __attribute__((always_inline))

/* ---------------- AVX-512: one register = 16 lanes ---------------- */
KS_AVX512 static inline float r16_512(__m512 a) {
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    const __m256 t3 = _mm256_add_ps(hi, _mm512_castps512_ps256(a));
    const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}

KS_AVX512 static inline __m512 ld16h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

KS_AVX512 static inline __attribute__((always_inline)) float qk_avx512(const float *q, const uint16_t *k, int64_t hd,
                                                                      bool vec) {
    if (hd % 16) return qk_ref(q, k, hd, vec);
    if (!vec) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t d = 0; d < hd; d += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), ld16h(k + d), acc);
        return r16_512(acc);
    }
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int64_t np = hd & ~(int64_t)63;
    for (int64_t e = 0; e < np; e += 64)
        for (int j = 0; j < 4; j++) a[j] = _mm512_fmadd_ps(_mm512_loadu_ps(q + e + 16 * j), ld16h(k + e + 16 * j), a[j]);
    a[0] = _mm512_add_ps(a[0], a[2]), a[1] = _mm512_add_ps(a[1], a[3]), a[0] = _mm512_add_ps(a[0], a[1]);
    double sum = r16_512(a[0]);
    for (int64_t e = np; e < hd; e++) sum += (double)(q[e] * ks_fp16_to_fp32(k[e]));
    return (float)sum;
}

/* the lane chains of p.v on head dims [0, w) of v: chain r (accumulator r / 16, lane
 * r % 16) is row r of acc (ld floats apart), fed by the positions j with j % n_chains == r */
KS_AVX512 static void pv_chains_512(float *acc, int64_t ld, int n_chains, const float *p, const uint16_t *v,
                                    int64_t stride, int64_t n_kv, int64_t w) {
    for (int64_t j = 0; j < n_kv; j++) {
        float *row = acc + (j & (n_chains - 1)) * ld;
        const __m512 pj = _mm512_set1_ps(p[j]);
        const uint16_t *vr = v + j * stride;
        if (j + KS_ATTN_PF < n_kv) ks_prefetch_row(vr + KS_ATTN_PF * stride, (size_t)w * 2);
        for (int64_t d = 0; d < w; d += 16)
            _mm512_storeu_ps(row + d, _mm512_fmadd_ps(pj, ld16h(vr + d), _mm512_loadu_ps(row + d)));
    }
}

static void pv_avx512(float *o, const float *p, const uint16_t *v, int64_t stride, int64_t n_kv, int64_t hd, bool vec) {
    pv_chunked(pv_chains_512, o, p, v, stride, n_kv, hd, vec);
}

/* 16 keys at once: A[k] holds key k's 16 lane sums; the shuffle network below
 * adds, for every key, exactly the pairs ks_reduce16 adds (lanes i and i+8,
 * then i and i+4, then (0+2) and (1+3), then those two), four keys per 128-bit
 * chunk, and a final permutation puts key k in lane k. */
KS_AVX512 static inline __m512 reduce16x16(const __m512 *A, __m512i perm) {
    __m512 X[8], Z[4], W[2];
    for (int i = 0; i < 8; i++)
        X[i] = _mm512_add_ps(_mm512_shuffle_f32x4(A[2 * i], A[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(A[2 * i], A[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 4; i++)
        Z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(X[2 * i], X[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(X[2 * i], X[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int i = 0; i < 2; i++)
        W[i] = _mm512_add_ps(_mm512_shuffle_ps(Z[2 * i], Z[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(Z[2 * i], Z[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 R = _mm512_add_ps(_mm512_shuffle_ps(W[0], W[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(W[0], W[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(perm, R);
}

/* lane i of the network's output holds key src[i]: found once by running it on keys tagged k + 1 */
KS_AVX512 static __m512i reduce16x16_perm(void) {
    __m512 A[16];
    for (int k = 0; k < 16; k++) A[k] = _mm512_set1_ps((float)(k + 1));
    float out[16];
    _mm512_storeu_ps(out, reduce16x16(A, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
    int idx[16];
    for (int i = 0; i < 16; i++) idx[(int)(out[i] / 16.0f) - 1] = i;
    return _mm512_loadu_si512(idx);
}

/* Keys in lanes (kt[d * ld + j]): for 16 keys at once, lane chain l of
 * ks_reduce16's input is L[l] = fma over d = l, l + 16, ...; the reduction tree
 * becomes vector adds, with no shuffles. Up to three queries that share the keys
 * (query heads of one kv head) go together: each key tile is loaded once for all.
 * The first tree level L[i] + L[i + 8] is taken as soon as L[i + 8] is complete. */
KS_AVX512 static KS_INLINE void qk_cols_nq(const int nq, float *const *s, const float *const *q, const float *kt,
                                           int64_t ld, int64_t n_kv, int64_t hd) {
    for (int64_t j = 0; j < n_kv; j += 16) {
        const __mmask16 m = n_kv - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n_kv - j)) - 1);
        __m512 T[3][8];
        for (int l = 0; l < 16; l++) {
            __m512 u[3];
            __m512 kv = _mm512_maskz_loadu_ps(m, kt + l * ld + j);
            for (int i = 0; i < nq; i++) u[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][l]), kv, _mm512_setzero_ps());
            for (int64_t d = l + 16; d < hd; d += 16) {
                kv = _mm512_maskz_loadu_ps(m, kt + d * ld + j);
                for (int i = 0; i < nq; i++) u[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][d]), kv, u[i]);
            }
            for (int i = 0; i < nq; i++) T[i][l & 7] = l < 8 ? u[i] : _mm512_add_ps(u[i], T[i][l & 7]);
        }
        for (int i = 0; i < nq; i++) {
            __m512 t6[4];
            for (int k = 0; k < 4; k++) t6[k] = _mm512_add_ps(T[i][k + 4], T[i][k]);
            _mm512_mask_storeu_ps(s[i] + j, m, _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]), _mm512_add_ps(t6[1], t6[3])));
        }
    }
}

KS_AVX512 static void qk_cols3_avx512(float *const *s, const float *const *q, int nq, const float *kt, int64_t ld,
                                      int64_t n_kv, int64_t hd) {
    if (hd % 16) {
        for (int i = 0; i < nq; i++) qk_cols_ref(s[i], q[i], kt, ld, n_kv, hd);
        return;
    }
    if (nq == 3) qk_cols_nq(3, s, q, kt, ld, n_kv, hd);
    else if (nq == 2) qk_cols_nq(2, s, q, kt, ld, n_kv, hd);
    else qk_cols_nq(1, s, q, kt, ld, n_kv, hd);
}

KS_AVX512 static void qk_cols_avx512(float *s, const float *q, const float *kt, int64_t ld, int64_t n_kv, int64_t hd) {
    qk_cols3_avx512(&s, &q, 1, kt, ld, n_kv, hd);
}

/* Values transposed (vt[d * ld + j]): for 16 head dims at a time, one register
 * per dim whose lane l sums positions j = l mod 16 in order (the batched
 * order's lanes), sixteen probabilities loaded once per 16 positions; the 16
 * dims' lane sums are then reduced together by the reduce16x16 network. */
KS_AVX512 static void pv_cols_avx512(float *o, const float *p, const float *vt, int64_t ld, int64_t n_kv, int64_t hd) {
    if (hd % 16) {
        pv_cols_ref(o, p, vt, ld, n_kv, hd);
        return;
    }
    static _Thread_local int have;
    static _Thread_local __m512i perm;
    if (!have) perm = reduce16x16_perm(), have = 1;
    for (int64_t d0 = 0; d0 < hd; d0 += 16) {
        __m512 acc[16];
        for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= n_kv; j += 16) {
            const __m512 P = _mm512_loadu_ps(p + j);
            for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(P, _mm512_loadu_ps(vt + (d0 + i) * ld + j), acc[i]);
        }
        if (j < n_kv) { /* the last positions: lanes past n_kv keep their sums untouched */
            const __mmask16 m = (__mmask16)((1u << (n_kv - j)) - 1);
            const __m512 P = _mm512_maskz_loadu_ps(m, p + j);
            for (int i = 0; i < 16; i++)
                acc[i] = _mm512_mask3_fmadd_ps(P, _mm512_maskz_loadu_ps(m, vt + (d0 + i) * ld + j), acc[i], m);
        }
        _mm512_storeu_ps(o + d0, reduce16x16(acc, perm));
    }
}

/* pv_cols for nq <= 3 probability rows sharing the values (query heads of one kv head):
 * each value tile is loaded once for all of them. Eight head dims per pass keep
 * 3 x 8 accumulators in registers; two passes fill the 16 lane-sum vectors the
 * reduce16x16 network takes. Per query exactly pv_cols's operations. */
KS_AVX512 static KS_INLINE void pv_cols_nq(const int nq, float *const *o, const float *const *p, const float *vt,
                                           int64_t ld, int64_t n_kv, int64_t hd, __m512i perm) {
    for (int64_t d0 = 0; d0 < hd; d0 += 16) {
        __m512 acc16[3][16];
        for (int half = 0; half < 2; half++) {
            const float *v0 = vt + (d0 + 8 * half) * ld;
            __m512 acc[3][8];
            for (int i = 0; i < nq; i++)
                for (int r = 0; r < 8; r++) acc[i][r] = _mm512_setzero_ps();
            int64_t j = 0;
            for (; j + 16 <= n_kv; j += 16) {
                __m512 P[3];
                for (int i = 0; i < nq; i++) P[i] = _mm512_loadu_ps(p[i] + j);
                for (int r = 0; r < 8; r++) {
                    const __m512 V = _mm512_loadu_ps(v0 + r * ld + j);
                    for (int i = 0; i < nq; i++) acc[i][r] = _mm512_fmadd_ps(P[i], V, acc[i][r]);
                }
            }
            if (j < n_kv) { /* the last positions: lanes past n_kv keep their sums untouched */
                const __mmask16 m = (__mmask16)((1u << (n_kv - j)) - 1);
                __m512 P[3];
                for (int i = 0; i < nq; i++) P[i] = _mm512_maskz_loadu_ps(m, p[i] + j);
                for (int r = 0; r < 8; r++) {
                    const __m512 V = _mm512_maskz_loadu_ps(m, v0 + r * ld + j);
                    for (int i = 0; i < nq; i++) acc[i][r] = _mm512_mask3_fmadd_ps(P[i], V, acc[i][r], m);
                }
            }
            for (int i = 0; i < nq; i++)
                for (int r = 0; r < 8; r++) acc16[i][8 * half + r] = acc[i][r];
        }
        for (int i = 0; i < nq; i++) _mm512_storeu_ps(o[i] + d0, reduce16x16(acc16[i], perm));
    }
}

KS_AVX512 static void pv_cols3_avx512(float *const *o, const float *const *p, int nq, const float *vt, int64_t ld,
                                      int64_t n_kv, int64_t hd) {
    if (hd % 16) {
        for (int i = 0; i < nq; i++) pv_cols_ref(o[i], p[i], vt, ld, n_kv, hd);
        return;
    }
    static _Thread_local int have;
    static _Thread_local __m512i perm;
    if (!have) perm = reduce16x16_perm(), have = 1;
    if (nq == 3) pv_cols_nq(3, o, p, vt, ld, n_kv, hd, perm);
    else if (nq == 2) pv_cols_nq(2, o, p, vt, ld, n_kv, hd, perm);
    else pv_cols_nq(1, o, p, vt, ld, n_kv, hd, perm);
}

/* ---------------- AVX2: 16 lanes = two 256-bit registers ---------------- */
KS_AVX2 static inline float r16_256(__m256 lo, __m256 hi) {
    const __m256 t3 = _mm256_add_ps(hi, lo);
    const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}

KS_AVX2 static inline __m256 ld8h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

KS_AVX2 static inline __attribute__((always_inline)) float qk_avx2(const float *q, const uint16_t *k, int64_t hd,
                                                                  bool vec) {
    if (hd % 16) return qk_ref(q, k, hd, vec);
    if (!vec) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (int64_t d = 0; d < hd; d += 16) {
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), ld8h(k + d), lo);
            hi = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), ld8h(k + d + 8), hi);
        }
        return r16_256(lo, hi);
    }
    __m256 a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
    const int64_t np = hd & ~(int64_t)63;
    for (int64_t e = 0; e < np; e += 64)
        for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + e + 8 * j), ld8h(k + e + 8 * j), a[j]);
    /* accumulator j = registers 2j (lanes 0-7), 2j+1 (lanes 8-15) */
    __m256 lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
    __m256 hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
    double sum = r16_256(lo, hi);
    for (int64_t e = np; e < hd; e++) sum += (double)(q[e] * ks_fp16_to_fp32(k[e]));
    return (float)sum;
}

/* pv_chains_512 on 8-float registers, one chain at a time held in registers (the chain's
 * positions j = r, r + n_chains, ... in order, as pv_chains_512 adds them): each accumulator is
 * stored once instead of once per position, and 8 dims (or fewer) of a row are one register */
#define PV_CHAIN_256(NR)                                                                                      \
    do {                                                                                                      \
        __m256 a[NR];                                                                                         \
        for (int c = 0; c < NR; c++) a[c] = _mm256_setzero_ps();                                              \
        for (int64_t j = r; j < n_kv; j += n_chains) {                                                        \
            const uint16_t *vr = v + j * stride + d0;                                                         \
            if (j + 1 < n_kv) ks_prefetch_row(vr + stride, (size_t)(NR * 16)); /* the next chain's row */      \
            if (!r && j + 4 * n_chains < n_kv) ks_prefetch_row(vr + 4 * n_chains * stride, (size_t)(NR * 16)); \
            const __m256 pj = _mm256_set1_ps(p[j]);                                                           \
            for (int c = 0; c < NR; c++) a[c] = _mm256_fmadd_ps(pj, ld8h(vr + 8 * c), a[c]);                  \
        }                                                                                                     \
        for (int c = 0; c < NR; c++) _mm256_storeu_ps(acc + r * ld + d0 + 8 * c, a[c]);                       \
    } while (0)
KS_AVX2 static void pv_chains_256(float *acc, int64_t ld, int n_chains, const float *p, const uint16_t *v,
                                  int64_t stride, int64_t n_kv, int64_t w) {
    for (int64_t d0 = 0; d0 < w;) { /* w is a multiple of 16: 64, 32 or 16 dims per pass */
        const int64_t nw = w - d0 >= 64 ? 64 : w - d0 >= 32 ? 32 : 16;
        for (int r = 0; r < n_chains && r < n_kv; r++) {
            if (nw == 64) PV_CHAIN_256(8);
            else if (nw == 32) PV_CHAIN_256(4);
            else PV_CHAIN_256(2);
        }
        d0 += nw;
    }
}
#undef PV_CHAIN_256

static void pv_avx2(float *o, const float *p, const uint16_t *v, int64_t stride, int64_t n_kv, int64_t hd, bool vec) {
    pv_chunked(pv_chains_256, o, p, v, stride, n_kv, hd, vec);
}

/* Columns (keys or positions in lanes, as qk_cols_nq / pv_cols_avx512) on 8-float registers: the
 * same lane chains and reduction tree, one query at a time (a tree of 8 registers per query fits
 * AVX2's 16; up to three queries would not). Masked loads for the last keys. */
KS_AVX2 static inline __m256i tail_mask8(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

KS_AVX2 static void qk_cols_avx2(float *s, const float *q, const float *kt, int64_t ld, int64_t n_kv, int64_t hd) {
    if (hd % 16) {
        qk_cols_ref(s, q, kt, ld, n_kv, hd);
        return;
    }
    for (int64_t j = 0; j < n_kv; j += 8) {
        const __m256i m = tail_mask8(n_kv - j);
        __m256 T[8];
        for (int l = 0; l < 16; l++) {
            __m256 u = _mm256_mul_ps(_mm256_set1_ps(q[l]), _mm256_maskload_ps(kt + l * ld + j, m));
            for (int64_t d = l + 16; d < hd; d += 16)
                u = _mm256_fmadd_ps(_mm256_set1_ps(q[d]), _mm256_maskload_ps(kt + d * ld + j, m), u);
            T[l & 7] = l < 8 ? u : _mm256_add_ps(u, T[l & 7]);
        }
        __m256 t6[4];
        for (int k = 0; k < 4; k++) t6[k] = _mm256_add_ps(T[k + 4], T[k]);
        _mm256_maskstore_ps(s + j, m, _mm256_add_ps(_mm256_add_ps(t6[0], t6[2]), _mm256_add_ps(t6[1], t6[3])));
    }
}

KS_AVX2 static void qk_cols3_avx2(float *const *s, const float *const *q, int nq, const float *kt, int64_t ld,
                                  int64_t n_kv, int64_t hd) {
    for (int i = 0; i < nq; i++) qk_cols_avx2(s[i], q[i], kt, ld, n_kv, hd);
}

/* four head dims per pass: lanes 0-7 and 8-15 of each dim's 16 position lanes in two registers */
KS_AVX2 static void pv_cols_avx2(float *o, const float *p, const float *vt, int64_t ld, int64_t n_kv, int64_t hd) {
    if (hd % 16) {
        pv_cols_ref(o, p, vt, ld, n_kv, hd);
        return;
    }
    for (int64_t d0 = 0; d0 < hd; d0 += 4) {
        __m256 lo[4], hi[4];
        for (int i = 0; i < 4; i++) lo[i] = hi[i] = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= n_kv; j += 16) {
            const __m256 P0 = _mm256_loadu_ps(p + j), P1 = _mm256_loadu_ps(p + j + 8);
            for (int i = 0; i < 4; i++) {
                lo[i] = _mm256_fmadd_ps(P0, _mm256_loadu_ps(vt + (d0 + i) * ld + j), lo[i]);
                hi[i] = _mm256_fmadd_ps(P1, _mm256_loadu_ps(vt + (d0 + i) * ld + j + 8), hi[i]);
            }
        }
        if (j < n_kv) { /* the last positions: lanes past n_kv keep their sums untouched */
            const __m256i m0 = tail_mask8(n_kv - j), m1 = tail_mask8(n_kv - j - 8);
            const __m256 P0 = _mm256_maskload_ps(p + j, m0), P1 = _mm256_maskload_ps(p + j + 8, m1);
            for (int i = 0; i < 4; i++) {
                const __m256 a = _mm256_fmadd_ps(P0, _mm256_maskload_ps(vt + (d0 + i) * ld + j, m0), lo[i]);
                const __m256 b = _mm256_fmadd_ps(P1, _mm256_maskload_ps(vt + (d0 + i) * ld + j + 8, m1), hi[i]);
                lo[i] = _mm256_blendv_ps(lo[i], a, _mm256_castsi256_ps(m0));
                hi[i] = _mm256_blendv_ps(hi[i], b, _mm256_castsi256_ps(m1));
            }
        }
        for (int i = 0; i < 4; i++) o[d0 + i] = r16_256(lo[i], hi[i]);
    }
}

KS_AVX2 static void pv_cols3_avx2(float *const *o, const float *const *p, int nq, const float *vt, int64_t ld,
                                  int64_t n_kv, int64_t hd) {
    for (int i = 0; i < nq; i++) pv_cols_avx2(o[i], p[i], vt, ld, n_kv, hd);
}

KS_QK_ROWS(qk_rows_avx512, KS_AVX512, qk_avx512)
KS_QK_ROWS(qk_rows_avx2, KS_AVX2, qk_avx2)
/* the per-key q.k as a function for the table (tests, callers with one key) */
KS_AVX512 static float qk_one_avx512(const float *q, const uint16_t *k, int64_t hd, bool vec) {
    return qk_avx512(q, k, hd, vec);
}
KS_AVX2 static float qk_one_avx2(const float *q, const uint16_t *k, int64_t hd, bool vec) { return qk_avx2(q, k, hd, vec); }
static const ks_attn_kernels attn_avx512 = {"avx512",        qk_one_avx512,   pv_avx512,      qk_cols_avx512,
                                            pv_cols_avx512, qk_cols3_avx512, pv_cols3_avx512, qk_rows_avx512};
static const ks_attn_kernels attn_avx2 = {"avx2",       qk_one_avx2,   pv_avx2,      qk_cols_avx2,
                                          pv_cols_avx2, qk_cols3_avx2, pv_cols3_avx2, qk_rows_avx2};
#endif

const ks_attn_kernels *ks_attn_kernels_ref(void) { return &attn_ref; }

const ks_attn_kernels *ks_attn_kernels_isa(const char *isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    const bool f16_fma = ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA);
    if (!strcmp(isa, "avx512")) return f16_fma && ks_cpu_has(KS_CPU_AVX512F) ? &attn_avx512 : NULL;
    if (!strcmp(isa, "avx2")) return f16_fma && ks_cpu_has(KS_CPU_AVX2) ? &attn_avx2 : NULL;
#endif
    return !strcmp(isa, "scalar") ? &attn_ref : NULL;
}

const ks_attn_kernels *ks_attn_kernels_best(void) {
    const ks_attn_kernels *k = ks_attn_kernels_isa("avx512");
    if (!k) k = ks_attn_kernels_isa("avx2");
    return k ? k : &attn_ref;
}

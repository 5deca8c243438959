/* matmul_avx2.c - AVX2+FMA+F16C dot products, compiled with target attributes
 * and chosen at run time when the CPU has those features. Same block math as
 * the scalar reference (matmul_ref.c); only the float summation order differs.
 * tests/unit/test_kernels.c compares them on awkward sizes. */
#include "base/cpu.h"
#include "kernels/kernels_impl.h"
#include "kernels/packed.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define KS_AVX2 __attribute__((target("avx2,fma,f16c")))

KS_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

KS_AVX2 static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* 32 nibbles -> 32 bytes: low nibbles in the low 16 bytes, high nibbles in the high 16 */
KS_AVX2 static inline __m256i nibbles_32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* sum of products of 32 signed x 32 signed int8 as 8 int32 lanes converted to float */
KS_AVX2 static inline __m256 dot_i8_signed(__m256i x, __m256i y) {
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sy = _mm256_sign_epi8(y, x);
    const __m256i d16 = _mm256_maddubs_epi16(ax, sy);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(d16, _mm256_set1_epi16(1)));
}
/* unsigned x (0..127) times signed y */
KS_AVX2 static inline __m256 dot_u8_i8(__m256i ux, __m256i y) {
    const __m256i d16 = _mm256_maddubs_epi16(ux, y);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(d16, _mm256_set1_epi16(1)));
}

KS_AVX2 static void dot_q8_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q8_0 *a = w, *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
        const __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, dot_i8_signed(qa, qb), acc);
    }
    *out = hsum_ps(acc);
}

KS_AVX2 static void dot_q4_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q4_0 *a = w;
    const ks_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    const __m256i off = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
        const __m256i qa = _mm256_sub_epi8(nibbles_32(a[i].qs), off);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, dot_i8_signed(qa, qb), acc);
    }
    *out = hsum_ps(acc);
}

KS_AVX2 static void dot_q4_1_q8_1(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q4_1 *a = w;
    const ks_block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        summs += h2f(a[i].m) * h2f(b[i].s);
        const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
        const __m256i qa = nibbles_32(a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, dot_u8_i8(qa, qb), acc);
    }
    *out = hsum_ps(acc) + summs;
}

/* vec_dot4 variants: the weight block is unpacked once and dotted with four
 * activation rows; per row the arithmetic is exactly the single-row kernel's. */
KS_AVX2 static void dot4_q4_1_q8_1(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q4_1 *a = w;
    const ks_block_q8_1 *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_1 *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    float summs[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const float dw = h2f(a[i].d), mw = h2f(a[i].m);
        const __m256i qa = nibbles_32(a[i].qs);
        for (int k = 0; k < 4; k++) {
            summs[k] += mw * h2f(b[k][i].s);
            const __m256 d = _mm256_set1_ps(dw * h2f(b[k][i].d));
            acc[k] = _mm256_fmadd_ps(d, dot_u8_i8(qa, _mm256_loadu_si256((const __m256i *)b[k][i].qs)), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) out[k * os] = hsum_ps(acc[k]) + summs[k];
}

KS_AVX2 static void dot4_q4_0_q8_0(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q4_0 *a = w;
    const ks_block_q8_0 *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_0 *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const __m256i off = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float dw = h2f(a[i].d);
        const __m256i qa = _mm256_sub_epi8(nibbles_32(a[i].qs), off);
        for (int k = 0; k < 4; k++) {
            const __m256 d = _mm256_set1_ps(dw * h2f(b[k][i].d));
            acc[k] = _mm256_fmadd_ps(d, dot_i8_signed(qa, _mm256_loadu_si256((const __m256i *)b[k][i].qs)), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) out[k * os] = hsum_ps(acc[k]);
}

KS_AVX2 static void dot4_q8_0_q8_0(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q8_0 *a = w;
    const ks_block_q8_0 *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_0 *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float dw = h2f(a[i].d);
        const __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        for (int k = 0; k < 4; k++) {
            const __m256 d = _mm256_set1_ps(dw * h2f(b[k][i].d));
            acc[k] = _mm256_fmadd_ps(d, dot_i8_signed(qa, _mm256_loadu_si256((const __m256i *)b[k][i].qs)), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) out[k * os] = hsum_ps(acc[k]);
}

/* ---- Q5_0 and k-quants, in llama.cpp's AVX2 arithmetic (matmul_ref.c spells it out) ---- */

KS_AVX2 static inline __m256i q5_0_bytes(const ks_block_q5_0 *a) {
    uint32_t qh;
    memcpy(&qh, a->qh, 4);
    /* byte e gets bit e of qh: 0xff where the bit is set */
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bits = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    bits = _mm256_cmpeq_epi8(_mm256_or_si256(bits, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)), _mm256_set1_epi64x(-1));
    /* value - 16 as int8: nibble | 0xf0 where the fifth bit is clear */
    return _mm256_or_si256(nibbles_32(a->qs), _mm256_andnot_si256(bits, _mm256_set1_epi8((char)0xF0)));
}

KS_AVX2 static void dot_q5_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q5_0 *a = w;
    const ks_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
        acc = _mm256_fmadd_ps(d, dot_i8_signed(q5_0_bytes(&a[i]), _mm256_loadu_si256((const __m256i *)b[i].qs)), acc);
    }
    *out = hsum_ps(acc);
}

KS_AVX2 static void dot4_q5_0_q8_0(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q5_0 *a = w;
    const ks_block_q8_0 *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_0 *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const float dw = h2f(a[i].d);
        const __m256i qa = q5_0_bytes(&a[i]);
        for (int k = 0; k < 4; k++) {
            const __m256 d = _mm256_set1_ps(dw * h2f(b[k][i].d));
            acc[k] = _mm256_fmadd_ps(d, dot_i8_signed(qa, _mm256_loadu_si256((const __m256i *)b[k][i].qs)), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) out[k * os] = hsum_ps(acc[k]);
}

/* q4_K block i of one weight row against activation rows b[0..nr): sums into acc/accm */
KS_AVX2 static inline void q4_K_block(const ks_block_q4_K *a, const ks_block_q8_K *const *b, int64_t i, int nr,
                                      __m256 *acc, __m128 *accm) {
    uint8_t sc8[8], m8[8];
    for (int j = 0; j < 8; j++) ks_q4_K_scale_min(j, a->scales, &sc8[j], &m8[j]);
    const __m128i sc16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc8)); /* 8 x int16 */
    const __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m8));
    const __m256i scales = _mm256_set_m128i(sc16, sc16);
    __m256i q4l[4], q4h[4];
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int j = 0; j < 4; j++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * j));
        q4l[j] = _mm256_and_si256(bits, m4);
        q4h[j] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
    }
    const float dw = h2f(a->d), mw = h2f(a->dmin);
    for (int k = 0; k < nr; k++) {
        const ks_block_q8_K *y = &b[k][i];
        const float d = y->d * dw, dmin = -y->d * mw;
        const __m256i q8sums = _mm256_loadu_si256((const __m256i *)y->bsums);
        const __m128i q8s = _mm_hadd_epi16(_mm256_castsi256_si128(q8sums), _mm256_extracti128_si256(q8sums, 1));
        accm[k] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(_mm_madd_epi16(m16, q8s)), accm[k]);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            /* low nibbles are sub-block 2j, high nibbles 2j+1: broadcast that int16 scale */
            const __m256i scale_l = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
            const __m256i scale_h = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
            const __m256i p16l = _mm256_madd_epi16(scale_l, _mm256_maddubs_epi16(q4l[j], _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j))));
            const __m256i p16h = _mm256_madd_epi16(scale_h, _mm256_maddubs_epi16(q4h[j], _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j + 32))));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16l, p16h));
        }
        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[k]);
    }
}

KS_AVX2 static inline float q4_K_finish(__m256 acc, __m128 accm) {
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
    return hsum_ps(acc) + _mm_cvtss_f32(accm);
}

KS_AVX2 static void dot_q4_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q8_K *b = x;
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) q4_K_block((const ks_block_q4_K *)w + i, &b, i, 1, &acc, &accm);
    *out = q4_K_finish(acc, accm);
}

KS_AVX2 static void dot4_q4_K_q8_K(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q8_K *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_K *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 accm[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t i = 0; i < n / QK_K; i++) q4_K_block((const ks_block_q4_K *)w + i, b, i, 4, acc, accm);
    for (int k = 0; k < 4; k++) out[k * os] = q4_K_finish(acc[k], accm[k]);
}

/* q6_K block against nr activation rows */
KS_AVX2 static inline void q6_K_block(const ks_block_q6_K *a, const ks_block_q8_K *const *b, int64_t i, int nr,
                                      __m256 *acc) {
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    __m256i q6[8], sc16[8];
    const __m128i scales = _mm_loadu_si128((const __m128i *)a->scales);
    for (int j = 0; j < 2; j++) {
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * j));
        const __m256i b2 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * j + 32));
        const __m256i bh = _mm256_loadu_si256((const __m256i *)(a->qh + 32 * j));
        q6[4 * j + 0] = _mm256_or_si256(_mm256_and_si256(b1, m15), _mm256_slli_epi16(_mm256_and_si256(bh, m3), 4));
        q6[4 * j + 1] = _mm256_or_si256(_mm256_and_si256(b2, m15), _mm256_slli_epi16(_mm256_and_si256(bh, _mm256_set1_epi8(12)), 2));
        q6[4 * j + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m15), _mm256_and_si256(bh, _mm256_set1_epi8(48)));
        q6[4 * j + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b2, 4), m15),
                                        _mm256_srli_epi16(_mm256_and_si256(bh, _mm256_set1_epi8((char)0xC0)), 2));
    }
    for (int c = 0; c < 8; c++) /* chunk c of 32: scales 2c (first 16 bytes) and 2c+1, as int16 */
        sc16[c] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, _mm_set_epi64x(0x0101010101010101LL * (2 * c + 1), 0x0101010101010101LL * (2 * c))));
    const __m256i scales_16 = _mm256_cvtepi8_epi16(scales);
    const float dw = h2f(a->d);
    for (int k = 0; k < nr; k++) {
        const ks_block_q8_K *y = &b[k][i];
        const __m256i sub = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), scales_16), 5);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i p = _mm256_madd_epi16(sc16[c], _mm256_maddubs_epi16(q6[c], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * c))));
            sumi = _mm256_add_epi32(sumi, p);
        }
        sumi = _mm256_sub_epi32(sumi, sub);
        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi), acc[k]);
    }
}

KS_AVX2 static void dot_q6_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q8_K *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) q6_K_block((const ks_block_q6_K *)w + i, &b, i, 1, &acc);
    *out = hsum_ps(acc);
}

KS_AVX2 static void dot4_q6_K_q8_K(int64_t n, float *out, int64_t os, const void *w, const void *x, size_t xs) {
    const ks_block_q8_K *b[4];
    for (int k = 0; k < 4; k++) b[k] = (const ks_block_q8_K *)((const char *)x + k * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / QK_K; i++) q6_K_block((const ks_block_q6_K *)w + i, b, i, 4, acc);
    for (int k = 0; k < 4; k++) out[k * os] = hsum_ps(acc[k]);
}

/* activation quantizers: the scalar reference's arithmetic on 8 lanes (amax by max
 * of |x|, d = amax/127 and id = 127/amax in float, round to nearest even) */
KS_AVX2 static inline float amax32(const float *v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(v));
    for (int j = 8; j < 32; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)));
    __m128 h = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* 32 floats * id rounded to int8 in qs; returns the sum of the codes */
KS_AVX2 static inline int quant32(const float *v, float id, int8_t *qs) {
    const __m256 mul = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; j++)
        q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * j), mul),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i t = _mm_add_epi32(_mm256_extracti128_si256(s, 1), _mm256_castsi256_si128(s));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
    /* pack 32 x int32 -> int8 in order (packs interleave 128-bit lanes: fix with a permute) */
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ord = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, ord);
    return _mm_cvtsi128_si32(t);
}

KS_AVX2 static void act_q8_0(const float *x, void *dst, int64_t n) {
    ks_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float amax = amax32(x + i * QK8_0);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        b[i].d = _cvtss_sh(d, 0);
        quant32(x + i * QK8_0, id, b[i].qs);
    }
}

KS_AVX2 static void act_q8_1(const float *x, void *dst, int64_t n) {
    ks_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const float amax = amax32(x + i * QK8_1);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        const int sum = quant32(x + i * QK8_1, id, b[i].qs);
        b[i].d = _cvtss_sh(d, 0);
        b[i].s = _cvtss_sh(d * (float)sum, 0);
    }
}

/* ks_quantize_act_q8s (packed.h) on AVX2: the same codes and scale as act_q8_0; the sum is
 * taken over the stored bytes (NaN or infinite inputs store -128, whatever quant32 summed) */
KS_AVX2 static void act_q8s(const float *x, void *dst, int64_t n) {
    ks_block_q8s *b = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        const float amax = amax32(x + i * 32);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        quant32(x + i * 32, id, b[i].qs);
        const __m256i q = _mm256_loadu_si256((const __m256i *)b[i].qs);
        const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
        __m128i t = _mm_add_epi32(_mm256_extracti128_si256(s32, 1), _mm256_castsi256_si128(s32));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
        const int sum = _mm_cvtsi128_si32(t);
        b[i].d = _cvtsh_ss(_cvtss_sh(d, 0));
        b[i].s = sum;
        b[i].sd = _cvtsh_ss(_cvtss_sh(d * (float)sum, 0));
        b[i].pad = 0;
    }
}

void ks_quantize_act_q8s_avx2(const float *x, void *dst, int64_t n) {
    if (ks_matmul_avx2_table()) act_q8s(x, dst, n);
    else ks_quantize_act_q8s(x, dst, n);
}

KS_AVX2 static void dot_f16(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i))),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i))), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8))),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8))), acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += h2f(a[i]) * h2f(b[i]);
    *out = s;
}

KS_AVX2 static inline __m256 bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
KS_AVX2 static void dot_bf16(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(bf16x8(a + i), bf16x8(b + i), acc);
    float s = hsum_ps(acc);
    for (; i < n; i++) s += ks_bf16_to_fp32(a[i]) * ks_bf16_to_fp32(b[i]);
    *out = s;
}

KS_AVX2 static void dot_f32(int64_t n, float *out, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    *out = s;
}

static ks_matmul_traits avx2_table[KS_DTYPE_COUNT];

const ks_matmul_traits *ks_matmul_avx2_table(void) {
    static int state; /* 0 unknown, 1 yes, -1 no */
    if (state == 0) {
        bool ok = ks_cpu_has(KS_CPU_AVX2) && ks_cpu_has(KS_CPU_FMA) && ks_cpu_has(KS_CPU_F16C);
        if (ok) {
            for (int t = 0; t < KS_DTYPE_COUNT; t++) avx2_table[t] = ks_matmul_ref_table[t];
            avx2_table[KS_DTYPE_F32].vec_dot = dot_f32;
            avx2_table[KS_DTYPE_F16].vec_dot = dot_f16;
            avx2_table[KS_DTYPE_BF16].vec_dot = dot_bf16;
            avx2_table[KS_DTYPE_Q4_0].vec_dot = dot_q4_0_q8_0;
            avx2_table[KS_DTYPE_Q4_1].vec_dot = dot_q4_1_q8_1;
            avx2_table[KS_DTYPE_Q8_0].vec_dot = dot_q8_0_q8_0;
            avx2_table[KS_DTYPE_Q4_0].vec_dot4 = dot4_q4_0_q8_0;
            avx2_table[KS_DTYPE_Q4_0].from_float = act_q8_0;
            avx2_table[KS_DTYPE_Q8_0].from_float = act_q8_0;
            avx2_table[KS_DTYPE_Q4_1].from_float = act_q8_1;
            avx2_table[KS_DTYPE_Q4_1].vec_dot4 = dot4_q4_1_q8_1;
            avx2_table[KS_DTYPE_Q8_0].vec_dot4 = dot4_q8_0_q8_0;
            avx2_table[KS_DTYPE_Q5_0].vec_dot = dot_q5_0_q8_0;
            avx2_table[KS_DTYPE_Q5_0].vec_dot4 = dot4_q5_0_q8_0;
            avx2_table[KS_DTYPE_Q5_0].from_float = act_q8_0;
            avx2_table[KS_DTYPE_Q4_K].vec_dot = dot_q4_K_q8_K;
            avx2_table[KS_DTYPE_Q4_K].vec_dot4 = dot4_q4_K_q8_K;
            avx2_table[KS_DTYPE_Q6_K].vec_dot = dot_q6_K_q8_K;
            avx2_table[KS_DTYPE_Q6_K].vec_dot4 = dot4_q6_K_q8_K;
        }
        state = ok ? 1 : -1;
    }
    return state == 1 ? avx2_table : NULL;
}
#else
const ks_matmul_traits *ks_matmul_avx2_table(void) { return NULL; }
void ks_quantize_act_q8s_avx2(const float *x, void *dst, int64_t n) { ks_quantize_act_q8s(x, dst, n); }
#endif

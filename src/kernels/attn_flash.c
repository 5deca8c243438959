/* attn_flash.c - flash attention (kernels.h, ks_attn_flash): keys in tiles of T rows,
 * each tile of K and V widened to float once and used by every query of the block;
 * scores, an online softmax (running max m and sum l, the accumulator rescaled by
 * e^(m_old - m_new)) and p.v in FP32. Tiles outside every query's range, or masked for
 * all of them, are skipped. The driver here is plain C; the per-tile steps are SIMD,
 * written once in attn_flash_simd.h and instantiated for AVX2 and AVX-512 below.
 * ks_attn_flash_ref is the plain definition (two passes, double) the tests hold it to.
 *
 * Scratch (floats, each part 64-byte aligned): K tile [T][hd], V tile [T][hd],
 * scores [QB][T], m [QB], l [QB], alpha [QB]; the reference uses its first 4 hd floats.
 */
#include <math.h>
#include <string.h>

#include "base/cpu.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"

/* rows per key tile: K and V tiles of at most 32 KiB each, a multiple of 16 rows */
static int64_t tile_rows(int64_t hd) {
    const int64_t t = 8192 / (hd > 0 ? hd : 1) / 16 * 16;
    return t < 16 ? 16 : t > 64 ? 64 : t;
}

static int64_t up16(int64_t n) { return (n + 15) / 16 * 16; }
static int64_t clamp(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

size_t ks_attn_flash_scratch_bytes(int64_t n_q, int64_t hd) {
    const int64_t qb = n_q < KS_ATTN_QB ? (n_q > 0 ? n_q : 1) : KS_ATTN_QB, t = tile_rows(hd);
    const int64_t flash = 2 * t * up16(hd) + qb * t + 3 * up16(qb), ref = 4 * up16(hd);
    return (size_t)(flash > ref ? flash : ref) * sizeof(float);
}

/* ---- reference ---- */
static int64_t q_lo(const ks_attn_args *a, int64_t i) { return a->lo ? a->lo[i] : 0; }
static int64_t q_hi(const ks_attn_args *a, int64_t i) { return a->hi ? a->hi[i] : a->n_kv; }

static void row_to_float(const ks_attn_args *a, const void *base, int64_t j, float *out) {
    const uint8_t *row = (const uint8_t *)base + (size_t)j * a->kv_row_bytes;
    if (a->kv_type == KS_DTYPE_F32) memcpy(out, row, (size_t)a->hd * sizeof(float));
    else ks_dtype_get(a->kv_type)->to_float(row, out, a->hd);
}

/* score of query i against row j in double; -INFINITY where masked */
static double ref_score(const ks_attn_args *a, int64_t i, int64_t j, float *krow) {
    row_to_float(a, a->k, j, krow);
    double s = 0.0;
    for (int64_t d = 0; d < a->hd; d++) s += (double)a->q[i][d] * krow[d];
    s *= a->scale;
    if (a->softcap > 0.0f) s = a->softcap * tanh(s / a->softcap);
    return a->mask ? s + a->mask[i * a->mask_stride + j] : s;
}

void ks_attn_flash_ref(const ks_attn_args *a, void *scratch) {
    const int64_t hd = a->hd;
    double *acc = scratch;
    float *krow = (float *)scratch + 2 * up16(hd), *vrow = krow + up16(hd);
    for (int64_t i = 0; i < a->n_q; i++) {
        const int64_t lo = q_lo(a, i), hi = q_hi(a, i);
        double m = -INFINITY, l = 0.0;
        for (int64_t j = lo; j < hi; j++) m = fmax(m, ref_score(a, i, j, krow));
        m = (float)m; /* the partial's max as the caller sees it */
        memset(acc, 0, (size_t)hd * sizeof *acc);
        for (int64_t j = lo; j < hi && m > -INFINITY; j++) {
            const double p = exp(ref_score(a, i, j, krow) - m);
            row_to_float(a, a->v, j, vrow);
            for (int64_t d = 0; d < hd; d++) acc[d] += p * vrow[d];
            l += p;
        }
        const double norm = a->m_out || l == 0.0 ? 1.0 : 1.0 / l;
        for (int64_t d = 0; d < hd; d++) a->o[i][d] = (float)(acc[d] * norm);
        if (a->m_out) a->m_out[i] = (float)m, a->l_out[i] = (float)l;
    }
}

void ks_attn_merge(float *o, const float *const *o_part, const float *m, const float *l, int64_t n_split,
                   int64_t hd) {
    float mx = -INFINITY, sum = 0.0f;
    for (int64_t s = 0; s < n_split; s++) mx = m[s] > mx ? m[s] : mx;
    for (int64_t s = 0; s < n_split; s++) sum += m[s] == -INFINITY ? 0.0f : expf(m[s] - mx) * l[s];
    for (int64_t d = 0; d < hd; d++) {
        float acc = 0.0f;
        for (int64_t s = 0; s < n_split; s++) acc += m[s] == -INFINITY ? 0.0f : expf(m[s] - mx) * o_part[s][d];
        o[d] = sum > 0.0f ? acc / sum : 0.0f;
    }
}

/* ---- the tiled kernel: one ISA's per-tile steps (attn_flash_simd.h) ---- */
typedef struct flash_isa {
    void (*widen)(float *dst, const uint8_t *src, size_t row_bytes, uint32_t type, int64_t nt, int64_t hd);
    /* qk/pv on float tiles (ldk, ldv in floats); qk_h/pv_h on F16 cache rows (in halves) */
    void (*qk)(float *s, int64_t lds, const float *const *q, int64_t nq, const void *k, int64_t ldk, int64_t nt,
               int64_t hd);
    float (*softmax)(float *s, int64_t n, int64_t a, int64_t b, const float *mask, float scale, float softcap,
                     float *m, float *l);
    void (*pv)(float *const *o, const float *alpha, int64_t nq, const float *p, int64_t ldp, const void *v,
               int64_t ldv, int64_t nt, int64_t hd);
    void (*qk_h)(float *s, int64_t lds, const float *const *q, int64_t nq, const void *k, const void *v, int64_t ldk,
                 int64_t nt, int64_t hd);
    void (*pv_h)(float *const *o, const float *alpha, int64_t nq, const float *p, int64_t ldp, const void *v,
                 int64_t ldv, int64_t nt, int64_t hd);
} flash_isa;

/* F16 rows are read in place, without widening the tile, when few queries share each key
 * (generation: the query heads of one kv head): widening costs a store and a reload per
 * value that only these few queries would amortize */
#define FLASH_DIRECT_NQ 8

/* does any query of the block see a row of [j0, j0 + nt)? */
static bool tile_visible(const ks_attn_args *a, int64_t i0, int64_t nq, int64_t j0, int64_t nt) {
    for (int64_t i = i0; i < i0 + nq; i++) {
        const int64_t lo = q_lo(a, i) > j0 ? q_lo(a, i) : j0, hi = q_hi(a, i) < j0 + nt ? q_hi(a, i) : j0 + nt;
        if (lo >= hi) continue;
        if (!a->mask) return true;
        const float *mr = a->mask + i * a->mask_stride;
        for (int64_t j = lo; j < hi; j++)
            if (mr[j] != -INFINITY) return true;
    }
    return false;
}

/* rows [j0, j0 + nt) of a cache as floats: the rows themselves (F32) or widened into buf */
static const float *tile_rows_f32(const flash_isa *x, const ks_attn_args *a, const void *base, int64_t j0,
                                  int64_t nt, float *buf, int64_t *ld) {
    const uint8_t *src = (const uint8_t *)base + (size_t)j0 * a->kv_row_bytes;
    if (a->kv_type == KS_DTYPE_F32) {
        *ld = (int64_t)(a->kv_row_bytes / sizeof(float));
        return (const float *)(const void *)src;
    }
    x->widen(buf, src, a->kv_row_bytes, a->kv_type, nt, a->hd);
    *ld = a->hd;
    return buf;
}

/* queries [i0, i0 + nq), nq <= KS_ATTN_QB, over all their tiles */
static void flash_block(const flash_isa *x, const ks_attn_args *a, int64_t i0, int64_t nq, float *ws) {
    const int64_t hd = a->hd, t = tile_rows(hd);
    float *kt = ws, *vt = kt + t * up16(hd), *s = vt + t * up16(hd);
    float *m = s + nq * t, *l = m + up16(nq), *alpha = l + up16(nq);
    float *const *o = a->o + i0;
    int64_t jlo = a->n_kv, jhi = 0;
    for (int64_t i = 0; i < nq; i++) {
        m[i] = -INFINITY, l[i] = 0.0f;
        memset(o[i], 0, (size_t)hd * sizeof(float));
        if (q_lo(a, i0 + i) < q_hi(a, i0 + i)) {
            jlo = q_lo(a, i0 + i) < jlo ? q_lo(a, i0 + i) : jlo;
            jhi = q_hi(a, i0 + i) > jhi ? q_hi(a, i0 + i) : jhi;
        }
    }
    const bool direct = a->kv_type == KS_DTYPE_F16 && nq <= FLASH_DIRECT_NQ;
    for (int64_t j0 = jlo; j0 < jhi; j0 += t) {
        const int64_t nt = jhi - j0 < t ? jhi - j0 : t;
        if (!tile_visible(a, i0, nq, j0, nt)) continue;
        int64_t ldk, ldv;
        if (direct) x->qk_h(s, t, a->q + i0, nq, (const uint8_t *)a->k + (size_t)j0 * a->kv_row_bytes,
                            (const uint8_t *)a->v + (size_t)j0 * a->kv_row_bytes, (int64_t)(a->kv_row_bytes / 2), nt,
                            hd);
        else {
            const float *kp = tile_rows_f32(x, a, a->k, j0, nt, kt, &ldk);
            x->qk(s, t, a->q + i0, nq, kp, ldk, nt, hd);
        }
        for (int64_t i = 0; i < nq; i++) {
            const int64_t lo = clamp(q_lo(a, i0 + i) - j0, 0, nt), hi = clamp(q_hi(a, i0 + i) - j0, lo, nt);
            const float *mask = a->mask ? a->mask + (i0 + i) * a->mask_stride + j0 : NULL;
            alpha[i] = x->softmax(s + i * t, t, lo, hi, mask, a->scale, a->softcap, m + i, l + i);
        }
        if (direct) x->pv_h(o, alpha, nq, s, t, (const uint8_t *)a->v + (size_t)j0 * a->kv_row_bytes,
                            (int64_t)(a->kv_row_bytes / 2), nt, hd);
        else {
            const float *vp = tile_rows_f32(x, a, a->v, j0, nt, vt, &ldv);
            x->pv(o, alpha, nq, s, t, vp, ldv, nt, hd);
        }
    }
    for (int64_t i = 0; i < nq; i++) {
        if (a->m_out) {
            a->m_out[i0 + i] = m[i], a->l_out[i0 + i] = l[i];
            continue;
        }
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        for (int64_t d = 0; d < hd; d++) o[i][d] *= inv;
    }
}

static void flash_run(const flash_isa *x, const ks_attn_args *a, void *scratch) {
    for (int64_t i0 = 0; i0 < a->n_q; i0 += KS_ATTN_QB)
        flash_block(x, a, i0, a->n_q - i0 < KS_ATTN_QB ? a->n_q - i0 : KS_ATTN_QB, scratch);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* ---- AVX2: 8 floats ---- */
#define FA_T __attribute__((target("avx2,fma,f16c")))
#define FA(name) fa_##name##_avx2
#define FV __m256
#define FW 8
#define FA_QK_NQ 4
#define FA_QK_NK 2
#define FA_PV_NQ 4
#define FA_PV_NV 2
#define fv_ld(p) _mm256_loadu_ps(p)
#define fv_st(p, v) _mm256_storeu_ps(p, v)
#define fv_set1(x) _mm256_set1_ps(x)
#define fv_zero() _mm256_setzero_ps()
#define fv_add(a, b) _mm256_add_ps(a, b)
#define fv_sub(a, b) _mm256_sub_ps(a, b)
#define fv_mul(a, b) _mm256_mul_ps(a, b)
#define fv_div(a, b) _mm256_div_ps(a, b)
#define fv_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define fv_max(a, b) _mm256_max_ps(a, b)
#define fv_min(a, b) _mm256_min_ps(a, b)
#define fv_round(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define fv_sel_lt(a, b, x, y) _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define fv_ld_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define fv_ld_q8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define fv_pow2i(n) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define fv_hmax(v) hmax_avx2(v)
#define fv_hsum(v) hsum_avx2(v)
#define fv_hsum4(a, out) hsum4_avx2(a, out)

FA_T static inline float hmax_avx2(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}
FA_T static inline float hsum_avx2(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
/* out[c] = sum of a[c]'s lanes, c < 4 */
FA_T static inline void hsum4_avx2(const __m256 *a, float *out) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

#include "kernels/attn_flash_simd.h"
static const flash_isa flash_avx2 = {fa_widen_avx2, fa_qk_avx2, fa_softmax_avx2, fa_pv_avx2, fa_qk_h_avx2, fa_pv_h_avx2};
#undef FA_T
#undef FA
#undef FV
#undef FW
#undef FA_QK_NQ
#undef FA_QK_NK
#undef FA_PV_NQ
#undef FA_PV_NV
#undef fv_ld
#undef fv_st
#undef fv_set1
#undef fv_zero
#undef fv_add
#undef fv_sub
#undef fv_mul
#undef fv_div
#undef fv_fma
#undef fv_max
#undef fv_min
#undef fv_round
#undef fv_sel_lt
#undef fv_ld_f16
#undef fv_ld_q8
#undef fv_pow2i
#undef fv_hmax
#undef fv_hsum
#undef fv_hsum4

/* ---- AVX-512: 16 floats ---- */
#define FA_T __attribute__((target("avx512f,avx2,fma,f16c")))
#define FA(name) fa_##name##_avx512
#define FV __m512
#define FW 16
#define FA_QK_NQ 4
#define FA_QK_NK 4
#define FA_PV_NQ 4
#define FA_PV_NV 4
#define fv_ld(p) _mm512_loadu_ps(p)
#define fv_st(p, v) _mm512_storeu_ps(p, v)
#define fv_set1(x) _mm512_set1_ps(x)
#define fv_zero() _mm512_setzero_ps()
#define fv_add(a, b) _mm512_add_ps(a, b)
#define fv_sub(a, b) _mm512_sub_ps(a, b)
#define fv_mul(a, b) _mm512_mul_ps(a, b)
#define fv_div(a, b) _mm512_div_ps(a, b)
#define fv_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define fv_max(a, b) _mm512_max_ps(a, b)
#define fv_min(a, b) _mm512_min_ps(a, b)
#define fv_round(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define fv_sel_lt(a, b, x, y) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x)
#define fv_ld_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define fv_ld_q8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
#define fv_pow2i(n) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define fv_hmax(v) _mm512_reduce_max_ps(v)
#define fv_hsum(v) _mm512_reduce_add_ps(v)
#define fv_hsum4(a, out) hsum4_avx512(a, out)

FA_T static inline __m256 fold_512(__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
FA_T static inline void hsum4_avx512(const __m512 *a, float *out) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(fold_512(a[0]), fold_512(a[1])),
                                    _mm256_hadd_ps(fold_512(a[2]), fold_512(a[3])));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

#include "kernels/attn_flash_simd.h"
static const flash_isa flash_avx512 = {fa_widen_avx512, fa_qk_avx512, fa_softmax_avx512, fa_pv_avx512, fa_qk_h_avx512,
                                       fa_pv_h_avx512};

static void attn_flash_avx2(const ks_attn_args *a, void *scratch) { flash_run(&flash_avx2, a, scratch); }
static void attn_flash_avx512(const ks_attn_args *a, void *scratch) { flash_run(&flash_avx512, a, scratch); }
#endif

ks_attn_flash_fn ks_attn_flash_isa(const char *isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    const bool avx2 = ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA) && ks_cpu_has(KS_CPU_AVX2);
    if (!strcmp(isa, "avx512")) return avx2 && ks_cpu_has(KS_CPU_AVX512F) ? attn_flash_avx512 : NULL;
    if (!strcmp(isa, "avx2")) return avx2 ? attn_flash_avx2 : NULL;
#endif
    return !strcmp(isa, "scalar") ? ks_attn_flash_ref : NULL;
}

void ks_attn_flash(const ks_attn_args *a, void *scratch) {
#if defined(__x86_64__) && defined(__GNUC__) /* ks_cpu_has caches its answers: cheap per call */
    if (ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA) && ks_cpu_has(KS_CPU_AVX2)) {
        flash_run(ks_cpu_has(KS_CPU_AVX512F) ? &flash_avx512 : &flash_avx2, a, scratch);
        return;
    }
#endif
    ks_attn_flash_ref(a, scratch);
}

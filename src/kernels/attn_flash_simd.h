/* attn_flash_simd.h - the SIMD steps of flash attention, written once over a vector
 * type and included by attn_flash.c once per ISA. The includer defines:
 *   FA_T        target attribute of every function here
 *   FA(name)    name with the ISA's suffix
 *   FV, FW      vector type and floats per vector (FW divides 16)
 *   FA_QK_NQ, FA_QK_NK  queries x keys per q.k register block, each at most 4
 *   FA_PV_NQ, FA_PV_NV  queries x vectors of head dims per p.v register block, at most 4 x 4
 *   fv_*        primitives (loads, arithmetic, select, horizontal max / sum, 2^n)
 * No include guard: meant to be included more than once. */

#define FA_INLINE inline __attribute__((always_inline))

/* e^x, Cephes' expf: x = n ln2 + r (ln2 in two parts), e^r by a degree-6 polynomial on
 * |r| <= ln2 / 2, times 2^n; within 2 ulp. Below -87.3 (and -INFINITY) gives 0. */
FA_T static FA_INLINE FV FA(exp)(FV x) {
    const FV lo = fv_set1(-87.3f);
    const FV xc = fv_min(fv_max(x, lo), fv_set1(88.3f));
    const FV n = fv_round(fv_mul(xc, fv_set1(1.44269504088896341f)));
    FV r = fv_fma(n, fv_set1(-0.693359375f), xc);
    r = fv_fma(n, fv_set1(2.12194440e-4f), r);
    FV y = fv_set1(1.9875691500e-4f);
    y = fv_fma(y, r, fv_set1(1.3981999507e-3f));
    y = fv_fma(y, r, fv_set1(8.3334519073e-3f));
    y = fv_fma(y, r, fv_set1(4.1665795894e-2f));
    y = fv_fma(y, r, fv_set1(1.6666665459e-1f));
    y = fv_fma(y, r, fv_set1(5.0000001201e-1f));
    y = fv_fma(y, fv_mul(r, r), fv_add(r, fv_set1(1.0f)));
    return fv_sel_lt(x, lo, fv_zero(), fv_mul(y, fv_pow2i(n)));
}

/* tanh, Cephes' tanhf: an odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) above */
FA_T static FA_INLINE FV FA(tanh)(FV x) {
    const FV ax = fv_max(x, fv_sub(fv_zero(), x)), z = fv_mul(x, x);
    FV p = fv_set1(-5.70498872745e-3f);
    p = fv_fma(p, z, fv_set1(2.06390887954e-2f));
    p = fv_fma(p, z, fv_set1(-5.37397155531e-2f));
    p = fv_fma(p, z, fv_set1(1.33314422036e-1f));
    p = fv_fma(p, z, fv_set1(-3.33332819422e-1f));
    const FV small = fv_fma(fv_mul(p, z), x, x);
    const FV e = FA(exp)(fv_min(fv_add(ax, ax), fv_set1(88.0f)));
    const FV big = fv_sub(fv_set1(1.0f), fv_div(fv_set1(2.0f), fv_add(e, fv_set1(1.0f))));
    return fv_sel_lt(ax, fv_set1(0.625f), small, fv_sel_lt(x, fv_zero(), fv_sub(fv_zero(), big), big));
}

/* nt cache rows (row_bytes apart) of hd F16 or Q8_0 values as floats: dst[r * hd + d] */
FA_T static void FA(widen)(float *dst, const uint8_t *src, size_t row_bytes, uint32_t type, int64_t nt, int64_t hd) {
    for (int64_t r = 0; r < nt; r++) {
        const uint8_t *row = src + (size_t)r * row_bytes;
        float *out = dst + r * hd;
        if (type == KS_DTYPE_F16) {
            for (int64_t d = 0; d < hd; d += FW) fv_st(out + d, fv_ld_f16(row + 2 * d));
            continue;
        }
        for (int64_t b = 0; b < hd / QK8_0; b++) { /* Q8_0: value = d * q, as ggml dequantizes */
            const uint8_t *blk = row + (size_t)b * sizeof(ks_block_q8_0);
            uint16_t dh;
            memcpy(&dh, blk, sizeof dh);
            const FV sc = fv_set1(ks_fp16_to_fp32(dh));
            for (int e = 0; e < QK8_0; e += FW) fv_st(out + b * QK8_0 + e, fv_mul(sc, fv_ld_q8(blk + 2 + e)));
        }
    }
}

/* FW values at element idx of a K or V tile: float rows, or (h) F16 cache rows widened on the
 * fly (generation: a few queries per key, where widening the tile first costs more than it saves) */
#define FA_LD(h, base, idx) ((h) ? fv_ld_f16((const uint16_t *)(base) + (idx)) : fv_ld((const float *)(base) + (idx)))

/* s[i * lds + c] = q[i] . k[c * ldk] for nq <= FA_QK_NQ queries and nk <= FA_QK_NK keys (ldk in
 * elements). Every call passes nq and nk as literals, so the loops unroll into registers. */
FA_T static FA_INLINE void FA(qk_block)(const int nq, const int nk, float *s, int64_t lds, const float *const *q,
                                        const void *k, int64_t ldk, int64_t hd, const int h) {
    FV acc[16];
    for (int i = 0; i < nq * nk; i++) acc[i] = fv_zero();
    for (int64_t d = 0; d < hd; d += FW) {
        FV kv[4];
        for (int c = 0; c < nk; c++) kv[c] = FA_LD(h, k, c * ldk + d);
        for (int i = 0; i < nq; i++) {
            const FV qv = fv_ld(q[i] + d);
            for (int c = 0; c < nk; c++) acc[i * nk + c] = fv_fma(qv, kv[c], acc[i * nk + c]);
        }
    }
    for (int i = nq * nk; i < (nq * nk + 3) / 4 * 4; i++) acc[i] = fv_zero();
    for (int g = 0; g < nq * nk; g += 4) {
        float sum4[4];
        fv_hsum4(acc + g, sum4);
        for (int e = g; e < g + 4 && e < nq * nk; e++) s[(e / nk) * lds + e % nk] = sum4[e - g];
    }
}

/* the rows [j, j + nk) of queries [0, mq): literal sizes for qk_block */
#define FA_QK_CASE(mq, nk)                                                                                   \
    do {                                                                                                     \
        if (FA_QK_NQ >= 4 && (mq) == 4) FA(qk_block)(FA_QK_NQ >= 4 ? 4 : 1, nk, sp, lds, qi, kc, ldk, hd, h); \
        else if (FA_QK_NQ >= 3 && (mq) == 3) FA(qk_block)(FA_QK_NQ >= 3 ? 3 : 1, nk, sp, lds, qi, kc, ldk, hd, h); \
        else if ((mq) == 2) FA(qk_block)(2, nk, sp, lds, qi, kc, ldk, hd, h);                               \
        else FA(qk_block)(1, nk, sp, lds, qi, kc, ldk, hd, h);                                              \
    } while (0)

/* scores s[i * lds + j] = q[i] . k_j for i < nq, j < nt (k_j at element j * ldk of k) */
FA_T static FA_INLINE void FA(qk_any)(float *s, int64_t lds, const float *const *q, int64_t nq, const void *k,
                                      int64_t ldk, int64_t nt, int64_t hd, const int h, const void *v) {
    for (int64_t i = 0; i < nq; i += FA_QK_NQ) {
        const int mq = nq - i < FA_QK_NQ ? (int)(nq - i) : FA_QK_NQ;
        const float *const *qi = q + i;
        int64_t j = 0;
        for (; j + FA_QK_NK <= nt; j += FA_QK_NK) {
            float *sp = s + i * lds + j;
            if (h && i == 0) /* F16 cache rows lie a cache row apart: keys KS_ATTN_PF ahead, this tile's values */
                for (int c = 0; c < FA_QK_NK; c++) {
                    ks_prefetch_row((const uint16_t *)k + (j + c + KS_ATTN_PF) * ldk, (size_t)hd * 2);
                    ks_prefetch_row((const uint16_t *)v + (j + c) * ldk, (size_t)hd * 2);
                }
            const void *kc = h ? (const void *)((const uint16_t *)k + j * ldk) : (const void *)((const float *)k + j * ldk);
            FA_QK_CASE(mq, FA_QK_NK);
        }
        for (; j < nt; j++) { /* the last keys one by one */
            float *sp = s + i * lds + j;
            const void *kc = h ? (const void *)((const uint16_t *)k + j * ldk) : (const void *)((const float *)k + j * ldk);
            FA_QK_CASE(mq, 1);
        }
    }
}
#undef FA_QK_CASE
FA_T static void FA(qk)(float *s, int64_t lds, const float *const *q, int64_t nq, const void *k, int64_t ldk,
                        int64_t nt, int64_t hd) {
    FA(qk_any)(s, lds, q, nq, k, ldk, nt, hd, 0, NULL);
}
/* F16 cache rows in place; v: the tile's value rows (same ldk), prefetched alongside */
FA_T static void FA(qk_h)(float *s, int64_t lds, const float *const *q, int64_t nq, const void *k, const void *v,
                          int64_t ldk, int64_t nt, int64_t hd) {
    FA(qk_any)(s, lds, q, nq, k, ldk, nt, hd, 1, v);
}

/* One query's tile of scores s[0, n) (n a multiple of 16, entries outside [a, b) ignored) into
 * probabilities: scale, softcap, mask, e^(s - m) with the running max m and sum l updated.
 * Returns the factor the query's accumulator is to be rescaled by. */
FA_T static float FA(softmax)(float *s, int64_t n, int64_t a, int64_t b, const float *mask, float scale,
                              float softcap, float *m, float *l) {
    const FV sc = fv_set1(softcap > 0.0f ? scale / softcap : scale), cap = fv_set1(softcap);
    for (int64_t j = 0; j < n; j += FW) {
        const FV x = fv_mul(fv_ld(s + j), sc);
        fv_st(s + j, softcap > 0.0f ? fv_mul(cap, FA(tanh)(x)) : x);
    }
    for (int64_t j = 0; j < a; j++) s[j] = -INFINITY;
    for (int64_t j = b > a ? b : a; j < n; j++) s[j] = -INFINITY;
    int64_t j = a;
    if (mask) {
        for (; j + FW <= b; j += FW) fv_st(s + j, fv_add(fv_ld(s + j), fv_ld(mask + j)));
        for (; j < b; j++) s[j] += mask[j];
    }
    FV mx = fv_set1(-INFINITY);
    for (j = 0; j < n; j += FW) mx = fv_max(mx, fv_ld(s + j));
    const float m_old = *m, m_tile = fv_hmax(mx), m_new = m_tile > m_old ? m_tile : m_old;
    if (m_new == -INFINITY) { /* nothing visible yet: the accumulator stays zero */
        memset(s, 0, (size_t)n * sizeof *s);
        return 1.0f;
    }
    const FV mv = fv_set1(m_new);
    FV sum = fv_zero();
    for (j = 0; j < n; j += FW) {
        const FV p = FA(exp)(fv_sub(fv_ld(s + j), mv));
        fv_st(s + j, p);
        sum = fv_add(sum, p);
    }
    const float alpha = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
    *l = *l * alpha + fv_hsum(sum), *m = m_new;
    return alpha;
}

/* o[i][d0 + FW c] = alpha[i] o[i][...] + sum_j p[i * ldp + j] v[j * ldv + d0 + FW c] for a register block */
FA_T static FA_INLINE void FA(pv_block)(const int nq, const int nv, float *const *o, int64_t d0, const float *alpha,
                                        const float *p, int64_t ldp, const void *v, int64_t ldv, int64_t nt,
                                        const int h) {
    FV acc[4][4];
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < nv; c++) acc[i][c] = fv_mul(fv_ld(o[i] + d0 + c * FW), fv_set1(alpha[i]));
    for (int64_t j = 0; j < nt; j++) {
        FV vv[4];
        for (int c = 0; c < nv; c++) vv[c] = FA_LD(h, v, j * ldv + d0 + c * FW);
        for (int i = 0; i < nq; i++) {
            const FV pj = fv_set1(p[i * ldp + j]);
            for (int c = 0; c < nv; c++) acc[i][c] = fv_fma(pj, vv[c], acc[i][c]);
        }
    }
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < nv; c++) fv_st(o[i] + d0 + c * FW, acc[i][c]);
}

FA_T static FA_INLINE void FA(pv_rows)(const int nq, float *const *o, const float *alpha, const float *p, int64_t ldp,
                                       const void *v, int64_t ldv, int64_t nt, int64_t hd, const int h) {
    int64_t d0 = 0;
    for (; d0 + FA_PV_NV * FW <= hd; d0 += FA_PV_NV * FW) FA(pv_block)(nq, FA_PV_NV, o, d0, alpha, p, ldp, v, ldv, nt, h);
    for (; d0 < hd; d0 += FW) FA(pv_block)(nq, 1, o, d0, alpha, p, ldp, v, ldv, nt, h);
}

/* o[i] = alpha[i] o[i] + sum_j p[i * ldp + j] v_j for i < nq, j < nt (v_j at element j * ldv of v) */
FA_T static FA_INLINE void FA(pv_any)(float *const *o, const float *alpha, int64_t nq, const float *p, int64_t ldp,
                                      const void *v, int64_t ldv, int64_t nt, int64_t hd, const int h) {
    for (int64_t i = 0; i < nq; i += FA_PV_NQ) {
        const int mq = nq - i < FA_PV_NQ ? (int)(nq - i) : FA_PV_NQ;
        if (FA_PV_NQ >= 4 && mq == 4) FA(pv_rows)(4, o + i, alpha + i, p + i * ldp, ldp, v, ldv, nt, hd, h);
        else if (FA_PV_NQ >= 3 && mq == 3) FA(pv_rows)(3, o + i, alpha + i, p + i * ldp, ldp, v, ldv, nt, hd, h);
        else if (mq == 2) FA(pv_rows)(2, o + i, alpha + i, p + i * ldp, ldp, v, ldv, nt, hd, h);
        else FA(pv_rows)(1, o + i, alpha + i, p + i * ldp, ldp, v, ldv, nt, hd, h);
    }
}
FA_T static void FA(pv)(float *const *o, const float *alpha, int64_t nq, const float *p, int64_t ldp, const void *v,
                        int64_t ldv, int64_t nt, int64_t hd) {
    FA(pv_any)(o, alpha, nq, p, ldp, v, ldv, nt, hd, 0);
}
FA_T static void FA(pv_h)(float *const *o, const float *alpha, int64_t nq, const float *p, int64_t ldp, const void *v,
                          int64_t ldv, int64_t nt, int64_t hd) {
    FA(pv_any)(o, alpha, nq, p, ldp, v, ldv, nt, hd, 1);
}

#undef FA_INLINE
#undef FA_LD

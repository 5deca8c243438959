/* packed_avx512.c - AVX-512 VNNI GEMM on packed Q4_0 / Q8_0 weights (packed.h).
 *
 * One 512-bit lane per weight row: a tile is 16 rows x NC tokens. Per 32-input
 * block, eight vpdpbusd (unsigned weight bytes x four activation bytes
 * broadcast) give each row's exact integer dot product, started from the
 * offset correction (-8 or -128 times the activation block's sum); then one
 * convert and one FMA per token fold it into the float accumulator in the
 * reference order. Bit-identical to ks_packed_gemm_ref.
 *
 * Cache blocking: a thread sweeps its panels in groups that fit in L2 and, for
 * each group, walks the tokens in tiles of 8 so a tile's activations stay in
 * L1 while the group's weights are reused from L2; weights come from DRAM once. */
#include "base/cpu.h"
#include "kernels/packed.h"
#include "tensor/dtype.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define KS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni,f16c,fma")))
#define KS_INLINE inline __attribute__((always_inline))

/* generation (one token) streams each weight once: ask for the record KS_PF_RECS ahead (it may
 * lie in the next panel, which follows in memory; a prefetch past the end is harmless). The
 * 32-block kernels ask for one record per record, 12 ahead (o + 9 rec, + 3): smoother than
 * four records every fourth, 1.1B Q4_0 tg 43.6 -> 45.5 tok/s (Q8_0, Q4_1 unchanged).
 * The hint is T1 (into L2), not NTA: on a Sapphire Rapids VM prefetchnta cut 1.1B Q8_0
 * generation to 9.8 tok/s where T1 gives 26.5 and no software prefetch 24.7 (SmolLM2 Q4_1:
 * 106 / 321 / 263); on the AMD EPYC of earlier sessions NTA and T1 were within noise. */
#ifndef KS_PF_RECS
#define KS_PF_RECS 3
#endif
static KS_INLINE void prefetch_ahead(const uint8_t *o, size_t rec) {
    const uint8_t *pf = o + KS_PF_RECS * rec;
    for (size_t off = 0; off < rec; off += 64) __builtin_prefetch(pf + off, 0, 2);
}
/* the same for the k-quants' large records (2304 / 3360 bytes), a slice at a time: part
 * `part` of `parts` of the record KS_PF_RECS ahead. Asking for a whole record at once
 * stalls on the core's fill buffers (perf: 57% of the Q6_K GEMV at the instruction after
 * the prefetch burst on Sapphire Rapids) */
static KS_INLINE void prefetch_part(const uint8_t *o, size_t rec, int part, int parts) {
    const uint8_t *pf = o + KS_PF_RECS * rec;
    const size_t lines = (rec + 63) / 64, l0 = lines * (size_t)part / (size_t)parts, l1 = lines * (size_t)(part + 1) / (size_t)parts;
    for (size_t l = l0; l < l1; l++) __builtin_prefetch(pf + 64 * l, 0, 2);
}

KS_AVX512 static KS_INLINE void tile(const bool q4, const int nc, int64_t nb, const uint8_t *panel, size_t rec,
                                     const ks_block_q8s *x, float *y, int64_t ldy) {
    __m512 acc[8];
    for (int c = 0; c < nc; c++) acc[c] = _mm512_setzero_ps();
    const __m512i lo = _mm512_set1_epi8(0x0f);
    const int32_t off = q4 ? -8 : -128;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = panel + (size_t)b * rec;
        if (nc == 1 && q4) prefetch_ahead(o + 9 * rec, rec);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        __m512i u[8];
        if (q4) {
            for (int v = 0; v < 4; v++) {
                const __m512i V = _mm512_loadu_si512(o + 32 + 64 * v);
                u[v] = _mm512_and_si512(V, lo);
                u[v + 4] = _mm512_and_si512(_mm512_srli_epi16(V, 4), lo);
            }
        } else {
            for (int s = 0; s < 8; s++) { /* Q8_0 (544-byte records): a line per vector, not a burst:
                                              1.1B tg 26.3 -> 28.7 tok/s; SmolLM2, which fits in L3, -3%.
                                              Q4_0 / Q4_1 / Q5_0 keep the burst (spread: 1.1B unchanged,
                                              SmolLM2 -10%) */
                if (nc == 1) prefetch_part(o + 9 * rec, rec, s, 8);
                u[s] = _mm512_loadu_si512(o + 32 + 64 * s);
            }
        }
        for (int c = 0; c < nc; c++) {
            const ks_block_q8s *xb = x + (size_t)c * (size_t)nb + b;
            const int32_t *a32 = (const int32_t *)xb->qs;
            __m512i ia = _mm512_set1_epi32(off * xb->s);
            for (int s = 0; s < 8; s++) ia = _mm512_dpbusd_epi32(ia, u[s], _mm512_set1_epi32(a32[s]));
            const __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), sc, acc[c]);
        }
    }
    for (int c = 0; c < nc; c++) _mm512_storeu_ps(y + (size_t)c * (size_t)ldy, acc[c]);
}

/* Q4_1 in llama.cpp's eight-lane order (packed.h): per token eight float
 * accumulators, one per lane l = inputs 4l..4l+3, each the fma of one vpdpbusd */
KS_AVX512 static KS_INLINE void tile_q4_1(const int nc, int64_t nb, const uint8_t *panel, size_t rec,
                                          const ks_block_q8s *x, float *y, int64_t ldy) {
    __m512 acc[2][8], summs[2];
    for (int c = 0; c < nc; c++) {
        summs[c] = _mm512_setzero_ps();
        for (int l = 0; l < 8; l++) acc[c][l] = _mm512_setzero_ps();
    }
    const __m512i lo = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = panel + (size_t)b * rec;
        if (nc == 1) prefetch_ahead(o + 9 * rec, rec);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32)));
        __m512i u[8];
        for (int v = 0; v < 4; v++) {
            const __m512i V = _mm512_loadu_si512(o + 64 + 64 * v);
            u[v] = _mm512_and_si512(V, lo);
            u[v + 4] = _mm512_and_si512(_mm512_srli_epi16(V, 4), lo);
        }
        for (int c = 0; c < nc; c++) {
            const ks_block_q8s *xb = x + (size_t)c * (size_t)nb + b;
            const int32_t *a32 = (const int32_t *)xb->qs;
            summs[c] = _mm512_add_ps(summs[c], _mm512_mul_ps(mw, _mm512_set1_ps(xb->sd)));
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
            for (int l = 0; l < 8; l++) {
                const __m512i ia = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[l], _mm512_set1_epi32(a32[l]));
                acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(ia), acc[c][l]);
            }
        }
    }
    for (int c = 0; c < nc; c++) {
        const __m512 h = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][4]), _mm512_add_ps(acc[c][2], acc[c][6])),
                                       _mm512_add_ps(_mm512_add_ps(acc[c][1], acc[c][5]), _mm512_add_ps(acc[c][3], acc[c][7])));
        _mm512_storeu_ps(y + (size_t)c * (size_t)ldy, _mm512_add_ps(h, summs[c]));
    }
}

/* Q5_0 in llama.cpp's eight-lane vec_dot order: lane l's integer sum is the vpdpbusd of the
 * unsigned 5-bit codes started from -16 x (the lane's four activation bytes' sum) */
KS_AVX512 static KS_INLINE void tile_q5_0(const int nc, int64_t nb, const uint8_t *panel, size_t rec,
                                          const ks_block_q8s *x, float *y, int64_t ldy) {
    __m512 acc[2][8];
    for (int c = 0; c < nc; c++)
        for (int l = 0; l < 8; l++) acc[c][l] = _mm512_setzero_ps();
    const __m512i lo = _mm512_set1_epi8(0x0f), h16 = _mm512_set1_epi8(16);
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = panel + (size_t)b * rec;
        if (nc == 1) prefetch_ahead(o + 9 * rec, rec);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        uint64_t mk[8];
        memcpy(mk, o + 32, sizeof mk);
        __m512i u[8];
        for (int v = 0; v < 4; v++) {
            const __m512i V = _mm512_loadu_si512(o + 96 + 64 * v);
            u[v] = _mm512_mask_blend_epi8(mk[v], _mm512_and_si512(V, lo), _mm512_or_si512(_mm512_and_si512(V, lo), h16));
            const __m512i H = _mm512_and_si512(_mm512_srli_epi16(V, 4), lo);
            u[v + 4] = _mm512_mask_blend_epi8(mk[v + 4], H, _mm512_or_si512(H, h16));
        }
        for (int c = 0; c < nc; c++) {
            const ks_block_q8s *xb = x + (size_t)c * (size_t)nb + b;
            const int32_t *a32 = (const int32_t *)xb->qs;
            int32_t corr[16]; /* -16 x each lane's four activation bytes (lanes 8-15: zero) */
            _mm512_storeu_si512(corr, _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones,
                                                                            _mm512_zextsi256_si512(_mm256_loadu_si256(
                                                                                (const __m256i *)xb->qs))),
                                                        4));
            for (int l = 0; l < 8; l++) corr[l] = -corr[l];
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
            for (int l = 0; l < 8; l++) {
                const __m512i ia = _mm512_dpbusd_epi32(_mm512_set1_epi32(corr[l]), u[l], _mm512_set1_epi32(a32[l]));
                acc[c][l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(ia), acc[c][l]);
            }
        }
    }
    for (int c = 0; c < nc; c++) {
        const __m512 h = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][4]), _mm512_add_ps(acc[c][2], acc[c][6])),
                                       _mm512_add_ps(_mm512_add_ps(acc[c][1], acc[c][5]), _mm512_add_ps(acc[c][3], acc[c][7])));
        _mm512_storeu_ps(y + (size_t)c * (size_t)ldy, h);
    }
}

KS_AVX512 static void tiles_q5_0(int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8s *x, int64_t n_tok,
                                 float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile_q5_0(2, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
    if (t < n_tok) tile_q5_0(1, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
}

KS_AVX512 static void tiles_q4_1(int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8s *x, int64_t n_tok,
                                 float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile_q4_1(2, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
    if (t < n_tok) tile_q4_1(1, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
}

/* Q4_K in ggml_vec_dot_q4_K_q8_K's order (packed.h): per super-block and token, eight
 * integer lanes (lane k: inputs 4k..4k+3 of each 32-input chunk times the chunk's 6-bit
 * scale, by vpmaddubsw + vpdpwssd as ggml's maddubs + madd), folded into eight float
 * accumulators; four lanes of mins */
KS_AVX512 static KS_INLINE void tile_q4_K(const int nc, int64_t nb, const uint8_t *panel, size_t rec,
                                          const ks_block_q8_K *x, float *y, int64_t ldy) {
    __m512 acc[2][8], accm[2][4];
    for (int c = 0; c < nc; c++) {
        for (int k = 0; k < 8; k++) acc[c][k] = _mm512_setzero_ps();
        for (int l = 0; l < 4; l++) accm[c][l] = _mm512_setzero_ps();
    }
    const __m512i lo = _mm512_set1_epi8(0x0f), pair = _mm512_set1_epi32(0x10001);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = panel + (size_t)b * rec;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32)));
        const uint8_t *sc = o + 64, *mn = o + 192, *q = o + 320;
        __m512i sumi[2][8];
        for (int c = 0; c < nc; c++) {
            const ks_block_q8_K *xb = x + (size_t)c * (size_t)nb + b;
            const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(-xb->d), mw);
            for (int l = 0; l < 4; l++) {
                const int s0 = xb->bsums[4 * l] + xb->bsums[4 * l + 1], s1 = xb->bsums[4 * l + 2] + xb->bsums[4 * l + 3];
                const __m512i m0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(mn + 32 * l)));
                const __m512i m1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(mn + 32 * l + 16)));
                const __m512i prod = _mm512_add_epi32(_mm512_mullo_epi32(m0, _mm512_set1_epi32(s0)),
                                                      _mm512_mullo_epi32(m1, _mm512_set1_epi32(s1)));
                accm[c][l] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(prod), accm[c][l]);
            }
            for (int k = 0; k < 8; k++) sumi[c][k] = _mm512_setzero_si512();
        }
        for (int j = 0; j < 4; j++) {
            /* each row's 6-bit scale twice per 32-bit lane, for vpdpwssd */
            const __m512i scl = _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 32 * j))), pair);
            const __m512i sch = _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 32 * j + 16))), pair);
            for (int k = 0; k < 8; k++) {
                if (nc == 1) prefetch_part(o, rec, 8 * j + k, 32);
                const __m512i V = _mm512_loadu_si512(q + (j * 8 + k) * 64);
                const __m512i ul = _mm512_and_si512(V, lo), uh = _mm512_and_si512(_mm512_srli_epi16(V, 4), lo);
                for (int c = 0; c < nc; c++) {
                    const int32_t *a32 = (const int32_t *)x[(size_t)c * (size_t)nb + b].qs;
                    /* u8 x s8 pairs -> two int16 per row (|sum| <= 2 * 15 * 127, no saturation), then
                     * scale x int16 pairs -> int32: the row's 4-input sum times the chunk's scale */
                    const __m512i pl = _mm512_maddubs_epi16(ul, _mm512_set1_epi32(a32[16 * j + k]));
                    const __m512i ph = _mm512_maddubs_epi16(uh, _mm512_set1_epi32(a32[16 * j + 8 + k]));
                    sumi[c][k] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(sumi[c][k], pl, scl), ph, sch);
                }
            }
        }
        for (int c = 0; c < nc; c++) {
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(x[(size_t)c * (size_t)nb + b].d), dw);
            for (int k = 0; k < 8; k++) acc[c][k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[c][k]), acc[c][k]);
        }
    }
    for (int c = 0; c < nc; c++) {
        const __m512 h = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][4]), _mm512_add_ps(acc[c][2], acc[c][6])),
                                       _mm512_add_ps(_mm512_add_ps(acc[c][1], acc[c][5]), _mm512_add_ps(acc[c][3], acc[c][7])));
        const __m512 m = _mm512_add_ps(_mm512_add_ps(accm[c][0], accm[c][2]), _mm512_add_ps(accm[c][1], accm[c][3]));
        _mm512_storeu_ps(y + (size_t)c * (size_t)ldy, _mm512_add_ps(h, m));
    }
}

KS_AVX512 static void tiles_q4_K(int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8_K *x, int64_t n_tok,
                                 float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile_q4_K(2, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
    if (t < n_tok) tile_q4_K(1, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
}

/* signed int8 scales of 16 rows (one byte per row) as int16 pairs per 32-bit lane: (v, v),
 * or (a, b) for two scale rows */
KS_AVX512 static KS_INLINE __m512i s16_pair(const int8_t *a, const int8_t *b) {
    const __m512i va = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)a));
    const __m512i vb = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b));
    return _mm512_or_si512(_mm512_and_si512(va, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(vb, 16));
}

/* Q6_K in ggml_vec_dot_q6_K_q8_K's order: per super-block and token eight integer lanes
 * (maddubs of the 6-bit codes, times the sub-block's scale by vpdpwssd), less 32 x the
 * scaled bsums, folded into eight float accumulators */
KS_AVX512 static KS_INLINE void tile_q6_K(const int nc, int64_t nb, const uint8_t *panel, size_t rec,
                                          const ks_block_q8_K *x, float *y, int64_t ldy) {
    __m512 acc[2][8];
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 8; k++) acc[c][k] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(3);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = panel + (size_t)b * rec;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        const int8_t *sc = (const int8_t *)(o + 2 * KS_PACK_ROWS);
        const uint8_t *ql = o + 18 * KS_PACK_ROWS, *qh = ql + 128 * KS_PACK_ROWS;
        __m512i sumi[2][8];
        for (int c = 0; c < nc; c++) { /* start from -32 x (bsums . scales), as ggml subtracts it */
            const int16_t *bs = x[(size_t)c * (size_t)nb + b].bsums;
            for (int k = 0; k < 8; k++) {
                const int32_t pairv = (int32_t)(uint16_t)bs[2 * k] | (int32_t)((uint32_t)(uint16_t)bs[2 * k + 1] << 16);
                const __m512i corr = _mm512_dpwssd_epi32(_mm512_setzero_si512(),
                                                         s16_pair(sc + 2 * k * KS_PACK_ROWS, sc + (2 * k + 1) * KS_PACK_ROWS),
                                                         _mm512_set1_epi32(pairv));
                sumi[c][k] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(corr, 5));
            }
        }
        for (int j = 0; j < 2; j++) {
            __m512i scv[4][2]; /* chunk c: sub-blocks 8j+2c (lanes 0-3) and 8j+2c+1 (lanes 4-7) */
            for (int c = 0; c < 4; c++)
                for (int h = 0; h < 2; h++) {
                    const int8_t *row = sc + (8 * j + 2 * c + h) * KS_PACK_ROWS;
                    scv[c][h] = s16_pair(row, row);
                }
            for (int k = 0; k < 8; k++) {
                if (nc == 1) prefetch_part(o, rec, 8 * j + k, 16);
                const __m512i L0 = _mm512_loadu_si512(ql + ((j * 2 + 0) * 8 + k) * 64);
                const __m512i L1 = _mm512_loadu_si512(ql + ((j * 2 + 1) * 8 + k) * 64);
                const __m512i H = _mm512_loadu_si512(qh + (j * 8 + k) * 64);
                __m512i q[4];
                q[0] = _mm512_or_si512(_mm512_and_si512(L0, m4), _mm512_slli_epi16(_mm512_and_si512(H, m2), 4));
                q[1] = _mm512_or_si512(_mm512_and_si512(L1, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 2), m2), 4));
                q[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L0, 4), m4),
                                       _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 4), m2), 4));
                q[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L1, 4), m4),
                                       _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 6), m2), 4));
                const int h = k >= 4;
                for (int c = 0; c < nc; c++) {
                    const int32_t *a32 = (const int32_t *)x[(size_t)c * (size_t)nb + b].qs;
                    __m512i s0 = sumi[c][k];
                    for (int t = 0; t < 4; t++)
                        s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q[t], _mm512_set1_epi32(a32[32 * j + 8 * t + k])), scv[t][h]);
                    sumi[c][k] = s0;
                }
            }
        }
        for (int c = 0; c < nc; c++) {
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(x[(size_t)c * (size_t)nb + b].d), dw);
            for (int k = 0; k < 8; k++) acc[c][k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[c][k]), acc[c][k]);
        }
    }
    for (int c = 0; c < nc; c++) {
        const __m512 h = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][4]), _mm512_add_ps(acc[c][2], acc[c][6])),
                                       _mm512_add_ps(_mm512_add_ps(acc[c][1], acc[c][5]), _mm512_add_ps(acc[c][3], acc[c][7])));
        _mm512_storeu_ps(y + (size_t)c * (size_t)ldy, h);
    }
}

KS_AVX512 static void tiles_q6_K(int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8_K *x, int64_t n_tok,
                                 float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 2 <= n_tok; t += 2) tile_q6_K(2, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
    if (t < n_tok) tile_q6_K(1, nb, panel, rec, x + t * nb, y + t * ldy, ldy);
}

#define KS_TILES(Q4, NAME)                                                                                        \
    KS_AVX512 static void NAME(int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8s *x, int64_t n_tok, \
                               float *y, int64_t ldy) {                                                           \
        int64_t t = 0;                                                                                            \
        for (; t + 8 <= n_tok; t += 8) tile(Q4, 8, nb, panel, rec, x + t * nb, y + t * ldy, ldy);                 \
        if (t + 4 <= n_tok) tile(Q4, 4, nb, panel, rec, x + t * nb, y + t * ldy, ldy), t += 4;                    \
        if (t + 2 <= n_tok) tile(Q4, 2, nb, panel, rec, x + t * nb, y + t * ldy, ldy), t += 2;                    \
        if (t < n_tok) tile(Q4, 1, nb, panel, rec, x + t * nb, y + t * ldy, ldy);                                 \
    }
KS_TILES(true, tiles_q4_0)
KS_TILES(false, tiles_q8_0)

/* One token over S panels at once, panel i of the S at block b before block b + 1:
 * the thread's weights arrive as S sequential streams instead of one (bench/membw on a
 * Emerald Rapids VM: 2 threads x 1 stream read 13 GB/s, 2 x 4 streams 28 GB/s). Each
 * panel's arithmetic is tile()'s for one token, so the result is bit-identical to it. */
#ifndef KS_GEMV_STREAMS
#define KS_GEMV_STREAMS 4
#endif
KS_AVX512 static KS_INLINE void gemv_streams(const bool q4, int64_t nb, const uint8_t *const *pan, size_t rec,
                                             const ks_block_q8s *x, float *const *y) {
    enum { S = KS_GEMV_STREAMS };
    __m512 acc[S];
    for (int i = 0; i < S; i++) acc[i] = _mm512_setzero_ps();
    const __m512i lo = _mm512_set1_epi8(0x0f);
    const int32_t off = q4 ? -8 : -128;
    for (int64_t b = 0; b < nb; b++) {
        const ks_block_q8s *xb = x + b;
        const int32_t *a32 = (const int32_t *)xb->qs;
        __m512i a[8];
        for (int s = 0; s < 8; s++) a[s] = _mm512_set1_epi32(a32[s]);
        const __m512i ia0 = _mm512_set1_epi32(off * xb->s);
        const __m512 dx = _mm512_set1_ps(xb->d);
        for (int i = 0; i < S; i++) {
            const uint8_t *o = pan[i] + (size_t)b * rec;
            if (q4) prefetch_ahead(o + 9 * rec, rec);
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
            __m512i ia = ia0;
            if (q4) {
                for (int v = 0; v < 4; v++) {
                    const __m512i V = _mm512_loadu_si512(o + 32 + 64 * v);
                    ia = _mm512_dpbusd_epi32(ia, _mm512_and_si512(V, lo), a[v]);
                    ia = _mm512_dpbusd_epi32(ia, _mm512_and_si512(_mm512_srli_epi16(V, 4), lo), a[v + 4]);
                }
            } else {
                for (int s = 0; s < 8; s++) {
                    prefetch_part(o + 9 * rec, rec, s, 8);
                    ia = _mm512_dpbusd_epi32(ia, _mm512_loadu_si512(o + 32 + 64 * s), a[s]);
                }
            }
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(dw, dx), acc[i]);
        }
    }
    for (int i = 0; i < S; i++) _mm512_storeu_ps(y[i], acc[i]);
}
KS_AVX512 static void gemv_streams_q4_0(int64_t nb, const uint8_t *const *pan, size_t rec, const ks_block_q8s *x,
                                        float *const *y) {
    gemv_streams(true, nb, pan, rec, x, y);
}
KS_AVX512 static void gemv_streams_q8_0(int64_t nb, const uint8_t *const *pan, size_t rec, const ks_block_q8s *x,
                                        float *const *y) {
    gemv_streams(false, nb, pan, rec, x, y);
}

/* one token-tile range [t0, t1) over one panel */
static void panel_tokens(uint32_t type, int64_t nb, const uint8_t *panel, size_t rec, const void *xv, int64_t t0,
                         int64_t t1, float *y, int64_t ldy) {
    const ks_block_q8s *x = xv;
    if (type == KS_DTYPE_Q4_K)
        tiles_q4_K(nb, panel, rec, (const ks_block_q8_K *)xv + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
    else if (type == KS_DTYPE_Q6_K)
        tiles_q6_K(nb, panel, rec, (const ks_block_q8_K *)xv + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
    else if (type == KS_DTYPE_Q5_0)
        tiles_q5_0(nb, panel, rec, x + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
    else if (type == KS_DTYPE_Q4_0)
        tiles_q4_0(nb, panel, rec, x + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
    else if (type == KS_DTYPE_Q8_0)
        tiles_q8_0(nb, panel, rec, x + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
    else
        tiles_q4_1(nb, panel, rec, x + t0 * nb, t1 - t0, y + t0 * ldy, ldy);
}


/* ---- AMX-INT8 for Q4_0 / Q8_0 prompt batches ----
 * A record's weights are already in the tile layout TDPBSUD wants for its second
 * operand (unsigned bytes, 16 rows x 4 inputs per 64-byte row: q[s][i]); Q4_0's
 * nibbles are split into it once per panel. The first operand is 16 tokens' 32
 * signed activation bytes of one block, straight from the ks_block_q8s rows. One
 * instruction gives the exact integer dot products of one block for 16 tokens x
 * 16 rows; each token's 16-row float accumulator then takes
 *   acc = fma((float)(isum + off * s), d_w * d_x, acc)
 * as tile() does, so the result equals the VNNI kernel (and the reference) bit for
 * bit. Two C tiles alternate so that one block's product runs while the previous
 * one is scaled. Tile instructions are asm with memory clobbers (see gemm_bf16.c). */
#define KS_AMXI __attribute__((target("avx512f,avx512bw,f16c,fma")))
#define TILE_LOAD(t, p, stride) __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(p), "r"((int64_t)(stride)) : "memory")
#define TILE_STORE(t, p, stride) __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(p), "r"((int64_t)(stride)) : "memory")
#define TILE_DP_SU(c, a, b) __asm__ volatile("tdpbsud %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)

enum { AMX_MAX_NB = 512,   /* Q4_0 rows up to 16384 inputs (unpacked panel: 256 KiB per thread) */
       AMX4_MAX_NB = 352 }; /* four panels at once up to 11264 inputs (unpacked: 704 KiB per thread) */

static void amx_int8_config(void) { /* C: tmm0-3 (16 x 64 B); A: tmm4, 5 (16 x 32 B); B: tmm6, 7 (8 x 64 B) */
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } c __attribute__((aligned(64)));
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 4; i++) c.rows[i] = 16, c.colsb[i] = 64;
    c.rows[4] = c.rows[5] = 16, c.colsb[4] = c.colsb[5] = 32;
    c.rows[6] = c.rows[7] = 8, c.colsb[6] = c.colsb[7] = 64;
    __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
}

KS_AMXI static KS_INLINE void amx_scale(__m512 acc[16], const int32_t *cb, const uint8_t *o, const ks_block_q8s *x,
                                        int64_t nb, int32_t off) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
    for (int m = 0; m < 16; m++) {
        const ks_block_q8s *xb = x + (size_t)m * (size_t)nb;
        const __m512i ia = _mm512_add_epi32(_mm512_load_si512(cb + 16 * m), _mm512_set1_epi32(off * xb->s));
        acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(dw, _mm512_set1_ps(xb->d)), acc[m]);
    }
}

/* one panel x tokens [0, 16 * ng): x = token 0's first block, y = token 0's row 0 */
KS_AMXI static void amx_panel(bool q4, int64_t nb, const uint8_t *panel, size_t rec, const ks_block_q8s *x, int64_t ng,
                              float *y, int64_t ldy) {
    static _Thread_local uint8_t unp[AMX_MAX_NB * 512] __attribute__((aligned(64)));
    int32_t cb[4][256] __attribute__((aligned(64)));
    const int32_t off = q4 ? -8 : -128;
    const uint8_t *bq = panel + 32; /* record b's B operand: bq + b * bs */
    size_t bs = rec;
    if (q4) {
        const __m512i lo = _mm512_set1_epi8(0x0f);
        for (int64_t b = 0; b < nb; b++)
            for (int v = 0; v < 4; v++) {
                const __m512i V = _mm512_loadu_si512(panel + (size_t)b * rec + 32 + 64 * v);
                _mm512_store_si512(unp + b * 512 + 64 * v, _mm512_and_si512(V, lo));
                _mm512_store_si512(unp + b * 512 + 64 * (v + 4), _mm512_and_si512(_mm512_srli_epi16(V, 4), lo));
            }
        bq = unp, bs = 512;
    }
    const size_t xs = (size_t)nb * sizeof(ks_block_q8s);
    for (int64_t g = 0; g < ng; g++) {
        const ks_block_q8s *xg = x + (size_t)(16 * g) * (size_t)nb;
        __m512 acc[16];
        for (int m = 0; m < 16; m++) acc[m] = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 4 <= nb; b += 4) { /* four blocks' products in flight, then scaled in order */
            TILE_LOAD(4, xg[b].qs, xs);
            TILE_LOAD(6, bq + (size_t)b * bs, 64);
            TILE_ZERO(0);
            TILE_DP_SU(0, 4, 6);
            TILE_LOAD(5, xg[b + 1].qs, xs);
            TILE_LOAD(7, bq + (size_t)(b + 1) * bs, 64);
            TILE_ZERO(1);
            TILE_DP_SU(1, 5, 7);
            TILE_LOAD(4, xg[b + 2].qs, xs);
            TILE_LOAD(6, bq + (size_t)(b + 2) * bs, 64);
            TILE_ZERO(2);
            TILE_DP_SU(2, 4, 6);
            TILE_LOAD(5, xg[b + 3].qs, xs);
            TILE_LOAD(7, bq + (size_t)(b + 3) * bs, 64);
            TILE_ZERO(3);
            TILE_DP_SU(3, 5, 7);
            TILE_STORE(0, cb[0], 64);
            TILE_STORE(1, cb[1], 64);
            TILE_STORE(2, cb[2], 64);
            TILE_STORE(3, cb[3], 64);
            for (int j = 0; j < 4; j++) amx_scale(acc, cb[j], panel + (size_t)(b + j) * rec, xg + b + j, nb, off);
        }
        for (; b < nb; b++) {
            TILE_LOAD(4, xg[b].qs, xs);
            TILE_LOAD(6, bq + (size_t)b * bs, 64);
            TILE_ZERO(0);
            TILE_DP_SU(0, 4, 6);
            TILE_STORE(0, cb[0], 64);
            amx_scale(acc, cb[0], panel + (size_t)b * rec, xg + b, nb, off);
        }
        for (int m = 0; m < 16; m++) _mm512_storeu_ps(y + (size_t)(16 * g + m) * (size_t)ldy, acc[m]);
    }
}


/* four panels (64 rows) x tokens [0, 16 * ng): one A tile (16 tokens' block) serves four
 * B tiles, so each activation block is read from L2 once per four panels; the 64 rows'
 * float accumulators live in L1. Same per-output chain as amx_panel. */
KS_AMXI static void amx_panels4(bool q4, int64_t nb, const uint8_t *panel0, size_t panel_bytes, size_t rec,
                                const ks_block_q8s *x, int64_t ng, float *y, int64_t ldy) {
    static _Thread_local uint8_t unp4[4][AMX4_MAX_NB * 512] __attribute__((aligned(64)));
    int32_t cb[4][256] __attribute__((aligned(64)));
    float accm[4][16][16] __attribute__((aligned(64)));
    const int32_t off = q4 ? -8 : -128;
    const uint8_t *bq[4];
    size_t bs = rec;
    for (int j = 0; j < 4; j++) {
        const uint8_t *panel = panel0 + j * panel_bytes;
        bq[j] = panel + 32;
        if (q4) {
            const __m512i lo = _mm512_set1_epi8(0x0f);
            for (int64_t b = 0; b < nb; b++)
                for (int v = 0; v < 4; v++) {
                    const __m512i V = _mm512_loadu_si512(panel + (size_t)b * rec + 32 + 64 * v);
                    _mm512_store_si512(unp4[j] + b * 512 + 64 * v, _mm512_and_si512(V, lo));
                    _mm512_store_si512(unp4[j] + b * 512 + 64 * (v + 4), _mm512_and_si512(_mm512_srli_epi16(V, 4), lo));
                }
            bq[j] = unp4[j];
        }
    }
    if (q4) bs = 512;
    const size_t xs = (size_t)nb * sizeof(ks_block_q8s);
    for (int64_t g = 0; g < ng; g++) {
        const ks_block_q8s *xg = x + (size_t)(16 * g) * (size_t)nb;
        memset(accm, 0, sizeof accm);
        for (int64_t b = 0; b < nb; b++) {
            TILE_LOAD(4, xg[b].qs, xs);
            TILE_LOAD(6, bq[0] + (size_t)b * bs, 64);
            TILE_ZERO(0);
            TILE_DP_SU(0, 4, 6);
            TILE_LOAD(7, bq[1] + (size_t)b * bs, 64);
            TILE_ZERO(1);
            TILE_DP_SU(1, 4, 7);
            TILE_LOAD(6, bq[2] + (size_t)b * bs, 64);
            TILE_ZERO(2);
            TILE_DP_SU(2, 4, 6);
            TILE_LOAD(7, bq[3] + (size_t)b * bs, 64);
            TILE_ZERO(3);
            TILE_DP_SU(3, 4, 7);
            TILE_STORE(0, cb[0], 64);
            TILE_STORE(1, cb[1], 64);
            TILE_STORE(2, cb[2], 64);
            TILE_STORE(3, cb[3], 64);
            for (int j = 0; j < 4; j++) {
                const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(panel0 + j * panel_bytes + (size_t)b * rec)));
                for (int m = 0; m < 16; m++) {
                    const ks_block_q8s *xb = xg + (size_t)m * (size_t)nb + b;
                    const __m512i ia = _mm512_add_epi32(_mm512_load_si512(cb[j] + 16 * m), _mm512_set1_epi32(off * xb->s));
                    _mm512_store_ps(accm[j][m], _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(dw, _mm512_set1_ps(xb->d)),
                                                                _mm512_load_ps(accm[j][m])));
                }
            }
        }
        for (int j = 0; j < 4; j++)
            for (int m = 0; m < 16; m++) _mm512_storeu_ps(y + (size_t)(16 * g + m) * (size_t)ldy + 16 * j, _mm512_load_ps(accm[j][m]));
    }
}

static bool amx_int8(void) {
    static int ok = -1;
    if (ok < 0) ok = ks_cpu_has(KS_CPU_AMX_INT8);
    return ok > 0;
}

static void gemm_avx512(uint32_t type, int64_t n_in, const void *packed, int64_t r0, int64_t r1, const void *x,
                        int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = n_in / ks_packed_block(type);
    const size_t rec = ks_packed_record_bytes(type);
    const size_t panel_bytes = (size_t)nb * rec;
    int64_t group = (int64_t)((256 * 1024) / panel_bytes);
    if (group < 1) group = 1;
    const int64_t p0 = r0 / KS_PACK_ROWS, p1 = r1 / KS_PACK_ROWS;
    if ((type == KS_DTYPE_Q4_0 || type == KS_DTYPE_Q8_0) && n_tok >= 16 && nb <= AMX_MAX_NB && amx_int8()) {
        const int64_t n16 = n_tok / 16 * 16;
        amx_int8_config();
        int64_t p = p0;
        if (nb <= AMX4_MAX_NB) /* four panels per pass: 1.1B Q4_0 pp512 +10% over one */
            for (; p + 4 <= p1; p += 4) {
                const uint8_t *panel = (const uint8_t *)packed + (size_t)p * panel_bytes;
                amx_panels4(type == KS_DTYPE_Q4_0, nb, panel, panel_bytes, rec, x, n16 / 16, y + p * KS_PACK_ROWS, ldy);
                for (int j = 0; j < 4 && n16 < n_tok; j++)
                    panel_tokens(type, nb, panel + j * panel_bytes, rec, x, n16, n_tok, y + (p + j) * KS_PACK_ROWS, ldy);
            }
        for (; p < p1; p++) {
            const uint8_t *panel = (const uint8_t *)packed + (size_t)p * panel_bytes;
            amx_panel(type == KS_DTYPE_Q4_0, nb, panel, rec, x, n16 / 16, y + p * KS_PACK_ROWS, ldy);
            if (n16 < n_tok) panel_tokens(type, nb, panel, rec, x, n16, n_tok, y + p * KS_PACK_ROWS, ldy);
        }
        __asm__ volatile("tilerelease" ::: "memory");
        return;
    }
    if (n_tok == 1 && (type == KS_DTYPE_Q4_0 || type == KS_DTYPE_Q8_0) && KS_GEMV_STREAMS > 1) {
        enum { S = KS_GEMV_STREAMS };
        const int64_t q = (p1 - p0) / S; /* S equal parts of the range, walked side by side */
        for (int64_t i = 0; i < q; i++) {
            const uint8_t *pan[S];
            float *yp[S];
            for (int j = 0; j < S; j++) {
                const int64_t p = p0 + (int64_t)j * q + i;
                pan[j] = (const uint8_t *)packed + (size_t)p * panel_bytes, yp[j] = y + p * KS_PACK_ROWS;
            }
            if (type == KS_DTYPE_Q4_0) gemv_streams_q4_0(nb, pan, rec, x, yp);
            else gemv_streams_q8_0(nb, pan, rec, x, yp);
        }
        for (int64_t p = p0 + S * q; p < p1; p++)
            panel_tokens(type, nb, (const uint8_t *)packed + (size_t)p * panel_bytes, rec, x, 0, 1, y + p * KS_PACK_ROWS,
                         ldy);
        return;
    }
    const int64_t tt = n_tok <= 8 ? n_tok : 8; /* token tile */
    for (int64_t g = p0; g < p1; g += group) {
        const int64_t g1 = g + group < p1 ? g + group : p1;
        for (int64_t t = 0; t < n_tok; t += tt) {
            const int64_t t1 = t + tt < n_tok ? t + tt : n_tok;
            for (int64_t p = g; p < g1; p++)
                panel_tokens(type, nb, (const uint8_t *)packed + (size_t)p * panel_bytes, rec, x, t, t1,
                             y + p * KS_PACK_ROWS, ldy);
        }
    }
}

/* ks_quantize_act_q8s with 512-bit vectors: the same elementwise operations as
 * quantize_row_q8_0 (max |x|, d = amax / 127, round(x * 127 / amax) to nearest
 * even), so the blocks are bit-identical to the scalar version. */
KS_AVX512 void ks_quantize_act_q8s_avx512(const float *x, void *dst, int64_t n) {
    ks_block_q8s *b = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        const __m512 v0 = _mm512_loadu_ps(x + i * 32), v1 = _mm512_loadu_ps(x + i * 32 + 16);
        const __m512 m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        const __m512 mul = _mm512_set1_ps(id);
        /* MXCSR rounding: to nearest even. NaN / infinity (hostile weights) convert to INT_MIN,
         * which the clamp maps to -128 as the saturating packs of ggml's quantizer do; the sum
         * is then that of the stored bytes and cannot overflow */
        const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
        const __m512i i0 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, mul)), hi), lo);
        const __m512i i1 = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, mul)), hi), lo);
        _mm_storeu_si128((__m128i *)b[i].qs, _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(b[i].qs + 16), _mm512_cvtsepi32_epi8(i1));
        const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        b[i].s = sum;
        b[i].d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        b[i].sd = _cvtsh_ss(_cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT));
        b[i].pad = 0;
    }
}

/* ks_q8_K_from_float with 512-bit vectors, bit-identical: the value of largest magnitude
 * (the first one on ties, with its sign), iscale = -127/max, codes rounded to nearest even
 * (ggml's nearest_int equals the MXCSR rounding for |x| <= 127), bsums of 16 */
KS_AVX512 void ks_quantize_act_q8_K_avx512(const float *x, void *dst, int64_t n) {
    ks_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *v = x + i * QK_K;
        __m512 m = _mm512_setzero_ps();
        __mmask16 nan = 0;
        for (int j = 0; j < QK_K; j += 16) {
            const __m512 a = _mm512_loadu_ps(v + j);
            m = _mm512_max_ps(m, _mm512_abs_ps(a));
            nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
        }
        const float amax = _mm512_reduce_max_ps(m);
        if (!(amax > 0.0f) || nan) { /* zero block, or NaN (hostile weights): the scalar code decides */
            ks_q8_K_from_float(v, &y[i], QK_K);
            continue;
        }
        float max = 0.0f;
        for (int j = 0; j < QK_K; j += 16) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(v + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = v[j + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 mul = _mm512_set1_ps(iscale);
        const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 16) {
            const __m512i q = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(v + j), mul)), hi), lo);
            _mm_storeu_si128((__m128i *)(y[i].qs + j), _mm512_cvtsepi32_epi8(q));
            y[i].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        y[i].d = 1 / iscale;
    }
}

ks_packed_gemm_fn ks_packed_gemm_avx512(void) {
    static int ok = -1;
    if (ok < 0)
        ok = ks_cpu_has(KS_CPU_AVX512F) && ks_cpu_has(KS_CPU_AVX512BW) && ks_cpu_has(KS_CPU_AVX512VNNI) &&
             ks_cpu_has(KS_CPU_F16C) && ks_cpu_has(KS_CPU_FMA);
    return ok ? gemm_avx512 : NULL;
}
#else
ks_packed_gemm_fn ks_packed_gemm_avx512(void) { return NULL; }
void ks_quantize_act_q8s_avx512(const float *x, void *dst, int64_t n) { ks_quantize_act_q8s(x, dst, n); }
void ks_quantize_act_q8_K_avx512(const float *x, void *dst, int64_t n) { ks_q8_K_from_float(x, dst, n); }
#endif

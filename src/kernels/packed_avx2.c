/* packed_avx2.c - the packed GEMM (packed.h) on AVX2 CPUs without AVX-512 VNNI: Q4_0 panels.
 *
 * vpmaddubsw multiplies the unsigned nibbles (0..15) by the signed activation bytes in pairs
 * (at most 2 x 15 x 128 = 3840 per pair, so no saturation), eight such products of one row's
 * four-byte group add up in int16 (at most 8 x 3840 = 30720 < 32767), and vpmaddwd folds the
 * pairs into one int32 per row: the exact integer dot product of the block, offset by
 * -8 x the activation sum, then acc = fma((float)isum, d_w * d_x, acc) as the reference
 * (ks_packed_gemm_ref) and llama.cpp's repacked Q4_0 kernels on x86 do: bit for bit.
 *
 * A panel's block is unpacked once per tile of up to four tokens into 16 vectors (4 nibble
 * groups x low/high x two halves of 8 rows) kept in L1, which every token of the tile reads. */
#include "base/cpu.h"
#include "kernels/kernels_impl.h"
#include "kernels/packed.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define KS_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TT 4 /* tokens per tile */

/* w[h][2v + k]: half h's rows, nibble group v, low (k = 0) or high (k = 1) nibbles */
KS_AVX2 static inline void unpack_q4_0(const uint8_t *q, __m256i w[2][8]) {
    const __m256i m = _mm256_set1_epi8(0x0f);
    for (int v = 0; v < 4; v++)
        for (int h = 0; h < 2; h++) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(q + v * 64 + h * 32));
            w[h][2 * v] = _mm256_and_si256(b, m);
            w[h][2 * v + 1] = _mm256_and_si256(_mm256_srli_epi16(b, 4), m);
        }
}

/* one token's block against the unpacked panel: the two halves' exact int32 sums */
KS_AVX2 static inline void block_isum(__m256i w[2][8], const ks_block_q8s *x, __m256i out[2]) {
    __m256i xb[8];
    for (int v = 0; v < 4; v++) {
        int32_t lo, hi;
        memcpy(&lo, x->qs + 4 * v, 4), memcpy(&hi, x->qs + 16 + 4 * v, 4);
        xb[2 * v] = _mm256_set1_epi32(lo), xb[2 * v + 1] = _mm256_set1_epi32(hi);
    }
    const __m256i ones = _mm256_set1_epi16(1), off = _mm256_set1_epi32(8 * x->s);
    for (int h = 0; h < 2; h++) {
        __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(w[h][0], xb[0]), _mm256_maddubs_epi16(w[h][1], xb[1]));
        __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(w[h][2], xb[2]), _mm256_maddubs_epi16(w[h][3], xb[3]));
        __m256i s2 = _mm256_add_epi16(_mm256_maddubs_epi16(w[h][4], xb[4]), _mm256_maddubs_epi16(w[h][5], xb[5]));
        __m256i s3 = _mm256_add_epi16(_mm256_maddubs_epi16(w[h][6], xb[6]), _mm256_maddubs_epi16(w[h][7], xb[7]));
        const __m256i s = _mm256_add_epi16(_mm256_add_epi16(s0, s1), _mm256_add_epi16(s2, s3));
        out[h] = _mm256_sub_epi32(_mm256_madd_epi16(s, ones), off);
    }
}

/* panel p (16 rows) x tokens [t0, t0 + nt), nt <= TT */
KS_AVX2 static void panel_q4_0(int64_t nb, const uint8_t *rec0, const ks_block_q8s *x, int64_t t0, int nt, float *y,
                               int64_t ldy, int64_t row0) {
    const size_t rec = 288;
    __m256 acc[TT][2];
    for (int t = 0; t < TT; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = rec0 + (size_t)b * rec;
        __m256i w[2][8];
        unpack_q4_0(o + 2 * KS_PACK_ROWS, w);
        const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)o));
        const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 16)));
        for (int t = 0; t < nt; t++) {
            const ks_block_q8s *xb = x + (t0 + t) * nb + b;
            __m256i is[2];
            block_isum(w, xb, is);
            const __m256 dx = _mm256_set1_ps(xb->d);
            acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[0]), _mm256_mul_ps(dw0, dx), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[1]), _mm256_mul_ps(dw1, dx), acc[t][1]);
        }
    }
    for (int t = 0; t < nt; t++) {
        _mm256_storeu_ps(y + (t0 + t) * ldy + row0, acc[t][0]);
        _mm256_storeu_ps(y + (t0 + t) * ldy + row0 + 8, acc[t][1]);
    }
}

KS_AVX2 static void gemm_avx2(uint32_t type, int64_t n_in, const void *packed, int64_t r0, int64_t r1, const void *xv,
                              int64_t n_tok, float *y, int64_t ldy) {
    if (type != KS_DTYPE_Q4_0) { /* not packed on AVX2 (ks_packed_gemm_for); kept correct all the same */
        ks_packed_gemm_ref(type, n_in, packed, r0, r1, xv, n_tok, y, ldy);
        return;
    }
    const int64_t nb = n_in / 32;
    const size_t rec = ks_packed_record_bytes(type);
    for (int64_t p = r0 / KS_PACK_ROWS; p < r1 / KS_PACK_ROWS; p++) {
        const uint8_t *rec0 = (const uint8_t *)packed + (size_t)p * (size_t)nb * rec;
        for (int64_t t0 = 0; t0 < n_tok; t0 += TT)
            panel_q4_0(nb, rec0, xv, t0, n_tok - t0 < TT ? (int)(n_tok - t0) : TT, y, ldy, p * KS_PACK_ROWS);
    }
}

ks_packed_gemm_fn ks_packed_gemm_avx2(void) {
    static int ok = -1;
    if (ok < 0) ok = ks_cpu_has(KS_CPU_AVX2) && ks_cpu_has(KS_CPU_FMA) && ks_cpu_has(KS_CPU_F16C);
    return ok ? gemm_avx2 : NULL;
}
#else
ks_packed_gemm_fn ks_packed_gemm_avx2(void) { return NULL; }
#endif

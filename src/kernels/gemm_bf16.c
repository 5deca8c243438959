/* gemm_bf16.c - batched products of F16 or BF16 weights by bf16 products:
 * AVX512-BF16 dot products (VDPBF16PS) or AMX tiles (TDPBF16PS, further down).
 *
 * For a prompt, a weight row meets hundreds of tokens, so the product is bound
 * by arithmetic, not memory. VDPBF16PS does 32 multiply-adds per instruction
 * against 16 for an FP32 FMA (bench/flops: 967 vs 513 GFLOP/s on 2 threads of an
 * AMD EPYC; on Intel Sapphire Rapids it issues at half the rate, 229 vs 456, and
 * AMX tiles do the work there), so both operands are rounded to bfloat16 (nearest
 * even; the instruction flushes subnormals) and summed in FP32:
 *   - BF16 weights: the weights are exact; the activation is rounded to BF16
 *     exactly as llama.cpp rounds it for BF16 weights (ggml_vec_dot_bf16).
 *   - F16 weights: each weight loses 3 of its 11 significant bits as well
 *     (relative error <= 2^-9). This is a precision trade, taken only when
 *     the model was loaded without ks_model_params.f16_exact; docs/NUMERICS.md
 *     gives its measured effect (perplexity and logits against the exact path).
 *
 * Layout: 32 (or 16) weight rows are converted, KC inputs at a time, into a
 * panel whose 32-bit element [p][i] holds row i's inputs 2p and 2p+1; a token's
 * pair of inputs is broadcast and one VDPBF16PS adds both products into the 16
 * lanes (= 16 rows) of that token's accumulator, so the results land in y
 * with no horizontal sums. The register tile is 2 x 16 rows x 12 tokens. Every
 * output is summed over the input pairs in order 0, 1, 2, ...: the reference
 * (ks_gemm_bf16_ref) follows that order and the tests hold the two to it.
 * Inputs must be a multiple of 32. */
#include "base/cpu.h"
#include "kernels/kernels_impl.h"
#include "tensor/dtype.h"

#include <string.h>

/* fp32 -> bf16 as VCVTNE2PS2BF16 does it: subnormal inputs read as zero,
 * round to nearest even, NaN kept quiet */
static float fp32_daz(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7f800000u) == 0) x &= 0x80000000u;
    memcpy(&f, &x, 4);
    return f;
}
static uint16_t bf16_daz(float f) { return ks_fp32_to_bf16(fp32_daz(f)); }

void ks_bf16_round_row(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = bf16_daz(x[i]);
}

static float weight_bf16(uint32_t wtype, const uint16_t *w, int64_t k) {
    const uint16_t b = wtype == KS_DTYPE_BF16 ? w[k] : bf16_daz(ks_fp16_to_fp32(w[k]));
    return fp32_daz(ks_bf16_to_fp32(b));
}

void ks_gemm_bf16_ref(uint32_t wtype, int64_t n_in, const uint16_t *w, size_t w_stride, int64_t r0, int64_t r1,
                      const uint16_t *xb, int64_t n_tok, float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++) {
            const uint16_t *wr = w + (size_t)r * w_stride, *xr = xb + t * n_in;
            float acc = 0;
            for (int64_t k = 0; k < n_in; k += 2) { /* VDPBF16PS: acc += odd product, then += even product */
                const float a = fp32_daz(ks_bf16_to_fp32(xr[k])), b = fp32_daz(ks_bf16_to_fp32(xr[k + 1]));
                acc = fp32_daz(acc + weight_bf16(wtype, wr, k + 1) * b);
                acc = fp32_daz(acc + weight_bf16(wtype, wr, k) * a);
            }
            y[t * ldy + r] = acc;
        }
}

#if defined(__x86_64__) && defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 10)
#include <immintrin.h>

#define KS_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16,f16c")))
#define KS_INLINE inline __attribute__((always_inline))

enum { KC = 256, TN = 12 }; /* inputs per panel chunk; tokens per register tile */

/* x (n floats) -> bf16, as VCVTNE2PS2BF16 rounds; n % 32 == 0 */
KS_BF16 static void round_row(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512(y + i, (__m512i)v);
    }
}

/* 16 x 16 transpose of 32-bit elements: r[i] lane j -> r[j] lane i */
KS_BF16 static KS_INLINE void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3 */
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
        const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44),
                      v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88), r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88), r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* rows [r, r + nr) (nr <= 32), inputs [k0, k0 + kc) (kc <= KC, a multiple of 32) ->
 * panel[(p * halves + h) * 16 + i] = row 16 h + i, inputs 2p and 2p + 1; rows past nr are zero */
KS_BF16 static void fill_panel(uint32_t wtype, const uint16_t *w, size_t ws, int64_t r, int nr, int64_t k0, int kc,
                               uint32_t *panel) {
    const int halves = nr > 16 ? 2 : 1;
    for (int h = 0; h < halves; h++)
        for (int k = 0; k < kc; k += 32) {
            __m512i v[16]; /* row 16 h + i, inputs k .. k + 31 as 16 pairs */
            for (int i = 0; i < 16; i++) {
                if (16 * h + i >= nr) {
                    v[i] = _mm512_setzero_si512();
                    continue;
                }
                const uint16_t *src = w + (size_t)(r + 16 * h + i) * ws + k0 + k;
                if (wtype == KS_DTYPE_BF16) {
                    v[i] = _mm512_loadu_si512(src);
                } else {
                    const __m512 lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)src));
                    const __m512 hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + 16)));
                    v[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                }
            }
            transpose16(v);
            for (int j = 0; j < 16; j++) _mm512_store_si512(panel + (size_t)((k / 2 + j) * halves + h) * 16, v[j]);
        }
}

/* y[t][16 i .. 16 i + 15] for i < rm, t < rn over np input pairs; add: accumulate into y */
KS_BF16 static KS_INLINE void tile(const int rm, const int rn, int np, const uint32_t *panel, const uint32_t *x,
                                   size_t xs, float *y, int64_t ldy, __mmask16 m_last, bool add) {
    __m512 acc[TN][2];
    for (int j = 0; j < rn; j++)
        for (int i = 0; i < rm; i++) {
            const __mmask16 m = i == rm - 1 ? m_last : 0xffff;
            acc[j][i] = add ? _mm512_maskz_loadu_ps(m, y + j * ldy + 16 * i) : _mm512_setzero_ps();
        }
    for (int p = 0; p < np; p++) {
        __m512bh a[2];
        for (int i = 0; i < rm; i++) a[i] = (__m512bh)_mm512_load_si512(panel + (p * rm + i) * 16);
        for (int j = 0; j < rn; j++) {
            const __m512bh b = (__m512bh)_mm512_set1_epi32((int)x[j * xs + p]);
            for (int i = 0; i < rm; i++) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], a[i], b);
        }
    }
    for (int j = 0; j < rn; j++)
        for (int i = 0; i < rm; i++)
            _mm512_mask_storeu_ps(y + j * ldy + 16 * i, i == rm - 1 ? m_last : 0xffff, acc[j][i]);
}

#define KS_TILES(RM)                                                                                               \
    KS_BF16 static void tiles##RM(int np, const uint32_t *panel, const uint32_t *x, size_t xs, int64_t n_tok,      \
                                  float *y, int64_t ldy, __mmask16 m_last, bool add) {                              \
        int64_t t = 0;                                                                                             \
        for (; t + TN <= n_tok; t += TN) tile(RM, TN, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add);       \
        switch (n_tok - t) {                                                                                       \
        case 11: tile(RM, 11, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                        \
        case 10: tile(RM, 10, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                        \
        case 9: tile(RM, 9, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 8: tile(RM, 8, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 7: tile(RM, 7, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 6: tile(RM, 6, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 5: tile(RM, 5, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 4: tile(RM, 4, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 3: tile(RM, 3, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 2: tile(RM, 2, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        case 1: tile(RM, 1, np, panel, x + t * xs, xs, y + t * ldy, ldy, m_last, add); break;                          \
        default: break;                                                                                            \
        }                                                                                                          \
    }
KS_TILES(1)
KS_TILES(2)

KS_BF16 static void gemm_bf16_avx512(uint32_t wtype, int64_t n_in, const uint16_t *w, size_t ws, int64_t r0,
                                     int64_t r1, const uint16_t *xb, int64_t n_tok, float *y, int64_t ldy) {
    uint32_t panel[KC / 2 * 32] __attribute__((aligned(64)));
    const uint32_t *x = (const uint32_t *)xb;
    const size_t xs = (size_t)n_in / 2;
    for (int64_t r = r0; r < r1; r += 32) {
        const int nr = r1 - r < 32 ? (int)(r1 - r) : 32;
        const int rm = nr > 16 ? 2 : 1;
        const int last = nr - 16 * (rm - 1);
        const __mmask16 m_last = (__mmask16)(last == 16 ? 0xffff : (1u << last) - 1);
        for (int64_t k0 = 0; k0 < n_in; k0 += KC) {
            const int kc = n_in - k0 < KC ? (int)(n_in - k0) : KC;
            fill_panel(wtype, w, ws, r, nr, k0, kc, panel);
            /* the next chunk's weights (32 rows, 32 streams: too many for the hardware
             * prefetcher) come from DRAM into L2 while this chunk is multiplied */
            const int64_t rn_ = k0 + KC < n_in ? r : r + 32, kn = k0 + KC < n_in ? k0 + KC : 0;
            for (int64_t i = rn_; i < rn_ + 32 && i < r1; i++)
                for (int k = 0; k < KC && kn + k < n_in; k += 32) _mm_prefetch((const char *)(w + (size_t)i * ws + kn + k), _MM_HINT_T1);
            if (rm == 2)
                tiles2(kc / 2, panel, x + k0 / 2, xs, n_tok, y + r, ldy, m_last, k0 > 0);
            else
                tiles1(kc / 2, panel, x + k0 / 2, xs, n_tok, y + r, ldy, m_last, k0 > 0);
        }
    }
}


/* ---- AMX: TDPBF16PS on 16 x 16 tiles ----
 * C (16 tokens x 16 rows, FP32) += A (16 tokens x 32 inputs, bf16, straight from xb)
 * . B (16 input pairs x 16 rows: exactly 16 consecutive pairs of the panel above).
 * Four C tiles (32 tokens x 32 rows) stay in tile registers over a whole KCA chunk
 * and are stored into y, which they reach with ldy as their row stride. The tile
 * instructions are written as asm with memory clobbers: GCC 12's tile intrinsics
 * give the compiler no sight of the memory they read or write. */
#define KS_AMXF __attribute__((target("avx512f,avx512bw,avx512bf16,f16c")))
#define TILE_LOAD(t, p, stride) __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(p), "r"((int64_t)(stride)) : "memory")
#define TILE_STORE(t, p, stride) __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(p), "r"((int64_t)(stride)) : "memory")
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define TILE_DP(c, a, b) __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

enum { KCA = 1024 }; /* inputs per panel chunk on the AMX path (64 KiB panel) */

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

static void amx_load_config(void) { /* all eight tiles 16 rows x 64 bytes */
    amx_config c __attribute__((aligned(64)));
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) c.rows[i] = 16, c.colsb[i] = 64;
    __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
}

/* tokens [0, 16 mt) (mt = 1, 2) x the panel's 32 rows over kc inputs; x: token 0's input
 * k0 (row stride xs bytes); panel pairs in halves-of-16 order (fill_panel, nr = 32) */
static void amx_block(int mt, int kc, const uint32_t *panel, const uint16_t *x, size_t xs, float *y, int64_t ldy,
                      bool add) {
    const size_t ys = (size_t)ldy * 4;
    if (add) {
        TILE_LOAD(0, y, ys);
        TILE_LOAD(1, y + 16, ys);
        if (mt == 2) {
            TILE_LOAD(2, y + 16 * ldy, ys);
            TILE_LOAD(3, y + 16 * ldy + 16, ys);
        }
    } else {
        TILE_ZERO(0);
        TILE_ZERO(1);
        TILE_ZERO(2);
        TILE_ZERO(3);
    }
    for (int k = 0; k < kc; k += 32) {
        const uint32_t *b = panel + (size_t)k * 16; /* pair k/2, half 0; half 1 is 16 dwords on */
        TILE_LOAD(6, b, 128);
        TILE_LOAD(7, b + 16, 128);
        TILE_LOAD(4, x + k, xs);
        TILE_DP(0, 4, 6);
        TILE_DP(1, 4, 7);
        if (mt == 2) {
            TILE_LOAD(5, (const char *)(x + k) + 16 * xs, xs);
            TILE_DP(2, 5, 6);
            TILE_DP(3, 5, 7);
        }
    }
    TILE_STORE(0, y, ys);
    TILE_STORE(1, y + 16, ys);
    if (mt == 2) {
        TILE_STORE(2, y + 16 * ldy, ys);
        TILE_STORE(3, y + 16 * ldy + 16, ys);
    }
}

KS_AMXF static void gemm_bf16_amx(uint32_t wtype, int64_t n_in, const uint16_t *w, size_t ws, int64_t r0,
                                  int64_t r1, const uint16_t *xb, int64_t n_tok, float *y, int64_t ldy) {
    static _Thread_local uint32_t panel[KCA / 2 * 32] __attribute__((aligned(64))); /* 64 KiB per thread */
    const uint32_t *x = (const uint32_t *)xb;
    const size_t xs = (size_t)n_in / 2;
    amx_load_config();
    for (int64_t r = r0; r < r1; r += 32) {
        const int nr = r1 - r < 32 ? (int)(r1 - r) : 32;
        const int rm = nr > 16 ? 2 : 1;
        const int last = nr - 16 * (rm - 1);
        const __mmask16 m_last = (__mmask16)(last == 16 ? 0xffff : (1u << last) - 1);
        for (int64_t k0 = 0; k0 < n_in; k0 += KCA) {
            const int kc = n_in - k0 < KCA ? (int)(n_in - k0) : KCA;
            fill_panel(wtype, w, ws, r, nr, k0, kc, panel);
            const int64_t rn_ = k0 + KCA < n_in ? r : r + 32, kn = k0 + KCA < n_in ? k0 + KCA : 0;
            for (int64_t i = rn_; i < rn_ + 32 && i < r1; i++)
                for (int k = 0; k < KCA && kn + k < n_in; k += 32) _mm_prefetch((const char *)(w + (size_t)i * ws + kn + k), _MM_HINT_T1);
            int64_t t = 0;
            if (nr == 32)
                for (; t + 16 <= n_tok; t += 32) {
                    const int mt = t + 32 <= n_tok ? 2 : 1;
                    amx_block(mt, kc, panel, xb + t * n_in + k0, (size_t)n_in * 2, y + t * ldy + r, ldy, k0 > 0);
                    if (mt == 1) t -= 16;
                }
            if (t < n_tok) {
                if (rm == 2)
                    tiles2(kc / 2, panel, x + t * xs + k0 / 2, xs, n_tok - t, y + t * ldy + r, ldy, m_last, k0 > 0);
                else
                    tiles1(kc / 2, panel, x + t * xs + k0 / 2, xs, n_tok - t, y + t * ldy + r, ldy, m_last, k0 > 0);
            }
        }
    }
    __asm__ volatile("tilerelease" ::: "memory");
}

ks_gemm_bf16_fn ks_gemm_bf16_amx(void) {
    static int ok = -1;
    if (ok < 0) ok = ks_gemm_bf16_avx512() && ks_cpu_has(KS_CPU_AMX_BF16);
    return ok ? gemm_bf16_amx : NULL;
}

ks_gemm_bf16_fn ks_gemm_bf16_avx512(void) {
    static int ok = -1;
    if (ok < 0)
        ok = ks_cpu_has(KS_CPU_AVX512F) && ks_cpu_has(KS_CPU_AVX512BW) && ks_cpu_has(KS_CPU_AVX512BF16) &&
             ks_cpu_has(KS_CPU_F16C);
    return ok ? gemm_bf16_avx512 : NULL;
}

void ks_bf16_round_rows(const float *x, uint16_t *y, int64_t n) {
    if (ks_gemm_bf16_avx512() && n % 32 == 0)
        round_row(x, y, n);
    else
        ks_bf16_round_row(x, y, n);
}
#else
ks_gemm_bf16_fn ks_gemm_bf16_avx512(void) { return NULL; }
ks_gemm_bf16_fn ks_gemm_bf16_amx(void) { return NULL; }
void ks_bf16_round_rows(const float *x, uint16_t *y, int64_t n) { ks_bf16_round_row(x, y, n); }
#endif

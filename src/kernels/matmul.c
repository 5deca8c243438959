/* matmul.c - weight x activation products: run-time kernel choice and threading.
 * Activations are converted once per call into caller scratch (no allocation),
 * then output rows are split across OpenMP threads; each row is dotted with
 * every token so a weight row is read from memory once per call. */
#include "kernels/kernels.h"

#include "base/cpu.h"

#include "kernels/kernels_impl.h"
#include "kernels/packed.h"
#include "tensor/dtype.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_num_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
static int omp_get_max_threads(void) { return 1; }
#endif

/* generation reads each weight row once: prefetching rows ahead keeps more DRAM
 * requests in flight than the hardware prefetcher alone (measured +3% on SmolLM2) */
#ifndef KS_PF_ROWS
#define KS_PF_ROWS 8
#endif

static const ks_matmul_traits *best_table(uint32_t type) {
    static const ks_matmul_traits *avx2;
    static int init;
    if (!init) { /* benign race: every thread computes the same value */
        avx2 = ks_matmul_avx2_table();
        init = 1;
    }
    if (avx2 && type < KS_DTYPE_COUNT && avx2[type].vec_dot) return &avx2[type];
    return ks_matmul_get_ref(type);
}

const ks_matmul_traits *ks_matmul_get_ref(uint32_t type) {
    if (type >= KS_DTYPE_COUNT || !ks_matmul_ref_table[type].vec_dot) return NULL;
    return &ks_matmul_ref_table[type];
}

const ks_matmul_traits *ks_matmul_get(uint32_t type) { return best_table(type); }

const char *ks_kernels_isa(void) {
    if (ks_packed_gemm_avx512() && ks_cpu_has(KS_CPU_AMX_INT8)) /* AMX tiles for Q4_0/Q8_0/F16 batches */
        return ks_matmul_avx2_table() ? "amx+avx512-vnni+avx2+fma" : "amx+avx512-vnni";
    if (ks_packed_gemm_avx512()) return ks_matmul_avx2_table() ? "avx512-vnni+avx2+fma" : "avx512-vnni";
    return ks_matmul_avx2_table() ? "avx2+fma" : "scalar";
}

size_t ks_matmul_scratch_bytes(uint32_t type, int64_t n_in, int64_t n_tok) {
    const ks_matmul_traits *t = ks_matmul_get_ref(type);
    if (!t) return 0;
    int64_t rb = ks_dtype_row_bytes(t->vec_dot_type, n_in);
    if (rb < 0) return 0;
    size_t bytes = (size_t)rb * (size_t)n_tok;
    if (type == KS_DTYPE_F16) { /* f16-rounded floats, in 32-token blocks for the panel product, 64-byte aligned */
        const size_t fb = (size_t)n_in * 4 * (size_t)((n_tok + KS_F16P_NT - 1) / KS_F16P_NT * KS_F16P_NT) + 64;
        if (fb > bytes) bytes = fb;
    }
    if (ks_packed_record_bytes(type) && !ks_packed_act_q8_K(type)) { /* the packed path's activations are larger */
        const size_t pb = (size_t)(n_in / 32) * sizeof(ks_block_q8s) * (size_t)n_tok;
        if (pb > bytes) bytes = pb;
    }
    return bytes;
}

/* Prompt batches hand out rows in chunks, dynamically, across all n (<= 8) weights of
 * one input: a batch is bound by arithmetic, so a chunk's weights need not be one
 * stream, and on a VM whose two vCPUs run at different speeds the faster one takes
 * more (static halves left one thread waiting: 1.1B F16 pp512 +5%). About 8 chunks per
 * thread per weight, in multiples of `unit` rows and at least min_units of them (a
 * chunk re-reads the batch's activations). rows[k]: chunk rows of weight k; chunks
 * start[k] .. start[k+1]-1 are weight k's; returns the number of chunks. */
static int64_t batch_chunks(const ks_tensor *const *w, int n, int64_t unit, int64_t min_units, int64_t *rows,
                            int64_t *start) {
    const int64_t per = 8 * omp_get_max_threads();
    start[0] = 0;
    for (int k = 0; k < n; k++) {
        const int64_t n_out = w[k]->ne[1];
        int64_t c = n_out / per / unit * unit;
        if (c < min_units * unit) c = min_units * unit;
        rows[k] = c, start[k + 1] = start[k] + (n_out + c - 1) / c;
    }
    return start[n];
}
static int chunk_weight(const int64_t *start, int64_t i) {
    int k = 0;
    while (i >= start[k + 1]) k++;
    return k;
}

/* packed products of one input: the activation is quantized once, then each
 * thread takes its share of every weight's panels with no barrier between them */
static void matmul_packed_n(const ks_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok,
                            void *scratch) {
    const int64_t n_in = w[0]->ne[0];
    ks_packed_gemm_fn gemm = ks_packed_gemm_for(w[0]->type); /* the same for all n (ks_matmul_n) */
    const ks_packed_quant_fn quant = ks_packed_quant_for(w[0]->type);
    size_t xrb = (size_t)(n_in / 32) * sizeof(ks_block_q8s);
    if (ks_packed_act_q8_K(w[0]->type)) xrb = (size_t)ks_dtype_row_bytes(KS_DTYPE_Q8_K, n_in);
    if (!gemm) gemm = ks_packed_gemm_ref;
    char *xq = scratch;
#pragma omp parallel for schedule(static) if (n_tok > 1)
    for (int64_t i = 0; i < n_tok; i++) quant(x + i * n_in, xq + (size_t)i * xrb, n_in);
    if (n_tok > 1 && n <= 8) {
        int64_t rows[8], start[9];
        const int64_t n_chunks = batch_chunks(w, n, KS_PACK_ROWS, 4, rows, start);
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t i = 0; i < n_chunks; i++) {
            const int k = chunk_weight(start, i);
            const int64_t n_out = w[k]->ne[1], r0 = (i - start[k]) * rows[k];
            gemm(w[k]->type, n_in, w[k]->packed, r0, r0 + rows[k] < n_out ? r0 + rows[k] : n_out, xq, n_tok, y[k], n_out);
        }
        return;
    }
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), it = omp_get_thread_num();
        for (int k = 0; k < n; k++) {
            const int64_t np = w[k]->ne[1] / KS_PACK_ROWS;
            const int64_t p0 = np * it / nt, p1 = np * (it + 1) / nt;
            if (p1 > p0)
                gemm(w[k]->type, n_in, w[k]->packed, p0 * KS_PACK_ROWS, p1 * KS_PACK_ROWS, xq, n_tok, y[k],
                     w[k]->ne[1]);
        }
    }
}

/* F16 weights on AVX-512: tinyBLAS order, as llama.cpp computes them */
static void matmul_f16(const ks_tensor *w, const float *x, int64_t n_tok, float *y, float *xr, ks_gemm_f16_fn gemm) {
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
#pragma omp parallel for schedule(static) if (n_tok > 1)
    for (int64_t i = 0; i < n_tok; i++) ks_fp16_round_row(x + i * n_in, xr + i * n_in, n_in);
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t n8 = (n_out + 7) / 8; /* split on 8-row boundaries */
        int64_t r0 = n8 * it / nt * 8, r1 = n8 * (it + 1) / nt * 8;
        if (r1 > n_out) r1 = n_out;
        if (r1 > r0) gemm(n_in, w->data, w->row_bytes / 2, r0, r1, xr, n_tok, y, n_out);
    }
}

/* F16 weights x a prompt batch in FP32 by the panel product (gemm_f16.c): the
 * activations rounded to f16 and packed in 32-token blocks once for all n weights,
 * then rows in chunks of 12-row multiples (batch_chunks) */
static void matmul_f16p_n(const ks_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok,
                          void *scratch, ks_gemm_f16_fn gemm) {
    const int64_t n_in = w[0]->ne[0], n_blk = (n_tok + KS_F16P_NT - 1) / KS_F16P_NT;
    float *xp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n_blk; b++) ks_f16p_pack_act(x, n_in, n_tok, b, xp);
    int64_t rows[8], start[9];
    const int64_t n_chunks = batch_chunks(w, n, 12, 4, rows, start);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_chunks; i++) {
        const int k = chunk_weight(start, i);
        const int64_t n_out = w[k]->ne[1], r0 = (i - start[k]) * rows[k];
        gemm(n_in, w[k]->data, w[k]->row_bytes / 2, r0, r0 + rows[k] < n_out ? r0 + rows[k] : n_out, xp, n_tok, y[k],
             n_out);
    }
}

/* the BF16 product for a batch: AMX tiles where present; else VDPBF16PS where it beats
 * FP32 FMAs: on AMD Zen 4/5 (bench/flops: 967 vs 513 GFLOP/s on 2 threads), not on Intel
 * (Sapphire Rapids: 229 vs 456; 1.1B F16 pp512 88 vs 94 tok/s), where F16 weights keep
 * the exact FP32 path. BF16 weights have no FP32 kernel, so they always take it. */
static ks_gemm_bf16_fn bf16_batch_gemm(uint32_t type) {
    ks_gemm_bf16_fn g = ks_gemm_bf16_amx();
    if (!g && (type == KS_DTYPE_BF16 || ks_cpu_is_amd())) g = ks_gemm_bf16_avx512();
    return g;
}

/* the panel product applies: F16 weights allowed off llama.cpp's order, a batch, and
 * no BF16 product that pays on this CPU */
static ks_gemm_f16_fn f16p_gemm(const ks_tensor *w, int64_t n_tok) {
    if (w->type != KS_DTYPE_F16 || !w->bf16_batch || n_tok < KS_BF16_MIN_TOK || w->ne[0] % 32 || bf16_batch_gemm(w->type))
        return NULL;
    return ks_gemm_f16p_avx512();
}

/* F16/BF16 weights x a prompt batch by BF16 dot products (gemm_bf16.c) */
static void matmul_bf16(const ks_tensor *w, const float *x, int64_t n_tok, float *y, uint16_t *xb,
                        ks_gemm_bf16_fn gemm) {
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_tok; i++) ks_bf16_round_rows(x + i * n_in, xb + i * n_in, n_in);
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t n32 = (n_out + 31) / 32; /* split on 32-row panels */
        int64_t r0 = n32 * it / nt * 32, r1 = n32 * (it + 1) / nt * 32;
        if (r1 > n_out) r1 = n_out;
        if (r1 > r0) gemm(w->type, n_in, w->data, w->row_bytes / 2, r0, r1, xb, n_tok, y, n_out);
    }
}

void ks_matmul(const ks_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch) {
    if ((w->type == KS_DTYPE_BF16 || (w->type == KS_DTYPE_F16 && w->bf16_batch)) && n_tok >= KS_BF16_MIN_TOK &&
        w->ne[0] % 32 == 0) {
        ks_gemm_bf16_fn g = bf16_batch_gemm(w->type);
        if (g) {
            matmul_bf16(w, x, n_tok, y, scratch, g);
            return;
        }
        ks_gemm_f16_fn gp = f16p_gemm(w, n_tok);
        if (gp) { /* where BF16 dot products do not pay: FP32 outer products (Intel without AMX) */
            matmul_f16p_n(&w, &y, 1, x, n_tok, scratch, gp);
            return;
        }
    }
    if (w->type == KS_DTYPE_F16 && w->ne[0] % 16 == 0) {
        ks_gemm_f16_fn g = ks_gemm_f16_avx512();
        if (g) {
            matmul_f16(w, x, n_tok, y, scratch, g);
            return;
        }
    }
    if (w->packed) {
        matmul_packed_n(&w, &y, 1, x, n_tok, scratch);
        return;
    }
    const ks_matmul_traits *t = best_table(w->type);
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    const size_t xrb = (size_t)ks_dtype_row_bytes(t->vec_dot_type, n_in);
    const char *xq = scratch;
    if (t->vec_dot_type == 0 /* F32: use x directly */) {
        xq = (const char *)x;
    } else {
#pragma omp parallel for schedule(static) if (n_tok > 1)
        for (int64_t i = 0; i < n_tok; i++) t->from_float(x + i * n_in, (char *)scratch + i * xrb, n_in);
    }
    const char *wd = w->data;
    /* rows in chunks so that each thread streams a contiguous slab of weights; a batch goes
     * in token blocks whose activations (~24 KiB) stay in L1 while the thread's rows pass
     * over them (each row read once per block, from L2), and whose outputs, one cache line
     * per token, stay there from row to row: the whole batch per row streamed the
     * activations from L2/L3 for every row (Gemma-3 pp512: 1.6x slower Q5_0 products) */
    int64_t tb = (int64_t)((24 * 1024) / xrb) & ~(int64_t)3;
    if (tb < 4) tb = 4;
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t r0 = n_out * it / nt, r1 = n_out * (it + 1) / nt;
        for (int64_t t0 = 0; t0 < n_tok; t0 += tb) {
            const int64_t t1 = t0 + tb < n_tok ? t0 + tb : n_tok;
            for (int64_t r = r0; r < r1; r++) {
                const char *wr = wd + (size_t)r * w->row_bytes;
                if (n_tok == 1 && r + KS_PF_ROWS < n_out) { /* generation: prefetch a few rows ahead */
                    const char *pf = wr + KS_PF_ROWS * w->row_bytes;
                    for (size_t off = 0; off < w->row_bytes; off += 64) __builtin_prefetch(pf + off, 0, 2); /* T1 */
                }
                int64_t i = t0;
                if (t->vec_dot4)
                    for (; i + 4 <= t1; i += 4) t->vec_dot4(n_in, &y[i * n_out + r], n_out, wr, xq + i * xrb, xrb);
                for (; i < t1; i++) t->vec_dot(n_in, &y[i * n_out + r], wr, xq + i * xrb);
            }
        }
    }
}

void ks_matmul_n(const ks_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok, void *scratch) {
    bool packed = true;
    for (int k = 0; k < n; k++)
        packed = packed && w[k]->packed && ks_packed_record_bytes(w[k]->type) && w[k]->ne[0] == w[0]->ne[0] &&
                 ks_packed_act_q8_K(w[k]->type) == ks_packed_act_q8_K(w[0]->type) &&
                 ks_packed_gemm_for(w[k]->type) == ks_packed_gemm_for(w[0]->type);
    if (packed) {
        matmul_packed_n(w, y, n, x, n_tok, scratch);
        return;
    }
    ks_gemm_f16_fn gp = n <= 8 ? f16p_gemm(w[0], n_tok) : NULL;
    for (int k = 1; k < n && gp; k++)
        if (f16p_gemm(w[k], n_tok) != gp || w[k]->ne[0] != w[0]->ne[0]) gp = NULL;
    if (gp) { /* F16 panel products: the activations packed once for all */
        matmul_f16p_n(w, y, n, x, n_tok, scratch, gp);
        return;
    }
    for (int k = 0; k < n; k++) ks_matmul(w[k], x, n_tok, y[k], scratch);
}

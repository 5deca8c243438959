/* kernels.h - compute kernels shared by inference (and later training).
 *
 * Matrix products follow ggml's numerics so results track llama.cpp closely:
 * a weight row of type T is dotted with the activation converted to T's
 * "vec_dot type" (F32 -> F32, F16 -> F16, BF16 -> BF16, Q4_0/Q5_0/Q8_0 -> Q8_0,
 * Q4_1 -> Q8_1, Q4_K/Q6_K -> Q8_K). Every kernel has a scalar reference (*_ref); faster ISA
 * variants are selected at run time and tested against it.
 *
 * How a kernel is chosen today (to be unified into one table per dtype x ISA, resolved
 * once at startup; until then this is the map):
 *  - CPU features: base/cpu.h ks_cpu_has (cpuid, cached). Each fast path has its own
 *    getter that caches its answer in a function-local static ("ok" flag):
 *    ks_matmul_avx2_table (AVX2+FMA vec_dot table, matmul_avx2.c), ks_packed_gemm_avx512
 *    (AMX-INT8 tiles inside it, packed_avx512.c), ks_gemm_f16_avx512 / ks_gemm_f16p_avx512
 *    (gemm_f16.c), ks_gemm_bf16_avx512 / ks_gemm_bf16_amx (gemm_bf16.c).
 *  - Load time: ks_matmul_pack_useful() (= the packed AVX-512 GEMM exists) makes the model
 *    repack Q4_0/Q4_1/Q5_0/Q8_0/Q4_K/Q6_K weights into ks_tensor.packed (model.c).
 *  - ks_matmul, per call, in this order (first that applies):
 *      1. F16 (with bf16_batch) or BF16 weights, >= KS_BF16_MIN_TOK tokens, ne0 % 32 == 0:
 *         BF16 dot products (AMX-BF16; else AVX512-BF16 for BF16 weights or on AMD), else
 *         for F16 the FP32 panel product ks_gemm_f16p_avx512;
 *      2. F16 weights, ne0 % 16 == 0: ks_gemm_f16_avx512 (llama.cpp's FP32 order);
 *      3. w->packed: the packed int8 GEMM (AMX tiles for batches where present);
 *      4. else the per-dtype vec_dot table: AVX2 row if the dtype has one, else scalar.
 *    ks_matmul_n runs several weights on one input as one packed (or F16 panel) product
 *    when they all qualify, else ks_matmul on each.
 *  - Attention (F16 caches): ks_attn_kernels_best() picks avx512 > avx2 > scalar once per
 *    context (context.c keeps the pointer); ks_attn_kernels_isa(name) gives one by name
 *    for tests. ks_kernels_isa() names the matmul ISA for logs and benchmarks.
 */
#ifndef KS_KERNELS_H
#define KS_KERNELS_H
#include "kestrel.h"

/* A weight matrix view: ne0 = inputs (contiguous), ne1 = outputs (rows). */
typedef struct ks_tensor {
    uint32_t type;   /* ggml type id */
    int64_t ne[4];   /* innermost first */
    size_t row_bytes; /* bytes per ne0 row */
    const void *data; /* borrowed: points into the model's mapping or owned buffer */
    const void *packed; /* optional: the same weights repacked for the int8 GEMM (kernels/packed.h); owned by the model */
    bool bf16_batch;  /* F16 weights: batches of KS_BF16_MIN_TOK+ tokens may use BF16 dot products
                         (kernels/gemm_bf16.c; rounds the weights to bf16). BF16 weights always do. */
} ks_tensor;

/* batches from this many tokens take the BF16 dot-product GEMM (F16/BF16 weights, AVX512-BF16) */
#define KS_BF16_MIN_TOK 32

/* dot of one weight row (type T) with one activation row in T's vec_dot type */
typedef void (*ks_vec_dot_fn)(int64_t n, float *out, const void *w_row, const void *x_row);
/* four dots of one weight row with four activation rows (x_rows, x_stride bytes
 * apart): out[k * out_stride] for k < 4, each computed exactly as vec_dot would */
typedef void (*ks_vec_dot4_fn)(int64_t n, float *out, int64_t out_stride, const void *w_row, const void *x_rows,
                               size_t x_stride);
/* converts n floats to the vec_dot type */
typedef void (*ks_from_float_fn)(const float *x, void *dst, int64_t n);

typedef struct ks_matmul_traits {
    uint32_t vec_dot_type;
    ks_vec_dot_fn vec_dot;
    ks_vec_dot4_fn vec_dot4; /* optional (NULL): batch kernel sharing the weight unpacking */
    ks_from_float_fn from_float; /* activation conversion */
} ks_matmul_traits;

/* Traits for weights of the given type with the best kernels for this CPU; NULL if unsupported. */
const ks_matmul_traits *ks_matmul_get(uint32_t type);
/* Same, scalar reference only (tests compare the two). */
const ks_matmul_traits *ks_matmul_get_ref(uint32_t type);
/* Bytes of scratch needed to hold n_tok activation rows of n_in values converted for weight type. */
size_t ks_matmul_scratch_bytes(uint32_t type, int64_t n_in, int64_t n_tok);

/* y[t*n_out + r] = sum_i W[r, i] * x[t*n_in + i] for t < n_tok, r < n_out = w->ne[1].
 * scratch: at least ks_matmul_scratch_bytes(w->type, ne0, n_tok). Threads via OpenMP.
 * The caller guarantees the type is supported (checked at model load). */
void ks_matmul(const ks_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch);

/* Weight repacking (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K with a multiple of 16 rows; see kernels/packed.h).
 * pack_bytes: size of the packed copy, 0 if w cannot be packed on this CPU (the
 * packed kernels need AVX-512 VNNI). pack_useful: this CPU has them.
 * pack: writes the copy; the caller then sets w->packed and owns the buffer. */
size_t ks_matmul_pack_bytes(const ks_tensor *w);
bool ks_matmul_pack_useful(void);
void ks_matmul_pack(const ks_tensor *w, void *dst);

/* y[k] = w[k] x for k < n, all w[k] with the same ne0: the same as n ks_matmul
 * calls, but the activation is converted once and the products share one
 * parallel region when the weights allow it (q/k/v, gate/up). */
void ks_matmul_n(const ks_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok, void *scratch);

/* Name of the ISA chosen at run time ("avx2", "scalar", ...). */
const char *ks_kernels_isa(void);

/* ---- elementwise / row ops (scalar; ggml numerics) ---- */
/* y = x / sqrt(mean(x^2) + eps) * w   (w may be NULL) */
void ks_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* y = (x - mean) / sqrt(var + eps) * w + b   (w, b may be NULL) */
void ks_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
/* ggml's exp approximation (see ops.c) */
float ks_expf(float x);
/* sum of 16 values in the order of a 512-bit horizontal add */
float ks_reduce16(const float *lane);
/* f16 dot products (a: n floats holding f16 values, b: f16 with a stride) in the
 * summation order of llama.cpp's single-token (vec) and multi-token (gemm) paths */
float ks_dot_f16_order_vec(const float *a, const uint16_t *b, int64_t stride, int64_t n, bool zero_padded);
float ks_dot_f16_order_gemm(const float *a, const uint16_t *b, int64_t stride, int64_t n);
/* Attention against an f16 cache (attn_f16.c). vec = llama.cpp's one-token order,
 * else its multi-token order. qk: dot of hd floats (f16-rounded values) with an f16
 * row. pv: o[d] = sum_j p[j] * v[j*stride + d] for d < hd over n_kv positions.
 * Every variant is bit-identical to the scalar reference. */
typedef struct ks_attn_kernels {
    const char *name;
    float (*qk)(const float *q, const uint16_t *k, int64_t hd, bool vec);
    void (*pv)(float *o, const float *p, const uint16_t *v, int64_t stride, int64_t n_kv, int64_t hd, bool vec);
    /* batched order over keys/values widened to float and transposed (kt[d * ld + j]):
     * s[j] = q.k_j for j < n_kv; o[d] = sum_j p[j] vt[d * ld + j]. NULL when this ISA has none. */
    void (*qk_cols)(float *s, const float *q, const float *kt, int64_t ld, int64_t n_kv, int64_t hd);
    void (*pv_cols)(float *o, const float *p, const float *vt, int64_t ld, int64_t n_kv, int64_t hd);
    /* qk_cols for nq <= 3 queries sharing the keys: s[i] = q[i].k_j */
    void (*qk_cols3)(float *const *s, const float *const *q, int nq, const float *kt, int64_t ld, int64_t n_kv,
                     int64_t hd);
    /* pv_cols for nq <= 3 probability rows sharing the values: o[i] = sum_j p[i][j] vt[d * ld + j] */
    void (*pv_cols3)(float *const *o, const float *const *p, int nq, const float *vt, int64_t ld, int64_t n_kv,
                     int64_t hd);
    /* s[j] = qk(q, k + j * stride, hd, vec) * scale for j < n_kv (stride in halves), each exactly as qk */
    void (*qk_rows)(float *s, const float *q, const uint16_t *k, int64_t stride, int64_t n_kv, int64_t hd, bool vec,
                    float scale);
} ks_attn_kernels;
const ks_attn_kernels *ks_attn_kernels_best(void);
const ks_attn_kernels *ks_attn_kernels_ref(void);
/* "scalar", "avx2" or "avx512"; NULL if this CPU lacks it */
const ks_attn_kernels *ks_attn_kernels_isa(const char *isa);
/* ---- flash attention (attn_flash.c): tiled over keys, online softmax, FP32 ----
 * Attention for n_q query rows that share one kv head, over cache rows [0, n_kv):
 *   o_i = sum_j softmax_j(s_ij) v_j  for j in [lo[i], hi[i]),  s_ij = scale * q_i . k_j,
 *   then softcap > 0: s_ij = softcap * tanh(s_ij / softcap) (Gemma 2; 0 = off), then s_ij += mask_i[j].
 * k_j = (const uint8_t *)k + j * kv_row_bytes: hd elements of kv_type F32 (kv_row_bytes a multiple
 * of 4), F16 or Q8_0 (ggml blocks; hd a multiple of 32); same for v. hd: a multiple of 16, at most
 * KS_ATTN_MAX_HD. mask: NULL, or n_q rows of n_kv floats (0 or -INFINITY) at mask + i * mask_stride.
 * lo/hi: each query's visible rows (0 <= lo[i], hi[i] <= n_kv); NULL lo means 0 for all, NULL hi
 * n_kv. A query that sees no row (empty range or all masked) gets o_i = 0.
 * Split KV (flash-decoding): with m_out/l_out non-NULL, o_i is left unnormalised (sum_j e^(s_ij - m_i) v_j)
 * with m_out[i] = m_i (the largest score, -INFINITY if none) and l_out[i] = sum_j e^(s_ij - m_i)
 * (0 if none); ks_attn_merge() combines such partials over disjoint key ranges.
 * The o rows serve as the accumulators from the first tile on: they may not alias any q row.
 * K and V rows are read once per block of KS_ATTN_QB queries, whatever n_q: in generation
 * (n_q = the query heads of one kv head) the call streams the head's cache once.
 * scratch: ks_attn_flash_scratch_bytes(n_q, hd) bytes, 64-byte aligned. One thread; the caller
 * parallelises over (kv head, query block, kv split). Accuracy: FP32 sums, exp and tanh within a
 * few ulp; tests/unit/test_attn.c bounds the error against the double-precision reference. */
#define KS_ATTN_MAX_HD 256
/* Attention over cache rows one head at a time reads hd values every kv_dim: a stride the hardware
 * prefetcher follows poorly, so the loops prefetch the row KS_ATTN_PF positions ahead (no effect on
 * results; q.k over 4096 keys from DRAM in a harness: 155 ns a key without, 54-60 with 16 ahead) */
#define KS_ATTN_PF 16
static inline void ks_prefetch_row(const void *p, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch((const char *)p + off, 0, 3);
}
#define KS_ATTN_QB 64
typedef struct ks_attn_args {
    int64_t n_q, hd, n_kv;
    const float *const *q; /* n_q pointers to hd floats */
    float *const *o;       /* n_q pointers to hd floats (written) */
    const void *k, *v;     /* row 0 of this kv head's keys / values */
    size_t kv_row_bytes;   /* bytes from one cache row to the next */
    uint32_t kv_type;      /* KS_DTYPE_F32, KS_DTYPE_F16 or KS_DTYPE_Q8_0 */
    const int64_t *lo, *hi;
    const float *mask;
    int64_t mask_stride;
    float scale, softcap;
    float *m_out, *l_out; /* NULL, or n_q floats each (split-KV partials) */
} ks_attn_args;
typedef void (*ks_attn_flash_fn)(const ks_attn_args *a, void *scratch);
/* best kernel for this CPU */
void ks_attn_flash(const ks_attn_args *a, void *scratch);
/* the plain two-pass softmax in double (same arguments and scratch) */
void ks_attn_flash_ref(const ks_attn_args *a, void *scratch);
/* "scalar" (the reference), "avx2" or "avx512"; NULL if this CPU lacks it */
ks_attn_flash_fn ks_attn_flash_isa(const char *isa);
size_t ks_attn_flash_scratch_bytes(int64_t n_q, int64_t hd);
/* o = the normalised output of one query row from n_split partials over disjoint key ranges
 * (o_part[s]: hd floats, m[s], l[s] as ks_attn_flash's m_out/l_out give them); o may be o_part[0].
 * All partials empty gives o = 0. */
void ks_attn_merge(float *o, const float *const *o_part, const float *m, const float *l, int64_t n_split,
                   int64_t hd);
/* in-place softmax over n values (ggml numerics) */
void ks_softmax(float *x, int64_t n);
/* attention probabilities in place: x *= scale, ks_softmax, round to f16 (as ggml's f16
 * p.v matmul takes them); the _ref form is those three steps, the other bit-identical */
void ks_softmax_f16(float *x, int64_t n, float scale);
void ks_softmax_f16_ref(float *x, int64_t n, float scale);
/* out[i] = silu(gate[i]) * up[i] */
void ks_swiglu(float *out, const float *gate, const float *up, int64_t n);
/* out[i] = gelu(x[i]) (* up[i] if up) in ggml's CPU numerics: the tanh form read from an f16
 * table at x rounded to f16 (0 below -10, x above 10); bit for bit llama.cpp's ggml_vec_ge(g)lu_f32 */
void ks_gelu_f16_table(float *out, const float *x, const float *up, int64_t n);
/* rotate pairs (x[2i], x[2i+1]) ("normal" ggml rope) or (x[i], x[i+n_rot/2]) (neox) by cos/sin tables of n_rot/2 */
void ks_rope(float *x, int64_t n_rot, const float *cos_t, const float *sin_t, bool neox);
float ks_dot_f32(const float *a, const float *b, int64_t n);
#endif

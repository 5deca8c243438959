/* attention.c - attention of a micro-batch's queries over the KV cache: each token
 * sees the cells of its view (kv_cache.h), in llama.cpp's order for this batch size:
 * one token uses its vector (vec) order, more tokens its matrix (gemm) order, with
 * probabilities rounded to f16 on an f16 cache as ggml's f16 matmul takes them.
 * Cells a token may not see inside its view get probability exactly 0, so they add
 * nothing to any sum.
 */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/context_impl.h"
#include "tensor/dtype.h"

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* sets the scores of cells token t may not see to -inf (its view is not contiguous) */
static void apply_mask(ks_context *c, int64_t t, float *const *s, int ns) {
    const ks_kv_view *v = &c->ub_view[t];
    if (v->contiguous) return;
    float *mask = c->mask + (size_t)thread_id() * (size_t)c->n_ctx;
    kv_mask_row(&c->kv, v, c->ub_seq[t], c->ub_pos[t], c->ub_window, mask);
    for (int i = 0; i < ns; i++)
        for (int64_t j = 0; j < v->hi - v->lo; j++)
            if (mask[j] != 0.0f) s[i][j] = -INFINITY;
}

/* Batched attention on an f16 cache: the layer's K and V rows over [0, n_span) are
 * widened to float and transposed once, then tasks of (16 queries, kv head) run the
 * query heads that share the kv head against them. */
static void attention_rows(ks_context *c, int64_t il) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim, n_head = hp->n_head, n_kvh = hp->n_head_kv, kv_dim = n_kvh * hd;
    const int64_t n = c->ub_n, q_dim = n_head * hd, group = n_head / n_kvh, QB = 16, n_qb = (n + QB - 1) / QB;
    const float scale = 1.0f / sqrtf((float)hd);
    const ks_attn_kernels *ak = c->attn;
    const int64_t n_rows = c->ub_n_span;
    /* K^T row stride: n_rows rounded up, plus 16 so rows do not fall on one cache set */
    const int64_t ldk = (n_rows + 15) / 16 * 16 + 16;
    float *kf = c->kvf, *vf = c->kvf + (size_t)(c->n_ctx + 32) * kv_dim;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t e = 0; e < kv_dim; e++) /* transposed: positions in lanes for qk_cols / pv_cols */
            for (int64_t j = 0; j < n_rows; j++) {
                kf[e * ldk + j] = ks_fp16_to_fp32(((const uint16_t *)kv_k_row(&c->kv, il, j))[e]);
                vf[e * ldk + j] = ks_fp16_to_fp32(((const uint16_t *)kv_v_row(&c->kv, il, j))[e]);
            }
        const int tid = thread_id();
        float *sc = c->scores + (size_t)tid * 3 * c->n_ctx;
        float *qh = c->qh + (size_t)tid * 3 * hd;
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int64_t bi = 0; bi < n_qb; bi++) {
            for (int64_t hk = 0; hk < n_kvh; hk++) {
                const int64_t t0 = (n_qb - 1 - bi) * QB, t1 = t0 + QB < n ? t0 + QB : n; /* longest first */
                for (int64_t t = t0; t < t1; t++) {
                    const int64_t lo = c->ub_view[t].lo, n_kv = c->ub_view[t].hi - lo;
                    for (int64_t h0 = hk * group; h0 < (hk + 1) * group; h0 += 3) { /* up to 3 heads share a pass */
                        const int nh = (int)((hk + 1) * group - h0 < 3 ? (hk + 1) * group - h0 : 3);
                        float *s3[3];
                        const float *q3[3];
                        for (int i = 0; i < nh; i++) {
                            ks_fp16_round_row(c->q + t * q_dim + (h0 + i) * hd, qh + i * hd, hd);
                            q3[i] = qh + i * hd, s3[i] = sc + (size_t)i * c->n_ctx;
                        }
                        ak->qk_cols3(s3, q3, nh, kf + hk * hd * ldk + lo, ldk, n_kv, hd);
                        apply_mask(c, t, s3, nh);
                        float *o3[3];
                        const float *p3[3];
                        for (int i = 0; i < nh; i++) {
                            ks_softmax_f16(s3[i], n_kv, scale);
                            o3[i] = c->att + t * q_dim + (h0 + i) * hd, p3[i] = s3[i];
                        }
                        ak->pv_cols3(o3, p3, nh, vf + hk * hd * ldk + lo, ldk, n_kv, hd);
                    }
                }
            }
        }
    }
}

/* one query head of token t over its view: scores, softmax, weighted values */
static void attend_one(ks_context *c, int64_t il, int64_t t, int64_t h, bool vec) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim, kv_dim = c->kv.kv_dim, q_dim = hp->n_head * hd;
    const int64_t kvh = h / (hp->n_head / hp->n_head_kv), lo = c->ub_view[t].lo, n_kv = c->ub_view[t].hi - lo;
    const float scale = 1.0f / sqrtf((float)hd);
    const int tid = thread_id();
    float *sc = c->scores + (size_t)tid * 3 * c->n_ctx, *qh = c->qh + (size_t)tid * 3 * hd;
    float *o = c->att + t * q_dim + h * hd;
    const float *q = c->q + t * q_dim + h * hd;
    const bool f16 = c->kv.type_k == KS_DTYPE_F16 && c->kv.type_v == KS_DTYPE_F16;
    if (f16) {
        const ks_attn_kernels *ak = c->attn;
        ks_fp16_round_row(q, qh, hd);
        ak->qk_rows(sc, qh, (const uint16_t *)kv_k_row(&c->kv, il, lo) + kvh * hd, kv_dim, n_kv, hd, vec, scale);
        apply_mask(c, t, &sc, 1);
        ks_softmax(sc, n_kv);
        memset(o, 0, (size_t)hd * sizeof *o);
        /* ggml's f16 matmul converts the probabilities to f16 too; summation order
         * follows llama.cpp's path for this batch size (see kernels.h) */
        ks_fp16_round_row(sc, sc, n_kv);
        ak->pv(o, sc, (const uint16_t *)kv_v_row(&c->kv, il, lo) + kvh * hd, kv_dim, n_kv, hd, vec);
        return;
    }
    /* F32 or quantized cache: rows widened to float one at a time */
    const ks_dtype_traits *tk = ks_dtype_get(c->kv.type_k), *tv = ks_dtype_get(c->kv.type_v);
    float *row = c->kvrow + (size_t)tid * (size_t)(2 * kv_dim + 2 * (hp->n_rot / 2 + 1));
    for (int64_t j = 0; j < n_kv; j++) {
        const float *kr = row + kvh * hd;
        if (c->kv.type_k == KS_DTYPE_F32) kr = (const float *)kv_k_row(&c->kv, il, lo + j) + kvh * hd;
        else tk->to_float(kv_k_row(&c->kv, il, lo + j), row, kv_dim);
        float s = 0.0f;
        for (int64_t d = 0; d < hd; d++) s += q[d] * kr[d];
        sc[j] = s * scale;
    }
    apply_mask(c, t, &sc, 1);
    ks_softmax(sc, n_kv);
    memset(o, 0, (size_t)hd * sizeof *o);
    for (int64_t j = 0; j < n_kv; j++) {
        const float *vr = row + kvh * hd;
        if (c->kv.type_v == KS_DTYPE_F32) vr = (const float *)kv_v_row(&c->kv, il, lo + j) + kvh * hd;
        else tv->to_float(kv_v_row(&c->kv, il, lo + j), row, kv_dim);
        for (int64_t d = 0; d < hd; d++) o[d] += sc[j] * vr[d];
    }
}

/* Flash attention (kernels/attn_flash.c): tasks of (kv head, block of FLASH_TB tokens) whose
 * views are contiguous share each K/V tile among all their queries; a token with a masked
 * view runs alone with its mask. FP32 sums in another order than llama.cpp's non-flash path
 * (as llama.cpp's own -fa). */
#define FLASH_TB 16
/* blocks of up to FLASH_TB consecutive tokens whose views start at the same cell (one sequence's
 * stream): tokens of other sequences would make every tile of either visible to the whole block */
static int64_t flash_blocks(const ks_context *c, int64_t *start) {
    int64_t n_blk = 0;
    for (int64_t t = 0; t < c->ub_n; t++)
        if (!n_blk || t - start[n_blk - 1] >= FLASH_TB || c->ub_view[t].lo != c->ub_view[start[n_blk - 1]].lo)
            start[n_blk++] = t;
    start[n_blk] = c->ub_n;
    return n_blk;
}

/* Split KV (flash-decoding) for a micro-batch of one block of contiguous views (generation, short
 * chunks): with fewer (kv head) tasks than threads can share evenly, each task's keys are cut into
 * n_split ranges run as tasks of their own and merged after. Returns n_split (1: no split). */
static int64_t flash_split(const ks_context *c, int64_t n_blk) {
    const int64_t n_kvh = c->m->hp.n_head_kv, T = c->n_threads, span = c->ub_n_span;
    if (n_blk != 1 || T < 2 || n_kvh % T == 0 || n_kvh >= 4 * T) return 1;
    for (int64_t t = 0; t < c->ub_n; t++)
        if (!c->ub_view[t].contiguous) return 1;
    int64_t s = 2;
    while (s < KS_FLASH_SPLIT_MAX && (n_kvh * s) % T && n_kvh * s < 4 * T) s++;
    while (s > 1 && span / s < 256) s--; /* short spans: the merge would cost more than it shares */
    return s;
}

static void attention_flash(ks_context *c, int64_t il) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim, n_kvh = hp->n_head_kv, group = hp->n_head / n_kvh, q_dim = hp->n_head * hd;
    const int64_t n_blk = flash_blocks(c, c->ub_blk), n_split = flash_split(c, n_blk), span = c->ub_n_span;
    const int64_t nq_task = FLASH_TB * group; /* m/l slots of one split task */
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int64_t bi = 0; bi < n_blk * n_split; bi++) {
        for (int64_t hk = 0; hk < n_kvh; hk++) {
            const int tid = thread_id();
            ks_flash_scratch *fs = &c->flash[tid];
            const int64_t blk = bi / n_split, sp = bi % n_split;
            const int64_t t0 = c->ub_blk[n_blk - 1 - blk], t1 = c->ub_blk[n_blk - blk]; /* longest first */
            const int64_t s_lo = span * sp / n_split, s_hi = span * (sp + 1) / n_split;
            ks_attn_args a = {.hd = hd, .n_kv = span, .q = fs->q, .o = fs->o, .lo = fs->lo, .hi = fs->hi,
                              .k = kv_k_row(&c->kv, il, 0), .v = kv_v_row(&c->kv, il, 0), .kv_type = c->kv.type_k,
                              .kv_row_bytes = c->kv.k_row_bytes, .scale = scale, .softcap = 0.0f};
            if (n_split > 1) {
                float *ml = c->split_ml + (size_t)((sp * n_kvh + hk) * nq_task) * 2;
                a.m_out = ml, a.l_out = ml + nq_task;
            }
            const size_t head_off = (size_t)ks_dtype_row_bytes(c->kv.type_k, hk * hd);
            a.k = (const uint8_t *)a.k + head_off, a.v = (const uint8_t *)a.v + head_off;
            int64_t nq = 0;
            for (int64_t t = t0; t < t1; t++) {
                const ks_kv_view *v = &c->ub_view[t];
                if (!v->contiguous) { /* alone, with its mask (never split) */
                    float *mask = c->mask + (size_t)tid * (size_t)c->n_ctx;
                    kv_mask_row(&c->kv, v, c->ub_seq[t], c->ub_pos[t], c->ub_window, mask);
                    ks_attn_args m = a;
                    m.k = (const uint8_t *)a.k + (size_t)v->lo * c->kv.k_row_bytes;
                    m.v = (const uint8_t *)a.v + (size_t)v->lo * c->kv.k_row_bytes;
                    m.n_kv = v->hi - v->lo, m.lo = NULL, m.hi = NULL, m.mask = mask, m.mask_stride = 0;
                    m.q = fs->q + nq, m.o = fs->o + nq, m.n_q = group;
                    for (int64_t g = 0; g < group; g++) {
                        fs->q[nq + g] = c->q + t * q_dim + (hk * group + g) * hd;
                        fs->o[nq + g] = c->att + t * q_dim + (hk * group + g) * hd;
                    }
                    ks_attn_flash(&m, fs->scratch);
                    continue;
                }
                for (int64_t g = 0; g < group; g++, nq++) {
                    const int64_t h = hk * group + g;
                    fs->q[nq] = c->q + t * q_dim + h * hd;
                    fs->o[nq] = n_split > 1 ? c->split_o + ((sp * FLASH_TB + t - t0) * hp->n_head + h) * hd
                                            : c->att + t * q_dim + h * hd;
                    fs->lo[nq] = v->lo > s_lo ? v->lo : s_lo, fs->hi[nq] = v->hi < s_hi ? v->hi : s_hi;
                    if (fs->hi[nq] < fs->lo[nq]) fs->hi[nq] = fs->lo[nq];
                }
            }
            a.n_q = nq;
            if (nq) ks_attn_flash(&a, fs->scratch);
        }
    }
    if (n_split == 1) return;
#pragma omp parallel for schedule(static) if (c->ub_n * hp->n_head >= 8)
    for (int64_t th = 0; th < c->ub_n * hp->n_head; th++) {
        const int64_t t = th / hp->n_head, h = th % hp->n_head, i = t * group + h % group, hk = h / group;
        const float *parts[KS_FLASH_SPLIT_MAX];
        float m[KS_FLASH_SPLIT_MAX], l[KS_FLASH_SPLIT_MAX];
        for (int64_t sp = 0; sp < n_split; sp++) {
            const float *ml = c->split_ml + (size_t)((sp * n_kvh + hk) * nq_task) * 2;
            parts[sp] = c->split_o + ((sp * FLASH_TB + t) * hp->n_head + h) * hd;
            m[sp] = ml[i], l[sp] = ml[nq_task + i];
        }
        ks_attn_merge(c->att + t * q_dim + h * hd, parts, m, l, n_split, hd);
    }
}

void ks_attention(ks_context *c, int64_t il) {
    const int64_t n = c->ub_n, n_head = c->m->hp.n_head;
    if (c->flash_attn) {
        attention_flash(c, il);
        return;
    }
    /* per-sequence streams: the span covers every stream, which the transposed copy would widen */
    if (n >= 4 && c->kvf && c->attn->qk_cols3 && c->attn->pv_cols3 && c->kv.n_stream <= 1) {
        attention_rows(c, il);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < n_head; h++) attend_one(c, il, t, h, n == 1);
}

/* forward.c - the inference forward pass for every family in model.h, with a
 * KV cache and batched prompt processing.
 *
 * Layout of activations: [n_tok][dim] row-major, one row per token in the batch.
 * KV cache: per layer [n_ctx][n_head_kv * head_dim] of kv_type (F16 or F32).
 * Numerics follow llama.cpp's CPU path (see kernels.h); with an F16 cache the
 * query is rounded to F16 before q.k, as ggml's f16 matmul does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/model.h"
#include "tensor/dtype.h"

struct ks_context {
    const ks_model *m;
    int64_t n_ctx, n_batch;
    uint32_t kv_type;
    size_t kv_elt;      /* bytes per cache element */
    uint8_t *k_cache;   /* owned [n_layer][n_ctx][kv_dim] */
    uint8_t *v_cache;   /* owned, same */
    /* scratch, each owned, sized for n_batch tokens */
    float *x;           /* [n_batch][n_embd] residual stream */
    float *xb;          /* [n_batch][n_embd] normed input */
    float *xb2;         /* [n_batch][n_embd] block output */
    float *q;           /* [n_batch][n_head*head_dim] */
    float *k, *v;       /* [n_batch][kv_dim] */
    float *att;         /* [n_batch][n_head*head_dim] attention output */
    float *hb, *hb2;    /* [n_batch][n_ff] */
    float *scores;      /* [n_threads][3][n_ctx] */
    float *qh;          /* [n_threads][3][head_dim] queries rounded to the cache type */
    float *kvf;         /* the layer's K and V transposed ([kv_dim][<= n_ctx + 32]) and widened to
                           float (batched attention on an f16 cache; NULL when unused) */
    float *rope_cos, *rope_sin; /* [n_batch][n_rot/2] */
    float *inv_freq;    /* [n_rot/2] */
    float *logits;      /* [n_logits][n_vocab] */
    int64_t n_logits_cap;
    int64_t logits_first, n_logits; /* the last batch's rows [logits_first, n_logits) have logits */
    void *mm_scratch;   /* activation conversion for matmuls */
    int n_threads;
    const ks_attn_kernels *attn; /* chosen at creation for this CPU */
};

ks_context_params ks_context_default_params(void) {
    ks_context_params p = {.n_ctx = 0, .n_batch = 0, .n_threads = 0, .kv_type = -1, .logits_all = false};
    return p;
}

int64_t ks_context_n_ctx(const ks_context *c) { return c->n_ctx; }
int ks_context_n_threads(const ks_context *c) { return c->n_threads; }

void ks_context_free(ks_context *c) {
    if (!c) return;
    free(c->k_cache), free(c->v_cache), free(c->x), free(c->xb), free(c->xb2), free(c->q), free(c->k);
    free(c->v), free(c->att), free(c->hb), free(c->hb2), free(c->scores), free(c->qh), free(c->rope_cos);
    free(c->rope_sin), free(c->inv_freq), free(c->logits), free(c->mm_scratch);
    free(c->kvf);
    free(c);
}

/* Largest activation-conversion scratch any matmul of the model needs for n_tok rows. */
static size_t max_scratch(const ks_model *m, int64_t n_tok) {
    size_t s = ks_matmul_scratch_bytes(m->output.type, m->output.ne[0], n_tok);
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const ks_layer *l = &m->layers[il];
        const ks_tensor *lt[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t i = 0; i < sizeof lt / sizeof lt[0]; i++) {
            size_t b = ks_matmul_scratch_bytes(lt[i]->type, lt[i]->ne[0], n_tok);
            if (b > s) s = b;
        }
    }
    return s;
}

ks_status ks_context_new(const ks_model *m, const ks_context_params *p, ks_context **out, ks_err *err) {
    *out = NULL;
    if (!ks_model_has_weights(m)) return ks_err_set(err, KS_ERR_INVALID_ARG, "model has no weights (vocabulary-only file)");
    const ks_hparams *hp = &m->hp;
    int64_t n_ctx = p->n_ctx > 0 ? p->n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (n_ctx > hp->n_ctx_train)
        return ks_err_set(err, KS_ERR_LIMIT, "context %lld exceeds the model's trained context %lld", (long long)n_ctx,
                          (long long)hp->n_ctx_train);
    /* OpenMP cannot start (and the stack cannot hold) thousands of threads: a clear error, as ggml's cap */
    if (p->n_threads > KS_MAX_THREADS)
        return ks_err_set(err, KS_ERR_LIMIT, "%d threads exceed the limit of %d", p->n_threads, KS_MAX_THREADS);
    int64_t n_batch = p->n_batch > 0 ? p->n_batch : 512;
    if (n_batch > n_ctx) n_batch = n_ctx;
    uint32_t kv_type = p->kv_type >= 0 ? (uint32_t)p->kv_type : m->kv_type;
    if (kv_type != KS_DTYPE_F32 && kv_type != KS_DTYPE_F16)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "KV cache type must be F32 or F16");
    const int64_t E = hp->n_embd, kv_dim = hp->n_head_kv * hp->head_dim, q_dim = hp->n_head * hp->head_dim;
    const size_t elt = kv_type == KS_DTYPE_F32 ? 4 : 2;
    /* KV cache + scratch bytes (in double: no overflow) against the memory the OS has available */
    double kv_bytes = 2.0 * (double)hp->n_layer * (double)n_ctx * (double)kv_dim * (double)elt;
    double scratch = (double)n_batch * (double)(4 * E + 2 * q_dim + 2 * kv_dim + 2 * hp->n_ff) * 4.0 +
                     (p->logits_all ? (double)n_batch : 1.0) * (double)hp->n_vocab * 4.0;
    if (kv_type == KS_DTYPE_F16) scratch += 2.0 * (double)(n_ctx + 32) * (double)kv_dim * 4.0;
    const double avail = (double)ks_mem_available();
    if (kv_bytes + scratch > 64.0 * (1ull << 30) || (avail > 0 && kv_bytes + scratch > avail))
        return ks_err_set(err, KS_ERR_LIMIT,
                          "context %lld needs %.2f GiB for the KV cache and buffers, more than the %.2f GiB of memory "
                          "available; use a smaller -c",
                          (long long)n_ctx, (kv_bytes + scratch) / (1ull << 30), avail / (1ull << 30));
    ks_context *c = calloc(1, sizeof *c);
    if (!c) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    c->m = m, c->n_ctx = n_ctx, c->n_batch = n_batch, c->kv_type = kv_type, c->kv_elt = elt;
    c->attn = ks_attn_kernels_best();
#ifdef _OPENMP
    if (p->n_threads > 0) omp_set_num_threads(p->n_threads);
    c->n_threads = omp_get_max_threads();
#else
    c->n_threads = 1;
#endif
    const size_t B = (size_t)n_batch;
    c->n_logits_cap = p->logits_all ? n_batch : 1;
    c->k_cache = calloc((size_t)(kv_bytes / 2), 1);
    c->v_cache = calloc((size_t)(kv_bytes / 2), 1);
    c->x = malloc(B * E * 4), c->xb = malloc(B * E * 4), c->xb2 = malloc(B * E * 4);
    c->q = malloc(B * q_dim * 4), c->k = malloc(B * kv_dim * 4), c->v = malloc(B * kv_dim * 4);
    c->att = malloc(B * q_dim * 4);
    c->hb = malloc(B * hp->n_ff * 4), c->hb2 = malloc(B * hp->n_ff * 4);
    c->scores = malloc((size_t)c->n_threads * 3 * n_ctx * 4); /* 3: heads that share a batched q.k pass */
    c->qh = malloc((size_t)c->n_threads * 3 * hp->head_dim * 4);
    c->rope_cos = malloc(B * (hp->n_rot / 2 + 1) * 4), c->rope_sin = malloc(B * (hp->n_rot / 2 + 1) * 4);
    c->inv_freq = malloc((hp->n_rot / 2 + 1) * 4);
    c->logits = malloc((size_t)c->n_logits_cap * hp->n_vocab * 4);
    c->mm_scratch = malloc(max_scratch(m, n_batch) + 64);
    if (kv_type == KS_DTYPE_F16 && c->attn->qk_cols3 && n_batch > 1) {
        /* optional: without it attention() takes the per-query path */
        c->kvf = malloc(2 * (size_t)(n_ctx + 32) * (size_t)kv_dim * 4);
    }
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->xb2 || !c->q || !c->k || !c->v || !c->att || !c->hb ||
        !c->hb2 || !c->scores || !c->qh || !c->rope_cos || !c->rope_sin || !c->inv_freq || !c->logits || !c->mm_scratch) {
        ks_context_free(c);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory allocating the context (n_ctx=%lld)", (long long)n_ctx);
    }
    for (int64_t i = 0; i < hp->n_rot / 2; i++)
        c->inv_freq[i] = 1.0f / powf(hp->rope_theta, (float)(2 * i) / (float)hp->n_rot);
    *out = c;
    return KS_OK;
}

static void rope_tables(ks_context *c, int64_t n, int64_t pos0) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t half = hp->n_rot / 2;
    const float theta_scale = powf(hp->rope_theta, -2.0f / (float)hp->n_rot);
    for (int64_t t = 0; t < n; t++) {
        float *cs = c->rope_cos + t * half, *sn = c->rope_sin + t * half;
        float theta = (float)(pos0 + t);
        for (int64_t i = 0; i < half; i++) {
            /* ggml multiplies theta by theta_scale step by step; run.c uses pos * freq */
            float th = c->m->rope_iterative ? theta : (float)(pos0 + t) * c->inv_freq[i];
            cs[i] = cosf(th), sn[i] = sinf(th);
            theta *= theta_scale;
        }
    }
}

static void add_bias(float *y, const ks_tensor *b, int64_t n_tok, int64_t n) {
    if (!b->data) return;
    const float *bd = b->data;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++) y[t * n + i] += bd[i];
}

/* x += y over n rows of E (the residual stream) */
static void add_rows(float *x, const float *y, int64_t n, int64_t E) {
#pragma omp parallel for schedule(static) if (n > 8)
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < E; i++) x[t * E + i] += y[t * E + i];
}

static void norm_rows(const ks_model *m, float *y, const float *x, const ks_tensor *w, const ks_tensor *b, int64_t n_tok) {
    const int64_t E = m->hp.n_embd;
#pragma omp parallel for schedule(static) if (n_tok > 8)
    for (int64_t t = 0; t < n_tok; t++) {
        if (m->arch->norm == KS_NORM_RMS) ks_rmsnorm(y + t * E, x + t * E, w->data, E, m->hp.norm_eps);
        else ks_layernorm(y + t * E, x + t * E, w->data, b->data, E, m->hp.norm_eps);
    }
}

/* Writes this batch's k, v into the cache at pos0.. for layer il. */
static void kv_store(ks_context *c, int64_t il, int64_t n, int64_t pos0) {
    const int64_t kv_dim = c->m->hp.n_head_kv * c->m->hp.head_dim;
    const size_t layer_bytes = (size_t)c->n_ctx * kv_dim * c->kv_elt;
    uint8_t *kd = c->k_cache + il * layer_bytes + (size_t)pos0 * kv_dim * c->kv_elt;
    uint8_t *vd = c->v_cache + il * layer_bytes + (size_t)pos0 * kv_dim * c->kv_elt;
    if (c->kv_type == KS_DTYPE_F32) {
        memcpy(kd, c->k, (size_t)n * kv_dim * 4);
        memcpy(vd, c->v, (size_t)n * kv_dim * 4);
    } else {
        uint16_t *k16 = (uint16_t *)kd, *v16 = (uint16_t *)vd;
#pragma omp parallel for schedule(static) if (n > 8)
        for (int64_t t = 0; t < n; t++) {
            ks_fp32_to_fp16_row(c->k + t * kv_dim, k16 + t * kv_dim, kv_dim);
            ks_fp32_to_fp16_row(c->v + t * kv_dim, v16 + t * kv_dim, kv_dim);
        }
    }
}

/* Batched attention on an f16 cache (n > 1): the same arithmetic as below in
 * llama.cpp's multi-token order, organised for speed: the layer's K and V rows
 * are widened to float once, then tasks of (16 queries, kv head) run the query
 * heads that share the kv head against them. */
static void attention_rows(ks_context *c, int64_t il, int64_t n, int64_t pos0) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim, n_head = hp->n_head, n_kvh = hp->n_head_kv, kv_dim = n_kvh * hd;
    const int64_t q_dim = n_head * hd, group = n_head / n_kvh, QB = 16, n_qb = (n + QB - 1) / QB;
    const size_t layer_bytes = (size_t)c->n_ctx * kv_dim * c->kv_elt;
    const uint16_t *kc = (const uint16_t *)(c->k_cache + il * layer_bytes);
    const uint16_t *vc = (const uint16_t *)(c->v_cache + il * layer_bytes);
    const float scale = 1.0f / sqrtf((float)hd);
    const ks_attn_kernels *ak = c->attn;
    const int64_t n_rows = pos0 + n;
    /* K^T row stride: n_rows rounded up, plus 16 so rows do not fall on one cache set */
    const int64_t ldk = (n_rows + 15) / 16 * 16 + 16;
    float *kf = c->kvf, *vf = c->kvf + (size_t)(c->n_ctx + 32) * kv_dim;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int64_t e = 0; e < kv_dim; e++) /* transposed: positions in lanes for qk_cols / pv_cols */
            for (int64_t j = 0; j < n_rows; j++) {
                kf[e * ldk + j] = ks_fp16_to_fp32(kc[j * kv_dim + e]);
                vf[e * ldk + j] = ks_fp16_to_fp32(vc[j * kv_dim + e]);
            }
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float *sc = c->scores + (size_t)tid * 3 * c->n_ctx;
        float *qh = c->qh + (size_t)tid * 3 * hd;
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int64_t bi = 0; bi < n_qb; bi++) {
            for (int64_t hk = 0; hk < n_kvh; hk++) {
                const int64_t t0 = (n_qb - 1 - bi) * QB, t1 = t0 + QB < n ? t0 + QB : n; /* longest first */
                for (int64_t t = t0; t < t1; t++) {
                    const int64_t n_kv = pos0 + t + 1;
                    for (int64_t h0 = hk * group; h0 < (hk + 1) * group; h0 += 3) { /* up to 3 heads share a pass */
                        const int nh = (int)((hk + 1) * group - h0 < 3 ? (hk + 1) * group - h0 : 3);
                        float *s3[3];
                        const float *q3[3];
                        for (int i = 0; i < nh; i++) {
                            ks_fp16_round_row(c->q + t * q_dim + (h0 + i) * hd, qh + i * hd, hd);
                            q3[i] = qh + i * hd, s3[i] = sc + (size_t)i * c->n_ctx;
                        }
                        ak->qk_cols3(s3, q3, nh, kf + hk * hd * ldk, ldk, n_kv, hd);
                        float *o3[3];
                        const float *p3[3];
                        for (int i = 0; i < nh; i++) {
                            float *si = s3[i];
                            ks_softmax_f16(si, n_kv, scale);
                            o3[i] = c->att + t * q_dim + (h0 + i) * hd, p3[i] = si;
                        }
                        ak->pv_cols3(o3, p3, nh, vf + hk * hd * ldk, ldk, n_kv, hd);
                    }
                }
            }
        }
    }
}

/* Causal attention of the batch's queries over cache positions [0, pos0 + t]. */
static void attention(ks_context *c, int64_t il, int64_t n, int64_t pos0) {
    if (n > 1 && c->kvf && c->kv_type == KS_DTYPE_F16 && c->attn->qk_cols3 && c->attn->pv_cols3) {
        attention_rows(c, il, n, pos0);
        return;
    }
    const ks_hparams *hp = &c->m->hp;
    const int64_t hd = hp->head_dim, n_head = hp->n_head, kv_dim = hp->n_head_kv * hd, q_dim = n_head * hd;
    const int64_t group = n_head / hp->n_head_kv;
    const size_t layer_bytes = (size_t)c->n_ctx * kv_dim * c->kv_elt;
    const uint8_t *kc = c->k_cache + il * layer_bytes, *vc = c->v_cache + il * layer_bytes;
    const float scale = 1.0f / sqrtf((float)hd);
    const bool f16 = c->kv_type == KS_DTYPE_F16;
    const ks_attn_kernels *ak = c->attn;
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int64_t t = 0; t < n; t++) {
        for (int64_t h = 0; h < n_head; h++) {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            float *sc = c->scores + (size_t)tid * c->n_ctx;
            float *qh = c->qh + (size_t)tid * hd;
            const float *q = c->q + t * q_dim + h * hd;
            const int64_t kvh = h / group, n_kv = pos0 + t + 1;
            if (f16) ks_fp16_round_row(q, qh, hd);
            else memcpy(qh, q, (size_t)hd * sizeof *qh);
            for (int64_t j = 0; j < n_kv; j++) {
                float s = 0.0f;
                if (f16) {
                    s = ak->qk(qh, (const uint16_t *)kc + j * kv_dim + kvh * hd, hd, n == 1);
                } else {
                    const float *kr = (const float *)kc + j * kv_dim + kvh * hd;
                    for (int64_t d = 0; d < hd; d++) s += qh[d] * kr[d];
                }
                sc[j] = s * scale;
            }
            ks_softmax(sc, n_kv);
            float *o = c->att + t * q_dim + h * hd;
            for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
            if (f16) {
                /* ggml's f16 matmul converts the probabilities to f16 too; summation order
                 * follows llama.cpp's path for this batch size (see kernels.h) */
                ks_fp16_round_row(sc, sc, n_kv);
                ak->pv(o, sc, (const uint16_t *)vc + kvh * hd, kv_dim, n_kv, hd, n == 1);
            } else {
                for (int64_t j = 0; j < n_kv; j++) {
                    const float *vr = (const float *)vc + j * kv_dim + kvh * hd;
                    for (int64_t d = 0; d < hd; d++) o[d] += sc[j] * vr[d];
                }
            }
        }
    }
}

static void decode_batch(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, int64_t out_first) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    const ks_dtype_traits *et = ks_dtype_get(m->tok_embd.type);
    for (int64_t t = 0; t < n; t++)
        et->to_float((const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes, c->x + t * E, E);
    rope_tables(c, n, pos0);
    const bool neox = m->arch->rope == KS_ROPE_NEOX;
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const ks_layer *l = &m->layers[il];
        /* attention block */
        norm_rows(m, c->xb, c->x, &l->attn_norm, &l->attn_norm_b, n);
        {
            const ks_tensor *w[] = {&l->wq, &l->wk, &l->wv};
            float *y[] = {c->q, c->k, c->v};
            ks_matmul_n(w, y, 3, c->xb, n, c->mm_scratch);
        }
        add_bias(c->q, &l->bq, n, q_dim), add_bias(c->k, &l->bk, n, kv_dim), add_bias(c->v, &l->bv, n, kv_dim);
        if (m->arch->rope != KS_ROPE_NONE) {
            const int64_t half = hp->n_rot / 2;
#pragma omp parallel for schedule(static) if (n > 8)
            for (int64_t t = 0; t < n; t++) {
                const float *cs = c->rope_cos + t * half, *sn = c->rope_sin + t * half;
                for (int64_t h = 0; h < hp->n_head; h++) ks_rope(c->q + t * q_dim + h * hd, hp->n_rot, cs, sn, neox);
                for (int64_t h = 0; h < hp->n_head_kv; h++) ks_rope(c->k + t * kv_dim + h * hd, hp->n_rot, cs, sn, neox);
            }
        }
        kv_store(c, il, n, pos0);
        attention(c, il, n, pos0);
        ks_matmul(&l->wo, c->att, n, c->xb2, c->mm_scratch);
        add_bias(c->xb2, &l->bo, n, E);
        add_rows(c->x, c->xb2, n, E);
        /* feed-forward block */
        norm_rows(m, c->xb, c->x, &l->ffn_norm, &l->ffn_norm_b, n);
        {
            const ks_tensor *w[] = {&l->ffn_gate, &l->ffn_up};
            float *y[] = {c->hb, c->hb2};
            ks_matmul_n(w, y, 2, c->xb, n, c->mm_scratch);
        }
#pragma omp parallel for schedule(static) if (n > 8)
        for (int64_t t = 0; t < n; t++)
            ks_swiglu(c->hb + t * hp->n_ff, c->hb + t * hp->n_ff, c->hb2 + t * hp->n_ff, hp->n_ff);
        ks_matmul(&l->ffn_down, c->hb, n, c->xb2, c->mm_scratch);
        add_rows(c->x, c->xb2, n, E);
    }
    /* output head: rows out_first..n-1 only */
    const int64_t n_out = n - out_first;
    norm_rows(m, c->xb, c->x + out_first * E, &m->output_norm, &m->output_norm_b, n_out);
    ks_matmul(&m->output, c->xb, n_out, c->logits, c->mm_scratch);
    c->logits_first = out_first;
    c->n_logits = n;
}

ks_status ks_decode_range(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, int64_t logits_from,
                          ks_err *err) {
    if (n <= 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: no tokens");
    if (pos0 < 0 || pos0 > c->n_ctx || n > c->n_ctx - pos0)
        return ks_err_set(err, KS_ERR_LIMIT, "context full: %lld tokens at position %lld exceed the context of %lld",
                          (long long)n, (long long)pos0, (long long)c->n_ctx);
    if (logits_from < 0 || logits_from >= n) logits_from = n - 1;
    if (n - logits_from > c->n_logits_cap || (logits_from < n - 1 && n > c->n_batch))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: logits for %lld tokens exceed the logits buffer (%lld)",
                          (long long)(n - logits_from), (long long)c->n_logits_cap);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->hp.n_vocab)
            return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: token id %d out of range [0, %lld)", tokens[i],
                              (long long)c->m->hp.n_vocab);
    for (int64_t done = 0; done < n;) {
        int64_t nb = n - done < c->n_batch ? n - done : c->n_batch;
        decode_batch(c, tokens + done, nb, pos0 + done, done + nb == n ? logits_from - done : nb - 1);
        done += nb;
    }
    return KS_OK;
}

ks_status ks_decode(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, bool all_logits, ks_err *err) {
    return ks_decode_range(c, tokens, n, pos0, all_logits ? 0 : n - 1, err);
}

const float *ks_context_logits(const ks_context *c, int64_t i) {
    if (i < 0) i = c->n_logits - 1;
    if (i < c->logits_first || i >= c->n_logits) return NULL;
    return c->logits + (size_t)(i - c->logits_first) * c->m->hp.n_vocab;
}

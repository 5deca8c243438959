/* forward.c - the forward pass of every family in model.h over one micro-batch of
 * tokens of any sequences: embedding, then per layer an attention block and a
 * feed-forward block, then the output head for the tokens that want logits. Each
 * block is a function of (context, layer) reading the family's traits (model.h), so
 * a backward can later sit beside each. The traits (model/arch.h) it reads: norm kind
 * (and bias), position kind (RoPE normal / NeoX / none), gated SiLU; every other trait
 * value was refused at load by ks_arch_check, so nothing here meets one.
 *
 * Numerics follow llama.cpp's CPU path (see kernels.h); with an F16 cache the query is
 * rounded to F16 before q.k, as ggml's f16 matmul does (attention.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/context_impl.h"
#include "tensor/dtype.h"

void ks_rope_tables(const ks_context *c, const int32_t *pos, int64_t n, float *cs_all, float *sn_all) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t half = hp->n_rot / 2;
    const float theta_scale = powf(hp->rope_theta, -2.0f / (float)hp->n_rot);
    const float *ff = c->m->rope_freqs.data; /* Llama 3 scaling: theta / ff[i], as ggml's freq_factors */
    for (int64_t t = 0; t < n; t++) {
        float *cs = cs_all + t * half, *sn = sn_all + t * half;
        float theta = (float)pos[t];
        for (int64_t i = 0; i < half; i++) {
            /* ggml multiplies theta by theta_scale step by step; run.c uses pos * freq */
            float th = c->m->rope_iterative ? theta : (float)pos[t] * c->inv_freq[i];
            if (ff) th /= ff[i];
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
        if (m->arch->traits.norm == KS_NORM_RMS) ks_rmsnorm(y + t * E, x + t * E, w->data, E, m->hp.norm_eps);
        else ks_layernorm(y + t * E, x + t * E, w->data, b->data, E, m->hp.norm_eps);
    }
}

/* Writes the micro-batch's k, v into their cells for layer il. */
static void kv_store(ks_context *c, int64_t il) {
    const int64_t kv_dim = c->kv.kv_dim, n = c->ub_n;
    const ks_dtype_traits *tk = ks_dtype_get(c->kv.type_k), *tv = ks_dtype_get(c->kv.type_v);
#pragma omp parallel for schedule(static) if (n > 8)
    for (int64_t t = 0; t < n; t++) {
        uint8_t *kd = kv_k_row(&c->kv, il, c->ub_cell[t]), *vd = kv_v_row(&c->kv, il, c->ub_cell[t]);
        if (c->kv.type_k == KS_DTYPE_F16) ks_fp32_to_fp16_row(c->k + t * kv_dim, (uint16_t *)kd, kv_dim);
        else tk->from_float(c->k + t * kv_dim, kd, kv_dim);
        if (c->kv.type_v == KS_DTYPE_F16) ks_fp32_to_fp16_row(c->v + t * kv_dim, (uint16_t *)vd, kv_dim);
        else tv->from_float(c->v + t * kv_dim, vd, kv_dim);
    }
}

static void embed(ks_context *c, const int32_t *tokens) {
    const ks_model *m = c->m;
    const int64_t E = m->hp.n_embd;
    const ks_dtype_traits *et = ks_dtype_get(m->tok_embd.type);
    for (int64_t t = 0; t < c->ub_n; t++)
        et->to_float((const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes, c->x + t * E, E);
}

static void attn_block(ks_context *c, int64_t il) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    const ks_layer *l = &m->layers[il];
    const int64_t n = c->ub_n, E = hp->n_embd, hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = c->kv.kv_dim;
    norm_rows(m, c->xb, c->x, &l->attn_norm, &l->attn_norm_b, n);
    {
        const ks_tensor *w[] = {&l->wq, &l->wk, &l->wv};
        float *y[] = {c->q, c->k, c->v};
        ks_matmul_n(w, y, 3, c->xb, n, c->mm_scratch);
    }
    add_bias(c->q, &l->bq, n, q_dim), add_bias(c->k, &l->bk, n, kv_dim), add_bias(c->v, &l->bv, n, kv_dim);
    if (m->arch->traits.pos != KS_POS_NONE) { /* RoPE, normal or NeoX (ks_arch_check refused the others) */
        const int64_t half = hp->n_rot / 2;
        const bool neox = m->arch->traits.pos == KS_POS_ROPE_NEOX;
#pragma omp parallel for schedule(static) if (n > 8)
        for (int64_t t = 0; t < n; t++) {
            const float *cs = c->rope_cos + t * half, *sn = c->rope_sin + t * half;
            for (int64_t h = 0; h < hp->n_head; h++) ks_rope(c->q + t * q_dim + h * hd, hp->n_rot, cs, sn, neox);
            for (int64_t h = 0; h < hp->n_head_kv; h++) ks_rope(c->k + t * kv_dim + h * hd, hp->n_rot, cs, sn, neox);
        }
    }
    kv_store(c, il);
    ks_attention(c, il);
    ks_matmul(&l->wo, c->att, n, c->xb2, c->mm_scratch);
    add_bias(c->xb2, &l->bo, n, E);
    add_rows(c->x, c->xb2, n, E);
}

static void ffn_block(ks_context *c, int64_t il) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    const ks_layer *l = &m->layers[il];
    const int64_t n = c->ub_n, F = hp->n_ff;
    norm_rows(m, c->xb, c->x, &l->ffn_norm, &l->ffn_norm_b, n);
    {
        const ks_tensor *w[] = {&l->ffn_gate, &l->ffn_up};
        float *y[] = {c->hb, c->hb2};
        ks_matmul_n(w, y, 2, c->xb, n, c->mm_scratch);
    }
    /* gated SiLU, the one activation ks_arch_check admits */
#pragma omp parallel for schedule(static) if (n > 8)
    for (int64_t t = 0; t < n; t++) ks_swiglu(c->hb + t * F, c->hb + t * F, c->hb2 + t * F, F);
    ks_matmul(&l->ffn_down, c->hb, n, c->xb2, c->mm_scratch);
    add_rows(c->x, c->xb2, n, hp->n_embd);
}

/* output head for the tokens that want logits: rows gathered, normed, projected */
static void head(ks_context *c, const int8_t *want, int64_t *row_io) {
    const ks_model *m = c->m;
    const int64_t E = m->hp.n_embd;
    int64_t n_out = 0, first = -1;
    bool run = true; /* the wanted rows are one contiguous run: no gather needed */
    for (int64_t t = 0; t < c->ub_n; t++) {
        if (!want[t]) continue;
        if (first < 0) first = t;
        run = run && t == first + n_out;
        n_out++;
    }
    if (!n_out) return;
    float *src = c->x + first * E;
    if (!run) {
        int64_t k = 0;
        for (int64_t t = 0; t < c->ub_n; t++)
            if (want[t]) memcpy(c->xb2 + (k++) * E, c->x + t * E, (size_t)E * sizeof(float));
        src = c->xb2;
    }
    norm_rows(m, c->xb, src, &m->output_norm, &m->output_norm_b, n_out);
    if (c->embd) memcpy(c->embd + (size_t)*row_io * (size_t)E, c->xb, (size_t)(n_out * E) * sizeof(float));
    ks_matmul(&m->output, c->xb, n_out, c->logits + (size_t)*row_io * (size_t)m->hp.n_vocab, c->mm_scratch);
    *row_io += n_out;
}

void ks_forward_ubatch(ks_context *c, const int32_t *tokens, const int8_t *want, int64_t *row_io) {
    embed(c, tokens);
    ks_rope_tables(c, c->ub_pos, c->ub_n, c->rope_cos, c->rope_sin);
    for (int64_t il = 0; il < c->m->hp.n_layer; il++) {
        attn_block(c, il);
        ffn_block(c, il);
    }
    head(c, want, row_io);
}

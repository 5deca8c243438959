/* forward.c - the forward pass of every family in model.h over one micro-batch of
 * tokens of any sequences: embedding, then per layer an attention block and a
 * feed-forward block, then the output head for the tokens that want logits. Each
 * block is a function of (context, layer) reading the family's traits (model/arch.h),
 * so a backward can later sit beside each. Traits read here: norm kind and bias;
 * activation (SiLU, GELU, GELU-tanh, ReLU), gated or not; parallel blocks (Falcon:
 * x + attn(n1(x)) + ffn(n2(x))); position kind (RoPE normal / NeoX, learned, none);
 * QK-norm; post-norms; embedding scale; logit soft-cap; sliding-window layers and their
 * RoPE base. Fused QKV never reaches here: the loader made wq/wk/wv views of it.
 * Every other trait value was refused at load by ks_arch_check.
 *
 * Numerics follow llama.cpp's CPU path (see kernels.h); with an F16 cache the query is
 * rounded to F16 before q.k, as ggml's f16 matmul does (attention.c). GELU (both kinds)
 * comes from ggml's f16 lookup table when the FFN weights are quantized, as llama.cpp
 * computes it (m->gelu_table), and exactly (erf, or the tanh form for GELU-tanh), as
 * transformers does, for float weights.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/context_impl.h"
#include "tensor/dtype.h"

void ks_rope_tables(const ks_context *c, const int32_t *pos, int64_t n, float base, float *cs_all, float *sn_all) {
    const ks_hparams *hp = &c->m->hp;
    const int64_t half = hp->n_rot / 2;
    const float theta_scale = powf(base, -2.0f / (float)hp->n_rot);
    const bool iterative = c->m->rope_iterative || base != hp->rope_theta; /* inv_freq holds rope_theta's */
    const float *ff = c->m->rope_freqs.data; /* Llama 3 scaling: theta / ff[i], as ggml's freq_factors */
    for (int64_t t = 0; t < n; t++) {
        float *cs = cs_all + t * half, *sn = sn_all + t * half;
        float theta = (float)pos[t];
        for (int64_t i = 0; i < half; i++) {
            /* ggml multiplies theta by theta_scale step by step; run.c uses pos * freq */
            float th = iterative ? theta : (float)pos[t] * c->inv_freq[i];
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

/* y = norm(x) over n_tok rows of E by the family's norm kind (b: the bias, LayerNorm only) */
static void norm_rows(const ks_model *m, float *y, const float *x, const ks_tensor *w, const ks_tensor *b, int64_t n_tok) {
    const int64_t E = m->hp.n_embd;
#pragma omp parallel for schedule(static) if (n_tok > 8)
    for (int64_t t = 0; t < n_tok; t++) {
        if (m->arch->traits.norm == KS_NORM_RMS) ks_rmsnorm(y + t * E, x + t * E, w->data, E, m->hp.norm_eps);
        else ks_layernorm(y + t * E, x + t * E, w->data, b ? b->data : NULL, E, m->hp.norm_eps);
    }
}

/* QK-norm: RMSNorm of each of n_h heads of every row (stride dim) in place */
static void head_norm(const ks_model *m, float *x, const ks_tensor *w, int64_t n_tok, int64_t n_h, int64_t dim) {
    const int64_t hd = m->hp.head_dim;
#pragma omp parallel for schedule(static) if (n_tok > 8)
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t h = 0; h < n_h; h++) ks_rmsnorm(x + t * dim + h * hd, x + t * dim + h * hd, w->data, hd, m->hp.norm_eps);
}

/* the FFN activation in place over n rows of F; gated: h = act(h) * up */
static void activate(ks_act_kind act, bool gelu_table, float *h, const float *up, int64_t n, int64_t F) {
#pragma omp parallel for schedule(static) if (n > 8)
    for (int64_t t = 0; t < n; t++) {
        float *r = h + t * F;
        const float *u = up ? up + t * F : NULL;
        if (act == KS_ACT_SILU && u) {
            ks_swiglu(r, r, u, F);
            continue;
        }
        if (gelu_table && (act == KS_ACT_GELU || act == KS_ACT_GELU_TANH)) { /* llama.cpp's ggml_gelu for both */
            ks_gelu_f16_table(r, r, u, F);
            continue;
        }
        for (int64_t i = 0; i < F; i++) {
            const float x = r[i];
            float y;
            switch (act) {
            case KS_ACT_SILU: y = x / (1.0f + expf(-x)); break;
            case KS_ACT_GELU: y = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); break;
            case KS_ACT_GELU_TANH: /* transformers' gelu_new / gelu_pytorch_tanh */
                y = 0.5f * x * (1.0f + tanhf(0.79788456080286535588f * (x + 0.044715f * x * x * x)));
                break;
            default: y = x > 0.0f ? x : 0.0f; break;
            }
            r[i] = u ? y * u[i] : y;
        }
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

/* token rows (scaled by sqrt(n_embd) for Gemma), plus the learned position rows (GPT-2; positions were
 * checked against n_ctx_train by ks_decode_batch) */
static void embed(ks_context *c, const int32_t *tokens) {
    const ks_model *m = c->m;
    const int64_t E = m->hp.n_embd;
    const ks_dtype_traits *et = ks_dtype_get(m->tok_embd.type);
    const ks_dtype_traits *pt = m->pos_embd.data ? ks_dtype_get(m->pos_embd.type) : NULL;
    const float scale = m->arch->traits.embd_scale ? sqrtf((float)E) : 0.0f;
    for (int64_t t = 0; t < c->ub_n; t++) {
        float *x = c->x + t * E;
        et->to_float((const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes, x, E);
        if (scale != 0.0f)
            for (int64_t i = 0; i < E; i++) x[i] *= scale;
        if (pt) {
            pt->to_float((const uint8_t *)m->pos_embd.data + (size_t)c->ub_pos[t] * m->pos_embd.row_bytes, c->xb, E);
            for (int64_t i = 0; i < E; i++) x[i] += c->xb[i];
        }
    }
}

/* the attention block of layer il on normed input c->xb: its output (before the residual add) in out */
static void attn_block(ks_context *c, int64_t il, float *out) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    const ks_block_traits *tr = &m->arch->traits;
    const ks_layer *l = &m->layers[il];
    const int64_t n = c->ub_n, E = hp->n_embd, hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = c->kv.kv_dim;
    const bool swa = ks_layer_swa(hp, il);
    {
        const ks_tensor *w[] = {&l->wq, &l->wk, &l->wv};
        float *y[] = {c->q, c->k, c->v};
        ks_matmul_n(w, y, 3, c->xb, n, c->mm_scratch);
    }
    add_bias(c->q, &l->bq, n, q_dim), add_bias(c->k, &l->bk, n, kv_dim), add_bias(c->v, &l->bv, n, kv_dim);
    if (tr->qk_norm) head_norm(m, c->q, &l->attn_q_norm, n, hp->n_head, q_dim), head_norm(m, c->k, &l->attn_k_norm, n,
                                                                                          hp->n_head_kv, kv_dim);
    if (tr->pos == KS_POS_ROPE_NORM || tr->pos == KS_POS_ROPE_NEOX) {
        const int64_t half = hp->n_rot / 2;
        const bool neox = tr->pos == KS_POS_ROPE_NEOX;
        const float *cs_all = swa && c->rope_cos_swa ? c->rope_cos_swa : c->rope_cos;
        const float *sn_all = swa && c->rope_cos_swa ? c->rope_sin_swa : c->rope_sin;
#pragma omp parallel for schedule(static) if (n > 8)
        for (int64_t t = 0; t < n; t++) {
            const float *cs = cs_all + t * half, *sn = sn_all + t * half;
            for (int64_t h = 0; h < hp->n_head; h++) ks_rope(c->q + t * q_dim + h * hd, hp->n_rot, cs, sn, neox);
            for (int64_t h = 0; h < hp->n_head_kv; h++) ks_rope(c->k + t * kv_dim + h * hd, hp->n_rot, cs, sn, neox);
        }
    }
    kv_store(c, il);
    c->ub_view = swa ? c->ub_view_swa : c->ub_view_full; /* what attention.c reads */
    c->ub_window = swa ? (int32_t)hp->n_swa : 0;
    ks_attention(c, il);
    ks_matmul(&l->wo, c->att, n, out, c->mm_scratch);
    add_bias(out, &l->bo, n, E);
    if (tr->post_norms) norm_rows(m, out, out, &l->attn_post_norm, NULL, n);
}

/* the feed-forward block of layer il on normed input c->xb: its output in out */
static void ffn_block(ks_context *c, int64_t il, float *out) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    const ks_block_traits *tr = &m->arch->traits;
    const ks_layer *l = &m->layers[il];
    const int64_t n = c->ub_n, F = hp->n_ff;
    if (tr->gated) {
        const ks_tensor *w[] = {&l->ffn_gate, &l->ffn_up};
        float *y[] = {c->hb, c->hb2};
        ks_matmul_n(w, y, 2, c->xb, n, c->mm_scratch);
    } else {
        ks_matmul(&l->ffn_up, c->xb, n, c->hb, c->mm_scratch);
        add_bias(c->hb, &l->ffn_up_b, n, F);
    }
    activate(tr->act, m->gelu_table, c->hb, tr->gated ? c->hb2 : NULL, n, F);
    ks_matmul(&l->ffn_down, c->hb, n, out, c->mm_scratch);
    add_bias(out, &l->ffn_down_b, n, hp->n_embd);
    if (tr->post_norms) norm_rows(m, out, out, &l->ffn_post_norm, NULL, n);
}

/* One layer. Sequential: x += attn(n1(x)); x += ffn(n2(x)). Parallel (Falcon): x += ffn(n2(x)) + attn(n1(x)),
 * summed in that order as llama.cpp and transformers do, with llama.cpp's Falcon norms: n1 = n2 = attn_norm,
 * or, when the file has attn_norm_2 (new_decoder_architecture: HF ln_attn), n1 = attn_norm_2 and n2 =
 * attn_norm (HF ln_mlp). */
static void layer(ks_context *c, int64_t il) {
    const ks_model *m = c->m;
    const ks_layer *l = &m->layers[il];
    const int64_t n = c->ub_n, E = m->hp.n_embd;
    if (!m->arch->traits.parallel_block) {
        norm_rows(m, c->xb, c->x, &l->attn_norm, &l->attn_norm_b, n);
        attn_block(c, il, c->xb2);
        add_rows(c->x, c->xb2, n, E);
        norm_rows(m, c->xb, c->x, &l->ffn_norm, &l->ffn_norm_b, n);
        ffn_block(c, il, c->xb2);
        add_rows(c->x, c->xb2, n, E);
        return;
    }
    const bool two = l->attn_norm_2.data != NULL;
    norm_rows(m, c->xb, c->x, two ? &l->attn_norm_2 : &l->attn_norm, two ? &l->attn_norm_2_b : &l->attn_norm_b, n);
    attn_block(c, il, c->xa);
    if (two) norm_rows(m, c->xb, c->x, &l->attn_norm, &l->attn_norm_b, n);
    ffn_block(c, il, c->xb2);
    add_rows(c->xb2, c->xa, n, E);
    add_rows(c->x, c->xb2, n, E);
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
    float *logits = c->logits + (size_t)*row_io * (size_t)m->hp.n_vocab;
    ks_matmul(&m->output, c->xb, n_out, logits, c->mm_scratch);
    const float cap = m->hp.logit_softcap;
    if (cap > 0.0f) /* Gemma: cap * tanh(logits / cap) */
        for (int64_t i = 0; i < n_out * m->hp.n_vocab; i++) logits[i] = cap * tanhf(logits[i] / cap);
    *row_io += n_out;
}

void ks_forward_ubatch(ks_context *c, const int32_t *tokens, const int8_t *want, int64_t *row_io) {
    const ks_hparams *hp = &c->m->hp;
    embed(c, tokens);
    ks_rope_tables(c, c->ub_pos, c->ub_n, hp->rope_theta, c->rope_cos, c->rope_sin);
    if (c->rope_cos_swa) ks_rope_tables(c, c->ub_pos, c->ub_n, hp->rope_theta_swa, c->rope_cos_swa, c->rope_sin_swa);
    for (int64_t il = 0; il < hp->n_layer; il++) layer(c, il);
    head(c, want, row_io);
}

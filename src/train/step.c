/* step.c - the trainer's forward and backward over one micro-batch (train.h): the activation
 * arena, then embedding, per layer an attention block and a feed-forward block, the output
 * norm, head and fused cross-entropy; the backward walks the same blocks in reverse. Each
 * block reads the family's traits as forward.c does (RoPE normal or NeoX) and the tensors at
 * the tensor table's slots of tm->w (weights) and tm->g (gradients).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "train/blocks.h"
#include "train/train.h"

#define MAX_BT ((int64_t)1 << 20)

typedef struct dims {
    int64_t B, T, BT, E, H, KV_H, hd, Q, KV, F, V, L, half;
} dims;

static dims dims_of(const ks_hparams *hp, int64_t B, int64_t T) {
    return (dims){B, T, B * T, hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_head * hp->head_dim,
                  hp->n_head_kv * hp->head_dim, hp->n_ff, hp->n_vocab, hp->n_layer, hp->n_rot / 2 ? hp->n_rot / 2 : 1};
}

/* lays the arena out (base NULL: only counts); returns floats, 0 on overflow */
static size_t layout(ks_train_acts *a, const ks_hparams *hp, int64_t B, int64_t T, float *base) {
    const dims d = dims_of(hp, B, T);
    size_t max_w = 0;
    const int64_t w_sizes[] = {d.E * d.Q, d.E * d.KV, d.E * d.F, d.E * d.V};
    for (size_t i = 0; i < sizeof w_sizes / sizeof *w_sizes; i++)
        if ((size_t)w_sizes[i] > max_w) max_w = (size_t)w_sizes[i];
    struct {
        float **p;
        int64_t n1, n2, n3; /* floats = n1 * n2 * n3 */
    } slabs[] = {
        {&a->x, d.L + 1, d.BT, d.E},   {&a->xn1, d.L, d.BT, d.E}, {&a->rstd1, d.L, d.BT, 1},
        {&a->q, d.L, d.BT, d.Q},       {&a->k, d.L, d.BT, d.KV},  {&a->v, d.L, d.BT, d.KV},
        {&a->att, d.L, d.B * d.H, d.T * d.T},                      {&a->y, d.L, d.BT, d.Q},
        {&a->xm, d.L, d.BT, d.E},      {&a->xn2, d.L, d.BT, d.E}, {&a->rstd2, d.L, d.BT, 1},
        {&a->gate, d.L, d.BT, d.F},    {&a->up, d.L, d.BT, d.F},  {&a->hs, d.L, d.BT, d.F},
        {&a->xnf, 1, d.BT, d.E},       {&a->rstdf, 1, d.BT, 1},   {&a->probs, 1, d.BT, d.V},
        {&a->losses, 1, d.BT, 1},      {&a->cos_t, 1, d.T, d.half}, {&a->sin_t, 1, d.T, d.half},
        {&a->dx, 1, d.BT, d.E},        {&a->dn, 1, d.BT, d.E},    {&a->dq, 1, d.BT, d.Q},
        {&a->dk, 1, d.BT, d.KV},       {&a->dv, 1, d.BT, d.KV},   {&a->dy, 1, d.BT, d.Q},
        {&a->dgate, 1, d.BT, d.F},     {&a->dup, 1, d.BT, d.F},   {&a->dhs, 1, d.BT, d.F},
        {&a->dp, d.B, d.KV_H, d.T},    {&a->gemm, 1, 1, (int64_t)max_w},
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof slabs / sizeof *slabs; i++) {
        size_t n = 0;
        if (!ks_mul_size((size_t)slabs[i].n1, (size_t)slabs[i].n2, &n) || !ks_mul_size(n, (size_t)slabs[i].n3, &n) ||
            !ks_add_size(n, 15, &n))
            return 0;
        n -= n % 16; /* 64-byte aligned slabs */
        if (base) *slabs[i].p = base + off;
        if (!ks_add_size(off, n, &off)) return 0;
    }
    return off;
}

size_t ks_train_acts_floats(const ks_hparams *hp, int64_t B, int64_t T) {
    if (B < 1 || T < 1 || B > MAX_BT || T > MAX_BT || B * T > MAX_BT) return 0;
    ks_train_acts tmp;
    return layout(&tmp, hp, B, T, NULL);
}

ks_status ks_train_acts_init(ks_train_acts *a, const ks_train_model *tm, int64_t B, int64_t T, ks_err *err) {
    memset(a, 0, sizeof *a);
    const size_t n = ks_train_acts_floats(&tm->hp, B, T);
    size_t bytes = 0;
    if (!n || !ks_mul_size(n, sizeof(float), &bytes))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training: batch %lld x %lld tokens is outside the trainer's "
                          "limits (1 to 2^20 tokens a micro-batch)", (long long)B, (long long)T);
    a->arena = aligned_alloc(64, bytes);
    if (!a->arena)
        return ks_err_set(err, KS_ERR_NOMEM, "training: cannot allocate %zu MiB of activations", bytes >> 20);
    memset(a->arena, 0, bytes);
    a->B = B, a->T = T, a->n_floats = n;
    layout(a, &tm->hp, B, T, a->arena);
    const ks_hparams *hp = &tm->hp;
    const int64_t half = hp->n_rot / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) { /* theta_i = pos * base^(-2i / n_rot), as HF computes inv_freq */
            const double th = (double)t * pow((double)hp->rope_theta, -2.0 * (double)i / (double)hp->n_rot);
            a->cos_t[t * half + i] = (float)cos(th), a->sin_t[t * half + i] = (float)sin(th);
        }
    return KS_OK;
}

void ks_train_acts_free(ks_train_acts *a) {
    if (!a) return;
    free(a->arena);
    memset(a, 0, sizeof *a);
}

#define W(t) ((const float *)(t).data)
#define G(t) ks_train_data(&(t))

ks_status ks_train_forward(const ks_train_model *tm, ks_train_acts *a, const int32_t *tokens,
                           const int32_t *targets, float *loss, int64_t *n_counted, ks_err *err) {
    const dims d = dims_of(&tm->hp, a->B, a->T);
    for (int64_t i = 0; i < d.BT; i++)
        if (tokens[i] < 0 || tokens[i] >= d.V || targets[i] >= d.V)
            return ks_err_set(err, KS_ERR_INVALID_ARG, "training: token %d or target %d at %lld is outside the "
                              "vocabulary of %lld", (int)tokens[i], (int)targets[i], (long long)i, (long long)d.V);
    const ks_model *w = &tm->w;
    const bool rope = tm->arch->traits.pos != KS_POS_NONE, neox = tm->arch->traits.pos == KS_POS_ROPE_NEOX;
    const float eps = tm->hp.norm_eps;
    embed_forward(a->x, tokens, W(w->tok_embd), d.BT, d.E);
    for (int64_t il = 0; il < d.L; il++) {
        const ks_layer *l = &w->layers[il];
        float *x = a->x + il * d.BT * d.E, *xn1 = a->xn1 + il * d.BT * d.E, *q = a->q + il * d.BT * d.Q;
        float *k = a->k + il * d.BT * d.KV, *v = a->v + il * d.BT * d.KV, *y = a->y + il * d.BT * d.Q;
        float *xm = a->xm + il * d.BT * d.E, *xn2 = a->xn2 + il * d.BT * d.E, *xo = x + d.BT * d.E;
        float *gate = a->gate + il * d.BT * d.F, *up = a->up + il * d.BT * d.F, *hs = a->hs + il * d.BT * d.F;
        /* attention block */
        rmsnorm_forward(xn1, a->rstd1 + il * d.BT, x, W(l->attn_norm), d.BT, d.E, eps);
        linear_forward(q, xn1, W(l->wq), a->gemm, d.BT, d.E, d.Q);
        linear_forward(k, xn1, W(l->wk), a->gemm, d.BT, d.E, d.KV);
        linear_forward(v, xn1, W(l->wv), a->gemm, d.BT, d.E, d.KV);
        if (rope) {
            rope_forward(q, a->cos_t, a->sin_t, d.BT, d.T, d.H, d.hd, tm->hp.n_rot, neox);
            rope_forward(k, a->cos_t, a->sin_t, d.BT, d.T, d.KV_H, d.hd, tm->hp.n_rot, neox);
        }
        attention_forward(y, a->att + il * d.B * d.H * d.T * d.T, q, k, v, d.B, d.T, d.H, d.KV_H, d.hd);
        linear_forward(xm, y, W(l->wo), a->gemm, d.BT, d.Q, d.E);
        residual_forward(xm, xm, x, d.BT * d.E);
        /* feed-forward block */
        rmsnorm_forward(xn2, a->rstd2 + il * d.BT, xm, W(l->ffn_norm), d.BT, d.E, eps);
        linear_forward(gate, xn2, W(l->ffn_gate), a->gemm, d.BT, d.E, d.F);
        linear_forward(up, xn2, W(l->ffn_up), a->gemm, d.BT, d.E, d.F);
        swiglu_forward(hs, gate, up, d.BT * d.F);
        linear_forward(xo, hs, W(l->ffn_down), a->gemm, d.BT, d.F, d.E);
        residual_forward(xo, xo, xm, d.BT * d.E);
    }
    rmsnorm_forward(a->xnf, a->rstdf, a->x + d.L * d.BT * d.E, W(w->output_norm), d.BT, d.E, eps);
    linear_forward(a->probs, a->xnf, W(w->output), a->gemm, d.BT, d.E, d.V);
    xent_forward(a->probs, a->losses, a->probs, targets, d.BT, d.V);
    double sum = 0.0;
    int64_t n = 0;
    for (int64_t i = 0; i < d.BT; i++)
        if (targets[i] >= 0) sum += a->losses[i], n++;
    *loss = n ? (float)(sum / (double)n) : 0.0f;
    if (n_counted) *n_counted = n;
    return KS_OK;
}

static void zero(float *p, int64_t n) { memset(p, 0, (size_t)n * sizeof(float)); }

void ks_train_backward(ks_train_model *tm, ks_train_acts *a, const int32_t *tokens, const int32_t *targets,
                       float scale) {
    const dims d = dims_of(&tm->hp, a->B, a->T);
    const ks_model *w = &tm->w, *g = &tm->g;
    const bool rope = tm->arch->traits.pos != KS_POS_NONE, neox = tm->arch->traits.pos == KS_POS_ROPE_NEOX;
    xent_backward(a->probs, targets, scale, d.BT, d.V);
    zero(a->dx, d.BT * d.E), zero(a->dn, d.BT * d.E);
    linear_backward(a->dn, G(g->output), a->probs, a->xnf, W(w->output), d.BT, d.E, d.V);
    rmsnorm_backward(a->dx, G(g->output_norm), a->dn, a->x + d.L * d.BT * d.E, W(w->output_norm), a->rstdf, d.BT,
                     d.E);
    for (int64_t il = d.L - 1; il >= 0; il--) { /* a->dx: the gradient of the layer's output */
        const ks_layer *l = &w->layers[il], *gl = &g->layers[il];
        const float *x = a->x + il * d.BT * d.E, *xn1 = a->xn1 + il * d.BT * d.E, *q = a->q + il * d.BT * d.Q;
        const float *k = a->k + il * d.BT * d.KV, *v = a->v + il * d.BT * d.KV, *y = a->y + il * d.BT * d.Q;
        const float *xm = a->xm + il * d.BT * d.E, *xn2 = a->xn2 + il * d.BT * d.E;
        const float *gate = a->gate + il * d.BT * d.F, *up = a->up + il * d.BT * d.F, *hs = a->hs + il * d.BT * d.F;
        /* feed-forward block: the residual passes dx through, the branch adds its part */
        zero(a->dhs, d.BT * d.F), zero(a->dgate, d.BT * d.F), zero(a->dup, d.BT * d.F), zero(a->dn, d.BT * d.E);
        linear_backward(a->dhs, G(gl->ffn_down), a->dx, hs, W(l->ffn_down), d.BT, d.F, d.E);
        swiglu_backward(a->dgate, a->dup, a->dhs, gate, up, d.BT * d.F);
        linear_backward(a->dn, G(gl->ffn_gate), a->dgate, xn2, W(l->ffn_gate), d.BT, d.E, d.F);
        linear_backward(a->dn, G(gl->ffn_up), a->dup, xn2, W(l->ffn_up), d.BT, d.E, d.F);
        rmsnorm_backward(a->dx, G(gl->ffn_norm), a->dn, xm, W(l->ffn_norm), a->rstd2 + il * d.BT, d.BT, d.E);
        /* attention block */
        zero(a->dy, d.BT * d.Q), zero(a->dq, d.BT * d.Q), zero(a->dk, d.BT * d.KV), zero(a->dv, d.BT * d.KV);
        zero(a->dn, d.BT * d.E);
        linear_backward(a->dy, G(gl->wo), a->dx, y, W(l->wo), d.BT, d.Q, d.E);
        attention_backward(a->dq, a->dk, a->dv, a->dp, a->dy, a->att + il * d.B * d.H * d.T * d.T, q, k, v, d.B, d.T,
                           d.H, d.KV_H, d.hd);
        if (rope) {
            rope_backward(a->dq, a->cos_t, a->sin_t, d.BT, d.T, d.H, d.hd, tm->hp.n_rot, neox);
            rope_backward(a->dk, a->cos_t, a->sin_t, d.BT, d.T, d.KV_H, d.hd, tm->hp.n_rot, neox);
        }
        linear_backward(a->dn, G(gl->wq), a->dq, xn1, W(l->wq), d.BT, d.E, d.Q);
        linear_backward(a->dn, G(gl->wk), a->dk, xn1, W(l->wk), d.BT, d.E, d.KV);
        linear_backward(a->dn, G(gl->wv), a->dv, xn1, W(l->wv), d.BT, d.E, d.KV);
        rmsnorm_backward(a->dx, G(gl->attn_norm), a->dn, x, W(l->attn_norm), a->rstd1 + il * d.BT, d.BT, d.E);
    }
    embed_backward(G(g->tok_embd), a->dx, tokens, d.BT, d.E);
}

/* model.c - the trainer's arenas (train.h): parameters, gradients and the two AdamW moments,
 * each one allocation laid out by walking the family's tensor table, plus the activation arena
 * sized from batch x sequence.
 *
 * Arena order: the global rows in table order, then layer 0's rows in table order, layer 1's,
 * ... Rows that are optional in the table (biases, rope_freqs) are not trained, except the
 * output head, present unless tied. Each tensor starts on a 16-float (64-byte) boundary.
 */
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "tensor/dtype.h"
#include "train/rng.h"
#include "train/train.h"

#define N_OF(a) (sizeof(a) / sizeof(a)[0])
#define ALIGN_F 16

/* the slots the forward and backward passes read (train_step.c) */
static const size_t global_slots[] = {offsetof(ks_model, tok_embd), offsetof(ks_model, output_norm),
                                      offsetof(ks_model, output)};
static const size_t layer_slots[] = {offsetof(ks_layer, attn_norm), offsetof(ks_layer, wq),
                                     offsetof(ks_layer, wk),        offsetof(ks_layer, wv),
                                     offsetof(ks_layer, wo),        offsetof(ks_layer, ffn_norm),
                                     offsetof(ks_layer, ffn_gate),  offsetof(ks_layer, ffn_up),
                                     offsetof(ks_layer, ffn_down)};

static bool is_output(const ks_tensor_desc *t) { return !t->per_layer && t->slot == offsetof(ks_model, output); }
static bool trained(const ks_tensor_desc *t, bool tied) { return t->required || (is_output(t) && !tied); }

ks_status ks_train_check(const ks_arch *a, const ks_hparams *hp, ks_err *err) {
    const ks_block_traits *t = &a->traits;
    const char *n = a->name;
    if (t->norm != KS_NORM_RMS || t->norm_bias)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "training '%s': only RMS norms without bias train today", n);
    if (t->act != KS_ACT_SILU || !t->gated || t->parallel_block)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "training '%s': only sequential blocks with a SwiGLU FFN train "
                          "today", n);
    if (t->pos != KS_POS_NONE && t->pos != KS_POS_ROPE_NORM && t->pos != KS_POS_ROPE_NEOX)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "training '%s': only RoPE positions train today", n);
    /* LLaMA's descriptor allows a window (Mistral); without one (n_swa 0) its mask is causal */
    const bool causal = t->mask == KS_MASK_CAUSAL || (t->mask == KS_MASK_SLIDING_WINDOW && hp->n_swa == 0);
    if (t->fused_qkv || t->qk_norm || t->post_norms || t->embd_scale || t->logit_softcap || !causal ||
        t->rope_base_per_layer)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "training '%s': a block trait the trainer lacks (fused QKV, "
                          "QK-norm, post-norms, scaling, soft-cap, non-causal mask or per-layer RoPE)", n);
    for (size_t i = 0; i < a->n_tensors; i++) {
        const ks_tensor_desc *r = &a->tensors[i];
        if (!r->required) continue;
        bool known = false;
        const size_t *s = r->per_layer ? layer_slots : global_slots;
        const size_t ns = r->per_layer ? N_OF(layer_slots) : N_OF(global_slots);
        for (size_t j = 0; j < ns; j++) known = known || s[j] == r->slot;
        if (!known)
            return ks_err_set(err, KS_ERR_UNSUPPORTED, "training '%s': tensor %s has no backward yet", n, r->gguf);
    }
    if (hp->n_vocab < 1 || hp->n_embd < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_head_kv < 1 ||
        hp->n_ff < 1 || hp->head_dim < 1 || hp->n_rot < 0)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training: every dimension must be positive (vocab %lld, embd "
                          "%lld, layers %lld, heads %lld/%lld, ff %lld, head size %lld)", (long long)hp->n_vocab,
                          (long long)hp->n_embd, (long long)hp->n_layer, (long long)hp->n_head,
                          (long long)hp->n_head_kv, (long long)hp->n_ff, (long long)hp->head_dim);
    if (hp->n_head % hp->n_head_kv)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training: %lld heads is not a multiple of %lld KV heads",
                          (long long)hp->n_head, (long long)hp->n_head_kv);
    if (hp->n_rot % 2 || hp->n_rot > hp->head_dim)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training: %lld rotated dimensions: must be even and at most "
                          "the head size %lld", (long long)hp->n_rot, (long long)hp->head_dim);
    if (hp->n_embd > ((int64_t)1 << 24) || hp->n_vocab > ((int64_t)1 << 31) || hp->n_ff > ((int64_t)1 << 26) ||
        hp->n_layer > 4096 || hp->n_head > 4096 || hp->head_dim > 4096)
        return ks_err_set(err, KS_ERR_LIMIT, "training: a dimension is beyond the trainer's limits");
    return KS_OK;
}

/* walks the trained rows in arena order: calls f for each (row, layer, ne0, ne1); returns the
 * floats of one arena, 0 on overflow */
typedef void (*row_fn)(void *ctx, const ks_tensor_desc *t, int64_t il, size_t off, int64_t ne0, int64_t ne1);
static size_t walk(const ks_arch *a, const ks_hparams *hp, bool tied, row_fn f, void *ctx) {
    size_t off = 0;
    for (int64_t il = -1; il < hp->n_layer; il++)
        for (size_t i = 0; i < a->n_tensors; i++) {
            const ks_tensor_desc *t = &a->tensors[i];
            if (t->per_layer != (il >= 0) || !trained(t, tied)) continue;
            const int64_t ne0 = ks_arch_dim(hp, t->ne[0]), ne1 = ks_arch_dim(hp, t->ne[1]);
            size_t n = 0, end = 0;
            if (!ks_mul_size((size_t)ne0, (size_t)ne1, &n) || !ks_add_size(n, ALIGN_F - 1, &n)) return 0;
            n -= n % ALIGN_F;
            if (f) f(ctx, t, il, off, ne0, ne1);
            if (!ks_add_size(off, n, &end)) return 0;
            off = end;
        }
    return off;
}

size_t ks_train_model_bytes(const ks_arch *a, const ks_hparams *hp, bool tied) {
    const size_t n = walk(a, hp, tied, NULL, NULL);
    size_t b = 0;
    return ks_mul_size(n, 4 * sizeof(float), &b) ? b : 0;
}

static void place(void *ctx, const ks_tensor_desc *t, int64_t il, size_t off, int64_t ne0, int64_t ne1) {
    ks_train_model *tm = ctx;
    tm->p[tm->n_p++] = (ks_train_param){t, il, off, ne0, ne1, ne1 > 1};
    for (int k = 0; k < 2; k++) {
        ks_model *m = k ? &tm->g : &tm->w;
        ks_tensor *dst = ks_arch_slot(il >= 0 ? (void *)&m->layers[il] : (void *)m, t);
        *dst = (ks_tensor){.type = KS_DTYPE_F32, .ne = {ne0, ne1, 1, 1}, .row_bytes = (size_t)ne0 * sizeof(float),
                           .data = (k ? tm->grads : tm->params) + off};
    }
}

ks_status ks_train_model_init(ks_train_model *tm, const ks_arch *a, const ks_hparams *hp, bool tied, ks_err *err) {
    memset(tm, 0, sizeof *tm);
    ks_status s = ks_train_check(a, hp, err);
    if (s) return s;
    tm->arch = a, tm->hp = *hp, tm->tied = tied;
    const size_t n = walk(a, hp, tied, NULL, NULL);
    size_t bytes = 0;
    if (!n || !ks_mul_size(n, sizeof(float), &bytes))
        return ks_err_set(err, KS_ERR_LIMIT, "training: the parameter count overflows");
    size_t n_rows = a->n_tensors * (size_t)(hp->n_layer + 1);
    tm->p = calloc(n_rows, sizeof *tm->p);
    tm->w.layers = calloc((size_t)hp->n_layer, sizeof(ks_layer));
    tm->g.layers = calloc((size_t)hp->n_layer, sizeof(ks_layer));
    float **arenas[] = {&tm->params, &tm->grads, &tm->m, &tm->v};
    for (size_t i = 0; i < N_OF(arenas); i++)
        if ((*arenas[i] = aligned_alloc(64, bytes))) memset(*arenas[i], 0, bytes);
    if (!tm->p || !tm->w.layers || !tm->g.layers || !tm->params || !tm->grads || !tm->m || !tm->v) {
        ks_train_model_free(tm);
        return ks_err_set(err, KS_ERR_NOMEM, "training: cannot allocate 4 x %zu MiB of parameter arenas",
                          bytes >> 20);
    }
    tm->n_params = n;
    tm->w.arch = tm->g.arch = a;
    tm->w.hp = tm->g.hp = *hp;
    walk(a, hp, tied, place, tm);
    if (tied) tm->w.output = tm->w.tok_embd, tm->g.output = tm->g.tok_embd;
    return KS_OK;
}

void ks_train_model_free(ks_train_model *tm) {
    if (!tm) return;
    free(tm->p), free(tm->w.layers), free(tm->g.layers);
    free(tm->params), free(tm->grads), free(tm->m), free(tm->v);
    memset(tm, 0, sizeof *tm);
}

void ks_train_model_init_weights(ks_train_model *tm, float std, uint64_t seed) {
    ks_rng r = {seed};
    const float resid = std / sqrtf(2.0f * (float)tm->hp.n_layer);
    for (size_t i = 0; i < tm->n_p; i++) {
        const ks_train_param *p = &tm->p[i];
        float *d = tm->params + p->off;
        const int64_t n = p->ne0 * p->ne1;
        const size_t slot = p->row->slot;
        const bool proj = p->il >= 0 && (slot == offsetof(ks_layer, wo) || slot == offsetof(ks_layer, ffn_down));
        for (int64_t j = 0; j < n; j++)
            d[j] = p->ne1 == 1 ? 1.0f : (float)ks_rng_normal(&r) * (proj ? resid : std);
    }
}

void ks_train_zero_grad(ks_train_model *tm) { memset(tm->grads, 0, tm->n_params * sizeof(float)); }

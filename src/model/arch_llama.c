/* arch_llama.c - the LLaMA family from GGUF (LLaMA 1/2/3, Mistral, SmolLM, ...):
 * hyperparameter keys and tensor names; RMSNorm, normal RoPE, SwiGLU, GQA,
 * tied or separate output head. Also maps llama2.c checkpoints onto it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/llama2c.h"
#include "kernels/kernels.h"
#include "model/hparams_check.h"
#include "model/model.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

#define MAX_DIM (1 << 20)

static ks_status get_hp(const gguf_ctx *g, const char *arch, const char *suffix, int64_t *out, int64_t dflt,
                        bool required, ks_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    ks_status st = gguf_get_i64(g, key, out, err);
    if (st == KS_ERR_NOT_FOUND && !required) {
        *out = dflt;
        return KS_OK;
    }
    if (st == KS_ERR_NOT_FOUND) return ks_err_set(err, st, "model: missing hyperparameter '%s'", key);
    if (st) return st;
    if (*out < 0 || *out > (int64_t)MAX_DIM * 64)
        return ks_err_set(err, KS_ERR_FORMAT, "model: hyperparameter '%s' = %lld out of range", key, (long long)*out);
    return KS_OK;
}

static ks_status get_hp_f(const gguf_ctx *g, const char *arch, const char *suffix, float *out, float dflt, ks_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    ks_status st = gguf_get_f64(g, key, &v, err);
    if (st == KS_ERR_NOT_FOUND) {
        *out = dflt;
        return KS_OK;
    }
    if (st) return st;
    *out = (float)v;
    return KS_OK;
}

/* Finds tensor name (printf-style), checks its shape is [ne0, ne1] (ne1 = 1 for
 * vectors) and its type is computable; vectors must be F32. */
static ks_status get_tensor(const gguf_ctx *g, ks_tensor *t, bool required, int64_t ne0, int64_t ne1, ks_err *err,
                            const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static ks_status get_tensor(const gguf_ctx *g, ks_tensor *t, bool required, int64_t ne0, int64_t ne1, ks_err *err,
                            const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(t, 0, sizeof *t);
    int64_t i = gguf_find_tensor(g, name);
    if (i < 0) return required ? ks_err_set(err, KS_ERR_NOT_FOUND, "model: missing tensor '%s'", name) : KS_OK;
    const gguf_tensor_info *ti = &g->tensors[i];
    if (ti->ne[0] != ne0 || ti->ne[1] != ne1 || ti->ne[2] != 1 || ti->ne[3] != 1)
        return ks_err_set(err, KS_ERR_FORMAT, "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                          name, (long long)ti->ne[0], (long long)ti->ne[1], (long long)ti->ne[2], (long long)ti->ne[3],
                          (long long)ne0, (long long)ne1);
    const ks_dtype_traits *dt = ks_dtype_get(ti->type);
    bool ok = ne1 == 1 ? ti->type == KS_DTYPE_F32 : (ks_matmul_get_ref(ti->type) != NULL && dt->to_float != NULL);
    if (!ok)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "model: tensor '%s' has unsupported type %s", name,
                          dt ? dt->name : "?");
    t->type = ti->type;
    t->ne[0] = ti->ne[0], t->ne[1] = ti->ne[1], t->ne[2] = 1, t->ne[3] = 1;
    t->row_bytes = (size_t)ks_dtype_row_bytes(ti->type, ti->ne[0]);
    t->data = ti->data;
    return KS_OK;
}

ks_status ks_arch_llama_load(ks_model *m, ks_err *err) {
    const gguf_ctx *g = m->gguf;
    const char *a = m->arch->name;
    ks_hparams *hp = &m->hp;
    ks_status st;
    if ((st = get_hp(g, a, "embedding_length", &hp->n_embd, 0, true, err)) ||
        (st = get_hp(g, a, "block_count", &hp->n_layer, 0, true, err)) ||
        (st = get_hp(g, a, "attention.head_count", &hp->n_head, 0, true, err)) ||
        (st = get_hp(g, a, "attention.head_count_kv", &hp->n_head_kv, hp->n_head, false, err)) ||
        (st = get_hp(g, a, "feed_forward_length", &hp->n_ff, 0, true, err)) ||
        (st = get_hp(g, a, "context_length", &hp->n_ctx_train, 2048, false, err)) ||
        (st = get_hp_f(g, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5f, err)) ||
        (st = get_hp_f(g, a, "rope.freq_base", &hp->rope_theta, 10000.0f, err)))
        return st;
    if ((st = ks_hparams_check_base(hp, a, err))) return st; /* by key, before anything is derived from them */
    if ((st = get_hp(g, a, "attention.key_length", &hp->head_dim, hp->n_embd / hp->n_head, false, err))) return st;
    if ((st = get_hp(g, a, "rope.dimension_count", &hp->n_rot, hp->head_dim, false, err))) return st;
    if (hp->head_dim <= 0 || hp->n_rot % 2 || hp->n_rot > hp->head_dim)
        return ks_err_set(err, KS_ERR_FORMAT, "model: %s.attention.key_length = %lld / %s.rope.dimension_count = %lld: "
                          "the head size must be positive, the RoPE dims even and at most the head size", a,
                          (long long)hp->head_dim, a, (long long)hp->n_rot);
    int64_t ti = gguf_find_tensor(g, "token_embd.weight");
    if (ti < 0) return ks_err_set(err, KS_ERR_NOT_FOUND, "model: missing tensor 'token_embd.weight'");
    hp->n_vocab = g->tensors[ti].ne[1];
    if (m->tok && ks_tokenizer_n_vocab(m->tok) > hp->n_vocab)
        return ks_err_set(err, KS_ERR_FORMAT, "model: tokenizer has %d tokens but token_embd has %lld rows",
                          ks_tokenizer_n_vocab(m->tok), (long long)hp->n_vocab);
    const int64_t E = hp->n_embd, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    if ((st = get_tensor(g, &m->tok_embd, true, E, hp->n_vocab, err, "token_embd.weight")) ||
        (st = get_tensor(g, &m->output_norm, true, E, 1, err, "output_norm.weight")) ||
        (st = get_tensor(g, &m->output, false, E, hp->n_vocab, err, "output.weight")) ||
        (st = get_tensor(g, &m->rope_freqs, false, hp->n_rot / 2, 1, err, "rope_freqs.weight")))
        return st;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    for (int64_t i = 0; m->rope_freqs.data && i < hp->n_rot / 2; i++) { /* divisors of the rotation angles */
        const float f = ((const float *)m->rope_freqs.data)[i];
        if (!(f > 0.0f && f < 1e30f))
            return ks_err_set(err, KS_ERR_FORMAT, "model: rope_freqs.weight[%lld] = %g is not a positive finite factor",
                              (long long)i, (double)f);
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (int il = 0; il < hp->n_layer; il++) {
        ks_layer *l = &m->layers[il];
        if ((st = get_tensor(g, &l->attn_norm, true, E, 1, err, "blk.%d.attn_norm.weight", il)) ||
            (st = get_tensor(g, &l->wq, true, E, q_dim, err, "blk.%d.attn_q.weight", il)) ||
            (st = get_tensor(g, &l->wk, true, E, kv_dim, err, "blk.%d.attn_k.weight", il)) ||
            (st = get_tensor(g, &l->wv, true, E, kv_dim, err, "blk.%d.attn_v.weight", il)) ||
            (st = get_tensor(g, &l->wo, true, q_dim, E, err, "blk.%d.attn_output.weight", il)) ||
            (st = get_tensor(g, &l->bq, false, q_dim, 1, err, "blk.%d.attn_q.bias", il)) ||
            (st = get_tensor(g, &l->bk, false, kv_dim, 1, err, "blk.%d.attn_k.bias", il)) ||
            (st = get_tensor(g, &l->bv, false, kv_dim, 1, err, "blk.%d.attn_v.bias", il)) ||
            (st = get_tensor(g, &l->ffn_norm, true, E, 1, err, "blk.%d.ffn_norm.weight", il)) ||
            (st = get_tensor(g, &l->ffn_gate, true, E, hp->n_ff, err, "blk.%d.ffn_gate.weight", il)) ||
            (st = get_tensor(g, &l->ffn_up, true, E, hp->n_ff, err, "blk.%d.ffn_up.weight", il)) ||
            (st = get_tensor(g, &l->ffn_down, true, hp->n_ff, E, err, "blk.%d.ffn_down.weight", il)))
            return st;
    }
    return KS_OK;
}

/* ---- llama2.c checkpoints: F32 views into the mapped file ---- */
static ks_tensor f32_view(const uint8_t *base, uint64_t off, int64_t ne0, int64_t ne1) {
    ks_tensor t = {.type = KS_DTYPE_F32, .ne = {ne0, ne1, 1, 1}, .row_bytes = (size_t)ne0 * 4, .data = base + off};
    return t;
}

ks_status ks_llama2c_load(ks_model *m, const char *path, const char *tokenizer_path, ks_err *err) {
    ks_status st = ks_mapfile_open(&m->map, path, err);
    if (st) return st;
    llama2c_layout L;
    if ((st = llama2c_parse(m->map.data, m->map.size, &L, err))) return st;
    static const ks_arch llama2c_arch = {.name = "llama2c", .norm = KS_NORM_RMS, .rope = KS_ROPE_NORM, .ffn = KS_FFN_SWIGLU};
    m->arch = &llama2c_arch;
    m->format = KS_FORMAT_LLAMA2C;
    m->kv_type = KS_DTYPE_F32;
    m->rope_iterative = false; /* run.c: theta = pos / 10000^(i/head_size) */
    m->stop_on_bos = true;
    ks_hparams *hp = &m->hp;
    hp->n_embd = L.dim, hp->n_ff = L.hidden_dim, hp->n_layer = L.n_layers, hp->n_head = L.n_heads;
    hp->n_head_kv = L.n_kv_heads, hp->n_vocab = L.vocab_size, hp->n_ctx_train = L.seq_len;
    hp->head_dim = L.dim / L.n_heads, hp->n_rot = hp->head_dim;
    hp->norm_eps = 1e-5f, hp->rope_theta = 10000.0f;
    const int64_t E = hp->n_embd, F = hp->n_ff, kv = hp->n_head_kv * hp->head_dim;
    const uint8_t *b = m->map.data;
    m->tok_embd = f32_view(b, L.off_tok, E, hp->n_vocab);
    m->output = f32_view(b, L.off_wcls, E, hp->n_vocab);
    m->output_norm = f32_view(b, L.off_rms_final, E, 1);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (int64_t il = 0; il < hp->n_layer; il++) {
        ks_layer *l = &m->layers[il];
        l->attn_norm = f32_view(b, L.off_rms_att + il * E * 4, E, 1);
        l->wq = f32_view(b, L.off_wq + il * E * E * 4, E, E);
        l->wk = f32_view(b, L.off_wk + il * kv * E * 4, E, kv);
        l->wv = f32_view(b, L.off_wv + il * kv * E * 4, E, kv);
        l->wo = f32_view(b, L.off_wo + il * E * E * 4, E, E);
        l->ffn_norm = f32_view(b, L.off_rms_ffn + il * E * 4, E, 1);
        l->ffn_gate = f32_view(b, L.off_w1 + il * F * E * 4, E, F);
        l->ffn_down = f32_view(b, L.off_w2 + il * E * F * 4, F, E);
        l->ffn_up = f32_view(b, L.off_w3 + il * F * E * 4, E, F);
    }
    return ks_tokenizer_from_llama2c(tokenizer_path, (int32_t)hp->n_vocab, &m->tok, err);
}

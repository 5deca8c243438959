/* llama2c_load.c - llama2.c checkpoints (formats/llama2c.h) as models of the
 * "llama" family (model/arch.h): F32 views into the mapped file at the offsets
 * the checkpoint's fixed order gives. GGUF models load in model.c from the
 * family's tensor table instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

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
    m->arch = ks_arch_find("llama"); /* the same block: RMSNorm, RoPE on pairs, SwiGLU, GQA */
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

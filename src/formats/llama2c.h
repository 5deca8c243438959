/* llama2c.h - llama2.c checkpoint ("legacy" version-0 export of run.c).
 *
 * Byte layout: 7 x int32 {dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len} (vocab_size < 0: separate classifier at the end), then
 * float32 arrays, row-major (out, in): token_embedding (vocab, dim);
 * rms_att (L, dim); wq (L, dim, dim); wk (L, kv_dim, dim); wv (L, kv_dim, dim);
 * wo (L, dim, dim); rms_ffn (L, dim); w1 (L, hidden, dim); w2 (L, dim, hidden);
 * w3 (L, hidden, dim); rms_final (dim); freq_cis_real, freq_cis_imag
 * (seq_len * head_size / 2 each, unused); wcls (vocab, dim) if not shared.
 */
#ifndef KS_LLAMA2C_H
#define KS_LLAMA2C_H
#include "kestrel.h"

typedef struct llama2c_layout {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool shared_classifier;
    /* byte offsets of each array in the file (per-layer arrays: offset of layer 0) */
    uint64_t off_tok, off_rms_att, off_wq, off_wk, off_wv, off_wo, off_rms_ffn, off_w1, off_w2, off_w3,
        off_rms_final, off_wcls;
    uint64_t total_bytes; /* bytes the header implies */
} llama2c_layout;

/* Validates the header against the file size (every product overflow-checked,
 * limits: dims <= 2^20, layers <= 4096, heads divide dim, kv heads divide heads). */
ks_status llama2c_parse(const uint8_t *data, size_t size, llama2c_layout *out, ks_err *err);
#endif

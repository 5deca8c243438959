/* llama2c.c - validation of llama2.c checkpoints (layout in llama2c.h). */
#include "formats/llama2c.h"

#include <string.h>

#define L2C_MAX_DIM (1 << 20)
#define L2C_MAX_LAYERS 4096

/* acc += a * b * 4 bytes, with overflow detection */
static bool add_floats(uint64_t *acc, uint64_t a, uint64_t b) {
    if (a && b > UINT64_MAX / a) return false;
    uint64_t n = a * b;
    if (n > (UINT64_MAX - *acc) / 4) return false;
    *acc += n * 4;
    return true;
}

ks_status llama2c_parse(const uint8_t *data, size_t size, llama2c_layout *L, ks_err *err) {
    memset(L, 0, sizeof *L);
    if (size < 28)
        return ks_err_set(err, KS_ERR_TRUNCATED, "llama2.c: truncated header: file has %zu bytes, header needs 28", size);
    int32_t h[7];
    memcpy(h, data, sizeof h);
    L->dim = h[0], L->hidden_dim = h[1], L->n_layers = h[2], L->n_heads = h[3], L->n_kv_heads = h[4];
    L->vocab_size = h[5], L->seq_len = h[6];
    L->shared_classifier = L->vocab_size > 0;
    if (L->vocab_size < 0) L->vocab_size = L->vocab_size == INT32_MIN ? 0 : -L->vocab_size;
    const char *bad = NULL;
    if (L->dim <= 0 || L->dim > L2C_MAX_DIM) bad = "dim";
    else if (L->hidden_dim <= 0 || L->hidden_dim > L2C_MAX_DIM) bad = "hidden_dim";
    else if (L->n_layers <= 0 || L->n_layers > L2C_MAX_LAYERS) bad = "n_layers";
    else if (L->n_heads <= 0 || L->dim % L->n_heads) bad = "n_heads";
    else if (L->n_kv_heads <= 0 || L->n_heads % L->n_kv_heads) bad = "n_kv_heads";
    else if (L->vocab_size <= 0 || L->vocab_size > L2C_MAX_DIM * 4) bad = "vocab_size";
    else if (L->seq_len <= 0 || L->seq_len > L2C_MAX_DIM) bad = "seq_len";
    else if ((L->dim / L->n_heads) % 2) bad = "head size (must be even)";
    if (bad)
        return ks_err_set(err, KS_ERR_FORMAT,
                          "llama2.c: bad header: %s out of range (dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq_len=%d)",
                          bad, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    const uint64_t dim = (uint64_t)L->dim, hid = (uint64_t)L->hidden_dim, nl = (uint64_t)L->n_layers;
    const uint64_t kv_dim = dim * (uint64_t)L->n_kv_heads / (uint64_t)L->n_heads, hs = dim / (uint64_t)L->n_heads;
    uint64_t off = 28;
    bool ok = true;
    L->off_tok = off, ok &= add_floats(&off, (uint64_t)L->vocab_size, dim);
    L->off_rms_att = off, ok &= add_floats(&off, nl, dim);
    L->off_wq = off, ok &= add_floats(&off, nl, dim * dim);
    L->off_wk = off, ok &= add_floats(&off, nl, kv_dim * dim);
    L->off_wv = off, ok &= add_floats(&off, nl, kv_dim * dim);
    L->off_wo = off, ok &= add_floats(&off, nl, dim * dim);
    L->off_rms_ffn = off, ok &= add_floats(&off, nl, dim);
    L->off_w1 = off, ok &= add_floats(&off, nl, hid * dim);
    L->off_w2 = off, ok &= add_floats(&off, nl, dim * hid);
    L->off_w3 = off, ok &= add_floats(&off, nl, hid * dim);
    L->off_rms_final = off, ok &= add_floats(&off, 1, dim);
    ok &= add_floats(&off, (uint64_t)L->seq_len, hs); /* freq_cis_real + imag: 2 * seq_len * hs/2 */
    L->off_wcls = L->shared_classifier ? L->off_tok : off;
    if (!L->shared_classifier) ok &= add_floats(&off, (uint64_t)L->vocab_size, dim);
    if (!ok) return ks_err_set(err, KS_ERR_FORMAT, "llama2.c: header sizes overflow");
    L->total_bytes = off;
    if (off > size)
        return ks_err_set(err, KS_ERR_TRUNCATED,
                          "llama2.c: truncated weights: header implies %llu bytes, file has %zu",
                          (unsigned long long)off, size);
    return KS_OK;
}

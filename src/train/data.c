/* data.c - token shards (train.h, docs/TRAINING.md): a 32-byte header, then the tokens.
 *
 *   offset  size  field
 *   0       8     magic "KSTOKENS"
 *   8       4     version (1), u32 little-endian
 *   12      4     token width in bytes: 2 (u16) or 4 (u32)
 *   16      8     token count n, u64
 *   24      4     vocabulary size the tokens were made with (0 = unknown), u32
 *   28      4     reserved (0)
 *   32      n*w   tokens
 *
 * The header is checked against the file size before any token is read; tokens are checked
 * against the model's vocabulary as batches are taken (a shard may be larger than memory).
 */
#include <string.h>

#include "train/train.h"

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void ks_shard_header(uint8_t *h, uint32_t width, uint64_t n, uint32_t n_vocab) {
    memset(h, 0, KS_SHARD_HEADER);
    memcpy(h, KS_SHARD_MAGIC, 8);
    wr32(h + 8, 1), wr32(h + 12, width), wr32(h + 16, (uint32_t)n), wr32(h + 20, (uint32_t)(n >> 32));
    wr32(h + 24, n_vocab);
}

ks_status ks_shard_open(ks_shard *s, const char *path, int64_t n_vocab, uint64_t min_tokens, ks_err *err) {
    memset(s, 0, sizeof *s);
    ks_status st = ks_mapfile_open(&s->map, path, err);
    if (st) return st;
    const uint8_t *h = s->map.data;
    if (s->map.size < KS_SHARD_HEADER || memcmp(h, KS_SHARD_MAGIC, 8)) {
        st = ks_err_set(err, KS_ERR_FORMAT, "%s: not a token shard (no \"KSTOKENS\" header; make one with kestrel "
                        "prepare-data)", path);
        goto fail;
    }
    const uint32_t ver = rd32(h + 8), w = rd32(h + 12);
    const uint64_t n = rd64(h + 16);
    if (ver != 1 || (w != 2 && w != 4)) {
        st = ks_err_set(err, KS_ERR_FORMAT, "%s: shard version %u, token width %u (Kestrel reads version 1, width 2 "
                        "or 4)", path, ver, w);
        goto fail;
    }
    if (n > (s->map.size - KS_SHARD_HEADER) / w || s->map.size - KS_SHARD_HEADER != n * w) {
        st = ks_err_set(err, KS_ERR_TRUNCATED, "%s: the header says %llu tokens of %u bytes but the file holds %zu "
                        "bytes of tokens", path, (unsigned long long)n, w, s->map.size - KS_SHARD_HEADER);
        goto fail;
    }
    s->width = w, s->n = n, s->tok = h + KS_SHARD_HEADER, s->n_vocab = rd32(h + 24);
    if (s->n_vocab > n_vocab) {
        st = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: made with a vocabulary of %u tokens, the model has %lld", path,
                        s->n_vocab, (long long)n_vocab);
        goto fail;
    }
    if (n < min_tokens) {
        st = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: %llu tokens, fewer than the %llu one sequence needs", path,
                        (unsigned long long)n, (unsigned long long)min_tokens);
        goto fail;
    }
    return KS_OK;
fail:
    ks_shard_close(s);
    return st;
}

void ks_shard_close(ks_shard *s) {
    if (!s) return;
    ks_mapfile_close(&s->map);
    memset(s, 0, sizeof *s);
}

static uint32_t token_at(const ks_shard *s, uint64_t i) {
    const uint8_t *p = s->tok + i * s->width;
    return s->width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : rd32(p);
}

ks_status ks_shard_batch(const ks_shard *s, uint64_t *pos, int64_t B, int64_t T, int64_t n_vocab, int32_t *tokens,
                         int32_t *targets, ks_err *err) {
    for (int64_t b = 0; b < B; b++) {
        if (*pos + (uint64_t)T + 1 > s->n) *pos = 0;
        for (int64_t t = 0; t <= T; t++) {
            const uint32_t v = token_at(s, *pos + (uint64_t)t);
            if (v >= (uint64_t)n_vocab)
                return ks_err_set(err, KS_ERR_FORMAT, "token shard: token %u at position %llu is outside the "
                                  "vocabulary of %lld", v, (unsigned long long)(*pos + (uint64_t)t), (long long)n_vocab);
            if (t < T) tokens[b * T + t] = (int32_t)v;
            if (t > 0) targets[b * T + t - 1] = (int32_t)v;
        }
        *pos += (uint64_t)T;
    }
    return KS_OK;
}

/* batch.c - building batches (see batch.h). */
#include "model/batch.h"

#include <stdlib.h>
#include <string.h>

#include "model/kv_cache.h"

ks_status ks_batch_init(ks_batch *b, int64_t cap, ks_err *err) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || cap > (int64_t)1 << 30) return ks_err_set(err, KS_ERR_INVALID_ARG, "batch size %lld", (long long)cap);
    b->cap = cap;
    b->token = malloc((size_t)cap * sizeof *b->token);
    b->pos = malloc((size_t)cap * sizeof *b->pos);
    b->seq = malloc((size_t)cap * sizeof *b->seq);
    b->seq_first = malloc((size_t)cap * sizeof *b->seq_first);
    b->logits = malloc((size_t)cap * sizeof *b->logits);
    if (!b->token || !b->pos || !b->seq || !b->seq_first || !b->logits) {
        ks_batch_free(b);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory for a batch of %lld tokens", (long long)cap);
    }
    return KS_OK;
}

void ks_batch_free(ks_batch *b) {
    if (!b) return;
    free(b->token), free(b->pos), free(b->seq), free(b->seq_first), free(b->logits);
    memset(b, 0, sizeof *b);
}

void ks_batch_clear(ks_batch *b) { b->n_tokens = 0; }

ks_status ks_batch_add(ks_batch *b, int32_t token, int32_t pos, const int32_t *seq_ids, int n_seq, bool logits,
                       ks_err *err) {
    if (b->n_tokens >= b->cap)
        return ks_err_set(err, KS_ERR_LIMIT, "batch full (%lld tokens)", (long long)b->cap);
    if (n_seq < 1 || pos < 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "batch: a token needs a sequence and pos >= 0");
    uint64_t bits = 0;
    for (int i = 0; i < n_seq; i++) {
        if (seq_ids[i] < 0 || seq_ids[i] >= KS_MAX_SEQ)
            return ks_err_set(err, KS_ERR_INVALID_ARG, "batch: sequence id %d outside [0, %d)", seq_ids[i], KS_MAX_SEQ);
        bits |= (uint64_t)1 << seq_ids[i];
    }
    const int64_t i = b->n_tokens++;
    b->token[i] = token, b->pos[i] = pos, b->seq[i] = bits, b->seq_first[i] = seq_ids[0];
    b->logits[i] = logits ? 1 : 0;
    return KS_OK;
}

ks_status ks_batch_add1(ks_batch *b, int32_t token, int32_t pos, int32_t seq, bool logits, ks_err *err) {
    return ks_batch_add(b, token, pos, &seq, 1, logits, err);
}

/* batch.h - the tokens of one forward pass: (token, position, sequences, wants-logits)
 * for any number of sequences, as llama.cpp's llama_batch.
 *
 * Token i belongs to the sequences in seq[i] (a bitset; its cell is shared by all of
 * them) and attends as sequence seq_first[i]. Arrays are owned, sized at ks_batch_init.
 */
#ifndef KS_BATCH_H
#define KS_BATCH_H
#include <stdint.h>

#include "kestrel.h"

typedef struct ks_batch {
    int64_t n_tokens, cap;
    int32_t *token;     /* [cap] token ids */
    int32_t *pos;       /* [cap] positions */
    uint64_t *seq;      /* [cap] owning sequences, bit s = sequence s (< KS_MAX_SEQ) */
    int32_t *seq_first; /* [cap] the sequence it attends as */
    int8_t *logits;     /* [cap] 1: compute its logits */
} ks_batch;

/* Allocates room for cap tokens. KS_ERR_NOMEM, KS_ERR_INVALID_ARG for cap < 1. */
ks_status ks_batch_init(ks_batch *b, int64_t cap, ks_err *err);
void ks_batch_free(ks_batch *b);
void ks_batch_clear(ks_batch *b);
/* Appends a token owned by seq_ids[0..n_seq) (n_seq >= 1; the first is the one it attends
 * as). KS_ERR_LIMIT when the batch is full, KS_ERR_INVALID_ARG for a sequence id outside
 * [0, KS_MAX_SEQ) or a negative position. */
ks_status ks_batch_add(ks_batch *b, int32_t token, int32_t pos, const int32_t *seq_ids, int n_seq, bool logits,
                       ks_err *err);
/* The usual case: one sequence. */
ks_status ks_batch_add1(ks_batch *b, int32_t token, int32_t pos, int32_t seq, bool logits, ks_err *err);
#endif

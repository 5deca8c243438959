/* perplexity.h - perplexity of a text, computed the way llama.cpp's perplexity
 * tool computes it: the token stream is cut into chunks of n_ctx tokens (BOS put
 * in front of each chunk when the model adds BOS), each chunk is evaluated from an
 * empty cache in batches of n_batch, and only the second half of each chunk is
 * scored: -log softmax of the actual next token, summed in double. */
#ifndef KS_PERPLEXITY_H
#define KS_PERPLEXITY_H
#include "model/model.h"

/* ks_ppl_result, ks_ppl_progress_fn: kestrel.h */

/* tokens: the whole text's ids. n_ctx: chunk length (>= 8, even); n_batch: tokens
 * per decode (llama.cpp's ubatch, 512). max_chunks <= 0: all. KS_ERR_INVALID_ARG if
 * there are fewer than 2 * n_ctx tokens (as llama.cpp). Allocates one context. */
ks_status ks_perplexity(const ks_model *m, const int32_t *tokens, int64_t n_tokens, int64_t n_ctx, int64_t n_batch,
                        int64_t max_chunks, int n_threads, ks_ppl_progress_fn progress, void *ud, ks_ppl_result *out,
                        ks_err *err);
#endif

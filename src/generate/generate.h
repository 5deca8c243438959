/* generate.h - the generation loop: prompt processing, sampling, streaming
 * UTF-8-safe text, stopping on every end-of-generation token. */
#ifndef KS_GENERATE_H
#define KS_GENERATE_H
#include "generate/sampler.h"
#include "model/model.h"



/* ks_gen_text_fn, ks_gen_stats, ks_gen_params: kestrel.h */

/* Generates up to gp->n_predict tokens after tokens[0..n_tokens), and never more
 * than the context holds: ks_gen_max_tokens(gp->n_predict, n_ctx, n_tokens)
 * (stats->stopped_ctx tells the context ended it). The first n_cached of the
 * tokens are already in the context's KV cache (a conversation so far); the rest
 * are evaluated as one batch. Generated ids are appended to out_ids (capacity
 * ks_gen_max_tokens(...); may be NULL); *n_out receives their count. The
 * end-of-generation token, if any, is not included and not evaluated. Tokens
 * of any length are streamed whole. */
ks_status ks_generate(ks_context *ctx, const ks_model *m, ks_sampler *smpl, const int32_t *tokens, int64_t n_tokens,
                      int64_t n_cached, const ks_gen_params *gp, ks_gen_text_fn on_text, void *ud, int32_t *out_ids,
                      int64_t *n_out, ks_gen_stats *stats, ks_err *err);

/* Tokens ks_generate produces at most for a request of n_predict (< 0: no limit)
 * after n_tokens prompt tokens in a context of n_ctx: each but the last must fit
 * in the context (the last is sampled, not evaluated). 0 if the prompt does not fit. */
int64_t ks_gen_max_tokens(int64_t n_predict, int64_t n_ctx, int64_t n_tokens);

/* Monotonic clock in seconds. */
double ks_time_s(void);
#endif

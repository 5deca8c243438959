/* generate.h - the generation loop: prompt processing, sampling, streaming
 * UTF-8-safe text, stopping on every end-of-generation token. */
#ifndef KS_GENERATE_H
#define KS_GENERATE_H
#include "generate/sampler.h"
#include "model/model.h"

/* Receives each chunk of complete UTF-8 text as it is produced. Return
 * nonzero to stop generation. */
typedef int (*ks_gen_text_fn)(void *ud, const char *text, size_t len);

typedef struct ks_gen_stats {
    int64_t n_prompt;  /* prompt tokens evaluated (excluding those already cached) */
    int64_t n_gen;     /* tokens generated (evaluated or not) */
    double t_prompt_s; /* wall time of prompt processing */
    double t_gen_s;    /* wall time of generation */
    bool stopped_eog;  /* ended on an end-of-generation token */
} ks_gen_stats;

typedef struct ks_gen_params {
    int64_t n_predict; /* tokens to generate at most */
    bool ignore_eog;   /* keep going past end-of-generation tokens (benchmarks) */
} ks_gen_params;

/* Generates up to gp->n_predict tokens after tokens[0..n_tokens). The first n_cached
 * of them are already in the context's KV cache (a conversation so far);
 * the rest are evaluated as one batch. Generated ids are appended to out_ids
 * (capacity gp->n_predict; may be NULL); *n_out receives their count. The
 * end-of-generation token, if any, is not included and not evaluated. */
ks_status ks_generate(ks_context *ctx, const ks_model *m, ks_sampler *smpl, const int32_t *tokens, int64_t n_tokens,
                      int64_t n_cached, const ks_gen_params *gp, ks_gen_text_fn on_text, void *ud, int32_t *out_ids,
                      int64_t *n_out, ks_gen_stats *stats, ks_err *err);

/* Monotonic clock in seconds. */
double ks_time_s(void);
#endif

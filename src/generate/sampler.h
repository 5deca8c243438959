/* sampler.h - next-token selection from logits, as a llama.cpp user expects.
 *
 * One fixed chain, in llama.cpp's default order (common/sampling.cpp):
 *   penalties -> top_k -> top_p -> min_p -> temperature -> softmax -> draw.
 * top_p and min_p look at the distribution at temperature 1 (after the
 * earlier stages), as llama.cpp does; temperature only shapes the final draw.
 * temp <= 0 is greedy: the argmax of the penalized logits (ties -> lowest id).
 *
 * The sampler owns all its scratch, sized at init from n_vocab: sampling
 * allocates nothing. The PRNG (xoshiro256**, seeded through splitmix64) lives
 * in the sampler, so one seed gives one token sequence on every platform.
 * Not thread-safe: one sampler per sequence.
 */
#ifndef KS_SAMPLER_H
#define KS_SAMPLER_H
#include "kestrel.h"

typedef struct ks_sampler ks_sampler;

/* ks_sampler_params: kestrel.h */
/* All three penalties count a token's occurrences over the same window (the
 * last repeat_last_n accepted tokens), as llama.cpp's penalties sampler does. */

/* llama.cpp's common defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat_penalty 1.0, repeat_last_n 64, presence/frequency 0, seed 0. */
ks_sampler_params ks_sampler_default_params(void);

/* Checks p (KS_ERR_INVALID_ARG naming the bad field: NaN/inf anywhere, top_p
 * outside (0,1], min_p > 1, repeat_penalty <= 0, repeat_last_n < -1,
 * n_vocab <= 0) and allocates a sampler. On error *out is NULL. Free with
 * ks_sampler_free. */
ks_status ks_sampler_init(ks_sampler **out, const ks_sampler_params *p, int32_t n_vocab, ks_err *err);
void ks_sampler_free(ks_sampler *s); /* accepts NULL */

/* Forgets the token history and reseeds the PRNG from params.seed. */
void ks_sampler_reset(ks_sampler *s);
/* Records a token (prompt or generated) for the penalties. Ids outside
 * [0, n_vocab) are ignored. */
void ks_sampler_accept(ks_sampler *s, int32_t token);
/* ks_sampler_sample (kestrel.h) */

#endif /* KS_SAMPLER_H */

/* sampler.h - next-token selection: samplers behind one small interface
 * (kestrel.h's ks_sampler_iface), a chain being itself a sampler.
 *
 * Two kinds share struct ks_sampler:
 *  - the default chain (ks_sampler_init, sampler.c): llama.cpp's default order
 *    (common/sampling.cpp) penalties -> top_k -> top_p -> min_p -> temperature ->
 *    softmax -> draw, fused in one pass over an id-ordered candidate array. top_p
 *    and min_p look at the distribution at temperature 1 (after the earlier
 *    stages); temperature only shapes the final draw; temp <= 0 is greedy (the
 *    argmax of the penalized logits, ties -> lowest id). Its scratch is sized at
 *    init from n_vocab: sampling allocates nothing.
 *  - composable stages and chains (sampler_chain.c): greedy, dist, top_k, top_p,
 *    min_p, temp, penalties, logit_bias, user samplers, over a ks_token_data_array.
 * The PRNG (xoshiro256**, seeded through splitmix64) lives in the sampler, so one
 * seed gives one token sequence on every platform. Not thread-safe: one sampler
 * per sequence. All public functions are declared in kestrel.h.
 */
#ifndef KS_SAMPLER_H
#define KS_SAMPLER_H
#include "kestrel.h"

struct ks_sampler {
    const ks_sampler_iface *iface;
    void *ctx;
    int32_t n_vocab;        /* the vocabulary it was made for, 0 if none */
    ks_token_data *scratch; /* candidates built by ks_sampler_sample (generic samplers) */
    size_t scratch_cap;
};

/* sampler.c: the default chain's interface (ks_sampler_sample takes a fast path for it) */
extern const ks_sampler_iface ks_sampler_default_iface;
/* sampler.c: the default chain on n_vocab logits (its own vocabulary) */
int32_t ks_sampler_default_sample(void *ctx, const float *logits);

/* Candidate steps shared by the default chain and the stages (sampler.c). Order: logit
 * descending, then id ascending (a total order). select_top_k moves the first k of c[0..n) to
 * c[0..k), unordered (quickselect, O(n) expected); cut_top_p returns the smallest prefix of
 * sorted c[0..n) whose softmax mass at temperature 1 reaches top_p; cut_min_p keeps (in order)
 * the candidates with logit >= max + log(min_p) and returns their count. */
int ks_cand_cmp(const void *a, const void *b);
void ks_cand_select_top_k(ks_token_data *c, size_t n, size_t k);
size_t ks_cand_cut_top_p(const ks_token_data *c, size_t n, float top_p);
size_t ks_cand_cut_min_p(ks_token_data *c, size_t n, float max, float min_p);

/* PRNG shared by the default chain and the dist stage */
void ks_rng_seed(uint64_t rng[4], uint64_t seed);
double ks_rng_uniform(uint64_t rng[4]); /* [0, 1) with 53 random bits */
#endif /* KS_SAMPLER_H */

/* sampler.h - token sampling (placeholder header with the agreed API; the
 * sampler implementation lands in sampler.c). */
#ifndef KS_SAMPLER_H
#define KS_SAMPLER_H
#include "kestrel.h"

typedef struct ks_sampler ks_sampler;

typedef struct ks_sampler_params {
    float temp;           /* <= 0: greedy (argmax, ties -> lowest id) */
    int32_t top_k;        /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int32_t repeat_last_n;
    float presence_penalty, frequency_penalty; /* 0: off */
    uint64_t seed;
} ks_sampler_params;

ks_sampler_params ks_sampler_default_params(void);
ks_status ks_sampler_init(ks_sampler **out, const ks_sampler_params *p, int32_t n_vocab, ks_err *err);
void ks_sampler_free(ks_sampler *s);
void ks_sampler_reset(ks_sampler *s);
void ks_sampler_accept(ks_sampler *s, int32_t token);
int32_t ks_sampler_sample(ks_sampler *s, const float *logits);
#endif

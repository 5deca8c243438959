/* sampler.c - the default sampling chain, fused (see sampler.h).
 *
 * Owns: a candidate array of n_vocab (id, logit) pairs rebuilt from the logits
 * on every call; the penalty window (a ring of the last repeat_last_n accepted
 * ids) with a per-id occurrence count and the list of ids whose count is
 * non-zero, so penalties cost O(distinct ids in the window), not O(n_vocab).
 * Invariants: count[t] == occurrences of t in the window; distinct[0..n_distinct)
 * holds exactly the ids with count > 0 and where[t] is t's index in it.
 * Candidate order is a total order (logit descending, then id ascending), so
 * results never depend on the sort's stability.
 */
#include "generate/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef ks_token_data cand; /* the candidates of kestrel.h (p unused here) */

typedef struct fused {
    ks_sampler_params p;
    int32_t n_vocab;
    cand *cands;       /* [n_vocab] scratch for one sample call */
    int32_t *count;    /* [n_vocab] occurrences in the penalty window */
    int32_t *distinct; /* [n_vocab] ids with count > 0 */
    int32_t *where;    /* [n_vocab] index of an id in distinct */
    int32_t n_distinct;
    int32_t *ring;     /* [repeat_last_n] the window, oldest at ring_head once full */
    int32_t ring_len, ring_head;
    uint64_t rng[4];   /* xoshiro256** state */
} fused;

ks_sampler_params ks_sampler_default_params(void) {
    return (ks_sampler_params){
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = 0,
    };
}

/* ---- PRNG: splitmix64 seeding, xoshiro256** (Blackman & Vigna, 2018) ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
double ks_rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

void ks_rng_seed(uint64_t rng[4], uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng[i] = splitmix64(&x);
}

/* ---- lifecycle ---- */

static ks_status check_params(const ks_sampler_params *p, int32_t n_vocab, ks_err *err) {
    if (!p) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: params is NULL");
    if (n_vocab <= 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: n_vocab %d, expected > 0", (int)n_vocab);
    if (!isfinite(p->temp)) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: temp %g is not finite", p->temp);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: top_p %g, expected in (0, 1]", p->top_p);
    if (isnan(p->min_p) || p->min_p > 1.0f)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: min_p %g, expected <= 1 (<= 0: off)", p->min_p);
    if (!(isfinite(p->repeat_penalty) && p->repeat_penalty > 0.0f))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: repeat_penalty %g, expected finite and > 0",
                          p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: repeat_last_n %d, expected >= -1", (int)p->repeat_last_n);
    if (!isfinite(p->presence_penalty))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: presence_penalty %g is not finite", p->presence_penalty);
    if (!isfinite(p->frequency_penalty))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: frequency_penalty %g is not finite", p->frequency_penalty);
    return KS_OK;
}

static void fused_free(void *ctx) {
    fused *s = ctx;
    if (!s) return;
    free(s->cands);
    free(s->count);
    free(s->distinct);
    free(s->where);
    free(s->ring);
    free(s);
}

static void fused_reset(void *ctx) {
    fused *s = ctx;
    for (int32_t i = 0; i < s->n_distinct; i++) s->count[s->distinct[i]] = 0;
    s->n_distinct = 0;
    s->ring_len = s->ring_head = 0;
    ks_rng_seed(s->rng, s->p.seed);
}

static void fused_accept(void *ctx, int32_t token);
static void fused_apply(void *ctx, ks_token_data_array *cur);
static const char *fused_name(void *ctx) { return (void)ctx, "default"; }
const ks_sampler_iface ks_sampler_default_iface = {
    .name = fused_name, .accept = fused_accept, .apply = fused_apply, .reset = fused_reset, .free_ctx = fused_free};

ks_status ks_sampler_init(ks_sampler **out, const ks_sampler_params *p, int32_t n_vocab, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    ks_status st = check_params(p, n_vocab, err);
    if (st) return st;
    fused *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->p = *p;
    s->n_vocab = n_vocab;
    const size_t n = (size_t)n_vocab;
    s->cands = malloc(n * sizeof *s->cands);
    s->count = calloc(n, sizeof *s->count);
    s->distinct = malloc(n * sizeof *s->distinct);
    s->where = malloc(n * sizeof *s->where);
    if (!s->cands || !s->count || !s->distinct || !s->where) goto nomem;
    if (p->repeat_last_n > 0) {
        s->ring = malloc((size_t)p->repeat_last_n * sizeof *s->ring);
        if (!s->ring) goto nomem;
    }
    fused_reset(s);
    if (ks_sampler_new(&ks_sampler_default_iface, s, out, err)) goto nomem;
    (*out)->n_vocab = n_vocab;
    return KS_OK;
nomem:
    fused_free(s);
    return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory for a vocabulary of %d", (int)n_vocab);
}

/* ---- penalty window ---- */

static void count_add(fused *s, int32_t t) {
    if (s->count[t]++ == 0) {
        s->where[t] = s->n_distinct;
        s->distinct[s->n_distinct++] = t;
    }
}

static void count_remove(fused *s, int32_t t) {
    if (--s->count[t] == 0) { /* swap-remove from the distinct list */
        const int32_t i = s->where[t], last = s->distinct[--s->n_distinct];
        s->distinct[i] = last;
        s->where[last] = i;
    }
}

static void fused_accept(void *ctx, int32_t token) {
    fused *s = ctx;
    if (token < 0 || token >= s->n_vocab || s->p.repeat_last_n == 0) return;
    if (s->p.repeat_last_n < 0) { /* whole history: counts only, nothing leaves */
        count_add(s, token);
        return;
    }
    const int32_t cap = s->p.repeat_last_n;
    if (s->ring_len == cap) { /* full: the oldest, at ring_head, leaves */
        count_remove(s, s->ring[s->ring_head]);
        s->ring[s->ring_head] = token;
        s->ring_head = (s->ring_head + 1) % cap;
    } else {
        s->ring[(s->ring_head + s->ring_len) % cap] = token;
        s->ring_len++;
    }
    count_add(s, token);
}

/* llama.cpp's penalties sampler: repetition (divide positive logits, multiply
 * non-positive ones), then frequency * count and presence once. */
static void apply_penalties(fused *s) {
    const float rp = s->p.repeat_penalty, fp = s->p.frequency_penalty, pp = s->p.presence_penalty;
    if (rp == 1.0f && fp == 0.0f && pp == 0.0f) return;
    for (int32_t i = 0; i < s->n_distinct; i++) {
        const int32_t t = s->distinct[i];
        float l = s->cands[t].logit; /* cands is still in id order here */
        l = l > 0.0f ? l / rp : l * rp;
        l -= (float)s->count[t] * fp + pp;
        s->cands[t].logit = l;
    }
}

/* ---- candidate ordering ---- */

static bool cand_before(cand a, cand b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

int ks_cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return cand_before(*a, *b) ? -1 : cand_before(*b, *a) ? 1 : 0;
}

static void cand_swap(cand *c, size_t i, size_t j) {
    cand t = c[i];
    c[i] = c[j];
    c[j] = t;
}

/* Moves the k first (in cand_before order) of c[0..n) to c[0..k), unordered.
 * Quickselect with median-of-three pivots: O(n) expected. */
void ks_cand_select_top_k(ks_token_data *c, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cand_before(c[mid], c[lo])) cand_swap(c, mid, lo);
        if (cand_before(c[hi], c[lo])) cand_swap(c, hi, lo);
        if (cand_before(c[hi], c[mid])) cand_swap(c, hi, mid);
        const cand pivot = c[mid];
        size_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition: [lo, j] before-or-equal, [i, hi] after-or-equal */
            while (cand_before(c[i], pivot)) i++;
            while (cand_before(pivot, c[j])) j--;
            if (i <= j) {
                cand_swap(c, i, j);
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

/* ---- the chain ---- */

/* softmax mass of sorted c[0..n) at temperature 1: smallest prefix whose mass reaches top_p */
size_t ks_cand_cut_top_p(const ks_token_data *c, size_t n, float top_p) {
    const float max = c[0].logit;
    double sum = 0.0, cum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)(c[i].logit - max));
    for (size_t i = 0; i < n; i++) {
        cum += exp((double)(c[i].logit - max)) / sum;
        if (cum >= (double)top_p) return i + 1;
    }
    return n;
}

/* keeps p_i >= min_p * p_max, i.e. logit_i >= max + log(min_p); order preserved */
size_t ks_cand_cut_min_p(ks_token_data *c, size_t n, float max, float min_p) {
    const float thresh = max + logf(min_p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit >= thresh) c[m++] = c[i];
    return m;
}

static int32_t draw(fused *s, const cand *c, size_t n, float max) {
    const double inv_t = 1.0 / (double)s->p.temp;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)(c[i].logit - max) * inv_t);
    const double u = ks_rng_uniform(s->rng) * sum;
    double cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += exp((double)(c[i].logit - max) * inv_t);
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id; /* rounding: u landed at the very top */
}

int32_t ks_sampler_default_sample(void *ctx, const float *logits) {
    fused *s = ctx;
    const size_t nv = (size_t)s->n_vocab;
    cand *c = s->cands;
    for (size_t i = 0; i < nv; i++) c[i] = (cand){(int32_t)i, isnan(logits[i]) ? -INFINITY : logits[i], 0.0f};
    apply_penalties(s);

    size_t best = 0; /* argmax, ties -> lowest id; also the fallback when all are -inf */
    for (size_t i = 1; i < nv; i++)
        if (c[i].logit > c[best].logit) best = i;
    const float max = c[best].logit;
    const int32_t best_id = c[best].id;
    if (s->p.temp <= 0.0f || max == -INFINITY || max == INFINITY) return best_id;

    size_t n = nv;
    bool sorted = false;
    if (s->p.top_k > 0 && (size_t)s->p.top_k < n) {
        n = (size_t)s->p.top_k;
        ks_cand_select_top_k(c, nv, n);
        qsort(c, n, sizeof *c, ks_cand_cmp);
        sorted = true;
    }
    if (s->p.top_p < 1.0f) {
        if (!sorted) qsort(c, n, sizeof *c, ks_cand_cmp);
        sorted = true;
        n = ks_cand_cut_top_p(c, n, s->p.top_p);
    }
    if (s->p.min_p > 0.0f) n = ks_cand_cut_min_p(c, n, max, s->p.min_p);
    if (n == 0) return best_id; /* cannot happen: the max always survives */
    return draw(s, c, n, max);
}

/* In a chain: the candidates scattered over the vocabulary (others -inf), sampled as above. */
static void fused_apply(void *ctx, ks_token_data_array *cur) {
    fused *s = ctx;
    float *dense = malloc((size_t)s->n_vocab * sizeof *dense);
    if (!dense || !cur->size) {
        free(dense);
        return;
    }
    for (int32_t i = 0; i < s->n_vocab; i++) dense[i] = -INFINITY;
    for (size_t i = 0; i < cur->size; i++)
        if (cur->data[i].id >= 0 && cur->data[i].id < s->n_vocab) dense[cur->data[i].id] = cur->data[i].logit;
    const int32_t id = ks_sampler_default_sample(s, dense);
    free(dense);
    for (size_t i = 0; i < cur->size; i++)
        if (cur->data[i].id == id) cur->selected = (int64_t)i;
}

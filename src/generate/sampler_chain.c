/* sampler_chain.c - the sampler interface (kestrel.h): user samplers, chains, and
 * the composable stages (greedy, dist, top_k, top_p, min_p, temp, penalties,
 * logit_bias) over a ks_token_data_array, in llama.cpp's meaning.
 *
 * Candidate order, where a stage sorts, is a total order (logit descending, then id
 * ascending), so results never depend on the sort's stability. A stage that cuts
 * keeps at least one candidate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/sampler.h"

/* ---- the interface ---- */

ks_status ks_sampler_new(const ks_sampler_iface *iface, void *ctx, ks_sampler **out, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    if (!iface || !iface->apply) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: the interface has no apply");
    ks_sampler *s = calloc(1, sizeof *s);
    if (!s) return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
    s->iface = iface, s->ctx = ctx;
    *out = s;
    return KS_OK;
}

void ks_sampler_free(ks_sampler *s) {
    if (!s) return;
    if (s->iface->free_ctx) s->iface->free_ctx(s->ctx);
    free(s->scratch);
    free(s);
}

const char *ks_sampler_name(const ks_sampler *s) {
    if (!s) return "";
    return s->iface->name ? s->iface->name(s->ctx) : "custom";
}
void ks_sampler_reset(ks_sampler *s) {
    if (s && s->iface->reset) s->iface->reset(s->ctx);
}
void ks_sampler_accept(ks_sampler *s, int32_t token) {
    if (s && s->iface->accept) s->iface->accept(s->ctx, token);
}
void ks_sampler_apply(ks_sampler *s, ks_token_data_array *cur) {
    if (s && cur) s->iface->apply(s->ctx, cur);
}
int32_t ks_sampler_n_vocab(const ks_sampler *s) { return s ? s->n_vocab : 0; }

static int64_t argmax(const ks_token_data_array *cur) {
    int64_t best = 0;
    for (size_t i = 1; i < cur->size; i++)
        if (cur->data[i].logit > cur->data[best].logit ||
            (cur->data[i].logit == cur->data[best].logit && cur->data[i].id < cur->data[best].id))
            best = (int64_t)i;
    return best;
}

int32_t ks_sampler_sample(ks_sampler *s, const float *logits, int32_t n_vocab) {
    if (!s || !logits || n_vocab <= 0 || n_vocab < s->n_vocab) return -1;
    if (s->iface == &ks_sampler_default_iface) return ks_sampler_default_sample(s->ctx, logits);
    if (s->scratch_cap < (size_t)n_vocab) {
        ks_token_data *d = realloc(s->scratch, (size_t)n_vocab * sizeof *d);
        if (!d) return -1;
        s->scratch = d, s->scratch_cap = (size_t)n_vocab;
    }
    for (int32_t i = 0; i < n_vocab; i++)
        s->scratch[i] = (ks_token_data){i, isnan(logits[i]) ? -INFINITY : logits[i], 0.0f};
    ks_token_data_array cur = {s->scratch, (size_t)n_vocab, -1, false};
    s->iface->apply(s->ctx, &cur);
    if (!cur.size) return -1;
    const int64_t k = cur.selected >= 0 && (size_t)cur.selected < cur.size ? cur.selected : argmax(&cur);
    return cur.data[k].id;
}

/* ---- chain ---- */

typedef struct chain {
    ks_sampler **items;
    int32_t n, cap;
} chain;

static void chain_free(void *ctx) {
    chain *c = ctx;
    for (int32_t i = 0; i < c->n; i++) ks_sampler_free(c->items[i]);
    free(c->items);
    free(c);
}
static void chain_reset(void *ctx) {
    chain *c = ctx;
    for (int32_t i = 0; i < c->n; i++) ks_sampler_reset(c->items[i]);
}
static void chain_accept(void *ctx, int32_t t) {
    chain *c = ctx;
    for (int32_t i = 0; i < c->n; i++) ks_sampler_accept(c->items[i], t);
}
static void chain_apply(void *ctx, ks_token_data_array *cur) {
    chain *c = ctx;
    for (int32_t i = 0; i < c->n; i++) ks_sampler_apply(c->items[i], cur);
}
static const char *chain_name(void *ctx) { return (void)ctx, "chain"; }
static const ks_sampler_iface chain_iface = {chain_name, chain_accept, chain_apply, chain_reset, chain_free};

ks_status ks_sampler_new_chain(ks_sampler **out, ks_err *err) {
    chain *c = calloc(1, sizeof *c);
    if (!c) return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
    ks_status st = ks_sampler_new(&chain_iface, c, out, err);
    if (st) free(c);
    return st;
}

ks_status ks_sampler_chain_add(ks_sampler *ch, ks_sampler *s, ks_err *err) {
    if (!ch || ch->iface != &chain_iface || !s) {
        ks_sampler_free(s);
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: chain_add needs a chain and a sampler");
    }
    chain *c = ch->ctx;
    if (c->n == c->cap) {
        const int32_t cap = c->cap ? 2 * c->cap : 8;
        ks_sampler **it = realloc(c->items, (size_t)cap * sizeof *it);
        if (!it) {
            ks_sampler_free(s);
            return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
        }
        c->items = it, c->cap = cap;
    }
    c->items[c->n++] = s;
    if (s->n_vocab > ch->n_vocab) ch->n_vocab = s->n_vocab;
    return KS_OK;
}

int32_t ks_sampler_chain_n(const ks_sampler *ch) {
    return ch && ch->iface == &chain_iface ? ((const chain *)ch->ctx)->n : 0;
}
ks_sampler *ks_sampler_chain_get(const ks_sampler *ch, int32_t i) {
    return i >= 0 && i < ks_sampler_chain_n(ch) ? ((const chain *)ch->ctx)->items[i] : NULL;
}

/* ---- stages with one number: greedy, top_k, top_p, min_p, temp ---- */

static void sort_cur(ks_token_data_array *cur) {
    if (!cur->sorted) qsort(cur->data, cur->size, sizeof *cur->data, ks_cand_cmp);
    cur->sorted = true;
}

typedef struct stage {
    int kind;
    float f;
    int32_t k;
    uint64_t seed, rng[4];
} stage;
enum { S_GREEDY, S_DIST, S_TOP_K, S_TOP_P, S_MIN_P, S_TEMP };
static const char *const stage_names[] = {"greedy", "dist", "top-k", "top-p", "min-p", "temp"};

static void stage_apply(void *ctx, ks_token_data_array *cur) {
    stage *s = ctx;
    if (!cur->size) return;
    switch (s->kind) {
    case S_GREEDY: cur->selected = argmax(cur); break;
    case S_DIST: { /* softmax at the logits as they are, then one draw */
        const float max = cur->data[argmax(cur)].logit;
        double sum = 0.0;
        for (size_t i = 0; i < cur->size; i++) sum += exp((double)(cur->data[i].logit - max));
        const double u = ks_rng_uniform(s->rng) * sum;
        double cum = 0.0;
        int64_t sel = -1;
        for (size_t i = 0; i < cur->size; i++) {
            const double e = exp((double)(cur->data[i].logit - max));
            cur->data[i].p = (float)(e / sum);
            cum += e;
            if (sel < 0 && u < cum) sel = (int64_t)i;
        }
        cur->selected = sel < 0 ? (int64_t)cur->size - 1 : sel; /* rounding: u at the very top */
        break;
    }
    case S_TOP_K:
        if (s->k > 0 && (size_t)s->k < cur->size) {
            if (!cur->sorted) ks_cand_select_top_k(cur->data, cur->size, (size_t)s->k);
            cur->size = (size_t)s->k;
            sort_cur(cur);
        }
        break;
    case S_TOP_P:
        if (s->f < 1.0f) {
            sort_cur(cur);
            cur->size = ks_cand_cut_top_p(cur->data, cur->size, s->f);
        }
        break;
    case S_MIN_P:
        if (s->f > 0.0f) cur->size = ks_cand_cut_min_p(cur->data, cur->size, cur->data[argmax(cur)].logit, s->f);
        break;
    case S_TEMP:
        if (s->f <= 0.0f) { /* only the argmax survives */
            cur->data[0] = cur->data[argmax(cur)];
            cur->size = 1, cur->sorted = true;
        } else {
            for (size_t i = 0; i < cur->size; i++) cur->data[i].logit /= s->f;
        }
        break;
    }
}
static void stage_reset(void *ctx) {
    stage *s = ctx;
    ks_rng_seed(s->rng, s->seed);
}
static const char *stage_name(void *ctx) { return stage_names[((stage *)ctx)->kind]; }
static const ks_sampler_iface stage_iface = {stage_name, NULL, stage_apply, stage_reset, free};

static ks_status new_stage(int kind, float f, int32_t k, uint64_t seed, ks_sampler **out, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    if (isnan(f) || (kind == S_TEMP && isinf(f)))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler %s: %g is not a number", stage_names[kind], f);
    if (kind == S_TOP_P && !(f > 0.0f && f <= 1.0f))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler top-p: %g, expected in (0, 1]", f);
    if (kind == S_MIN_P && f > 1.0f)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler min-p: %g, expected <= 1", f);
    stage *s = calloc(1, sizeof *s);
    if (!s) return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
    *s = (stage){.kind = kind, .f = f, .k = k, .seed = seed};
    stage_reset(s);
    ks_status st = ks_sampler_new(&stage_iface, s, out, err);
    if (st) free(s);
    return st;
}

ks_status ks_sampler_new_greedy(ks_sampler **out, ks_err *err) { return new_stage(S_GREEDY, 0, 0, 0, out, err); }
ks_status ks_sampler_new_dist(uint64_t seed, ks_sampler **out, ks_err *err) {
    return new_stage(S_DIST, 0, 0, seed, out, err);
}
ks_status ks_sampler_new_top_k(int32_t k, ks_sampler **out, ks_err *err) { return new_stage(S_TOP_K, 0, k, 0, out, err); }
ks_status ks_sampler_new_top_p(float p, ks_sampler **out, ks_err *err) { return new_stage(S_TOP_P, p, 0, 0, out, err); }
ks_status ks_sampler_new_min_p(float p, ks_sampler **out, ks_err *err) { return new_stage(S_MIN_P, p, 0, 0, out, err); }
ks_status ks_sampler_new_temp(float t, ks_sampler **out, ks_err *err) { return new_stage(S_TEMP, t, 0, 0, out, err); }

/* ---- vocabulary-bound stages: penalties, logit bias ---- */

typedef struct penalties {
    int32_t n_vocab, last_n;
    float repeat, frequency, presence;
    int32_t *count; /* [n_vocab] occurrences in the window */
    int32_t *ring;  /* [last_n] the window, oldest at head once full */
    int32_t ring_len, head;
} penalties;

static void pen_free(void *ctx) {
    penalties *p = ctx;
    free(p->count), free(p->ring), free(p);
}
static void pen_reset(void *ctx) {
    penalties *p = ctx;
    memset(p->count, 0, (size_t)p->n_vocab * sizeof *p->count);
    p->ring_len = p->head = 0;
}
static void pen_accept(void *ctx, int32_t t) {
    penalties *p = ctx;
    if (t < 0 || t >= p->n_vocab || p->last_n == 0) return;
    if (p->last_n > 0) {
        if (p->ring_len == p->last_n) {
            p->count[p->ring[p->head]]--;
            p->ring[p->head] = t;
            p->head = (p->head + 1) % p->last_n;
        } else {
            p->ring[(p->head + p->ring_len++) % p->last_n] = t;
        }
    }
    p->count[t]++;
}
static void pen_apply(void *ctx, ks_token_data_array *cur) {
    penalties *p = ctx;
    for (size_t i = 0; i < cur->size; i++) {
        const int32_t t = cur->data[i].id;
        if (t < 0 || t >= p->n_vocab || !p->count[t]) continue;
        float l = cur->data[i].logit;
        l = l > 0.0f ? l / p->repeat : l * p->repeat;
        cur->data[i].logit = l - ((float)p->count[t] * p->frequency + p->presence);
    }
    cur->sorted = false;
}
static const char *pen_name(void *ctx) { return (void)ctx, "penalties"; }
static const ks_sampler_iface pen_iface = {pen_name, pen_accept, pen_apply, pen_reset, pen_free};

ks_status ks_sampler_new_penalties(int32_t n_vocab, int32_t last_n, float repeat, float frequency, float presence,
                                   ks_sampler **out, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    if (n_vocab <= 0 || last_n < -1 || !(isfinite(repeat) && repeat > 0.0f) || !isfinite(frequency) ||
        !isfinite(presence))
        return ks_err_set(err, KS_ERR_INVALID_ARG,
                          "sampler penalties: n_vocab %d, last_n %d, repeat %g, frequency %g, presence %g: expected "
                          "n_vocab > 0, last_n >= -1, repeat > 0, all finite", (int)n_vocab, (int)last_n, repeat,
                          frequency, presence);
    penalties *p = calloc(1, sizeof *p);
    if (p) {
        *p = (penalties){.n_vocab = n_vocab, .last_n = last_n, .repeat = repeat, .frequency = frequency,
                         .presence = presence};
        p->count = calloc((size_t)n_vocab, sizeof *p->count);
        if (last_n > 0) p->ring = malloc((size_t)last_n * sizeof *p->ring);
    }
    if (!p || !p->count || (last_n > 0 && !p->ring) || ks_sampler_new(&pen_iface, p, out, err)) {
        if (p) pen_free(p);
        return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
    }
    (*out)->n_vocab = n_vocab;
    return KS_OK;
}

typedef struct bias {
    int32_t n_vocab;
    float *add; /* [n_vocab] */
} bias;
static void bias_free(void *ctx) {
    bias *b = ctx;
    free(b->add), free(b);
}
static void bias_apply(void *ctx, ks_token_data_array *cur) {
    const bias *b = ctx;
    for (size_t i = 0; i < cur->size; i++) {
        const int32_t t = cur->data[i].id;
        if (t >= 0 && t < b->n_vocab && b->add[t] != 0.0f) cur->data[i].logit += b->add[t];
    }
    cur->sorted = false;
}
static const char *bias_name(void *ctx) { return (void)ctx, "logit-bias"; }
static const ks_sampler_iface bias_iface = {bias_name, NULL, bias_apply, NULL, bias_free};

ks_status ks_sampler_new_logit_bias(int32_t n_vocab, const ks_logit_bias *biases, size_t n, ks_sampler **out,
                                    ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    if (n_vocab <= 0 || (n && !biases))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler logit-bias: n_vocab %d, %zu biases", (int)n_vocab, n);
    for (size_t i = 0; i < n; i++)
        if (biases[i].token < 0 || biases[i].token >= n_vocab || isnan(biases[i].bias))
            return ks_err_set(err, KS_ERR_INVALID_ARG, "sampler logit-bias: entry %zu: token %d outside [0, %d) or NaN",
                              i, (int)biases[i].token, (int)n_vocab);
    bias *b = calloc(1, sizeof *b);
    if (b) b->n_vocab = n_vocab, b->add = calloc((size_t)n_vocab, sizeof *b->add);
    if (!b || !b->add || ks_sampler_new(&bias_iface, b, out, err)) {
        if (b) bias_free(b);
        return ks_err_set(err, KS_ERR_NOMEM, "sampler: out of memory");
    }
    for (size_t i = 0; i < n; i++) b->add[biases[i].token] += biases[i].bias;
    (*out)->n_vocab = n_vocab;
    return KS_OK;
}

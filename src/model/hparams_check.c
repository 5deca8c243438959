/* hparams_check.c - ks_hparams_check (see hparams_check.h).
 *
 * Each field is one table row: where it lives in ks_hparams, the GGUF key
 * suffix that sets it, and its range. Relations between fields (heads dividing,
 * RoPE dims within the head) follow the rows. Limits match the GGUF loader's
 * (2^26 for sizes, 4096 layers); token ids are int32.
 */
#include "model/hparams_check.h"

#include <math.h>
#include <stddef.h>

#define HP_MAX_DIM ((int64_t)1 << 26)

static const struct int_field {
    size_t off;
    const char *key; /* suffix after "<arch>." */
    int64_t min, max;
    bool derived; /* set by the loader after the base fields (from them or from tensors) */
} int_fields[] = {
    {offsetof(ks_hparams, n_vocab), "vocab_size", 1, INT32_MAX, true},
    {offsetof(ks_hparams, n_embd), "embedding_length", 1, HP_MAX_DIM, false},
    {offsetof(ks_hparams, n_layer), "block_count", 1, 4096, false},
    {offsetof(ks_hparams, n_head), "attention.head_count", 1, HP_MAX_DIM, false},
    {offsetof(ks_hparams, n_head_kv), "attention.head_count_kv", 1, HP_MAX_DIM, false},
    {offsetof(ks_hparams, n_ff), "feed_forward_length", 1, HP_MAX_DIM, false},
    {offsetof(ks_hparams, n_ctx_train), "context_length", 1, HP_MAX_DIM, false},
    {offsetof(ks_hparams, head_dim), "attention.key_length", 1, HP_MAX_DIM, true},
    {offsetof(ks_hparams, n_rot), "rope.dimension_count", 0, HP_MAX_DIM, true},
};

/* lo < value (lo <= value if lo_incl), value <= hi, finite */
static const struct float_field {
    size_t off;
    const char *key;
    double lo, hi;
    bool lo_incl;
    const char *range; /* as printed */
} float_fields[] = {
    {offsetof(ks_hparams, norm_eps), "attention.layer_norm_rms_epsilon", 0.0, 1.0, false, "(0, 1]"},
    {offsetof(ks_hparams, rope_theta), "rope.freq_base", 0.0, HUGE_VAL, false, "(0, inf)"},
};

/* the integer rows (without the derived ones if base_only) and the heads dividing */
static ks_status check_ints(const ks_hparams *hp, const char *a, bool base_only, ks_err *err) {
    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        const struct int_field *f = &int_fields[i];
        if (base_only && f->derived) continue;
        const int64_t v = *(const int64_t *)((const char *)hp + f->off);
        if (v < f->min || v > f->max)
            return ks_err_set(err, KS_ERR_FORMAT, "model: %s.%s = %lld is out of range [%lld, %lld]", a, f->key,
                              (long long)v, (long long)f->min, (long long)f->max);
    }
    if (hp->n_head % hp->n_head_kv)
        return ks_err_set(err, KS_ERR_FORMAT, "model: %s.attention.head_count = %lld is not a multiple of %s.attention"
                          ".head_count_kv = %lld", a, (long long)hp->n_head, a, (long long)hp->n_head_kv);
    return KS_OK;
}

ks_status ks_hparams_check_base(const ks_hparams *hp, const char *arch_name, ks_err *err) {
    return check_ints(hp, arch_name ? arch_name : "model", true, err);
}

ks_status ks_hparams_check(const ks_hparams *hp, const char *arch_name, ks_err *err) {
    const char *a = arch_name ? arch_name : "model";
    ks_status st = check_ints(hp, a, false, err);
    if (st) return st;
    for (size_t i = 0; i < sizeof float_fields / sizeof float_fields[0]; i++) {
        const struct float_field *f = &float_fields[i];
        const double v = *(const float *)((const char *)hp + f->off);
        if (!isfinite(v) || v < f->lo || (v == f->lo && !f->lo_incl) || v > f->hi)
            return ks_err_set(err, KS_ERR_FORMAT, "model: %s.%s = %g is not a finite number in %s", a, f->key, v,
                              f->range);
    }
    if (hp->n_rot % 2 || hp->n_rot > hp->head_dim)
        return ks_err_set(err, KS_ERR_FORMAT, "model: %s.rope.dimension_count = %lld must be even and at most the "
                          "head size %lld", a, (long long)hp->n_rot, (long long)hp->head_dim);
    return KS_OK;
}

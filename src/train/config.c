/* config.c - the trainer's configuration (kestrel_train.h): one table of keys, read from a JSON
 * file and from `kestrel train --KEY VALUE` flags through the same setter, then checked whole,
 * with the memory the run needs computed before anything is allocated.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/input.h"
#include "base/mapfile.h"
#include "kestrel_train.h"
#include "train/train.h"

typedef enum key_type { K_INT, K_FLOAT, K_BOOL, K_STR, K_U64, K_THREADS } key_type;
typedef struct key_desc {
    const char *name;
    key_type type;
    size_t off;
    double lo, hi; /* numeric range */
    const char *help;
} key_desc;

#define O(f) offsetof(ks_train_config, f)
static const key_desc keys[] = {
    {"family", K_STR, O(family), 0, 0, "model family (llama)"},
    {"vocab", K_INT, O(vocab), 2, 1 << 30, "vocabulary size"},
    {"dim", K_INT, O(dim), 1, 1 << 20, "embedding width"},
    {"layers", K_INT, O(layers), 1, 4096, "blocks"},
    {"heads", K_INT, O(heads), 1, 4096, "attention heads"},
    {"kv_heads", K_INT, O(kv_heads), 0, 4096, "key/value heads (0 = heads)"},
    {"ff", K_INT, O(ff), 1, 1 << 24, "feed-forward width"},
    {"norm_eps", K_FLOAT, O(norm_eps), 0, 1, "RMSNorm epsilon"},
    {"rope_theta", K_FLOAT, O(rope_theta), 1, 1e9, "RoPE base"},
    {"tied", K_BOOL, O(tied), 0, 0, "tie the output head to the token embedding"},
    {"batch", K_INT, O(batch), 1, 1 << 20, "sequences per micro-batch"},
    {"seq_len", K_INT, O(seq_len), 1, 1 << 20, "tokens per sequence"},
    {"accum", K_INT, O(accum), 1, 1 << 20, "micro-batches per update (gradient accumulation)"},
    {"steps", K_INT, O(steps), 1, 1e12, "updates"},
    {"warmup", K_INT, O(warmup), 0, 1e12, "linear warmup updates"},
    {"lr", K_FLOAT, O(lr), 0, 10, "peak learning rate"},
    {"lr_min", K_FLOAT, O(lr_min), 0, 10, "final learning rate (cosine decay)"},
    {"beta1", K_FLOAT, O(beta1), 0, 0.999999, "AdamW beta1"},
    {"beta2", K_FLOAT, O(beta2), 0, 0.999999, "AdamW beta2"},
    {"eps", K_FLOAT, O(eps), 0, 1, "AdamW epsilon"},
    {"weight_decay", K_FLOAT, O(weight_decay), 0, 10, "decoupled weight decay (matrices only)"},
    {"clip", K_FLOAT, O(clip), 0, 1e9, "global gradient-norm clip (0 = none)"},
    {"init_std", K_FLOAT, O(init_std), 0, 10, "standard deviation of the random initial weights"},
    {"eval_every", K_INT, O(eval_every), 0, 1e12, "validate every N updates (0 = never)"},
    {"eval_batches", K_INT, O(eval_batches), 1, 1e9, "micro-batches per validation"},
    {"ckpt_every", K_INT, O(ckpt_every), 0, 1e12, "checkpoint every N updates (0 = at the end only)"},
    {"threads", K_THREADS, O(threads), 0, 512, "OpenMP threads (0 = all cores)"},
    {"seed", K_U64, O(seed), 0, 0, "random seed (initial weights)"},
    {"max_memory_mb", K_INT, O(max_memory_mb), 0, 1e12, "refuse shapes needing more (0 = memory available)"},
    {"train_data", K_STR, O(train_data), 0, 0, "training token shard"},
    {"val_data", K_STR, O(val_data), 0, 0, "validation token shard"},
    {"out_dir", K_STR, O(out_dir), 0, 0, "folder for checkpoint.bin and metrics.jsonl"},
    {"precision", K_STR, O(precision), 0, 0, "fp32"},
};
#define N_KEYS (sizeof keys / sizeof *keys)

void ks_train_config_default(ks_train_config *c) {
    *c = (ks_train_config){.vocab = 32000, .dim = 288, .layers = 6, .heads = 6, .kv_heads = 0, .ff = 768,
                           .norm_eps = 1e-5, .rope_theta = 10000.0, .tied = true, .batch = 8, .seq_len = 256,
                           .accum = 1, .steps = 1000, .warmup = 100, .lr = 1e-3, .lr_min = 1e-4, .beta1 = 0.9,
                           .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .clip = 1.0, .init_std = 0.02,
                           .eval_every = 100, .eval_batches = 8, .ckpt_every = 100, .seed = 1337};
}

void ks_train_config_free(ks_train_config *c) {
    if (!c) return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].type == K_STR) {
            char **s = (char **)(void *)((char *)c + keys[i].off);
            free(*s), *s = NULL;
        }
}

const char *ks_train_config_key(size_t i, const char **help) {
    if (i >= N_KEYS) return NULL;
    if (help) *help = keys[i].help;
    return keys[i].name;
}

ks_status ks_train_config_set(ks_train_config *c, const char *key, const char *value, ks_err *err) {
    const key_desc *k = NULL;
    for (size_t i = 0; i < N_KEYS && !k; i++)
        if (!strcmp(keys[i].name, key)) k = &keys[i];
    if (!k) return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: unknown key '%.64s'", key);
    void *f = (char *)c + k->off;
    char *end = NULL;
    errno = 0;
    if (k->type == K_STR) {
        char *s = strdup(value);
        if (!s) return ks_err_set(err, KS_ERR_NOMEM, "training config: out of memory");
        free(*(char **)f), *(char **)f = s;
        return KS_OK;
    }
    if (k->type == K_BOOL) {
        const bool t = !strcmp(value, "true") || !strcmp(value, "1"), fa = !strcmp(value, "false") || !strcmp(value, "0");
        if (!t && !fa) return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: %s must be true or false", key);
        *(bool *)f = t;
        return KS_OK;
    }
    if (k->type == K_U64) {
        const unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || errno || *value == '-')
            return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: %s: '%.32s' is not a number", key, value);
        *(uint64_t *)f = v;
        return KS_OK;
    }
    const double v = strtod(value, &end);
    if (!*value || *end || errno || !(v >= k->lo && v <= k->hi))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: %s: '%.32s' is not a number in [%g, %g]", key,
                          value, k->lo, k->hi);
    if (k->type != K_FLOAT && v != (double)(int64_t)v)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: %s: '%.32s' is not an integer", key, value);
    if (k->type == K_FLOAT) *(double *)f = v;
    else if (k->type == K_THREADS) *(int *)f = (int)v;
    else *(int64_t *)f = (int64_t)v;
    return KS_OK;
}

ks_status ks_train_config_load(ks_train_config *c, const char *path, ks_err *err) {
    uint8_t *text = NULL;
    size_t n = 0;
    ks_status s = ks_file_read_max(path, 1 << 20, &text, &n, err);
    if (s) return s;
    cJSON *doc = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return ks_err_set(err, KS_ERR_FORMAT, "%s: not a JSON object", path);
    }
    for (const cJSON *it = doc->child; it && !s; it = it->next) {
        char buf[64];
        const char *v = buf;
        if (cJSON_IsNumber(it)) snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
        else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsString(it)) v = it->valuestring;
        else s = ks_err_set(err, KS_ERR_FORMAT, "%s: key '%.64s' must be a number, boolean or string", path,
                            it->string);
        if (!s) s = ks_train_config_set(c, it->string, v, err);
    }
    cJSON_Delete(doc);
    return s;
}

void ks_train_config_hparams(const ks_train_config *c, ks_hparams *hp) {
    *hp = (ks_hparams){.n_vocab = c->vocab, .n_embd = c->dim, .n_layer = c->layers, .n_head = c->heads,
                       .n_head_kv = c->kv_heads ? c->kv_heads : c->heads, .n_ff = c->ff, .n_ctx_train = c->seq_len,
                       .norm_eps = (float)c->norm_eps, .rope_theta = (float)c->rope_theta};
    hp->head_dim = c->heads ? c->dim / c->heads : 0;
    hp->n_rot = hp->head_dim;
}

void ks_train_config_opt(const ks_train_config *c, ks_train_opt *o) {
    *o = (ks_train_opt){.lr_max = c->lr, .lr_min = c->lr_min, .warmup = c->warmup, .steps = c->steps,
                        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps, .weight_decay = c->weight_decay,
                        .clip = c->clip};
}

ks_status ks_train_config_check(const ks_train_config *c, uint64_t *bytes_needed, ks_err *err) {
    const ks_arch *a = NULL;
    ks_status s = ks_arch_lookup(c->family ? c->family : "llama", &a, err);
    if (s) return s;
    if (c->precision && strcmp(c->precision, "fp32"))
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "training config: precision '%.16s' (the trainer runs fp32)",
                          c->precision);
    if (c->heads < 1 || c->dim % c->heads)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: dim %lld is not a multiple of heads %lld",
                          (long long)c->dim, (long long)c->heads);
    if (c->warmup > c->steps)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: warmup %lld is longer than steps %lld",
                          (long long)c->warmup, (long long)c->steps);
    if (!c->train_data || !*c->train_data || !c->out_dir || !*c->out_dir)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "training config: train_data and out_dir are required");
    ks_hparams hp;
    ks_train_config_hparams(c, &hp);
    if ((s = ks_train_check(a, &hp, err))) return s;
    const size_t pb = ks_train_model_bytes(a, &hp, c->tied), af = ks_train_acts_floats(&hp, c->batch, c->seq_len);
    if (!pb || !af || af > SIZE_MAX / 4 - pb)
        return ks_err_set(err, KS_ERR_LIMIT, "training config: the shape's memory overflows");
    const uint64_t need = (uint64_t)pb + (uint64_t)af * 4;
    if (bytes_needed) *bytes_needed = need;
    const uint64_t avail = c->max_memory_mb ? (uint64_t)c->max_memory_mb << 20 : ks_mem_available();
    if (avail && need > avail)
        return ks_err_set(err, KS_ERR_LIMIT, "training needs %.1f MiB (parameters, gradients and AdamW moments %.1f "
                          "MiB, activations for %lld x %lld tokens %.1f MiB) but %s is %.1f MiB",
                          need / 1048576.0, pb / 1048576.0, (long long)c->batch, (long long)c->seq_len,
                          af * 4 / 1048576.0, c->max_memory_mb ? "max_memory_mb" : "the memory available",
                          avail / 1048576.0);
    return KS_OK;
}

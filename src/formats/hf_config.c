/* hf_config.c - config.json of a Hugging Face model folder: the architecture
 * table, hyperparameters (with the alternative key names convert_hf_to_gguf.py
 * accepts), RoPE scaling, and their GGUF keys. Also the JSON file helpers the
 * converter shares.
 *
 * Every value that sizes a tensor is checked here (positive, below HF_MAX_DIM,
 * heads dividing evenly, even head size), so the converter can compare tensor
 * shapes against them without further care.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mapfile.h"
#include "formats/hf_impl.h"
#include "model/arch.h"
#include "tensor/dtype.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* the HF class names (config.json "architectures") are the registry's (model/arch.h) */
static const hf_family families[] = {
    {.model_type = "llama", .gguf_arch = "llama", .llama_keys = true},
    {.model_type = "qwen2", .gguf_arch = "qwen2"},
    {.model_type = "gpt2", .gguf_arch = "gpt2", .ln_keys = true},
    {.model_type = "falcon", .gguf_arch = "falcon", .ln_keys = true},
    {.model_type = "gemma3_text", .gguf_arch = "gemma3", .gemma3_keys = true},
};

/* ---- files and JSON ---- */

char *hf_path(const char *dir, const char *name) {
    const size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

bool hf_file_exists(const char *dir, const char *name) {
    char *p = hf_path(dir, name);
    struct stat st;
    const bool ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

bool ks_hf_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ks_status hf_read_text(const char *dir, const char *name, char **out, size_t *len, ks_err *err) {
    *out = NULL;
    if (!hf_file_exists(dir, name)) {
        char *p = hf_path(dir, name);
        struct stat sb;
        const bool there = p && stat(p, &sb) == 0;
        free(p);
        if (there) /* a FIFO, device or folder by that name: say so rather than "no such file" */
            return ks_err_set(err, KS_ERR_FORMAT, "%s: %s is not a regular file", dir, name);
        return ks_err_set(err, KS_ERR_NOT_FOUND, "%s: no %s", dir, name);
    }
    char *path = hf_path(dir, name);
    if (!path) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    ks_mapfile mf;
    ks_status st = ks_mapfile_open(&mf, path, err);
    free(path);
    if (st) return st;
    if (mf.size > HF_MAX_JSON_BYTES) {
        ks_mapfile_close(&mf);
        return ks_err_set(err, KS_ERR_LIMIT, "%s: %s is larger than %zu bytes", dir, name, HF_MAX_JSON_BYTES);
    }
    char *buf = malloc(mf.size + 1);
    if (!buf) {
        ks_mapfile_close(&mf);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (mf.size) memcpy(buf, mf.data, mf.size);
    buf[mf.size] = '\0';
    if (len) *len = mf.size;
    ks_mapfile_close(&mf);
    *out = buf;
    return KS_OK;
}

ks_status hf_json_load(const char *dir, const char *name, bool required, cJSON **out, ks_err *err) {
    *out = NULL;
    if (!required && !hf_file_exists(dir, name)) return KS_OK;
    char *text;
    size_t len;
    ks_status st = hf_read_text(dir, name, &text, &len, err);
    if (st) return st;
    if (memchr(text, 0, len)) {
        free(text);
        return ks_err_set(err, KS_ERR_FORMAT, "%s: contains a NUL byte: not JSON", name);
    }
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 1);
    const size_t at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!*out) return ks_err_set(err, KS_ERR_FORMAT, "%s: not valid JSON (at byte %zu of %zu)", name, at, len);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return ks_err_set(err, KS_ERR_FORMAT, "%s: not a JSON object", name);
    }
    return KS_OK;
}

bool hf_json_int(const cJSON *obj, const char *key, int64_t *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(j)) return false;
    const double v = j->valuedouble;
    if (!(fabs(v) < 9007199254740992.0) || floor(v) != v) return false;
    *out = (int64_t)v;
    return true;
}

const char *hf_json_str(const cJSON *obj, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* ---- config.json ---- */

/* The first of keys present with a non-null value (as find_hparam); NULL if none. */
static const cJSON *find_any(const cJSON *obj, const char *const *keys, const char **which) {
    for (; *keys; keys++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, *keys);
        if (j && !cJSON_IsNull(j)) {
            if (which) *which = *keys;
            return j;
        }
    }
    return NULL;
}

/* Integer hyperparameter from the first present key of keys, in [lo, hi].
 * Absent: KS_ERR_NOT_FOUND if required, else *found = false. */
static ks_status get_int(const cJSON *obj, const char *const *keys, int64_t lo, int64_t hi, bool required,
                         int64_t *out, bool *found, ks_err *err) {
    const char *key = keys[0];
    const cJSON *j = find_any(obj, keys, &key);
    if (found) *found = j != NULL;
    if (!j) return required ? ks_err_set(err, KS_ERR_NOT_FOUND, "config.json: missing '%s'", keys[0]) : KS_OK;
    const double v = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(v >= (double)lo && v <= (double)hi) || floor(v) != v)
        return ks_err_set(err, KS_ERR_FORMAT, "config.json: '%s' must be an integer in [%lld, %lld]", key,
                          (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return KS_OK;
}

/* Positive finite number from the first present key of keys (absent: *found = false). */
static ks_status get_num(const cJSON *obj, const char *const *keys, double *out, bool *found, ks_err *err) {
    const char *key = keys[0];
    const cJSON *j = find_any(obj, keys, &key);
    *found = j != NULL;
    if (!j) return KS_OK;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || j->valuedouble <= 0)
        return ks_err_set(err, KS_ERR_FORMAT, "config.json: '%s' must be a positive number", key);
    *out = j->valuedouble;
    return KS_OK;
}

static ks_status find_family(const cJSON *cfg, hf_config *c, ks_err *err) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const char *name = cJSON_IsArray(archs) && cJSON_IsString(archs->child) ? archs->child->valuestring : NULL;
    const char *mt = hf_json_str(cfg, "model_type");
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const ks_arch *arch = ks_arch_find(families[i].gguf_arch);
        if (!arch || !arch->hf_archs) continue;
        bool hit = !name && mt && !strcmp(mt, families[i].model_type);
        hit |= name && ks_arch_find_hf(name) == arch;
        if (hit) {
            c->fam = &families[i];
            c->arch = arch;
            snprintf(c->hf_arch, sizeof c->hf_arch, "%s", name ? name : arch->hf_archs[0]);
            return KS_OK;
        }
    }
    if (!name && !mt) return ks_err_set(err, KS_ERR_NOT_FOUND, "config.json: no 'architectures' and no 'model_type'");
    return ks_err_set(err, KS_ERR_UNSUPPORTED,
                      "config.json: architecture '%.64s' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                      "GPT2LMHeadModel, FalconForCausalLM, Gemma3ForCausalLM)",
                      name ? name : mt);
}

/* the keys of GPT-2, Falcon and Gemma 3 beyond the common ones */
static ks_status load_family_keys(const cJSON *j, hf_config *c, ks_err *err) {
    ks_status st;
    bool f;
    if ((st = get_num(j, LIST("layer_norm_epsilon"), &c->ln_eps, &c->has_ln_eps, err)) ||
        (st = get_num(j, LIST("final_logit_softcapping"), &c->softcap, &c->has_softcap, err)))
        return st;
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "sliding_window")) &&
        (st = get_int(j, LIST("sliding_window"), 1, UINT32_MAX, false, &c->n_swa, &f, err)))
        return st;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    const cJSON *sl = cJSON_IsObject(rp) ? cJSON_GetObjectItemCaseSensitive(rp, "sliding_attention") : NULL;
    if (cJSON_IsObject(sl) && (st = get_num(sl, LIST("rope_theta"), &c->rope_theta_swa, &c->has_rope_theta_swa, err)))
        return st;
    if (!cJSON_IsObject(sl) && (st = get_num(j, LIST("rope_local_base_freq"), &c->rope_theta_swa,
                                             &c->has_rope_theta_swa, err)))
        return st;
    /* Falcon-7B-style multi-query: one KV head whatever num_kv_heads says (as transformers' FalconAttention) */
    if (!strcmp(c->fam->gguf_arch, "falcon") && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "multi_query")) &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "new_decoder_architecture")))
        c->n_head_kv = 1, c->has_n_head_kv = true;
    return KS_OK;
}

/* rope_parameters / rope_scaling: theta, and the scaling convert_hf_to_gguf writes */
static ks_status load_rope(const cJSON *cfg, hf_config *c, ks_err *err) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
    if (!cJSON_IsObject(rp)) rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (!cJSON_IsObject(rp)) rp = NULL;
    const cJSON *full = rp ? cJSON_GetObjectItemCaseSensitive(rp, "full_attention") : NULL;
    if (cJSON_IsObject(full)) rp = full;
    ks_status st;
    bool f;
    if (rp && (st = get_num(rp, LIST("rope_theta"), &c->rope_theta, &c->has_rope_theta, err))) return st;
    if (!c->has_rope_theta &&
        (st = get_num(cfg, LIST("global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"),
                      &c->rope_theta, &c->has_rope_theta, err)))
        return st;
    if (!rp) return KS_OK;
    const char *type = hf_json_str(rp, "rope_type");
    if (!type) type = hf_json_str(rp, "type");
    if (!type) return KS_OK;
    snprintf(c->rope_type, sizeof c->rope_type, "%s", type);
    if ((st = get_num(rp, LIST("factor"), &c->rope_factor, &c->has_rope_factor, err)) ||
        (st = get_int(rp, LIST("original_max_position_embeddings"), 1, UINT32_MAX, false, &c->rope_orig_ctx,
                      &c->has_rope_orig_ctx, err)) ||
        (st = get_num(rp, LIST("extrapolation_factor"), &c->rope_ext_factor, &c->has_rope_ext_factor, err)) ||
        (st = get_num(rp, LIST("attention_factor", "attn_factor"), &c->rope_attn_factor, &c->has_rope_attn_factor, err)) ||
        (st = get_num(rp, LIST("beta_fast"), &c->rope_beta_fast, &c->has_rope_beta_fast, err)) ||
        (st = get_num(rp, LIST("beta_slow"), &c->rope_beta_slow, &c->has_rope_beta_slow, err)))
        return st;
    c->rope_low_freq = 1.0, c->rope_high_freq = 4.0;
    if ((st = get_num(rp, LIST("low_freq_factor"), &c->rope_low_freq, &f, err)) ||
        (st = get_num(rp, LIST("high_freq_factor"), &c->rope_high_freq, &f, err)))
        return st;
    if (!strcmp(type, "yarn") && c->has_rope_factor && !c->has_rope_orig_ctx)
        return ks_err_set(err, KS_ERR_NOT_FOUND, "config.json: yarn rope scaling without 'original_max_position_embeddings'");
    return KS_OK;
}

ks_status hf_config_load(const char *dir, hf_config *c, ks_err *err) {
    memset(c, 0, sizeof *c);
    ks_status st = hf_json_load(dir, "config.json", true, &c->json, err);
    if (st) return st;
    const cJSON *j = c->json;
    bool f, has_ff = false;
    if ((st = find_family(j, c, err)) ||
        (st = get_int(j, LIST("hidden_size", "n_embd", "dim"), 1, HF_MAX_DIM, true, &c->n_embd, &f, err)) ||
        (st = get_int(j, LIST("n_layers", "num_hidden_layers", "n_layer", "num_layers"), 1, 4096, true, &c->n_layer, &f, err)) ||
        (st = get_int(j, LIST("num_attention_heads", "n_head", "n_heads"), 1, 65536, true, &c->n_head, &f, err)) ||
        (st = get_int(j, LIST("num_key_value_heads", "n_kv_heads", "num_kv_heads"), 1, 65536, false, &c->n_head_kv,
                      &c->has_n_head_kv, err)) ||
        (st = get_int(j, LIST("intermediate_size", "n_inner", "hidden_dim", "ffn_hidden_size"), 1, HF_MAX_DIM,
                      !c->fam->ln_keys, &c->n_ff, &has_ff, err)) ||
        (st = get_int(j, LIST("vocab_size"), 1, HF_MAX_DIM, true, &c->n_vocab, &f, err)) ||
        (st = get_int(j, LIST("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"),
                      1, UINT32_MAX, false, &c->n_ctx, &c->has_n_ctx, err)) ||
        (st = get_int(j, LIST("head_dim"), 1, 65536, false, &c->head_dim, &c->has_head_dim, err)) ||
        (st = get_num(j, LIST("rms_norm_eps", "norm_eps"), &c->rms_eps, &c->has_rms_eps, err)) ||
        (st = load_rope(j, c, err)))
        return st;
    if (!has_ff) c->n_ff = 4 * c->n_embd; /* GPT-2's n_inner null, Falcon's ffn_hidden_size absent */
    if ((st = load_family_keys(j, c, err))) return st;
    if (!c->has_n_head_kv) c->n_head_kv = c->n_head;
    if (!c->has_head_dim) c->head_dim = c->n_embd / c->n_head;
    if (c->n_head % c->n_head_kv || c->head_dim % 2 || c->head_dim < 2 || c->n_head * c->head_dim > HF_MAX_DIM)
        return ks_err_set(err, KS_ERR_FORMAT,
                          "config.json: inconsistent attention sizes (hidden_size %lld, %lld heads, %lld kv heads, head_dim %lld)",
                          (long long)c->n_embd, (long long)c->n_head, (long long)c->n_head_kv, (long long)c->head_dim);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie) && !cJSON_IsNull(tie))
        return ks_err_set(err, KS_ERR_FORMAT, "config.json: 'tie_word_embeddings' must be true or false");
    c->tie_embd = cJSON_IsTrue(tie);
    return KS_OK;
}

void hf_config_free(hf_config *c) {
    if (!c) return;
    cJSON_Delete(c->json);
    c->json = NULL;
}

/* ---- GGUF keys ---- */

static ks_status key_u32(gguf_writer *w, const hf_config *c, const char *suffix, int64_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c->fam->gguf_arch, suffix);
    return gguf_writer_set_u32(w, key, (uint32_t)v);
}

static ks_status key_f32(gguf_writer *w, const hf_config *c, const char *suffix, double v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c->fam->gguf_arch, suffix);
    return gguf_writer_set_f32(w, key, (float)v);
}

static ks_status key_str(gguf_writer *w, const hf_config *c, const char *suffix, const char *v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c->fam->gguf_arch, suffix);
    return gguf_writer_set_str(w, key, v);
}

/* rope scaling keys, as TextModel.set_gguf_parameters (llama3 is a tensor instead) */
static ks_status write_rope_scaling(const hf_config *c, gguf_writer *w) {
    const char *t = c->rope_type;
    ks_status st = KS_OK;
    if (!strcmp(t, "linear") && c->has_rope_factor) {
        if (!(st = key_str(w, c, "rope.scaling.type", "linear"))) st = key_f32(w, c, "rope.scaling.factor", c->rope_factor);
    } else if (!strcmp(t, "yarn") && c->has_rope_factor) {
        if (!st) st = key_str(w, c, "rope.scaling.type", "yarn");
        if (!st) st = key_f32(w, c, "rope.scaling.factor", c->rope_factor);
        if (!st) st = key_u32(w, c, "rope.scaling.original_context_length", c->rope_orig_ctx);
        if (!st && c->has_rope_ext_factor) st = key_f32(w, c, "rope.scaling.yarn_ext_factor", c->rope_ext_factor);
        if (!st && c->has_rope_attn_factor) st = key_f32(w, c, "rope.scaling.yarn_attn_factor", c->rope_attn_factor);
        if (!st && c->has_rope_beta_fast) st = key_f32(w, c, "rope.scaling.yarn_beta_fast", c->rope_beta_fast);
        if (!st && c->has_rope_beta_slow) st = key_f32(w, c, "rope.scaling.yarn_beta_slow", c->rope_beta_slow);
    } else if (!strcmp(t, "su") || !strcmp(t, "longrope")) {
        st = key_str(w, c, "rope.scaling.type", "longrope");
    }
    return st;
}

ks_status hf_config_write_gguf(const hf_config *c, gguf_writer *w, uint32_t file_type, ks_err *err) {
    ks_status st = key_u32(w, c, "block_count", c->n_layer);
    if (!st && c->has_n_ctx) st = key_u32(w, c, "context_length", c->n_ctx);
    if (!st) st = key_u32(w, c, "embedding_length", c->n_embd);
    if (!st) st = key_u32(w, c, "feed_forward_length", c->n_ff);
    if (!st) st = key_u32(w, c, "attention.head_count", c->n_head);
    if (!st && c->has_n_head_kv) st = key_u32(w, c, "attention.head_count_kv", c->n_head_kv);
    if (!st) st = write_rope_scaling(c, w);
    if (!st && c->has_rope_theta) st = key_f32(w, c, "rope.freq_base", c->rope_theta);
    if (!st && c->has_rms_eps) st = key_f32(w, c, "attention.layer_norm_rms_epsilon", c->rms_eps);
    if (!st && c->has_head_dim) st = key_u32(w, c, "attention.key_length", c->head_dim);
    if (!st && c->has_head_dim) st = key_u32(w, c, "attention.value_length", c->head_dim);
    if (!st) st = gguf_writer_set_u32(w, "general.file_type", file_type);
    if (!st && c->fam->llama_keys) st = key_u32(w, c, "vocab_size", c->n_vocab);
    if (!st && c->fam->llama_keys) st = key_u32(w, c, "rope.dimension_count", c->head_dim);
    /* Mistral's window, when it is shorter than the context: llama.cpp's converter drops it (and llama.cpp then
     * attends past it); Kestrel keeps it, so this one key is the only byte that differs from llama.cpp's file */
    if (!st && c->fam->llama_keys && c->n_swa > 0 && (!c->has_n_ctx || c->n_swa < c->n_ctx))
        st = key_u32(w, c, "attention.sliding_window", c->n_swa);
    if (!st && c->fam->ln_keys && c->has_ln_eps) st = key_f32(w, c, "attention.layer_norm_epsilon", c->ln_eps);
    if (!st && c->fam->gemma3_keys && c->n_swa > 0) st = key_u32(w, c, "attention.sliding_window", c->n_swa);
    if (!st && c->fam->gemma3_keys && c->has_rope_theta_swa) st = key_f32(w, c, "rope.freq_base_swa", c->rope_theta_swa);
    if (!st && c->fam->gemma3_keys && c->has_softcap) st = key_f32(w, c, "final_logit_softcapping", c->softcap);
    return st ? ks_err_set(err, st, "out of memory") : KS_OK;
}

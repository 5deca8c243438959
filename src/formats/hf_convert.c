/* hf_convert.c - a Hugging Face folder to GGUF (formats/hf.h): finds the
 * safetensors shards, maps every tensor to its GGUF name, checks its shape
 * against config.json, and writes metadata, vocabulary and tensors.
 *
 * Tensor rules, as llama.cpp's convert_hf_to_gguf.py (LlamaModel, TextModel):
 *  - names: model.embed_tokens -> token_embd, model.norm -> output_norm,
 *    lm_head -> output, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
 *    post_attention_layernorm, mlp.{gate,up,down}_proj} -> blk.N.{attn_norm,
 *    attn_{q,k,v,output}, ffn_norm, ffn_{gate,up,down}}; .weight / .bias kept;
 *    rotary_emb.inv_freq buffers dropped;
 *  - LLaMA q/k weights and biases: HF stores each head's rows as two halves
 *    (rotate_half), GGUF as interleaved pairs: GGUF row h*hd + 2i + j comes from
 *    HF row h*hd + j*hd/2 + i (LlamaModel.permute; k uses the KV head count);
 *  - shapes reversed (GGUF is innermost first); order: shards by file name,
 *    tensors by name within a shard (as the Python reader sorts them);
 *  - lm_head is dropped when tie_word_embeddings is true (HF ties it to the
 *    embedding then; llama.cpp would copy it if a file had one);
 *  - Llama 3 RoPE scaling becomes a rope_freqs.weight tensor.
 *
 * Memory: the shards are mapped; each output tensor is a job whose bytes the
 * GGUF writer asks for chunk by chunk (gguf_writer_add_tensor_fill), converted
 * through two scratch rows owned by the converter. Nothing is the size of the
 * model except the mappings.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/checked.h"
#include "base/outfile.h"
#include "formats/hf_impl.h"
#include "formats/safetensors.h"
#include "tensor/dtype.h"

typedef enum tkind { T_EMBD, T_OUT_NORM, T_OUTPUT, T_ATTN_NORM, T_Q, T_K, T_V, T_O, T_FFN_NORM, T_GATE, T_UP, T_DOWN, T_COUNT } tkind;

static const struct {
    const char *hf, *gguf;
    bool layer, required;
} tnames[T_COUNT] = {
    [T_EMBD] = {"model.embed_tokens", "token_embd", false, true},
    [T_OUT_NORM] = {"model.norm", "output_norm", false, true},
    [T_OUTPUT] = {"lm_head", "output", false, false},
    [T_ATTN_NORM] = {"input_layernorm", "attn_norm", true, true},
    [T_Q] = {"self_attn.q_proj", "attn_q", true, true},
    [T_K] = {"self_attn.k_proj", "attn_k", true, true},
    [T_V] = {"self_attn.v_proj", "attn_v", true, true},
    [T_O] = {"self_attn.o_proj", "attn_output", true, true},
    [T_FFN_NORM] = {"post_attention_layernorm", "ffn_norm", true, true},
    [T_GATE] = {"mlp.gate_proj", "ffn_gate", true, true},
    [T_UP] = {"mlp.up_proj", "ffn_up", true, true},
    [T_DOWN] = {"mlp.down_proj", "ffn_down", true, true},
};

typedef struct conv conv;

/* one output tensor: source (or generated data), GGUF name, type, shape */
typedef struct hf_job {
    const st_tensor *src; /* borrowed from a shard; NULL for generated tensors */
    const float *gen;     /* generated F32 data (owned by conv), or NULL */
    char name[80];
    uint32_t type, n_dims;
    int64_t ne[2];      /* GGUF order */
    int64_t perm_heads; /* > 0: q/k row permutation over this many heads */
    conv *cv;
} hf_job;

struct conv {
    const char *dir;
    hf_config cfg;
    st_ctx **shards;
    char **shard_names;
    size_t n_shards;
    hf_job *jobs;
    size_t n_jobs;
    float *frow;    /* scratch: one row as floats */
    uint8_t *srow;  /* scratch: one source row's bytes (aligned copy) */
    float *rope_freqs;
    uint64_t bytes_in;
};

/* ---- shards ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool ends_with(const char *s, const char *suf) {
    const size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* adds name to the shard list unless present; the name must be a plain file name */
static ks_status add_shard_name(conv *cv, const char *name, size_t *cap, ks_err *err) {
    if (!*name || strchr(name, '/') || name[0] == '.')
        return ks_err_set(err, KS_ERR_FORMAT, "model.safetensors.index.json: shard name '%.100s' is not a file name in the folder", name);
    for (size_t i = 0; i < cv->n_shards; i++)
        if (!strcmp(cv->shard_names[i], name)) return KS_OK;
    if (!KS_RESERVE(cv->shard_names, *cap, cv->n_shards, 1)) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    if (!(cv->shard_names[cv->n_shards] = strdup(name))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    cv->n_shards++;
    return KS_OK;
}

/* the shard file names: from the index's weight_map, else model*.safetensors */
static ks_status list_shards(conv *cv, cJSON **index, ks_err *err) {
    size_t cap = 0;
    ks_status st = hf_json_load(cv->dir, "model.safetensors.index.json", false, index, err);
    if (st) return st;
    if (*index) {
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(*index, "weight_map");
        if (!cJSON_IsObject(map) || !map->child)
            return ks_err_set(err, KS_ERR_FORMAT, "model.safetensors.index.json: no \"weight_map\" object");
        for (const cJSON *c = map->child; c; c = c->next) {
            if (!cJSON_IsString(c))
                return ks_err_set(err, KS_ERR_FORMAT, "model.safetensors.index.json: weight_map value of '%.100s' is not a string", c->string);
            if ((st = add_shard_name(cv, c->valuestring, &cap, err))) return st;
        }
    } else {
        DIR *d = opendir(cv->dir);
        if (!d) return ks_err_set(err, KS_ERR_IO, "%s: cannot list the folder", cv->dir);
        for (struct dirent *e; (e = readdir(d)) && !st;)
            if (!strncmp(e->d_name, "model", 5) && ends_with(e->d_name, ".safetensors"))
                st = add_shard_name(cv, e->d_name, &cap, err);
        closedir(d);
        if (st) return st;
    }
    if (!cv->n_shards) {
        if (hf_file_exists(cv->dir, "pytorch_model.bin") || hf_file_exists(cv->dir, "pytorch_model.bin.index.json"))
            return ks_err_set(err, KS_ERR_UNSUPPORTED, "%s: PyTorch .bin weights are not supported (safetensors only)", cv->dir);
        return ks_err_set(err, KS_ERR_NOT_FOUND, "%s: no model*.safetensors", cv->dir);
    }
    qsort(cv->shard_names, cv->n_shards, sizeof *cv->shard_names, cmp_str);
    return KS_OK;
}

static ks_status open_shards(conv *cv, const cJSON *index, ks_err *err) {
    cv->shards = calloc(cv->n_shards, sizeof *cv->shards);
    if (!cv->shards) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    size_t total = 0;
    for (size_t i = 0; i < cv->n_shards; i++) {
        char *path = hf_path(cv->dir, cv->shard_names[i]);
        if (!path) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
        ks_status st = st_open_file(path, &cv->shards[i], err);
        free(path);
        if (st) return st;
        total += cv->shards[i]->n_tensors;
        cv->bytes_in += cv->shards[i]->size;
        for (size_t k = 0; k < i; k++) /* a name in two shards */
            for (size_t t = 0; t < cv->shards[i]->n_tensors; t++)
                if (st_find(cv->shards[k], cv->shards[i]->tensors[t].name))
                    return ks_err_set(err, KS_ERR_FORMAT, "tensor '%.100s' is in both %s and %s", cv->shards[i]->tensors[t].name,
                                      cv->shard_names[k], cv->shard_names[i]);
    }
    if (!index) return KS_OK;
    size_t n_index = 0; /* the index and the shards must name the same tensors */
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(index, "weight_map")->child; c; c = c->next, n_index++) {
        bool found = false;
        for (size_t i = 0; i < cv->n_shards && !found; i++)
            found = !strcmp(cv->shard_names[i], c->valuestring) && st_find(cv->shards[i], c->string);
        if (!found)
            return ks_err_set(err, KS_ERR_FORMAT, "model.safetensors.index.json: tensor '%.100s' is not in %s", c->string,
                              c->valuestring);
    }
    if (n_index != total)
        return ks_err_set(err, KS_ERR_FORMAT, "model.safetensors.index.json lists %zu tensors but the shards hold %zu", n_index, total);
    return KS_OK;
}

/* ---- tensor plan ---- */

/* kind and layer of an HF tensor name; 1 mapped, 0 dropped (buffers), -1 unknown */
static int map_name(const char *hf, tkind *kind, int64_t *layer, bool *bias) {
    if (ends_with(hf, ".rotary_emb.inv_freq") || ends_with(hf, ".attention.masked_bias") || ends_with(hf, ".attention.bias"))
        return 0;
    *bias = ends_with(hf, ".bias");
    if (!*bias && !ends_with(hf, ".weight")) return -1;
    const size_t base_len = strlen(hf) - (*bias ? 5 : 7);
    const char *p = hf;
    *layer = -1;
    if (!strncmp(hf, "model.layers.", 13)) {
        p = hf + 13;
        int64_t l = 0;
        int nd = 0;
        for (; *p >= '0' && *p <= '9' && nd < 9; p++, nd++) l = l * 10 + (*p - '0');
        if (!nd || *p != '.' || (nd > 1 && hf[13] == '0')) return -1;
        *layer = l;
        p++;
    }
    const size_t rest = base_len - (size_t)(p - hf);
    for (int k = 0; k < T_COUNT; k++)
        if (tnames[k].layer == (*layer >= 0) && strlen(tnames[k].hf) == rest && !strncmp(tnames[k].hf, p, rest)) {
            *kind = (tkind)k;
            return 1;
        }
    return -1;
}

/* expected HF shape [rows, cols] of a weight of kind k (cols 0: a vector) */
static void expected_shape(const hf_config *c, tkind k, int64_t *rows, int64_t *cols) {
    const int64_t q = c->n_head * c->head_dim, kv = c->n_head_kv * c->head_dim;
    switch (k) {
    case T_EMBD: case T_OUTPUT: *rows = c->n_vocab, *cols = c->n_embd; return;
    case T_OUT_NORM: case T_ATTN_NORM: case T_FFN_NORM: *rows = c->n_embd, *cols = 0; return;
    case T_Q: *rows = q, *cols = c->n_embd; return;
    case T_K: case T_V: *rows = kv, *cols = c->n_embd; return;
    case T_O: *rows = c->n_embd, *cols = q; return;
    case T_GATE: case T_UP: *rows = c->n_ff, *cols = c->n_embd; return;
    default: *rows = c->n_embd, *cols = c->n_ff; return; /* T_DOWN */
    }
}

static ks_status check_shape(const conv *cv, const st_tensor *t, tkind k, bool bias, ks_err *err) {
    int64_t rows, cols;
    expected_shape(&cv->cfg, k, &rows, &cols);
    if (bias) cols = 0;
    const uint32_t nd = cols ? 2 : 1;
    if (t->n_dims != nd || t->shape[0] != rows || (nd == 2 && t->shape[1] != cols)) {
        char got[96] = "[", *g = got + 1;
        for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
            g += snprintf(g, 20, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        snprintf(g, 8, "%s]", t->n_dims > 4 ? ", ..." : "");
        if (nd == 2)
            return ks_err_set(err, KS_ERR_FORMAT, "tensor '%.100s' has shape %s, config.json implies [%lld, %lld]", t->name, got,
                              (long long)rows, (long long)cols);
        return ks_err_set(err, KS_ERR_FORMAT, "tensor '%.100s' has shape %s, config.json implies [%lld]", t->name, got,
                          (long long)rows);
    }
    if (st_dtype_ggml(t->dtype) < 0)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "tensor '%.100s' has dtype %s (Kestrel converts F32, F16 and BF16)", t->name,
                          st_dtype_name(t->dtype));
    return KS_OK;
}

static ks_status add_job(conv *cv, size_t *cap, hf_job j, ks_err *err) {
    if (!KS_RESERVE(cv->jobs, *cap, cv->n_jobs, 1)) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    j.cv = cv;
    cv->jobs[cv->n_jobs++] = j;
    return KS_OK;
}

/* Llama 3 RoPE scaling as a rope_freqs tensor (LlamaModel.generate_extra_tensors) */
static ks_status rope_freqs_job(conv *cv, size_t *cap, ks_err *err) {
    const hf_config *c = &cv->cfg;
    if (strcasecmp(c->rope_type, "llama3")) return KS_OK;
    const int64_t dim = c->head_dim, n = dim / 2;
    if (!(cv->rope_freqs = malloc((size_t)n * sizeof(float)))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    const double base = c->has_rope_theta ? c->rope_theta : 10000.0, factor = c->has_rope_factor ? c->rope_factor : 8.0;
    const double lo = c->rope_low_freq, hi = c->rope_high_freq;
    const double old_ctx = c->has_rope_orig_ctx ? (double)c->rope_orig_ctx : 8192.0;
    for (int64_t i = 0; i < n; i++) {
        const float freq = 1.0f / powf((float)base, (float)(2 * i) / (float)dim);
        const float wavelen = (float)(2 * 3.14159265358979323846) / freq;
        float r;
        if (wavelen < old_ctx / hi) r = 1.0f;
        else if (wavelen > old_ctx / lo) r = (float)factor;
        else {
            const float smooth = ((float)old_ctx / wavelen - (float)lo) / (float)(hi - lo);
            r = 1.0f / ((1.0f - smooth) / (float)factor + smooth);
        }
        cv->rope_freqs[i] = r;
    }
    hf_job j = {.gen = cv->rope_freqs, .type = KS_DTYPE_F32, .n_dims = 1, .ne = {n, 1}};
    snprintf(j.name, sizeof j.name, "rope_freqs.weight");
    return add_job(cv, cap, j, err);
}

static uint32_t job_type(const hf_job *j, int out_type) {
    if (j->n_dims == 1 || ends_with(j->name, "_norm.weight") || !ends_with(j->name, ".weight")) return KS_DTYPE_F32;
    if (out_type == KS_DTYPE_Q8_0 && j->ne[0] % QK8_0) return KS_DTYPE_F16; /* as the Python QuantError fallback */
    return (uint32_t)out_type;
}

/* one job per source tensor, in shard then name order; checks names, shapes, completeness */
static ks_status plan(conv *cv, ks_err *err) {
    const hf_config *c = &cv->cfg;
    size_t cap = 0;
    ks_status st = rope_freqs_job(cv, &cap, err);
    uint8_t *seen = calloc((size_t)(c->n_layer + 1) * T_COUNT, 1);
    if (!seen) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < cv->n_shards && !st; s++) {
        for (size_t i = 0; i < cv->shards[s]->n_tensors && !st; i++) {
            const st_tensor *t = &cv->shards[s]->tensors[i];
            tkind k;
            int64_t il;
            bool bias;
            const int m = map_name(t->name, &k, &il, &bias);
            if (m < 0) {
                st = ks_err_set(err, KS_ERR_UNSUPPORTED, "%s: cannot map tensor '%.100s' to a %s tensor", cv->shard_names[s],
                                t->name, c->fam->gguf_arch);
                break;
            }
            if (!m || (k == T_OUTPUT && c->tie_embd)) continue;
            if (il >= c->n_layer) {
                st = ks_err_set(err, KS_ERR_FORMAT, "tensor '%.100s': layer %lld but config.json has %lld layers", t->name,
                                (long long)il, (long long)c->n_layer);
                break;
            }
            if ((st = check_shape(cv, t, k, bias, err))) break;
            if (!bias) seen[(size_t)(il + 1) * T_COUNT + k] = 1;
            hf_job j = {.src = t, .n_dims = t->n_dims};
            if (tnames[k].layer) snprintf(j.name, sizeof j.name, "blk.%lld.%s.%s", (long long)il, tnames[k].gguf, bias ? "bias" : "weight");
            else snprintf(j.name, sizeof j.name, "%s.%s", tnames[k].gguf, bias ? "bias" : "weight");
            j.ne[0] = t->n_dims == 2 ? t->shape[1] : t->shape[0];
            j.ne[1] = t->n_dims == 2 ? t->shape[0] : 1;
            if (c->fam->permute_qk && (k == T_Q || k == T_K)) j.perm_heads = k == T_Q ? c->n_head : c->n_head_kv;
            st = add_job(cv, &cap, j, err);
        }
    }
    for (int64_t il = -1; il < c->n_layer && !st; il++)
        for (int k = 0; k < T_COUNT && !st; k++)
            if (tnames[k].required && tnames[k].layer == (il >= 0) && !seen[(size_t)(il + 1) * T_COUNT + k]) {
                if (il >= 0) st = ks_err_set(err, KS_ERR_NOT_FOUND, "missing tensor 'model.layers.%lld.%s.weight'", (long long)il, tnames[k].hf);
                else st = ks_err_set(err, KS_ERR_NOT_FOUND, "missing tensor '%s.weight'", tnames[k].hf);
            }
    free(seen);
    return st;
}

/* "auto": BF16 or F16 after the first 2-D source tensor, else F16 (as the Python heuristic) */
static int auto_type(const conv *cv) {
    for (size_t s = 0; s < cv->n_shards; s++)
        for (size_t i = 0; i < cv->shards[s]->n_tensors; i++) {
            const st_tensor *t = &cv->shards[s]->tensors[i];
            if (t->n_dims < 2) continue;
            if (t->dtype == ST_DTYPE_BF16) return KS_DTYPE_BF16;
            if (t->dtype == ST_DTYPE_F16) return KS_DTYPE_F16;
        }
    return KS_DTYPE_F16;
}

/* ---- conversion (called by the writer) ---- */

static float elem_to_float(st_dtype t, const uint8_t *p) {
    uint16_t h;
    float f;
    switch (t) {
    case ST_DTYPE_F16: memcpy(&h, p, 2); return ks_fp16_to_fp32(h);
    case ST_DTYPE_BF16: memcpy(&h, p, 2); return ks_bf16_to_fp32(h);
    default: memcpy(&f, p, 4); return f; /* F32 (the plan admits no other) */
    }
}

/* HF row of GGUF row r under the q/k permutation (n_heads heads of rows/n_heads rows) */
static int64_t src_row(int64_t r, int64_t rows, int64_t n_heads) {
    if (n_heads <= 0) return r;
    const int64_t hd = rows / n_heads, half = hd / 2, h = r / hd, rem = r % hd;
    return h * hd + (rem % 2) * half + rem / 2;
}

static ks_status job_fill(void *user, int64_t row0, int64_t n_rows, void *dst, ks_err *err) {
    const hf_job *j = user;
    conv *cv = j->cv;
    const int64_t ne0 = j->ne[0];
    const size_t out_rb = (size_t)ks_dtype_row_bytes(j->type, ne0);
    float *f = cv->frow;
    for (int64_t r = row0; r < row0 + n_rows; r++) {
        if (j->gen) {
            memcpy(f, j->gen + r * ne0, (size_t)ne0 * sizeof(float));
        } else if (j->n_dims == 1) { /* a vector: the permutation moves single elements */
            const size_t es = st_dtype_size(j->src->dtype);
            for (int64_t e = 0; e < ne0; e++)
                f[e] = elem_to_float(j->src->dtype, j->src->data + (size_t)src_row(e, ne0, j->perm_heads) * es);
        } else {
            const size_t rb = (size_t)ne0 * st_dtype_size(j->src->dtype);
            memcpy(cv->srow, j->src->data + (size_t)src_row(r, j->ne[1], j->perm_heads) * rb, rb);
            if (j->src->dtype == ST_DTYPE_F32) memcpy(f, cv->srow, rb);
            else ks_dtype_get((uint32_t)st_dtype_ggml(j->src->dtype))->to_float(cv->srow, f, ne0);
        }
        uint8_t *o = (uint8_t *)dst + (size_t)(r - row0) * out_rb;
        if (j->type == KS_DTYPE_F32) memcpy(o, f, (size_t)ne0 * sizeof(float));
        else if (j->type == KS_DTYPE_F16) ks_fp32_to_fp16_row(f, (uint16_t *)(void *)o, ne0);
        else ks_dtype_get(j->type)->from_float(f, o, ne0);
    }
    (void)err;
    return KS_OK;
}

/* ---- metadata ---- */

/* Python's regex ^(v\d+(?:\.\d+)*|\d.*)$ on the word [p, e): a version or a number */
static bool version_word(const char *p, const char *e) {
    if (*p >= '0' && *p <= '9') return true;
    if (*p++ != 'v' || p == e || !(*p >= '0' && *p <= '9')) return false;
    while (p < e && ((*p >= '0' && *p <= '9') || (*p == '.' && p + 1 < e && p[1] >= '0' && p[1] <= '9'))) p++;
    return p == e;
}

/* general.name as gguf-py's Metadata: config's _name_or_path if it has at most one
 * '/' (its part after the '/', or all of it if it contains a space), else the
 * folder name; then id_to_title: '-' separates words, all-lowercase words that
 * are not versions or numbers are title-cased ("hf-tiny-llama" -> "Hf Tiny Llama") */
static void model_name(const conv *cv, char *out, size_t cap) {
    const char *id = hf_json_str(cv->cfg.json, "_name_or_path"), *slash = id ? strchr(id, '/') : NULL;
    char dirname[256];
    if (!id || (slash && strchr(slash + 1, '/'))) {
        size_t n = strlen(cv->dir);
        while (n > 1 && cv->dir[n - 1] == '/') n--;
        size_t b = n;
        while (b > 0 && cv->dir[b - 1] != '/') b--;
        snprintf(dirname, sizeof dirname, "%.*s", (int)(n - b), cv->dir + b);
        id = dirname;
    } else if (slash && !strchr(id, ' ')) {
        id = slash + 1;
    }
    size_t o = 0;
    for (const char *p = id; *p && o + 1 < cap;) {
        while (*p == '-' || *p == ' ') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != '-' && *e != ' ') e++;
        bool lower = false, upper = false;
        for (const char *q = p; q < e; q++) lower |= *q >= 'a' && *q <= 'z', upper |= *q >= 'A' && *q <= 'Z';
        const bool title = lower && !upper && !version_word(p, e);
        if (o && o + 1 < cap) out[o++] = ' ';
        bool prev_letter = false;
        for (const char *q = p; q < e && o + 1 < cap; q++) {
            char ch = *q;
            const bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (unsigned char)ch >= 0x80;
            if (title && ch >= 'a' && ch <= 'z' && !prev_letter) ch = (char)(ch - 32);
            out[o++] = ch;
            prev_letter = letter;
        }
        p = e;
    }
    out[o] = '\0';
}

/* general.size_label: gguf-py's model_weight_count_rounded_notation(n, 2) */
static void size_label(int64_t n, char *out, size_t cap) {
    double s;
    const char *suf;
    if (n > 1e12) s = n * 1e-12, suf = "T";
    else if (n > 1e9) s = n * 1e-9, suf = "B";
    else if (n > 1e6) s = n * 1e-6, suf = "M";
    else s = n * 1e-3, suf = "K";
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", nearbyint(s));
    const char *d = digits;
    while (*d == '0') d++;
    const int fix = (int)strlen(d) < 2 ? 2 - (int)strlen(d) : 0;
    snprintf(out, cap, "%.*f%s", fix, s, suf);
}

static uint32_t file_type_of(int out_type) {
    switch (out_type) {
    case KS_DTYPE_F32: return 0;
    case KS_DTYPE_F16: return 1;
    case KS_DTYPE_Q8_0: return 7;
    default: return 32; /* BF16 */
    }
}

static ks_status write_gguf(conv *cv, ks_outfile *out, int out_type, ks_hf_convert_stats *stats, ks_err *err) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    int64_t n_params = 0;
    size_t max_ne0 = 1, max_rb = 1;
    for (size_t i = 0; i < cv->n_jobs; i++) {
        hf_job *j = &cv->jobs[i];
        j->type = job_type(j, out_type);
        n_params += j->ne[0] * j->ne[1];
        if ((size_t)j->ne[0] > max_ne0) max_ne0 = (size_t)j->ne[0];
        if (j->src && (size_t)j->ne[0] * 4 > max_rb) max_rb = (size_t)j->ne[0] * 4;
    }
    char name[256], label[32];
    model_name(cv, name, sizeof name);
    size_label(n_params, label, sizeof label);
    hf_vocab_info vi = {{0}, false};
    ks_status st = KS_OK;
    if (gguf_writer_set_str(w, "general.architecture", cv->cfg.fam->gguf_arch) || gguf_writer_set_str(w, "general.type", "model") ||
        gguf_writer_set_str(w, "general.name", name) || gguf_writer_set_str(w, "general.size_label", label))
        st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    if (!st) st = hf_config_write_gguf(&cv->cfg, w, file_type_of(out_type), err);
    if (!st && gguf_writer_set_u32(w, "general.quantization_version", 2)) st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    if (!st) st = hf_vocab_write_gguf(cv->dir, &cv->cfg, w, &vi, err);
    cv->frow = malloc(max_ne0 * sizeof(float));
    cv->srow = malloc(max_rb);
    if (!st && (!cv->frow || !cv->srow)) st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cv->n_jobs && !st; i++) {
        const hf_job *j = &cv->jobs[i];
        st = gguf_writer_add_tensor_fill(w, j->name, j->type, j->n_dims, j->ne, job_fill, &cv->jobs[i], err);
    }
    if (!st) st = gguf_writer_write(w, out, err);
    gguf_writer_free(w);
    if (!st && stats) {
        snprintf(stats->arch, sizeof stats->arch, "%s", cv->cfg.fam->gguf_arch);
        snprintf(stats->pre, sizeof stats->pre, "%s", vi.pre);
        stats->pre_default = vi.pre_default;
        stats->out_type = out_type;
        stats->n_tensors = (int64_t)cv->n_jobs;
        stats->n_params = n_params;
        stats->bytes_in = cv->bytes_in;
    }
    return st;
}

/* ---- entry points ---- */

int ks_hf_outtype_from_name(const char *s) {
    static const struct {
        const char *name;
        int type;
    } t[] = {{"f32", KS_DTYPE_F32}, {"f16", KS_DTYPE_F16}, {"bf16", KS_DTYPE_BF16}, {"q8_0", KS_DTYPE_Q8_0}, {"auto", KS_HF_OUT_AUTO}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(s, t[i].name)) return t[i].type;
    return -2;
}

/* KS_ERR_INVALID_ARG if out_path is in the folder dir under a name the converter reads (config.json,
 * model*.safetensors, ...): the GGUF would poison the folder's next conversion. Other names in the
 * folder (llama.cpp's default, DIR/NAME-F16.gguf) are fine. */
static ks_status check_out_name(const char *dir, const char *out_path, ks_err *err) {
    static const char *const read[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                                       "model.safetensors.index.json", "chat_template.jinja", "chat_template.json",
                                       "pytorch_model.bin", "pytorch_model.bin.index.json"};
    const char *slash = strrchr(out_path, '/'), *base = slash ? slash + 1 : out_path;
    bool named = !strncmp(base, "model", 5) && ends_with(base, ".safetensors");
    for (size_t i = 0; i < sizeof read / sizeof read[0]; i++) named |= !strcmp(base, read[i]);
    if (!named) return KS_OK;
    char *out_dir = slash ? strndup(out_path, (size_t)(slash - out_path) + (slash == out_path)) : strdup(".");
    struct stat a, b;
    const bool inside =
        out_dir && stat(out_dir, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    free(out_dir);
    if (!inside) return KS_OK;
    return ks_err_set(err, KS_ERR_INVALID_ARG,
                      "%s: the output would be read as part of the folder %s by the next conversion; choose another name",
                      out_path, dir);
}

static ks_status check_args(const char *dir, int out_type, ks_err *err) {
    if (out_type != KS_HF_OUT_AUTO && out_type != KS_DTYPE_F32 && out_type != KS_DTYPE_F16 && out_type != KS_DTYPE_BF16 &&
        out_type != KS_DTYPE_Q8_0)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "convert: output type %d is not F32, F16, BF16 or Q8_0", out_type);
    if (!ks_hf_is_dir(dir)) return ks_err_set(err, KS_ERR_NOT_FOUND, "%s: not a folder", dir);
    return KS_OK;
}

ks_status ks_hf_convert(const char *dir, const char *out_path, int out_type, ks_hf_convert_stats *stats, ks_err *err) {
    ks_status st = check_args(dir, out_type, err);
    if (st) return st;
    ks_outfile out;
    if (!(st = ks_outfile_open(&out, out_path, (const char *const[]){dir}, 1, err)))
        st = ks_hf_convert_to(dir, &out, out_type, stats, err);
    if (!st) return ks_outfile_commit(&out, err);
    ks_outfile_discard(&out);
    return st;
}

ks_status ks_hf_convert_to(const char *dir, ks_outfile *out, int out_type, ks_hf_convert_stats *stats, ks_err *err) {
    ks_status st = check_args(dir, out_type, err);
    if (!st) st = check_out_name(dir, out->path, err);
    if (st) return st;
    conv cv;
    memset(&cv, 0, sizeof cv);
    cv.dir = dir;
    cJSON *index = NULL;
    st = hf_config_load(dir, &cv.cfg, err);
    if (!st) st = list_shards(&cv, &index, err);
    if (!st) st = open_shards(&cv, index, err);
    if (!st) st = plan(&cv, err);
    if (!st) st = write_gguf(&cv, out, out_type == KS_HF_OUT_AUTO ? auto_type(&cv) : out_type, stats, err);
    cJSON_Delete(index);
    for (size_t i = 0; i < cv.n_shards; i++) {
        if (cv.shards) st_close(cv.shards[i]);
        free(cv.shard_names[i]);
    }
    free(cv.shards), free(cv.shard_names), free(cv.jobs), free(cv.frow), free(cv.srow), free(cv.rope_freqs);
    hf_config_free(&cv.cfg);
    return st;
}

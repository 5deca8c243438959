/* hf_convert.c - a Hugging Face folder to GGUF (formats/hf.h): finds the
 * safetensors shards, maps every tensor to its GGUF name, checks its shape
 * against config.json, and writes metadata, vocabulary and tensors.
 *
 * Tensor rules, as llama.cpp's convert_hf_to_gguf.py (LlamaModel, TextModel):
 *  - names, shapes and row transforms come from the family's tensor table
 *    (model/arch.h): each HF name (model.layers.N.self_attn.q_proj.weight, ...)
 *    is a row's HF pattern, written under the row's GGUF name; its shape is the
 *    row's, reversed; rotary_emb.inv_freq buffers are dropped;
 *  - rows marked KS_HF_XFORM_PERMUTE_Q/K (LLaMA's q/k weights and biases): HF
 *    stores each head's rows as two halves (rotate_half), GGUF as interleaved
 *    pairs: GGUF row h*hd + 2i + j comes from HF row h*hd + j*hd/2 + i
 *    (LlamaModel.permute; k uses the KV head count);
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
#include "model/model.h"
#include "tensor/dtype.h"

typedef struct conv conv;

/* one output tensor: source (or generated data), GGUF name, type, shape */
typedef struct hf_job {
    const st_tensor *src; /* borrowed from a shard; NULL for generated tensors */
    const float *gen;     /* generated F32 data (owned by conv), or NULL */
    char name[80];
    uint32_t type, n_dims;
    int64_t ne[2];      /* GGUF order */
    int64_t perm_heads; /* > 0: q/k row permutation over this many heads */
    int64_t qkv_groups; /* > 0: Falcon's query_key_value, this many KV groups of (q heads, k, v) -> all q, k, v */
    bool transpose;     /* GPT-2 Conv1D: the source is [ne0][ne1] */
    bool add_one;       /* Gemma's norms: w + 1 */
    ks_qcat qcat;       /* the row's quantize category: KS_QCAT_NONE stays F32 */
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

/* HF buffers that are not weights (dropped, as the Python) */
static bool dropped_name(const char *hf) {
    return ends_with(hf, ".rotary_emb.inv_freq") || ends_with(hf, ".attention.masked_bias") ||
           ends_with(hf, ".attention.bias") || ends_with(hf, ".attn.masked_bias") || ends_with(hf, ".attn.bias");
}

/* the hyperparameters that size the family's tensor rows, from config.json */
static ks_hparams table_hparams(const hf_config *c) {
    return (ks_hparams){.n_vocab = c->n_vocab, .n_embd = c->n_embd, .n_layer = c->n_layer, .n_head = c->n_head,
                        .n_head_kv = c->n_head_kv, .n_ff = c->n_ff, .n_ctx_train = c->n_ctx, .head_dim = c->head_dim,
                        .n_rot = c->head_dim};
}

/* t must have the HF shape of row d (GGUF's reversed: [ne1, ne0], or [ne0] for a vector) */
static ks_status check_shape(const conv *cv, const st_tensor *t, const ks_tensor_desc *d, ks_err *err) {
    const ks_hparams hp = table_hparams(&cv->cfg);
    const bool vec = d->ne[1] == KS_DIM_ONE, tr = d->hf_xform == KS_HF_XFORM_TRANSPOSE && !vec;
    int64_t rows = ks_arch_dim(&hp, vec ? d->ne[0] : d->ne[1]), cols = vec ? 0 : ks_arch_dim(&hp, d->ne[0]);
    if (tr) { /* Conv1D: [in, out] */
        const int64_t x = rows;
        rows = cols, cols = x;
    }
    const uint32_t nd = vec ? 1 : 2;
    if (t->n_dims != nd || t->shape[0] != rows || (nd == 2 && t->shape[1] != cols)) {
        char got[96] = "[", *g = got + 1;
        for (uint32_t k = 0; k < t->n_dims && k < 4; k++)
            g += snprintf(g, 20, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
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
    const ks_tensor_desc *row = ks_arch_row_by_slot(c->arch, offsetof(ks_model, rope_freqs), false);
    hf_job j = {.gen = cv->rope_freqs, .type = KS_DTYPE_F32, .n_dims = 1, .ne = {n, 1}};
    if (!row || !ks_arch_name(row, false, -1, j.name, sizeof j.name))
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "%s: Llama 3 RoPE scaling has no tensor in architecture '%s'", cv->dir,
                          c->arch->name);
    return add_job(cv, cap, j, err);
}

static uint32_t job_type(const hf_job *j, int out_type) {
    if (j->n_dims == 1 || j->qcat == KS_QCAT_NONE) return KS_DTYPE_F32;
    if (out_type == KS_DTYPE_Q8_0 && j->ne[0] % QK8_0) return KS_DTYPE_F16; /* as the Python QuantError fallback */
    return (uint32_t)out_type;
}

/* one job per source tensor, in shard then name order; checks names, shapes, completeness */
static ks_status plan(conv *cv, ks_err *err) {
    const hf_config *c = &cv->cfg;
    const ks_arch *a = c->arch;
    size_t cap = 0;
    ks_status st = rope_freqs_job(cv, &cap, err);
    uint8_t *seen = calloc((size_t)(c->n_layer + 1) * a->n_tensors, 1);
    if (!seen) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < cv->n_shards && !st; s++) {
        for (size_t i = 0; i < cv->shards[s]->n_tensors && !st; i++) {
            const st_tensor *t = &cv->shards[s]->tensors[i];
            if (dropped_name(t->name)) continue;
            int64_t il;
            const ks_tensor_desc *d = ks_arch_match(a, t->name, strlen(t->name), true, &il);
            for (const char *const *al = a->hf_aliases; !d && al && al[0] && al[1]; al += 2) {
                const char *at = strstr(t->name, al[0]);
                char alt[256];
                if (at && snprintf(alt, sizeof alt, "%.*s%s%s", (int)(at - t->name), t->name, al[1],
                                   at + strlen(al[0])) < (int)sizeof alt)
                    d = ks_arch_match(a, alt, strlen(alt), true, &il);
            }
            if (!d) {
                st = ks_err_set(err, KS_ERR_UNSUPPORTED, "%s: cannot map tensor '%.100s' to a %s tensor", cv->shard_names[s],
                                t->name, a->name);
                break;
            }
            if (d->qcat == KS_QCAT_OUTPUT && c->tie_embd) continue;
            if (il >= c->n_layer) {
                st = ks_err_set(err, KS_ERR_FORMAT, "tensor '%.100s': layer %lld but config.json has %lld layers", t->name,
                                (long long)il, (long long)c->n_layer);
                break;
            }
            if ((st = check_shape(cv, t, d, err))) break;
            seen[(size_t)(il + 1) * a->n_tensors + (size_t)(d - a->tensors)] = 1;
            hf_job j = {.src = t, .n_dims = t->n_dims, .qcat = d->qcat};
            ks_arch_name(d, false, il, j.name, sizeof j.name);
            j.transpose = d->hf_xform == KS_HF_XFORM_TRANSPOSE && t->n_dims == 2;
            j.ne[0] = t->n_dims == 2 ? t->shape[j.transpose ? 0 : 1] : t->shape[0];
            j.ne[1] = t->n_dims == 2 ? t->shape[j.transpose ? 1 : 0] : 1;
            if (d->hf_xform == KS_HF_XFORM_PERMUTE_Q) j.perm_heads = c->n_head;
            if (d->hf_xform == KS_HF_XFORM_PERMUTE_K) j.perm_heads = c->n_head_kv;
            j.add_one = d->hf_xform == KS_HF_XFORM_NORM_PLUS_ONE;
            /* Falcon's fused QKV is grouped by KV head (convert_hf_to_gguf.py's FalconModel rearranges it) */
            if (d->qcat == KS_QCAT_ATTN_QKV && !strcmp(a->name, "falcon")) j.qkv_groups = c->n_head_kv;
            st = add_job(cv, &cap, j, err);
        }
    }
    for (int64_t il = -1; il < c->n_layer && !st; il++)
        for (size_t r = 0; r < a->n_tensors && !st; r++) {
            const ks_tensor_desc *d = &a->tensors[r];
            char name[160];
            if (d->required && d->hf && d->per_layer == (il >= 0) && !seen[(size_t)(il + 1) * a->n_tensors + r] &&
                ks_arch_name(d, true, il, name, sizeof name))
                st = ks_err_set(err, KS_ERR_NOT_FOUND, "missing tensor '%s'", name);
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

/* HF row of GGUF row r of Falcon's fused QKV: GGUF holds all q heads, then the k heads, then the v heads;
 * HF holds n_groups groups of (n_head / n_groups q heads, one k head, one v head) */
static int64_t falcon_qkv_row(int64_t r, const hf_config *c, int64_t n_groups) {
    const int64_t hd = c->head_dim, g = c->n_head / n_groups, q_rows = c->n_head * hd, kv_rows = n_groups * hd;
    const int64_t rem = r % hd;
    if (r < q_rows) return ((r / hd) / g * (g + 2) + (r / hd) % g) * hd + rem;
    if (r < q_rows + kv_rows) return ((r - q_rows) / hd * (g + 2) + g) * hd + rem;
    return ((r - q_rows - kv_rows) / hd * (g + 2) + g + 1) * hd + rem;
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
                f[e] = elem_to_float(j->src->dtype, j->src->data + (size_t)src_row(e, ne0, j->perm_heads) * es) +
                       (j->add_one ? 1.0f : 0.0f);
        } else if (j->transpose) { /* GGUF row r is the source's column r */
            const size_t es = st_dtype_size(j->src->dtype);
            for (int64_t e = 0; e < ne0; e++)
                f[e] = elem_to_float(j->src->dtype, j->src->data + ((size_t)e * (size_t)j->ne[1] + (size_t)r) * es);
        } else {
            const size_t rb = (size_t)ne0 * st_dtype_size(j->src->dtype);
            const int64_t sr = j->qkv_groups ? falcon_qkv_row(r, &cv->cfg, j->qkv_groups) : src_row(r, j->ne[1], j->perm_heads);
            memcpy(cv->srow, j->src->data + (size_t)sr * rb, rb);
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

/* generation_config.json's sampling defaults as general.sampling.* keys, in gguf-py Metadata's order and types
 * (int32 for counts, float32 otherwise); llama.cpp and Kestrel (ks_model.gen) read them back */
static ks_status write_sampling(const char *dir, gguf_writer *w, ks_err *err) {
    static const struct {
        const char *json, *json2, *key;
        bool is_int;
    } keys[] = {
        {"top_k", NULL, "general.sampling.top_k", true},
        {"top_p", NULL, "general.sampling.top_p", false},
        {"min_p", NULL, "general.sampling.min_p", false},
        {"xtc_probability", NULL, "general.sampling.xtc_probability", false},
        {"xtc_threshold", NULL, "general.sampling.xtc_threshold", false},
        {"temperature", NULL, "general.sampling.temp", false},
        {"penalty_last_n", NULL, "general.sampling.penalty_last_n", true},
        {"penalty_repeat", "repetition_penalty", "general.sampling.penalty_repeat", false},
        {"mirostat", NULL, "general.sampling.mirostat", true},
        {"mirostat_tau", NULL, "general.sampling.mirostat_tau", false},
        {"mirostat_eta", NULL, "general.sampling.mirostat_eta", false},
    };
    cJSON *g = NULL;
    ks_status st = hf_json_load(dir, "generation_config.json", false, &g, err);
    for (size_t i = 0; g && !st && i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, keys[i].json);
        if ((!v || cJSON_IsNull(v)) && keys[i].json2) v = cJSON_GetObjectItemCaseSensitive(g, keys[i].json2);
        if (!v || cJSON_IsNull(v)) continue;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
            (keys[i].is_int && (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2147483647.0)))
            st = ks_err_set(err, KS_ERR_FORMAT, "generation_config.json: '%s' must be a%s number", keys[i].json,
                            keys[i].is_int ? "n integer" : " finite");
        else if (keys[i].is_int ? gguf_writer_set_i32(w, keys[i].key, (int32_t)v->valuedouble)
                                : gguf_writer_set_f32(w, keys[i].key, (float)v->valuedouble))
            st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(g);
    return st;
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
    if (gguf_writer_set_str(w, "general.architecture", cv->cfg.fam->gguf_arch) || gguf_writer_set_str(w, "general.type", "model"))
        st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    if (!st) st = write_sampling(cv->dir, w, err); /* gguf-py writes them before the name */
    if (!st && (gguf_writer_set_str(w, "general.name", name) || gguf_writer_set_str(w, "general.size_label", label)))
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

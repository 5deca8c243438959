/* safetensors.c - safetensors reader: header length, JSON header, tensor table
 * (layout and guarantees in safetensors.h).
 *
 * The JSON is parsed from a NUL-terminated copy of the header, so cJSON never
 * sees the mapping; tensor and metadata strings point into the parsed tree,
 * which the context owns. Numbers in the header are JSON numbers (doubles in
 * cJSON): every size and offset must be an integer in [0, 2^53), which covers
 * any file that exists (2^53 itself is refused: 2^53 + 1 parses as it).
 */
#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "tensor/dtype.h"

typedef struct st_priv {
    ks_mapfile map;
    cJSON *json;
} st_priv;

static const struct {
    const char *name;
    size_t size;
    int ggml; /* -1: Kestrel does not convert it */
} dtypes[ST_DTYPE_COUNT] = {
    [ST_DTYPE_BOOL] = {"BOOL", 1, -1},         [ST_DTYPE_U8] = {"U8", 1, -1},
    [ST_DTYPE_I8] = {"I8", 1, -1},             [ST_DTYPE_F8_E5M2] = {"F8_E5M2", 1, -1},
    [ST_DTYPE_F8_E4M3] = {"F8_E4M3", 1, -1},   [ST_DTYPE_I16] = {"I16", 2, -1},
    [ST_DTYPE_U16] = {"U16", 2, -1},           [ST_DTYPE_F16] = {"F16", 2, KS_DTYPE_F16},
    [ST_DTYPE_BF16] = {"BF16", 2, KS_DTYPE_BF16}, [ST_DTYPE_I32] = {"I32", 4, -1},
    [ST_DTYPE_U32] = {"U32", 4, -1},           [ST_DTYPE_F32] = {"F32", 4, KS_DTYPE_F32},
    [ST_DTYPE_F64] = {"F64", 8, -1},           [ST_DTYPE_I64] = {"I64", 8, -1},
    [ST_DTYPE_U64] = {"U64", 8, -1},
};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].name : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].size : 0; }
int st_dtype_ggml(st_dtype t) { return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].ggml : -1; }

void st_close(st_ctx *ctx) {
    if (!ctx) return;
    st_priv *p = ctx->priv_;
    if (p) {
        cJSON_Delete(p->json);
        ks_mapfile_close(&p->map);
        free(p);
    }
    free(ctx->tensors);
    free(ctx->meta_keys);
    free(ctx->meta_vals);
    free(ctx);
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* a JSON number that is an integer in [0, 2^53) */
static bool json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    const double v = j->valuedouble;
    if (!(v >= 0.0 && v < 9007199254740992.0) || floor(v) != v) return false; /* below 2^53: exact */
    *out = (uint64_t)v;
    return true;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

static ks_status parse_metadata(st_ctx *ctx, const cJSON *meta, const char *label, ks_err *err) {
    if (!cJSON_IsObject(meta))
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: __metadata__ is not an object", label);
    size_t n = 0;
    for (const cJSON *c = meta->child; c; c = c->next) n++;
    ctx->meta_keys = calloc(n ? n : 1, sizeof *ctx->meta_keys);
    ctx->meta_vals = calloc(n ? n : 1, sizeof *ctx->meta_vals);
    if (!ctx->meta_keys || !ctx->meta_vals) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: __metadata__ value of '%.100s' is not a string",
                              label, c->string);
        ctx->meta_keys[ctx->n_meta] = c->string;
        ctx->meta_vals[ctx->n_meta++] = c->valuestring;
    }
    return KS_OK;
}

/* fills t from one header entry; data_size bounds the offsets */
static ks_status parse_entry(st_tensor *t, const cJSON *e, uint64_t data_size, const char *label, ks_err *err) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e))
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: tensor '%.200s': entry is not an object", label, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return ks_err_set(err, KS_ERR_FORMAT,
                          "safetensors: %s: tensor '%.200s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                          label, nm);
    int k = 0;
    while (k < ST_DTYPE_COUNT && strcmp(dtypes[k].name, dt->valuestring)) k++;
    if (k == ST_DTYPE_COUNT)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "safetensors: %s: tensor '%.200s': unknown dtype '%.40s'", label, nm,
                          dt->valuestring);
    t->dtype = (st_dtype)k;
    for (int d = 0; d < ST_MAX_DIMS; d++) t->shape[d] = 1;
    t->n_elem = 1;
    uint32_t nd = 0;
    for (const cJSON *c = sh->child; c; c = c->next, nd++) {
        uint64_t v;
        if (nd == ST_MAX_DIMS)
            return ks_err_set(err, KS_ERR_LIMIT, "safetensors: %s: tensor '%.200s': more than %d dimensions", label, nm,
                              ST_MAX_DIMS);
        if (!json_uint(c, &v))
            return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: tensor '%.200s': shape[%u] is not a non-negative integer",
                              label, nm, nd);
        if (v && (uint64_t)t->n_elem > (uint64_t)INT64_MAX / v)
            return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: tensor '%.200s': element count overflows", label, nm);
        t->shape[nd] = (int64_t)v;
        t->n_elem *= (int64_t)v;
    }
    t->n_dims = nd;
    uint64_t b, en;
    if (!off->child || !off->child->next || off->child->next->next || !json_uint(off->child, &b) ||
        !json_uint(off->child->next, &en))
        return ks_err_set(err, KS_ERR_FORMAT,
                          "safetensors: %s: tensor '%.200s': data_offsets is not [begin, end] of non-negative integers", label, nm);
    if (b > en)
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: tensor '%.200s': data_offsets [%llu, %llu] end before they begin",
                          label, nm, (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return ks_err_set(err, KS_ERR_TRUNCATED,
                          "safetensors: %s: truncated: tensor '%.200s' data [%llu, %llu) extends past the end of the file (data section %llu bytes)",
                          label, nm, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
    const size_t es = dtypes[k].size;
    if ((uint64_t)t->n_elem > UINT64_MAX / es || (uint64_t)t->n_elem * es != en - b)
        return ks_err_set(err, KS_ERR_FORMAT,
                          "safetensors: %s: tensor '%.200s': %llu bytes of data for %lld elements of %s (%zu bytes each)",
                          label, nm, (unsigned long long)(en - b), (long long)t->n_elem, dtypes[k].name, es);
    t->offset = b;
    t->nbytes = en - b;
    return KS_OK;
}

/* overlap check over the tensors sorted by offset; empty tensors overlap nothing */
static ks_status check_overlap(st_ctx *ctx, const char *label, ks_err *err) {
    if (ctx->n_tensors < 2) return KS_OK;
    const st_tensor **by_off = malloc(ctx->n_tensors * sizeof *by_off);
    if (!by_off) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ctx->n_tensors; i++) by_off[i] = &ctx->tensors[i];
    qsort(by_off, ctx->n_tensors, sizeof *by_off, cmp_offset);
    const st_tensor *prev = NULL;
    ks_status st = KS_OK;
    for (size_t i = 0; i < ctx->n_tensors && !st; i++) {
        const st_tensor *t = by_off[i];
        if (!t->nbytes) continue;
        if (prev && t->offset < prev->offset + prev->nbytes)
            st = ks_err_set(err, KS_ERR_FORMAT,
                            "safetensors: %s: tensors '%.100s' [%llu, %llu) and '%.100s' [%llu, %llu) overlap", label,
                            prev->name, (unsigned long long)prev->offset, (unsigned long long)(prev->offset + prev->nbytes),
                            t->name, (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes));
        if (!prev || t->offset + t->nbytes > prev->offset + prev->nbytes) prev = t;
    }
    free(by_off);
    return st;
}

/* parses the header into the tensor table; ctx->base/size set, priv_ allocated */
static ks_status parse(st_ctx *ctx, const char *label, ks_err *err) {
    st_priv *p = ctx->priv_;
    if (ctx->size < 8)
        return ks_err_set(err, KS_ERR_TRUNCATED, "safetensors: %s: truncated: %llu bytes is too short for the header length",
                          label, (unsigned long long)ctx->size);
    const uint64_t n = le64(ctx->base);
    if (n > ctx->size - 8)
        return ks_err_set(err, KS_ERR_TRUNCATED,
                          "safetensors: %s: header length %llu exceeds the %llu bytes that follow (truncated, or not a safetensors file)",
                          label, (unsigned long long)n, (unsigned long long)(ctx->size - 8));
    if (n > ST_MAX_HEADER)
        return ks_err_set(err, KS_ERR_LIMIT, "safetensors: %s: header length %llu exceeds the limit of %u bytes", label,
                          (unsigned long long)n, ST_MAX_HEADER);
    const char *h = (const char *)ctx->base + 8;
    if (n < 2 || h[0] != '{')
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: header (%llu bytes) does not start with '{'", label,
                          (unsigned long long)n);
    if (memchr(h, 0, (size_t)n))
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: header contains a NUL byte", label);
    char *copy = malloc((size_t)n + 1);
    if (!copy) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    memcpy(copy, h, (size_t)n);
    copy[n] = '\0';
    const char *end = NULL;
    p->json = cJSON_ParseWithOpts(copy, &end, 0);
    const size_t at = end ? (size_t)(end - copy) : 0;
    bool trailing = false;
    for (size_t i = at; p->json && i < (size_t)n; i++)
        if (!strchr(" \t\r\n", copy[i])) trailing = true;
    free(copy);
    if (!p->json || trailing)
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: header is not valid JSON (at byte %zu of %llu)", label,
                          at, (unsigned long long)n);
    if (!cJSON_IsObject(p->json))
        return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: header is not a JSON object", label);
    ctx->data_offset = 8 + n;
    const uint64_t data_size = ctx->size - ctx->data_offset;
    size_t count = 0;
    for (const cJSON *c = p->json->child; c; c = c->next) count++;
    if (count > ST_MAX_TENSORS)
        return ks_err_set(err, KS_ERR_LIMIT, "safetensors: %s: %zu entries exceed the limit of %d", label, count,
                          ST_MAX_TENSORS);
    ctx->tensors = calloc(count ? count : 1, sizeof *ctx->tensors);
    if (!ctx->tensors) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    bool have_meta = false;
    ks_status st;
    for (const cJSON *c = p->json->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if (have_meta) return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: two __metadata__ entries", label);
            have_meta = true;
            if ((st = parse_metadata(ctx, c, label, err))) return st;
            continue;
        }
        st_tensor *t = &ctx->tensors[ctx->n_tensors++];
        t->name = c->string;
        if ((st = parse_entry(t, c, data_size, label, err))) return st;
        t->data = ctx->base + ctx->data_offset + t->offset;
    }
    qsort(ctx->tensors, ctx->n_tensors, sizeof *ctx->tensors, cmp_name);
    for (size_t i = 1; i < ctx->n_tensors; i++)
        if (!strcmp(ctx->tensors[i - 1].name, ctx->tensors[i].name))
            return ks_err_set(err, KS_ERR_FORMAT, "safetensors: %s: duplicate tensor '%.200s'", label, ctx->tensors[i].name);
    return check_overlap(ctx, label, err);
}

static ks_status open_common(st_ctx **out, const uint8_t *base, size_t size, ks_mapfile *map, const char *label,
                             ks_err *err) {
    *out = NULL;
    st_ctx *ctx = calloc(1, sizeof *ctx);
    st_priv *p = calloc(1, sizeof *p);
    if (!ctx || !p) {
        free(ctx), free(p);
        if (map) ks_mapfile_close(map);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (map) p->map = *map;
    ctx->priv_ = p;
    ctx->base = base;
    ctx->size = size;
    ks_status st = parse(ctx, label, err);
    if (st) {
        st_close(ctx);
        return st;
    }
    *out = ctx;
    return KS_OK;
}

ks_status st_open_file(const char *path, st_ctx **out, ks_err *err) {
    *out = NULL;
    ks_mapfile map;
    ks_status st = ks_mapfile_open(&map, path, err);
    if (st) return st;
    const char *slash = strrchr(path, '/');
    return open_common(out, map.data, map.size, &map, slash ? slash + 1 : path, err);
}

ks_status st_open_memory(const void *buf, size_t size, st_ctx **out, ks_err *err) {
    return open_common(out, buf, size, NULL, "(memory)", err);
}

const st_tensor *st_find(const st_ctx *ctx, const char *name) {
    size_t lo = 0, hi = ctx->n_tensors;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(ctx->tensors[mid].name, name);
        if (!c) return &ctx->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *st_meta_get(const st_ctx *ctx, const char *key) {
    for (size_t i = 0; i < ctx->n_meta; i++)
        if (!strcmp(ctx->meta_keys[i], key)) return ctx->meta_vals[i];
    return NULL;
}

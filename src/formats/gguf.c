/* gguf.c - GGUF reader (v2, v3): parses and validates the whole header against
 * the file size before anything else sees it (layout in gguf.h).
 *
 * Invariants after gguf_open_*: every string lies inside the file; every array
 * of fixed-size elements fits in the file; every tensor has 1..4 dims, a known
 * type, ne[0] a multiple of its block size, an element count that does not
 * overflow, an aligned offset, and data inside the file, not overlapping any
 * other tensor's (aliased tensors would let a small file expand into many
 * copies when weights are repacked). Keys and tensor names are unique.
 */
#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "tensor/dtype.h"

typedef struct reader {
    const uint8_t *base;
    uint64_t size, pos;
    ks_err *err;
} reader;

static const size_t type_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1,  [GGUF_TYPE_INT8] = 1,   [GGUF_TYPE_UINT16] = 2, [GGUF_TYPE_INT16] = 2,
    [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,  [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_STRING] = 0, [GGUF_TYPE_ARRAY] = 0,  [GGUF_TYPE_UINT64] = 8, [GGUF_TYPE_INT64] = 8,
    [GGUF_TYPE_FLOAT64] = 8,
};

const char *gguf_type_name(gguf_type t) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                 "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "unknown";
}

bool gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

static uint64_t remaining(const reader *r) { return r->size - r->pos; }

static ks_status need(reader *r, uint64_t n, const char *what) {
    if (n > remaining(r))
        return ks_err_set(r->err, KS_ERR_TRUNCATED, "gguf: truncated: %s needs %llu bytes at offset %llu, file has %llu",
                          what, (unsigned long long)n, (unsigned long long)r->pos, (unsigned long long)r->size);
    return KS_OK;
}

static ks_status rd(reader *r, void *out, size_t n, const char *what) {
    ks_status st = need(r, n, what);
    if (st) return st;
    memcpy(out, r->base + r->pos, n);
    r->pos += n;
    return KS_OK;
}

static ks_status rd_str(reader *r, gguf_str *s, const char *what) {
    uint64_t len;
    ks_status st = rd(r, &len, 8, what);
    if (st) return st;
    if (len > remaining(r))
        return ks_err_set(r->err, len > r->size ? KS_ERR_FORMAT : KS_ERR_TRUNCATED,
                          "gguf: %s: string length %llu at offset %llu exceeds the %llu bytes left in the file", what,
                          (unsigned long long)len, (unsigned long long)(r->pos - 8), (unsigned long long)remaining(r));
    s->ptr = (const char *)r->base + r->pos;
    s->len = len;
    r->pos += len;
    return KS_OK;
}

static void value_free(gguf_value *v) {
    if (v->type != GGUF_TYPE_ARRAY || !v->v.arr.elems) return;
    for (uint64_t i = 0; i < v->v.arr.n; i++) value_free(&v->v.arr.elems[i]);
    free(v->v.arr.elems);
    v->v.arr.elems = NULL;
}

static ks_status rd_value(reader *r, gguf_value *v, uint32_t type, int depth, const char *key);

static ks_status rd_array(reader *r, gguf_value *v, int depth, const char *key) {
    uint32_t et;
    uint64_t n;
    ks_status st;
    if ((st = rd(r, &et, 4, "array type")) || (st = rd(r, &n, 8, "array count"))) return st;
    if (et >= GGUF_TYPE_COUNT)
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: key '%s': unknown array element type %u", key, et);
    if (et == GGUF_TYPE_ARRAY && depth + 1 >= GGUF_MAX_ARRAY_DEPTH)
        return ks_err_set(r->err, KS_ERR_LIMIT, "gguf: key '%s': arrays nested deeper than %d", key, GGUF_MAX_ARRAY_DEPTH);
    v->v.arr.elem_type = (gguf_type)et;
    v->v.arr.n = 0;
    v->v.arr.data = r->base + r->pos;
    v->v.arr.elems = NULL;
    /* minimum bytes per element: strings 8 (length), arrays 12 (type + count) */
    const uint64_t min_elem = et == GGUF_TYPE_STRING ? 8 : et == GGUF_TYPE_ARRAY ? 12 : type_size[et];
    if (n > remaining(r) / min_elem) {
        const bool absurd = n / 2 > r->size;
        return ks_err_set(r->err, absurd ? KS_ERR_FORMAT : KS_ERR_TRUNCATED,
                          "gguf: %skey '%s': array count %llu of %s needs at least %llu bytes, %llu left in the file",
                          absurd ? "" : "truncated: ", key, (unsigned long long)n, gguf_type_name((gguf_type)et),
                          (unsigned long long)(absurd ? n : n * min_elem), (unsigned long long)remaining(r));
    }
    if (et != GGUF_TYPE_STRING && et != GGUF_TYPE_ARRAY) {
        v->v.arr.n = n;
        r->pos += n * min_elem;
        return KS_OK;
    }
    v->v.arr.elems = calloc(n ? n : 1, sizeof(gguf_value));
    if (!v->v.arr.elems) return ks_err_set(r->err, KS_ERR_NOMEM, "gguf: out of memory for key '%s'", key);
    for (uint64_t i = 0; i < n; i++) {
        v->v.arr.n = i + 1; /* so value_free sees what was built */
        if ((st = rd_value(r, &v->v.arr.elems[i], et, depth + 1, key))) return st;
    }
    v->v.arr.n = n;
    return KS_OK;
}

static ks_status rd_value(reader *r, gguf_value *v, uint32_t type, int depth, const char *key) {
    memset(v, 0, sizeof *v);
    if (type >= GGUF_TYPE_COUNT)
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: key '%s': unknown value type %u", key, type);
    v->type = (gguf_type)type;
    if (type == GGUF_TYPE_STRING) return rd_str(r, &v->v.str, key);
    if (type == GGUF_TYPE_ARRAY) return rd_array(r, v, depth, key);
    uint8_t b[8] = {0};
    ks_status st = rd(r, b, type_size[type], key);
    if (st) return st;
    switch (type) {
    case GGUF_TYPE_INT8: v->v.i64 = (int8_t)b[0]; break;
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, b, 2); v->v.i64 = x; break; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, b, 4); v->v.i64 = x; break; }
    case GGUF_TYPE_INT64: memcpy(&v->v.i64, b, 8); break;
    case GGUF_TYPE_FLOAT32: { float x; memcpy(&x, b, 4); v->v.f64 = x; break; }
    case GGUF_TYPE_FLOAT64: memcpy(&v->v.f64, b, 8); break;
    case GGUF_TYPE_BOOL:
        if (b[0] > 1) return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: key '%s': bool value %u is not 0 or 1", key, b[0]);
        v->v.u64 = b[0];
        break;
    default: memcpy(&v->v.u64, b, 8); break; /* unsigned, little-endian, zero-extended */
    }
    return KS_OK;
}

void gguf_close(gguf_ctx *ctx) {
    if (!ctx) return;
    if (ctx->kv)
        for (uint64_t i = 0; i < ctx->n_kv; i++) value_free(&ctx->kv[i].value);
    free(ctx->kv);
    free(ctx->tensors);
    if (ctx->priv_) {
        ks_mapfile_close(ctx->priv_);
        free(ctx->priv_);
    }
    free(ctx);
}

/* sorted-index helpers for duplicate detection */
static const gguf_ctx *sort_ctx;
static int cmp_kv(const void *a, const void *b) {
    const gguf_str *x = &sort_ctx->kv[*(const uint64_t *)a].key, *y = &sort_ctx->kv[*(const uint64_t *)b].key;
    uint64_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}
static int cmp_tensor(const void *a, const void *b) {
    const gguf_str *x = &sort_ctx->tensors[*(const uint64_t *)a].name, *y = &sort_ctx->tensors[*(const uint64_t *)b].name;
    uint64_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Duplicate check with a sorted index (O(n log n)); not thread-safe (static comparator context). */
static ks_status check_duplicates(gguf_ctx *c, bool tensors, ks_err *err) {
    uint64_t n = tensors ? c->n_tensors : c->n_kv;
    if (n < 2) return KS_OK;
    uint64_t *idx = malloc(n * sizeof *idx);
    if (!idx) return ks_err_set(err, KS_ERR_NOMEM, "gguf: out of memory");
    for (uint64_t i = 0; i < n; i++) idx[i] = i;
    sort_ctx = c;
    qsort(idx, n, sizeof *idx, tensors ? cmp_tensor : cmp_kv);
    ks_status st = KS_OK;
    for (uint64_t i = 1; i < n && !st; i++)
        if ((tensors ? cmp_tensor : cmp_kv)(&idx[i - 1], &idx[i]) == 0) {
            const gguf_str *s = tensors ? &c->tensors[idx[i]].name : &c->kv[idx[i]].key;
            st = ks_err_set(err, KS_ERR_FORMAT, "gguf: duplicate %s '%.*s'", tensors ? "tensor name" : "key",
                            (int)(s->len > 200 ? 200 : s->len), s->ptr);
        }
    free(idx);
    return st;
}

typedef struct tensor_range {
    uint64_t offset, index;
} tensor_range;

static int cmp_range(const void *a, const void *b) {
    const tensor_range *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Tensor data ranges must be disjoint: sorted by offset, each ends before the next begins. */
static ks_status check_overlaps(const gguf_ctx *c, ks_err *err) {
    if (c->n_tensors < 2) return KS_OK;
    tensor_range *v = malloc(c->n_tensors * sizeof *v);
    if (!v) return ks_err_set(err, KS_ERR_NOMEM, "gguf: out of memory");
    uint64_t n = 0;
    for (uint64_t i = 0; i < c->n_tensors; i++)
        if (c->tensors[i].nbytes) v[n++] = (tensor_range){c->tensors[i].offset, i};
    qsort(v, n, sizeof *v, cmp_range);
    ks_status st = KS_OK;
    for (uint64_t i = 1; i < n && !st; i++) {
        const gguf_tensor_info *a = &c->tensors[v[i - 1].index], *b = &c->tensors[v[i].index];
        if (a->offset + a->nbytes <= b->offset) continue;
        st = ks_err_set(err, KS_ERR_FORMAT, "gguf: tensors '%.*s' [%llu, %llu) and '%.*s' [%llu, %llu) overlap",
                        (int)(a->name.len > 100 ? 100 : a->name.len), a->name.ptr, (unsigned long long)a->offset,
                        (unsigned long long)(a->offset + a->nbytes), (int)(b->name.len > 100 ? 100 : b->name.len),
                        b->name.ptr, (unsigned long long)b->offset, (unsigned long long)(b->offset + b->nbytes));
    }
    free(v);
    return st;
}

static ks_status parse_tensor_info(reader *r, gguf_ctx *c, uint64_t i) {
    gguf_tensor_info *t = &c->tensors[i];
    ks_status st;
    char what[64];
    snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
    if ((st = rd_str(r, &t->name, what)) || (st = rd(r, &t->n_dims, 4, what))) return st;
    const int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
    if (t->name.len >= GGUF_MAX_NAME) /* cut to a buffer's size, two long names would look like duplicates */
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: %s: tensor name too long (%llu bytes, at most %d): '%.*s...'",
                          what, (unsigned long long)t->name.len, GGUF_MAX_NAME - 1, 40, t->name.ptr);
    if (memchr(t->name.ptr, 0, t->name.len))
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: %s: tensor name '%s' has a NUL byte", what, t->name.ptr);
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: tensor '%.*s': n_dims %u not in 1..%d", nl, t->name.ptr, t->n_dims,
                          GGUF_MAX_DIMS);
    int64_t n_elem = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (st = rd(r, &ne, 8, what))) return st;
        if (ne > (uint64_t)INT64_MAX || (ne && (uint64_t)n_elem > (uint64_t)INT64_MAX / ne))
            return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: tensor '%.*s': dimension ne[%u] = %llu is absurd (element count overflows)",
                              nl, t->name.ptr, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        n_elem *= (int64_t)ne;
    }
    if ((st = rd(r, &t->type, 4, what)) || (st = rd(r, &t->offset, 8, what))) return st;
    const ks_dtype_traits *dt = ks_dtype_get(t->type);
    if (!dt) return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: tensor '%.*s': unknown tensor type %u", nl, t->name.ptr, t->type);
    if (t->ne[0] % dt->block_size)
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: tensor '%.*s': ne[0] = %lld is not a multiple of the %s block size %lld",
                          nl, t->name.ptr, (long long)t->ne[0], dt->name, (long long)dt->block_size);
    int64_t row = ks_dtype_row_bytes(t->type, t->ne[0]);
    uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3]; /* no overflow: product of n_elem factors */
    if (row < 0 || (rows && (uint64_t)row > UINT64_MAX / rows))
        return ks_err_set(r->err, KS_ERR_FORMAT, "gguf: tensor '%.*s': byte size overflows", nl, t->name.ptr);
    t->nbytes = (uint64_t)row * rows;
    return KS_OK;
}

static ks_status parse(gguf_ctx *c, ks_err *err) {
    reader r = {.base = c->base, .size = c->size, .pos = 0, .err = err};
    uint32_t magic;
    ks_status st;
    if ((st = rd(&r, &magic, 4, "magic"))) return st;
    if (memcmp(&magic, "GGUF", 4))
        return ks_err_set(err, KS_ERR_FORMAT, "gguf: bad magic 0x%08x (expected 'GGUF')", magic);
    if ((st = rd(&r, &c->version, 4, "version"))) return st;
    if (c->version != 2 && c->version != 3)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "gguf: unsupported version %u (2 and 3 are supported)", c->version);
    uint64_t n_tensors, n_kv;
    if ((st = rd(&r, &n_tensors, 8, "tensor count")) || (st = rd(&r, &n_kv, 8, "metadata count"))) return st;
    /* each kv needs >= 8 (key len) + 4 (type) + 1 bytes; each tensor info >= 8 + 4 + 8 + 4 + 8 */
    if (n_kv > GGUF_MAX_KV || n_kv > c->size)
        return ks_err_set(err, n_kv > GGUF_MAX_KV ? KS_ERR_LIMIT : KS_ERR_FORMAT,
                          "gguf: metadata count %llu is absurd for a file of %llu bytes", (unsigned long long)n_kv,
                          (unsigned long long)c->size);
    if (n_tensors > GGUF_MAX_TENSORS || n_tensors > c->size)
        return ks_err_set(err, n_tensors > GGUF_MAX_TENSORS ? KS_ERR_LIMIT : KS_ERR_FORMAT,
                          "gguf: tensor count %llu is absurd for a file of %llu bytes", (unsigned long long)n_tensors,
                          (unsigned long long)c->size);
    if (n_kv > remaining(&r) / 13 || n_tensors > (remaining(&r) - n_kv * 13) / 32)
        return ks_err_set(err, KS_ERR_TRUNCATED,
                          "gguf: truncated: %llu metadata entries and %llu tensor infos need more than the %llu bytes left",
                          (unsigned long long)n_kv, (unsigned long long)n_tensors, (unsigned long long)remaining(&r));
    c->kv = calloc(n_kv ? n_kv : 1, sizeof *c->kv);
    c->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *c->tensors);
    if (!c->kv || !c->tensors) return ks_err_set(err, KS_ERR_NOMEM, "gguf: out of memory");
    c->alignment = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &c->kv[i];
        char what[64], key[96];
        snprintf(what, sizeof what, "key %llu", (unsigned long long)i);
        c->n_kv = i + 1; /* gguf_close frees what was built */
        uint32_t type;
        if ((st = rd_str(&r, &kv->key, what))) return st;
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr);
        if (memchr(kv->key.ptr, 0, kv->key.len))
            return ks_err_set(err, KS_ERR_FORMAT, "gguf: %s ('%s...') has a NUL byte", what, key);
        if ((st = rd(&r, &type, 4, key)) || (st = rd_value(&r, &kv->value, type, 0, key))) return st;
        if (gguf_str_eq(kv->key, "general.alignment")) {
            if (kv->value.type != GGUF_TYPE_UINT32)
                return ks_err_set(err, KS_ERR_FORMAT, "gguf: general.alignment has type %s, expected u32",
                                  gguf_type_name(kv->value.type));
            uint64_t a = kv->value.v.u64;
            if (a == 0 || (a & (a - 1)))
                return ks_err_set(err, KS_ERR_FORMAT, "gguf: general.alignment %llu is not a power of two", (unsigned long long)a);
            c->alignment = a;
        }
    }
    c->n_kv = n_kv;
    if ((st = check_duplicates(c, false, err))) return st;
    for (uint64_t i = 0; i < n_tensors; i++) {
        c->n_tensors = i + 1;
        if ((st = parse_tensor_info(&r, c, i))) return st;
    }
    c->n_tensors = n_tensors;
    if ((st = check_duplicates(c, true, err))) return st;
    /* data section: aligned offset after the header (may equal the file size when there are no tensors) */
    uint64_t data = r.pos + (c->alignment - r.pos % c->alignment) % c->alignment;
    if (n_tensors && data > c->size)
        return ks_err_set(err, KS_ERR_TRUNCATED, "gguf: truncated: data section starts at %llu, file has %llu bytes",
                          (unsigned long long)data, (unsigned long long)c->size);
    c->data_offset = data > c->size ? c->size : data;
    const uint64_t data_size = c->size - c->data_offset;
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor_info *t = &c->tensors[i];
        const int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
        if (t->offset % c->alignment)
            return ks_err_set(err, KS_ERR_FORMAT, "gguf: tensor '%.*s': offset %llu is not aligned to %llu", nl, t->name.ptr,
                              (unsigned long long)t->offset, (unsigned long long)c->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return ks_err_set(err, t->offset > data_size ? KS_ERR_FORMAT : KS_ERR_TRUNCATED,
                              "gguf: tensor '%.*s' data [offset %llu, %llu bytes] extends past end of file (data section %llu bytes)",
                              nl, t->name.ptr, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                              (unsigned long long)data_size);
        t->data = c->base + c->data_offset + t->offset;
    }
    return check_overlaps(c, err);
}

ks_status gguf_open_memory(const void *buf, size_t size, gguf_ctx **out, ks_err *err) {
    *out = NULL;
    gguf_ctx *c = calloc(1, sizeof *c);
    if (!c) return ks_err_set(err, KS_ERR_NOMEM, "gguf: out of memory");
    c->base = buf;
    c->size = size;
    ks_status st = parse(c, err);
    if (st) {
        gguf_close(c);
        return st;
    }
    *out = c;
    return KS_OK;
}

ks_status gguf_open_file(const char *path, gguf_ctx **out, ks_err *err) {
    *out = NULL;
    ks_mapfile *mf = calloc(1, sizeof *mf);
    if (!mf) return ks_err_set(err, KS_ERR_NOMEM, "gguf: out of memory");
    ks_status st = ks_mapfile_open(mf, path, err);
    if (st) {
        free(mf);
        return st;
    }
    static const uint8_t empty[1];
    st = gguf_open_memory(mf->data ? mf->data : empty, mf->size, out, err);
    if (st) {
        ks_mapfile_close(mf);
        free(mf);
        return st;
    }
    (*out)->priv_ = mf;
    return KS_OK;
}

/* ---- lookups ---- */
const gguf_kv *gguf_find_kv(const gguf_ctx *ctx, const char *key) {
    for (uint64_t i = 0; i < ctx->n_kv; i++)
        if (gguf_str_eq(ctx->kv[i].key, key)) return &ctx->kv[i];
    return NULL;
}

int64_t gguf_find_tensor(const gguf_ctx *ctx, const char *name) {
    for (uint64_t i = 0; i < ctx->n_tensors; i++)
        if (gguf_str_eq(ctx->tensors[i].name, name)) return (int64_t)i;
    return -1;
}

static bool is_signed(gguf_type t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}
static bool is_unsigned(gguf_type t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

static ks_status find(const gguf_ctx *ctx, const char *key, const gguf_kv **kv, ks_err *err) {
    *kv = gguf_find_kv(ctx, key);
    return *kv ? KS_OK : ks_err_set(err, KS_ERR_NOT_FOUND, "gguf: missing key '%s'", key);
}

static ks_status type_err(const char *key, gguf_type t, const char *want, ks_err *err) {
    return ks_err_set(err, KS_ERR_FORMAT, "gguf: key '%s' has type %s, expected %s", key, gguf_type_name(t), want);
}

ks_status gguf_get_u64(const gguf_ctx *ctx, const char *key, uint64_t *out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    const gguf_value *v = &kv->value;
    if (is_unsigned(v->type)) *out = v->v.u64;
    else if (is_signed(v->type) && v->v.i64 >= 0) *out = (uint64_t)v->v.i64;
    else return type_err(key, v->type, "a non-negative integer", err);
    return KS_OK;
}

ks_status gguf_get_i64(const gguf_ctx *ctx, const char *key, int64_t *out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    const gguf_value *v = &kv->value;
    if (is_signed(v->type)) *out = v->v.i64;
    else if (is_unsigned(v->type) && v->v.u64 <= (uint64_t)INT64_MAX) *out = (int64_t)v->v.u64;
    else return type_err(key, v->type, "an integer", err);
    return KS_OK;
}

ks_status gguf_get_f64(const gguf_ctx *ctx, const char *key, double *out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    const gguf_value *v = &kv->value;
    if (v->type == GGUF_TYPE_FLOAT32 || v->type == GGUF_TYPE_FLOAT64) *out = v->v.f64;
    else if (is_signed(v->type)) *out = (double)v->v.i64;
    else if (is_unsigned(v->type)) *out = (double)v->v.u64;
    else return type_err(key, v->type, "a number", err);
    return KS_OK;
}

ks_status gguf_get_bool(const gguf_ctx *ctx, const char *key, bool *out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    if (kv->value.type != GGUF_TYPE_BOOL) return type_err(key, kv->value.type, "bool", err);
    *out = kv->value.v.u64 != 0;
    return KS_OK;
}

ks_status gguf_get_str(const gguf_ctx *ctx, const char *key, gguf_str *out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    if (kv->value.type != GGUF_TYPE_STRING) return type_err(key, kv->value.type, "string", err);
    const char *nul = kv->value.v.str.len ? memchr(kv->value.v.str.ptr, 0, kv->value.v.str.len) : NULL;
    if (nul) /* read as a C string it would be cut: "llama\0gpt2" would load as llama */
        return ks_err_set(err, KS_ERR_FORMAT, "gguf: key '%s': string has a NUL byte at offset %lld", key,
                          (long long)(nul - kv->value.v.str.ptr));
    *out = kv->value.v.str;
    return KS_OK;
}

ks_status gguf_get_arr(const gguf_ctx *ctx, const char *key, const gguf_value **out, ks_err *err) {
    const gguf_kv *kv;
    ks_status st = find(ctx, key, &kv, err);
    if (st) return st;
    if (kv->value.type != GGUF_TYPE_ARRAY) return type_err(key, kv->value.type, "array", err);
    *out = &kv->value;
    return KS_OK;
}

gguf_str gguf_arr_str(const gguf_value *arr, uint64_t i) {
    gguf_str none = {"", 0};
    if (arr->type != GGUF_TYPE_ARRAY || arr->v.arr.elem_type != GGUF_TYPE_STRING || i >= arr->v.arr.n) return none;
    return arr->v.arr.elems[i].v.str;
}

float gguf_arr_f32(const gguf_value *arr, uint64_t i) {
    if (arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n) return 0.0f;
    const uint8_t *p = arr->v.arr.data;
    if (arr->v.arr.elem_type == GGUF_TYPE_FLOAT32) {
        float f;
        memcpy(&f, p + i * 4, 4);
        return f;
    }
    if (arr->v.arr.elem_type == GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, p + i * 8, 8);
        return (float)d;
    }
    return (float)gguf_arr_int(arr, i);
}

int64_t gguf_arr_int(const gguf_value *arr, uint64_t i) {
    if (arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n) return 0;
    const uint8_t *p = arr->v.arr.data;
    switch (arr->v.arr.elem_type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: return p[i];
    case GGUF_TYPE_INT8: return (int8_t)p[i];
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p + i * 2, 2); return x; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p + i * 2, 2); return x; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p + i * 4, 4); return x; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p + i * 4, 4); return x; }
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: { int64_t x; memcpy(&x, p + i * 8, 8); return x; }
    default: return 0;
    }
}

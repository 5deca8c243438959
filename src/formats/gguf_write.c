/* gguf_write.c - GGUF v3 writer. Metadata values are serialised into owned byte
 * blobs as they are set; tensor data is borrowed until gguf_writer_write (or
 * produced then, chunk by chunk, by a fill callback), which writes the whole file
 * to an output opened by the caller (base/outfile.h: a temporary file that the
 * caller renames over the output, so a failed write loses nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "base/outfile.h"
#include "base/progress.h"
#include "formats/gguf.h"
#include "tensor/dtype.h"

typedef struct blob {
    uint8_t *p;
    size_t n, cap;
} blob;

typedef struct wkv {
    char *key;
    blob val; /* u32 type + value bytes */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data; /* borrowed; NULL for a fill tensor */
    gguf_fill_fn fill;
    void *user;
    uint64_t nbytes;
    int64_t row_bytes, n_rows;
} wtensor;

struct gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

static bool put(blob *b, const void *p, size_t n) {
    if (!KS_RESERVE(b->p, b->cap, b->n, n)) return false;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
}
static bool put_u32(blob *b, uint32_t v) { return put(b, &v, 4); }
static bool put_u64(blob *b, uint64_t v) { return put(b, &v, 8); }
static bool put_str(blob *b, const char *s, uint64_t n) { return put_u64(b, n) && put(b, s, (size_t)n); }

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].val.p);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv), free(w->t), free(w);
}

/* the entry for key (new or replaced), with an empty value blob; NULL on OOM */
static blob *slot(gguf_writer *w, const char *key, size_t key_len) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strlen(w->kv[i].key) == key_len && !memcmp(w->kv[i].key, key, key_len)) {
            w->kv[i].val.n = 0;
            return &w->kv[i].val;
        }
    if (!KS_RESERVE(w->kv, w->cap_kv, w->n_kv, 1)) return NULL;
    char *copy = malloc(key_len + 1);
    if (!copy) return NULL;
    memcpy(copy, key, key_len);
    copy[key_len] = '\0';
    w->kv[w->n_kv] = (wkv){copy, {0}};
    return &w->kv[w->n_kv++].val;
}

static ks_status scalar(gguf_writer *w, const char *key, gguf_type t, const void *v, size_t n) {
    blob *b = slot(w, key, strlen(key));
    return b && put_u32(b, t) && put(b, v, n) ? KS_OK : KS_ERR_NOMEM;
}

ks_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) { return scalar(w, key, GGUF_TYPE_UINT32, &v, 4); }
ks_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) { return scalar(w, key, GGUF_TYPE_INT32, &v, 4); }
ks_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) { return scalar(w, key, GGUF_TYPE_UINT64, &v, 8); }
ks_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v) { return scalar(w, key, GGUF_TYPE_FLOAT32, &v, 4); }
ks_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v;
    return scalar(w, key, GGUF_TYPE_BOOL, &b, 1);
}
ks_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    blob *b = slot(w, key, strlen(key));
    return b && put_u32(b, GGUF_TYPE_STRING) && put_str(b, v, strlen(v)) ? KS_OK : KS_ERR_NOMEM;
}

static size_t elem_size(gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

ks_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_type elem_type, const void *data, uint64_t n) {
    const size_t es = elem_size(elem_type);
    if (!es || n > SIZE_MAX / es) return KS_ERR_INVALID_ARG;
    blob *b = slot(w, key, strlen(key));
    return b && put_u32(b, GGUF_TYPE_ARRAY) && put_u32(b, elem_type) && put_u64(b, n) && put(b, data, (size_t)(n * es))
               ? KS_OK
               : KS_ERR_NOMEM;
}

ks_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    blob *b = slot(w, key, strlen(key));
    if (!b || !put_u32(b, GGUF_TYPE_ARRAY) || !put_u32(b, GGUF_TYPE_STRING) || !put_u64(b, n)) return KS_ERR_NOMEM;
    for (uint64_t i = 0; i < n; i++)
        if (!put_str(b, strs[i], strlen(strs[i]))) return KS_ERR_NOMEM;
    return KS_OK;
}

/* value bytes (without the leading type) of a parsed value, recursively */
static bool put_value(blob *b, const gguf_value *v) {
    switch (v->type) {
    case GGUF_TYPE_STRING: return put_str(b, v->v.str.ptr, v->v.str.len);
    case GGUF_TYPE_ARRAY: {
        const gguf_type et = v->v.arr.elem_type;
        if (!put_u32(b, et) || !put_u64(b, v->v.arr.n)) return false;
        if (et == GGUF_TYPE_STRING || et == GGUF_TYPE_ARRAY) {
            for (uint64_t i = 0; i < v->v.arr.n; i++)
                if (!put_value(b, &v->v.arr.elems[i])) return false;
            return true;
        }
        return put(b, v->v.arr.data, (size_t)(v->v.arr.n * elem_size(et)));
    }
    case GGUF_TYPE_FLOAT32: {
        float f = (float)v->v.f64;
        return put(b, &f, 4);
    }
    case GGUF_TYPE_FLOAT64: return put(b, &v->v.f64, 8);
    default: return put(b, &v->v.u64, elem_size(v->type)); /* little-endian low bytes */
    }
}

ks_status gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    blob *b = slot(w, kv->key.ptr, (size_t)kv->key.len);
    return b && put_u32(b, kv->value.type) && put_value(b, &kv->value) ? KS_OK : KS_ERR_NOMEM;
}

/* checks shape and name, appends the entry; t carries data or fill, nbytes < 0: computed */
static ks_status add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims, const int64_t *ne,
                            wtensor t, int64_t nbytes, ks_err *err) {
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: tensor '%s': n_dims %u", name, n_dims);
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] && rows > INT64_MAX / ne[d]))
            return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: tensor '%s': bad shape", name);
        rows *= ne[d];
    }
    const int64_t rb = ks_dtype_row_bytes(ggml_type, ne[0]);
    if (rb < 0 || (rows && rb > INT64_MAX / rows) || (nbytes >= 0 && rb * rows != nbytes))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: tensor '%s': %lld bytes do not match its type and shape",
                          name, (long long)nbytes);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: duplicate tensor '%s'", name);
    if (!KS_RESERVE(w->t, w->cap_t, w->n_t, 1)) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    t.name = strdup(name), t.type = ggml_type, t.n_dims = n_dims;
    t.nbytes = (uint64_t)(rb * rows), t.row_bytes = rb, t.n_rows = rows;
    if (!t.name) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    w->t[w->n_t++] = t;
    return KS_OK;
}

ks_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims,
                                 const int64_t *ne, const void *data, uint64_t nbytes, ks_err *err) {
    if (nbytes > INT64_MAX)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: tensor '%s': %llu bytes", name, (unsigned long long)nbytes);
    return add_tensor(w, name, ggml_type, n_dims, ne, (wtensor){.data = data}, (int64_t)nbytes, err);
}

ks_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims,
                                      const int64_t *ne, gguf_fill_fn fill, void *user, ks_err *err) {
    if (!fill) return ks_err_set(err, KS_ERR_INVALID_ARG, "gguf writer: tensor '%s': no fill function", name);
    return add_tensor(w, name, ggml_type, n_dims, ne, (wtensor){.fill = fill, .user = user}, -1, err);
}

/* writes a fill tensor's bytes through buf (cap bytes, at least one row) */
static ks_status write_filled(ks_outfile *of, const wtensor *t, uint8_t *buf, size_t cap, ks_err *err) {
    int64_t per = t->row_bytes ? (int64_t)(cap / (size_t)t->row_bytes) : t->n_rows;
    if (per < 1) per = 1; /* cap holds at least one row (gguf_writer_write) */
    ks_status st = KS_OK;
    for (int64_t r = 0; r < t->n_rows && !st; r += per) {
        const int64_t n = t->n_rows - r < per ? t->n_rows - r : per;
        st = t->fill(t->user, r, n, buf, err);
        if (!st) st = ks_outfile_write(of, buf, (size_t)(n * t->row_bytes), err);
    }
    return st;
}

static uint64_t alignment_of(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, "general.alignment") && w->kv[i].val.n == 8) {
            uint32_t type, a;
            memcpy(&type, w->kv[i].val.p, 4);
            memcpy(&a, w->kv[i].val.p + 4, 4);
            if (type == GGUF_TYPE_UINT32 && a && !(a & (a - 1))) return a;
        }
    return 32;
}

static ks_status pad(ks_outfile *of, uint64_t *pos, uint64_t align, ks_err *err) {
    static const uint8_t zeros[256];
    while (*pos % align) {
        size_t n = (size_t)(align - *pos % align);
        if (n > sizeof zeros) n = sizeof zeros;
        ks_status st = ks_outfile_write(of, zeros, n, err);
        if (st) return st;
        *pos += n;
    }
    return KS_OK;
}

/* the header (magic, counts, metadata, tensor infos) in h; false on OOM */
static bool build_header(const gguf_writer *w, uint64_t align, blob *h) {
    bool ok = put(h, "GGUF", 4) && put_u32(h, 3) && put_u64(h, w->n_t) && put_u64(h, w->n_kv);
    for (size_t i = 0; ok && i < w->n_kv; i++)
        ok = put_str(h, w->kv[i].key, strlen(w->kv[i].key)) && put(h, w->kv[i].val.p, w->kv[i].val.n);
    uint64_t off = 0;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ok = put_str(h, t->name, strlen(t->name)) && put_u32(h, t->n_dims);
        for (uint32_t d = 0; ok && d < t->n_dims; d++) ok = put_u64(h, (uint64_t)t->ne[d]);
        ok = ok && put_u32(h, t->type) && put_u64(h, off);
        off += (t->nbytes + align - 1) / align * align;
    }
    return ok;
}

ks_status gguf_writer_write(gguf_writer *w, ks_outfile *of, ks_err *err) {
    const uint64_t align = alignment_of(w);
    blob h = {0};
    if (!build_header(w, align, &h)) {
        free(h.p);
        return ks_err_set(err, KS_ERR_NOMEM, "gguf writer: out of memory");
    }
    uint64_t total = (h.n + align - 1) / align * align;
    for (size_t i = 0; i < w->n_t; i++) total += (w->t[i].nbytes + align - 1) / align * align;
    ks_status st = ks_outfile_check_space(of, total, err);
    if (st) {
        free(h.p);
        return st;
    }
    /* one chunk buffer for the fill tensors: GGUF_FILL_CHUNK, or the largest row above it */
    size_t cap = 0;
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].fill) {
            size_t need = (size_t)w->t[i].row_bytes > GGUF_FILL_CHUNK ? (size_t)w->t[i].row_bytes : GGUF_FILL_CHUNK;
            if ((uint64_t)need > w->t[i].nbytes) need = (size_t)w->t[i].nbytes;
            if (need > cap) cap = need;
        }
    uint8_t *buf = cap ? malloc(cap) : NULL;
    if (cap && !buf) st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    uint64_t pos = h.n;
    if (!st) st = ks_outfile_write(of, h.p, h.n, err);
    if (!st) st = pad(of, &pos, align, err);
    for (size_t i = 0; !st && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        st = t->fill ? write_filled(of, t, buf, cap, err) : ks_outfile_write(of, t->data, (size_t)t->nbytes, err);
        pos += t->nbytes;
        if (!st) st = pad(of, &pos, align, err);
        if (!st && !ks_progress_report(total ? (double)(pos - h.n) / (double)total : 1.0)) /* base/progress.h */
            st = ks_err_set(err, KS_ERR_ABORTED, "writing the GGUF cancelled by the progress callback");
    }
    free(buf);
    free(h.p);
    return st;
}

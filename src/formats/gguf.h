/* gguf.h - GGUF reader (versions 2 and 3) and writer.
 *
 * Byte layout (little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv   (v1 used u32 counts: rejected)
 *   n_kv x { str key | u32 type | value }
 *       str   = u64 len | len bytes (not NUL-terminated)
 *       array = u32 elem_type | u64 n | n values (arrays may nest)
 *   n_tensors x { str name | u32 n_dims (<=4) | n_dims x u64 ne | u32 ggml_type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data (offsets relative to here)
 *
 * Every count, length, dimension, offset and size product is checked against
 * the file size (with overflow checks) in gguf_open_*; afterwards the rest of
 * the engine may trust the context. All pointers returned (strings, array data,
 * tensor data) point into the mapping/buffer and are borrowed: valid until
 * gguf_close.
 */
#ifndef KS_GGUF_H
#define KS_GGUF_H
#include "kestrel.h"

typedef enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

/* A string inside the file: NOT NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_value gguf_value;
struct gguf_value {
    gguf_type type;
    union {
        uint64_t u64; /* UINT8..UINT64 and BOOL, zero-extended */
        int64_t i64;  /* INT8..INT64, sign-extended */
        double f64;   /* FLOAT32 / FLOAT64 */
        gguf_str str; /* STRING */
        struct {
            gguf_type elem_type;
            uint64_t n;
            const uint8_t *data; /* raw little-endian elements for fixed-size types */
            gguf_value *elems;   /* owned, n entries, for STRING and ARRAY elements; else NULL */
        } arr;
    } v;
};

typedef struct gguf_kv {
    gguf_str key;
    gguf_value value;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor_info {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* innermost first; unused dims are 1 */
    uint32_t type;             /* ggml type id (see tensor/dtype.h) */
    uint64_t offset;           /* relative to the data section */
    uint64_t nbytes;           /* validated: offset + nbytes <= data section size */
    const void *data;          /* into the mapping */
} gguf_tensor_info;

typedef struct gguf_ctx {
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv; /* owned */
    uint64_t n_tensors;
    gguf_tensor_info *tensors; /* owned */
    uint64_t alignment;
    uint64_t data_offset; /* file offset of the data section */
    const uint8_t *base;  /* whole file */
    uint64_t size;
    void *priv_; /* owned mapping, if opened from a file */
} gguf_ctx;

/* Limits applied while parsing (anything above is KS_ERR_LIMIT). */
#define GGUF_MAX_KV 1000000ULL
#define GGUF_MAX_TENSORS 1000000ULL
#define GGUF_MAX_ARRAY_DEPTH 8
#define GGUF_MAX_NAME 64 /* tensor names are shorter (llama.cpp's GGML_MAX_NAME); keys and names hold no NUL */

/* Opens and validates a GGUF file (mmap). On success *out is an owned context
 * (free with gguf_close). On failure *out is NULL and err says what and where. */
ks_status gguf_open_file(const char *path, gguf_ctx **out, ks_err *err);
/* Same, from a caller-owned buffer that must outlive the context. */
ks_status gguf_open_memory(const void *buf, size_t size, gguf_ctx **out, ks_err *err);
void gguf_close(gguf_ctx *ctx);

/* Lookups (borrowed results; NULL / -1 when absent). */
const gguf_kv *gguf_find_kv(const gguf_ctx *ctx, const char *key);
int64_t gguf_find_tensor(const gguf_ctx *ctx, const char *name);

/* Typed getters: return KS_ERR_NOT_FOUND if absent, KS_ERR_FORMAT if the type
 * does not convert (integers convert between widths when the value fits).
 * gguf_get_str also fails (KS_ERR_FORMAT) on a string holding a NUL byte: its
 * callers use the value as a C string (architecture, tokenizer model, chat
 * template). Strings in arrays (token texts, merges) are length-counted and
 * may hold NUL. */
ks_status gguf_get_u64(const gguf_ctx *ctx, const char *key, uint64_t *out, ks_err *err);
ks_status gguf_get_i64(const gguf_ctx *ctx, const char *key, int64_t *out, ks_err *err);
ks_status gguf_get_f64(const gguf_ctx *ctx, const char *key, double *out, ks_err *err);
ks_status gguf_get_bool(const gguf_ctx *ctx, const char *key, bool *out, ks_err *err);
ks_status gguf_get_str(const gguf_ctx *ctx, const char *key, gguf_str *out, ks_err *err);
/* An array value (any element type). */
ks_status gguf_get_arr(const gguf_ctx *ctx, const char *key, const gguf_value **out, ks_err *err);

/* Element access on an ARRAY value (caller checks i < n and elem type). */
gguf_str gguf_arr_str(const gguf_value *arr, uint64_t i);
float gguf_arr_f32(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_int(const gguf_value *arr, uint64_t i); /* any integer elem type */

const char *gguf_type_name(gguf_type t);
/* Compares a gguf_str with a C string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* ---- writer ---- */
typedef struct gguf_writer gguf_writer;
gguf_writer *gguf_writer_new(void); /* NULL on OOM */
void gguf_writer_free(gguf_writer *w);
/* Values are copied. Keys must be unique (later set replaces earlier). */
ks_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
ks_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
ks_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
ks_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
ks_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
ks_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Array of fixed-size elements (elem_type not STRING/ARRAY); data copied. */
ks_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_type elem_type, const void *data, uint64_t n);
ks_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copies a key/value from a reader context (any type, nested arrays included). */
ks_status gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);
/* Tensor data is borrowed until gguf_writer_write; nbytes must match type and shape. */
ks_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims,
                                 const int64_t *ne, const void *data, uint64_t nbytes, ks_err *err);
/* A tensor whose bytes are produced while the file is written, so a converter
 * holds one chunk at a time instead of the whole model: fill(user, row0, n_rows,
 * dst, err) must write rows [row0, row0 + n_rows) (a row is ne[0] elements of
 * ggml_type) to dst and return KS_OK, or fail with err filled, which makes
 * gguf_writer_write fail with that status (the caller then discards the output). The
 * writer calls fill in row order with chunks of at most GGUF_FILL_CHUNK bytes
 * (or one row, if a row is larger). user is borrowed until gguf_writer_write. */
typedef ks_status (*gguf_fill_fn)(void *user, int64_t row0, int64_t n_rows, void *dst, ks_err *err);
#define GGUF_FILL_CHUNK ((size_t)4 << 20)
ks_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims,
                                      const int64_t *ne, gguf_fill_fn fill, void *user, ks_err *err);
/* Writes the whole file to of (base/outfile.h: opened by the caller, who commits it on
 * KS_OK and discards it otherwise). KS_ERR_IO with the OS reason on a write error. */
struct ks_outfile;
ks_status gguf_writer_write(gguf_writer *w, struct ks_outfile *of, ks_err *err);
#endif

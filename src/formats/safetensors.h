/* safetensors.h - reader of Hugging Face's safetensors weight files.
 *
 * Byte layout:
 *   u64 N (little-endian) | N bytes of JSON (UTF-8, may end in spaces) | data section
 *   JSON = { "__metadata__": { "key": "string value", ... },          (optional)
 *            "NAME": { "dtype": "F32", "shape": [d0, d1, ...],         (outermost first)
 *                      "data_offsets": [begin, end] }, ... }           (relative to the data section)
 *
 * st_open_* checks the header length against the file, parses the JSON (cJSON)
 * from a NUL-terminated copy, and validates every tensor: a known dtype, at most
 * ST_MAX_DIMS non-negative dimensions, begin <= end <= data section size,
 * (end - begin) == product(shape) * dtype size (overflow-checked), no two
 * tensors' bytes overlapping, unique names. Holes between tensors and bytes
 * after the last one are allowed (the reference reader is stricter; nothing
 * is lost by accepting them). Afterwards every st_tensor may be trusted.
 *
 * Shapes stay outermost-first here, as in the file; the converter reverses
 * them into GGUF order (innermost first) at the edge.
 */
#ifndef KS_SAFETENSORS_H
#define KS_SAFETENSORS_H
#include "kestrel.h"

/* Every dtype the format defines (so sizes can be checked); only F32, F16
 * and BF16 are converted (st_dtype_ggml). */
typedef enum st_dtype {
    ST_DTYPE_BOOL,
    ST_DTYPE_U8,
    ST_DTYPE_I8,
    ST_DTYPE_F8_E5M2,
    ST_DTYPE_F8_E4M3,
    ST_DTYPE_I16,
    ST_DTYPE_U16,
    ST_DTYPE_F16,
    ST_DTYPE_BF16,
    ST_DTYPE_I32,
    ST_DTYPE_U32,
    ST_DTYPE_F32,
    ST_DTYPE_F64,
    ST_DTYPE_I64,
    ST_DTYPE_U64,
    ST_DTYPE_COUNT
} st_dtype;

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* as the reference implementation: larger is KS_ERR_LIMIT */
#define ST_MAX_TENSORS 1000000

typedef struct st_tensor {
    const char *name; /* owned by the context, NUL-terminated */
    st_dtype dtype;
    uint32_t n_dims;               /* 0 = scalar */
    int64_t shape[ST_MAX_DIMS];    /* outermost first; unused entries 1 */
    int64_t n_elem;                /* product of shape (1 for a scalar) */
    uint64_t offset, nbytes;       /* relative to the data section */
    const uint8_t *data;           /* borrowed: into the file, nbytes long */
} st_tensor;

typedef struct st_ctx {
    size_t n_tensors;
    st_tensor *tensors; /* owned, sorted by name (strcmp) */
    size_t n_meta;
    const char **meta_keys, **meta_vals; /* owned: __metadata__ entries, in file order */
    uint64_t data_offset;                /* 8 + N */
    const uint8_t *base;                 /* whole file */
    uint64_t size;
    void *priv_; /* owned: strings, parsed JSON, mapping */
} st_ctx;

/* Maps and validates path. On success *out is an owned context (st_close).
 * Errors: KS_ERR_IO (cannot open), KS_ERR_TRUNCATED (file shorter than the
 * header or a tensor says), KS_ERR_FORMAT (bad JSON or entry, overlap,
 * size mismatch), KS_ERR_UNSUPPORTED (unknown dtype), KS_ERR_LIMIT (header
 * larger than ST_MAX_HEADER, too many tensors or dims), KS_ERR_NOMEM; *out
 * is then NULL and err names the file, tensor and field. */
ks_status st_open_file(const char *path, st_ctx **out, ks_err *err);
/* Same on a caller-owned buffer, which must outlive the context. */
ks_status st_open_memory(const void *buf, size_t size, st_ctx **out, ks_err *err);
void st_close(st_ctx *ctx);

/* The tensor called name (borrowed), or NULL. */
const st_tensor *st_find(const st_ctx *ctx, const char *name);
/* The __metadata__ value of key (borrowed), or NULL. */
const char *st_meta_get(const st_ctx *ctx, const char *key);

/* "F32", "BF16", ... */
const char *st_dtype_name(st_dtype t);
/* Bytes per element (1 for the F8 types and BOOL). */
size_t st_dtype_size(st_dtype t);
/* The ggml type id (tensor/dtype.h) for F32, F16 and BF16; -1 for the others. */
int st_dtype_ggml(st_dtype t);
#endif

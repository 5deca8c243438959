/* quantize.c - GGUF-to-GGUF type conversion (see quantize.h). Output buffers are
 * owned here until the writer has written them. */
#include "model/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mapfile.h"
#include "formats/gguf.h"
#include "tensor/dtype.h"

static const struct {
    const char *name;
    int type;
    uint32_t ftype; /* llama.cpp's llama_ftype */
} targets[] = {
    {"F32", KS_DTYPE_F32, 0}, {"F16", KS_DTYPE_F16, 1},   {"Q4_0", KS_DTYPE_Q4_0, 2},
    {"Q4_1", KS_DTYPE_Q4_1, 3}, {"Q8_0", KS_DTYPE_Q8_0, 7}, {"BF16", KS_DTYPE_BF16, 32},
};

int ks_quantize_type_from_name(const char *name) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcasecmp(name, targets[i].name)) return targets[i].type;
    return -1;
}

static uint32_t ftype_of(int type) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (targets[i].type == type) return targets[i].ftype;
    return 0;
}

/* the type tensor t gets in the output */
static uint32_t out_type(const gguf_tensor_info *t, int target) {
    if (t->n_dims < 2) return KS_DTYPE_F32;
    const bool four_bit = target == KS_DTYPE_Q4_0 || target == KS_DTYPE_Q4_1;
    if (four_bit && (gguf_str_eq(t->name, "token_embd.weight") || gguf_str_eq(t->name, "output.weight")))
        return KS_DTYPE_Q8_0;
    const ks_dtype_traits *tt = ks_dtype_get((uint32_t)target);
    if (t->ne[0] % tt->block_size) return KS_DTYPE_F16; /* rows that do not fill blocks */
    return (uint32_t)target;
}

/* bytes of all output tensors: the writer holds every converted tensor until it writes the file */
static double out_bytes_total(const gguf_ctx *g, int target) {
    double total = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor_info *t = &g->tensors[i];
        total += (double)ks_dtype_row_bytes(out_type(t, target), t->ne[0]) * (double)(t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return total;
}

ks_status ks_quantize_file(const char *in_path, const char *out_path, int target, ks_quantize_stats *stats,
                           ks_err *err) {
    ks_quantize_stats st0 = {0};
    if (!ks_dtype_get((uint32_t)target) || (!ftype_of(target) && target != KS_DTYPE_F32))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "quantize: unsupported target type %d", target);
    gguf_ctx *g = NULL;
    ks_status st = gguf_open_file(in_path, &g, err);
    if (st) return st;
    const double need = out_bytes_total(g, target), avail = (double)ks_mem_available();
    if (avail > 0 && need > avail) {
        st = ks_err_set(err, KS_ERR_LIMIT, "quantize: the output tensors need %.2f GiB but only %.2f GiB of memory is available",
                        need / 1073741824.0, avail / 1073741824.0);
        gguf_close(g);
        return st;
    }
    gguf_writer *w = gguf_writer_new();
    void **bufs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *bufs);
    float *row = NULL;
    if (!w || !bufs) {
        st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < g->n_kv && !st; i++)
        if (!gguf_str_eq(g->kv[i].key, "general.file_type")) st = gguf_writer_copy_kv(w, &g->kv[i]);
    if (!st) st = gguf_writer_set_u32(w, "general.file_type", ftype_of(target));
    if (st) {
        st = ks_err_set(err, st, "quantize: out of memory copying metadata");
        goto done;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor_info *t = &g->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.ptr);
        const ks_dtype_traits *src = ks_dtype_get(t->type);
        if (!src->to_float) {
            st = ks_err_set(err, KS_ERR_UNSUPPORTED, "quantize: tensor '%s' has type %s, which Kestrel cannot read", name,
                            src->name);
            goto done;
        }
        const uint32_t ot = out_type(t, target);
        const ks_dtype_traits *dst = ks_dtype_get(ot);
        const int64_t ne0 = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
        const int64_t in_rb = ks_dtype_row_bytes(t->type, ne0), out_rb = ks_dtype_row_bytes(ot, ne0);
        const uint64_t nbytes = (uint64_t)out_rb * (uint64_t)rows;
        bufs[i] = malloc(nbytes ? nbytes : 1);
        float *r = realloc(row, (size_t)ne0 * sizeof *row + 1);
        if (!bufs[i] || !r) {
            st = ks_err_set(err, KS_ERR_NOMEM, "quantize: out of memory for tensor '%s' (%llu bytes)", name,
                            (unsigned long long)nbytes);
            goto done;
        }
        row = r;
        if (ot == t->type) {
            memcpy(bufs[i], t->data, nbytes);
        } else {
            for (int64_t k = 0; k < rows; k++) {
                src->to_float((const uint8_t *)t->data + k * in_rb, row, ne0);
                dst->from_float(row, (uint8_t *)bufs[i] + k * out_rb, ne0);
            }
            st0.n_quantized++;
        }
        st0.n_tensors++;
        st0.bytes_in += t->nbytes, st0.bytes_out += nbytes;
        if ((st = gguf_writer_add_tensor(w, name, ot, t->n_dims, t->ne, bufs[i], nbytes, err))) goto done;
    }
    st = gguf_writer_write(w, out_path, err);
done:
    if (bufs)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(bufs[i]);
    free(bufs);
    free(row);
    gguf_writer_free(w);
    gguf_close(g);
    if (stats) *stats = st0;
    return st;
}

/* fuzz_safetensors.c - libFuzzer target: the safetensors reader on arbitrary
 * bytes, then every tensor it accepted is looked up by name and read at its
 * first and last byte (which must lie inside the input), F32/F16/BF16 rows
 * converted to float, and the metadata looked up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"
#include "tensor/dtype.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_ctx *ctx = NULL;
    ks_err err;
    if (st_open_memory(data, size, &ctx, &err) != KS_OK) return 0;
    float row[64];
    for (size_t i = 0; i < ctx->n_tensors; i++) {
        const st_tensor *t = &ctx->tensors[i];
        if (st_find(ctx, t->name) != t) abort(); /* names are unique and sorted */
        if (t->nbytes) {
            if (t->data < data || t->data + t->nbytes > data + size) abort();
            sink += t->data[0] + t->data[t->nbytes - 1];
        }
        const int g = st_dtype_ggml(t->dtype);
        if (g >= 0 && t->n_elem) {
            const int64_t n = t->n_elem < 64 ? t->n_elem : 64;
            uint8_t buf[64 * 4];
            memcpy(buf, t->data, (size_t)n * st_dtype_size(t->dtype));
            ks_dtype_get((uint32_t)g)->to_float(buf, row, n);
            uint32_t bits;
            memcpy(&bits, &row[n - 1], 4);
            sink += bits;
        }
    }
    for (size_t i = 0; i < ctx->n_meta; i++) sink += strlen(st_meta_get(ctx, ctx->meta_keys[i]));
    st_close(ctx);
    return 0;
}

/* test_safetensors.c - the safetensors reader: a valid file parses with the
 * right table; every class of bad header (truncation, header length beyond
 * the file, bad JSON, bad entries, offsets out of range or overlapping, shape
 * and byte count disagreeing, unknown dtype, limits) fails with its status and
 * a message naming the problem, never a crash (the suite also runs under ASan).
 * Also the real shards of tests/data/hf-tiny-llama, cut at every length. */
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "formats/safetensors.h"
#include "ks_test.h"

/* a file: 8-byte header length | header | data (size data_len, bytes 0..) */
static uint8_t *make(const char *header, size_t data_len, size_t *size) {
    const size_t h = strlen(header);
    *size = 8 + h + data_len;
    uint8_t *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (uint8_t)i;
    return b;
}

/* parses header + data_len bytes; returns the status, err filled */
static ks_status try_header(const char *header, size_t data_len, ks_err *err) {
    size_t size;
    uint8_t *b = make(header, data_len, &size);
    st_ctx *ctx = NULL;
    ks_status st = st_open_memory(b, size, &ctx, err);
    if (st == KS_OK) CHECK(ctx != NULL, "ctx on success");
    else CHECK(ctx == NULL, "ctx NULL on failure");
    st_close(ctx);
    free(b);
    return st;
}

static void valid_file(void) {
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"b.weight\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
                    "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"c.empty\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[28,28]},"
                    "\"d.scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[28,36]}}   ";
    size_t size;
    uint8_t *b = make(h, 36, &size);
    st_ctx *ctx = NULL;
    ks_err err = {0};
    ks_status st = st_open_memory(b, size, &ctx, &err);
    CHECK(st == KS_OK, "valid file: %s", err.msg);
    if (!st) {
        CHECK(ctx->n_tensors == 4, "4 tensors, got %zu", ctx->n_tensors);
        CHECK(!strcmp(ctx->tensors[0].name, "a.weight") && !strcmp(ctx->tensors[3].name, "d.scalar"), "sorted by name");
        const st_tensor *t = st_find(ctx, "b.weight");
        CHECK(t && t->dtype == ST_DTYPE_F16 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->n_elem == 6 &&
                  t->nbytes == 12 && t->data == b + 8 + strlen(h) + 16,
              "b.weight fields");
        t = st_find(ctx, "d.scalar");
        CHECK(t && t->n_dims == 0 && t->n_elem == 1 && t->nbytes == 8 && st_dtype_ggml(t->dtype) == -1, "scalar I64");
        CHECK(st_find(ctx, "zz") == NULL && st_find(ctx, "a") == NULL, "absent names");
        CHECK(st_meta_get(ctx, "format") && !strcmp(st_meta_get(ctx, "format"), "pt"), "metadata");
        CHECK(st_dtype_ggml(ST_DTYPE_BF16) == 30 && st_dtype_ggml(ST_DTYPE_F32) == 0, "ggml ids");
    }
    st_close(ctx);
    /* every truncation fails cleanly: TRUNCATED (header or data cut) */
    int bad = 0;
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, b, cut);
        st_ctx *c2 = NULL;
        if (st_open_memory(copy, cut, &c2, &err) != KS_ERR_TRUNCATED) bad++;
        st_close(c2);
        free(copy);
    }
    CHECK(bad == 0, "%d truncations of the valid file not reported as truncated", bad);
    free(b);
}

static void bad_headers(void) {
    static const struct {
        const char *header;
        size_t data_len;
        ks_status want;
        const char *word;
    } cases[] = {
        {"[1,2]", 0, KS_ERR_FORMAT, "start with '{'"},
        {"{", 0, KS_ERR_FORMAT, "start with '{'"},
        {"{\"a\":", 0, KS_ERR_FORMAT, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, KS_ERR_FORMAT, "not valid JSON"},
        {"{\"a\":[]}", 0, KS_ERR_FORMAT, "not an object"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "dtype"},
        {"{\"a\":{\"dtype\":\"F4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, KS_ERR_UNSUPPORTED, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, KS_ERR_LIMIT, "dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740993],\"data_offsets\":[0,4]}}", 4, KS_ERR_FORMAT, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, KS_ERR_FORMAT, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, KS_ERR_FORMAT, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, KS_ERR_FORMAT, "end before"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, KS_ERR_TRUNCATED, "past the end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1000000,1000004]}}", 4, KS_ERR_TRUNCATED, "past the end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, KS_ERR_FORMAT, "bytes of data"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, KS_ERR_FORMAT, "bytes of data"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, KS_ERR_FORMAT, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         16, KS_ERR_FORMAT, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, KS_ERR_FORMAT, "duplicate"},
        {"{\"__metadata__\":{\"k\":1}}", 0, KS_ERR_FORMAT, "__metadata__"},
        {"{\"__metadata__\":[]}", 0, KS_ERR_FORMAT, "__metadata__"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, KS_ERR_FORMAT, "two __metadata__"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_err err = {0};
        ks_status st = try_header(cases[i].header, cases[i].data_len, &err);
        CHECK(st == cases[i].want && strstr(err.msg, cases[i].word), "case %zu: status %d (want %d), msg '%s'", i, st,
              cases[i].want, err.msg);
    }
    /* holes between tensors and trailing bytes are accepted; an empty tensor overlaps nothing */
    ks_err err = {0};
    CHECK(try_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
                     "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[5,5]}}", 10, &err) == KS_OK,
          "holes: %s", err.msg);
    CHECK(try_header("{}", 0, &err) == KS_OK, "empty table: %s", err.msg);
}

static void bad_lengths(void) {
    ks_err err = {0};
    st_ctx *ctx = NULL;
    uint8_t b[16] = {0};
    CHECK(st_open_memory(b, 0, &ctx, &err) == KS_ERR_TRUNCATED && strstr(err.msg, "too short"), "empty: %s", err.msg);
    CHECK(st_open_memory(b, 7, &ctx, &err) == KS_ERR_TRUNCATED, "7 bytes: %s", err.msg);
    b[0] = 9; /* header of 9 bytes, 8 follow */
    CHECK(st_open_memory(b, 16, &ctx, &err) == KS_ERR_TRUNCATED && strstr(err.msg, "exceeds the 8 bytes"), "length beyond file: %s", err.msg);
    memset(b, 0xff, 8); /* 2^64 - 1 */
    CHECK(st_open_memory(b, 16, &ctx, &err) == KS_ERR_TRUNCATED, "huge length: %s", err.msg);
    memcpy(b, "GGUF\3\0\0\0", 8);
    CHECK(st_open_memory(b, 16, &ctx, &err) == KS_ERR_TRUNCATED && strstr(err.msg, "not a safetensors"), "GGUF file: %s", err.msg);
    uint8_t nul[8 + 4] = {4, 0, 0, 0, 0, 0, 0, 0, '{', 0, '}', ' '};
    CHECK(st_open_memory(nul, sizeof nul, &ctx, &err) == KS_ERR_FORMAT && strstr(err.msg, "NUL"), "NUL in header: %s", err.msg);
    /* a header longer than the limit, in a file that has it */
    const size_t n = (size_t)ST_MAX_HEADER + 16;
    uint8_t *big = calloc(1, n);
    const uint64_t h = ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) big[i] = (uint8_t)(h >> (8 * i));
    CHECK(st_open_memory(big, n, &ctx, &err) == KS_ERR_LIMIT && strstr(err.msg, "limit"), "header limit: %s", err.msg);
    free(big);
    CHECK(st_open_file("/nonexistent/model.safetensors", &ctx, &err) == KS_ERR_IO && ctx == NULL, "missing file: %s", err.msg);
}

/* the committed shards: open, and every cut fails cleanly */
static void real_shards(void) {
    const char *src = ks_test_env("KS_SRC_DIR", "..");
    const char *names[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    size_t n_total = 0;
    for (int s = 0; s < 2; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/hf-tiny-llama/%s", src, names[s]);
        ks_err err = {0};
        st_ctx *ctx = NULL;
        ks_status st = st_open_file(path, &ctx, &err);
        CHECK(st == KS_OK, "%s: %s", path, err.msg);
        if (st) continue;
        n_total += ctx->n_tensors;
        for (size_t i = 0; i < ctx->n_tensors; i++)
            CHECK(ctx->tensors[i].dtype == ST_DTYPE_BF16, "%s is BF16", ctx->tensors[i].name);
        const size_t size = ctx->size;
        const uint8_t *base = ctx->base;
        int bad = 0;
        for (size_t cut = 0; cut < size; cut += cut < 600 ? 1 : 509) {
            uint8_t *copy = malloc(cut + 1);
            memcpy(copy, base, cut);
            st_ctx *c2 = NULL;
            if (st_open_memory(copy, cut, &c2, &err) != KS_ERR_TRUNCATED) bad++;
            st_close(c2);
            free(copy);
        }
        CHECK(bad == 0, "%s: %d cuts not reported as truncated", names[s], bad);
        st_close(ctx);
    }
    CHECK(n_total == 20, "20 tensors in the two shards, got %zu", n_total);
}

int main(void) {
    valid_file();
    bad_headers();
    bad_lengths();
    real_shards();
    TEST_DONE();
}

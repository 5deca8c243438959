/* test_llama2c.c - llama2.c checkpoint validation: the real stories260K file
 * parses with the layout its README documents; truncations and absurd headers
 * fail with a clear status, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"
#include "formats/llama2c.h"
#include "ks_test.h"

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/llama2c/stories260K.bin", ks_test_env("KS_SHARED_DIR", "../shared"));
    uint8_t *data = NULL;
    size_t size = 0;
    ks_err err = {0};
    ks_status st = ks_file_read_all(path, &data, &size, &err);
    CHECK(st == KS_OK, "read %s: %s", path, err.msg);
    if (st) TEST_DONE();
    llama2c_layout L;
    st = llama2c_parse(data, size, &L, &err);
    CHECK(st == KS_OK, "parse: %s", err.msg);
    CHECK(L.dim == 64 && L.hidden_dim == 172 && L.n_layers == 5 && L.n_heads == 8 && L.n_kv_heads == 4 &&
              L.vocab_size == 512 && L.seq_len == 512 && L.shared_classifier,
          "header fields");
    CHECK(L.total_bytes == size, "size implied %llu vs file %zu", (unsigned long long)L.total_bytes, size);
    /* every truncation fails with TRUNCATED */
    int bad = 0;
    for (size_t cut = 0; cut < size; cut += (cut < 64 ? 1 : 997)) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, data, cut);
        ks_status s = llama2c_parse(copy, cut, &L, &err);
        if (s != KS_ERR_TRUNCATED) bad++;
        free(copy);
    }
    CHECK(bad == 0, "%d truncations not reported as truncated", bad);
    /* absurd headers */
    const struct { int field; int32_t value; const char *word; } cases[] = {
        {0, 0, "dim"}, {0, -5, "dim"}, {0, 0x7fffffff, "dim"}, {1, -1, "hidden_dim"}, {2, 1 << 30, "n_layers"},
        {3, 7, "n_heads"}, {4, 3, "n_kv_heads"}, {5, 0, "vocab_size"}, {5, INT32_MIN, "vocab_size"},
        {6, 0, "seq_len"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t hdr[28];
        memcpy(hdr, data, 28);
        memcpy(hdr + 4 * cases[i].field, &cases[i].value, 4);
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        memcpy(copy, hdr, 28);
        ks_status s = llama2c_parse(copy, size, &L, &err);
        CHECK(s == KS_ERR_FORMAT && strstr(err.msg, cases[i].word), "case %zu: status %d msg '%s'", i, s, err.msg);
        free(copy);
    }
    /* a separate classifier (negative vocab) makes the same file too short */
    int32_t neg = -512;
    memcpy(data + 20, &neg, 4);
    st = llama2c_parse(data, size, &L, &err);
    CHECK(st == KS_ERR_TRUNCATED, "negative vocab: %s", err.msg);
    free(data);
    TEST_DONE();
}

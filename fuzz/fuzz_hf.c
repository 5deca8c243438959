/* fuzz_hf.c - libFuzzer target: a whole Hugging Face folder from one input,
 *   config.json NUL tokenizer.json NUL tokenizer_config.json NUL model.safetensors
 * (missing parts: files absent), written to a private temporary folder and
 * converted to GGUF (ks_hf_convert), which must then open as a valid GGUF.
 * JSON never contains NUL, so the separators cannot collide with the parts;
 * the safetensors part is last and may hold any bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "formats/hf.h"

static char dir[64], out[96];
static const char *const names[4] = {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/ks_fuzz_hf_XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(out, sizeof out, "%s.gguf", dir);
    return 0;
}

static void put(int i, const uint8_t *p, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        remove(path);
        if (pos > size || (pos == size && i < 3)) continue;
        const uint8_t *nul = i < 3 ? memchr(data + pos, 0, size - pos) : NULL;
        const size_t n = nul ? (size_t)(nul - (data + pos)) : size - pos;
        put(i, data + pos, n);
        pos += n + 1;
    }
    ks_err err;
    if (ks_hf_convert(dir, out, KS_HF_OUT_AUTO, NULL, &err) == KS_OK) {
        gguf_ctx *g = NULL;
        if (gguf_open_file(out, &g, &err) != KS_OK) abort(); /* what we write, we can read */
        gguf_close(g);
        remove(out);
    }
    return 0;
}

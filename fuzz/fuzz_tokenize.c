/* fuzz_tokenize.c - libFuzzer target: tokenize arbitrary bytes with real
 * vocabularies (byte-level BPE and SentencePiece), special-token parsing on and
 * off, then stream the ids back through the detokenizer. Byte-level BPE must
 * round-trip the input exactly. Vocabularies: $KS_FUZZ_VOCABS (colon-separated
 * GGUF paths), default the two shared test vocabularies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

#define MAX_VOCABS 4
static ks_tokenizer *toks[MAX_VOCABS];
static int n_toks;

static void load(const char *path) {
    gguf_ctx *g = NULL;
    ks_err err;
    if (n_toks == MAX_VOCABS || gguf_open_file(path, &g, &err) != KS_OK) {
        fprintf(stderr, "fuzz_tokenize: cannot load %s\n", path);
        return;
    }
    if (ks_tokenizer_from_gguf(g, &toks[n_toks], &err) == KS_OK) n_toks++;
    else fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, err.msg);
    gguf_close(g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *env = getenv("KS_FUZZ_VOCABS");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s",
             env ? env : "../shared/testdata/tokenizers/ggml-vocab-gpt-2.gguf:../shared/testdata/tokenizers/ggml-vocab-llama-spm.gguf");
    for (char *p = strtok(buf, ":"); p; p = strtok(NULL, ":")) load(p);
    if (!n_toks) abort(); /* a fuzz run without a vocabulary tests nothing */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    for (int v = 0; v < n_toks; v++) {
        for (int special = 0; special < 2; special++) {
            int32_t *ids = NULL;
            size_t n = 0;
            ks_err err;
            if (ks_tokenize(toks[v], (const char *)data, size, special, special, &ids, &n, &err) != KS_OK) continue;
            char *out = malloc(n * 80 + 64);
            size_t len = 0;
            ks_detok_stream ds;
            ks_detok_stream_init(&ds);
            for (size_t i = 0; i < n; i++) {
                int64_t w = ks_detok_stream_push(&ds, toks[v], ids[i], out + len, 80);
                if (w > 0) len += (size_t)w;
            }
            int64_t w = ks_detok_stream_flush(&ds, out + len, 64);
            if (w > 0) len += (size_t)w;
            /* byte-level BPE without special parsing is lossless */
            if (!special && ks_tokenizer_type(toks[v]) == KS_TOK_BPE && (len != size || memcmp(out, data, size)))
                abort();
            free(out);
            free(ids);
        }
    }
    return 0;
}

/* fuzz_tokenize.c - libFuzzer target: tokenize arbitrary bytes with real
 * vocabularies (byte-level BPE and SentencePiece), special-token parsing on and
 * off, then stream the ids back through the detokenizer. Byte-level BPE must
 * round-trip the input exactly. Vocabularies: $KS_FUZZ_VOCABS (colon-separated
 * GGUF paths), default the two shared test vocabularies. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

#define MAX_VOCABS 4
static ks_tokenizer *toks[MAX_VOCABS];
static bool lossless[MAX_VOCABS]; /* byte-level BPE with a token for every byte value */
static int n_toks;

/* true if every single byte tokenizes and decodes back to itself */
static bool all_bytes_round_trip(const ks_tokenizer *tok) {
    if (ks_tokenizer_type(tok) != KS_TOK_BPE) return false;
    for (int b = 0; b < 256; b++) {
        const char c = (char)b;
        int32_t *ids = NULL;
        size_t n = 0, len = 0;
        ks_err err;
        if (ks_tokenize(tok, &c, 1, false, false, &ids, &n, &err) != KS_OK) return false;
        char out[64];
        for (size_t i = 0; i < n; i++) {
            size_t pl = 0;
            const char *p = ks_token_to_piece(tok, ids[i], false, &pl);
            if (p && len + pl <= sizeof out) memcpy(out + len, p, pl);
            len += pl;
        }
        free(ids);
        if (len != 1 || out[0] != c) return false;
    }
    return true;
}

static void load(const char *path) {
    gguf_ctx *g = NULL;
    ks_err err;
    if (n_toks == MAX_VOCABS || gguf_open_file(path, &g, &err) != KS_OK) {
        fprintf(stderr, "fuzz_tokenize: cannot load %s\n", path);
        return;
    }
    if (ks_tokenizer_from_gguf(g, &toks[n_toks], &err) == KS_OK) {
        lossless[n_toks] = all_bytes_round_trip(toks[n_toks]);
        fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, lossless[n_toks] ? "lossless (round trip checked)" : "lossy vocabulary");
        n_toks++;
    }
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
            size_t cap = 64;
            for (size_t i = 0; i < n; i++) {
                size_t pl = 0;
                ks_token_to_piece(toks[v], ids[i], special, &pl);
                cap += pl + 64;
            }
            char *out = malloc(cap);
            size_t len = 0;
            ks_detok_stream ds;
            ks_detok_stream_init(&ds);
            for (size_t i = 0; i < n; i++) {
                int64_t w = ks_detok_stream_push(&ds, toks[v], ids[i], out + len, cap - len);
                if (w < 0) abort(); /* the buffer was sized as the header promises */
                len += (size_t)w;
            }
            int64_t w = ks_detok_stream_flush(&ds, out + len, cap - len);
            if (w < 0) abort();
            len += (size_t)w;
            /* byte-level BPE without special parsing is lossless when the vocabulary has a token
             * for every byte (SmolLM2's lacks 21 byte values, e.g. 0x04 and 0xF2: those bytes
             * are dropped, as llama.cpp drops them) */
            if (!special && lossless[v] && (len != size || memcmp(out, data, size)))
                abort();
            free(out);
            free(ids);
        }
    }
    return 0;
}

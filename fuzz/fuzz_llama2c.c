/* fuzz_llama2c.c - libFuzzer target: llama2.c checkpoint header validation and
 * the llama2.c tokenizer.bin loader on arbitrary bytes; a fixed text and the
 * file's tail are tokenized with what it loaded and detokenized again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c.h"
#include "tokenizer/tokenizer.h"

/* tokenizes text, then streams the ids back through the detokenizer with a buffer
 * of the size the header promises suffices */
static void tokenize_detokenize(const ks_tokenizer *tok, const char *text, size_t len) {
    int32_t *ids = NULL;
    size_t n = 0;
    ks_err err;
    if (ks_tokenize(tok, text, len, true, false, &ids, &n, &err) != KS_OK) return;
    ks_detok_stream ds;
    ks_detok_stream_init(&ds);
    for (size_t i = 0; i < n; i++) {
        size_t pl = 0;
        if (!ks_token_to_piece(tok, ids[i], false, &pl)) abort(); /* ids the tokenizer made are in range */
        char *buf = malloc(pl + 64);
        if (buf && ks_detok_stream_push(&ds, tok, ids[i], buf, pl + 64) < 0) abort();
        free(buf);
    }
    char buf[64];
    if (ks_detok_stream_flush(&ds, buf, sizeof buf) < 0) abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llama2c_layout L;
    ks_err err;
    llama2c_parse(data, size, &L, &err);
    if (size < 2) return 0;
    /* first two bytes choose the vocabulary size; the rest is the tokenizer file */
    const int32_t vocab = 3 + (int32_t)((data[0] | data[1] << 8) % 1024);
    ks_tokenizer *tok = NULL;
    if (ks_tokenizer_from_llama2c_memory(data + 2, size - 2, vocab, "fuzz", &tok, &err) == KS_OK) {
        static const char text[] = "Once upon a time \xc3\xa9\xff";
        tokenize_detokenize(tok, text, sizeof text - 1);
        /* the file's last bytes as text: they are token strings (or bytes past the
         * vocabulary, which the loader ignores), so mutating them keeps the file valid */
        const size_t tail = size - 2 < 256 ? size - 2 : 256;
        tokenize_detokenize(tok, (const char *)data + size - tail, tail);
        ks_tokenizer_free(tok);
    }
    return 0;
}

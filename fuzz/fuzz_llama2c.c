/* fuzz_llama2c.c - libFuzzer target: llama2.c checkpoint header validation and
 * the llama2.c tokenizer.bin loader on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/llama2c.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llama2c_layout L;
    ks_err err;
    llama2c_parse(data, size, &L, &err);
    if (size < 2) return 0;
    /* first two bytes choose the vocabulary size; the rest is the tokenizer file */
    const int32_t vocab = 3 + (int32_t)((data[0] | data[1] << 8) % 1024);
    ks_tokenizer *tok = NULL;
    if (ks_tokenizer_from_llama2c_memory(data + 2, size - 2, vocab, "fuzz", &tok, &err) == KS_OK) {
        int32_t *ids = NULL;
        size_t n = 0;
        static const char text[] = "Once upon a time \xc3\xa9\xff";
        if (ks_tokenize(tok, text, sizeof text - 1, true, false, &ids, &n, &err) == KS_OK) {
            char buf[512];
            ks_detok_stream ds;
            ks_detok_stream_init(&ds);
            for (size_t i = 0; i < n; i++) ks_detok_stream_push(&ds, tok, ids[i], buf, sizeof buf);
            ks_detok_stream_flush(&ds, buf, sizeof buf);
            free(ids);
        }
        ks_tokenizer_free(tok);
    }
    return 0;
}

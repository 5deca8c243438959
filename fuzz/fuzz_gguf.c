/* fuzz_gguf.c - libFuzzer target: GGUF reader on arbitrary bytes, then every
 * accessor over what it accepted, then the tokenizer loader on its metadata,
 * tokenizing a fixed text and the file's tail and detokenizing the ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

static volatile uint64_t sink;

static void walk_value(const gguf_value *v, int depth) {
    if (v->type != GGUF_TYPE_ARRAY) {
        sink += v->type == GGUF_TYPE_STRING ? v->v.str.len : v->v.u64;
        return;
    }
    for (uint64_t i = 0; i < v->v.arr.n && i < 4096; i++) {
        if (v->v.arr.elem_type == GGUF_TYPE_STRING) sink += gguf_arr_str(v, i).len;
        else if (v->v.arr.elem_type == GGUF_TYPE_ARRAY) walk_value(&v->v.arr.elems[i], depth + 1);
        else {
            float f = gguf_arr_f32(v, i);
            uint32_t bits;
            memcpy(&bits, &f, 4);
            sink += (uint64_t)gguf_arr_int(v, i) + bits;
        }
    }
}

/* tokenizes text, then streams the ids back through the detokenizer with a buffer
 * of the size the header promises suffices */
static void tokenize_detokenize(const ks_tokenizer *tok, const char *text, size_t len, bool special) {
    int32_t *ids = NULL;
    size_t n = 0;
    ks_err err;
    if (ks_tokenize(tok, text, len, true, special, &ids, &n, &err) != KS_OK) return;
    ks_detok_stream ds;
    ks_detok_stream_init(&ds);
    for (size_t i = 0; i < n; i++) {
        size_t pl = 0;
        if (!ks_token_to_piece(tok, ids[i], special, &pl)) abort(); /* ids the tokenizer made are in range */
        char *buf = malloc(pl + 64);
        if (buf && ks_detok_stream_push(&ds, tok, ids[i], buf, pl + 64) < 0) abort();
        free(buf);
    }
    char buf[64];
    if (ks_detok_stream_flush(&ds, buf, sizeof buf) < 0) abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_ctx *g = NULL;
    ks_err err;
    if (gguf_open_memory(data, size, &g, &err) != KS_OK) return 0;
    for (uint64_t i = 0; i < g->n_kv; i++) walk_value(&g->kv[i].value, 0);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor_info *t = &g->tensors[i];
        if (t->nbytes) sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    uint64_t u;
    int64_t s;
    double d;
    bool b;
    gguf_str str;
    gguf_get_u64(g, "general.alignment", &u, NULL);
    gguf_get_i64(g, "llama.block_count", &s, NULL);
    gguf_get_f64(g, "llama.rope.freq_base", &d, NULL);
    gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL);
    gguf_get_str(g, "general.architecture", &str, NULL);
    ks_tokenizer *tok = NULL;
    if (ks_tokenizer_from_gguf(g, &tok, &err) == KS_OK) {
        static const char text[] = "Hello <|im_start|> world 123 \xe2\x82\xac \xff";
        tokenize_detokenize(tok, text, sizeof text - 1, true);
        /* the file's last bytes (padding or tensor data: mutating them keeps the file
         * valid) as text, so the fuzzer chooses the vocabulary and the text */
        const size_t tail = size < 256 ? size : 256;
        tokenize_detokenize(tok, (const char *)data + size - tail, tail, data[size - 1] & 1);
        ks_tokenizer_free(tok);
    }
    gguf_close(g);
    return 0;
}

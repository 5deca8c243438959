/* test_tokenizer_misc.c - tokenizer behaviour beyond the vocabulary vectors:
 * special-token parsing, BOS/EOS rules, the EOG set, invalid UTF-8, the
 * llama2.c tokenizer.bin, the streaming detokenizer, unknown pre-tokenizer
 * names, and speed on 1 MB of text.
 */
#include <string.h>
#include <time.h>

#include "formats/gguf.h"
#include "ks_test.h"
#include "tokenizer/tokenizer.h"

static ks_tokenizer *load_gguf(const char *path) {
    ks_err err = {0};
    gguf_ctx *g = NULL;
    ks_tokenizer *tok = NULL;
    if (gguf_open_file(path, &g, &err)) {
        fprintf(stderr, "note: %s: %s\n", path, err.msg);
        return NULL;
    }
    ks_status st = ks_tokenizer_from_gguf(g, &tok, &err);
    CHECK(st == KS_OK, "ks_tokenizer_from_gguf %s: %s", path, err.msg);
    gguf_close(g);
    return tok;
}

static size_t encode(const ks_tokenizer *tok, const char *s, size_t n, bool add_special, bool parse_special,
                     int32_t **ids) {
    size_t n_ids = 0;
    ks_err err = {0};
    ks_status st = ks_tokenize(tok, s, n, add_special, parse_special, ids, &n_ids, &err);
    CHECK(st == KS_OK, "ks_tokenize: %s", err.msg);
    return st ? 0 : n_ids;
}

static size_t decode(const ks_tokenizer *tok, const int32_t *ids, size_t n, char *out, size_t cap) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = ks_token_to_piece(tok, ids[i], false, &pl);
        if (p && len + pl <= cap) memcpy(out + len, p, pl), len += pl;
    }
    return len;
}

static int32_t find(const ks_tokenizer *tok, const char *s) { return ks_tokenizer_find(tok, s, strlen(s)); }

/* A chunk is whole characters if it is valid UTF-8 (or a byte that can never start one). */
static bool utf8_whole(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + need > n) return false;
        for (size_t j = 1; j < need; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += need;
    }
    return true;
}

/* Streams ids through the detokenizer; checks every chunk is whole characters
 * and the total equals want. Returns how many tokens ended inside a character. */
static int check_stream(const ks_tokenizer *tok, const int32_t *ids, size_t n, const char *want, size_t want_n) {
    ks_detok_stream s;
    ks_detok_stream_init(&s);
    char all[4096], chunk[256];
    size_t len = 0;
    int split = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t k = ks_detok_stream_push(&s, tok, ids[i], chunk, sizeof chunk);
        CHECK(k >= 0, "stream push of id %d failed", ids[i]);
        if (k < 0) return split;
        CHECK(utf8_whole(chunk, (size_t)k), "chunk %zu splits a character", i);
        if (s.n_pending) split++;
        memcpy(all + len, chunk, (size_t)k), len += (size_t)k;
    }
    int64_t k = ks_detok_stream_flush(&s, chunk, sizeof chunk);
    CHECK(k >= 0, "flush failed");
    if (k > 0) memcpy(all + len, chunk, (size_t)k), len += (size_t)k;
    CHECK(len == want_n && memcmp(all, want, len) == 0, "streamed text differs (%zu vs %zu bytes)", len, want_n);
    return split;
}

static void test_smollm2(const char *cache) {
    char path[2048];
    if (snprintf(path, sizeof path, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", cache) >= (int)sizeof path) return;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "note: %s not cached, SmolLM2 checks skipped\n", path);
        return;
    }
    fclose(f);
    ks_tokenizer *tok = load_gguf(path);
    if (!tok) return;
    int32_t im_start = find(tok, "<|im_start|>"), im_end = find(tok, "<|im_end|>");
    CHECK(im_start == 1 && im_end == 2, "SmolLM2 <|im_start|>=%d <|im_end|>=%d", im_start, im_end);
    CHECK(ks_tokenizer_type(tok) == KS_TOK_BPE, "SmolLM2 is byte-level BPE");
    CHECK(!ks_tokenizer_add_bos(tok), "SmolLM2 does not add BOS");
    CHECK(ks_token_is_eog(tok, im_end), "<|im_end|> ends generation");
    CHECK(!ks_token_is_eog(tok, im_start), "<|im_start|> does not end generation");

    const char *chat = "<|im_start|>user\nhi<|im_end|>";
    int32_t *a = NULL, *b = NULL, *c = NULL;
    size_t na = encode(tok, chat, strlen(chat), false, true, &a);
    size_t nb = encode(tok, "user\nhi", 7, false, false, &b);
    CHECK(na == nb + 2 && a[0] == im_start && a[na - 1] == im_end && memcmp(a + 1, b, nb * sizeof *b) == 0,
          "parse_special: %zu ids, want <|im_start|> + %zu + <|im_end|>", na, nb);
    size_t nc = encode(tok, chat, strlen(chat), false, false, &c);
    bool has_special = false;
    for (size_t i = 0; i < nc; i++) has_special |= c[i] == im_start || c[i] == im_end;
    CHECK(!has_special && nc > na, "without parse_special the markers are plain text (%zu ids)", nc);
    char buf[256];
    size_t dn = decode(tok, c, nc, buf, sizeof buf);
    CHECK(dn == strlen(chat) && memcmp(buf, chat, dn) == 0, "plain-text markers decode back");
    size_t pl;
    const char *p = ks_token_to_piece(tok, im_end, false, &pl);
    CHECK(p && pl == 0, "control piece is empty unless rendered");
    p = ks_token_to_piece(tok, im_end, true, &pl);
    CHECK(p && pl == 10 && memcmp(p, "<|im_end|>", 10) == 0, "rendered control piece");
    free(a), free(b), free(c);

    int32_t *x = NULL, *y = NULL;
    size_t nx = encode(tok, "hi", 2, true, false, &x), ny = encode(tok, "hi", 2, false, false, &y);
    CHECK(nx == ny && memcmp(x, y, nx * sizeof *x) == 0, "add_special adds nothing to SmolLM2 text");
    free(x), free(y);
    ks_tokenizer_free(tok);
}

static void test_gpt2(const char *shared) {
    char path[2048];
    snprintf(path, sizeof path, "%s/testdata/tokenizers/ggml-vocab-gpt-2.gguf", shared);
    ks_tokenizer *tok = load_gguf(path);
    CHECK(tok != NULL, "gpt-2 vocab loads");
    if (!tok) return;
    CHECK(ks_token_is_eog(tok, find(tok, "<|endoftext|>")), "<|endoftext|> is EOG");

    const char bad[] = "\xff\xfe abc \xc3";
    int32_t *ids = NULL;
    size_t n = encode(tok, bad, sizeof bad - 1, false, false, &ids);
    char buf[256];
    size_t dn = decode(tok, ids, n, buf, sizeof buf);
    CHECK(n > 0 && dn == sizeof bad - 1 && memcmp(buf, bad, dn) == 0, "invalid UTF-8 round-trips (%zu bytes)", dn);
    free(ids);
    const char trunc[] = "abc\xe4\xb8"; /* truncated 3-byte char at the very end */
    n = encode(tok, trunc, sizeof trunc - 1, false, false, &ids);
    dn = decode(tok, ids, n, buf, sizeof buf);
    CHECK(dn == sizeof trunc - 1 && memcmp(buf, trunc, dn) == 0, "truncated character round-trips");
    free(ids);

    const char text[] = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82 \xce\xb1\xce\xb2";
    n = encode(tok, text, sizeof text - 1, false, false, &ids);
    int split = check_stream(tok, ids, n, text, sizeof text - 1);
    CHECK(split > 0, "test text should split a character across byte tokens");
    free(ids);

    /* speed: ~1 MB of mixed text */
    size_t big_n = 1 << 20;
    char *big = malloc(big_n);
    const char *unit = "The quick brown fox, 12345 jumps; \xe4\xb8\x96\xe7\x95\x8c  \t\n caf\xc3\xa9 ";
    for (size_t i = 0, ul = strlen(unit); i < big_n; i++) big[i] = unit[i % ul];
    clock_t t0 = clock();
    n = encode(tok, big, big_n, false, false, &ids);
    double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    fprintf(stderr, "gpt-2: 1 MiB -> %zu tokens in %.3f s\n", n, sec);
    CHECK(sec < 10.0, "1 MiB took %.2f s", sec);
    char *back = malloc(big_n);
    dn = decode(tok, ids, n, back, big_n);
    CHECK(dn == big_n && memcmp(back, big, big_n) == 0, "1 MiB round-trips");
    free(back), free(big), free(ids);
    ks_tokenizer_free(tok);
}

static void test_spm(const char *shared) {
    char path[2048];
    snprintf(path, sizeof path, "%s/testdata/tokenizers/ggml-vocab-llama-spm.gguf", shared);
    ks_tokenizer *tok = load_gguf(path);
    CHECK(tok != NULL, "llama-spm vocab loads");
    if (!tok) return;
    CHECK(ks_tokenizer_type(tok) == KS_TOK_SPM, "llama-spm is SPM");
    CHECK(ks_tokenizer_add_bos(tok) && !ks_tokenizer_add_eos(tok), "SPM adds BOS, not EOS");
    int32_t bos = ks_tokenizer_bos(tok), eos = ks_tokenizer_eos(tok);
    CHECK(bos == 1 && eos == 2, "bos %d eos %d", bos, eos);
    CHECK(ks_token_is_eog(tok, eos), "</s> is EOG");
    int32_t *ids = NULL, *plain = NULL;
    size_t n = encode(tok, "hello world", 11, true, false, &ids);
    size_t np = encode(tok, "hello world", 11, false, false, &plain);
    CHECK(n == np + 1 && ids[0] == bos && memcmp(ids + 1, plain, np * sizeof *ids) == 0, "BOS then the text");
    CHECK(ids[n - 1] != eos, "no EOS added");
    free(ids), free(plain);
    n = encode(tok, "", 0, true, false, &ids);
    CHECK(n == 1 && ids[0] == bos, "empty text with add_special is [BOS]");
    free(ids);
    n = encode(tok, "", 0, false, false, &ids);
    CHECK(n == 0 && ids != NULL, "empty text is no tokens");
    free(ids);
    n = encode(tok, "<s>hi</s>", 9, false, true, &ids);
    CHECK(n >= 3 && ids[0] == bos && ids[n - 1] == eos, "parse_special finds <s> and </s>");
    free(ids);

    /* byte-fallback tokens split characters: the stream must hold them back */
    const char text[] = "\xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82 ok";
    n = encode(tok, text, sizeof text - 1, true, false, &ids);
    int split = check_stream(tok, ids, n, text, sizeof text - 1); /* BOS drops the prefix space */
    CHECK(split > 0, "SPM test text should use byte tokens");
    free(ids);
    const char bad[] = "a\xff\xc3 b";
    n = encode(tok, bad, sizeof bad - 1, false, false, &ids);
    CHECK(n > 0, "invalid UTF-8 tokenizes");
    free(ids);
    ks_tokenizer_free(tok);
}

static void test_llama2c(const char *shared) {
    char path[2048];
    snprintf(path, sizeof path, "%s/testdata/llama2c/tok512.bin", shared);
    ks_err err = {0};
    ks_tokenizer *tok = NULL;
    ks_status st = ks_tokenizer_from_llama2c(path, 512, &tok, &err);
    CHECK(st == KS_OK, "tok512: %s", err.msg);
    if (st) return;
    CHECK(ks_tokenizer_n_vocab(tok) == 512 && ks_tokenizer_bos(tok) == 1 && ks_tokenizer_eos(tok) == 2, "ids");
    CHECK(find(tok, "<0x41>") == 0x41 + 3, "byte tokens at byte + 3");
    const char *text = "Once upon a time";
    int32_t want[5] = {1, find(tok, " Once"), find(tok, " upon"), find(tok, " a"), find(tok, " time")};
    CHECK(want[1] >= 0 && want[2] >= 0 && want[3] >= 0 && want[4] >= 0, "tok512 has the whole words");
    int32_t *ids = NULL;
    size_t n = encode(tok, text, strlen(text), true, false, &ids);
    CHECK(n == 5 && memcmp(ids, want, sizeof want) == 0, "\"%s\" -> %zu ids: %d %d %d %d %d", text, n,
          n > 0 ? ids[0] : -1, n > 1 ? ids[1] : -1, n > 2 ? ids[2] : -1, n > 3 ? ids[3] : -1, n > 4 ? ids[4] : -1);
    check_stream(tok, ids, n, text, strlen(text)); /* leading space dropped after BOS */
    free(ids);
    const char utf[] = "Tom \xe4\xb8\x96!";
    n = encode(tok, utf, sizeof utf - 1, false, false, &ids);
    bool bytes_ok = false;
    for (size_t i = 0; i + 2 < n; i++) bytes_ok |= ids[i] == 0xe4 + 3 && ids[i + 1] == 0xb8 + 3 && ids[i + 2] == 0x96 + 3;
    CHECK(bytes_ok, "unknown character falls back to byte ids");
    size_t pl;
    const char *p = ks_token_to_piece(tok, 0x0A + 3, false, &pl);
    CHECK(p && pl == 1 && p[0] == '\n', "<0x0A> decodes to a newline");
    free(ids);
    ks_tokenizer_free(tok);
    st = ks_tokenizer_from_llama2c(path, 100000, &tok, &err);
    CHECK(st == KS_ERR_TRUNCATED && tok == NULL, "vocab_size beyond the file is truncated (%d)", st);
}

/* Minimal GGUF v3 fixture, assembled by hand (no writer needed): string keys
 * and string arrays only, no tensors. */
typedef struct fixture {
    uint8_t buf[1024];
    size_t n;
} fixture;

static void fx_bytes(fixture *f, const void *p, size_t n) {
    if (f->n + n <= sizeof f->buf) memcpy(f->buf + f->n, p, n);
    f->n += n;
}
static void fx_u32(fixture *f, uint32_t v) { fx_bytes(f, &v, 4); } /* little-endian hosts */
static void fx_u64(fixture *f, uint64_t v) { fx_bytes(f, &v, 8); }
static void fx_str(fixture *f, const char *s) {
    fx_u64(f, strlen(s));
    fx_bytes(f, s, strlen(s));
}
static void fx_kv_str(fixture *f, const char *key, const char *v) {
    fx_str(f, key);
    fx_u32(f, GGUF_TYPE_STRING);
    fx_str(f, v);
}
static void fx_kv_arr(fixture *f, const char *key, const char *const *v, size_t n) {
    fx_str(f, key);
    fx_u32(f, GGUF_TYPE_ARRAY);
    fx_u32(f, GGUF_TYPE_STRING);
    fx_u64(f, n);
    for (size_t i = 0; i < n; i++) fx_str(f, v[i]);
}

static void test_unknown_pre(void) {
    static fixture f;
    const char *tokens[] = {"a", "b", "ab"}, *merges[] = {"a b"};
    fx_bytes(&f, "GGUF", 4);
    fx_u32(&f, 3);
    fx_u64(&f, 0); /* tensors */
    fx_u64(&f, 4); /* key/values */
    fx_kv_str(&f, "tokenizer.ggml.model", "gpt2");
    fx_kv_str(&f, "tokenizer.ggml.pre", "no-such-pre");
    fx_kv_arr(&f, "tokenizer.ggml.tokens", tokens, 3);
    fx_kv_arr(&f, "tokenizer.ggml.merges", merges, 1);
    while (f.n % 32) fx_bytes(&f, "", 1);
    CHECK(f.n <= sizeof f.buf, "fixture fits");
    ks_err err = {0};
    gguf_ctx *g = NULL;
    ks_tokenizer *tok = NULL;
    ks_status st = gguf_open_memory(f.buf, f.n, &g, &err);
    CHECK(st == KS_OK, "open fixture: %s", err.msg);
    if (st) return;
    st = ks_tokenizer_from_gguf(g, &tok, &err);
    CHECK(st == KS_ERR_UNSUPPORTED && tok == NULL && strstr(err.msg, "no-such-pre"),
          "unknown pre-tokenizer: status %d, msg '%s'", st, err.msg);
    gguf_close(g);
}

int main(void) {
    const char *shared = ks_test_env("KS_SHARED_DIR", "../shared");
    const char *src = ks_test_env("KS_SRC_DIR", ".");
    char cache_default[1024];
    snprintf(cache_default, sizeof cache_default, "%s/cache", src);
    const char *cache = ks_test_env("KS_CACHE_DIR", cache_default);
    test_gpt2(shared);
    test_spm(shared);
    test_llama2c(shared);
    test_smollm2(cache);
    test_unknown_pre();
    TEST_DONE();
}

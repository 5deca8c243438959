/* test_special_match.c - special-token partitioning (tok_partition) against llama.cpp's
 * tokenizer_st_partition written plainly (each special token, longest first, splits every
 * remaining fragment at its occurrences), on random vocabularies of nested, overlapping and
 * duplicate texts (control and user-defined) and random texts cut into segments with and without
 * parse_special; then the cost: 2000 added tokens and 1 MB of text full of them (one scan per
 * token and fragment took minutes) within a generous wall-clock bound.
 *
 * The vocabulary is byte-level BPE without merges, so raw text is one token per byte (id = byte)
 * and the expected ids follow from the partition alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/outfile.h"
#include "formats/gguf.h"
#include "ks_test.h"
#include "ks_test_vocab.h"
#include "tokenizer/tokenizer.h"

/* byte tokens 0..255 (GPT-2 byte symbols), then the specials with GGUF token types (3 control, 4 user) */
static ks_tokenizer *make_vocab(const char *const *texts, const int32_t *types, size_t n) {
    static char bytes[256][3];
    const char **strs = malloc((256 + n) * sizeof *strs);
    int32_t *ty = malloc((256 + n) * sizeof *ty);
    ks_test_byte_symbols(bytes, strs);
    for (int b = 0; b < 256; b++) ty[b] = 1;
    for (size_t i = 0; i < n; i++) strs[256 + i] = texts[i], ty[256 + i] = types[i];
    char path[] = "/tmp/ks_test_special_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    gguf_writer *w = gguf_writer_new();
    ks_err err = {0};
    const char *no_merges[1] = {NULL};
    ks_outfile of = {0};
    ks_status st = !w || fd < 0 || gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") ||
                   gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 256 + n) ||
                   gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, ty, 256 + n) ||
                   gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", no_merges, 0) ||
                   ks_outfile_open(&of, path, NULL, 0, &err) || gguf_writer_write(w, &of, &err) ||
                   ks_outfile_commit(&of, &err);
    CHECK(st == KS_OK, "writing the vocabulary: %s", err.msg);
    gguf_writer_free(w), free(strs), free(ty);
    gguf_ctx *g = NULL;
    ks_tokenizer *tok = NULL;
    if (!st && gguf_open_file(path, &g, &err) == KS_OK) {
        CHECK(ks_tokenizer_from_gguf(g, &tok, &err) == KS_OK, "loading the vocabulary: %s", err.msg);
        gguf_close(g);
    }
    unlink(path);
    return tok;
}

/* ---- the reference: llama.cpp's partition, one special token at a time ---- */

typedef struct rfrag {
    int32_t token;
    size_t off, len;
    bool ps;
} rfrag;

static int cmp_special(const void *a, const void *b, const ks_tokenizer *tok) {
    size_t la, lb;
    ks_token_text(tok, *(const int32_t *)a, &la), ks_token_text(tok, *(const int32_t *)b, &lb);
    if (la != lb) return la > lb ? -1 : 1;
    return *(const int32_t *)a < *(const int32_t *)b ? -1 : 1;
}
static const ks_tokenizer *sort_tok;
static int cmp_special_q(const void *a, const void *b) { return cmp_special(a, b, sort_tok); }

/* expected ids of text cut at segs (parse flags ps), raw bytes as byte ids; returns the count */
static size_t reference(const ks_tokenizer *tok, const char *text, const size_t *cuts, const bool *ps, size_t n_segs,
                        int32_t *out) {
    const int32_t nv = ks_tokenizer_n_vocab(tok);
    int32_t *sp = malloc((size_t)nv * sizeof *sp);
    size_t n_sp = 0, len = cuts[n_segs];
    for (int32_t id = 256; id < nv; id++) sp[n_sp++] = id;
    sort_tok = tok;
    qsort(sp, n_sp, sizeof *sp, cmp_special_q);
    rfrag *cur = malloc((2 * len + n_segs + 1) * sizeof *cur), *next = malloc((2 * len + n_segs + 1) * sizeof *next);
    size_t n = 0;
    for (size_t i = 0; i < n_segs; i++)
        if (cuts[i + 1] > cuts[i]) cur[n++] = (rfrag){-1, cuts[i], cuts[i + 1] - cuts[i], ps[i]};
    for (size_t k = 0; k < n_sp; k++) {
        size_t tl, m = 0;
        const char *t = ks_token_text(tok, sp[k], &tl);
        const bool control = ks_token_attr(tok, sp[k]) == KS_TOKATTR_CONTROL;
        for (size_t i = 0; i < n; i++) {
            rfrag f = cur[i];
            if (f.token >= 0 || f.len < tl || (control && !f.ps)) {
                next[m++] = f;
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            const char *hit;
            while ((hit = memmem(text + pos, end - pos, t, tl))) {
                const size_t mo = (size_t)(hit - text);
                if (mo > pos) next[m++] = (rfrag){-1, pos, mo - pos, f.ps};
                next[m++] = (rfrag){sp[k], 0, 0, false};
                pos = mo + tl;
            }
            if (pos < end) next[m++] = (rfrag){-1, pos, end - pos, f.ps};
        }
        rfrag *sw = cur;
        cur = next, next = sw, n = m;
    }
    size_t n_out = 0;
    for (size_t i = 0; i < n; i++) {
        if (cur[i].token >= 0) out[n_out++] = cur[i].token;
        else
            for (size_t j = 0; j < cur[i].len; j++) out[n_out++] = (uint8_t)text[cur[i].off + j];
    }
    free(sp), free(cur), free(next);
    return n_out;
}

static uint64_t rng = 12345;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

static void test_random(void) {
    int bad = 0;
    for (int iter = 0; iter < 400 && bad < 5; iter++) {
        const char *alpha = iter % 2 ? "ab" : "abc<>";
        const size_t na = strlen(alpha), n_sp = 1 + rnd(iter % 3 ? 12 : 40);
        char (*texts)[8] = malloc(n_sp * sizeof *texts);
        const char *ptr[40];
        int32_t types[40];
        for (size_t i = 0; i < n_sp; i++) {
            const size_t l = 1 + rnd(i % 4 ? 4 : 7);
            for (size_t j = 0; j < l; j++) texts[i][j] = alpha[rnd((uint32_t)na)];
            texts[i][l] = 0;
            if (i && rnd(6) == 0) memcpy(texts[i], texts[rnd((uint32_t)i)], 8); /* duplicate text */
            ptr[i] = texts[i], types[i] = rnd(2) ? 3 : 4;
        }
        ks_tokenizer *tok = make_vocab(ptr, types, n_sp);
        if (!tok) {
            free(texts);
            return;
        }
        for (int t = 0; t < 20; t++) {
            char text[256];
            const size_t len = rnd(200);
            for (size_t j = 0; j < len; j++) text[j] = rnd(20) ? alpha[rnd((uint32_t)na)] : 'x';
            size_t cuts[9] = {0}, n_segs = 1 + rnd(8);
            bool ps[8];
            for (size_t s = 1; s < n_segs; s++) cuts[s] = len ? rnd((uint32_t)len + 1) : 0;
            cuts[n_segs] = len;
            for (size_t s = 1; s < n_segs; s++) /* sorted cut points (insertion sort) */
                for (size_t r = s; r > 1 && cuts[r] < cuts[r - 1]; r--) {
                    const size_t c = cuts[r];
                    cuts[r] = cuts[r - 1], cuts[r - 1] = c;
                }
            ks_tok_segment segs[8];
            for (size_t s = 0; s < n_segs; s++)
                ps[s] = rnd(2), segs[s] = (ks_tok_segment){cuts[s], cuts[s + 1] - cuts[s], ps[s]};
            int32_t want[512], *got = NULL;
            size_t n_got = 0;
            ks_err err = {0};
            const size_t n_want = reference(tok, text, cuts, ps, n_segs, want);
            ks_status st = ks_tokenize_segments(tok, text, len, segs, n_segs, false, false, &got, &n_got, &err);
            const bool same = st == KS_OK && n_got == n_want && !memcmp(got, want, n_want * sizeof *want);
            if (!same && bad++ < 5) {
                size_t i = 0;
                while (i < n_got && i < n_want && got[i] == want[i]) i++;
                CHECK(same, "iteration %d text %d ('%.*s', %zu segments): %zu ids, reference %zu, first difference at "
                      "%zu: %d vs %d (%s)", iter, t, (int)len, text, n_segs, n_got, n_want, i,
                      i < n_got ? got[i] : -1, i < n_want ? want[i] : -1, err.msg);
            }
            free(got);
        }
        ks_tokenizer_free(tok);
        free(texts);
    }
    CHECK(bad == 0, "%d mismatches against the reference partition", bad);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 2000 added tokens (llama.cpp took one scan of the text per token and a pass over every fragment
 * per token found); 1 MB of text with one of them every ~40 bytes and control-token text in a
 * segment that does not parse it. */
static void test_many_added_tokens(void) {
    enum { N = 2000 };
    static char names[N][32];
    const char *ptr[N];
    int32_t types[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], i % 10 ? "<extra_id_%d>" : "<|reserved_%d|>", i);
        ptr[i] = names[i], types[i] = i % 10 ? 4 : 3;
    }
    ks_tokenizer *tok = make_vocab(ptr, types, N);
    if (!tok) return;
    const size_t len = (size_t)1 << 20;
    char *text = malloc(len + 64);
    size_t n = 0, n_added = 0;
    while (n < len) {
        for (int w = 0; w < 4 && n < len; w++) n += (size_t)snprintf(text + n, 64, "word%u ", rnd(100));
        if (n < len) n += (size_t)snprintf(text + n, 64, "%s", names[rnd(N)]), n_added++;
    }
    const bool sanitized = getenv("KS_SANITIZED") && !strcmp(getenv("KS_SANITIZED"), "1");
    const ks_tok_segment segs[2] = {{0, n / 2, true}, {n / 2, n - n / 2, false}};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    ks_err err = {0};
    const double t0 = now_s();
    ks_status st = ks_tokenize_segments(tok, text, n, segs, 2, false, false, &ids, &n_ids, &err);
    const double dt = now_s() - t0, limit = sanitized ? 10.0 : 1.0; /* llama.cpp's way: 2.9 s here, this one 0.11 s */
    size_t n_special = 0;
    for (size_t i = 0; i < n_ids; i++) n_special += ids[i] >= 256;
    CHECK(st == KS_OK, "%s", err.msg);
    CHECK(n_special > n_added * 85 / 100 && n_special <= n_added, "%zu special ids for %zu inserted texts", n_special,
          n_added);
    CHECK(dt < limit, "1 MB with 2000 added tokens took %.2f s (limit %.1f s)", dt, limit);
    fprintf(stderr, "1 MB, %zu added-token texts, 2000 specials: %.3f s\n", n_added, dt);
    free(ids), free(text);
    ks_tokenizer_free(tok);
}

int main(void) {
    test_random();
    test_many_added_tokens();
    TEST_DONE();
}

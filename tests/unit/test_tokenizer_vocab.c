/* test_tokenizer_vocab.c - tokenizer against llama.cpp's vocabulary test
 * vectors (ids made by the reference HF tokenizers): every string of a .inp
 * must tokenize (no BOS/EOS, special text as plain text) to exactly the ids on
 * its .out line, and decode back to itself.
 *
 * Cases: every .gguf with .inp/.out in $KS_SHARED_DIR/testdata/tokenizers, and
 * extra (gguf, inp, out) triples such as tests/data/smollm2-tokenizer.* for the
 * cached SmolLM2 model (skipped with a note when a file is missing).
 */
#include <dirent.h>
#include <string.h>

#include "base/mapfile.h"
#include "formats/gguf.h"
#include "ks_test.h"
#include "tokenizer/tokenizer.h"

#define SEP "\n__ggml_vocab_test__\n"

typedef struct str_view {
    const char *p;
    size_t n;
} str_view;

static void print_escaped(const char *label, const char *s, size_t n) {
    fprintf(stderr, "  %s \"", label);
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stderr);
        else if (c == '\t') fputs("\\t", stderr);
        else if (c == '"' || c == '\\') fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fprintf(stderr, "%s\" (%zu bytes)\n", n > 200 ? "..." : "", n);
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s [", label);
    for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, "%s%d", i ? " " : "", ids[i]);
    fprintf(stderr, "%s] (%zu)\n", n > 64 ? " ..." : "", n);
}

/* Splits the .inp into strings (each followed by SEP). Returns count; *out malloc'ed. */
static size_t split_inp(const char *d, size_t n, str_view **out) {
    size_t cap = 64, cnt = 0, pos = 0, sl = strlen(SEP);
    str_view *v = malloc(cap * sizeof *v);
    while (v && pos < n) {
        const char *m = memmem(d + pos, n - pos, SEP, sl);
        if (!m) break;
        if (cnt == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        if (!v) break;
        v[cnt++] = (str_view){d + pos, (size_t)(m - (d + pos))};
        pos = (size_t)(m - d) + sl;
    }
    *out = v;
    return cnt;
}

/* Parses line k of the .out into ids. Returns the count (-1 if no such line). */
static long parse_out_line(const char *d, size_t n, size_t k, int32_t *ids, size_t cap) {
    size_t pos = 0;
    for (size_t line = 0; line < k; line++) {
        const char *nl = memchr(d + pos, '\n', n - pos);
        if (!nl) return -1;
        pos = (size_t)(nl - d) + 1;
    }
    if (pos >= n) return -1;
    const char *end = memchr(d + pos, '\n', n - pos);
    size_t e = end ? (size_t)(end - d) : n;
    long cnt = 0;
    while (pos < e) {
        while (pos < e && (d[pos] == ' ' || d[pos] == '\r')) pos++;
        if (pos >= e) break;
        long v = 0;
        while (pos < e && d[pos] >= '0' && d[pos] <= '9') v = v * 10 + (d[pos++] - '0');
        if ((size_t)cnt < cap) ids[cnt] = (int32_t)v;
        cnt++;
        while (pos < e && d[pos] != ' ') pos++;
    }
    return cnt;
}

/* Decodes ids to bytes (control tokens rendered as nothing). Returns length; *out malloc'ed. */
static size_t decode_all(const ks_tokenizer *tok, const int32_t *ids, size_t n, char **out) {
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; i < n && buf; i++) {
        size_t pl;
        const char *p = ks_token_to_piece(tok, ids[i], false, &pl);
        if (!p) continue;
        if (len + pl > cap) {
            while (len + pl > cap) cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) break;
        }
        memcpy(buf + len, p, pl);
        len += pl;
    }
    *out = buf;
    return len;
}

/* Runs one (gguf, inp, out) triple. Returns false if a file could not be used. */
static bool run_case(const char *gguf_path, const char *inp_path, const char *out_path) {
    ks_err err = {0};
    uint8_t *inp = NULL, *outd = NULL;
    size_t inp_n = 0, out_n = 0;
    gguf_ctx *g = NULL;
    ks_tokenizer *tok = NULL;
    if (ks_file_read_all(inp_path, &inp, &inp_n, &err) || ks_file_read_all(out_path, &outd, &out_n, &err)) {
        CHECK(0, "read %s / %s: %s", inp_path, out_path, err.msg);
        free(inp);
        return false;
    }
    ks_status st = gguf_open_file(gguf_path, &g, &err);
    CHECK(st == KS_OK, "gguf_open_file %s: %s", gguf_path, err.msg);
    if (!st) {
        st = ks_tokenizer_from_gguf(g, &tok, &err);
        CHECK(st == KS_OK, "ks_tokenizer_from_gguf %s: %s", gguf_path, err.msg);
    }
    gguf_close(g);
    if (st) {
        free(inp);
        free(outd);
        return false;
    }
    str_view *strs = NULL;
    size_t n_str = split_inp((const char *)inp, inp_n, &strs);
    CHECK(n_str > 0, "%s: no test strings", inp_path);
    bool spm = ks_tokenizer_type(tok) == KS_TOK_SPM;
    size_t n_run = 0, n_pass = 0, n_rt_fail = 0;
    static int32_t expect[65536];
    for (size_t i = 0; i < n_str; i++) {
        bool dup = false; /* llama.cpp keys tests by input: the last duplicate wins */
        for (size_t j = i + 1; j < n_str && !dup; j++)
            dup = strs[j].n == strs[i].n && memcmp(strs[j].p, strs[i].p, strs[i].n) == 0;
        if (dup) continue;
        long n_exp = parse_out_line((const char *)outd, out_n, i, expect, 65536);
        int32_t *ids = NULL;
        size_t n_ids = 0;
        st = ks_tokenize(tok, strs[i].p, strs[i].n, false, false, &ids, &n_ids, &err);
        n_run++;
        bool ok = st == KS_OK && n_exp >= 0 && n_exp <= 65536 && (size_t)n_exp == n_ids &&
                  (n_ids == 0 || memcmp(ids, expect, n_ids * sizeof *ids) == 0);
        if (ok) n_pass++;
        else if (n_run - n_pass <= 5) {
            fprintf(stderr, "MISMATCH %s #%zu%s%s\n", gguf_path, i, st ? ": " : "", st ? err.msg : "");
            print_escaped("input   ", strs[i].p, strs[i].n);
            print_ids("expected", expect, n_exp < 0 ? 0 : (size_t)(n_exp > 65536 ? 65536 : n_exp));
            print_ids("got     ", ids, n_ids);
        }
        if (st == KS_OK) { /* round trip: SPM adds one leading space */
            char *dec = NULL;
            size_t dn = decode_all(tok, ids, n_ids, &dec);
            const char *d = dec;
            if (spm && dn > 0 && d[0] == ' ' && strs[i].n > 0) d++, dn--;
            if (dn != strs[i].n || memcmp(d, strs[i].p, dn) != 0) {
                if (n_rt_fail++ < 3) {
                    fprintf(stderr, "ROUND TRIP %s #%zu\n", gguf_path, i);
                    print_escaped("input  ", strs[i].p, strs[i].n);
                    print_escaped("decoded", d, dn);
                }
            }
            free(dec);
        }
        free(ids);
    }
    fprintf(stderr, "%s: %zu/%zu strings match, %zu round-trip failures\n", gguf_path, n_pass, n_run, n_rt_fail);
    CHECK(n_pass == n_run, "%s: %zu of %zu strings differ", gguf_path, n_run - n_pass, n_run);
    CHECK(n_rt_fail == 0, "%s: %zu strings do not decode back", gguf_path, n_rt_fail);
    free(strs);
    free(inp);
    free(outd);
    ks_tokenizer_free(tok);
    return true;
}

static bool exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* All *.gguf with .inp and .out in dir. Returns the number of cases run. */
static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        CHECK(0, "cannot open %s", dir);
        return 0;
    }
    int n = 0;
    struct dirent *e;
    char g[2048], inp[2100], out[2100];
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        if (snprintf(g, sizeof g, "%s/%s", dir, e->d_name) >= (int)sizeof g) continue;
        snprintf(inp, sizeof inp, "%s.inp", g);
        snprintf(out, sizeof out, "%s.out", g);
        if (!exists(inp) || !exists(out)) continue;
        run_case(g, inp, out);
        n++;
    }
    closedir(d);
    return n;
}

int main(void) {
    const char *shared = ks_test_env("KS_SHARED_DIR", "../shared");
    const char *src = ks_test_env("KS_SRC_DIR", ".");
    char cache_default[1024];
    snprintf(cache_default, sizeof cache_default, "%s/cache", src);
    const char *cache = ks_test_env("KS_CACHE_DIR", cache_default);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/testdata/tokenizers", shared);
    int n = run_dir(dir);
    CHECK(n >= 2, "expected at least 2 shared vocabularies in %s, found %d", dir, n);

    /* extra triples: (model, inp, out) */
    struct {
        const char *model, *inp, *out;
    } extra[] = {
        {"models/SmolLM2-135M-Instruct.Q4_1.gguf", "tests/data/smollm2-tokenizer.inp",
         "tests/data/smollm2-tokenizer.out"},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        char g[2048], inp[2048], out[2048];
        if (snprintf(g, sizeof g, "%s/%s", cache, extra[i].model) >= (int)sizeof g ||
            snprintf(inp, sizeof inp, "%s/%s", src, extra[i].inp) >= (int)sizeof inp ||
            snprintf(out, sizeof out, "%s/%s", src, extra[i].out) >= (int)sizeof out)
            continue;
        if (!exists(inp) || !exists(out)) {
            fprintf(stderr, "note: %s or its .out not present, skipped\n", inp);
            continue;
        }
        if (!exists(g)) {
            fprintf(stderr, "note: model %s not cached, %s skipped\n", g, inp);
            continue;
        }
        run_case(g, inp, out);
    }
    TEST_DONE();
}

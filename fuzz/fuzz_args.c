/* fuzz_args.c - libFuzzer target: the command-line option parser (cli_parse_opts)
 * with fuzzer-chosen arguments (NUL-separated; the first byte picks a command's
 * option list), token id lists (cli_parse_ids) and the escaping of error lines
 * (cli_print_escaped).
 * Checks beyond "no crash": an accepted parse leaves every number inside the
 * range its option documents; a refusal comes with a NUL-terminated message;
 * escaped output holds no control character (so every error is one line). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const allowed[] = {CLI_OPTS_GENERATE, CLI_OPTS_CHAT, CLI_OPTS_BENCH, CLI_OPTS_PERPLEXITY,
                                     CLI_OPTS_TOKENIZE};

static bool in(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

static void check_opts(const cli_opts *o) {
    const int64_t i32 = 2147483647;
    bool ok = (o->n_predict == CLI_UNSET || in(o->n_predict, -1, i32)) && (o->n_prompt == CLI_UNSET || in(o->n_prompt, 0, i32)) &&
              in(o->n_ctx, 0, i32) && in(o->n_batch, 0, i32) && in(o->n_chunks, -1, i32) && in(o->reps, 0, 100000) &&
              in(o->max_input, 0, (int64_t)1 << 40) && in(o->threads, 0, i32) && in(o->sp.top_k, -1, i32) &&
              in(o->sp.repeat_last_n, -1, i32);
    const ks_sampler_params *p = &o->sp;
    ok = ok && isfinite(p->temp) && p->temp >= 0 && p->top_p >= 0 && p->top_p <= 1 && p->min_p >= 0 && p->min_p <= 1 &&
         isfinite(p->repeat_penalty) && p->repeat_penalty >= 0 && isfinite(p->presence_penalty) &&
         isfinite(p->frequency_penalty);
    if (!ok) abort();
}

static void check_escaped(const uint8_t *data, size_t size) {
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return;
    cli_print_escaped(f, (const char *)data, size);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        const uint8_t c = (uint8_t)out[i];
        if (c < 0x20 || c == 0x7F) abort();
        if (c == 0xC2 && i + 1 < n && (uint8_t)out[i + 1] >= 0x80 && (uint8_t)out[i + 1] < 0xA0) abort(); /* C1 */
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    check_escaped(data, size);
    const char *allow = allowed[data[0] % (sizeof allowed / sizeof allowed[0])];
    char *buf = malloc(size + 1);
    char *argv[64];
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    int argc = 0;
    argv[argc++] = "cmd";
    for (char *p = buf; p < buf + size && argc < 63; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;
    cli_opts o;
    char msg[256];
    memset(msg, 'x', sizeof msg);
    const int rc = cli_parse_opts(argc, argv, allow, &o, msg, sizeof msg);
    if (rc == 0 && !o.help) check_opts(&o);
    /* a refusal: a NUL-terminated message (quoted values may hold any byte: cli_parse prints it escaped) */
    if (rc != 0 && (rc != 2 || !memchr(msg, 0, sizeof msg) || !msg[0])) abort();
    /* the same bytes as a --ids list: accepted ids are all in [0, 2^31) */
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (cli_parse_ids(buf, &ids, &n_ids, msg, sizeof msg) == 0) {
        if (!n_ids) abort();
        for (size_t i = 0; i < n_ids; i++)
            if (ids[i] < 0) abort();
        free(ids);
    }
    free(buf);
    return 0;
}

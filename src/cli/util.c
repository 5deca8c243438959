/* util.c - what every subcommand shares besides option parsing: error lines
 * (escaped: messages quote names and strings from files), loading the model, the
 * progress line of long work on a terminal. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

/* length of the valid UTF-8 character at s[0, n) that is not a C1 control, or 0 */
static size_t utf8_printable(const unsigned char *s, size_t n) {
    size_t need = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (!need || need > n) return 0;
    for (size_t j = 1; j < need; j++)
        if ((s[j] & 0xC0) != 0x80) return 0;
    if (s[0] == 0xC2 && s[1] < 0xA0) return 0;                         /* U+0080..U+009F: C1 controls */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xF0 && s[1] < 0x90)) return 0; /* overlong */
    if ((s[0] == 0xED && s[1] >= 0xA0) || (s[0] == 0xF4 && s[1] >= 0x90)) return 0; /* surrogate, > U+10FFFF */
    return need;
}

void cli_print_escaped(FILE *f, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        if (s[i] >= 0x20 && s[i] < 0x7F) {
            fputc(s[i++], f);
            continue;
        }
        size_t k = s[i] >= 0x80 ? utf8_printable(s + i, n - i) : 0;
        if (k) {
            fwrite(s + i, 1, k, f);
            i += k;
        } else {
            fprintf(f, "\\x%02x", s[i++]);
        }
    }
}

void cli_print_error(const char *cmd, const char *msg) {
    fprintf(stderr, "kestrel %s: ", cmd);
    cli_print_escaped(stderr, msg, strlen(msg));
    fputc('\n', stderr);
}

int cli_fail(const ks_err *err) {
    const char *m = err->msg[0] ? err->msg : ks_status_str(err->code);
    fputs("kestrel: ", stderr);
    cli_print_escaped(stderr, m, strlen(m));
    fputc('\n', stderr);
    return 1;
}

int cli_fail_input(const ks_err *err) {
    if (err->code != KS_ERR_LIMIT) return cli_fail(err);
    ks_err e = *err;
    const size_t n = strlen(e.msg);
    snprintf(e.msg + n, sizeof e.msg - n, "; raise it with --max-input-bytes N");
    return cli_fail(&e);
}

/* "\rLABEL: 42%" on stderr when it is a terminal, at each new percent; the line is cleared at 100% */
bool cli_progress(float p, void *label) {
    static int last = -1;
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    if (!tty) return true;
    const int pct = (int)(p * 100.0f);
    if (pct == last) return true;
    last = pct >= 100 ? -1 : pct;
    if (pct >= 100) fprintf(stderr, "\r\033[K");
    else fprintf(stderr, "\r%s: %3d%%", (const char *)label, pct);
    fflush(stderr);
    return true;
}

ks_model *cli_load_model(const cli_opts *o) {
    if (!o->model) {
        fprintf(stderr, "kestrel: no model given (-m MODEL)\n");
        return NULL;
    }
    ks_err err = {0};
    ks_model *m = NULL;
    /* KS_REPACK=0 / KS_NO_MMAP=1 / KS_F16_EXACT=1 in the environment: the same as the flags (scripts, tests) */
    const char *env_repack = getenv("KS_REPACK"), *env_mmap = getenv("KS_NO_MMAP"),
               *env_f16 = getenv("KS_F16_EXACT");
    ks_model_params mp = ks_model_default_params();
    mp.tokenizer_path = o->tokenizer;
    mp.no_mmap = o->no_mmap || (env_mmap && !strcmp(env_mmap, "1"));
    mp.no_repack = o->no_repack || (env_repack && !strcmp(env_repack, "0"));
    mp.f16_exact = o->f16_exact || (env_f16 && !strcmp(env_f16, "1"));
    mp.progress_callback = cli_progress;
    mp.progress_data = (void *)"loading";
    if (ks_model_load_from_file(o->model, &mp, &m, &err)) {
        cli_progress(1.0f, NULL);
        cli_fail(&err);
        return NULL;
    }
    if (!ks_model_tokenizer(m)) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "%s: the model has no tokenizer", o->model);
        cli_fail(&err);
        ks_model_free(m);
        return NULL;
    }
    return m;
}

void cli_fit_sampler(ks_sampler_params *sp, int64_t n_ctx) {
    if (n_ctx > 0 && sp->repeat_last_n > n_ctx) sp->repeat_last_n = (int32_t)n_ctx; /* no window is longer */
}

static ks_status cache_type(const char *name, const char *opt, int32_t *out, ks_err *err) {
    static const struct { const char *name; int32_t type; } types[] = {
        {"f32", KS_TYPE_F32}, {"f16", KS_TYPE_F16}, {"q8_0", KS_TYPE_Q8_0}};
    if (!name) return KS_OK;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcasecmp(name, types[i].name)) return *out = types[i].type, KS_OK;
    return ks_err_set(err, KS_ERR_INVALID_ARG, "%s: cache type '%.32s' is not f32, f16 or q8_0", opt, name);
}

ks_status cli_context_params(const cli_opts *o, ks_context_params *cp, ks_err *err) {
    cp->n_threads = o->threads;
    cp->flash_attn = o->flash_attn ? KS_FLASH_ATTN_ON : KS_FLASH_ATTN_OFF;
    ks_status st = cache_type(o->cache_type_k, "-ctk", &cp->kv_type, err);
    if (!st) st = cache_type(o->cache_type_v, "-ctv", &cp->kv_type_v, err);
    return st;
}

ks_status cli_tokenize_text(const ks_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                       int32_t **ids, size_t *n_ids, ks_err *err) {
    /* a token covers at least one byte, plus BOS, EOS and a leading-space token: one call almost always */
    size_t cap = len + 8;
    *ids = NULL, *n_ids = 0;
    for (int pass = 0; pass < 2; pass++) {
        int32_t *buf = cap <= SIZE_MAX / sizeof *buf ? malloc(cap * sizeof *buf) : NULL;
        if (!buf) return ks_err_set(err, KS_ERR_NOMEM, "out of memory for %zu token ids", cap);
        ks_status st = ks_tokenizer_tokenize(tok, text, len, add_special, parse_special, buf, cap, n_ids, err);
        if (!st) return *ids = buf, KS_OK;
        free(buf);
        if (st != KS_ERR_LIMIT || pass) return *n_ids = 0, st;
        cap = *n_ids;
    }
    return KS_OK;
}

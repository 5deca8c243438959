/* args.c - option parsing shared by every subcommand. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

typedef enum { T_STR, T_INT, T_FLOAT, T_U64, T_FLAG } opt_kind;
typedef struct {
    const char *key;   /* name used in the allowed list */
    const char *flags; /* "-m|--model" */
    opt_kind kind;
    size_t off;
} opt_def;

#define O(f) offsetof(cli_opts, f)
static const opt_def opts[] = {
    {"m", "-m|--model", T_STR, O(model)},
    {"tokenizer", "--tokenizer", T_STR, O(tokenizer)},
    {"p", "-p|--prompt", T_STR, O(prompt)},
    {"f", "-f|--file", T_STR, O(file)},
    {"system", "--system", T_STR, O(system)},
    {"ids", "--ids", T_STR, O(ids)},
    {"o", "-o|--output", T_STR, O(out)},
    {"n", "-n|--n-predict", T_INT, O(n_predict)},
    {"c", "-c|--ctx-size", T_INT, O(n_ctx)},
    {"b", "-b|--batch-size", T_INT, O(n_batch)},
    {"chunks", "--chunks", T_INT, O(n_chunks)},
    {"pp", "-p|--n-prompt", T_INT, O(n_prompt)},
    {"r", "-r|--repetitions", T_INT, O(reps)},
    {"json", "--json", T_FLAG, O(json)},
    {"t", "-t|--threads", T_INT, O(threads)},
    {"temp", "--temp", T_FLOAT, O(sp.temp)},
    {"top-k", "--top-k", T_INT, O(sp.top_k)},
    {"top-p", "--top-p", T_FLOAT, O(sp.top_p)},
    {"min-p", "--min-p", T_FLOAT, O(sp.min_p)},
    {"repeat-penalty", "--repeat-penalty", T_FLOAT, O(sp.repeat_penalty)},
    {"repeat-last-n", "--repeat-last-n", T_INT, O(sp.repeat_last_n)},
    {"presence-penalty", "--presence-penalty", T_FLOAT, O(sp.presence_penalty)},
    {"frequency-penalty", "--frequency-penalty", T_FLOAT, O(sp.frequency_penalty)},
    {"seed", "-s|--seed", T_U64, O(sp.seed)},
    {"no-bos", "--no-bos", T_FLAG, O(no_bos)},
    {"parse-special", "--parse-special", T_FLAG, O(parse_special)},
    {"pieces", "--pieces", T_FLAG, O(pieces)},
    {"ignore-eos", "--ignore-eos", T_FLAG, O(ignore_eos)},
    {"no-mmap", "--no-mmap", T_FLAG, O(no_mmap)},
    {"no-repack", "--no-repack", T_FLAG, O(no_repack)},
    {"f16-exact", "--f16-exact", T_FLAG, O(f16_exact)},
};

static bool flag_matches(const char *flags, const char *arg) {
    size_t n = strlen(arg);
    for (const char *p = flags; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, arg, n)) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static bool key_allowed(const char *allowed, const char *key) {
    size_t n = strlen(key);
    for (const char *p = allowed; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, key, n)) return true;
        if (!comma) break;
        p = comma + 1;
    }
    return false;
}

static void print_usage(const char *cmd, const char *allowed) {
    printf("usage: kestrel %s", cmd);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!key_allowed(allowed, opts[i].key)) continue;
        printf(" [%s%s]", opts[i].flags, opts[i].kind == T_FLAG ? "" : " X");
    }
    printf("\n");
}

int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->sp = ks_sampler_default_params();
    o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    o->n_predict = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_usage(cmd, allowed);
            o->help = true;
            return 0;
        }
        const opt_def *d = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (flag_matches(opts[k].flags, a) && key_allowed(allowed, opts[k].key)) d = &opts[k];
        if (!d) {
            fprintf(stderr, "kestrel %s: unknown option '%s' (see --help)\n", cmd, a);
            return 2;
        }
        char *field = (char *)o + d->off;
        if (d->kind == T_FLAG) {
            *(bool *)field = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kestrel %s: option '%s' needs a value\n", cmd, a);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        errno = 0;
        switch (d->kind) {
        case T_STR: *(const char **)field = v; break;
        case T_INT: {
            long long x = strtoll(v, &end, 10);
            if (d->off == O(threads) || d->off == O(sp.top_k) || d->off == O(sp.repeat_last_n)) {
                if (x < INT32_MIN || x > INT32_MAX) errno = ERANGE;
                *(int32_t *)field = (int32_t)x;
            } else {
                *(int64_t *)field = x;
            }
            break;
        }
        case T_FLOAT: {
            float x = strtof(v, &end);
            if (!isfinite(x)) errno = ERANGE;
            *(float *)field = x;
            break;
        }
        case T_U64:
            *(uint64_t *)field = strtoull(v, &end, 10);
            o->seed_set = true;
            break;
        case T_FLAG: break;
        }
        if (d->kind != T_STR && (errno || !end || end == v || *end)) {
            fprintf(stderr, "kestrel %s: bad value '%s' for option '%s'\n", cmd, v, a);
            return 2;
        }
    }
    return 0;
}

int cli_fail(const ks_err *err) {
    fprintf(stderr, "kestrel: %s\n", err->msg[0] ? err->msg : ks_status_str(err->code));
    return 1;
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
    const ks_model_params mp = {
        .no_mmap = o->no_mmap || (env_mmap && !strcmp(env_mmap, "1")),
        .no_repack = o->no_repack || (env_repack && !strcmp(env_repack, "0")),
        .f16_exact = o->f16_exact || (env_f16 && !strcmp(env_f16, "1")),
    };
    if (ks_model_load_params(o->model, o->tokenizer, &mp, &m, &err)) {
        cli_fail(&err);
        return NULL;
    }
    if (!m->tok) {
        fprintf(stderr, "kestrel: %s: the model has no tokenizer\n", o->model);
        ks_model_free(m);
        return NULL;
    }
    return m;
}

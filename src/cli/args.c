/* args.c - option parsing shared by every subcommand: one table of options, each
 * number parsed here and only here, range-checked against what it can mean.
 *
 * cli_parse_opts is pure (no printing, no I/O) so the fuzzer can drive it;
 * cli_parse wraps it with the messages and the random seed. Integer options are
 * read in full 64-bit range and must lie in [min, max] of their row; floats
 * must be finite and in range (a tiny positive --temp such as 1e-45 is valid). */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef enum { T_STR, T_I64, T_I32, T_FLOAT, T_SEED, T_FLAG } opt_kind;
typedef struct {
    const char *key;   /* name used in the allowed list */
    const char *flags; /* "-m|--model" */
    opt_kind kind;
    size_t off;
    double min, max; /* inclusive range of a number */
    const char *help;
    const char *dflt; /* the default, for --help (NULL: said in help) */
} opt_def;

#define O(f) offsetof(cli_opts, f)
#define I32 2147483647.0
#define RANGE_F (double)FLT_MAX
static const opt_def opts[] = {
    {"m", "-m|--model", T_STR, O(model), 0, 0, "model file (GGUF, or a llama.2c checkpoint with --tokenizer)", "required"},
    {"tokenizer", "--tokenizer", T_STR, O(tokenizer), 0, 0, "llama2.c tokenizer.bin", "none; required for a llama2.c checkpoint"},
    {"p", "-p|--prompt", T_STR, O(prompt), 0, 0, "prompt text", "none"},
    {"f", "-f|--file", T_STR, O(file), 0, 0, "text file (prompt / text to read)", "none"},
    {"system", "--system", T_STR, O(system), 0, 0, "system message", "none"},
    {"ids", "--ids", T_STR, O(ids), 0, 0, "token ids, separated by spaces or commas", "none"},
    {"o", "-o|--output", T_STR, O(out), 0, 0, "output file", "none"},
    {"n", "-n|--n-predict", T_I64, O(n_predict), -1, I32,
     "tokens to generate: -1 = until the context is full (or an end-of-generation token), 0 = none; "
     "default 256 (generate), -1 (chat); more than the context holds stops when it is full", NULL},
    {"ng", "-n|--n-gen", T_I64, O(n_predict), 0, I32, "generated tokens per repetition", "128"},
    {"c", "-c|--ctx-size", T_I64, O(n_ctx), 0, I32, "context size in tokens; 0 = automatic", "0: generate: prompt + -n within the trained context; chat: min(trained context, 4096); perplexity: 512"},
    {"b", "-b|--batch-size", T_I64, O(n_batch), 0, I32, "tokens per batch; 0 = 512", "512"},
    {"chunks", "--chunks", T_I64, O(n_chunks), -1, I32, "chunks to evaluate; -1 or 0 = all", "-1: all"},
    {"pp", "-p|--n-prompt", T_I64, O(n_prompt), 0, I32, "prompt tokens; 0 = skip prompt processing", "512"},
    {"r", "-r|--repetitions", T_I64, O(reps), 1, 100000, "repetitions", "5"},
    {"json", "--json", T_FLAG, O(json), 0, 0, "one JSON object", "off: a markdown table"},
    {"t", "-t|--threads", T_I32, O(threads), -1, I32, "threads; -1 or 0 = all cores", "0: all cores"},
    {"temp", "--temp", T_FLOAT, O(sp.temp), 0, RANGE_F, "temperature; 0 = greedy", "0.8"},
    {"top-k", "--top-k", T_I32, O(sp.top_k), -1, I32, "top-k; <= 0 = off", "40"},
    {"top-p", "--top-p", T_FLOAT, O(sp.top_p), 0, 1, "top-p in (0, 1]; 1 = off", "0.95"},
    {"min-p", "--min-p", T_FLOAT, O(sp.min_p), 0, 1, "min-p; 0 = off", "0.05"},
    {"repeat-penalty", "--repeat-penalty", T_FLOAT, O(sp.repeat_penalty), 0, RANGE_F, "repeat penalty > 0; 1 = off", "1.0"},
    {"repeat-last-n", "--repeat-last-n", T_I32, O(sp.repeat_last_n), -1, I32,
     "penalty window in tokens; -1 = the context, 0 = off", "64"},
    {"presence-penalty", "--presence-penalty", T_FLOAT, O(sp.presence_penalty), -RANGE_F, RANGE_F, "0 = off", "0"},
    {"frequency-penalty", "--frequency-penalty", T_FLOAT, O(sp.frequency_penalty), -RANGE_F, RANGE_F, "0 = off", "0"},
    {"seed", "-s|--seed", T_SEED, O(sp.seed), -1, 18446744073709551615.0,
     "random seed; -1 (or 4294967295, llama.cpp's default) = a random seed, as when absent", "-1: random (printed on stderr)"},
    {"max-input", "--max-input-bytes", T_I64, O(max_input), 1, 1099511627776.0,
     "largest text file (-f) or chat line accepted, in bytes", "256 MiB for -f, 4 MiB for a chat line"},
    {"no-bos", "--no-bos", T_FLAG, O(no_bos), 0, 0, "do not add BOS", "off: BOS added when the model asks for it"},
    {"parse-special", "--parse-special", T_FLAG, O(parse_special), 0, 0, "special-token text becomes those tokens", "off (tokenize); chat: off for message content"},
    {"pieces", "--pieces", T_FLAG, O(pieces), 0, 0, "print token texts instead of ids", "off"},
    {"ignore-eos", "--ignore-eos", T_FLAG, O(ignore_eos), 0, 0, "keep generating past end-of-generation tokens", "off"},
    {"no-mmap", "--no-mmap", T_FLAG, O(no_mmap), 0, 0, "read the weights instead of mapping them", "off: the file is mapped"},
    {"no-repack", "--no-repack", T_FLAG, O(no_repack), 0, 0, "keep the file's weight layout", "off: weights repacked for the SIMD kernels"},
    {"f16-exact", "--f16-exact", T_FLAG, O(f16_exact), 0, 0, "F16 weights without BF16 batches", "off"},
    {"ctk", "-ctk|--cache-type-k", T_STR, O(cache_type_k), 0, 0, "KV cache type for K: f16, f32 or q8_0", "f16"},
    {"ctv", "-ctv|--cache-type-v", T_STR, O(cache_type_v), 0, 0, "KV cache type for V: f16, f32 or q8_0", "as -ctk"},
    {"fa", "-fa|--flash-attn", T_FLAG, O(flash_attn), 0, 0,
     "flash attention (FP32, tiled); off: llama.cpp's non-flash order, bit for bit", "off"},
    {"d", "-d|--n-depth", T_I64, O(n_depth), 0, I32, "bench: tokens already in the context before each test", "0"},
    {"parallel", "--parallel", T_STR, O(parallel), 0, 0,
     "bench: aggregate speed of N sequences at once, for each N of a list such as 1,2,4,8,16", "none"},
    {"kvu", "-kvu|--kv-unified", T_FLAG, O(kv_unified), 0, 0,
     "bench --parallel: one pool of KV cells for all sequences", "off: a stream per sequence, as llama.cpp"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static bool list_has(const char *list, char sep, const char *s, size_t n) {
    for (const char *p = list; *p;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, s, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* the option of this command written as arg, or NULL */
static const opt_def *opt_find(const char *allowed, const char *arg) {
    for (size_t k = 0; k < N_OPTS; k++)
        if (list_has(opts[k].flags, '|', arg, strlen(arg)) &&
            list_has(allowed, ',', opts[k].key, strlen(opts[k].key)))
            return &opts[k];
    return NULL;
}

static void range_str(const opt_def *d, char *buf, size_t cap) {
    if (d->kind == T_SEED) snprintf(buf, cap, "an integer in [0, 18446744073709551615], or -1 for a random seed");
    else if (d->kind == T_FLOAT && d->max == RANGE_F)
        snprintf(buf, cap, d->min == 0 ? "a finite number >= 0" : "a finite number");
    else if (d->kind == T_FLOAT) snprintf(buf, cap, "a number in [%g, %g]", d->min, d->max);
    else snprintf(buf, cap, "an integer in [%.0f, %.0f]", d->min, d->max);
}

void cli_print_usage(FILE *f, const char *cmd, const char *allowed) {
    fprintf(f, "usage: kestrel %s", cmd);
    for (size_t i = 0; i < N_OPTS; i++)
        if (list_has(allowed, ',', opts[i].key, strlen(opts[i].key)))
            fprintf(f, " [%s%s]", opts[i].flags, opts[i].kind == T_FLAG ? "" : " X");
    fprintf(f, "\n\noptions:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *d = &opts[i];
        if (!list_has(allowed, ',', d->key, strlen(d->key))) continue;
        char r[96] = "";
        if (d->kind != T_STR && d->kind != T_FLAG) range_str(d, r, sizeof r);
        fprintf(f, "  %-22s %s%s%s%s", d->flags, d->help, r[0] ? " (" : "", r, r[0] ? ")" : "");
        if (d->dflt) fprintf(f, "; default: %s", d->dflt);
        fputc('\n', f);
    }
}

/* the number v for option d into its field; false if v is not one in range */
static bool parse_number(const opt_def *d, const char *v, char *field, cli_opts *o) {
    char *end = NULL;
    errno = 0;
    if (d->kind == T_FLOAT) {
        double x = strtod(v, &end);
        if (end == v || *end || !isfinite(x) || x < d->min || x > d->max) return false;
        *(float *)field = (float)x; /* underflow to a subnormal or 0 is fine: a tiny value */
        return true;
    }
    if (d->kind == T_SEED) {
        if (!strcmp(v, "-1") || !strcmp(v, "4294967295")) return o->seed_random = true;
        if (v[0] == '-' || v[0] == '+' || v[0] == ' ') return false; /* strtoull would wrap "-5" */
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || *end || errno) return false;
        *(uint64_t *)field = x;
        o->seed_random = false;
        return true;
    }
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE || (double)x < d->min || (double)x > d->max) return false;
    if (d->kind == T_I32) *(int32_t *)field = (int32_t)x;
    else *(int64_t *)field = x;
    return true;
}

static int fail_msg(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (msg && cap) vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return 2;
}

int cli_parse_opts(int argc, char **argv, const char *allowed, cli_opts *o, char *msg, size_t msg_cap) {
    memset(o, 0, sizeof *o);
    o->sp = ks_sampler_default_params();
    o->seed_random = true;
    o->n_predict = CLI_UNSET;
    o->n_prompt = CLI_UNSET;
    if (msg && msg_cap) msg[0] = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return o->help = true, 0;
        const opt_def *d = opt_find(allowed, a);
        if (!d) return fail_msg(msg, msg_cap, "unknown option '%s' (see --help)", a);
        char *field = (char *)o + d->off;
        if (d->kind == T_FLAG) {
            *(bool *)field = true;
            continue;
        }
        if (i + 1 >= argc) return fail_msg(msg, msg_cap, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (d->kind == T_STR) {
            *(const char **)field = v;
            continue;
        }
        if (!parse_number(d, v, field, o)) {
            char r[96];
            range_str(d, r, sizeof r);
            return fail_msg(msg, msg_cap, "bad value '%.40s%s' for option '%s': expected %s", v,
                            strlen(v) > 40 ? "..." : "", a, r);
        }
    }
    if (o->threads < 0) o->threads = 0; /* -1: all cores, as 0 */
    return 0;
}

int cli_parse_ids(const char *s, int32_t **ids, size_t *n_ids, char *msg, size_t msg_cap) {
    *n_ids = 0;
    const size_t cap = strlen(s) / 2 + 1; /* each id takes a digit and a separator (the last needs none) */
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return fail_msg(msg, msg_cap, "out of memory");
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || n == cap) {
            free(v);
            return fail_msg(msg, msg_cap, "bad token id list near '%.10s': expected ids in [0, 2147483647]", p);
        }
        v[n++] = (int32_t)x;
        p = end;
    }
    if (!n) {
        free(v);
        return fail_msg(msg, msg_cap, "--ids has no token id");
    }
    *ids = v;
    *n_ids = n;
    return 0;
}

uint64_t cli_random_seed(void) {
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s) s = 0;
        close(fd);
    }
    if (!s) { /* no urandom: the clock (seconds and nanoseconds) and the process id */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    return s & 0xFFFFFFFFull; /* a seed one can type back as --seed (never 4294967295: that means random) */
}

int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o) {
    char msg[256];
    const int rc = cli_parse_opts(argc, argv, allowed, o, msg, sizeof msg);
    if (rc) return cli_print_error(cmd, msg), rc;
    if (o->help) cli_print_usage(stdout, cmd, allowed);
    while (o->seed_random && (o->sp.seed = cli_random_seed()) == 0xFFFFFFFFull) {}
    return 0;
}

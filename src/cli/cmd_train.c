/* cmd_train.c - `kestrel train --config FILE [--resume DIR] [--KEY VALUE]...` and
 * `kestrel train-export --checkpoint DIR -o OUT.gguf`: the trainer through its public header
 * (kestrel_train.h). Every config key is also a flag (later flags override the file). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kestrel.h"
#include "kestrel_train.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void train_usage(FILE *f) {
    fprintf(f, "usage: kestrel train --config FILE [--resume DIR] [--KEY VALUE]...\n\nkeys (JSON config or flags):\n");
    const char *help = NULL, *k;
    for (size_t i = 0; (k = ks_train_config_key(i, &help)); i++) fprintf(f, "  --%-14s %s\n", k, help);
}

static void fmt_time(char *buf, size_t cap, double s) {
    const long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

static bool progress(void *user, const ks_train_progress *p) {
    (void)user;
    char eta[32];
    fmt_time(eta, sizeof eta, p->eta_s);
    fprintf(stderr, "step %lld/%lld | loss %.4f | lr %.3e | grad norm %.3f | %.0f tok/s | ETA %s", (long long)p->step,
            (long long)p->steps, p->loss, p->lr, p->grad_norm, p->tok_per_s, eta);
    if (!isnan(p->val_loss)) fprintf(stderr, " | val loss %.4f ppl %.2f", p->val_loss, exp(p->val_loss));
    if (p->checkpoint) fprintf(stderr, " | checkpoint");
    fprintf(stderr, "\n");
    return !stop_requested;
}

int cli_train(int argc, char **argv) {
    ks_train_config c;
    ks_train_config_default(&c);
    ks_err err = {0};
    const char *resume = NULL;
    int rc = 0;
    /* the config file first, then the flags over it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") && ks_train_config_load(&c, argv[i + 1], &err)) goto fail;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            train_usage(stdout);
            goto out;
        }
        if (strncmp(a, "--", 2) || i + 1 >= argc) {
            cli_print_error("train", "expected --KEY VALUE (see kestrel train --help)");
            rc = 2;
            goto out;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--config")) continue;
        if (!strcmp(a, "--resume")) resume = v;
        else if (ks_train_config_set(&c, a + 2, v, &err)) {
            cli_print_error("train", err.msg);
            rc = 2;
            goto out;
        }
    }
    uint64_t need = 0;
    if (ks_train_config_check(&c, &need, &err)) goto fail;
    fprintf(stderr, "kestrel train: %s, dim %lld, %lld layers, %lld heads, vocab %lld, batch %lld x %lld x %lld; "
            "needs %.1f MiB\n", c.family ? c.family : "llama", (long long)c.dim, (long long)c.layers,
            (long long)c.heads, (long long)c.vocab, (long long)c.batch, (long long)c.seq_len, (long long)c.accum,
            need / 1048576.0);
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
    if (ks_train_run(&c, resume, progress, NULL, &err)) goto fail;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    ks_train_config_free(&c);
    return rc;
}

int cli_train_export(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *tok = NULL;
    bool bad = false;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) bad = true;
        else if (!strcmp(argv[i], "--checkpoint")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--tokenizer")) tok = argv[i + 1];
        else bad = true;
    }
    if (bad || !dir || !out) {
        fprintf(stderr, "usage: kestrel train-export --checkpoint DIR -o OUT.gguf [--tokenizer TOKENIZER.gguf]\n");
        return 2;
    }
    ks_err err = {0};
    if (ks_train_export_gguf(dir, out, tok, &err)) return cli_fail(&err);
    fprintf(stderr, "kestrel train-export: wrote %s\n", out);
    return 0;
}

static bool prep_progress(void *user, const ks_prepare_stats *s) {
    (void)user;
    fprintf(stderr, "\rprepare-data: %.1f MiB read, %llu documents, %llu train + %llu val tokens",
            s->bytes_in / 1048576.0, (unsigned long long)s->docs, (unsigned long long)s->tokens_train,
            (unsigned long long)s->tokens_val);
    return !stop_requested;
}

int cli_prepare_data(int argc, char **argv) {
    ks_prepare_params p = {.val_fraction = 0.01};
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if ((!strcmp(a, "-m") || !strcmp(a, "-o") || !strcmp(a, "--val-fraction")) && i + 1 >= argc) a = "";
        if (!strcmp(a, "-m")) p.tokenizer = argv[++i];
        else if (!strcmp(a, "-o")) p.out_prefix = argv[++i];
        else if (!strcmp(a, "--val-fraction")) {
            p.val_fraction = strtod(argv[++i], &end);
            if (!*argv[i] || *end) p.val_fraction = -1;
        } else if (a[0] == '-') {
            fprintf(stderr, "usage: kestrel prepare-data -m TOKENIZER.gguf -o OUT_PREFIX [--val-fraction F] FILE...\n"
                            "  FILE: text (one document each) or .jsonl (a \"text\" per line); writes "
                            "OUT_PREFIX.train.bin, OUT_PREFIX.val.bin\n");
            rc = strcmp(a, "-h") && strcmp(a, "--help") ? 2 : 0;
            goto out;
        } else inputs[p.n_inputs++] = a;
    }
    p.inputs = inputs;
    ks_err err = {0};
    ks_prepare_stats st;
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
    const ks_status s = ks_prepare_data(&p, prep_progress, NULL, &st, &err);
    fprintf(stderr, "\n");
    if (s) rc = cli_fail(&err);
out:
    free(inputs);
    return rc;
}

static bool bpe_progress(void *user, const ks_bpe_train_stats *s) {
    (void)user;
    fprintf(stderr, "\rtrain-tokenizer: %.1f MiB, %llu lines, %llu words (%llu distinct), %llu merges",
            s->bytes_in / 1048576.0, (unsigned long long)s->lines, (unsigned long long)s->words,
            (unsigned long long)s->distinct_words, (unsigned long long)s->merges);
    return !stop_requested;
}

int cli_train_tokenizer(int argc, char **argv) {
    ks_bpe_train_params p = {.vocab_size = 30000, .min_frequency = 2, .pretok = "gpt-2"};
    const char **inputs = calloc((size_t)argc, sizeof *inputs), **special = calloc((size_t)argc, sizeof *special);
    int rc = 0;
    if (!inputs || !special) rc = 1;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        const bool has = i + 1 < argc;
        char *end = NULL;
        if (!strcmp(a, "-o") && has) p.out_path = argv[++i];
        else if (!strcmp(a, "--vocab-size") && has) p.vocab_size = strtoll(argv[++i], &end, 10);
        else if (!strcmp(a, "--min-frequency") && has) p.min_frequency = strtoll(argv[++i], &end, 10);
        else if (!strcmp(a, "--special") && has) special[p.n_special++] = argv[++i];
        else if (!strcmp(a, "--pretok") && has) p.pretok = argv[++i];
        else if (a[0] == '-') {
            fprintf(stderr, "usage: kestrel train-tokenizer -o OUT.json --vocab-size N [--min-frequency M] "
                            "[--special TOKEN]... [--pretok gpt-2|llama3] FILE...\n");
            rc = strcmp(a, "-h") && strcmp(a, "--help") ? 2 : 0;
            break;
        } else inputs[p.n_inputs++] = a;
        if (end && (*end || end == argv[i] || p.vocab_size < 0 || p.min_frequency < 0)) {
            cli_print_error("train-tokenizer", "--vocab-size and --min-frequency take non-negative integers");
            rc = 2;
        }
    }
    if (!rc && !p.out_path) {
        cli_print_error("train-tokenizer", "-o OUT.json is required");
        rc = 2;
    }
    if (!rc) {
        p.inputs = inputs, p.special = special;
        ks_err err = {0};
        ks_bpe_train_stats st;
        signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
        const ks_status s = ks_train_tokenizer(&p, bpe_progress, NULL, &st, &err);
        fprintf(stderr, "\n");
        if (s) rc = cli_fail(&err);
    }
    free(inputs), free(special);
    return rc;
}

/* cmd_bench.c - `kestrel bench -m MODEL [-p 512] [-n 128] [-d 0] [-t THREADS] [-r 5] [--json]`:
 * prompt processing (one decode of p fixed-seed random tokens) and generation (n
 * single-token decodes), like llama-bench's pp and tg, each after d tokens already in
 * the context (llama-bench's -d: evaluated once, untimed); mean +/- sample stddev of r
 * repetitions, as a llama-bench markdown table or one JSON object.
 * `--parallel 1,2,4,...` instead measures N sequences at once, as llama-batched-bench:
 * N prompts of p tokens in one batch (S_PP, aggregate tokens/s), then n steps of one
 * token per sequence (S_TG). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0.0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* N sequences of n_prompt + n_gen tokens at once, for each N of o->parallel (llama-batched-bench's
 * S_PP and S_TG: aggregate tokens per second). Prints one line per N; returns the exit status. */
static int bench_parallel(const ks_model *m, const cli_opts *o, int64_t n_prompt, int64_t n_gen) {
    const int64_t n_train = ks_model_n_ctx_train(m), n_vocab = ks_model_n_vocab(m);
    int32_t *ns = NULL;
    size_t n_n = 0;
    char msg[128];
    if (cli_parse_ids(o->parallel, &ns, &n_n, msg, sizeof msg)) return cli_print_error("bench", msg), 2;
    ks_err err = {0};
    ks_batch b = {0};
    int rc = 1;
    if (!o->json) printf("|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |\n"
                         "|-------|--------|------|--------|----------|----------|----------|----------|\n");
    for (size_t k = 0; k < n_n; k++) {
        const int64_t N = ns[k], n_kv = N * (n_prompt + n_gen);
        ks_context *ctx = NULL;
        ks_context_params cp = ks_context_default_params();
        cp.n_ctx = n_kv + 1, cp.n_seq_max = (int)(N < 1 ? 1 : N), cp.n_batch = 512;
        cp.kv_unified = o->kv_unified; /* llama-batched-bench: a stream per sequence unless -kvu */
        if (N < 1 || N > KS_MAX_SEQ || n_kv + 1 > n_train) {
            ks_err_set(&err, KS_ERR_LIMIT, "bench: --parallel %lld: 1 to %d sequences of -p + -n tokens within the "
                       "trained context (%lld)", (long long)N, KS_MAX_SEQ, (long long)n_train);
            goto fail;
        }
        if (cli_context_params(o, &cp, &err) || ks_context_new(m, &cp, &ctx, &err) ||
            ks_batch_init(&b, n_kv > N ? n_kv : N, &err))
            goto fail;
        uint64_t s = 42;
        for (int64_t q = 0; q < N; q++)
            for (int64_t i = 0; i < n_prompt; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                ks_batch_add1(&b, (int32_t)((s >> 33) % (uint64_t)n_vocab), (int32_t)i, (int32_t)q,
                              i + 1 == n_prompt, NULL);
            }
        if (b.n_tokens && ks_decode_batch(ctx, &b, &err)) goto fail; /* warm-up, as llama-batched-bench's */
        ks_kv_clear(ctx);
        double t0 = ks_time_s(), t_pp = 0;
        if (b.n_tokens && ks_decode_batch(ctx, &b, &err)) goto fail;
        t_pp = ks_time_s() - t0;
        t0 = ks_time_s();
        for (int64_t i = 0; i < n_gen; i++) {
            ks_batch_clear(&b);
            for (int64_t q = 0; q < N; q++)
                ks_batch_add1(&b, (int32_t)((q + i) % 1000), (int32_t)(n_prompt + i), (int32_t)q, true, NULL);
            if (ks_decode_batch(ctx, &b, &err)) goto fail;
        }
        const double t_tg = ks_time_s() - t0;
        const double s_pp = t_pp > 0 ? (double)(N * n_prompt) / t_pp : 0;
        const double s_tg = t_tg > 0 ? (double)(N * n_gen) / t_tg : 0;
        if (o->json)
            printf("{\"n_parallel\": %lld, \"n_prompt\": %lld, \"n_gen\": %lld, \"pp_tok_s\": %.3f, "
                   "\"tg_tok_s\": %.3f, "
                   "\"threads\": %d, \"flash_attn\": %d}\n", (long long)N, (long long)n_prompt, (long long)n_gen, s_pp,
                   s_tg, ks_context_n_threads(ctx), o->flash_attn);
        else
            printf("| %5lld | %6lld | %4lld | %6lld | %8.3f | %8.2f | %8.3f | %8.2f |\n", (long long)n_prompt,
                   (long long)n_gen, (long long)N, (long long)n_kv, t_pp, s_pp, t_tg, s_tg);
        fflush(stdout);
        ks_batch_free(&b);
        ks_context_free(ctx);
        continue;
    fail:
        ks_batch_free(&b);
        ks_context_free(ctx);
        free(ns);
        return cli_fail(&err);
    }
    rc = 0;
    free(ns);
    return rc;
}

int cli_bench(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "bench", CLI_OPTS_BENCH, &o);
    if (rc || o.help) return rc;
    /* -p 0 / -n 0 skip that test (as llama-bench); the parser bounds both to [0, 2^31) and -r to [1, 100000] */
    const int64_t n_prompt = o.n_prompt == CLI_UNSET ? 512 : o.n_prompt;
    const int64_t n_gen = o.n_predict == CLI_UNSET ? 128 : o.n_predict;
    const int reps = o.reps > 0 ? (int)o.reps : 5;
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_err err = {0};
    ks_context *ctx = NULL;
    int32_t *toks = NULL;
    double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
    if (!pp || !tg) goto nomem;
    if (!ks_model_has_weights(m)) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "%s: vocabulary-only model", o.model);
        goto fail;
    }
    if (o.parallel) {
        rc = bench_parallel(m, &o, n_prompt, n_gen);
        goto done;
    }
    /* pp runs at positions [d, d + p), tg at [d, d + n): each must fit in the trained context */
    const int64_t depth = o.n_depth, n_train = ks_model_n_ctx_train(m);
    if (depth + n_prompt > n_train || depth + n_gen > n_train) {
        ks_err_set(&err, KS_ERR_LIMIT,
                   "bench: -d %lld with -p %lld / -n %lld: the model's trained context is %lld tokens",
                   (long long)depth, (long long)n_prompt, (long long)n_gen, (long long)n_train);
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = depth + (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    if (cp.n_ctx > n_train) cp.n_ctx = n_train;
    cp.n_batch = n_prompt > 0 ? n_prompt : 512;
    if (cli_context_params(&o, &cp, &err) || ks_context_new(m, &cp, &ctx, &err)) goto fail;
    const int64_t n_toks = n_prompt + n_gen + 1 + depth; /* all bounded by the trained context */
    toks = calloc((size_t)n_toks, sizeof *toks);
    if (!toks) goto nomem;
    uint64_t s = 42;
    for (int64_t i = 0; i < n_toks; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((s >> 33) % (uint64_t)ks_model_n_vocab(m));
    }
    /* the depth, once: every test then runs at positions depth.. (ks_decode drops what is past them) */
    if (depth > 0 && ks_decode(ctx, toks + n_prompt + n_gen + 1, depth, 0, false, &err)) goto fail;
    /* warm-up as llama-bench's: the whole prompt once (pages in the weights and the
     * batch buffers), then one generated token */
    if (n_prompt > 0 && ks_decode(ctx, toks, n_prompt, depth, false, &err)) goto fail;
    if (ks_decode(ctx, toks, 1, depth, false, &err)) goto fail;
    for (int r = 0; r < reps; r++) {
        if (n_prompt > 0) {
            double t0 = ks_time_s();
            if (ks_decode(ctx, toks, n_prompt, depth, false, &err)) goto fail;
            pp[r] = (double)n_prompt / (ks_time_s() - t0);
        }
        if (n_gen > 0) {
            double t0 = ks_time_s();
            for (int64_t i = 0; i < n_gen; i++)
                if (ks_decode(ctx, toks + n_prompt + i, 1, depth + i, false, &err)) goto fail;
            tg[r] = (double)n_gen / (ks_time_s() - t0);
        }
    }
    double pm, psd, tm, tsd;
    stats(pp, reps, &pm, &psd);
    stats(tg, reps, &tm, &tsd);
    ks_model_info info;
    ks_model_get_info(m, &info);
    const uint64_t size = info.n_bytes, n_params = info.n_params;
    const char *name = base_name(o.model);
    const int nt = ks_context_n_threads(ctx);
    if (o.json) {
        printf("{\"model\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"threads\": %d, "
               "\"n_prompt\": %lld, \"n_gen\": %lld, \"reps\": %d, \"pp_tok_s\": %.3f, \"pp_stddev\": %.3f, "
               "\"tg_tok_s\": %.3f, \"tg_stddev\": %.3f, \"isa\": \"%s\", \"n_depth\": %lld, \"flash_attn\": %d}\n",
               name, (unsigned long long)size, (unsigned long long)n_params, nt, (long long)n_prompt,
               (long long)n_gen, reps, pm, psd, tm, tsd, ks_kernels_isa(), (long long)depth, o.flash_attn);
    } else {
        /* llama-bench's markdown columns (backend: the kernel ISA chosen at run time) */
        printf("| model | size | params | backend | threads | test | t/s |\n|---|---:|---:|---|---:|---:|---:|\n");
        const double mib = size / 1048576.0, mp = n_params / 1e6;
        char at[32] = "";
        if (depth > 0) snprintf(at, sizeof at, " @ d%lld", (long long)depth); /* llama-bench's label */
        if (n_prompt > 0)
            printf("| %s | %.2f MiB | %.2f M | CPU %s | %d | pp%lld%s | %.2f ± %.2f |\n", name, mib, mp,
                   ks_kernels_isa(), nt, (long long)n_prompt, at, pm, psd);
        if (n_gen > 0)
            printf("| %s | %.2f MiB | %.2f M | CPU %s | %d | tg%lld%s | %.2f ± %.2f |\n", name, mib, mp,
                   ks_kernels_isa(), nt, (long long)n_gen, at, tm, tsd);
    }
    rc = 0;
    goto done;
nomem:
    ks_err_set(&err, KS_ERR_NOMEM, "out of memory");
fail:
    rc = cli_fail(&err);
done:
    free(pp), free(tg), free(toks);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

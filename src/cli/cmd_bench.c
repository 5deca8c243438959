/* cmd_bench.c - `kestrel bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r 5] [--json]`:
 * prompt processing (one decode of p fixed-seed random tokens from an empty
 * cache) and generation (n single-token decodes), like llama-bench's pp and tg;
 * mean +/- sample stddev of r repetitions, as a llama-bench markdown table or
 * one JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/gguf.h"
#include "generate/generate.h"
#include "kernels/kernels.h"

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

/* weight bytes and parameter count, as llama-bench's size and params columns
 * (llama_model_size, llama_model_n_params: sums over all tensors) */
static void model_size(const ks_model *m, uint64_t *bytes, uint64_t *n_params) {
    *bytes = 0, *n_params = 0;
    if (!m->gguf) { /* llama2.c checkpoint: F32 throughout */
        *bytes = m->map.size, *n_params = m->map.size / 4;
        return;
    }
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor_info *t = &m->gguf->tensors[i];
        uint64_t ne = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) ne *= (uint64_t)t->ne[d];
        *bytes += t->nbytes, *n_params += ne;
    }
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
    /* pp runs at positions [0, p), tg at [0, n): each must fit in the trained context */
    if (n_prompt > m->hp.n_ctx_train || n_gen > m->hp.n_ctx_train) {
        ks_err_set(&err, KS_ERR_LIMIT, "bench: -p %lld / -n %lld: the model's trained context is %lld tokens",
                   (long long)n_prompt, (long long)n_gen, (long long)m->hp.n_ctx_train);
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = n_prompt + n_gen + 1;
    if (cp.n_ctx > m->hp.n_ctx_train) cp.n_ctx = m->hp.n_ctx_train;
    cp.n_batch = n_prompt > 0 ? n_prompt : 1;
    cp.n_threads = o.threads;
    if (ks_context_new(m, &cp, &ctx, &err)) goto fail;
    toks = calloc((size_t)(n_prompt + n_gen + 1), sizeof *toks); /* both <= the trained context */
    if (!toks) goto nomem;
    uint64_t s = 42;
    for (int64_t i = 0; i < n_prompt + n_gen + 1; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((s >> 33) % (uint64_t)m->hp.n_vocab);
    }
    /* warm-up as llama-bench's: the whole prompt once (pages in the weights and the
     * batch buffers), then one generated token */
    if (n_prompt > 0 && ks_decode(ctx, toks, n_prompt, 0, false, &err)) goto fail;
    if (ks_decode(ctx, toks, 1, 0, false, &err)) goto fail;
    for (int r = 0; r < reps; r++) {
        if (n_prompt > 0) {
            double t0 = ks_time_s();
            if (ks_decode(ctx, toks, n_prompt, 0, false, &err)) goto fail;
            pp[r] = (double)n_prompt / (ks_time_s() - t0);
        }
        if (n_gen > 0) {
            double t0 = ks_time_s();
            for (int64_t i = 0; i < n_gen; i++)
                if (ks_decode(ctx, toks + n_prompt + i, 1, i, false, &err)) goto fail;
            tg[r] = (double)n_gen / (ks_time_s() - t0);
        }
    }
    double pm, psd, tm, tsd;
    stats(pp, reps, &pm, &psd);
    stats(tg, reps, &tm, &tsd);
    uint64_t size, n_params;
    model_size(m, &size, &n_params);
    const char *name = base_name(o.model);
    const int nt = ks_context_n_threads(ctx);
    if (o.json) {
        printf("{\"model\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"threads\": %d, "
               "\"n_prompt\": %lld, \"n_gen\": %lld, \"reps\": %d, \"pp_tok_s\": %.3f, \"pp_stddev\": %.3f, "
               "\"tg_tok_s\": %.3f, \"tg_stddev\": %.3f, \"isa\": \"%s\"}\n",
               name, (unsigned long long)size, (unsigned long long)n_params, nt, (long long)n_prompt,
               (long long)n_gen, reps, pm, psd, tm, tsd, ks_kernels_isa());
    } else {
        /* llama-bench's markdown columns (backend: the kernel ISA chosen at run time) */
        printf("| model | size | params | backend | threads | test | t/s |\n|---|---:|---:|---|---:|---:|---:|\n");
        const double mib = size / 1048576.0, mp = n_params / 1e6;
        if (n_prompt > 0)
            printf("| %s | %.2f MiB | %.2f M | CPU %s | %d | pp%lld | %.2f ± %.2f |\n", name, mib, mp,
                   ks_kernels_isa(), nt, (long long)n_prompt, pm, psd);
        if (n_gen > 0)
            printf("| %s | %.2f MiB | %.2f M | CPU %s | %d | tg%lld | %.2f ± %.2f |\n", name, mib, mp,
                   ks_kernels_isa(), nt, (long long)n_gen, tm, tsd);
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

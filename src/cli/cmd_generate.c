/* cmd_generate.c - `kestrel generate`: the continuation of a prompt on stdout
 * (streamed), a speed line on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int write_stdout(void *ud, const char *text, size_t len) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cli_generate(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "generate", CLI_OPTS_GENERATE, &o);
    if (rc || o.help) return rc;
    if (!o.prompt && !o.file) {
        fprintf(stderr, "kestrel: no prompt given (-p PROMPT or -f FILE)\n");
        return 2;
    }
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_err err = {0};
    ks_context *ctx = NULL;
    ks_sampler *smpl = NULL;
    int32_t *ids = NULL;
    uint8_t *fbuf = NULL;
    size_t n_ids = 0, plen = 0;
    const char *prompt = o.prompt;
    if (o.file) {
        if (ks_file_read_max(o.file, (size_t)o.max_input, &fbuf, &plen, &err)) {
            rc = cli_fail_input(&err);
            goto done;
        }
        prompt = (const char *)fbuf;
    } else {
        plen = strlen(prompt);
    }
    /* prompt special-token text is parsed, as llama.cpp's CLI does */
    if (cli_tokenize_text(ks_model_tokenizer(m), prompt, plen, !o.no_bos, true, &ids, &n_ids, &err)) goto fail;
    if (n_ids == 0) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "the prompt is empty after tokenization (the model adds no BOS)");
        goto fail;
    }
    if (!ks_model_has_weights(m)) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "%s: vocabulary-only model, cannot generate", o.model);
        goto fail;
    }
    /* -n: absent 256, -1 until the context is full (ks_generate stops there in any case), 0 none */
    const int64_t n_predict = o.n_predict == CLI_UNSET ? 256 : o.n_predict;
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = o.n_ctx;
    if (cp.n_ctx <= 0) { /* enough for prompt + generation, within the trained context (both < 2^32) */
        const int64_t n_train = ks_model_n_ctx_train(m);
        cp.n_ctx = n_predict < 0 ? n_train : (int64_t)n_ids + n_predict;
        if (cp.n_ctx > n_train) cp.n_ctx = n_train;
    }
    if (cli_context_params(&o, &cp, &err)) goto fail;
    if (ks_context_new(m, &cp, &ctx, &err)) goto fail;
    cli_fit_sampler(&o.sp, cp.n_ctx);
    if (ks_sampler_init(&smpl, &o.sp, ks_model_n_vocab(m), &err)) goto fail;
    ks_gen_stats st;
    ks_gen_params gp = {.n_predict = n_predict, .ignore_eog = o.ignore_eos};
    if (ks_generate(ctx, m, smpl, ids, (int64_t)n_ids, 0, &gp, write_stdout, NULL, NULL, NULL, &st, &err)) goto fail;
    fflush(stdout);
    fprintf(stderr,
            "\nkestrel: prompt %lld tokens, %.2f tok/s | generation %lld tokens, %.2f tok/s%s | %s, %d threads, "
            "seed %llu\n",
            (long long)st.n_prompt, st.t_prompt_s > 0 ? st.n_prompt / st.t_prompt_s : 0.0, (long long)st.n_gen,
            st.t_gen_s > 0 ? st.n_gen / st.t_gen_s : 0.0, st.stopped_ctx ? " (stopped: context full)" : "",
            ks_kernels_isa(), ks_context_n_threads(ctx), (unsigned long long)o.sp.seed);
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(ids);
    ks_free(fbuf);
    ks_sampler_free(smpl);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

/* cmd_perplexity.c - `kestrel perplexity -m MODEL -f TEXT [-c CTX] [-b BATCH]`:
 * running estimates per chunk as llama.cpp prints them, `perplexity: X` last. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static void progress(void *ud, const ks_ppl_result *r) {
    (void)ud;
    printf("[%lld]%.4f,", (long long)r->n_chunks, r->ppl);
    fflush(stdout);
}

int cli_perplexity(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "perplexity", CLI_OPTS_PERPLEXITY, &o);
    if (rc || o.help) return rc;
    if (!o.file) {
        fprintf(stderr, "kestrel: perplexity needs a text file (-f FILE)\n");
        return 2;
    }
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_err err = {0};
    uint8_t *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    ks_ppl_result r;
    if (ks_file_read_max(o.file, (size_t)o.max_input, &text, &len, &err)) {
        rc = cli_fail_input(&err);
        goto done;
    }
    /* the whole text, with BOS if the model adds one (llama.cpp: common_tokenize(..., true)) */
    if (cli_tokenize_text(ks_model_tokenizer(m), (const char *)text, len, true, false, &ids, &n, &err)) goto fail;
    const int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : 512;
    fprintf(stderr, "kestrel: %zu tokens, %lld chunks of %lld\n", n, (long long)(n / (size_t)n_ctx), (long long)n_ctx);
    if (ks_perplexity(m, ids, (int64_t)n, n_ctx, o.n_batch > 0 ? o.n_batch : 512, o.n_chunks, o.threads, progress, NULL,
                      &r, &err))
        goto fail;
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
    printf("perplexity: %.4f\n", r.ppl);
    rc = 0;
    goto done;
fail:
    printf("\n");
    rc = cli_fail(&err);
done:
    free(ids);
    ks_free(text);
    ks_model_free(m);
    return rc;
}

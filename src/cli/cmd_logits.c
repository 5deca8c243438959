/* cmd_logits.c - `kestrel logits -m MODEL --ids "1 2 3" -o OUT`: raw float32
 * logits for every position (n_ids x n_vocab, little-endian), for comparing
 * against reference implementations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_logits(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "logits", "m,tokenizer,ids,o,t,no-mmap,no-repack,f16-exact,ctk,ctv", &o);
    if (rc || o.help) return rc;
    if (!o.ids || !o.out) {
        fprintf(stderr, "kestrel: logits needs --ids \"ID ...\" and -o FILE\n");
        return 2;
    }
    size_t n = 0;
    int32_t *ids = NULL;
    char msg[128];
    if (cli_parse_ids(o.ids, &ids, &n, msg, sizeof msg)) {
        return cli_print_error("logits", msg), 2;
    }
    ks_err err = {0};
    const char *const inputs[] = {o.model, o.tokenizer};
    cli_trap_signals();
    if (ks_output_check(o.out, inputs, 2, &err)) { /* before any work */
        free(ids);
        return cli_fail(&err);
    }
    ks_model *m = cli_load_model(&o);
    if (!m) {
        free(ids);
        return 1;
    }
    ks_context *ctx = NULL;
    float *out = NULL;
    const size_t row = (size_t)ks_model_n_vocab(m);
    if ((int64_t)n > ks_model_n_ctx_train(m)) { /* before the n x n_vocab logits are allocated */
        ks_err_set(&err, KS_ERR_LIMIT, "logits: %zu ids exceed the model's trained context of %lld", n,
                   (long long)ks_model_n_ctx_train(m));
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = (int64_t)n;
    cp.n_batch = (int64_t)n;
    cp.logits_all = true;
    if (cli_context_params(&o, &cp, &err) || ks_context_new(m, &cp, &ctx, &err)) goto fail;
    if (ks_decode(ctx, ids, (int64_t)n, 0, true, &err)) goto fail;
    if (!(out = malloc(n * row * sizeof *out))) {
        ks_err_set(&err, KS_ERR_NOMEM, "logits: out of memory for %zu x %zu floats", n, row);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) memcpy(out + i * row, ks_context_logits(ctx, (int64_t)i), row * sizeof *out);
    if (ks_output_write(o.out, inputs, 2, out, n * row * sizeof *out, &err)) goto fail;
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(out);
    free(ids);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

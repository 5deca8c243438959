/* cmd_logits.c - `kestrel logits -m MODEL --ids "1 2 3" -o OUT`: raw float32
 * logits for every position (n_ids x n_vocab, little-endian), for comparing
 * against reference implementations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "cli/cli.h"

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
    ks_outfile f = {0};
    cli_trap_signals();
    if (ks_outfile_open(&f, o.out, (const char *const[]){o.model, o.tokenizer}, 2, &err)) {
        free(ids);
        return cli_fail(&err);
    }
    ks_model *m = cli_load_model(&o);
    if (!m) {
        ks_outfile_discard(&f);
        free(ids);
        return 1;
    }
    ks_context *ctx = NULL;
    if ((int64_t)n > m->hp.n_ctx_train) { /* before the n x n_vocab logits are allocated */
        ks_err_set(&err, KS_ERR_LIMIT, "logits: %zu ids exceed the model's trained context of %lld", n,
                   (long long)m->hp.n_ctx_train);
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = (int64_t)n;
    cp.n_batch = (int64_t)n;
    cp.logits_all = true;
    if (cli_context_params(&o, &cp, &err) || ks_context_new(m, &cp, &ctx, &err)) goto fail;
    if (ks_decode(ctx, ids, (int64_t)n, 0, true, &err)) goto fail;
    for (size_t i = 0; i < n; i++)
        if (ks_outfile_write(&f, ks_context_logits(ctx, (int64_t)i), 4 * (size_t)m->hp.n_vocab, &err)) goto fail;
    if (ks_outfile_commit(&f, &err)) goto fail;
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    ks_outfile_discard(&f);
    free(ids);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

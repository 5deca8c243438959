/* cmd_logits.c - `kestrel logits -m MODEL --ids "1 2 3" -o OUT`: raw float32
 * logits for every position (n_ids x n_vocab, little-endian), for comparing
 * against reference implementations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "cli/cli.h"

int cli_logits(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "logits", "m,tokenizer,ids,o,t,no-mmap,no-repack,f16-exact", &o);
    if (rc || o.help) return rc;
    if (!o.ids || !o.out) {
        fprintf(stderr, "kestrel: logits needs --ids \"ID ...\" and -o FILE\n");
        return 2;
    }
    size_t cap = strlen(o.ids) / 2 + 2, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return 1;
    for (const char *p = o.ids; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || n == cap) {
            fprintf(stderr, "kestrel: bad token id list near '%.10s'\n", p);
            free(ids);
            return 2;
        }
        ids[n++] = (int32_t)v;
        p = end;
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
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = (int64_t)n > m->hp.n_ctx_train ? m->hp.n_ctx_train : (int64_t)n;
    cp.n_batch = (int64_t)n;
    cp.logits_all = true;
    cp.n_threads = o.threads;
    if (ks_context_new(m, &cp, &ctx, &err)) goto fail;
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

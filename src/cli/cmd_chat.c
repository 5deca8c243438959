/* cmd_chat.c - `kestrel chat`: a conversation using the model's chat template.
 * Reads user turns from stdin, one per line; streams replies to stdout. The KV
 * cache keeps the conversation: each turn re-renders the whole conversation and
 * evaluates only the tokens after the longest cached prefix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "generate/chat.h"
#include "generate/generate.h"
#include "tokenizer/tokenizer.h"

typedef struct reply_buf {
    char *data;
    size_t len, cap;
    bool failed;
} reply_buf;

static int on_text(void *ud, const char *text, size_t len) {
    reply_buf *r = ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (r->len + len + 1 > r->cap) {
        size_t nc = (r->cap + len + 1) * 2;
        char *nd = realloc(r->data, nc);
        if (!nd) {
            r->failed = true;
            return 1;
        }
        r->data = nd, r->cap = nc;
    }
    memcpy(r->data + r->len, text, len);
    r->len += len;
    r->data[r->len] = '\0';
    return 0;
}

static char *read_line(FILE *f) {
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    int ch;
    if (!s) return NULL;
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 2 > cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) { free(s); return NULL; }
            s = ns;
        }
        s[n++] = (char)ch;
    }
    if (ch == EOF && n == 0) { free(s); return NULL; }
    if (n && s[n - 1] == '\r') n--;
    s[n] = '\0';
    return s;
}

int cli_chat(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "chat",
                       "m,tokenizer,system,n,c,t,temp,top-k,top-p,min-p,repeat-penalty,repeat-last-n,presence-penalty,"
                       "frequency-penalty,seed,no-mmap,no-repack,f16-exact,parse-special",
                       &o);
    if (rc || o.help) return rc;
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_err err = {0};
    ks_context *ctx = NULL;
    ks_sampler *smpl = NULL;
    ks_chat_msg *msgs = NULL;
    size_t n_msgs = 0, cap_msgs = 0;
    int32_t *cached = NULL, *ids = NULL;
    int64_t n_cached = 0;
    char *line = NULL;
    const bool tty = isatty(0);
    if (!ks_model_has_weights(m)) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "%s: vocabulary-only model, cannot chat", o.model);
        goto fail;
    }
    if (!m->chat_template || ks_chat_detect(m->chat_template) == KS_CHAT_UNKNOWN) {
        ks_err_set(&err, KS_ERR_UNSUPPORTED, "%s: the model has no chat template Kestrel supports", o.model);
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = o.n_ctx > 0 ? o.n_ctx : (m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096);
    cp.n_threads = o.threads;
    if (ks_context_new(m, &cp, &ctx, &err)) goto fail;
    if (ks_sampler_init(&smpl, &o.sp, (int32_t)m->hp.n_vocab, &err)) goto fail;
    cached = malloc((size_t)cp.n_ctx * sizeof *cached);
    if (!cached) goto nomem;
    if (o.system) {
        msgs = calloc(cap_msgs = 16, sizeof *msgs);
        if (!msgs) goto nomem;
        msgs[n_msgs++] = (ks_chat_msg){"system", strdup(o.system)};
    }
    const int64_t n_predict = o.n_predict > 0 ? o.n_predict : 1024;
    for (;;) {
        if (tty) fprintf(stderr, "> "), fflush(stderr);
        free(line);
        if (!(line = read_line(stdin))) break;
        if (!line[0]) continue;
        if (n_msgs + 2 > cap_msgs) {
            ks_chat_msg *nm = realloc(msgs, (cap_msgs = cap_msgs * 2 + 16) * sizeof *msgs);
            if (!nm) goto nomem;
            msgs = nm;
        }
        msgs[n_msgs++] = (ks_chat_msg){"user", strdup(line)};
        free(ids), ids = NULL;
        size_t n_ids = 0; /* message content is plain text unless --parse-special */
        if (ks_chat_tokenize(m->tok, m->chat_template, msgs, n_msgs, true, o.parse_special, &ids, &n_ids, &err))
            goto fail;
        if ((int64_t)n_ids + 1 >= cp.n_ctx) {
            ks_err_set(&err, KS_ERR_LIMIT, "conversation of %zu tokens fills the context (%lld); restart or raise -c",
                       n_ids, (long long)cp.n_ctx);
            goto fail;
        }
        int64_t keep = 0; /* longest prefix already in the KV cache */
        while (keep < n_cached && keep < (int64_t)n_ids && cached[keep] == ids[keep]) keep++;
        if (keep == (int64_t)n_ids) keep--; /* re-evaluate the last token to get its logits */
        int64_t budget = cp.n_ctx - (int64_t)n_ids;
        int32_t *gen = cached + n_ids;
        int64_t n_gen = 0;
        reply_buf reply = {0};
        ks_sampler_reset(smpl);
        ks_gen_params gp = {.n_predict = n_predict < budget ? n_predict : budget};
        if (ks_generate(ctx, m, smpl, ids, (int64_t)n_ids, keep, &gp, on_text, &reply, gen, &n_gen, NULL, &err)) {
            free(reply.data);
            goto fail;
        }
        memcpy(cached, ids, n_ids * sizeof *ids);
        /* generated tokens except the last were evaluated (the last is sampled, not decoded) */
        n_cached = (int64_t)n_ids + (n_gen > 0 ? n_gen - 1 : 0);
        printf("\n");
        fflush(stdout);
        if (reply.failed) {
            free(reply.data);
            goto nomem;
        }
        msgs[n_msgs++] = (ks_chat_msg){"assistant", reply.data ? reply.data : strdup("")};
    }
    rc = 0;
    goto done;
nomem:
    ks_err_set(&err, KS_ERR_NOMEM, "out of memory");
fail:
    rc = cli_fail(&err);
done:
    for (size_t i = 0; i < n_msgs; i++) free((char *)msgs[i].content);
    free(msgs), free(line), free(ids), free(cached);
    ks_sampler_free(smpl);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

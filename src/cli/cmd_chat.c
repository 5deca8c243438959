/* cmd_chat.c - `kestrel chat`: a conversation using the model's chat template.
 * Reads user turns from stdin, one per line; streams replies to stdout. The KV
 * cache keeps the conversation: each turn re-renders the whole conversation and
 * evaluates only the tokens after the longest cached prefix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/checked.h"
#include "base/input.h"
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
    if (!KS_RESERVE(r->data, r->cap, r->len, len + 1)) {
        r->failed = true;
        return 1;
    }
    memcpy(r->data + r->len, text, len);
    r->len += len;
    r->data[r->len] = '\0';
    return 0;
}

int cli_chat(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "chat", CLI_OPTS_CHAT, &o);
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
    cli_fit_sampler(&o.sp, cp.n_ctx);
    if (ks_sampler_init(&smpl, &o.sp, (int32_t)m->hp.n_vocab, &err)) goto fail;
    /* the conversation's tokens, then the reply: at most n_ctx + 1 (the last one is sampled, not evaluated) */
    cached = calloc((size_t)cp.n_ctx + 1, sizeof *cached);
    if (!cached) goto nomem;
    if (o.system) {
        if (!KS_RESERVE(msgs, cap_msgs, n_msgs, 1)) goto nomem;
        msgs[n_msgs++] = (ks_chat_msg){"system", strdup(o.system)};
    }
    /* -n as in generate: absent or -1 until the end of the turn or a full context, 0 none */
    const int64_t n_predict = o.n_predict == CLI_UNSET ? -1 : o.n_predict;
    for (;;) {
        if (tty) fprintf(stderr, "> "), fflush(stderr);
        free(line);
        if (ks_line_read(stdin, "stdin", (size_t)o.max_input, &line, NULL, &err)) {
            rc = cli_fail_input(&err);
            goto done;
        }
        if (!line) break;
        if (!line[0]) continue;
        if (!KS_RESERVE(msgs, cap_msgs, n_msgs, 2)) goto nomem;
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
        int32_t *gen = cached + n_ids;
        int64_t n_gen = 0;
        reply_buf reply = {0};
        ks_sampler_reset(smpl);
        ks_gen_params gp = {.n_predict = n_predict};
        ks_gen_stats st;
        if (ks_generate(ctx, m, smpl, ids, (int64_t)n_ids, keep, &gp, on_text, &reply, gen, &n_gen, &st, &err)) {
            free(reply.data);
            goto fail;
        }
        memcpy(cached, ids, n_ids * sizeof *ids);
        /* generated tokens except the last were evaluated (the last is sampled, not decoded) */
        n_cached = (int64_t)n_ids + (n_gen > 0 ? n_gen - 1 : 0);
        printf("\n");
        fflush(stdout);
        if (st.stopped_ctx)
            fprintf(stderr, "[reply cut: the context of %lld tokens is full; raise -c]\n", (long long)cp.n_ctx);
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

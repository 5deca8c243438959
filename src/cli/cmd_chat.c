/* cmd_chat.c - `kestrel chat`: a conversation using the model's chat template.
 * Reads user turns from stdin, one per line; streams replies to stdout. The KV
 * cache keeps the conversation: each turn re-renders the whole conversation and
 * evaluates only the tokens after the longest cached prefix. A conversation longer
 * than the context goes on by context shift, as llama.cpp's: the first n_keep tokens
 * (the system prompt) stay, the oldest half of the rest is dropped from the cache, and
 * from then on the conversation's tokens [n_keep, n_keep + dropped) are left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct reply_buf {
    char *data;
    size_t len, cap;
    bool failed;
} reply_buf;

/* room for extra more items of size bytes in *p (cap, len: counts); false on overflow or no memory */
static bool reserve(void **p, size_t *cap, size_t len, size_t extra, size_t size) {
    if (len + extra <= *cap) return true;
    size_t c = *cap ? *cap : 16;
    while (c < len + extra) {
        if (c > SIZE_MAX / 2 / size) return false;
        c *= 2;
    }
    void *q = realloc(*p, c * size);
    if (!q) return false;
    *p = q, *cap = c;
    return true;
}

/* the conversation's ids into *ids (malloc'ed) through the template: markup parsed, content as text */
static ks_status chat_ids(const ks_model *m, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant,
                          bool parse_special, int32_t **ids, size_t *n_ids, ks_err *err) {
    const ks_tokenizer *tok = ks_model_tokenizer(m);
    const char *tmpl = ks_model_chat_template(m);
    size_t n = 0;
    *ids = NULL;
    ks_status st = ks_tokenizer_tokenize_chat(tok, tmpl, msgs, n_msgs, add_assistant, parse_special, NULL, 0, &n, err);
    if (st && st != KS_ERR_LIMIT) return st;
    if (!(*ids = malloc((n ? n : 1) * sizeof **ids))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    st = ks_tokenizer_tokenize_chat(tok, tmpl, msgs, n_msgs, add_assistant, parse_special, *ids, n, n_ids, err);
    if (st) free(*ids), *ids = NULL;
    return st;
}

static int on_text(void *ud, const char *text, size_t len) {
    reply_buf *r = ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (!reserve((void **)&r->data, &r->cap, r->len, len + 1, 1)) {
        r->failed = true;
        return 1;
    }
    memcpy(r->data + r->len, text, len);
    r->len += len;
    r->data[r->len] = '\0';
    return 0;
}

/* What the KV cache holds: cached[0..n_cached) at positions 0.., i.e. the
 * conversation's tokens without [n_keep, n_keep + dropped). */
typedef struct chat_shift {
    int32_t *cached; /* [n_ctx + 1] */
    int64_t n_cached, n_keep, dropped;
} chat_shift;

/* drops n tokens after n_keep from the cache and from sh->cached */
static void shift_cache(ks_context *ctx, chat_shift *sh, int64_t n) {
    const int64_t rm = sh->n_cached - sh->n_keep < n ? sh->n_cached - sh->n_keep : n;
    if (rm > 0) {
        ks_seq_rm(ctx, 0, (int32_t)sh->n_keep, (int32_t)(sh->n_keep + rm));
        ks_seq_add(ctx, 0, (int32_t)(sh->n_keep + rm), -1, (int32_t)-rm);
        memmove(sh->cached + sh->n_keep, sh->cached + sh->n_keep + rm,
                (size_t)(sh->n_cached - sh->n_keep - rm) * sizeof *sh->cached);
        sh->n_cached -= rm;
    }
    sh->dropped += n;
}

/* the conversation ids as the cache sees them (without the dropped block) into kv; returns its length */
static int64_t kv_view_of(const chat_shift *sh, const int32_t *ids, int64_t n_ids, int32_t *kv) {
    memcpy(kv, ids, (size_t)sh->n_keep * sizeof *ids);
    memcpy(kv + sh->n_keep, ids + sh->n_keep + sh->dropped, (size_t)(n_ids - sh->n_keep - sh->dropped) * sizeof *ids);
    return n_ids - sh->dropped;
}

/* One reply to the conversation ids[0..n_ids): shifts the cache until the conversation
 * leaves a quarter of the context free, evaluates what the cache lacks and generates with
 * context shift; then records what the cache holds. */
static ks_status chat_turn(ks_context *ctx, const ks_model *m, ks_sampler *smpl, chat_shift *sh, const int32_t *ids,
                           int64_t n_ids, int64_t n_predict, reply_buf *reply, ks_gen_stats *st, ks_err *err) {
    const int64_t n_ctx = ks_context_n_ctx(ctx);
    if (sh->n_keep > n_ids) sh->n_keep = 0;
    if (n_ids < sh->n_keep + sh->dropped) { /* the conversation no longer covers the dropped block: start over */
        ks_kv_clear(ctx);
        sh->n_cached = 0, sh->dropped = 0;
    }
    const int64_t dropped0 = sh->dropped;
    while (n_ids - sh->dropped + n_ctx / 4 > n_ctx && (n_ids - sh->dropped - sh->n_keep) / 2 > 0)
        shift_cache(ctx, sh, (n_ids - sh->dropped - sh->n_keep) / 2);
    if (sh->dropped > dropped0)
        fprintf(stderr, "[context shift: %lld old tokens dropped, the first %lld kept]\n",
                (long long)(sh->dropped - dropped0), (long long)sh->n_keep);
    if (n_ids - sh->dropped + 1 >= n_ctx)
        return ks_err_set(err, KS_ERR_LIMIT, "the system prompt of %lld tokens fills the context (%lld); raise -c",
                          (long long)sh->n_keep, (long long)n_ctx);
    /* a reply of at most 8 contexts (it shifts as it goes) */
    const int64_t cap = n_predict < 0 || n_predict > 8 * n_ctx ? 8 * n_ctx : n_predict;
    int32_t *kv = malloc((size_t)(n_ids + cap + 1) * sizeof *kv);
    if (!kv) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    const int64_t n_kv = kv_view_of(sh, ids, n_ids, kv);
    int64_t keep = 0; /* longest prefix already in the KV cache */
    while (keep < sh->n_cached && keep < n_kv && sh->cached[keep] == kv[keep]) keep++;
    if (keep == n_kv) keep--; /* re-evaluate the last token to get its logits */
    int64_t n_gen = 0;
    ks_sampler_reset(smpl);
    ks_gen_params gp = {.n_predict = cap, .context_shift = true, .n_keep = sh->n_keep};
    ks_status s = ks_generate(ctx, m, smpl, kv, n_kv, keep, &gp, on_text, reply, kv + n_kv, &n_gen, st, err);
    if (!s) { /* the cache: kv and the reply but its last token, less the block the shifts dropped */
        const int64_t n_all = n_kv + (n_gen > 0 ? n_gen - 1 : 0), d = st->n_discarded;
        memcpy(sh->cached, kv, (size_t)sh->n_keep * sizeof *kv);
        memcpy(sh->cached + sh->n_keep, kv + sh->n_keep + d, (size_t)(n_all - sh->n_keep - d) * sizeof *kv);
        sh->n_cached = n_all - d, sh->dropped += d;
        if (d) fprintf(stderr, "[context shift: %lld old tokens dropped, the first %lld kept]\n", (long long)d,
                       (long long)sh->n_keep);
    }
    free(kv);
    return s;
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
    int32_t *ids = NULL;
    chat_shift sh = {0};
    char *line = NULL;
    const bool tty = isatty(0);
    if (!ks_model_has_weights(m)) {
        ks_err_set(&err, KS_ERR_INVALID_ARG, "%s: vocabulary-only model, cannot chat", o.model);
        goto fail;
    }
    const char *tmpl = ks_model_chat_template(m);
    if (!tmpl || !strcmp(ks_chat_template_family(tmpl), "unknown")) {
        ks_err_set(&err, KS_ERR_UNSUPPORTED, "%s: the model has no chat template Kestrel supports", o.model);
        goto fail;
    }
    ks_context_params cp = ks_context_default_params();
    const int64_t n_train = ks_model_n_ctx_train(m);
    cp.n_ctx = o.n_ctx > 0 ? o.n_ctx : (n_train < 4096 ? n_train : 4096);
    if (cli_context_params(&o, &cp, &err)) goto fail;
    if (ks_context_new(m, &cp, &ctx, &err)) goto fail;
    cli_fit_sampler(&o.sp, cp.n_ctx);
    if (ks_sampler_init(&smpl, &o.sp, ks_model_n_vocab(m), &err)) goto fail;
    /* the conversation's tokens, then the reply: at most n_ctx + 1 (the last one is sampled, not evaluated) */
    sh.cached = calloc((size_t)cp.n_ctx + 1, sizeof *sh.cached);
    if (!sh.cached) goto nomem;
    if (o.system) {
        if (!reserve((void **)&msgs, &cap_msgs, n_msgs, 1, sizeof *msgs)) goto nomem;
        msgs[n_msgs++] = (ks_chat_msg){"system", strdup(o.system)};
        /* the system prompt's tokens stay when the context shifts (llama.cpp's --keep) */
        int32_t *sys = NULL;
        size_t n_sys = 0;
        if (chat_ids(m, msgs, 1, false, o.parse_special, &sys, &n_sys, &err)) goto fail;
        free(sys);
        sh.n_keep = (int64_t)n_sys < cp.n_ctx / 2 ? (int64_t)n_sys : cp.n_ctx / 2;
    }
    /* -n as in generate: absent or -1 until the end of the turn or a full context, 0 none */
    const int64_t n_predict = o.n_predict == CLI_UNSET ? -1 : o.n_predict;
    for (;;) {
        if (tty) fprintf(stderr, "> "), fflush(stderr);
        ks_free(line);
        if (ks_line_read(stdin, "stdin", (size_t)o.max_input, &line, NULL, &err)) {
            rc = cli_fail_input(&err);
            goto done;
        }
        if (!line) break;
        if (!line[0]) continue;
        if (!reserve((void **)&msgs, &cap_msgs, n_msgs, 2, sizeof *msgs)) goto nomem;
        msgs[n_msgs++] = (ks_chat_msg){"user", strdup(line)};
        free(ids), ids = NULL;
        size_t n_ids = 0; /* message content is plain text unless --parse-special */
        if (chat_ids(m, msgs, n_msgs, true, o.parse_special, &ids, &n_ids, &err)) goto fail;
        reply_buf reply = {0};
        ks_gen_stats st;
        if (chat_turn(ctx, m, smpl, &sh, ids, (int64_t)n_ids, n_predict, &reply, &st, &err)) {
            free(reply.data);
            goto fail;
        }
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
    free(msgs), ks_free(line), free(ids), free(sh.cached);
    ks_sampler_free(smpl);
    ks_context_free(ctx);
    ks_model_free(m);
    return rc;
}

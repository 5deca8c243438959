/* generate.c - the generation loop (see generate.h). Allocates nothing per token:
 * the text buffer is sized once from the longest piece of the vocabulary. */
#define _POSIX_C_SOURCE 200809L
#include "generate/generate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer/tokenizer.h"

double ks_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool is_stop(const ks_model *m, int32_t id) {
    if (m->stop_on_bos && id == ks_tokenizer_bos(m->tok)) return true;
    return !m->stop_on_bos && ks_token_is_eog(m->tok, id);
}

int64_t ks_gen_max_tokens(int64_t n_predict, int64_t n_ctx, int64_t n_tokens) {
    const int64_t room = n_ctx - n_tokens + 1; /* the last one is sampled, never decoded */
    if (room <= 0) return 0;
    return n_predict < 0 || n_predict > room ? room : n_predict;
}

/* streams the piece of id (or, id < 0, the held-back bytes) to on_text; true if it asks to stop */
static bool emit(ks_detok_stream *ds, const ks_tokenizer *tok, int32_t id, char *buf, size_t cap,
                 ks_gen_text_fn on_text, void *ud) {
    int64_t nb = id >= 0 ? ks_detok_stream_push(ds, tok, id, buf, cap) : ks_detok_stream_flush(ds, buf, cap);
    return nb > 0 && on_text && on_text(ud, buf, (size_t)nb);
}

ks_status ks_generate(ks_context *ctx, const ks_model *m, ks_sampler *smpl, const int32_t *tokens, int64_t n_tokens,
                      int64_t n_cached, const ks_gen_params *gp, ks_gen_text_fn on_text, void *ud, int32_t *out_ids,
                      int64_t *n_out, ks_gen_stats *stats, ks_err *err) {
    ks_gen_stats st = {0};
    if (n_out) *n_out = 0;
    if (n_tokens <= 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "empty prompt: nothing to condition on");
    if (n_cached < 0 || n_cached >= n_tokens) n_cached = n_cached >= n_tokens ? n_tokens - 1 : 0;
    const int64_t n_ctx = ks_context_n_ctx(ctx);
    if (n_tokens > n_ctx)
        return ks_err_set(err, KS_ERR_LIMIT, "prompt of %lld tokens exceeds the context of %lld", (long long)n_tokens,
                          (long long)n_ctx);
    const bool shift = gp->context_shift && gp->n_keep >= 0 && gp->n_keep < n_ctx - 2;
    const int64_t n_predict = shift ? (gp->n_predict < 0 ? n_ctx : gp->n_predict)
                                    : ks_gen_max_tokens(gp->n_predict, n_ctx, n_tokens);
    const bool cut = gp->n_predict < 0 || gp->n_predict > n_predict; /* the context, not -n, is the limit */
    const size_t cap = ks_tokenizer_max_piece_len(m->tok) + sizeof ((ks_detok_stream *)0)->pending;
    char *buf = malloc(cap);
    if (!buf) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n_tokens; i++) ks_sampler_accept(smpl, tokens[i]);
    double t0 = ks_time_s();
    ks_status s = ks_decode(ctx, tokens + n_cached, n_tokens - n_cached, n_cached, false, err);
    st.n_prompt = n_tokens - n_cached;
    double t1 = ks_time_s();
    st.t_prompt_s = t1 - t0;
    ks_detok_stream ds;
    ks_detok_stream_init(&ds);
    int64_t pos = n_tokens;
    int32_t prev = tokens[n_tokens - 1];
    bool stop_cb = false;
    for (int64_t i = 0; i < n_predict && !s; i++) {
        const int32_t id = ks_sampler_sample(smpl, ks_context_logits(ctx, -1), (int32_t)m->hp.n_vocab);
        st.n_gen++;
        if (!gp->ignore_eog && is_stop(m, id)) {
            st.stopped_eog = true;
            break;
        }
        ks_sampler_accept(smpl, id);
        if (out_ids) out_ids[i] = id;
        if (n_out) *n_out = i + 1;
        ds.after_bos = prev == ks_tokenizer_bos(m->tok);
        stop_cb = emit(&ds, m->tok, id, buf, cap, on_text, ud);
        prev = id;
        if (stop_cb || i + 1 == n_predict) break;
        if (shift && pos >= n_ctx) { /* drop the oldest half after n_keep; keys are re-rotated */
            const int64_t n_discard = (pos - gp->n_keep) / 2;
            ks_seq_rm(ctx, 0, (int32_t)gp->n_keep, (int32_t)(gp->n_keep + n_discard));
            ks_seq_add(ctx, 0, (int32_t)(gp->n_keep + n_discard), -1, (int32_t)-n_discard);
            pos -= n_discard, st.n_discarded += n_discard;
        }
        s = ks_decode(ctx, &id, 1, pos++, false, err);
    }
    if (!s) emit(&ds, m->tok, -1, buf, cap, on_text, ud);
    free(buf);
    st.stopped_ctx = !shift && !s && cut && !st.stopped_eog && !stop_cb && st.n_gen == n_predict;
    st.t_gen_s = ks_time_s() - t1;
    if (stats) *stats = st;
    return s;
}

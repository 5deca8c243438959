/* perplexity.c - llama.cpp-compatible perplexity (see perplexity.h). */
#include "eval/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* -log softmax(logits)[tok] exactly as llama.cpp's perplexity tool: float max,
 * expf terms summed in double, log of the double sum */
static double neg_log_softmax(const float *logits, int64_t n_vocab, int32_t tok) {
    float max = logits[0];
    for (int64_t i = 1; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - max);
    return -((double)(logits[tok] - max) - log(sum));
}

ks_status ks_perplexity(const ks_model *m, const int32_t *tokens, int64_t n_tokens, int64_t n_ctx, int64_t n_batch,
                        int64_t max_chunks, int n_threads, ks_ppl_progress_fn progress, void *ud, ks_ppl_result *out,
                        ks_err *err) {
    memset(out, 0, sizeof *out);
    if (n_ctx < 8 || n_ctx % 2) return ks_err_set(err, KS_ERR_INVALID_ARG, "perplexity: context %lld must be even and >= 8", (long long)n_ctx);
    if (n_tokens < 2 * n_ctx)
        return ks_err_set(err, KS_ERR_INVALID_ARG,
                          "perplexity: you need at least %lld tokens for a context of %lld; the text has %lld",
                          (long long)(2 * n_ctx), (long long)n_ctx, (long long)n_tokens);
    if (n_batch <= 0 || n_batch > n_ctx) n_batch = n_ctx;
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.logits_all = true;
    cp.n_threads = n_threads;
    ks_context *ctx = NULL;
    ks_status st = ks_context_new(m, &cp, &ctx, err);
    if (st) return st;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    if (!chunk) {
        ks_context_free(ctx);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    }
    const bool add_bos = ks_tokenizer_add_bos(m->tok) && ks_tokenizer_bos(m->tok) >= 0;
    const int64_t first = n_ctx / 2, n_vocab = m->hp.n_vocab;
    int64_t n_chunks = n_tokens / n_ctx;
    if (max_chunks > 0 && max_chunks < n_chunks) n_chunks = max_chunks;
    for (int64_t c = 0; c < n_chunks && !st; c++) {
        const int32_t *src = tokens + c * n_ctx;
        memcpy(chunk, src, (size_t)n_ctx * sizeof *chunk);
        if (add_bos) chunk[0] = ks_tokenizer_bos(m->tok);
        /* decode in batches from an empty cache; score positions >= first, each
         * predicting the next token of the original stream */
        for (int64_t b = 0; b < n_ctx && !st; b += n_batch) {
            const int64_t nb = n_ctx - b < n_batch ? n_ctx - b : n_batch;
            const int64_t from = first > b ? (first - b < nb ? first - b : nb - 1) : 0;
            if ((st = ks_decode_range(ctx, chunk + b, nb, b, from, err))) break;
            for (int64_t k = 0; k < nb; k++) {
                const int64_t pos = b + k;
                if (pos < first || pos + 1 >= n_ctx) continue;
                const double v = neg_log_softmax(ks_context_logits(ctx, k), n_vocab, src[pos + 1]);
                out->nll += v;
                out->nll2 += v * v;
                out->n_scored++;
            }
        }
        if (st) break;
        out->n_chunks = c + 1;
        out->ppl = exp(out->nll / (double)out->n_scored);
        const double av = out->nll / (double)out->n_scored, av2 = out->nll2 / (double)out->n_scored - av * av;
        out->ppl_err = out->n_scored > 1 && av2 > 0 ? out->ppl * sqrt(av2 / (double)(out->n_scored - 1)) : 0.0;
        if (progress) progress(ud, out);
    }
    free(chunk);
    ks_context_free(ctx);
    return st;
}

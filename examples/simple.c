/* simple.c - the smallest complete Kestrel program: load a model, tokenize a prompt,
 * decode it, then pick tokens greedily one at a time, printing the text as it comes.
 *
 *   simple -m MODEL.gguf [-n N] PROMPT
 *
 * stdout gets the continuation only (as `kestrel generate --temp 0`), stderr the speed.
 * Build against an installed Kestrel:  cc simple.c $(pkg-config --cflags --libs kestrel) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel.h>

int main(int argc, char **argv) {
    const char *path = NULL, *prompt = NULL;
    int n_predict = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n_predict = atoi(argv[++i]);
        else prompt = argv[i];
    }
    if (!path || !prompt || n_predict < 0) {
        fprintf(stderr, "usage: %s -m MODEL.gguf [-n N (default 32)] PROMPT\n", argv[0]);
        return 2;
    }
    ks_err err = {0};
    ks_model *model = NULL;
    ks_context *ctx = NULL;
    ks_sampler *smpl = NULL;
    ks_batch batch = {0};
    int32_t *tokens = NULL;
    int rc = 1;

    /* 1. the model (NULL params: defaults) and its tokenizer (borrowed from the model) */
    if (ks_model_load_from_file(path, NULL, &model, &err)) goto done;
    const ks_tokenizer *tok = ks_model_tokenizer(model);

    /* 2. the prompt's tokens: ask for the count, then fill (BOS added, special text parsed) */
    size_t n_prompt = 0;
    ks_tokenizer_tokenize(tok, prompt, strlen(prompt), true, true, NULL, 0, &n_prompt, NULL);
    if (!n_prompt || !(tokens = malloc(n_prompt * sizeof *tokens))) goto done;
    if (ks_tokenizer_tokenize(tok, prompt, strlen(prompt), true, true, tokens, n_prompt, &n_prompt, &err)) goto done;

    /* 3. a context just large enough, and a greedy sampler (a chain of one) */
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = (int64_t)n_prompt + n_predict;
    if (ks_context_new(model, &cp, &ctx, &err)) goto done;
    ks_sampler *greedy = NULL;
    if (ks_sampler_new_chain(&smpl, &err) || ks_sampler_new_greedy(&greedy, &err) ||
        ks_sampler_chain_add(smpl, greedy, &err))
        goto done;

    /* 4. the prompt as one batch of sequence 0; only its last token needs logits */
    if (ks_batch_init(&batch, (int64_t)n_prompt, &err)) goto done;
    for (size_t i = 0; i < n_prompt; i++)
        ks_batch_add1(&batch, tokens[i], (int32_t)i, 0, i + 1 == n_prompt, NULL);
    const double t0 = ks_time_s();
    if (ks_decode_batch(ctx, &batch, &err)) goto done;

    /* 5. sample, print, feed back: one token per decode until N or end of generation */
    ks_detok_stream ds;
    ks_detok_stream_init(&ds);
    ds.after_bos = tokens[n_prompt - 1] == ks_tokenizer_bos(tok);
    char piece[1024];
    int n_gen = 0;
    for (int32_t pos = (int32_t)n_prompt; n_gen < n_predict; pos++) {
        const int32_t id = ks_sampler_sample_ctx(smpl, ctx, batch.n_tokens - 1);
        if (id < 0 || ks_token_is_eog(tok, id)) break;
        ks_sampler_accept(smpl, id);
        n_gen++;
        const int64_t n = ks_detok_stream_push(&ds, tok, id, piece, sizeof piece);
        if (n > 0) fwrite(piece, 1, (size_t)n, stdout), fflush(stdout);
        if (n_gen == n_predict) break; /* the last token is printed, not evaluated */
        ks_batch_clear(&batch);
        ks_batch_add1(&batch, id, pos, 0, true, NULL);
        if (ks_decode_batch(ctx, &batch, &err)) goto done;
    }
    const int64_t n = ks_detok_stream_flush(&ds, piece, sizeof piece);
    if (n > 0) fwrite(piece, 1, (size_t)n, stdout);
    fflush(stdout);
    const double dt = ks_time_s() - t0;
    fprintf(stderr, "\nsimple: %zu prompt tokens, %d generated in %.2f s (%.2f tok/s)\n", n_prompt, n_gen, dt,
            dt > 0 ? (n_prompt + n_gen) / dt : 0.0);
    rc = 0;
done:
    if (rc) fprintf(stderr, "simple: %s\n", err.msg[0] ? err.msg : "the prompt gives no tokens");
    ks_batch_free(&batch);
    free(tokens);
    ks_sampler_free(smpl);
    ks_context_free(ctx);
    ks_model_free(model);
    return rc;
}

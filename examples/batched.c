/* batched.c - N continuations of one prompt at once, sharing the prompt's KV cache:
 * the prompt is decoded once as sequence 0, forked to sequences 1..N-1 with ks_seq_cp
 * (no copy, no recomputation), then every step decodes one token of each live
 * sequence in a single batch. Each sequence has its own sampler chain.
 *
 *   batched -m MODEL.gguf [-n N] [-np PARALLEL] [--greedy] [--seed S] PROMPT
 *
 * Build against an installed Kestrel:  cc batched.c $(pkg-config --cflags --libs kestrel) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kestrel.h>

#define MAX_PAR 16

/* top-k 40, top-p 0.9, temperature 0.4, then a draw (llama.cpp's batched example); or greedy */
static ks_status make_sampler(bool greedy, uint64_t seed, ks_sampler **out, ks_err *err) {
    ks_sampler *s = NULL;
    ks_status st = ks_sampler_new_chain(out, err);
    if (!st && greedy) st = ks_sampler_new_greedy(&s, err), st = st ? st : ks_sampler_chain_add(*out, s, err);
    if (!st && !greedy) {
        if (!(st = ks_sampler_new_top_k(40, &s, err))) st = ks_sampler_chain_add(*out, s, err);
        if (!st && !(st = ks_sampler_new_top_p(0.9f, &s, err))) st = ks_sampler_chain_add(*out, s, err);
        if (!st && !(st = ks_sampler_new_temp(0.4f, &s, err))) st = ks_sampler_chain_add(*out, s, err);
        if (!st && !(st = ks_sampler_new_dist(seed, &s, err))) st = ks_sampler_chain_add(*out, s, err);
    }
    return st;
}

int main(int argc, char **argv) {
    const char *path = NULL, *prompt = NULL;
    int n_predict = 32, n_par = 4, greedy = 0;
    uint64_t seed = 1234;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n_predict = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-np") && i + 1 < argc) n_par = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--greedy")) greedy = 1;
        else prompt = argv[i];
    }
    if (!path || !prompt || n_predict < 1 || n_par < 1 || n_par > MAX_PAR) {
        fprintf(stderr, "usage: %s -m MODEL.gguf [-n N (32)] [-np PARALLEL (4, at most %d)] [--greedy] [--seed S] "
                        "PROMPT\n", argv[0], MAX_PAR);
        return 2;
    }
    ks_err err = {0};
    ks_model *model = NULL;
    ks_context *ctx = NULL;
    ks_sampler *smpl[MAX_PAR] = {0};
    ks_batch batch = {0};
    int32_t *tokens = NULL;
    char *text[MAX_PAR] = {0};
    size_t len[MAX_PAR] = {0};
    int rc = 1;

    if (ks_model_load_from_file(path, NULL, &model, &err)) goto done;
    const ks_tokenizer *tok = ks_model_tokenizer(model);
    size_t n_prompt = 0;
    ks_tokenizer_tokenize(tok, prompt, strlen(prompt), true, true, NULL, 0, &n_prompt, NULL);
    if (!n_prompt || !(tokens = malloc(n_prompt * sizeof *tokens))) goto done;
    if (ks_tokenizer_tokenize(tok, prompt, strlen(prompt), true, true, tokens, n_prompt, &n_prompt, &err)) goto done;

    /* room for the shared prompt once and every sequence's own tokens */
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = (int64_t)n_prompt + (int64_t)n_par * n_predict;
    cp.n_seq_max = n_par;
    if (ks_context_new(model, &cp, &ctx, &err)) goto done;
    for (int s = 0; s < n_par; s++)
        if (make_sampler(greedy, seed + (uint64_t)s, &smpl[s], &err)) goto done;
    if (ks_batch_init(&batch, n_prompt > (size_t)n_par ? (int64_t)n_prompt : n_par, &err)) goto done;

    /* the prompt once, as sequence 0; then every other sequence shares its cells */
    for (size_t i = 0; i < n_prompt; i++) ks_batch_add1(&batch, tokens[i], (int32_t)i, 0, i + 1 == n_prompt, NULL);
    if (ks_decode_batch(ctx, &batch, &err)) goto done;
    for (int s = 1; s < n_par; s++) ks_seq_cp(ctx, 0, s, -1, -1);

    int64_t out_of[MAX_PAR]; /* batch index of each live sequence's logits, -1 when it has ended */
    for (int s = 0; s < n_par; s++) out_of[s] = batch.n_tokens - 1;
    const double t0 = ks_time_s();
    int n_decoded = 0;
    for (int32_t pos = (int32_t)n_prompt; pos < (int32_t)n_prompt + n_predict; pos++) {
        ks_batch_clear(&batch);
        for (int s = 0; s < n_par; s++) {
            if (out_of[s] < 0) continue;
            const int32_t id = ks_sampler_sample_ctx(smpl[s], ctx, out_of[s]);
            size_t pl = 0;
            const char *p = id >= 0 ? ks_token_to_piece(tok, id, false, &pl) : NULL;
            char *t = p ? realloc(text[s], len[s] + pl + 1) : NULL;
            if (!t || ks_token_is_eog(tok, id)) { /* this sequence is done */
                out_of[s] = -1;
                continue;
            }
            memcpy(t + len[s], p, pl), len[s] += pl, t[len[s]] = '\0', text[s] = t;
            ks_sampler_accept(smpl[s], id);
            out_of[s] = batch.n_tokens;
            ks_batch_add1(&batch, id, pos, s, true, NULL);
        }
        if (!batch.n_tokens || pos + 1 == (int32_t)n_prompt + n_predict) break;
        if (ks_decode_batch(ctx, &batch, &err)) goto done;
        n_decoded += (int)batch.n_tokens;
    }
    const double dt = ks_time_s() - t0;
    for (int s = 0; s < n_par; s++) printf("sequence %d: %s\n", s, text[s] ? text[s] : "");
    fprintf(stderr, "batched: %d sequences, %zu shared prompt tokens, %d tokens decoded in %.2f s (%.2f tok/s)\n",
            n_par, n_prompt, n_decoded, dt, dt > 0 ? n_decoded / dt : 0.0);
    rc = 0;
done:
    if (rc) fprintf(stderr, "batched: %s\n", err.msg[0] ? err.msg : "the prompt gives no tokens");
    for (int s = 0; s < n_par; s++) ks_sampler_free(smpl[s]), free(text[s]);
    ks_batch_free(&batch);
    free(tokens);
    ks_context_free(ctx);
    ks_model_free(model);
    return rc;
}

/* test_api.c - kestrel.h's calls through the public header only, on SmolLM2: load with a
 * progress callback (and its cancel), metadata, caller-buffer tokenize/detokenize/chat
 * (KS_ERR_LIMIT reports the size needed), decode outputs, embeddings, the distinct
 * KS_ERR_NO_KV_SLOT (nothing changed), the abort callback, sequence forks, state files
 * (bit-identical logits after a round trip), perf counters, and samplers: built-in stages,
 * a chain, a user sampler through ks_sampler_iface, logit bias. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kestrel.h"
#include "ks_test.h"

typedef struct { int calls; float last; bool monotonic; int stop_at; } prog;
static bool on_progress(float p, void *ud) {
    prog *g = ud;
    g->monotonic = g->monotonic && p >= g->last && p >= 0.0f && p <= 1.0f;
    g->last = p;
    return ++g->calls != g->stop_at;
}
static bool abort_always(void *ud) { return ++*(int *)ud > 0; }

/* a user sampler: picks the candidate with id 7, counts accepts */
typedef struct { int accepts, applies, freed; } user_state;
static void u_apply(void *ctx, ks_token_data_array *cur) {
    ((user_state *)ctx)->applies++;
    for (size_t i = 0; i < cur->size; i++)
        if (cur->data[i].id == 7) cur->selected = (int64_t)i;
}
static void u_accept(void *ctx, int32_t t) { ((user_state *)ctx)->accepts += t >= 0; }
static void u_free(void *ctx) { ((user_state *)ctx)->freed++; }
static const char *u_name(void *ctx) { return (void)ctx, "seven"; }
static const ks_sampler_iface user_iface = {u_name, u_accept, u_apply, NULL, u_free};

static int32_t argmax(const float *l, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void test_samplers(const float *logits, int32_t nv) {
    ks_err err = {0};
    ks_sampler *chain = NULL, *s = NULL;
    CHECK(ks_sampler_new_chain(&chain, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_sampler_new_greedy(&s, &err) == KS_OK && ks_sampler_chain_add(chain, s, &err) == KS_OK, "%s", err.msg);
    const int32_t best = argmax(logits, nv);
    CHECK(ks_sampler_sample(chain, logits, nv) == best, "greedy chain picks the argmax %d", best);
    CHECK(ks_sampler_chain_n(chain) == 1 && !strcmp(ks_sampler_name(ks_sampler_chain_get(chain, 0)), "greedy"),
          "chain holds greedy");
    ks_sampler_free(chain);
    /* logit bias bans the argmax: a greedy chain then picks another token */
    ks_logit_bias ban = {best, -INFINITY};
    CHECK(ks_sampler_new_chain(&chain, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_sampler_new_logit_bias(nv, &ban, 1, &s, &err) == KS_OK && ks_sampler_chain_add(chain, s, &err) == KS_OK,
          "%s", err.msg);
    ks_sampler_new_greedy(&s, &err), ks_sampler_chain_add(chain, s, &err);
    const int32_t second = ks_sampler_sample(chain, logits, nv);
    CHECK(second >= 0 && second != best, "banned argmax: got %d", second);
    CHECK(ks_sampler_n_vocab(chain) == nv, "a chain with a logit bias knows the vocabulary");
    CHECK(ks_sampler_sample(chain, logits, nv - 1) == -1, "fewer logits than the vocabulary: -1");
    ks_sampler_free(chain);
    ks_logit_bias bad = {nv, 1.0f};
    CHECK(ks_sampler_new_logit_bias(nv, &bad, 1, &s, &err) == KS_ERR_INVALID_ARG && !s, "bias token out of range");
    CHECK(ks_sampler_new_top_p(1.5f, &s, &err) == KS_ERR_INVALID_ARG, "top_p 1.5 refused");
    /* a full sampling chain with a seed: the same draw twice after reset */
    const ks_sampler_params sp = ks_sampler_default_params();
    CHECK(ks_sampler_new_chain(&chain, &err) == KS_OK, "%s", err.msg);
    ks_sampler_new_top_k(sp.top_k, &s, &err), ks_sampler_chain_add(chain, s, &err);
    ks_sampler_new_top_p(sp.top_p, &s, &err), ks_sampler_chain_add(chain, s, &err);
    ks_sampler_new_min_p(sp.min_p, &s, &err), ks_sampler_chain_add(chain, s, &err);
    ks_sampler_new_temp(sp.temp, &s, &err), ks_sampler_chain_add(chain, s, &err);
    ks_sampler_new_dist(42, &s, &err), ks_sampler_chain_add(chain, s, &err);
    int32_t a[8], b[8];
    for (int i = 0; i < 8; i++) a[i] = ks_sampler_sample(chain, logits, nv);
    ks_sampler_reset(chain);
    for (int i = 0; i < 8; i++) b[i] = ks_sampler_sample(chain, logits, nv);
    CHECK(!memcmp(a, b, sizeof a) && a[0] >= 0, "same seed after reset, same draws");
    ks_sampler_free(chain);
    /* the user sampler */
    user_state us = {0};
    CHECK(ks_sampler_new(&user_iface, &us, &s, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_sampler_sample(s, logits, nv) == 7 && us.applies == 1, "user sampler picks 7");
    ks_sampler_accept(s, 7);
    CHECK(us.accepts == 1 && !strcmp(ks_sampler_name(s), "seven"), "accept and name reach the user sampler");
    ks_sampler_free(s);
    CHECK(us.freed == 1, "free_ctx called once");
    ks_sampler_iface no_apply = {0};
    CHECK(ks_sampler_new(&no_apply, NULL, &s, &err) == KS_ERR_INVALID_ARG, "an interface without apply");
    /* the default chain at temperature 0 is greedy too */
    ks_sampler_params g = sp;
    g.temp = 0.0f;
    CHECK(ks_sampler_init(&s, &g, nv, &err) == KS_OK && ks_sampler_sample(s, logits, nv) == best, "default greedy");
    ks_sampler_free(s);
}

static void test_text(const ks_model *m) {
    const ks_tokenizer *tok = ks_model_tokenizer(m);
    ks_err err = {0};
    const char *text = "Hello world, héllo wörld!";
    size_t n = 0, len = 0;
    CHECK(ks_tokenizer_tokenize(tok, text, strlen(text), false, false, NULL, 0, &n, &err) == KS_ERR_LIMIT && n > 3,
          "cap 0 reports the count: %zu", n);
    int32_t ids[64];
    size_t n2 = 0;
    CHECK(ks_tokenizer_tokenize(tok, text, strlen(text), false, false, ids, 64, &n2, &err) == KS_OK && n2 == n,
          "%s", err.msg);
    char buf[128];
    CHECK(ks_tokenizer_detokenize(tok, ids, n, false, buf, 3, &len, &err) == KS_ERR_LIMIT && len == strlen(text),
          "detokenize reports the bytes needed: %zu", len);
    CHECK(ks_tokenizer_detokenize(tok, ids, n, false, buf, sizeof buf, &len, &err) == KS_OK && len == strlen(text) &&
              !memcmp(buf, text, len), "round trip");
    int32_t bad = ks_model_n_vocab(m);
    CHECK(ks_tokenizer_detokenize(tok, &bad, 1, false, buf, sizeof buf, &len, &err) == KS_ERR_INVALID_ARG, "bad id");
    /* the streaming detokenizer gives whole characters only */
    ks_detok_stream ds;
    ks_detok_stream_init(&ds);
    size_t got = 0;
    char out[256];
    for (size_t i = 0; i < n; i++) {
        const int64_t k = ks_detok_stream_push(&ds, tok, ids[i], out + got, sizeof out - got);
        CHECK(k >= 0, "push");
        got += (size_t)(k > 0 ? k : 0);
    }
    got += (size_t)ks_detok_stream_flush(&ds, out + got, sizeof out - got);
    CHECK(got == strlen(text) && !memcmp(out, text, got), "stream round trip");
    /* chat */
    const char *tmpl = ks_model_chat_template(m);
    CHECK(tmpl && !strcmp(ks_chat_template_family(tmpl), "chatml"), "SmolLM2's template is ChatML");
    CHECK(!strcmp(ks_chat_template_family("no such thing"), "unknown"), "unknown template");
    const ks_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    CHECK(ks_chat_apply_template(tmpl, msgs, 2, true, NULL, 0, &len, &err) == KS_ERR_LIMIT && len > 20, "size %zu", len);
    char *chat = malloc(len + 1);
    CHECK(chat && ks_chat_apply_template(tmpl, msgs, 2, true, chat, len + 1, &len, &err) == KS_OK &&
              strstr(chat, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "rendered: %s", chat);
    size_t n_chat = 0;
    CHECK(ks_tokenizer_tokenize_chat(tok, tmpl, msgs, 2, true, false, NULL, 0, &n_chat, &err) == KS_ERR_LIMIT,
          "chat tokens count");
    int32_t *cids = malloc(n_chat * sizeof *cids), *pids = malloc((len + 8) * sizeof *pids);
    size_t n_plain = 0;
    CHECK(ks_tokenizer_tokenize_chat(tok, tmpl, msgs, 2, true, false, cids, n_chat, &n_chat, &err) == KS_OK &&
              ks_tokenizer_tokenize(tok, chat, len, false, true, pids, len + 8, &n_plain, &err) == KS_OK &&
              n_plain == n_chat && !memcmp(cids, pids, n_chat * sizeof *cids),
          "chat tokens equal the render tokenized with parse_special");
    free(chat), free(cids), free(pids);
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", ks_test_env("KS_CACHE_DIR", "cache"));
    ks_err err = {0};
    CHECK(ks_version()[0] && strstr(ks_system_info(), "KERNELS = "), "version, system info");
    CHECK(!strcmp(ks_type_name(KS_TYPE_Q8_0), "Q8_0") && !ks_type_name(9999), "type names");

    /* loading: progress, cancel */
    ks_model *m = NULL;
    ks_model_params mp = ks_model_default_params();
    prog g = {0, 0.0f, true, 1};
    mp.progress_callback = on_progress, mp.progress_data = &g;
    CHECK(ks_model_load_from_file(path, &mp, &m, &err) == KS_ERR_ABORTED && !m, "cancelled load: %s", err.msg);
    g = (prog){0, 0.0f, true, -1};
    if (ks_model_load_from_file(path, &mp, &m, &err)) {
        CHECK(0, "load %s: %s", path, err.msg);
        TEST_DONE();
    }
    CHECK(g.calls >= 2 && g.monotonic && g.last == 1.0f, "progress: %d calls, last %g", g.calls, g.last);
    ks_model_info info;
    ks_model_get_info(m, &info);
    const int32_t nv = ks_model_n_vocab(m);
    CHECK(info.has_weights && !strcmp(info.arch, "llama") && info.n_vocab == nv && nv == 49152 &&
              info.n_embd == ks_model_n_embd(m) && info.n_tensors > 0 && info.n_params > 100000000,
          "info: %s, %d tokens", info.arch, nv);
    /* metadata */
    char val[256];
    size_t len = 0;
    CHECK(ks_model_meta_count(m) > 10, "metadata count");
    CHECK(ks_model_meta_val_str(m, "general.architecture", val, sizeof val, &len, &err) == KS_OK &&
              !strcmp(val, "llama") && len == 5, "general.architecture = %s", val);
    CHECK(ks_model_meta_val_str(m, "general.architecture", val, 5, &len, &err) == KS_ERR_LIMIT && len == 5,
          "a buffer without room for the NUL");
    CHECK(ks_model_meta_val_str(m, "no.such.key", val, sizeof val, &len, &err) == KS_ERR_NOT_FOUND, "missing key");
    CHECK(ks_model_meta_key_by_index(m, 0, val, sizeof val, &len, &err) == KS_OK && len == strlen(val) && len > 0,
          "key 0: %s", val);
    ks_tensor_info ti;
    CHECK(ks_model_tensor_info(m, 0, &ti, &err) == KS_OK && ti.name_len > 0 && ks_type_name(ti.type), "tensor 0");
    CHECK(ks_model_tensor_info(m, info.n_tensors, &ti, &err) == KS_ERR_INVALID_ARG, "tensor out of range");
    test_text(m);

    /* decoding: outputs, embeddings, perf */
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = 16, cp.n_seq_max = 2, cp.embeddings = true, cp.n_threads_batch = 2;
    ks_context *c = NULL;
    CHECK(ks_context_new(m, &cp, &c, &err) == KS_OK, "%s", err.msg);
    ks_batch b;
    CHECK(ks_batch_init(&b, 16, &err) == KS_OK, "%s", err.msg);
    const int32_t toks[6] = {1, 504, 3458, 282, 4649, 314};
    for (int i = 0; i < 6; i++) ks_batch_add1(&b, toks[i], i, 0, i == 5, NULL);
    CHECK(ks_decode_batch(c, &b, &err) == KS_OK, "%s", err.msg);
    const float *l5 = ks_context_logits(c, 5), *e5 = ks_context_embeddings(c, 5);
    CHECK(l5 && !ks_context_logits(c, 4) && ks_context_logits(c, -1) == l5, "outputs where asked only");
    CHECK(e5 && isfinite(e5[0]) && isfinite(e5[info.n_embd - 1]), "embeddings");
    float *want = malloc((size_t)nv * sizeof *want);
    memcpy(want, l5, (size_t)nv * sizeof *want);
    test_samplers(want, nv);
    ks_perf_data pd;
    ks_perf_get(c, &pd);
    CHECK(pd.n_prompt == 6 && pd.n_decode == 1 && pd.n_gen == 0 && pd.t_prompt_s > 0, "perf counters");
    ks_perf_reset(c);
    ks_perf_get(c, &pd);
    CHECK(pd.n_decode == 0, "perf reset");

    /* a full cache: KS_ERR_NO_KV_SLOT and nothing changed */
    ks_batch_clear(&b);
    for (int i = 0; i < 11; i++) ks_batch_add1(&b, 300 + i, 6 + i, 0, i == 10, NULL);
    CHECK(ks_decode_batch(c, &b, &err) == KS_ERR_NO_KV_SLOT, "11 tokens in 10 free cells: %s", err.msg);
    CHECK(ks_kv_used(c) == 6 && ks_seq_pos_max(c, 0) == 5 && ks_context_logits(c, 5) == l5, "cache unchanged");
    /* forks share cells */
    ks_seq_cp(c, 0, 1, -1, -1);
    CHECK(ks_seq_pos_max(c, 1) == 5 && ks_kv_used(c) == 6, "a fork takes no cells");
    ks_seq_rm(c, 1, 3, -1);
    CHECK(ks_seq_pos_max(c, 1) == 2 && ks_seq_pos_max(c, 0) == 5, "rm on the fork only");
    ks_seq_keep(c, 0);
    CHECK(ks_seq_pos_max(c, 1) == -1 && ks_kv_used(c) == 6, "keep");

    /* state file round trip: the next token's logits are bit-identical */
    char spath[] = "/tmp/ks_test_api_XXXXXX";
    int fd = mkstemp(spath);
    if (fd >= 0) close(fd);
    ks_batch_clear(&b);
    ks_batch_add1(&b, 1000, 6, 0, true, NULL);
    CHECK(ks_state_save_file(c, 0, spath, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_decode_batch(c, &b, &err) == KS_OK, "%s", err.msg);
    memcpy(want, ks_context_logits(c, 0), (size_t)nv * sizeof *want);
    ks_kv_clear(c);
    CHECK(ks_state_load_file(c, 0, spath, &err) == KS_OK && ks_kv_used(c) == 6, "%s", err.msg);
    CHECK(ks_decode_batch(c, &b, &err) == KS_OK && !memcmp(want, ks_context_logits(c, 0), (size_t)nv * 4),
          "logits after a state round trip");
    unlink(spath);
    CHECK(ks_state_load_file(c, 0, "/nonexistent/state", &err) == KS_ERR_IO, "missing state file");
    free(want);
    ks_context_free(c);

    /* the abort callback: nothing run */
    int polls = 0;
    cp.abort_callback = abort_always, cp.abort_data = &polls;
    CHECK(ks_context_new(m, &cp, &c, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_decode_batch(c, &b, &err) == KS_ERR_ABORTED && polls == 1 && ks_kv_used(c) == 0, "aborted: %s", err.msg);
    ks_context_free(c);
    ks_batch_free(&b);
    ks_model_free(m);
    TEST_DONE();
}

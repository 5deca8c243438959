/* test_limits.c - resource limits give clear errors instead of out-of-memory
 * kills: a context whose KV cache cannot fit in available memory, or more threads
 * than OpenMP can start, is refused. */
#include <string.h>

#include "ks_test.h"
#include "model/model.h"
#include "tensor/dtype.h"

static float dummy[64];

static ks_tensor mat(int64_t ne0, int64_t ne1) {
    ks_tensor t = {.type = KS_DTYPE_F32, .ne = {ne0, ne1, 1, 1}, .row_bytes = (size_t)ne0 * 4, .data = dummy};
    return t;
}

int main(void) {
    ks_layer layers[1];
    ks_model m = {0};
    m.arch = ks_arch_find("llama");
    m.kv_type = KS_DTYPE_F16;
    m.layers = layers;
    /* a described (not allocated) model: wide and with a huge trained context */
    m.hp = (ks_hparams){.n_vocab = 64, .n_embd = 8192, .n_layer = 1, .n_head = 64, .n_head_kv = 64, .n_ff = 64,
                        .n_ctx_train = 1 << 24, .head_dim = 128, .n_rot = 128, .norm_eps = 1e-5f, .rope_theta = 1e4f};
    layers[0] = (ks_layer){.wq = mat(8192, 8192), .wk = mat(8192, 8192), .wv = mat(8192, 8192), .wo = mat(8192, 8192),
                           .ffn_gate = mat(8192, 64), .ffn_up = mat(8192, 64), .ffn_down = mat(64, 8192)};
    m.output = mat(8192, 64);
    ks_context_params p = ks_context_default_params();
    p.n_ctx = 1 << 24; /* 2 x 16M positions x 8192 x 2 bytes = 512 GiB of KV cache */
    p.n_batch = 1;
    ks_context *c = NULL;
    ks_err err = {0};
    ks_status st = ks_context_new(&m, &p, &c, &err);
    CHECK(st == KS_ERR_LIMIT && c == NULL, "huge context: status %d", st);
    CHECK(strstr(err.msg, "GiB") && strstr(err.msg, "-c"), "message names the size and the remedy: %s", err.msg);
    fprintf(stderr, "huge context -> %s\n", err.msg);
    p.n_ctx = 1 << 25; /* beyond the trained context */
    st = ks_context_new(&m, &p, &c, &err);
    CHECK(st == KS_ERR_LIMIT && strstr(err.msg, "trained context"), "beyond trained context: %s", err.msg);
    p.n_ctx = 16;
    p.n_threads = KS_MAX_THREADS + 1; /* more threads than OpenMP can start */
    st = ks_context_new(&m, &p, &c, &err);
    CHECK(st == KS_ERR_LIMIT && c == NULL && strstr(err.msg, "threads"), "too many threads: %s", err.msg);
    p.n_threads = 0; /* a small context is fine */
    st = ks_context_new(&m, &p, &c, &err);
    CHECK(st == KS_OK && c, "small context: %s", err.msg);
    ks_context_free(c);
    TEST_DONE();
}

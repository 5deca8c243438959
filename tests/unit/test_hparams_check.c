/* test_hparams_check.c - ks_hparams_check: SmolLM2's hyperparameters pass; each
 * field out of range (integers 0 or too large, heads not dividing, odd RoPE dims,
 * NaN/inf/negative/zero norm epsilon and RoPE base) fails with the GGUF key and
 * the value in the message. */
#include <math.h>
#include <string.h>

#include "ks_test.h"
#include "model/hparams_check.h"

static ks_hparams smollm2(void) {
    return (ks_hparams){.n_vocab = 49152, .n_embd = 576, .n_layer = 30, .n_head = 9, .n_head_kv = 3, .n_ff = 1536,
                        .n_ctx_train = 8192, .head_dim = 64, .n_rot = 64, .norm_eps = 1e-5f, .rope_theta = 100000.0f};
}

static void expect_bad(ks_hparams hp, const char *what, const char *want) {
    ks_err err = {0};
    ks_status st = ks_hparams_check(&hp, "llama", &err);
    CHECK(st == KS_ERR_FORMAT && strstr(err.msg, want), "%s: status %d, message \"%s\" lacks \"%s\"", what, (int)st,
          err.msg, want);
}

int main(void) {
    ks_hparams hp = smollm2();
    ks_err err = {0};
    CHECK(ks_hparams_check(&hp, "llama", &err) == KS_OK, "SmolLM2 passes: %s", err.msg);
    hp.n_rot = 0; /* no RoPE is allowed */
    CHECK(ks_hparams_check(&hp, NULL, &err) == KS_OK, "n_rot 0 passes: %s", err.msg);

#define BAD(field, value, want)                                                                                       \
    do {                                                                                                              \
        ks_hparams h = smollm2();                                                                                     \
        h.field = value;                                                                                              \
        expect_bad(h, #field " = " #value, want);                                                                     \
    } while (0)
    BAD(n_ctx_train, 0, "llama.context_length = 0 is out of range [1, ");
    BAD(n_ctx_train, -5, "llama.context_length = -5");
    BAD(n_embd, 0, "llama.embedding_length = 0");
    BAD(n_layer, 5000, "llama.block_count = 5000 is out of range [1, 4096]");
    BAD(n_head, 0, "llama.attention.head_count = 0");
    BAD(n_head_kv, 0, "llama.attention.head_count_kv = 0");
    BAD(n_head_kv, 2, "llama.attention.head_count = 9 is not a multiple of llama.attention.head_count_kv = 2");
    BAD(n_ff, (int64_t)1 << 40, "llama.feed_forward_length = 1099511627776");
    BAD(head_dim, 0, "llama.attention.key_length = 0");
    BAD(n_rot, 63, "llama.rope.dimension_count = 63 must be even");
    BAD(n_rot, 66, "llama.rope.dimension_count = 66");
    BAD(n_vocab, 0, "llama.vocab_size = 0");
    BAD(norm_eps, -1.0f, "llama.attention.layer_norm_rms_epsilon = -1 is not a finite number in (0, 1]");
    BAD(norm_eps, 0.0f, "llama.attention.layer_norm_rms_epsilon = 0 ");
    BAD(norm_eps, 1.5f, "llama.attention.layer_norm_rms_epsilon = 1.5 ");
    BAD(norm_eps, NAN, "llama.attention.layer_norm_rms_epsilon = nan");
    BAD(norm_eps, INFINITY, "llama.attention.layer_norm_rms_epsilon = inf");
    BAD(rope_theta, 0.0f, "llama.rope.freq_base = 0 ");
    BAD(rope_theta, -10000.0f, "llama.rope.freq_base = -10000");
    BAD(rope_theta, NAN, "llama.rope.freq_base = nan");
    BAD(rope_theta, INFINITY, "llama.rope.freq_base = inf");
#undef BAD
    /* the base check (run by the family loader before deriving head size and vocabulary) */
    hp = smollm2();
    hp.n_vocab = hp.head_dim = hp.n_rot = 0; /* not yet set */
    CHECK(ks_hparams_check_base(&hp, "llama", &err) == KS_OK, "base fields pass alone: %s", err.msg);
    hp.n_ctx_train = 0;
    CHECK(ks_hparams_check_base(&hp, "llama", &err) == KS_ERR_FORMAT && strstr(err.msg, "llama.context_length = 0"),
          "base: context 0 named: %s", err.msg);
    hp = smollm2();
    hp.n_head_kv = 2;
    CHECK(ks_hparams_check_base(&hp, NULL, &err) == KS_ERR_FORMAT && strstr(err.msg, "model.attention.head_count = 9"),
          "base: heads not dividing: %s", err.msg);
    hp = smollm2();
    hp.norm_eps = 1.0f; /* the closed end of (0, 1] */
    CHECK(ks_hparams_check(&hp, "llama", &err) == KS_OK, "epsilon 1 passes: %s", err.msg);
    hp.n_ctx_train = 0;
    CHECK(ks_hparams_check(&hp, NULL, &err) == KS_ERR_FORMAT && strstr(err.msg, "model.context_length = 0"),
          "no arch name: %s", err.msg);
    CHECK(ks_hparams_check(&hp, "llama", NULL) == KS_ERR_FORMAT, "NULL err");
    TEST_DONE();
}

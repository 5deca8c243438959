/* test_train_export.c - a trained model's GGUF (train/export.c) loads in Kestrel's inference
 * path and gives the trainer's logits: a tiny LLaMA (GQA, untied and tied heads) with random
 * weights, saved as a checkpoint, exported, loaded with ks_model_load, decoded with an F32 KV
 * cache; every logit of every position within 1e-4 of the trainer's forward (relative to the
 * largest |logit|). Also: the checkpoint round-trips bit for bit, and a checkpoint of another
 * shape is refused by name.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ks_test.h"
#include "tensor/dtype.h"
#include "train/blocks.h"
#include "train/train.h"

#define T 12

static void run_case(bool tied, const char *dir) {
    ks_hparams hp = {.n_vocab = 96, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 96,
                     .head_dim = 16, .n_rot = 16, .n_ctx_train = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    ks_err err = {0};
    ks_train_model tm, back;
    ks_train_acts a;
    CHECK(ks_train_model_init(&tm, ks_arch_find("llama"), &hp, tied, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_train_acts_init(&a, &tm, 1, T, &err) == KS_OK, "%s", err.msg);
    if (!tm.params || !a.arena) return;
    ks_train_model_init_weights(&tm, 0.2f, tied ? 7 : 8);
    for (size_t i = 0; i < tm.n_params; i++) tm.m[i] = (float)i * 1e-3f, tm.v[i] = (float)i * 1e-6f;
    int32_t tok[T], tgt[T];
    for (int i = 0; i < T; i++) tok[i] = (i * 37 + 5) % 96, tgt[i] = -1;
    float loss;
    CHECK(ks_train_forward(&tm, &a, tok, tgt, &loss, NULL, &err) == KS_OK, "%s", err.msg);
    float *want = malloc(sizeof(float) * T * 96);
    linear_forward(want, a.xnf, tm.w.output.data, a.gemm, T, 64, 96);

    /* checkpoint round trip */
    ks_train_state st = {42, 0x1234, 777}, st2 = {0};
    CHECK(ks_checkpoint_save(dir, &tm, &st, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_checkpoint_load(dir, &back, &st2, tm.arch, &hp, tied, &err) == KS_OK, "%s", err.msg);
    CHECK(back.params && !memcmp(back.params, tm.params, tm.n_params * 4) && !memcmp(back.m, tm.m, tm.n_params * 4) &&
              !memcmp(back.v, tm.v, tm.n_params * 4) && st2.step == 42 && st2.rng == 0x1234 && st2.data_pos == 777,
          "checkpoint round trip");
    ks_train_model_free(&back);
    ks_hparams other = hp;
    other.n_ff = 128;
    CHECK(ks_checkpoint_load(dir, &back, &st2, tm.arch, &other, tied, &err) == KS_ERR_INVALID_ARG &&
              strstr(err.msg, "another shape (ff 96"), "other shape: %s", err.msg);
    CHECK(ks_checkpoint_load(dir, &back, &st2, tm.arch, &hp, !tied, &err) == KS_ERR_INVALID_ARG, "other head");

    /* export, load, decode */
    char gguf[512];
    snprintf(gguf, sizeof gguf, "%s/model.gguf", dir);
    CHECK(ks_train_write_gguf(&tm, gguf, NULL, &err) == KS_OK, "%s", err.msg);
    ks_model *m = NULL;
    ks_context *c = NULL;
    CHECK(ks_model_load(gguf, NULL, &m, &err) == KS_OK, "%s", err.msg);
    ks_context_params cp = ks_context_default_params();
    cp.kv_type = KS_DTYPE_F32, cp.n_ctx = 64;
    if (m) CHECK(ks_context_new(m, &cp, &c, &err) == KS_OK, "%s", err.msg);
    if (c) CHECK(ks_decode(c, tok, T, 0, true, &err) == KS_OK, "%s", err.msg);
    double worst = 0, big = 0;
    for (int t = 0; c && t < T; t++) {
        const float *l = ks_context_logits(c, t);
        for (int i = 0; l && i < 96; i++)
            worst = fmax(worst, fabs((double)l[i] - want[t * 96 + i])), big = fmax(big, fabs(want[t * 96 + i]));
    }
    CHECK(c && worst / big <= 1e-4, "%s head: Kestrel's logits differ from the trainer's by %.3g (largest %.3g)",
          tied ? "tied" : "untied", worst, big);
    fprintf(stderr, "%s head: exported GGUF's logits within %.2g of the trainer's (relative to max |logit| %.2f)\n",
            tied ? "tied" : "untied", worst / big, big);
    ks_context_free(c);
    ks_model_free(m);
    unlink(gguf);
    free(want);
    ks_train_acts_free(&a);
    ks_train_model_free(&tm);
}

int main(void) {
    char dir[] = "/tmp/ks_test_train_export_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temporary folder");
    run_case(false, dir);
    run_case(true, dir);
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    unlink(path);
    rmdir(dir);
    TEST_DONE();
}

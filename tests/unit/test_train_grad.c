/* test_train_grad.c - the trainer against PyTorch (tests/oracle/make_train_ref.py: transformers'
 * LlamaForCausalLM in float64 with the same float32 weights and batch; tiny LLaMA with GQA,
 * untied and tied head):
 *  - the loss of one micro-batch within 1e-5 relative, every parameter's gradient within 1e-4
 *    (largest |kestrel - torch| over the tensor / largest |torch| in the tensor);
 *  - the same gradients bit-identical with 1 and 2 OpenMP threads;
 *  - 10 AdamW steps (warmup + cosine, clipping at 1.0, 2 micro-batches accumulated, weight
 *    decay on matrices): each step's loss and gradient norm within 1e-4 relative, the learning
 *    rate within 1e-12, every final weight tensor within 1e-4 (as the gradients).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "base/input.h"
#include "ks_test.h"
#include "train/train.h"

#define TOL_GRAD 1e-4
#define TOL_LOSS 1e-5

typedef struct ref {
    cJSON *doc;
    uint8_t *bin;
    size_t n_bin;
} ref;

static const float *ref_f32(const ref *r, const cJSON *entry, int64_t ne0, int64_t ne1) {
    const cJSON *off = cJSON_GetObjectItem(entry, "off"), *ne = cJSON_GetObjectItem(entry, "ne");
    if (!cJSON_IsNumber(off) || cJSON_GetArraySize(ne) != 2) return NULL;
    if (cJSON_GetArrayItem(ne, 0)->valuedouble != (double)ne0 || cJSON_GetArrayItem(ne, 1)->valuedouble != (double)ne1)
        return NULL;
    const size_t o = (size_t)off->valuedouble;
    if ((o + (size_t)(ne0 * ne1)) * 4 > r->n_bin) return NULL;
    return (const float *)(const void *)(r->bin + o * 4);
}

/* largest |a - b| over the tensor relative to the largest |b| */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double d = 0.0, m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1.0);
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valuedouble; }

/* which = "init", "grad" or "final": compares (or, with load, copies into dst) every tensor */
static double each_tensor(const ref *r, const ks_train_model *tm, float *arena, const char *which, bool load,
                          const char *what) {
    const cJSON *tensors = cJSON_GetObjectItem(r->doc, "tensors");
    double worst = 0.0;
    CHECK((size_t)cJSON_GetArraySize(tensors) == tm->n_p, "%zu tensors in the arenas, %d in the reference", tm->n_p,
          cJSON_GetArraySize(tensors));
    for (size_t i = 0; i < tm->n_p; i++) {
        const ks_train_param *p = &tm->p[i];
        char name[96];
        ks_arch_name(p->row, false, p->il, name, sizeof name);
        const cJSON *t = cJSON_GetObjectItem(tensors, name);
        const float *src = t ? ref_f32(r, cJSON_GetObjectItem(t, which), p->ne0, p->ne1) : NULL;
        CHECK(src != NULL, "%s: no %s tensor of shape [%lld, %lld] in the reference", name, which, (long long)p->ne0,
              (long long)p->ne1);
        if (!src) continue;
        if (load) {
            memcpy(arena + p->off, src, (size_t)(p->ne0 * p->ne1) * sizeof(float));
            continue;
        }
        const double d = rel_diff(arena + p->off, src, p->ne0 * p->ne1);
        CHECK(d <= TOL_GRAD, "%s %s: relative difference %.3g > %g", what, name, d, TOL_GRAD);
        worst = fmax(worst, d);
    }
    return worst;
}

static void run_case(const char *name) {
    char path[512];
    ref r = {0};
    ks_err err = {0};
    const char *src = ks_test_env("KS_SRC_DIR", ".");
    snprintf(path, sizeof path, "%s/tests/data/train-ref/%s.json", src, name);
    uint8_t *js = NULL;
    size_t n_js = 0;
    CHECK(ks_file_read_max(path, 0, &js, &n_js, &err) == KS_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/tests/data/train-ref/%s.bin", src, name);
    CHECK(ks_file_read_max(path, 1 << 24, &r.bin, &r.n_bin, &err) == KS_OK, "%s", err.msg);
    r.doc = js ? cJSON_Parse((const char *)js) : NULL;
    free(js);
    if (!r.doc || !r.bin) goto done;
    const cJSON *h = cJSON_GetObjectItem(r.doc, "hparams"), *opt = cJSON_GetObjectItem(r.doc, "opt");
    ks_hparams hp = {.n_vocab = (int64_t)num(h, "n_vocab"), .n_embd = (int64_t)num(h, "n_embd"),
                     .n_layer = (int64_t)num(h, "n_layer"), .n_head = (int64_t)num(h, "n_head"),
                     .n_head_kv = (int64_t)num(h, "n_head_kv"), .n_ff = (int64_t)num(h, "n_ff"),
                     .n_ctx_train = 64, .norm_eps = (float)num(h, "norm_eps"),
                     .rope_theta = (float)num(h, "rope_theta")};
    hp.head_dim = hp.n_embd / hp.n_head, hp.n_rot = hp.head_dim;
    const int64_t B = cJSON_GetArrayItem(cJSON_GetObjectItem(r.doc, "batch"), 0)->valueint;
    const int64_t T = cJSON_GetArrayItem(cJSON_GetObjectItem(r.doc, "batch"), 1)->valueint;
    const int32_t *tokens = (const int32_t *)(const void *)(r.bin + 4 * (size_t)num(r.doc, "tokens"));
    const int32_t *targets = (const int32_t *)(const void *)(r.bin + 4 * (size_t)num(r.doc, "targets"));
    ks_train_model tm;
    ks_train_acts a;
    CHECK(ks_train_model_init(&tm, ks_arch_find("llama"), &hp, cJSON_IsTrue(cJSON_GetObjectItem(r.doc, "tied")),
                              &err) == KS_OK, "%s", err.msg);
    CHECK(ks_train_acts_init(&a, &tm, B, T, &err) == KS_OK, "%s", err.msg);
    if (!tm.params || !a.arena) goto free_model;
    each_tensor(&r, &tm, tm.params, "init", true, NULL);

    /* one micro-batch: loss and gradients, with 2 threads and with 1 */
    float *grads2 = malloc(tm.n_params * sizeof(float));
    for (int threads = 2; threads >= 1; threads--) {
        omp_set_num_threads(threads);
        float loss = 0;
        int64_t n = 0;
        ks_train_zero_grad(&tm);
        CHECK(ks_train_forward(&tm, &a, tokens, targets, &loss, &n, &err) == KS_OK, "%s", err.msg);
        ks_train_backward(&tm, &a, tokens, targets, 1.0f / (float)n);
        const double want = num(r.doc, "loss"), dl = fabs(loss - want) / want;
        CHECK(dl <= TOL_LOSS, "%s: loss %.9g, torch %.9g", name, loss, want);
        if (threads == 2) {
            const double worst = each_tensor(&r, &tm, tm.grads, "grad", false, "gradient");
            fprintf(stderr, "%s: loss %.7f (torch %.7f, rel %.2g), gradients: worst relative difference %.3g\n", name,
                    loss, want, dl, worst);
            memcpy(grads2, tm.grads, tm.n_params * sizeof(float));
        } else {
            CHECK(!memcmp(grads2, tm.grads, tm.n_params * sizeof(float)), "%s: gradients differ with 1 and 2 threads",
                  name);
        }
    }
    free(grads2);
    omp_set_num_threads(2);

    /* 10 AdamW steps from the same initial weights */
    ks_train_opt o = {.lr_max = num(opt, "max_lr"), .lr_min = num(opt, "min_lr"),
                      .warmup = (int64_t)num(opt, "warmup"), .steps = (int64_t)num(opt, "steps"),
                      .beta1 = num(opt, "beta1"), .beta2 = num(opt, "beta2"), .eps = num(opt, "eps"),
                      .weight_decay = num(opt, "weight_decay"), .clip = num(opt, "clip")};
    const int64_t accum = (int64_t)num(opt, "accum");
    const cJSON *steps = cJSON_GetObjectItem(r.doc, "steps");
    each_tensor(&r, &tm, tm.params, "init", true, NULL);
    double worst_loss = 0, worst_norm = 0;
    for (int64_t s = 0; s < o.steps; s++) {
        const cJSON *st = cJSON_GetArrayItem(steps, (int)s);
        ks_train_zero_grad(&tm);
        double total = 0;
        for (int64_t k = 0; k < accum; k++) {
            const int64_t mb = 1 + s * accum + k;
            float loss = 0;
            int64_t n = 0;
            ks_train_forward(&tm, &a, tokens + mb * B * T, targets + mb * B * T, &loss, &n, &err);
            ks_train_backward(&tm, &a, tokens + mb * B * T, targets + mb * B * T, 1.0f / (float)(n * accum));
            total += loss / (double)accum;
        }
        const double norm = ks_train_grad_norm(&tm), lr = ks_train_lr(&o, s);
        const double dl = fabs(total - num(st, "loss")) / num(st, "loss");
        const double dn = fabs(norm - num(st, "grad_norm")) / num(st, "grad_norm");
        CHECK(dl <= TOL_GRAD && dn <= TOL_GRAD, "%s step %lld: loss %.7f (torch %.7f), norm %.6f (torch %.6f)", name,
              (long long)s, total, num(st, "loss"), norm, num(st, "grad_norm"));
        CHECK(fabs(lr - num(st, "lr")) <= 1e-12, "%s step %lld: lr %.10g, torch %.10g", name, (long long)s, lr,
              num(st, "lr"));
        worst_loss = fmax(worst_loss, dl), worst_norm = fmax(worst_norm, dn);
        if (getenv("KS_VERBOSE")) fprintf(stderr, "step %lld loss %.7f norm %.7f\n", (long long)s, total, norm);
        ks_train_clip(&tm, norm, o.clip);
        ks_train_adamw(&tm, &o, s + 1, lr);
    }
    const double worst = each_tensor(&r, &tm, tm.params, "final", false, "weights after 10 steps");
    fprintf(stderr, "%s: 10 AdamW steps: loss rel %.2g, grad norm rel %.2g, weights worst relative difference %.3g\n",
            name, worst_loss, worst_norm, worst);
free_model:
    ks_train_acts_free(&a);
    ks_train_model_free(&tm);
done:
    cJSON_Delete(r.doc);
    free(r.bin);
}

/* bad shapes and tokens are refused with a message, nothing crashes */
static void test_refusals(void) {
    ks_hparams hp = {.n_vocab = 16, .n_embd = 8, .n_layer = 1, .n_head = 3, .n_head_kv = 2, .n_ff = 8,
                     .head_dim = 4, .n_rot = 4, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    ks_train_model tm;
    ks_train_acts a;
    ks_err err = {0};
    CHECK(ks_train_model_init(&tm, ks_arch_find("llama"), &hp, false, &err) == KS_ERR_INVALID_ARG &&
              strstr(err.msg, "multiple of 2 KV heads"), "3 heads over 2 KV heads: %s", err.msg);
    ks_train_model_free(&tm);
    hp.n_head = 2, hp.n_rot = 5;
    CHECK(ks_train_model_init(&tm, ks_arch_find("llama"), &hp, false, &err) == KS_ERR_INVALID_ARG, "odd n_rot");
    hp.n_rot = 4;
    CHECK(ks_train_model_init(&tm, ks_arch_find("llama"), &hp, true, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_train_acts_init(&a, &tm, 0, 4, &err) == KS_ERR_INVALID_ARG, "batch 0");
    CHECK(ks_train_acts_init(&a, &tm, 1, 4, &err) == KS_OK, "%s", err.msg);
    const int32_t tok[4] = {1, 2, 16, 3}, tgt[4] = {1, 2, 3, 4};
    float loss = 0;
    CHECK(ks_train_forward(&tm, &a, tok, tgt, &loss, NULL, &err) == KS_ERR_INVALID_ARG &&
              strstr(err.msg, "outside the vocabulary"), "token 16 of 16: %s", err.msg);
    ks_train_acts_free(&a);
    ks_train_model_free(&tm);
}

int main(void) {
    test_refusals();
    run_case("llama-gqa");
    run_case("llama-gqa-tied");
    TEST_DONE();
}

/* test_batch_oracle.c - eight sequences in one batch, against llama.cpp's batch API.
 *
 * tests/data/batch-goldens.json (tests/oracle/make_batch_goldens.py: llama-cpp-python 0.3.36's
 * llama_batch / llama_decode on SmolLM2 Q4_1, flash attention off) holds, per sequence, the
 * prompt, the greedy tokens llama.cpp chose with all sequences decoded together, and its top-5
 * log-probabilities at each step. Kestrel replays the same batches (prompts together, then one
 * token per running sequence, llama.cpp's tokens fed back) and must agree: the same top-1
 * unless either engine has the two tokens within TIE = 0.5 of each other, and
 * llama.cpp's top-5 log-probs within TOL_LOGPROB = 1.0, the tolerance test_logits.py uses when
 * orders differ. Both are llama.cpp's own noise: its batched and single runs of these
 * sequences differ by 0.46 on the top-5 log-probs and choose other tokens on 2 of the 8
 * (the golden's "diff"). Measured (AMD EPYC, AVX2): top-1 identical at 104 of 108 steps, the
 * other 4 near-ties (Kestrel's two within 0.02), top-5 log-probs within 0.6. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "ks_test.h"
#include "model/model.h"

#define TOL_LOGPROB 1.0
#define TIE 0.5 /* llama.cpp's own batched vs single top-5 log-probs differ by 0.46 */
#define MAX_SEQ 8

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static int ival(const cJSON *a, int i) { return (int)cJSON_GetArrayItem(a, i)->valuedouble; }

typedef struct seq {
    const cJSON *prompt, *ids, *top_ids, *top_lp;
    int n_prompt, n_gen;
} seq;

/* compares Kestrel's logits with llama.cpp's step k of sequence s */
static void compare(const seq *q, int k, const float *l, int64_t V, double *worst, int *exact, int *bad) {
    double mx = l[0], sum = 0;
    int32_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (l[i] > l[best]) best = (int32_t)i;
    mx = l[best];
    for (int64_t i = 0; i < V; i++) sum += exp((double)l[i] - mx);
    const double lse = mx + log(sum);
    const cJSON *ti = cJSON_GetArrayItem(q->top_ids, k), *tl = cJSON_GetArrayItem(q->top_lp, k);
    double tie_ok = 0;
    for (int j = 0; j < cJSON_GetArraySize(ti); j++) {
        const double ref = cJSON_GetArrayItem(tl, j)->valuedouble, got = l[ival(ti, j)] - lse;
        *worst = fmax(*worst, fabs(ref - got));
        if (ival(ti, j) == best) tie_ok = cJSON_GetArrayItem(tl, 0)->valuedouble - ref <= TIE;
    }
    *exact += best == ival(ti, 0);
    if (best != ival(ti, 0) && !tie_ok)
        fprintf(stderr, "step %d: Kestrel's top-1 %d (log-prob %.3f), llama.cpp's %d (%.3f; Kestrel gives it %.3f)\n", k,
                best, mx - lse, ival(ti, 0), cJSON_GetArrayItem(tl, 0)->valuedouble, l[ival(ti, 0)] - lse);
    if (mx - l[ival(ti, 0)] <= TIE) tie_ok = 1; /* or Kestrel's own top two are that close */
    *bad += best != ival(ti, 0) && !tie_ok;
}

int main(void) {
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/data/batch-goldens.json", ks_test_env("KS_SRC_DIR", "."));
    char *text = read_all(path);
    cJSON *g = text ? cJSON_Parse(text) : NULL;
    CHECK(g != NULL, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", ks_test_env("KS_CACHE_DIR", "cache"));
    ks_model *m = NULL;
    ks_err err;
    if (!g || ks_model_load(path, NULL, &m, &err)) {
        fprintf(stderr, "FAIL: %s\n", g ? err.msg : "no goldens");
        return 1;
    }
    const cJSON *seqs = cJSON_GetObjectItem(g, "sequences");
    const int n_seq = cJSON_GetArraySize(seqs) < MAX_SEQ ? cJSON_GetArraySize(seqs) : MAX_SEQ;
    seq q[MAX_SEQ];
    int max_gen = 0;
    for (int s = 0; s < n_seq; s++) {
        const cJSON *o = cJSON_GetArrayItem(seqs, s), *b = cJSON_GetObjectItem(o, "batched");
        q[s] = (seq){cJSON_GetObjectItem(o, "prompt_ids"), cJSON_GetObjectItem(b, "ids"), cJSON_GetObjectItem(b, "top_ids"),
                     cJSON_GetObjectItem(b, "top_logprobs"), 0, 0};
        q[s].n_prompt = cJSON_GetArraySize(q[s].prompt), q[s].n_gen = cJSON_GetArraySize(q[s].ids);
        if (q[s].n_gen > max_gen) max_gen = q[s].n_gen;
    }
    ks_context_params cp = ks_context_default_params();
    cp.n_ctx = 1024, cp.n_seq_max = n_seq;
    ks_context *c = NULL;
    ks_batch b;
    CHECK(ks_context_new(m, &cp, &c, &err) == KS_OK && ks_batch_init(&b, 512, &err) == KS_OK, "%s", err.msg);
    int64_t row[MAX_SEQ]; /* batch index of each sequence's logits */
    for (int s = 0; s < n_seq; s++)
        for (int i = 0; i < q[s].n_prompt; i++) {
            if (i + 1 == q[s].n_prompt) row[s] = b.n_tokens;
            ks_batch_add1(&b, ival(q[s].prompt, i), i, s, i + 1 == q[s].n_prompt, &err);
        }
    double worst = 0;
    int exact = 0, bad = 0, n_cmp = 0;
    for (int k = 0; k < max_gen && c; k++) {
        CHECK(ks_decode_batch(c, &b, &err) == KS_OK, "step %d: %s", k, err.msg);
        for (int s = 0; s < n_seq; s++)
            if (k < q[s].n_gen) compare(&q[s], k, ks_context_logits(c, row[s]), m->hp.n_vocab, &worst, &exact, &bad), n_cmp++;
        ks_batch_clear(&b);
        for (int s = 0; s < n_seq; s++)
            if (k + 1 < q[s].n_gen) {
                row[s] = b.n_tokens;
                ks_batch_add1(&b, ival(q[s].ids, k), q[s].n_prompt + k, s, true, &err);
            }
        if (!b.n_tokens) break;
    }
    fprintf(stderr, "vs llama.cpp's batch: %d steps, top-1 identical at %d, max top-5 log-prob diff %.3g\n", n_cmp, exact,
            worst);
    CHECK(n_cmp >= 80, "only %d steps compared", n_cmp);
    CHECK(bad == 0, "%d top-1 tokens differ from llama.cpp's without a near-tie", bad);
    CHECK(worst <= TOL_LOGPROB, "log-probs differ from llama.cpp's by %g (tolerance %g)", worst, TOL_LOGPROB);
    ks_batch_free(&b);
    ks_context_free(c);
    ks_model_free(m);
    cJSON_Delete(g);
    free(text);
    TEST_DONE();
}

/* test_sampler.c - the sampling chain: greedy, determinism, the distribution
 * it draws from (chi-square against softmax(logits / temp)), the support of
 * top_k/top_p/min_p, the penalties' direction and window, bad parameters. */
#include <math.h>
#include <string.h>

#include "generate/sampler.h"
#include "ks_test.h"

static uint32_t rng = 777;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static ks_sampler_params plain(float temp) { /* every filter and penalty off */
    ks_sampler_params p = ks_sampler_default_params();
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

/* the sampler's vocabulary (every sampler here is made for one) */
static int32_t sample(ks_sampler *s, const float *logits) {
    return ks_sampler_sample(s, logits, ks_sampler_n_vocab(s));
}

static ks_sampler *make(const ks_sampler_params *p, int32_t n_vocab) {
    ks_sampler *s = NULL;
    ks_err err = {0};
    ks_status st = ks_sampler_init(&s, p, n_vocab, &err);
    CHECK(st == KS_OK && s, "init failed: %s", err.msg);
    return s;
}

/* draws n tokens and counts them into hist[n_vocab] */
static void histogram(ks_sampler *s, const float *logits, int32_t n_vocab, int n, int *hist) {
    memset(hist, 0, (size_t)n_vocab * sizeof *hist);
    for (int i = 0; i < n; i++) {
        int32_t t = sample(s, logits);
        if (t >= 0 && t < n_vocab) hist[t]++;
    }
}

static void test_defaults(void) {
    ks_sampler_params p = ks_sampler_default_params();
    CHECK(p.temp == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f, "llama.cpp defaults");
    CHECK(p.repeat_penalty == 1.0f && p.repeat_last_n == 64 && p.seed == 0, "llama.cpp penalty defaults");
    CHECK(p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f, "no OpenAI penalties by default");
}

static void test_greedy(void) {
    enum { NV = 1000 };
    static float logits[NV];
    ks_sampler_params p = plain(0.0f);
    ks_sampler *s = make(&p, NV);
    for (int trial = 0; trial < 50; trial++) {
        int32_t want = 0;
        for (int i = 0; i < NV; i++) {
            logits[i] = 10.0f * frand();
            if (logits[i] > logits[want]) want = i;
        }
        CHECK(sample(s, logits) == want, "greedy is argmax (trial %d)", trial);
    }
    for (int i = 0; i < NV; i++) logits[i] = 0.0f;
    logits[17] = logits[400] = logits[999] = 3.0f;
    CHECK(sample(s, logits) == 17, "greedy ties go to the lowest id");
    p.temp = -1.0f; /* negative temperature is greedy too */
    ks_sampler_free(s);
    s = make(&p, NV);
    CHECK(sample(s, logits) == 17, "negative temp is greedy");
    logits[5] = NAN;
    CHECK(sample(s, logits) == 17, "NaN logits never win");
    ks_sampler_free(s);
}

static void test_determinism(void) {
    enum { NV = 49152, N = 64 };
    static float logits[NV], copy[NV];
    for (int i = 0; i < NV; i++) logits[i] = 4.0f * frand();
    memcpy(copy, logits, sizeof logits);
    ks_sampler_params p = ks_sampler_default_params();
    p.top_k = 0; /* wide support so that seeds visibly differ */
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temp = 1.5f;
    p.seed = 42;
    int32_t a[N], b[N], c[N], d[N];
    ks_sampler *s1 = make(&p, NV), *s2 = make(&p, NV);
    p.seed = 43;
    ks_sampler *s3 = make(&p, NV);
    for (int i = 0; i < N; i++) {
        a[i] = sample(s1, logits);
        b[i] = sample(s2, logits);
        c[i] = sample(s3, logits);
    }
    ks_sampler_reset(s1);
    for (int i = 0; i < N; i++) d[i] = sample(s1, logits);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed, same sequence");
    CHECK(memcmp(a, d, sizeof a) == 0, "reset reseeds: the sequence repeats");
    CHECK(memcmp(a, c, sizeof a) != 0, "different seeds differ");
    CHECK(memcmp(logits, copy, sizeof logits) == 0, "logits are not modified");
    ks_sampler_free(s1);
    ks_sampler_free(s2);
    ks_sampler_free(s3);

    /* the defaults on a real-sized vocabulary: every draw is among the top 40 */
    p = ks_sampler_default_params();
    ks_sampler *s = make(&p, NV);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        int32_t t = sample(s, logits);
        int above = 0;
        for (int j = 0; j < NV; j++) above += logits[j] > logits[t];
        bad += above >= 40;
    }
    CHECK(bad == 0, "%d draws outside the top 40 with default params", bad);
    ks_sampler_free(s);
}

static void test_top_k1_is_greedy(void) {
    enum { NV = 5000 };
    static float logits[NV];
    ks_sampler_params p = ks_sampler_default_params();
    p.top_k = 1;
    p.temp = 1.0f;
    ks_sampler *s = make(&p, NV);
    int bad = 0;
    for (int trial = 0; trial < 30; trial++) {
        int32_t want = 0;
        for (int i = 0; i < NV; i++) {
            logits[i] = frand();
            if (logits[i] > logits[want]) want = i;
        }
        bad += sample(s, logits) != want;
    }
    CHECK(bad == 0, "top_k = 1 differs from argmax %d times", bad);
    ks_sampler_free(s);
}

/* top_k with heavy ties: the kept set is the first k in (logit desc, id asc) order */
static void test_top_k_ties(void) {
    enum { NV = 3001 };
    static float logits[NV];
    static int hist[NV];
    for (int i = 0; i < NV; i++) logits[i] = (float)(int)(4.0f * frand()); /* -3..3 */
    for (int k = 1; k <= 9; k += 4) {
        ks_sampler_params p = plain(50.0f); /* hot: every kept token shows up */
        p.top_k = k;
        ks_sampler *s = make(&p, NV);
        histogram(s, logits, NV, 4000, hist);
        int bad = 0, n_seen = 0;
        for (int t = 0; t < NV; t++) {
            if (!hist[t]) continue;
            n_seen++;
            int before = 0; /* tokens ahead of t in the total order */
            for (int j = 0; j < NV; j++) before += logits[j] > logits[t] || (logits[j] == logits[t] && j < t);
            bad += before >= k;
        }
        CHECK(bad == 0 && n_seen == k, "top_k %d with ties: %d outside, %d seen", k, bad, n_seen);
        ks_sampler_free(s);
    }
}

/* chi-square of n draws against softmax(logits / temp) */
static void check_distribution(const float *logits, int32_t nv, float temp, int n, const char *what) {
    ks_sampler_params p = plain(temp);
    p.seed = 1234;
    ks_sampler *s = make(&p, nv);
    int hist[16];
    histogram(s, logits, nv, n, hist);
    double z = 0.0, prob[16];
    for (int i = 0; i < nv; i++) z += exp(logits[i] / temp);
    double chi2 = 0.0;
    for (int i = 0; i < nv; i++) {
        prob[i] = exp(logits[i] / temp) / z;
        double e = prob[i] * n;
        chi2 += (hist[i] - e) * (hist[i] - e) / e;
    }
    /* 99.9th percentile of chi-square with nv - 1 = 5 degrees of freedom */
    CHECK(chi2 < 20.52, "%s: chi2 %.2f over %d draws (first freq %.4f, want %.4f)", what, chi2, n,
          (double)hist[0] / n, prob[0]);
    ks_sampler_free(s);
}

static void test_distribution(void) {
    const float logits[6] = {1.0f, 2.0f, 0.5f, -1.0f, 1.7f, 0.0f};
    check_distribution(logits, 6, 1.0f, 20000, "temp 1");
    check_distribution(logits, 6, 0.7f, 20000, "temp 0.7");
    check_distribution(logits, 6, 2.0f, 20000, "temp 2");
}

/* probabilities 0.5, 0.25, 0.15, 0.1 (at temperature 1) */
static void quartet(float *logits) {
    const double pr[4] = {0.5, 0.25, 0.15, 0.1};
    for (int i = 0; i < 4; i++) logits[i] = (float)log(pr[i]);
}

static void test_top_p_min_p(void) {
    float logits[4];
    quartet(logits);
    int hist[4];
    ks_sampler_params p = plain(1.0f);
    p.top_p = 0.7f; /* 0.5 < 0.7 <= 0.75: keeps {0, 1} */
    ks_sampler *s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[0] > 0 && hist[1] > 0 && hist[2] == 0 && hist[3] == 0, "top_p 0.7 support: %d %d %d %d", hist[0],
          hist[1], hist[2], hist[3]);
    CHECK(fabs(hist[0] / 5000.0 - 2.0 / 3.0) < 0.03, "top_p renormalizes: freq %.3f, want 0.667", hist[0] / 5000.0);
    ks_sampler_free(s);
    p.top_p = 0.45f; /* the top token alone reaches it */
    s = make(&p, 4);
    histogram(s, logits, 4, 2000, hist);
    CHECK(hist[0] == 2000, "top_p 0.45 keeps only the top token: %d", hist[0]);
    ks_sampler_free(s);
    p.top_p = 0.8f; /* 0.75 < 0.8 <= 0.9: keeps {0, 1, 2} */
    s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[2] > 0 && hist[3] == 0, "top_p 0.8 support: %d %d %d %d", hist[0], hist[1], hist[2], hist[3]);
    ks_sampler_free(s);

    p = plain(1.0f);
    p.min_p = 0.25f; /* threshold 0.125: keeps {0, 1, 2} */
    s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[2] > 0 && hist[3] == 0, "min_p 0.25 support: %d %d %d %d", hist[0], hist[1], hist[2], hist[3]);
    ks_sampler_free(s);
    p.min_p = 0.45f; /* threshold 0.225: keeps {0, 1} */
    s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[1] > 0 && hist[2] == 0 && hist[3] == 0, "min_p 0.45 support: %d %d %d %d", hist[0], hist[1], hist[2],
          hist[3]);
    ks_sampler_free(s);
    /* min_p looks at temperature 1 even when the draw is hot */
    p.temp = 5.0f;
    s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[2] == 0 && hist[3] == 0, "min_p before temperature: %d %d", hist[2], hist[3]);
    ks_sampler_free(s);

    p = plain(1.0f);
    p.top_k = 2;
    s = make(&p, 4);
    histogram(s, logits, 4, 5000, hist);
    CHECK(hist[0] > 0 && hist[1] > 0 && hist[2] == 0 && hist[3] == 0, "top_k 2 support: %d %d %d %d", hist[0],
          hist[1], hist[2], hist[3]);
    ks_sampler_free(s);
}

static void test_repeat_penalty(void) {
    ks_sampler_params p = plain(0.0f);
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 2;
    ks_sampler *s = make(&p, 4);
    float pos[4] = {1.0f, 0.9f, 0.0f, 0.0f}; /* 1.0 / 1.5 < 0.9 */
    float neg[4] = {-1.0f, -1.2f, -5.0f, -5.0f}; /* -1.0 * 1.5 < -1.2 */
    CHECK(sample(s, pos) == 0, "no history, no penalty");
    ks_sampler_accept(s, 0);
    CHECK(sample(s, pos) == 1, "positive logit is divided");
    CHECK(sample(s, neg) == 1, "negative logit is multiplied");
    ks_sampler_accept(s, 2);
    CHECK(sample(s, pos) == 1, "token 0 still in the window of 2");
    ks_sampler_accept(s, 3);
    CHECK(sample(s, pos) == 0, "token 0 left the window of 2");
    ks_sampler_accept(s, 0);
    ks_sampler_accept(s, 0); /* the count does not matter to the repetition penalty */
    float pos2[4] = {1.0f, 0.6f, 0.0f, 0.0f};
    CHECK(sample(s, pos2) == 0, "repeat penalty applies once, not per occurrence");
    ks_sampler_accept(s, -1);
    ks_sampler_accept(s, 4); /* out of range: ignored */
    ks_sampler_reset(s);
    CHECK(sample(s, pos) == 0, "reset clears the history");
    ks_sampler_free(s);

    p.repeat_last_n = 0; /* penalties off */
    s = make(&p, 4);
    ks_sampler_accept(s, 0);
    CHECK(sample(s, pos) == 0, "repeat_last_n 0 disables penalties");
    ks_sampler_free(s);

    p.repeat_last_n = -1; /* whole history */
    s = make(&p, 4);
    ks_sampler_accept(s, 0);
    for (int i = 0; i < 500; i++) ks_sampler_accept(s, 2);
    CHECK(sample(s, pos) == 1, "repeat_last_n -1 remembers everything");
    ks_sampler_free(s);
}

static void test_openai_penalties(void) {
    const float logits[3] = {1.0f, 0.5f, -3.0f};
    struct {
        float presence, frequency;
        int n_seen;
        int32_t want;
    } cases[] = {
        {0.0f, 0.2f, 2, 0}, /* 1.0 - 0.4 = 0.6 > 0.5 */
        {0.0f, 0.3f, 2, 1}, /* 1.0 - 0.6 = 0.4 < 0.5 */
        {0.0f, 0.3f, 1, 0}, /* 1.0 - 0.3 = 0.7 */
        {0.4f, 0.0f, 3, 0}, /* presence counts once: 0.6 */
        {0.6f, 0.0f, 1, 1}, /* 0.4 */
        {0.2f, 0.2f, 1, 0}, /* 1.0 - 0.2 - 0.2 = 0.6 */
        {0.2f, 0.2f, 2, 1}, /* 1.0 - 0.2 - 0.4 = 0.4 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_sampler_params p = plain(0.0f);
        p.presence_penalty = cases[i].presence;
        p.frequency_penalty = cases[i].frequency;
        ks_sampler *s = make(&p, 3);
        for (int k = 0; k < cases[i].n_seen; k++) ks_sampler_accept(s, 0);
        CHECK(sample(s, logits) == cases[i].want, "case %zu: presence %.1f frequency %.1f seen %d", i,
              cases[i].presence, cases[i].frequency, cases[i].n_seen);
        ks_sampler_free(s);
    }
    /* a negative presence penalty boosts a seen token */
    ks_sampler_params p = plain(0.0f);
    p.presence_penalty = -1.0f;
    ks_sampler *s = make(&p, 3);
    ks_sampler_accept(s, 2);
    CHECK(sample(s, logits) == 0, "-3 + 1 does not beat 1");
    ks_sampler_accept(s, 1);
    CHECK(sample(s, logits) == 1, "0.5 + 1 beats 1");
    ks_sampler_free(s);
}

static void test_invalid(void) {
    struct {
        const char *what;
        ks_sampler_params p;
        int32_t n_vocab;
    } cases[16];
    int n = 0;
    ks_sampler_params d = ks_sampler_default_params();
#define BAD(field, value, nv)                                                                                          \
    do {                                                                                                               \
        cases[n].what = #field " = " #value;                                                                           \
        cases[n].p = d;                                                                                                \
        cases[n].p.field = value;                                                                                      \
        cases[n].n_vocab = nv;                                                                                         \
        n++;                                                                                                           \
    } while (0)
    BAD(temp, NAN, 10);
    BAD(temp, INFINITY, 10);
    BAD(top_p, 0.0f, 10);
    BAD(top_p, -0.5f, 10);
    BAD(top_p, 1.5f, 10);
    BAD(top_p, NAN, 10);
    BAD(min_p, 1.5f, 10);
    BAD(min_p, NAN, 10);
    BAD(repeat_penalty, 0.0f, 10);
    BAD(repeat_penalty, -1.0f, 10);
    BAD(repeat_penalty, NAN, 10);
    BAD(repeat_last_n, -2, 10);
    BAD(presence_penalty, NAN, 10);
    BAD(frequency_penalty, INFINITY, 10);
    BAD(temp, 0.8f, 0);
    BAD(temp, 0.8f, -5);
#undef BAD
    for (int i = 0; i < n; i++) {
        ks_sampler *s = (ks_sampler *)&n; /* must be reset to NULL */
        ks_err err = {0};
        ks_status st = ks_sampler_init(&s, &cases[i].p, cases[i].n_vocab, &err);
        CHECK(st == KS_ERR_INVALID_ARG && err.code == st && s == NULL && err.msg[0], "%s not rejected (%d)",
              cases[i].what, (int)st);
        ks_sampler_free(st == KS_OK ? s : NULL);
    }
    ks_sampler *s = NULL;
    ks_err err = {0};
    CHECK(ks_sampler_init(&s, NULL, 10, &err) == KS_ERR_INVALID_ARG, "NULL params rejected");
    CHECK(ks_sampler_init(NULL, &d, 10, &err) == KS_ERR_INVALID_ARG, "NULL out rejected");
    /* allowed edge values */
    d.min_p = -1.0f;
    d.top_k = -3;
    d.top_p = 1.0f;
    d.repeat_last_n = -1;
    CHECK(ks_sampler_init(&s, &d, 1, &err) == KS_OK, "edge values accepted: %s", err.msg);
    float one = 0.3f;
    CHECK(ks_sampler_sample(s, &one, 1) == 0, "a vocabulary of one");
    CHECK(ks_sampler_sample(s, NULL, 1) == -1 && ks_sampler_sample(NULL, &one, 1) == -1, "NULL arguments give -1");
    ks_sampler_free(s);
    ks_sampler_free(NULL);
    ks_sampler_reset(NULL);
    ks_sampler_accept(NULL, 3);
}

int main(void) {
    test_defaults();
    test_greedy();
    test_determinism();
    test_top_k1_is_greedy();
    test_top_k_ties();
    test_distribution();
    test_top_p_min_p();
    test_repeat_penalty();
    test_openai_penalties();
    test_invalid();
    TEST_DONE();
}

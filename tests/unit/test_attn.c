/* test_attn.c - flash attention (kernels/attn_flash.c): every ISA variant against the
 * double-precision two-pass reference over head sizes, cache types, key counts around the
 * tile sizes, query counts, masks, ranges (empty ones too), softcap, and split-KV partials
 * merged by ks_attn_merge.
 * Tolerance: max_d |o_d - ref_d| <= 1e-5 * sqrt(n_kv + 1) * max_j |v_j| (the values' scale:
 * o is a convex combination of v rows; FP32 sums of n_kv terms drift like sqrt(n_kv)).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ks_test.h"
#include "tensor/dtype.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (2.0 / 16777216.0) - 1.0);
}
static int64_t irand(int64_t n) { return n > 0 ? (int64_t)((frand() * 0.5f + 0.5f) * (float)n) % n : 0; }

typedef struct cache {
    uint8_t *k, *v;  /* n_kv rows of 2 heads; the test uses head 1 */
    size_t row_bytes, head_bytes;
    float vmax;      /* largest |value| of V */
} cache;

static void cache_fill(cache *c, uint32_t type, int64_t n_kv, int64_t hd) {
    c->head_bytes = (size_t)ks_dtype_row_bytes(type, hd), c->row_bytes = 2 * c->head_bytes;
    c->k = malloc(c->row_bytes * (size_t)n_kv), c->v = malloc(c->row_bytes * (size_t)n_kv);
    float *row = malloc((size_t)hd * 2 * sizeof(float)), *vf = malloc((size_t)hd * 2 * sizeof(float));
    c->vmax = 0.0f;
    for (int64_t j = 0; j < n_kv; j++)
        for (int kv = 0; kv < 2; kv++) {
            uint8_t *dst = (kv ? c->v : c->k) + (size_t)j * c->row_bytes;
            for (int64_t d = 0; d < 2 * hd; d++) row[d] = frand() * (d % 7 == 0 ? 2.0f : 1.0f);
            if (type == KS_DTYPE_F32) memcpy(dst, row, (size_t)hd * 2 * sizeof(float));
            else for (int h = 0; h < 2; h++) ks_dtype_get(type)->from_float(row + h * hd, dst + h * c->head_bytes, hd);
            if (kv) {
                ks_dtype_get(type)->to_float(dst + c->head_bytes, vf, hd);
                for (int64_t d = 0; d < hd; d++) c->vmax = fmaxf(c->vmax, fabsf(vf[d]));
            }
        }
    free(row), free(vf);
}

typedef struct options {
    bool mask, ranges, softcap;
    int n_split; /* 1: one call */
} options;

static float worst_ratio, worst_diff;

/* runs f (split in n_split key ranges and merged when asked) and compares with the reference */
static int check_case(ks_attn_flash_fn f, const char *isa, uint32_t type, int64_t hd, int64_t n_kv, int64_t n_q,
                      options op) {
    cache c;
    cache_fill(&c, type, n_kv, hd);
    float *qbuf = malloc((size_t)(n_q * hd) * sizeof(float)), *obuf = malloc((size_t)(n_q * hd) * sizeof(float));
    float *rbuf = malloc((size_t)(n_q * hd) * sizeof(float)), *mask = malloc((size_t)(n_q * n_kv) * sizeof(float));
    const float **q = malloc((size_t)n_q * sizeof *q);
    float **o = malloc((size_t)n_q * sizeof *o), **r = malloc((size_t)n_q * sizeof *r);
    int64_t *lo = malloc((size_t)n_q * sizeof *lo), *hi = malloc((size_t)n_q * sizeof *hi);
    const float qscale = op.softcap ? 12.0f : 3.0f; /* softcap: scores large enough for tanh to bend */
    for (int64_t i = 0; i < n_q; i++) {
        for (int64_t d = 0; d < hd; d++) qbuf[i * hd + d] = frand() * qscale;
        q[i] = qbuf + i * hd, o[i] = obuf + i * hd, r[i] = rbuf + i * hd;
        lo[i] = op.ranges ? irand(n_kv) : 0, hi[i] = op.ranges ? lo[i] + irand(n_kv - lo[i] + 1) : n_kv;
        if (op.ranges && i % 5 == 1) hi[i] = lo[i]; /* empty */
        if (op.ranges && i % 5 == 2) lo[i] = 0, hi[i] = n_kv - i % 3 > 0 ? n_kv - i % 3 : n_kv; /* causal-like */
        for (int64_t j = 0; j < n_kv; j++)
            mask[i * n_kv + j] = (frand() < -0.4f || (i % 4 == 3 && j >= n_kv / 2)) ? -INFINITY : 0.0f;
        if (i % 6 == 5) /* all masked */
            for (int64_t j = 0; j < n_kv; j++) mask[i * n_kv + j] = -INFINITY;
    }
    ks_attn_args a = {.n_q = n_q, .hd = hd, .n_kv = n_kv, .q = q, .o = r, .k = c.k + c.head_bytes,
                      .v = c.v + c.head_bytes, .kv_row_bytes = c.row_bytes, .kv_type = type,
                      .lo = op.ranges ? lo : NULL, .hi = op.ranges ? hi : NULL, .mask = op.mask ? mask : NULL,
                      .mask_stride = n_kv, .scale = 1.0f / sqrtf((float)hd), .softcap = op.softcap ? 20.0f : 0.0f};
    void *scratch = aligned_alloc(64, (ks_attn_flash_scratch_bytes(n_q, hd) + 63) / 64 * 64);
    ks_attn_flash_ref(&a, scratch);
    a.o = o;
    if (op.n_split <= 1) {
        f(&a, scratch);
    } else { /* key ranges [cut_s, cut_s+1): each query's range intersected with them, partials merged */
        float *parts = malloc((size_t)(op.n_split * n_q * hd) * sizeof(float));
        float *ms = malloc((size_t)(op.n_split * n_q) * sizeof(float)), *ls = malloc((size_t)(op.n_split * n_q) * 4);
        int64_t *slo = malloc((size_t)n_q * sizeof *slo), *shi = malloc((size_t)n_q * sizeof *shi);
        float **po = malloc((size_t)n_q * sizeof *po);
        for (int s = 0; s < op.n_split; s++) {
            const int64_t c0 = n_kv * s / op.n_split, c1 = n_kv * (s + 1) / op.n_split;
            for (int64_t i = 0; i < n_q; i++) {
                const int64_t l0 = op.ranges ? lo[i] : 0, h0 = op.ranges ? hi[i] : n_kv;
                slo[i] = l0 > c0 ? l0 : c0, shi[i] = h0 < c1 ? h0 : c1;
                shi[i] = shi[i] > slo[i] ? shi[i] : slo[i];
                po[i] = parts + ((size_t)s * n_q + i) * hd;
            }
            ks_attn_args sa = a;
            sa.o = po, sa.lo = slo, sa.hi = shi, sa.m_out = ms + s * n_q, sa.l_out = ls + s * n_q;
            f(&sa, scratch);
        }
        for (int64_t i = 0; i < n_q; i++) {
            const float *pp[8];
            float mi[8], li[8];
            for (int s = 0; s < op.n_split; s++)
                pp[s] = parts + ((size_t)s * n_q + i) * hd, mi[s] = ms[s * n_q + i], li[s] = ls[s * n_q + i];
            ks_attn_merge(o[i], pp, mi, li, op.n_split, hd);
        }
        free(parts), free(ms), free(ls), free(slo), free(shi), free(po);
    }
    const float tol = 1e-5f * sqrtf((float)n_kv + 1.0f) * c.vmax;
    int bad = 0;
    for (int64_t i = 0; i < n_q; i++) {
        float diff = 0.0f;
        for (int64_t d = 0; d < hd; d++) diff = fmaxf(diff, fabsf(o[i][d] - r[i][d]));
        if (!(diff <= tol) && bad++ < 3)
            fprintf(stderr, "  %s type %u hd %lld n_kv %lld n_q %lld query %lld: diff %g > tol %g (o[0] %g ref %g)\n",
                    isa, type, (long long)hd, (long long)n_kv, (long long)n_q, (long long)i, diff, tol, o[i][0],
                    r[i][0]);
        if (diff / tol > worst_ratio) worst_ratio = diff / tol, worst_diff = diff;
    }
    free(c.k), free(c.v), free(qbuf), free(obuf), free(rbuf), free(mask), free(q), free(o), free(r), free(lo), free(hi);
    free(scratch);
    return bad;
}

static void test_isa(const char *isa) {
    ks_attn_flash_fn f = ks_attn_flash_isa(isa);
    if (!f) {
        fprintf(stderr, "attn flash %s: not supported by this CPU, not tested\n", isa);
        return;
    }
    const int64_t hds[] = {64, 80, 96, 128, 256, 16, 48};
    const int64_t n_kvs[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 1000, 5000};
    const uint32_t types[] = {KS_DTYPE_F32, KS_DTYPE_F16, KS_DTYPE_Q8_0};
    const int64_t nqs[] = {1, 4, 3, 16, 7, 2, 9, 5};
    int bad = 0, cases = 0, k = 0;
    worst_ratio = 0.0f, worst_diff = 0.0f;
    for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
        for (size_t t = 0; t < 3; t++)
            for (size_t n = 0; n < sizeof n_kvs / sizeof *n_kvs; n++) {
                if (types[t] == KS_DTYPE_Q8_0 && hds[h] % 32) continue;
                if (n_kvs[n] == 5000 && (h % 2 || t != 1)) continue; /* the longest case: fewer combinations */
                const options op = {.mask = k % 2, .ranges = k % 3 != 0, .softcap = k % 5 == 4, .n_split = 1 + k % 4};
                bad += check_case(f, isa, types[t], hds[h], n_kvs[n], nqs[k % 8], op), cases++, k++;
            }
    for (int64_t nq = 1; nq <= 16; nq++) /* every query count, with and without splits */
        for (int split = 1; split <= 3; split += 2) {
            const options op = {.mask = nq % 2, .ranges = true, .softcap = nq % 3 == 0, .n_split = split};
            bad += check_case(f, isa, KS_DTYPE_F16, nq % 2 ? 128 : 80, 70 + 13 * nq, nq, op), cases++;
            bad += check_case(f, isa, KS_DTYPE_F16, 64, 150, nq + 60, op), cases++; /* more than KS_ATTN_QB */
        }
    fprintf(stderr, "attn flash %s: %d cases, largest difference %.3g (%.3f of the tolerance)\n", isa, cases,
            worst_diff, worst_ratio);
    CHECK(bad == 0, "attn flash %s: %d query rows beyond the tolerance", isa, bad);
}

/* the merge of partials: one empty part changes nothing; all empty gives zeros */
static void test_merge(void) {
    const float a[4] = {1, 2, 3, 4}, z[4] = {0};
    const float *parts[2] = {a, z};
    const float m[2] = {0.5f, -INFINITY}, l[2] = {2.0f, 0.0f}, me[2] = {-INFINITY, -INFINITY}, le[2] = {0, 0};
    float o[4];
    ks_attn_merge(o, parts, m, l, 2, 4);
    CHECK(o[0] == 0.5f && o[3] == 2.0f, "merge with an empty part: %g %g", o[0], o[3]);
    ks_attn_merge(o, parts, me, le, 2, 4);
    CHECK(o[0] == 0.0f && o[3] == 0.0f, "merge of empty parts: %g %g", o[0], o[3]);
}

int main(void) {
    test_merge();
    test_isa("avx2");
    test_isa("avx512");
    /* the dispatcher runs one of them */
    options op = {.mask = true, .ranges = true, .n_split = 1};
    CHECK(check_case(ks_attn_flash, "best", KS_DTYPE_F16, 128, 300, 4, op) == 0, "ks_attn_flash");
    TEST_DONE();
}

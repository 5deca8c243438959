/* test_kernels.c - every run-time-selected kernel against its scalar reference
 * on random inputs of awkward sizes, and the quantized matmul against a float
 * matmul of the dequantized weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/packed.h"
#include "ks_test.h"
#include "tensor/dtype.h"

static uint64_t rs = 88172645463325252ull;
static float frand(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((rs >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static const uint32_t types[] = {KS_DTYPE_F32,  KS_DTYPE_F16,  KS_DTYPE_BF16, KS_DTYPE_Q4_0, KS_DTYPE_Q4_1,
                                 KS_DTYPE_Q8_0, KS_DTYPE_Q5_0, KS_DTYPE_Q4_K, KS_DTYPE_Q6_K};
/* types whose reference spells out the SIMD kernel's lane order: results must be identical */
static bool lane_exact(uint32_t t) { return t == KS_DTYPE_Q5_0 || t == KS_DTYPE_Q4_K || t == KS_DTYPE_Q6_K; }

static void test_vec_dot(uint32_t type, int64_t n) {
    const ks_matmul_traits *fast = ks_matmul_get(type), *ref = ks_matmul_get_ref(type);
    const ks_dtype_traits *wt = ks_dtype_get(type), *xt = ks_dtype_get(ref->vec_dot_type);
    float *w = malloc(n * 4), *x = malloc(n * 4);
    void *wq = malloc(ks_dtype_row_bytes(type, n)), *xq = malloc(ks_dtype_row_bytes(ref->vec_dot_type, n));
    double worst = 0;
    for (int rep = 0; rep < 20; rep++) {
        float scale = rep % 3 == 0 ? 100.0f : rep % 3 == 1 ? 1.0f : 1e-3f;
        for (int64_t i = 0; i < n; i++) w[i] = frand() * scale, x[i] = frand() + (rep & 1 ? 0.5f : 0.0f);
        wt->from_float(w, wq, n);
        ref->from_float(x, xq, n);
        (void)xt;
        float a = 0, b = 0;
        fast->vec_dot(n, &a, wq, xq);
        ref->vec_dot(n, &b, wq, xq);
        /* bound relative to the sum of |products| (summation order differs) */
        float *wd = malloc(n * 4), *xd = malloc(n * 4);
        wt->to_float(wq, wd, n);
        ks_dtype_get(ref->vec_dot_type)->to_float(xq, xd, n);
        double mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs((double)wd[i] * xd[i]);
        free(wd), free(xd);
        double e = fabs((double)a - b) / (mag + 1e-30);
        if (e > worst) worst = e;
        if (lane_exact(type))
            CHECK(memcmp(&a, &b, 4) == 0, "%s n=%lld: fast %.9g != lane-order reference %.9g", wt->name, (long long)n, a, b);
    }
    CHECK(worst < 1e-5, "%s n=%lld: fast vs ref relative error %.3g", wt->name, (long long)n, worst);
    { /* the activation converter of the fast table produces the reference's bytes */
        size_t xrb = (size_t)ks_dtype_row_bytes(ref->vec_dot_type, n);
        char *a = malloc(xrb), *b = malloc(xrb);
        for (int rep = 0; rep < 3; rep++) {
            for (int64_t i = 0; i < n; i++) x[i] = rep == 2 && i < 40 ? 0.0f : frand() * (rep ? 1e3f : 1.0f);
            fast->from_float(x, a, n);
            ref->from_float(x, b, n);
            CHECK(memcmp(a, b, xrb) == 0, "%s n=%lld: activation conversion differs from the reference", wt->name, (long long)n);
        }
        free(a), free(b);
    }
    if (fast->vec_dot4) { /* the 4-row kernel must equal four single-row calls bit for bit */
        size_t xrb = (size_t)ks_dtype_row_bytes(ref->vec_dot_type, n);
        char *x4 = malloc(4 * xrb);
        for (int k = 0; k < 4; k++) {
            for (int64_t i = 0; i < n; i++) x[i] = frand() * (k + 1);
            ref->from_float(x, x4 + k * xrb, n);
        }
        float o4[8], o1[4];
        fast->vec_dot4(n, o4, 2, wq, x4, xrb);
        for (int k = 0; k < 4; k++) fast->vec_dot(n, &o1[k], wq, x4 + k * xrb);
        int same = 1;
        for (int k = 0; k < 4; k++) same &= memcmp(&o4[2 * k], &o1[k], 4) == 0;
        CHECK(same, "%s n=%lld: vec_dot4 differs from vec_dot", wt->name, (long long)n);
        free(x4);
    }
    free(w), free(x), free(wq), free(xq);
}

static void test_matmul(uint32_t type, int64_t n_in, int64_t n_out, int64_t n_tok) {
    const ks_dtype_traits *wt = ks_dtype_get(type);
    float *w = malloc(n_in * n_out * 4), *wd = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4);
    float *y = malloc(n_out * n_tok * 4);
    int64_t rb = ks_dtype_row_bytes(type, n_in);
    void *wq = malloc(rb * n_out), *scratch = malloc(ks_matmul_scratch_bytes(type, n_in, n_tok) + 1);
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = frand();
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = frand();
    for (int64_t r = 0; r < n_out; r++) wt->from_float(w + r * n_in, (char *)wq + r * rb, n_in);
    for (int64_t r = 0; r < n_out; r++) wt->to_float((char *)wq + r * rb, wd + r * n_in, n_in);
    ks_tensor t = {.type = type, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)rb, .data = wq};
    ks_matmul(&t, x, n_tok, y, scratch);
    /* the activation is quantized to 8 bits for quantized types: error ~ |w||x| / 127 * sqrt(n) */
    double worst = 0;
    for (int64_t i = 0; i < n_tok; i++)
        for (int64_t r = 0; r < n_out; r++) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < n_in; k++) ref += (double)wd[r * n_in + k] * x[i * n_in + k], mag += fabs(wd[r * n_in + k] * x[i * n_in + k]);
            double e = fabs(y[i * n_out + r] - ref) / (mag + 1e-30);
            if (e > worst) worst = e;
        }
    double tol = type == KS_DTYPE_F32 ? 1e-6 : type == KS_DTYPE_F16 ? 2e-3 : type == KS_DTYPE_BF16 ? 1e-2 : 2e-2;
    CHECK(worst < tol, "matmul %s %lldx%lld x %lld tokens: relative error %.3g > %.3g", wt->name, (long long)n_out,
          (long long)n_in, (long long)n_tok, worst, tol);
    free(w), free(wd), free(x), free(y), free(wq), free(scratch);
}

/* the fused attention-probability row equals scale + softmax + f16 rounding bit for bit */
static void test_softmax_f16(void) {
    const int64_t ns[] = {1, 2, 7, 8, 15, 16, 17, 31, 100, 257, 513, 1000};
    int bad = 0;
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
        for (int rep = 0; rep < 4; rep++) {
            const int64_t n = ns[k];
            float *a = malloc(n * 4), *b = malloc(n * 4);
            for (int64_t i = 0; i < n; i++) a[i] = b[i] = frand() * (rep == 0 ? 1.0f : rep == 1 ? 30.0f : rep == 2 ? 200.0f : 1e-3f);
            if (rep == 3 && n > 3) a[2] = b[2] = 0.0f, a[3] = b[3] = -0.0f;
            ks_softmax_f16(a, n, 0.125f);
            ks_softmax_f16_ref(b, n, 0.125f);
            bad += memcmp(a, b, n * 4) != 0;
            free(a), free(b);
        }
    CHECK(bad == 0, "softmax_f16: %d rows differ from scale + ks_softmax + f16 rounding", bad);
}

static void test_ops(void) {
    test_softmax_f16();
    float x[7] = {1, -2, 3, 0.5f, 0, 4, -1}, y[7], w[7] = {1, 1, 1, 1, 1, 1, 2};
    ks_rmsnorm(y, x, w, 7, 0.0f);
    double ss = 0;
    for (int i = 0; i < 7; i++) ss += x[i] * x[i];
    CHECK(fabsf(y[6] - (float)(-2.0 / sqrt(ss / 7))) < 1e-6, "rmsnorm %g", y[6]);
    float s[4] = {1, 2, 3, 4};
    ks_softmax(s, 4);
    CHECK(fabsf(s[0] + s[1] + s[2] + s[3] - 1) < 1e-6 && s[3] > s[2], "softmax");
    float r[4] = {1, 0, 0, 1}, c[2] = {0, 1}, sn[2] = {1, 0};
    ks_rope(r, 4, c, sn, false); /* pair 0 rotated by 90 degrees, pair 1 not */
    CHECK(fabsf(r[0]) < 1e-7 && fabsf(r[1] - 1) < 1e-7 && r[3] == 1, "rope");
}

/* vectorised exp paths (swiglu, softmax) equal the scalar ks_expf lane for lane;
 * ks_expf stays within 2 ulp of libm's expf where the result is normal */
static void test_exp(void) {
    enum { N = 4099 };
    static float g[N], u[N], o[N], sm[N], sm_ref[N];
    int bad = 0, ulp_bad = 0;
    for (int i = 0; i < N; i++) {
        g[i] = i < 16 ? (float)(i * 50 - 400) : frand() * (i % 3 ? 20.0f : 120.0f); /* includes |x| > 88 */
        u[i] = frand();
        sm[i] = sm_ref[i] = frand() * 30;
    }
    ks_swiglu(o, g, u, N);
    for (int i = 0; i < N; i++) {
        float r = g[i] / (1.0f + ks_expf(-g[i])) * u[i];
        bad += memcmp(&r, &o[i], 4) != 0 && !(isnan(r) && isnan(o[i]));
        float e = ks_expf(g[i]), l = expf(g[i]);
        if (isnormal(l) && fabsf(e - l) > 2 * (nextafterf(l, INFINITY) - l)) ulp_bad++;
    }
    CHECK(bad == 0, "swiglu: %d lanes differ from scalar ks_expf", bad);
    CHECK(ulp_bad == 0, "ks_expf: %d values off by more than 2 ulp", ulp_bad);
    ks_softmax(sm, N);
    float mx = -INFINITY;
    for (int i = 0; i < N; i++) mx = fmaxf(mx, sm_ref[i]);
    for (int i = 0; i < N; i++) sm_ref[i] = ks_expf(sm_ref[i] - mx);
    double sum = 0;
    for (int i = 0; i < N; i += 16) {
        float lane[16] = {0};
        for (int k = 0; k < 16 && i + k < N; k++) lane[k] = sm_ref[i + k];
        sum += ks_reduce16(lane);
    }
    bad = 0;
    for (int i = 0; i < N; i++) {
        float r = sm_ref[i] * (float)(1.0 / sum);
        bad += memcmp(&r, &sm[i], 4) != 0;
    }
    CHECK(bad == 0, "softmax: %d values differ from the scalar definition", bad);
}

/* SIMD attention kernels must equal the scalar reference bit for bit */
static void test_attn(const char *isa) {
    const ks_attn_kernels *k = ks_attn_kernels_isa(isa), *ref = ks_attn_kernels_ref();
    if (!k) {
        fprintf(stderr, "attn %s: not supported by this CPU, not tested\n", isa);
        return;
    }
    const int64_t hds[] = {16, 32, 64, 80, 128, 96, 112, 192, 256, 272};
    const int64_t n_kvs[] = {1, 2, 3, 15, 16, 17, 63, 64, 65, 200, 300};
    int bad = 0, checked = 0;
    for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
        for (size_t m = 0; m < sizeof n_kvs / sizeof *n_kvs; m++) {
            const int64_t hd = hds[h], n_kv = n_kvs[m], stride = hd * 3;
            float *q = malloc(hd * 4), *p = malloc(n_kv * 4), *o1 = malloc(hd * 4), *o2 = malloc(hd * 4);
            uint16_t *kv = malloc(n_kv * stride * 2);
            for (int64_t i = 0; i < hd; i++) q[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(frand() * 3));
            for (int64_t i = 0; i < n_kv; i++) p[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(frand() * 0.5f + 0.5f));
            for (int64_t i = 0; i < n_kv * stride; i++) kv[i] = ks_fp32_to_fp16(frand() * 2);
            for (int vec = 0; vec < 2; vec++) {
                for (int64_t j = 0; j < n_kv; j++) {
                    float a = k->qk(q, kv + j * stride, hd, vec), b = ref->qk(q, kv + j * stride, hd, vec);
                    bad += memcmp(&a, &b, 4) != 0, checked++;
                }
                float *sr = malloc(n_kv * 4); /* the row loop: each key exactly as qk, times the scale */
                k->qk_rows(sr, q, kv, stride, n_kv, hd, vec, 0.125f);
                for (int64_t j = 0; j < n_kv; j++) {
                    const float b = ref->qk(q, kv + j * stride, hd, vec) * 0.125f;
                    bad += memcmp(&sr[j], &b, 4) != 0, checked++;
                }
                free(sr);
                k->pv(o1, p, kv + hd, stride, n_kv, hd, vec);
                ref->pv(o2, p, kv + hd, stride, n_kv, hd, vec);
                bad += memcmp(o1, o2, hd * 4) != 0, checked++;
            }
            if (k->qk_cols) { /* widened, transposed K/V: equal to the f16 batched order */
                float *kf = malloc(n_kv * stride * 4), *s1 = malloc(n_kv * 4), *s2 = malloc(n_kv * 4);
                for (int64_t i = 0; i < n_kv * stride; i++) kf[i] = ks_fp16_to_fp32(kv[i]);
                for (int64_t j = 0; j < n_kv; j++) s1[j] = ref->qk(q, kv + j * stride, hd, false);
                float *kt = malloc(hd * (n_kv + 3) * 4); /* transposed, ld = n_kv + 3 */
                for (int64_t j = 0; j < n_kv; j++)
                    for (int64_t d = 0; d < hd; d++) kt[d * (n_kv + 3) + j] = kf[j * stride + d];
                k->qk_cols(s2, q, kt, n_kv + 3, n_kv, hd);
                bad += memcmp(s1, s2, n_kv * 4) != 0, checked++;
                ref->qk_cols(s2, q, kt, n_kv + 3, n_kv, hd);
                bad += memcmp(s1, s2, n_kv * 4) != 0, checked++;
                { /* three queries at once: each equal to the one-query result */
                    float *q2 = malloc(hd * 4), *q3 = malloc(hd * 4), *sa = malloc(n_kv * 4), *sb = malloc(n_kv * 4);
                    for (int64_t i = 0; i < hd; i++) q2[i] = q[hd - 1 - i], q3[i] = -q[i];
                    for (int nq = 1; nq <= 3; nq++) {
                        float *so[3] = {s2, sa, sb};
                        const float *qs[3] = {q, q2, q3};
                        k->qk_cols3(so, qs, nq, kt, n_kv + 3, n_kv, hd);
                        bad += memcmp(s1, s2, n_kv * 4) != 0, checked++;
                        for (int i = 1; i < nq; i++) {
                            float *r = malloc(n_kv * 4);
                            ref->qk_cols(r, qs[i], kt, n_kv + 3, n_kv, hd);
                            bad += memcmp(r, so[i], n_kv * 4) != 0, checked++;
                            free(r);
                        }
                    }
                    free(q2), free(q3), free(sa), free(sb);
                }
                for (int64_t j = 0; j < n_kv; j++) /* values transposed */
                    for (int64_t d = 0; d < hd; d++) kt[d * (n_kv + 3) + j] = kf[j * stride + hd + d];
                k->pv_cols(o1, p, kt, n_kv + 3, n_kv, hd);
                ref->pv(o2, p, kv + hd, stride, n_kv, hd, false);
                bad += memcmp(o1, o2, hd * 4) != 0, checked++;
                ref->pv_cols(o2, p, kt, n_kv + 3, n_kv, hd);
                bad += memcmp(o1, o2, hd * 4) != 0, checked++;
                { /* three probability rows at once: each equal to its one-row result */
                    float *p2 = malloc(n_kv * 4), *p3 = malloc(n_kv * 4), *oa = malloc(hd * 4), *ob = malloc(hd * 4),
                          *oc = malloc(hd * 4), *r = malloc(hd * 4);
                    for (int64_t j = 0; j < n_kv; j++) p2[j] = p[n_kv - 1 - j], p3[j] = 1.0f - p[j];
                    for (int nq = 1; nq <= 3; nq++) {
                        float *oo[3] = {oa, ob, oc};
                        const float *ps[3] = {p, p2, p3};
                        k->pv_cols3(oo, ps, nq, kt, n_kv + 3, n_kv, hd);
                        for (int i = 0; i < nq; i++) {
                            ref->pv_cols(r, ps[i], kt, n_kv + 3, n_kv, hd);
                            bad += memcmp(r, oo[i], hd * 4) != 0, checked++;
                        }
                    }
                    free(p2), free(p3), free(oa), free(ob), free(oc), free(r);
                }
                free(kt);
                free(kf), free(s1), free(s2);
            }
            free(q), free(p), free(o1), free(o2), free(kv);
        }
    CHECK(bad == 0, "attn %s: %d of %d results differ from the scalar reference", isa, bad, checked);
}

/* amax / 127 of 32 values: the unrounded Q8_1 scale */
static float amax_d(const float *v) {
    float a = 0;
    for (int j = 0; j < 32; j++) a = fmaxf(a, fabsf(v[j]));
    return a / 127.f;
}

/* packed GEMM (Q4_0 / Q8_0 / Q4_1): the reference on the packed layout equals the
 * documented order computed from the native blocks; the SIMD kernel equals the
 * reference bit for bit; ks_matmul through the packed path stays within the
 * quantization error of the float product. */
static void test_packed(uint32_t type, int64_t n_in, int64_t n_out, int64_t n_tok) {
    if (!ks_packed_gemm_for(type)) { /* rows kept: AVX-512 VNNI packs every type, AVX2 only Q4_0 */
        static int said[KS_DTYPE_COUNT];
        if (!said[type]++) fprintf(stderr, "packed gemm %s: rows kept on this CPU, not tested\n", ks_dtype_get(type)->name);
        return;
    }
    const ks_dtype_traits *wt = ks_dtype_get(type);
    const int64_t nb = n_in / 32, rb = ks_dtype_row_bytes(type, n_in);
    float *w = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4);
    float *y_ref = malloc(n_out * n_tok * 4), *y_simd = malloc(n_out * n_tok * 4), *y_mm = malloc(n_out * n_tok * 4);
    void *wq = malloc(rb * n_out);
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = frand();
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = frand() * (i % 97 == 0 ? 40.0f : 1.0f);
    for (int64_t r = 0; r < n_out; r++) wt->from_float(w + r * n_in, (char *)wq + r * rb, n_in);
    ks_tensor t = {.type = type, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)rb, .data = wq};
    const size_t pb = ks_matmul_pack_bytes(&t);
    CHECK(pb == (size_t)(rb * n_out), "packed size %zu != %lld", pb, (long long)(rb * n_out));
    void *packed = malloc(pb);
    ks_matmul_pack(&t, packed);
    ks_block_q8s *xq = malloc(sizeof(ks_block_q8s) * nb * n_tok);
    ks_block_q8_0 *x8 = malloc(sizeof(ks_block_q8_0) * nb);
    int act_bad = 0;
    for (int64_t i = 0; i < n_tok; i++) {
        ks_quantize_act_q8s(x + i * n_in, xq + i * nb, n_in);
        ks_matmul_get_ref(KS_DTYPE_Q8_0)->from_float(x + i * n_in, x8, n_in); /* same values as ggml's Q8_0 */
        for (int64_t b = 0; b < nb; b++) {
            int s = 0;
            for (int j = 0; j < 32; j++) s += x8[b].qs[j];
            act_bad += memcmp(x8[b].qs, xq[i * nb + b].qs, 32) || ks_fp16_to_fp32(x8[b].d) != xq[i * nb + b].d ||
                       s != xq[i * nb + b].s;
            act_bad += xq[i * nb + b].sd != ks_fp16_to_fp32(ks_fp32_to_fp16(amax_d(x + i * n_in + b * 32) * (float)s));
        }
    }
    CHECK(act_bad == 0, "q8s activation blocks differ from Q8_0 in %d blocks", act_bad);
    ks_packed_gemm_ref(type, n_in, packed, 0, n_out, xq, n_tok, y_ref, n_out);
    /* the documented order from the native layout (Q4_1: llama.cpp's row kernel itself) */
    int order_bad = 0;
    if (type == KS_DTYPE_Q4_1 || type == KS_DTYPE_Q5_0) { /* llama.cpp's eight-lane row kernels themselves */
        const ks_matmul_traits *best = ks_matmul_get(type);
        void *x81 = malloc(36 * nb);
        for (int64_t i = 0; i < n_tok; i++) {
            best->from_float(x + i * n_in, x81, n_in);
            for (int64_t r = 0; r < n_out; r++) {
                float v;
                best->vec_dot(n_in, &v, (char *)wq + r * rb, x81);
                order_bad += memcmp(&v, &y_ref[i * n_out + r], 4) != 0;
            }
        }
        free(x81);
        if (!strstr(ks_kernels_isa(), "avx2")) order_bad = 0; /* the scalar row kernel sums differently */
    } else
    for (int64_t i = 0; i < n_tok; i++)
        for (int64_t r = 0; r < n_out; r++) {
            float acc = 0;
            for (int64_t b = 0; b < nb; b++) {
                const ks_block_q8s *a = &xq[i * nb + b];
                int isum = 0;
                float dw;
                if (type == KS_DTYPE_Q4_0) {
                    const ks_block_q4_0 *q = (const ks_block_q4_0 *)((char *)wq + r * rb) + b;
                    dw = ks_fp16_to_fp32(q->d);
                    for (int j = 0; j < 16; j++)
                        isum += ((q->qs[j] & 15) - 8) * a->qs[j] + ((q->qs[j] >> 4) - 8) * a->qs[j + 16];
                } else {
                    const ks_block_q8_0 *q = (const ks_block_q8_0 *)((char *)wq + r * rb) + b;
                    dw = ks_fp16_to_fp32(q->d);
                    for (int j = 0; j < 32; j++) isum += q->qs[j] * a->qs[j];
                }
                acc = fmaf((float)isum, dw * a->d, acc);
            }
            order_bad += memcmp(&acc, &y_ref[i * n_out + r], 4) != 0;
        }
    CHECK(order_bad == 0, "packed %s reference differs from the native-order sum in %d outputs", wt->name, order_bad);
    ks_packed_gemm_fn simd = ks_packed_gemm_for(type);
    const ks_packed_quant_fn squant = ks_packed_quant_for(type);
    if (simd) {
        ks_block_q8s *xs = malloc(sizeof(ks_block_q8s) * nb * n_tok);
        for (int64_t i = 0; i < n_tok; i++) squant(x + i * n_in, xs + i * nb, n_in);
        CHECK(!memcmp(xs, xq, sizeof(ks_block_q8s) * nb * n_tok), "q8s quantizer SIMD != reference");
        /* hostile activations (infinities from NaN-free but overflowing weights): same bytes,
         * and the sum is the stored bytes' sum */
        float bad[64];
        for (int j = 0; j < 64; j++) bad[j] = j == 3 ? INFINITY : j == 40 ? -INFINITY : j == 41 ? 3e38f : frand();
        ks_block_q8s r2[2], s2[2];
        ks_quantize_act_q8s(bad, r2, 64);
        squant(bad, s2, 64);
        int sum_ok = 1;
        for (int b = 0; b < 2; b++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += r2[b].qs[j];
            sum_ok &= sum == r2[b].s;
        }
        CHECK(!memcmp(r2, s2, sizeof r2) && sum_ok, "q8s quantizer on infinities: SIMD != reference or bad sum");
        free(xs);
        /* split rows as two threads would */
        const int64_t mid = (n_out / KS_PACK_ROWS / 2) * KS_PACK_ROWS;
        simd(type, n_in, packed, 0, mid, xq, n_tok, y_simd, n_out);
        simd(type, n_in, packed, mid, n_out, xq, n_tok, y_simd, n_out);
        CHECK(!memcmp(y_ref, y_simd, n_out * n_tok * 4), "packed %s SIMD != reference (%lldx%lld, %lld tokens)",
              wt->name, (long long)n_out, (long long)n_in, (long long)n_tok);
    }
    t.packed = packed;
    void *scratch = malloc(ks_matmul_scratch_bytes(type, n_in, n_tok));
    ks_matmul(&t, x, n_tok, y_mm, scratch);
    CHECK(!memcmp(y_ref, y_mm, n_out * n_tok * 4), "ks_matmul packed %s != reference", wt->name);
    free(w), free(x), free(y_ref), free(y_simd), free(y_mm), free(wq), free(packed), free(xq), free(x8), free(scratch);
}

/* packed Q4_K / Q6_K: reference (from the packed layout) == the row kernels (ggml's order)
 * bit for bit, the AVX-512 kernel == the reference, and ks_matmul takes the packed path */
static void test_packed_k(uint32_t type, int64_t n_in, int64_t n_out, int64_t n_tok) {
    const int64_t rb = ks_dtype_row_bytes(type, n_in), xrb = ks_dtype_row_bytes(KS_DTYPE_Q8_K, n_in);
    float *w = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4);
    float *y_ref = malloc(n_out * n_tok * 4), *y_simd = malloc(n_out * n_tok * 4), *y_mm = malloc(n_out * n_tok * 4);
    char *wq = malloc(rb * n_out), *xq = malloc(xrb * n_tok);
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = frand() + (i % 300 == 0 ? 3.0f : 0.0f);
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = frand() * (i % 97 == 0 ? 40.0f : 1.0f);
    for (int64_t r = 0; r < n_out; r++) ks_dtype_get(type)->from_float(w + r * n_in, wq + r * rb, n_in);
    for (int64_t i = 0; i < n_tok; i++) ks_q8_K_from_float(x + i * n_in, xq + i * xrb, n_in);
    ks_tensor t = {.type = type, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)rb, .data = wq};
    const size_t pb = ks_matmul_pack_bytes(&t);
    if (!pb) {
        CHECK(!ks_packed_gemm_for(type), "%s %lldx%lld not packable", ks_dtype_get(type)->name, (long long)n_out, (long long)n_in);
        goto out;
    }
    void *packed = malloc(pb);
    ks_matmul_pack(&t, packed);
    ks_packed_gemm_ref(type, n_in, packed, 0, n_out, xq, n_tok, y_ref, n_out);
    int bad = 0;
    const ks_matmul_traits *row = ks_matmul_get_ref(type);
    for (int64_t i = 0; i < n_tok; i++)
        for (int64_t r = 0; r < n_out; r++) {
            float v;
            row->vec_dot(n_in, &v, wq + r * rb, xq + i * xrb);
            bad += memcmp(&v, &y_ref[i * n_out + r], 4) != 0;
        }
    CHECK(bad == 0, "packed %s reference differs from the row kernel in %d of %lld outputs", ks_dtype_get(type)->name, bad,
          (long long)(n_out * n_tok));
    const int64_t mid = (n_out / KS_PACK_ROWS / 2) * KS_PACK_ROWS;
    ks_packed_gemm_fn simd = ks_packed_gemm_avx512();
    { /* the AVX-512 Q8_K quantizer gives the reference's bytes, also on ties of |max| and zeros */
        char *xs = malloc(xrb * n_tok);
        for (int64_t i = 0; i < n_tok; i++) ks_quantize_act_q8_K_avx512(x + i * n_in, xs + i * xrb, n_in);
        CHECK(!memcmp(xs, xq, xrb * n_tok), "Q8_K quantizer avx512 != reference");
        float tie[512];
        for (int j = 0; j < 512; j++) tie[j] = j < 256 ? 0.0f : frand();
        tie[300] = -5.0f, tie[301] = 5.0f, tie[400] = 5.0f; /* first largest is negative */
        ks_block_q8_K a[2], c[2];
        ks_q8_K_from_float(tie, a, 512);
        ks_quantize_act_q8_K_avx512(tie, c, 512);
        CHECK(!memcmp(a, c, sizeof a), "Q8_K quantizer avx512 != reference on ties / zero blocks");
        free(xs);
    }
    simd(type, n_in, packed, 0, mid, xq, n_tok, y_simd, n_out);
    simd(type, n_in, packed, mid, n_out, xq, n_tok, y_simd, n_out);
    CHECK(!memcmp(y_ref, y_simd, n_out * n_tok * 4), "packed %s avx512 != reference (%lldx%lld, %lld tokens)",
          ks_dtype_get(type)->name, (long long)n_out, (long long)n_in, (long long)n_tok);
    t.packed = packed;
    void *scratch = malloc(ks_matmul_scratch_bytes(type, n_in, n_tok));
    ks_matmul(&t, x, n_tok, y_mm, scratch);
    CHECK(!memcmp(y_ref, y_mm, n_out * n_tok * 4), "ks_matmul packed %s != reference", ks_dtype_get(type)->name);
    free(packed), free(scratch);
out:
    free(w), free(x), free(y_ref), free(y_simd), free(y_mm), free(wq), free(xq);
}

/* F16 GEMM in tinyBLAS order: the AVX-512 tile kernel equals the reference bit for bit */
static void test_gemm_f16(int64_t n_in, int64_t n_out, int64_t n_tok) {
    uint16_t *w = malloc(n_in * n_out * 2);
    float *x = malloc(n_in * n_tok * 4), *y0 = malloc(n_out * n_tok * 4), *y1 = malloc(n_out * n_tok * 4);
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = ks_fp32_to_fp16(frand());
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(frand()));
    ks_gemm_f16_ref(n_in, w, n_in, 0, n_out, x, n_tok, y0, n_out);
    ks_gemm_f16_fn g = ks_gemm_f16_avx512();
    if (g) {
        memset(y1, 0, n_out * n_tok * 4);
        g(n_in, w, n_in, 0, n_out / 2, x, n_tok, y1, n_out);
        g(n_in, w, n_in, n_out / 2, n_out, x, n_tok, y1, n_out);
        CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "gemm f16 avx512 != reference (%lldx%lld, %lld tokens)",
              (long long)n_out, (long long)n_in, (long long)n_tok);
    }
    /* through ks_matmul (rounds the activation itself) */
    ks_tensor t = {.type = KS_DTYPE_F16, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)n_in * 2, .data = w};
    void *scratch = malloc(ks_matmul_scratch_bytes(KS_DTYPE_F16, n_in, n_tok));
    ks_matmul(&t, x, n_tok, y1, scratch);
    if (g) CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "ks_matmul f16 != tinyBLAS-order reference");
    free(w), free(x), free(y0), free(y1), free(scratch);
}

/* F16 panel product (prompt batches where BF16 dot products do not pay): the AVX-512
 * kernel equals its reference, one FMA chain per output in input order, bit for bit
 * (split row ranges, 12-row and 32-token tails, one-vector token tails); ks_matmul takes
 * it for F16 batches of KS_BF16_MIN_TOK+ tokens on CPUs without AMX-BF16 that are not AMD */
static void test_gemm_f16p(int64_t n_in, int64_t n_out, int64_t n_tok) {
    uint16_t *w = malloc(n_in * n_out * 2);
    const int64_t n_blk = (n_tok + KS_F16P_NT - 1) / KS_F16P_NT;
    float *x = malloc(n_in * n_tok * 4), *xr = malloc(n_in * n_tok * 4), *y0 = malloc(n_out * n_tok * 4),
          *y1 = malloc(n_out * n_tok * 4), *xp = aligned_alloc(64, (size_t)(n_blk * KS_F16P_NT * n_in * 4));
    for (int64_t i = 0; i < n_in * n_out; i++) w[i] = ks_fp32_to_fp16(i % 211 == 3 ? 1e-6f * frand() : frand());
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = frand() * 2;
    ks_fp16_round_row(x, xr, n_in * n_tok);
    ks_gemm_f16p_ref(n_in, w, n_in, 0, n_out, xr, n_tok, y0, n_out);
    int bad = 0; /* the reference is an FP32 chain: within (n_in + 1) 2^-24 sum|wx| of the exact sum */
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < n_out; r++) {
            double s = 0, a = 0;
            for (int64_t k = 0; k < n_in; k++) {
                const double p = (double)ks_fp16_to_fp32(w[r * n_in + k]) * xr[t * n_in + k];
                s += p, a += fabs(p);
            }
            bad += !(fabs(y0[t * n_out + r] - s) <= (n_in + 1) * 0x1p-24 * a + 1e-30);
        }
    CHECK(bad == 0, "gemm f16 panel reference: %d outputs outside the FP32 summation bound", bad);
    ks_gemm_f16_fn g = ks_gemm_f16p_avx512();
    if (g) {
        for (int64_t b = 0; b < n_blk; b++) ks_f16p_pack_act(x, n_in, n_tok, b, xp);
        for (int64_t i = 0; i < n_out * n_tok; i++) y1[i] = NAN;
        const int64_t mid = n_out / 12 / 2 * 12;
        g(n_in, w, n_in, 0, mid, xp, n_tok, y1, n_out);
        g(n_in, w, n_in, mid, n_out, xp, n_tok, y1, n_out);
        CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "gemm f16 panel avx512 != reference (%lldx%lld, %lld tokens)",
              (long long)n_out, (long long)n_in, (long long)n_tok);
        if (n_tok >= KS_BF16_MIN_TOK && n_in % 32 == 0 && !ks_gemm_bf16_amx() && !ks_cpu_is_amd()) {
            ks_tensor t = {.type = KS_DTYPE_F16, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)n_in * 2, .data = w,
                           .bf16_batch = true};
            void *scratch = malloc(ks_matmul_scratch_bytes(KS_DTYPE_F16, n_in, n_tok));
            for (int64_t i = 0; i < n_out * n_tok; i++) y1[i] = NAN;
            ks_matmul(&t, x, n_tok, y1, scratch);
            CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "ks_matmul f16 batch != panel reference");
            free(scratch);
        }
    }
    free(w), free(x), free(xr), free(y0), free(y1), free(xp);
}

/* outputs of a BF16 product that sums the same bf16 products in another order (AMX
 * tiles: the hardware's order and internal rounding are its own): within the FP32
 * summation bound (n_in/2 + 2) 2^-23 sum |w~ x~| of the reference */
static int bf16_sum_bound_misses(const float *y0, const float *y1, const double *sabs, int64_t n_in, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += !(fabs((double)y0[i] - y1[i]) <= (n_in / 2 + 2) * 0x1p-23 * sabs[i] + 1e-30);
    return bad;
}

/* BF16 dot-product GEMM (F16 or BF16 weights): the AVX512-BF16 kernel equals its
 * reference bit for bit (split row ranges, partial panels and chunks, token tails,
 * subnormals that the instruction flushes), and the result is within the bf16
 * rounding bound of the exact product: |y - sum w x| <= 2^-7 sum |w x|. The AMX
 * kernel is held to the FP32 summation bound around the reference. */
static void test_gemm_bf16(uint32_t wtype, int64_t n_in, int64_t n_out, int64_t n_tok) {
    uint16_t *w = malloc(n_in * n_out * 2), *xb = malloc(n_in * n_tok * 2);
    float *x = malloc(n_in * n_tok * 4), *y0 = malloc(n_out * n_tok * 4), *y1 = malloc(n_out * n_tok * 4);
    double *sabs = malloc(n_out * n_tok * sizeof(double));
    for (int64_t i = 0; i < n_in * n_out; i++) {
        const float v = i % 97 == 5 ? 3e-39f : i % 89 == 7 ? 1e-6f * frand() : frand();
        w[i] = wtype == KS_DTYPE_F16 ? ks_fp32_to_fp16(v) : ks_fp32_to_bf16(v);
    }
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = i % 101 == 3 ? -2e-39f : frand() * 3;
    ks_bf16_round_row(x, xb, n_in * n_tok);
    ks_gemm_bf16_ref(wtype, n_in, w, n_in, 0, n_out, xb, n_tok, y0, n_out);
    int bad = 0;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < n_out; r++) {
            double s = 0, a = 0, ab = 0;
            for (int64_t k = 0; k < n_in; k++) {
                const double wv = wtype == KS_DTYPE_F16 ? ks_fp16_to_fp32(w[r * n_in + k])
                                                        : ks_bf16_to_fp32(w[r * n_in + k]);
                s += wv * x[t * n_in + k], a += fabs(wv * x[t * n_in + k]);
                const uint16_t wb = wtype == KS_DTYPE_F16 ? ks_fp32_to_bf16((float)wv) : w[r * n_in + k];
                ab += fabs((double)ks_bf16_to_fp32(wb) * ks_bf16_to_fp32(xb[t * n_in + k]));
            }
            bad += !(fabs(y0[t * n_out + r] - s) <= a / 128 + 1e-30);
            sabs[t * n_out + r] = ab;
        }
    CHECK(bad == 0, "gemm bf16 reference: %d outputs outside 2^-7 sum|wx| of the exact product", bad);
    ks_gemm_bf16_fn g = ks_gemm_bf16_avx512();
    if (g) {
        for (int64_t i = 0; i < n_in * n_tok; i++) xb[i] = 0;
        ks_bf16_round_rows(x, xb, n_in * n_tok);
        uint16_t *xr = malloc(n_in * n_tok * 2);
        ks_bf16_round_row(x, xr, n_in * n_tok);
        CHECK(!memcmp(xb, xr, n_in * n_tok * 2), "bf16 activation rounding: AVX-512 != scalar");
        free(xr);
        memset(y1, 0, n_out * n_tok * 4);
        const int64_t mid = n_out / 32 / 2 * 32;
        g(wtype, n_in, w, n_in, 0, mid, xb, n_tok, y1, n_out);
        g(wtype, n_in, w, n_in, mid, n_out, xb, n_tok, y1, n_out);
        CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "gemm bf16 avx512 != reference (%s %lldx%lld, %lld tokens)",
              ks_dtype_get(wtype)->name, (long long)n_out, (long long)n_in, (long long)n_tok);
    }
    ks_gemm_bf16_fn ga = ks_gemm_bf16_amx();
    if (ga) {
        for (int64_t i = 0; i < n_out * n_tok; i++) y1[i] = NAN;
        const int64_t mid = n_out / 32 / 2 * 32;
        ga(wtype, n_in, w, n_in, 0, mid, xb, n_tok, y1, n_out);
        ga(wtype, n_in, w, n_in, mid, n_out, xb, n_tok, y1, n_out);
        const int miss = bf16_sum_bound_misses(y0, y1, sabs, n_in, n_out * n_tok);
        CHECK(miss == 0, "gemm bf16 amx: %d of %lld outputs outside the summation bound (%s %lldx%lld, %lld tokens)",
              miss, (long long)(n_out * n_tok), ks_dtype_get(wtype)->name, (long long)n_out, (long long)n_in,
              (long long)n_tok);
    }
    if (g) { /* through ks_matmul, which takes a BF16 path from KS_BF16_MIN_TOK tokens */
        ks_tensor t = {.type = wtype, .ne = {n_in, n_out, 1, 1}, .row_bytes = (size_t)n_in * 2, .data = w,
                       .bf16_batch = true};
        void *scratch = malloc(ks_matmul_scratch_bytes(wtype, n_in, n_tok));
        ks_matmul(&t, x, n_tok, y1, scratch);
        if (n_tok >= KS_BF16_MIN_TOK) {
            if (ga)
                CHECK(bf16_sum_bound_misses(y0, y1, sabs, n_in, n_out * n_tok) == 0,
                      "ks_matmul %s bf16 batch (amx) outside the summation bound", ks_dtype_get(wtype)->name);
            else if (wtype == KS_DTYPE_BF16 || ks_cpu_is_amd())
                CHECK(!memcmp(y0, y1, n_out * n_tok * 4), "ks_matmul %s bf16 batch != reference",
                      ks_dtype_get(wtype)->name);
            else /* F16 where VDPBF16PS is slower than FP32 FMAs: the FP32 panel product, far inside the bf16 bound */
                CHECK(bf16_sum_bound_misses(y0, y1, sabs, (1 << 17) - 4, n_out * n_tok) == 0, /* 2^-7 sum|wx| */
                      "ks_matmul %s batch (exact path) outside the bf16 bound", ks_dtype_get(wtype)->name);
        }
        free(scratch);
    }
    free(w), free(xb), free(x), free(y0), free(y1), free(sabs);
}

int main(void) {
    fprintf(stderr, "kernels: %s\n", ks_kernels_isa());
    const int64_t sizes_q[] = {32, 64, 96, 544, 576, 1536, 4128};
    const int64_t sizes_f[] = {1, 7, 15, 16, 33, 100, 577, 1000};
    const int64_t sizes_k[] = {256, 512, 1536, 2304, 5632};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int64_t bs = ks_dtype_get(types[t])->block_size;
        const int64_t *sz = bs == 256 ? sizes_k : bs > 1 ? sizes_q : sizes_f;
        size_t nsz = bs == 256 ? sizeof sizes_k / sizeof *sizes_k
                     : bs > 1  ? sizeof sizes_q / sizeof *sizes_q
                               : sizeof sizes_f / sizeof *sizes_f;
        for (size_t i = 0; i < nsz; i++) test_vec_dot(types[t], sz[i]);
        test_matmul(types[t], bs == 256 ? 256 : bs > 1 ? 96 : 33, 17, 1);
        test_matmul(types[t], bs == 256 ? 1536 : bs > 1 ? 576 : 100, 31, 5);
    }
    const int64_t pk[][3] = {{32, 16, 1},  {96, 48, 3},  {576, 64, 9},  {2048, 32, 17}, {1536, 192, 1},
                             {64, 16, 8},  {2048, 48, 50}, {96, 32, 32}, {32, 16, 16},  {5632, 16, 21}, {512, 400, 1}, {256, 1040, 1}};
    for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++) {
        test_packed(KS_DTYPE_Q4_0, pk[i][0], pk[i][1], pk[i][2]);
        test_packed(KS_DTYPE_Q8_0, pk[i][0], pk[i][1], pk[i][2]);
        test_packed(KS_DTYPE_Q4_1, pk[i][0], pk[i][1], pk[i][2]);
        test_packed(KS_DTYPE_Q5_0, pk[i][0], pk[i][1], pk[i][2]);
    }
    const int64_t pkk[][3] = {{256, 16, 1}, {512, 48, 3}, {1536, 64, 9}, {2048, 32, 2}, {256, 16, 8}};
    for (size_t i = 0; i < sizeof pkk / sizeof pkk[0]; i++) {
        test_packed_k(KS_DTYPE_Q4_K, pkk[i][0], pkk[i][1], pkk[i][2]);
        test_packed_k(KS_DTYPE_Q6_K, pkk[i][0], pkk[i][1], pkk[i][2]);
    }
    const int64_t fk[][3] = {{16, 1, 1}, {64, 9, 7}, {576, 37, 13}, {2048, 24, 1}, {160, 8, 6}, {48, 3, 2}, {128, 11, 1}, {576, 37, 1}, {2048, 23, 1}};
    for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++) test_gemm_f16(fk[i][0], fk[i][1], fk[i][2]);
    const int64_t fp[][3] = {{16, 1, 1}, {48, 13, 5}, {64, 25, 17}, {256, 37, 32}, {512, 100, 33}, {2080, 47, 70}, {4112, 13, 33}};
    for (size_t i = 0; i < sizeof fp / sizeof fp[0]; i++) test_gemm_f16p(fp[i][0], fp[i][1], fp[i][2]);
    const int64_t bk[][3] = {{32, 1, 1}, {64, 17, 13}, {576, 37, 33}, {2048, 48, 12}, {288, 80, 40}, {5632, 16, 3},
                               {2048, 64, 50}, {1088, 96, 33}, {64, 32, 16}, {3072, 40, 70}};
    for (size_t i = 0; i < sizeof bk / sizeof bk[0]; i++) {
        test_gemm_bf16(KS_DTYPE_F16, bk[i][0], bk[i][1], bk[i][2]);
        test_gemm_bf16(KS_DTYPE_BF16, bk[i][0], bk[i][1], bk[i][2]);
    }
    fprintf(stderr, "bf16 gemm: %s\n",
            ks_gemm_bf16_amx() ? "amx-bf16 + avx512-bf16" : ks_gemm_bf16_avx512() ? "avx512-bf16" : "reference only");
    fprintf(stderr, "packed gemm: %s\n",
            ks_packed_gemm_avx2() && !ks_packed_gemm_avx512() ? "avx2 (Q4_0)"
            : !ks_packed_gemm_avx512()         ? "reference only"
            : ks_cpu_has(KS_CPU_AMX_INT8) ? "avx512-vnni + amx-int8 (Q4_0, Q8_0 batches of 16+)"
                                          : "avx512-vnni");
    test_ops();
    test_exp();
    test_attn("avx2");
    test_attn("avx512");
    TEST_DONE();
}

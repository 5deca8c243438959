/* test_dtype.c - half/bfloat conversions against the compiler's own, and
 * quantize-dequantize error bounds per block format. */
#include <math.h>
#include <string.h>

#include "ks_test.h"
#include "tensor/dtype.h"

static uint32_t rng = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static void test_fp16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ks_fp16_to_fp32((uint16_t)h);
#if defined(__FLT16_MAX__)
        __extension__ _Float16 ref;
        uint16_t hb = (uint16_t)h;
        memcpy(&ref, &hb, 2);
        if (!(isnan(f) && isnan((float)ref)) && f != (float)ref) bad++;
#endif
        if (!isnan(f) && ks_fp32_to_fp16(f) != h) bad++;
    }
    CHECK(bad == 0, "%d fp16 round-trip mismatches", bad);
#if defined(__FLT16_MAX__)
    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t bits = rng = rng * 1664525u + 1013904223u;
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f)) continue;
        __extension__ _Float16 r = f;
        uint16_t rb;
        memcpy(&rb, &r, 2);
        if (ks_fp32_to_fp16(f) != rb) {
            if (bad++ < 5) fprintf(stderr, "fp32->fp16 %a: got %04x want %04x\n", f, ks_fp32_to_fp16(f), rb);
        }
    }
    CHECK(bad == 0, "%d fp32->fp16 mismatches vs _Float16", bad);
#endif
    CHECK(ks_bf16_to_fp32(ks_fp32_to_bf16(1.5f)) == 1.5f, "bf16 exact value");
    CHECK(ks_fp32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even"); /* 1 + 2^-8 -> 1.0 */
}

/* max |x - dq(q(x))| per block must stay within the format's step bound */
static void test_roundtrip(uint32_t type, float bound_in_steps) {
    const ks_dtype_traits *t = ks_dtype_get(type);
    enum { N = 32 * 64 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) x[i] = frand() * (1 + (i / 32) % 7);
    t->from_float(x, q, N);
    t->to_float(q, y, N);
    float worst = 0;
    for (int b = 0; b < N / 32; b++) {
        float mn = INFINITY, mx = -INFINITY, amax = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[b * 32 + j];
            mn = fminf(mn, v), mx = fmaxf(mx, v), amax = fmaxf(amax, fabsf(v));
        }
        float step = type == KS_DTYPE_Q4_1 ? (mx - mn) / 15 : type == KS_DTYPE_Q4_0 ? amax / 8 : amax / 127;
        for (int j = 0; j < 32; j++) {
            float e = fabsf(x[b * 32 + j] - y[b * 32 + j]) / step;
            if (e > worst) worst = e;
        }
    }
    CHECK(worst <= bound_in_steps, "%s: worst error %.4f steps > %.4f", t->name, worst, bound_in_steps);
}

/* k-quants and Q5_0: worst |x - dq(q(x))| over sub-blocks, in units of the
 * sub-block's own step (Q5_0: amax/16 over 32; Q6_K: amax/32 over 16; Q4_K:
 * range/15 over 32, where range = max - min(min, 0)); returns the worst */
static float subblock_error(uint32_t type, int sub, float levels, bool asym, const float *x, int n) {
    const ks_dtype_traits *t = ks_dtype_get(type);
    static float y[8192];
    static uint8_t q[8192 * 2];
    t->from_float(x, q, n);
    t->to_float(q, y, n);
    float worst = 0;
    for (int b = 0; b < n / sub; b++) {
        float mn = 0, mx = -INFINITY, amax = 0;
        for (int j = 0; j < sub; j++) {
            float v = x[b * sub + j];
            mn = fminf(mn, v), mx = fmaxf(mx, v), amax = fmaxf(amax, fabsf(v));
        }
        const float step = asym ? (mx - mn) / levels : amax / levels;
        for (int j = 0; j < sub; j++) {
            float e = fabsf(x[b * sub + j] - y[b * sub + j]) / step;
            if (e > worst) worst = e;
        }
    }
    return worst;
}

static void test_kquants(void) {
    enum { N = 256 * 24 };
    static float x[N];
    /* sub-blocks of different magnitudes within one super-block, and some offset ones */
    for (int i = 0; i < N; i++) x[i] = frand() * (1 + (i / 32) % 7) + ((i / 256) % 3 == 1 ? 2.0f : 0.0f);
    const float e50 = subblock_error(KS_DTYPE_Q5_0, 32, 16, false, x, N);
    const float e6 = subblock_error(KS_DTYPE_Q6_K, 16, 32, false, x, N);
    const float e4 = subblock_error(KS_DTYPE_Q4_K, 32, 15, true, x, N);
    fprintf(stderr, "worst error in sub-block steps: Q5_0 %.3f, Q6_K %.3f, Q4_K %.3f\n", e50, e6, e4);
    /* Q5_0 as Q4_0: half a step, one step where the +16 end clips */
    CHECK(e50 <= 1.01f, "Q5_0: worst error %.4f steps", e50);
    /* Q6_K / Q4_K: the sub-block scales are themselves quantized (8 / 6 bits relative to the
     * super-block's largest) and chosen by a weighted search, so an element can sit up to
     * about one step from its value; beyond 1.5 steps the format is broken */
    CHECK(e6 <= 1.5f, "Q6_K: worst error %.4f steps", e6);
    CHECK(e4 <= 1.5f, "Q4_K: worst error %.4f steps", e4);
    /* all-zero and constant super-blocks come back exactly */
    static float z[512], zy[512];
    static uint8_t zq[512 * 2];
    for (int i = 0; i < 512; i++) z[i] = i < 256 ? 0.0f : 0.75f;
    const uint32_t kt[] = {KS_DTYPE_Q4_K, KS_DTYPE_Q6_K, KS_DTYPE_Q8_K};
    for (int k = 0; k < 3; k++) {
        ks_dtype_get(kt[k])->from_float(z, zq, 512);
        ks_dtype_get(kt[k])->to_float(zq, zy, 512);
        float e = 0;
        for (int i = 0; i < 512; i++) e = fmaxf(e, fabsf(zy[i] - z[i]));
        CHECK(e < 1e-3f, "%s: zero/constant super-blocks off by %g", ks_dtype_get(kt[k])->name, e);
    }
    CHECK(ks_dtype_row_bytes(KS_DTYPE_Q4_K, 512) == 288 && ks_dtype_row_bytes(KS_DTYPE_Q6_K, 256) == 210 &&
              ks_dtype_row_bytes(KS_DTYPE_Q4_K, 576) == -1,
          "k-quant row bytes");
}

/* row converters (F16C when present) equal the scalar ones */
static void test_rows(void) {
    enum { N = 1003 };
    static float x[N], r[N];
    static uint16_t h[N];
    for (int i = 0; i < N; i++) x[i] = frand() * (i % 5 == 0 ? 70000.0f : i % 7 == 0 ? 1e-6f : 3.0f);
    ks_fp32_to_fp16_row(x, h, N);
    ks_fp16_round_row(x, r, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float want = ks_fp16_to_fp32(ks_fp32_to_fp16(x[i]));
        bad += h[i] != ks_fp32_to_fp16(x[i]) || memcmp(&r[i], &want, 4) != 0;
    }
    CHECK(bad == 0, "%d row conversions differ from the scalar ones", bad);
}

int main(void) {
    test_fp16();
    test_rows();
    CHECK(ks_dtype_row_bytes(KS_DTYPE_Q4_1, 64) == 40, "row bytes");
    CHECK(ks_dtype_row_bytes(KS_DTYPE_Q4_1, 33) == -1, "row bytes not multiple");
    CHECK(ks_dtype_get(4) == NULL, "removed id 4 unknown");
    CHECK(ks_dtype_get(1000) == NULL, "id out of range");
    /* half a step, plus the fp16 rounding of the scale (2^-11 relative) times the
     * largest code (127 for 8-bit); Q4_0 can clip the +8 end: one step */
    test_roundtrip(KS_DTYPE_Q8_0, 0.5f + 127.0f / 2048);
    test_roundtrip(KS_DTYPE_Q8_1, 0.5f + 127.0f / 2048);
    test_roundtrip(KS_DTYPE_Q4_1, 0.52f);
    test_roundtrip(KS_DTYPE_Q4_0, 1.01f);
    test_kquants();
    TEST_DONE();
}

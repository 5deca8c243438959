/* matmul_ref.c - scalar reference dot products per weight type, and the
 * activation converters (8-bit block quantization of activations as ggml's
 * x86 path does it: scale 127/amax, round to nearest even). */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "tensor/dtype.h"

void ks_quantize_act_q8_0(const float *x, void *dst, int64_t n) {
    ks_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float *v = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(v[j]));
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        b[i].d = ks_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = ks_round_q8(v[j] * id);
    }
}

void ks_quantize_act_q8_1(const float *x, void *dst, int64_t n) {
    ks_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const float *v = x + i * QK8_1;
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) amax = fmaxf(amax, fabsf(v[j]));
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            b[i].qs[j] = ks_round_q8(v[j] * id);
            sum += b[i].qs[j];
        }
        b[i].d = ks_fp32_to_fp16(d);
        b[i].s = ks_fp32_to_fp16(d * (float)sum);
    }
}

static void act_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * sizeof(float)); }
static void act_f16(const float *x, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ks_fp32_to_fp16(x[i]);
}
static void act_bf16(const float *x, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ks_fp32_to_bf16(x[i]);
}

static void dot_f32_ref(int64_t n, float *out, const void *w, const void *x) {
    const float *a = w, *b = x;
    double s = 0; /* ggml_vec_dot_f32 scalar path accumulates in ggml_float (double) */
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    *out = (float)s;
}
static void dot_f16_ref(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)ks_fp16_to_fp32(a[i]) * ks_fp16_to_fp32(b[i]);
    *out = (float)s;
}
static void dot_bf16_ref(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)ks_bf16_to_fp32(a[i]) * ks_bf16_to_fp32(b[i]);
    *out = (float)s;
}
static void dot_q4_0_q8_0_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q4_0 *a = w;
    const ks_block_q8_0 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((a[i].qs[j] & 0x0f) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + QK4_0 / 2];
        }
        s += (float)sumi * (ks_fp16_to_fp32(a[i].d) * ks_fp16_to_fp32(b[i].d));
    }
    *out = s;
}
static void dot_q4_1_q8_1_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q4_1 *a = w;
    const ks_block_q8_1 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (a[i].qs[j] & 0x0f) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + QK4_1 / 2];
        }
        s += (ks_fp16_to_fp32(a[i].d) * ks_fp16_to_fp32(b[i].d)) * (float)sumi +
             ks_fp16_to_fp32(a[i].m) * ks_fp16_to_fp32(b[i].s);
    }
    *out = s;
}
static void dot_q8_0_q8_0_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q8_0 *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += a[i].qs[j] * b[i].qs[j];
        s += (float)sumi * (ks_fp16_to_fp32(a[i].d) * ks_fp16_to_fp32(b[i].d));
    }
    *out = s;
}

/* ---- Q5_0 and k-quants: references in the eight-lane order of llama.cpp's AVX2
 * kernels (integer sums per lane are exact; the float steps are what differ) ---- */

/* the horizontal sum of an 8-lane float vector as ggml's hsum_float_8 adds it */
static float hsum8_order(const float *a) {
    const float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
    return (r0 + r2) + (r1 + r3);
}

static void dot_q5_0_q8_0_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q5_0 *a = w;
    const ks_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const float d = ks_fp16_to_fp32(a[i].d) * ks_fp16_to_fp32(b[i].d);
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = ((a[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
            q[j + 16] = ((a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
        }
        for (int k = 0; k < 8; k++) {
            int s = 0;
            for (int e = 4 * k; e < 4 * k + 4; e++) s += q[e] * b[i].qs[e];
            acc[k] = fmaf(d, (float)s, acc[k]);
        }
    }
    *out = hsum8_order(acc);
}

static void dot_q4_K_q8_K_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q4_K *a = w;
    const ks_block_q8_K *b = x;
    float acc[8] = {0}, accm[4] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = b[i].d * ks_fp16_to_fp32(a[i].d), dmin = -b[i].d * ks_fp16_to_fp32(a[i].dmin);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; j++) ks_q4_K_scale_min(j, a[i].scales, &sc[j], &m[j]);
        for (int l = 0; l < 4; l++) {
            const int s0 = b[i].bsums[4 * l] + b[i].bsums[4 * l + 1], s1 = b[i].bsums[4 * l + 2] + b[i].bsums[4 * l + 3];
            accm[l] = fmaf(dmin, (float)(m[2 * l] * s0 + m[2 * l + 1] * s1), accm[l]);
        }
        int sumi[8] = {0};
        for (int j = 0; j < 4; j++) {
            const uint8_t *q4 = a[i].qs + 32 * j;
            const int8_t *q8 = b[i].qs + 64 * j;
            for (int k = 0; k < 8; k++)
                for (int e = 4 * k; e < 4 * k + 4; e++)
                    sumi[k] += sc[2 * j] * (q4[e] & 0xF) * q8[e] + sc[2 * j + 1] * (q4[e] >> 4) * q8[e + 32];
        }
        for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)sumi[k], acc[k]);
    }
    *out = hsum8_order(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
}

static void dot_q6_K_q8_K_ref(int64_t n, float *out, const void *w, const void *x) {
    const ks_block_q6_K *a = w;
    const ks_block_q8_K *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = b[i].d * ks_fp16_to_fp32(a[i].d);
        const int8_t *sc = a[i].scales;
        int sumi[8] = {0};
        for (int j = 0; j < 2; j++) {
            const uint8_t *ql = a[i].ql + 64 * j, *qh = a[i].qh + 32 * j;
            for (int t = 0; t < 4; t++) {
                const int8_t *q8 = b[i].qs + 128 * j + 32 * t;
                for (int e = 0; e < 32; e++) {
                    const int lo = t == 0 ? ql[e] & 0xF : t == 1 ? ql[e + 32] & 0xF : t == 2 ? ql[e] >> 4 : ql[e + 32] >> 4;
                    const int q6 = lo | (((qh[e] >> (2 * t)) & 3) << 4);
                    sumi[e / 4] += sc[8 * j + 2 * t + (e >= 16)] * q6 * q8[e];
                }
            }
        }
        for (int k = 0; k < 8; k++) {
            sumi[k] -= 32 * (b[i].bsums[2 * k] * sc[2 * k] + b[i].bsums[2 * k + 1] * sc[2 * k + 1]);
            acc[k] = fmaf(d, (float)sumi[k], acc[k]);
        }
    }
    *out = hsum8_order(acc);
}

const ks_matmul_traits ks_matmul_ref_table[KS_DTYPE_COUNT] = {
    [KS_DTYPE_F32] = {.vec_dot_type = KS_DTYPE_F32, .vec_dot = dot_f32_ref, .from_float = act_f32},
    [KS_DTYPE_F16] = {.vec_dot_type = KS_DTYPE_F16, .vec_dot = dot_f16_ref, .from_float = act_f16},
    [KS_DTYPE_BF16] = {.vec_dot_type = KS_DTYPE_BF16, .vec_dot = dot_bf16_ref, .from_float = act_bf16},
    [KS_DTYPE_Q4_0] = {.vec_dot_type = KS_DTYPE_Q8_0, .vec_dot = dot_q4_0_q8_0_ref, .from_float = ks_quantize_act_q8_0},
    [KS_DTYPE_Q4_1] = {.vec_dot_type = KS_DTYPE_Q8_1, .vec_dot = dot_q4_1_q8_1_ref, .from_float = ks_quantize_act_q8_1},
    [KS_DTYPE_Q8_0] = {.vec_dot_type = KS_DTYPE_Q8_0, .vec_dot = dot_q8_0_q8_0_ref, .from_float = ks_quantize_act_q8_0},
    [KS_DTYPE_Q5_0] = {.vec_dot_type = KS_DTYPE_Q8_0, .vec_dot = dot_q5_0_q8_0_ref, .from_float = ks_quantize_act_q8_0},
    [KS_DTYPE_Q4_K] = {.vec_dot_type = KS_DTYPE_Q8_K, .vec_dot = dot_q4_K_q8_K_ref, .from_float = ks_q8_K_from_float},
    [KS_DTYPE_Q6_K] = {.vec_dot_type = KS_DTYPE_Q8_K, .vec_dot = dot_q6_K_q8_K_ref, .from_float = ks_q8_K_from_float},
};

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

const ks_matmul_traits ks_matmul_ref_table[KS_DTYPE_COUNT] = {
    [KS_DTYPE_F32] = {.vec_dot_type = KS_DTYPE_F32, .vec_dot = dot_f32_ref, .from_float = act_f32},
    [KS_DTYPE_F16] = {.vec_dot_type = KS_DTYPE_F16, .vec_dot = dot_f16_ref, .from_float = act_f16},
    [KS_DTYPE_BF16] = {.vec_dot_type = KS_DTYPE_BF16, .vec_dot = dot_bf16_ref, .from_float = act_bf16},
    [KS_DTYPE_Q4_0] = {.vec_dot_type = KS_DTYPE_Q8_0, .vec_dot = dot_q4_0_q8_0_ref, .from_float = ks_quantize_act_q8_0},
    [KS_DTYPE_Q4_1] = {.vec_dot_type = KS_DTYPE_Q8_1, .vec_dot = dot_q4_1_q8_1_ref, .from_float = ks_quantize_act_q8_1},
    [KS_DTYPE_Q8_0] = {.vec_dot_type = KS_DTYPE_Q8_0, .vec_dot = dot_q8_0_q8_0_ref, .from_float = ks_quantize_act_q8_0},
};

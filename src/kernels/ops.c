/* ops.c - row operations (norms, softmax, activations, rope) with ggml's numerics.
 *
 * exp is ggml's vectorised approximation (ggml_v_expf, AVX-512 form: range
 * reduction by 2^n, degree-5 polynomial, max error ~1.5 ulp) evaluated lane by
 * lane with fused multiply-adds, and sums run in ggml's 16-lane order, so that
 * results track llama.cpp's CPU backend bit for bit where it matters (greedy
 * decoding near ties). */
#include <math.h>

#include "kernels/kernels.h"
#include "tensor/dtype.h"

float ks_expf(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    return ldexpf(j, (int)n);
}

/* ggml_vec_dot_f16's order (llama.cpp's single-token matmuls): elements in steps
 * of 64, four accumulators of 16 fused-multiply-add lanes (element e -> acc
 * (e % 64) / 16, lane e % 16), combined (a0+a2, a1+a3, then the two), reduced
 * over 16 lanes, remaining elements added in double. b is read with a stride.
 * zero_padded: the caller's vector is conceptually padded with zeros to a
 * multiple of 64 (llama.cpp pads the KV length to 256), so every element goes
 * through the lanes. */
float ks_dot_f16_order_vec(const float *a, const uint16_t *b, int64_t stride, int64_t n, bool zero_padded) {
    float acc[4][16] = {{0}};
    const int64_t np = zero_padded ? n : n & ~(int64_t)63;
    for (int64_t e = 0; e < np; e++)
        acc[(e & 63) >> 4][e & 15] = fmaf(a[e], ks_fp16_to_fp32(b[e * stride]), acc[(e & 63) >> 4][e & 15]);
    for (int l = 0; l < 16; l++) acc[0][l] += acc[2][l], acc[1][l] += acc[3][l];
    for (int l = 0; l < 16; l++) acc[0][l] += acc[1][l];
    double sum = ks_reduce16(acc[0]);
    for (int64_t e = np; e < n; e++) sum += (double)(a[e] * ks_fp16_to_fp32(b[e * stride]));
    return (float)sum;
}

/* llama.cpp's tinyBLAS order (its matmuls of two or more tokens): one accumulator
 * of 16 fused-multiply-add lanes (element e -> lane e % 16), then reduce16. */
float ks_dot_f16_order_gemm(const float *a, const uint16_t *b, int64_t stride, int64_t n) {
    float lane[16] = {0};
    for (int64_t e = 0; e < n; e++) lane[e & 15] = fmaf(a[e], ks_fp16_to_fp32(b[e * stride]), lane[e & 15]);
    return ks_reduce16(lane);
}

float ks_reduce16(const float *l) {
    float t3[8], t6[4];
    for (int i = 0; i < 8; i++) t3[i] = l[i + 8] + l[i];
    for (int i = 0; i < 4; i++) t6[i] = t3[i + 4] + t3[i];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

void ks_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0; /* ggml_compute_forward_rms_norm sums in ggml_float (double) */
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]); /* float product, double sum */
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void ks_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = (float)(sum / n);
    double var = 0.0;
    for (int64_t i = 0; i < n; i++) var += (double)(x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / sqrtf((float)(var / n) + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * scale * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

void ks_softmax(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0; /* per 16-lane chunk: float reduction, then double accumulation */
    for (int64_t i = 0; i < n; i += 16) {
        float lane[16] = {0};
        for (int64_t k = 0; k < 16 && i + k < n; k++) lane[k] = x[i + k] = ks_expf(x[i + k] - max);
        sum += (double)ks_reduce16(lane);
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void ks_swiglu(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + ks_expf(-gate[i])) * up[i];
}

void ks_rope(float *x, int64_t n_rot, const float *cos_t, const float *sin_t, bool neox) {
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float x0 = x[a], x1 = x[b];
        /* as GCC contracts ggml's x0*cos - x1*sin (first product fused) */
        x[a] = fmaf(x0, cos_t[i], -(x1 * sin_t[i]));
        x[b] = fmaf(x0, sin_t[i], x1 * cos_t[i]);
    }
}

float ks_dot_f32(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

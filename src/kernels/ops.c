/* ops.c - row operations (norms, softmax, activations, rope) with ggml's numerics. */
#include <math.h>

#include "kernels/kernels.h"

void ks_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0; /* ggml_compute_forward_rms_norm sums in ggml_float (double) */
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
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
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void ks_swiglu(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void ks_rope(float *x, int64_t n_rot, const float *cos_t, const float *sin_t, bool neox) {
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * cos_t[i] - x1 * sin_t[i];
        x[b] = x0 * sin_t[i] + x1 * cos_t[i];
    }
}

float ks_dot_f32(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

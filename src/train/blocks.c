/* blocks.c - the trainer's forward/backward pairs (blocks.h): embedding, RMSNorm, linear,
 * RoPE, causal grouped-query attention, SwiGLU, residual, fused softmax cross-entropy.
 *
 * Gradients that several rows add into (norm weights, embedding rows) are summed per column
 * over rows in increasing order by one thread, so the results are the same for any number of
 * threads (resume after a restart is bit-identical). Formulas: llm.c's train_gpt2.c for the
 * pairs it has, the chain rule written out beside the others.
 */
#include <math.h>
#include <string.h>

#include "train/blocks.h"

#define COLS 16 /* columns per task when summing a per-column gradient over rows */

void embed_forward(float *out, const int32_t *tokens, const float *wte, int64_t N, int64_t E) {
#pragma omp parallel for schedule(static) if (N * E > 65536)
    for (int64_t n = 0; n < N; n++) memcpy(out + n * E, wte + (int64_t)tokens[n] * E, (size_t)E * sizeof(float));
}

void embed_backward(float *dwte, const float *dout, const int32_t *tokens, int64_t N, int64_t E) {
#pragma omp parallel for schedule(static) if (N * E > 65536)
    for (int64_t c0 = 0; c0 < E; c0 += COLS)
        for (int64_t n = 0; n < N; n++) {
            float *d = dwte + (int64_t)tokens[n] * E;
            for (int64_t i = c0; i < c0 + COLS && i < E; i++) d[i] += dout[n * E + i];
        }
}

void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t E, float eps) {
#pragma omp parallel for schedule(static) if (N * E > 65536)
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * E;
        double ss = 0.0;
        for (int64_t i = 0; i < E; i++) ss += (double)xn[i] * xn[i];
        const float r = (float)(1.0 / sqrt(ss / (double)E + eps));
        rstd[n] = r;
        for (int64_t i = 0; i < E; i++) out[n * E + i] = xn[i] * r * w[i];
    }
}

/* y_i = x_i r w_i, r = (mean(x^2) + eps)^-1/2:
 * dx_j = r w_j dy_j - r^3 / E * x_j * sum_i dy_i w_i x_i;  dw_i = sum_n dy_i x_i r */
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t E) {
#pragma omp parallel for schedule(static) if (N * E > 65536)
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * E, *dn = dout + n * E;
        double dot = 0.0;
        for (int64_t i = 0; i < E; i++) dot += (double)dn[i] * w[i] * xn[i];
        const float r = rstd[n], c = (float)(dot * r * r * r / (double)E);
        for (int64_t i = 0; i < E; i++) dx[n * E + i] += r * w[i] * dn[i] - c * xn[i];
    }
#pragma omp parallel for schedule(static) if (N * E > 65536)
    for (int64_t c0 = 0; c0 < E; c0 += COLS)
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = c0; i < c0 + COLS && i < E; i++) dw[i] += dout[n * E + i] * x[n * E + i] * rstd[n];
}

void linear_forward(float *out, const float *x, const float *w, float *wt, int64_t N, int64_t C, int64_t OC) {
    train_transpose(wt, w, OC, C); /* wt [C][OC] */
    train_gemm(N, OC, C, x, C, 1, wt, OC, out, OC, false);
}

void linear_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int64_t N, int64_t C,
                     int64_t OC) {
    /* dx [N][C] += dout [N][OC] w [OC][C] */
    train_gemm(N, C, OC, dout, OC, 1, w, C, dx, C, true);
    /* dw [OC][C] += dout^T [OC][N] x [N][C]: A(o, n) = dout[n * OC + o] */
    train_gemm(OC, C, N, dout, 1, OC, x, C, dw, C, true);
}

/* rotates every head of every row by the row's angles, sign +1 (forward) or -1 (backward) */
static void rope_rotate(float *x, const float *cos_t, const float *sin_t, int64_t N, int64_t T, int64_t n_heads,
                        int64_t hd, int64_t n_rot, bool neox, float sign) {
    const int64_t half = n_rot / 2;
#pragma omp parallel for schedule(static) if (N * n_heads * hd > 65536)
    for (int64_t n = 0; n < N; n++) {
        const float *cs = cos_t + (n % T) * half, *sn = sin_t + (n % T) * half;
        for (int64_t h = 0; h < n_heads; h++) {
            float *xh = x + (n * n_heads + h) * hd;
            for (int64_t i = 0; i < half; i++) {
                const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                const float x0 = xh[a], x1 = xh[b], c = cs[i], s = sign * sn[i];
                xh[a] = x0 * c - x1 * s;
                xh[b] = x0 * s + x1 * c;
            }
        }
    }
}

void rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t N, int64_t T, int64_t n_heads,
                  int64_t hd, int64_t n_rot, bool neox) {
    rope_rotate(x, cos_t, sin_t, N, T, n_heads, hd, n_rot, neox, 1.0f);
}

/* the rotation is orthogonal: its Jacobian's transpose is the rotation by the opposite angle */
void rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t N, int64_t T, int64_t n_heads,
                   int64_t hd, int64_t n_rot, bool neox) {
    rope_rotate(dx, cos_t, sin_t, N, T, n_heads, hd, n_rot, neox, -1.0f);
}

void attention_forward(float *y, float *att, const float *q, const float *k, const float *v, int64_t B, int64_t T,
                       int64_t H, int64_t n_kv, int64_t hd) {
    const int64_t Q = H * hd, KV = n_kv * hd, group = H / n_kv;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 4) collapse(2) if (B * H * T * T * hd > (1 << 20))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                const float *qt = q + (b * T + t) * Q + h * hd;
                const float *kb = k + b * T * KV + (h / group) * hd, *vb = v + b * T * KV + (h / group) * hd;
                float *p = att + ((b * H + h) * T + t) * T, *yt = y + (b * T + t) * Q + h * hd;
                float mx = -INFINITY;
                for (int64_t s = 0; s <= t; s++) {
                    p[s] = train_dot(qt, kb + s * KV, hd) * scale;
                    if (p[s] > mx) mx = p[s];
                }
                double sum = 0.0;
                for (int64_t s = 0; s <= t; s++) sum += (p[s] = expf(p[s] - mx));
                const float inv = (float)(1.0 / sum);
                memset(yt, 0, (size_t)hd * sizeof(float));
                for (int64_t s = 0; s <= t; s++) {
                    p[s] *= inv;
                    train_axpy(yt, p[s], vb + s * KV, hd);
                }
            }
}

/* per row t: dp_s = dy . v_s, ds_s = p_s (dp_s - sum_j p_j dp_j) scale;
 * dq_t += sum_s ds_s k_s, dk_s += ds_s q_t, dv_s += p_s dy. One task per (sequence, kv head) owns
 * that head's dk/dv rows, so nothing races. dp: B * n_kv * T floats */
void attention_backward(float *dq, float *dk, float *dv, float *dp, const float *dy, const float *att,
                        const float *q, const float *k, const float *v, int64_t B, int64_t T, int64_t H,
                        int64_t n_kv, int64_t hd) {
    const int64_t Q = H * hd, KV = n_kv * hd, group = H / n_kv;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2) if (B * n_kv > 1 && B * H * T * T * hd > (1 << 20))
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < n_kv; g++) {
            float *dps = dp + (b * n_kv + g) * T;
            const float *kb = k + b * T * KV + g * hd, *vb = v + b * T * KV + g * hd;
            float *dkb = dk + b * T * KV + g * hd, *dvb = dv + b * T * KV + g * hd;
            for (int64_t h = g * group; h < (g + 1) * group; h++)
                for (int64_t t = 0; t < T; t++) {
                    const float *p = att + ((b * H + h) * T + t) * T, *dyt = dy + (b * T + t) * Q + h * hd;
                    const float *qt = q + (b * T + t) * Q + h * hd;
                    float *dqt = dq + (b * T + t) * Q + h * hd;
                    double sum = 0.0;
                    for (int64_t s = 0; s <= t; s++) {
                        dps[s] = train_dot(dyt, vb + s * KV, hd);
                        sum += (double)p[s] * dps[s];
                    }
                    for (int64_t s = 0; s <= t; s++) {
                        const float ds = p[s] * (dps[s] - (float)sum) * scale;
                        train_axpy(dqt, ds, kb + s * KV, hd);
                        train_axpy(dkb + s * KV, ds, qt, hd);
                        train_axpy(dvb + s * KV, p[s], dyt, hd);
                    }
                }
        }
}

void swiglu_forward(float *out, const float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* d/dg [g sigma(g) u] = u sigma(g) (1 + g (1 - sigma(g))); d/du = g sigma(g) */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], sg = 1.0f / (1.0f + expf(-g));
        dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
        dup[i] += dout[i] * g * sg;
    }
}

void residual_forward(float *out, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void xent_forward(float *probs, float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V) {
#pragma omp parallel for schedule(static) if (N * V > 65536)
    for (int64_t n = 0; n < N; n++) {
        const float *l = logits + n * V;
        float *p = probs + n * V;
        float mx = -INFINITY;
        for (int64_t i = 0; i < V; i++) mx = l[i] > mx ? l[i] : mx;
        const float lt = targets[n] >= 0 ? l[targets[n]] : 0.0f;
        double sum = 0.0;
        for (int64_t i = 0; i < V; i++) sum += (p[i] = expf(l[i] - mx));
        const float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < V; i++) p[i] *= inv;
        /* -log p_t = log sum - (l_t - max), without rounding p_t first */
        losses[n] = targets[n] >= 0 ? (float)(log(sum) - (double)(lt - mx)) : 0.0f;
    }
}

void xent_backward(float *probs_dlogits, const int32_t *targets, float scale, int64_t N, int64_t V) {
#pragma omp parallel for schedule(static) if (N * V > 65536)
    for (int64_t n = 0; n < N; n++) {
        float *d = probs_dlogits + n * V;
        if (targets[n] < 0) {
            memset(d, 0, (size_t)V * sizeof(float));
            continue;
        }
        for (int64_t i = 0; i < V; i++) d[i] *= scale;
        d[targets[n]] -= scale;
    }
}

/* blocks.h - the trainer's layers as forward/backward pairs with the same arguments (llm.c's
 * pattern): a backward takes the forward's arguments plus the gradients, reads what the forward
 * saved, and ADDS into every gradient it produces (inputs and parameters) unless its comment
 * says it writes. Rows are tokens (N = B x T), row-major, FP32. Threads: OpenMP inside each call;
 * results do not depend on the thread count (every sum has a fixed order).
 */
#ifndef KS_TRAIN_BLOCKS_H
#define KS_TRAIN_BLOCKS_H
#include <stdbool.h>
#include <stdint.h>

/* C[i][j] = (accumulate ? C[i][j] : 0) + sum_k A(i,k) B[k][j] for i < M, j < N, k < K, with
 * A(i,k) = A[i*rsa + k*csa] (any strides: A or its transpose), B row-major (ldb), C (ldc).
 * AVX2+FMA 6x16 tiles where present, else plain C; the summation order over k is fixed. */
void train_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate);
/* sum a[i] b[i]; y[i] += a x[i] (AVX2+FMA where present; fixed order either way) */
float train_dot(const float *a, const float *b, int64_t n);
void train_axpy(float *y, float a, const float *x, int64_t n);
/* dst[c][r] = src[r][c] for r < rows, c < cols */
void train_transpose(float *dst, const float *src, int64_t rows, int64_t cols);

/* out[n] = wte[tokens[n]] (rows of E; writes) */
void embed_forward(float *out, const int32_t *tokens, const float *wte, int64_t N, int64_t E);
void embed_backward(float *dwte, const float *dout, const int32_t *tokens, int64_t N, int64_t E);

/* out[n] = x[n] * rstd[n] * w, rstd[n] = 1 / sqrt(mean(x[n]^2) + eps) (writes out and rstd) */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int64_t E, float eps);
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd,
                      int64_t N, int64_t E);

/* out[n][o] = sum_c x[n][c] w[o][c]: w is a GGUF matrix (ne0 = C inputs, ne1 = OC outputs);
 * wt: scratch of C * OC floats (w transposed) (writes out) */
void linear_forward(float *out, const float *x, const float *w, float *wt, int64_t N, int64_t C, int64_t OC);
void linear_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int64_t N, int64_t C,
                     int64_t OC);

/* RoPE in place on N rows of n_heads heads of hd values, position of row n = n % T, the first
 * n_rot values of each head rotated by cos/sin [T][n_rot/2] (pairs 2i, 2i+1, or i, i + n_rot/2
 * for NeoX). Backward rotates the gradient in place by the opposite angle. */
void rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t N, int64_t T, int64_t n_heads,
                  int64_t hd, int64_t n_rot, bool neox);
void rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t N, int64_t T, int64_t n_heads,
                   int64_t hd, int64_t n_rot, bool neox);

/* Causal attention over B sequences of T tokens, H query heads sharing n_kv heads (GQA:
 * head h reads kv head h / (H / n_kv)), head size hd, scale 1/sqrt(hd):
 * att[b][h][t][s] = softmax_s<=t(q_t . k_s * scale), y_t = sum_s att v_s (writes y and att).
 * q [BT, H*hd], k/v [BT, n_kv*hd], y [BT, H*hd]. dp: scratch of B * n_kv * T floats. */
void attention_forward(float *y, float *att, const float *q, const float *k, const float *v, int64_t B, int64_t T,
                       int64_t H, int64_t n_kv, int64_t hd);
void attention_backward(float *dq, float *dk, float *dv, float *dp, const float *dy, const float *att,
                        const float *q, const float *k, const float *v, int64_t B, int64_t T, int64_t H,
                        int64_t n_kv, int64_t hd);

/* out = silu(gate) * up over n values (writes) */
void swiglu_forward(float *out, const float *gate, const float *up, int64_t n);
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n);

/* out = a + b over n values (writes; out may alias a or b); the backward of a sum passes the
 * gradient to both addends, so it is the caller's reuse of one buffer */
void residual_forward(float *out, const float *a, const float *b, int64_t n);

/* Fused softmax cross-entropy over N rows of V logits: probs = softmax(logits) (probs may be
 * logits), losses[n] = -log probs[n][targets[n]] (0 when targets[n] < 0).
 * Backward writes dlogits = scale * (probs - onehot(target)) in place of probs (rows with a
 * negative target get 0). */
void xent_forward(float *probs, float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V);
void xent_backward(float *probs_dlogits, const int32_t *targets, float scale, int64_t N, int64_t V);
#endif

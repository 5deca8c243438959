/* packed.c - repacking Q4_0 / Q8_0 weights into 16-row panels, the activation
 * quantizer of the packed path and its scalar reference GEMM (see packed.h). */
#include "kernels/packed.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels_impl.h"
#include "tensor/dtype.h"

size_t ks_packed_record_bytes(uint32_t type) {
    switch (type) {
    case KS_DTYPE_Q4_0: return 2 * KS_PACK_ROWS + 16 * KS_PACK_ROWS; /* 288 = 16 x 18 */
    case KS_DTYPE_Q8_0: return 2 * KS_PACK_ROWS + 32 * KS_PACK_ROWS; /* 544 = 16 x 34 */
    case KS_DTYPE_Q4_1: return 4 * KS_PACK_ROWS + 16 * KS_PACK_ROWS; /* 320 = 16 x 20 */
    case KS_DTYPE_Q5_0: return 2 * KS_PACK_ROWS + 64 + 16 * KS_PACK_ROWS; /* 352 = 16 x 22 */
    case KS_DTYPE_Q4_K: return (4 + 16 + 128) * KS_PACK_ROWS;        /* 2368 = 16 x 148 */
    case KS_DTYPE_Q6_K: return 210 * KS_PACK_ROWS;                    /* 3360 = 16 x 210 */
    default: return 0;
    }
}

int64_t ks_packed_block(uint32_t type) { return ks_packed_act_q8_K(type) ? QK_K : 32; }

void ks_quantize_act_q8s(const float *x, void *dst, int64_t n) {
    ks_block_q8s *b = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        int s = 0;
        for (int j = 0; j < 32; j++) {
            b[i].qs[j] = ks_round_q8(v[j] * id);
            s += b[i].qs[j];
        }
        b[i].d = ks_fp16_to_fp32(ks_fp32_to_fp16(d));
        b[i].s = s;
        b[i].sd = ks_fp16_to_fp32(ks_fp32_to_fp16(d * (float)s));
        b[i].pad = 0;
    }
}

ks_packed_gemm_fn ks_packed_gemm_for(uint32_t type) {
    if (!ks_packed_record_bytes(type)) return NULL;
    if (ks_packed_gemm_avx512()) return ks_packed_gemm_avx512();
    return type == KS_DTYPE_Q4_0 ? ks_packed_gemm_avx2() : NULL;
}

ks_packed_quant_fn ks_packed_quant_for(uint32_t type) {
    const bool avx512 = ks_packed_gemm_avx512() != NULL;
    if (ks_packed_act_q8_K(type)) return avx512 ? ks_quantize_act_q8_K_avx512 : ks_q8_K_from_float;
    return avx512 ? ks_quantize_act_q8s_avx512 : ks_quantize_act_q8s_avx2;
}

size_t ks_matmul_pack_bytes(const ks_tensor *w) {
    const size_t rec = ks_packed_record_bytes(w->type);
    const int64_t bs = ks_packed_block(w->type);
    if (!ks_packed_gemm_for(w->type) || !rec || w->ne[1] % KS_PACK_ROWS || w->ne[0] % bs || w->ne[2] != 1 || w->ne[3] != 1) return 0;
    return (size_t)(w->ne[1] / KS_PACK_ROWS) * (size_t)(w->ne[0] / bs) * rec;
}

/* one Q4_K record: super-block b of the panel's 16 rows */
static void pack_q4_K(const ks_tensor *w, int64_t p, int64_t b, uint8_t *o) {
    uint16_t *d = (uint16_t *)o;
    uint8_t *sc = o + 4 * KS_PACK_ROWS, *mn = sc + 8 * KS_PACK_ROWS, *q = mn + 8 * KS_PACK_ROWS;
    for (int i = 0; i < KS_PACK_ROWS; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(p * KS_PACK_ROWS + i) * w->row_bytes;
        const ks_block_q4_K *blk = (const ks_block_q4_K *)row + b;
        d[i] = blk->d, d[KS_PACK_ROWS + i] = blk->dmin;
        for (int s = 0; s < 8; s++) ks_q4_K_scale_min(s, blk->scales, &sc[s * KS_PACK_ROWS + i], &mn[s * KS_PACK_ROWS + i]);
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 8; k++) memcpy(q + ((j * 8 + k) * KS_PACK_ROWS + i) * 4, blk->qs + 32 * j + 4 * k, 4);
    }
}

bool ks_matmul_pack_useful(void) { return ks_packed_gemm_avx512() != NULL || ks_packed_gemm_avx2() != NULL; }

/* one Q5_0 record: d, the fifth bits as one 64-bit byte mask per nibble vector, the nibbles as Q4_0 */
static void pack_q5_0(const ks_tensor *w, int64_t p, int64_t b, uint8_t *o) {
    uint16_t *d = (uint16_t *)o;
    uint64_t masks[8] = {0};
    uint8_t *q = o + 2 * KS_PACK_ROWS + 64;
    for (int i = 0; i < KS_PACK_ROWS; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(p * KS_PACK_ROWS + i) * w->row_bytes;
        const ks_block_q5_0 *blk = (const ks_block_q5_0 *)row + b;
        uint32_t qh;
        memcpy(&qh, blk->qh, 4);
        d[i] = blk->d;
        for (int v = 0; v < 4; v++) {
            memcpy(q + (v * KS_PACK_ROWS + i) * 4, blk->qs + 4 * v, 4);
            for (int k = 0; k < 4; k++) {
                masks[v] |= (uint64_t)((qh >> (4 * v + k)) & 1) << (i * 4 + k);          /* inputs 4v + k */
                masks[v + 4] |= (uint64_t)((qh >> (16 + 4 * v + k)) & 1) << (i * 4 + k); /* inputs 16 + 4v + k */
            }
        }
    }
    memcpy(o + 2 * KS_PACK_ROWS, masks, sizeof masks);
}

/* one Q6_K record */
static void pack_q6_K(const ks_tensor *w, int64_t p, int64_t b, uint8_t *o) {
    uint16_t *d = (uint16_t *)o;
    int8_t *sc = (int8_t *)(o + 2 * KS_PACK_ROWS);
    uint8_t *ql = o + 18 * KS_PACK_ROWS, *qh = ql + 128 * KS_PACK_ROWS;
    for (int i = 0; i < KS_PACK_ROWS; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(p * KS_PACK_ROWS + i) * w->row_bytes;
        const ks_block_q6_K *blk = (const ks_block_q6_K *)row + b;
        d[i] = blk->d;
        for (int s = 0; s < 16; s++) sc[s * KS_PACK_ROWS + i] = blk->scales[s];
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 8; k++) {
                for (int h = 0; h < 2; h++)
                    memcpy(ql + (((j * 2 + h) * 8 + k) * KS_PACK_ROWS + i) * 4, blk->ql + 64 * j + 32 * h + 4 * k, 4);
                memcpy(qh + ((j * 8 + k) * KS_PACK_ROWS + i) * 4, blk->qh + 32 * j + 4 * k, 4);
            }
    }
}

void ks_matmul_pack(const ks_tensor *w, void *dst) {
    const int64_t nb = w->ne[0] / ks_packed_block(w->type), np = w->ne[1] / KS_PACK_ROWS;
    const size_t rec = ks_packed_record_bytes(w->type);
    const bool q4 = w->type == KS_DTYPE_Q4_0, q41 = w->type == KS_DTYPE_Q4_1;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < np; p++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *o = (uint8_t *)dst + ((size_t)p * (size_t)nb + (size_t)b) * rec;
            if (w->type == KS_DTYPE_Q4_K) {
                pack_q4_K(w, p, b, o);
                continue;
            }
            if (w->type == KS_DTYPE_Q6_K) {
                pack_q6_K(w, p, b, o);
                continue;
            }
            if (w->type == KS_DTYPE_Q5_0) {
                pack_q5_0(w, p, b, o);
                continue;
            }
            uint16_t *d = (uint16_t *)o;
            uint8_t *q = o + (q41 ? 4 : 2) * KS_PACK_ROWS;
            for (int i = 0; i < KS_PACK_ROWS; i++) {
                const uint8_t *row = (const uint8_t *)w->data + (size_t)(p * KS_PACK_ROWS + i) * w->row_bytes;
                if (q41) {
                    const ks_block_q4_1 *blk = (const ks_block_q4_1 *)row + b;
                    d[i] = blk->d, d[KS_PACK_ROWS + i] = blk->m;
                    for (int v = 0; v < 4; v++) memcpy(q + (v * KS_PACK_ROWS + i) * 4, blk->qs + 4 * v, 4);
                } else if (q4) {
                    const ks_block_q4_0 *blk = (const ks_block_q4_0 *)row + b;
                    d[i] = blk->d;
                    for (int v = 0; v < 4; v++) memcpy(q + (v * KS_PACK_ROWS + i) * 4, blk->qs + 4 * v, 4);
                } else {
                    const ks_block_q8_0 *blk = (const ks_block_q8_0 *)row + b;
                    d[i] = blk->d;
                    for (int s = 0; s < 8; s++)
                        for (int j = 0; j < 4; j++)
                            q[(s * KS_PACK_ROWS + i) * 4 + j] = (uint8_t)(blk->qs[4 * s + j] + 128);
                }
            }
        }
    }
}

static void gemm_q4_1_ref(int64_t n_in, const void *packed, int64_t r0, int64_t r1, const ks_block_q8s *x,
                          int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = n_in / 32;
    const size_t rec = ks_packed_record_bytes(KS_DTYPE_Q4_1);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t p = r / KS_PACK_ROWS;
        const int i = (int)(r % KS_PACK_ROWS);
        for (int64_t t = 0; t < n_tok; t++) {
            const ks_block_q8s *xb = x + t * nb;
            float acc[8] = {0}, summs = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *o = (const uint8_t *)packed + ((size_t)p * (size_t)nb + (size_t)b) * rec;
                const uint16_t *d = (const uint16_t *)o;
                const uint8_t *q = o + 4 * KS_PACK_ROWS;
                const float mw = ks_fp16_to_fp32(d[KS_PACK_ROWS + i]) * xb[b].sd;
                summs = summs + mw;
                const float dd = ks_fp16_to_fp32(d[i]) * xb[b].d;
                for (int l = 0; l < 8; l++) {
                    int32_t isum = 0;
                    for (int e = 4 * l; e < 4 * l + 4; e++) {
                        const uint8_t byte = q[(((e % 16) / 4) * KS_PACK_ROWS + i) * 4 + e % 4];
                        isum += (e < 16 ? (byte & 0x0f) : (byte >> 4)) * xb[b].qs[e];
                    }
                    acc[l] = fmaf(dd, (float)isum, acc[l]);
                }
            }
            y[t * ldy + r] = (((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))) + summs;
        }
    }
}

/* Q4_K: ggml_vec_dot_q4_K_q8_K's AVX2 order (packed.h), read from the packed layout */
static void gemm_q4_K_ref(int64_t n_in, const void *packed, int64_t r0, int64_t r1, const ks_block_q8_K *x,
                          int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = n_in / QK_K;
    const size_t rec = ks_packed_record_bytes(KS_DTYPE_Q4_K);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t p = r / KS_PACK_ROWS;
        const int i = (int)(r % KS_PACK_ROWS);
        for (int64_t t = 0; t < n_tok; t++) {
            float acc[8] = {0}, accm[4] = {0};
            for (int64_t b = 0; b < nb; b++) {
                const ks_block_q8_K *xb = x + t * nb + b;
                const uint8_t *o = (const uint8_t *)packed + ((size_t)p * (size_t)nb + (size_t)b) * rec;
                const uint16_t *dd = (const uint16_t *)o;
                const uint8_t *sc = o + 4 * KS_PACK_ROWS, *mn = sc + 8 * KS_PACK_ROWS, *q = mn + 8 * KS_PACK_ROWS;
                const float d = xb->d * ks_fp16_to_fp32(dd[i]), dmin = -xb->d * ks_fp16_to_fp32(dd[KS_PACK_ROWS + i]);
                for (int l = 0; l < 4; l++) {
                    const int s0 = xb->bsums[4 * l] + xb->bsums[4 * l + 1], s1 = xb->bsums[4 * l + 2] + xb->bsums[4 * l + 3];
                    const int prod = mn[2 * l * KS_PACK_ROWS + i] * s0 + mn[(2 * l + 1) * KS_PACK_ROWS + i] * s1;
                    accm[l] = fmaf(dmin, (float)prod, accm[l]);
                }
                int sumi[8] = {0};
                for (int j = 0; j < 4; j++)
                    for (int k = 0; k < 8; k++) {
                        const uint8_t *u = q + ((j * 8 + k) * KS_PACK_ROWS + i) * 4;
                        int lo = 0, hi = 0;
                        for (int e = 0; e < 4; e++) {
                            lo += (u[e] & 0xF) * xb->qs[64 * j + 4 * k + e];
                            hi += (u[e] >> 4) * xb->qs[64 * j + 32 + 4 * k + e];
                        }
                        sumi[k] += sc[2 * j * KS_PACK_ROWS + i] * lo + sc[(2 * j + 1) * KS_PACK_ROWS + i] * hi;
                    }
                for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)sumi[k], acc[k]);
            }
            y[t * ldy + r] = (((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))) +
                             ((accm[0] + accm[2]) + (accm[1] + accm[3]));
        }
    }
}

/* Q6_K: ggml_vec_dot_q6_K_q8_K's AVX2 order, read from the packed layout */
static void gemm_q6_K_ref(int64_t n_in, const void *packed, int64_t r0, int64_t r1, const ks_block_q8_K *x,
                          int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = n_in / QK_K;
    const size_t rec = ks_packed_record_bytes(KS_DTYPE_Q6_K);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t p = r / KS_PACK_ROWS;
        const int i = (int)(r % KS_PACK_ROWS);
        for (int64_t t = 0; t < n_tok; t++) {
            float acc[8] = {0};
            for (int64_t b = 0; b < nb; b++) {
                const ks_block_q8_K *xb = x + t * nb + b;
                const uint8_t *o = (const uint8_t *)packed + ((size_t)p * (size_t)nb + (size_t)b) * rec;
                const int8_t *sc = (const int8_t *)(o + 2 * KS_PACK_ROWS);
                const uint8_t *ql = o + 18 * KS_PACK_ROWS, *qh = ql + 128 * KS_PACK_ROWS;
                const float d = xb->d * ks_fp16_to_fp32(((const uint16_t *)o)[i]);
                int sumi[8] = {0};
                for (int j = 0; j < 2; j++)
                    for (int k = 0; k < 8; k++) {
                        const uint8_t *l0 = ql + (((j * 2 + 0) * 8 + k) * KS_PACK_ROWS + i) * 4;
                        const uint8_t *l1 = ql + (((j * 2 + 1) * 8 + k) * KS_PACK_ROWS + i) * 4;
                        const uint8_t *hh = qh + ((j * 8 + k) * KS_PACK_ROWS + i) * 4;
                        for (int c = 0; c < 4; c++) { /* chunk c of half j: elements 128j + 32c + 4k .. */
                            int dot = 0;
                            for (int e = 0; e < 4; e++) {
                                const int low = c == 0 ? l0[e] & 0xF : c == 1 ? l1[e] & 0xF : c == 2 ? l0[e] >> 4 : l1[e] >> 4;
                                dot += (low | (((hh[e] >> (2 * c)) & 3) << 4)) * xb->qs[128 * j + 32 * c + 4 * k + e];
                            }
                            sumi[k] += sc[(8 * j + 2 * c + (k >= 4)) * KS_PACK_ROWS + i] * dot;
                        }
                    }
                for (int k = 0; k < 8; k++) {
                    sumi[k] -= 32 * (xb->bsums[2 * k] * sc[2 * k * KS_PACK_ROWS + i] +
                                     xb->bsums[2 * k + 1] * sc[(2 * k + 1) * KS_PACK_ROWS + i]);
                    acc[k] = fmaf(d, (float)sumi[k], acc[k]);
                }
            }
            y[t * ldy + r] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        }
    }
}

/* Q5_0: ggml_vec_dot_q5_0_q8_0's AVX2 order (eight lanes of four inputs, fma per block) */
static void gemm_q5_0_ref(int64_t n_in, const void *packed, int64_t r0, int64_t r1, const ks_block_q8s *x,
                          int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = n_in / 32;
    const size_t rec = ks_packed_record_bytes(KS_DTYPE_Q5_0);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t p = r / KS_PACK_ROWS;
        const int i = (int)(r % KS_PACK_ROWS);
        for (int64_t t = 0; t < n_tok; t++) {
            const ks_block_q8s *xb = x + t * nb;
            float acc[8] = {0};
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *o = (const uint8_t *)packed + ((size_t)p * (size_t)nb + (size_t)b) * rec;
                uint64_t masks[8];
                memcpy(masks, o + 2 * KS_PACK_ROWS, sizeof masks);
                const uint8_t *q = o + 2 * KS_PACK_ROWS + 64;
                const float dd = ks_fp16_to_fp32(((const uint16_t *)o)[i]) * xb[b].d;
                for (int l = 0; l < 8; l++) {
                    int32_t isum = 0;
                    for (int k = 0; k < 4; k++) {
                        const uint8_t byte = q[((l % 4) * KS_PACK_ROWS + i) * 4 + k];
                        const int hi = (int)((masks[l] >> (i * 4 + k)) & 1);
                        isum += (((l < 4 ? byte & 0x0f : byte >> 4) | (hi << 4)) - 16) * xb[b].qs[4 * l + k];
                    }
                    acc[l] = fmaf(dd, (float)isum, acc[l]);
                }
            }
            y[t * ldy + r] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        }
    }
}

void ks_packed_gemm_ref(uint32_t type, int64_t n_in, const void *packed, int64_t r0, int64_t r1, const void *xv,
                        int64_t n_tok, float *y, int64_t ldy) {
    const ks_block_q8s *x = xv;
    if (type == KS_DTYPE_Q5_0) {
        gemm_q5_0_ref(n_in, packed, r0, r1, x, n_tok, y, ldy);
        return;
    }
    if (type == KS_DTYPE_Q6_K) {
        gemm_q6_K_ref(n_in, packed, r0, r1, xv, n_tok, y, ldy);
        return;
    }
    if (type == KS_DTYPE_Q4_K) {
        gemm_q4_K_ref(n_in, packed, r0, r1, xv, n_tok, y, ldy);
        return;
    }
    if (type == KS_DTYPE_Q4_1) {
        gemm_q4_1_ref(n_in, packed, r0, r1, x, n_tok, y, ldy);
        return;
    }
    const int64_t nb = n_in / 32;
    const size_t rec = ks_packed_record_bytes(type);
    const bool q4 = type == KS_DTYPE_Q4_0;
    const int off = q4 ? 8 : 128;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t p = r / KS_PACK_ROWS;
        const int i = (int)(r % KS_PACK_ROWS);
        for (int64_t t = 0; t < n_tok; t++) {
            const ks_block_q8s *xb = x + t * nb;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *o = (const uint8_t *)packed + ((size_t)p * (size_t)nb + (size_t)b) * rec;
                const uint16_t *d = (const uint16_t *)o;
                const uint8_t *q = o + 2 * KS_PACK_ROWS;
                int32_t isum = -off * xb[b].s;
                for (int e = 0; e < 32; e++) {
                    int u;
                    if (q4) {
                        const int v = (e % 16) / 4, j = e % 4;
                        const uint8_t byte = q[(v * KS_PACK_ROWS + i) * 4 + j];
                        u = e < 16 ? (byte & 0x0f) : (byte >> 4);
                    } else {
                        u = q[((e / 4) * KS_PACK_ROWS + i) * 4 + e % 4];
                    }
                    isum += u * xb[b].qs[e];
                }
                acc = fmaf((float)isum, ks_fp16_to_fp32(d[i]) * xb[b].d, acc);
            }
            y[t * ldy + r] = acc;
        }
    }
}

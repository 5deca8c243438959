/* dtype.c - the dtype table (ggml type ids) and scalar conversions to/from float.
 * Sizes for every ggml type id we know, so GGUF validation can size any
 * tensor; to_float/from_float only where Kestrel computes with the type. */
#include "base/cpu.h"
#include "tensor/dtype.h"

#include <math.h>
#include <string.h>

/* ---- half precision (IEEE binary16) ---- */
float ks_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ks_fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (ax < 0x38800000u) { /* subnormal or zero in half */
        if (ax < 0x33000000u) return (uint16_t)sign;
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        /* value = m * 2^(e-150); half subnormal unit = 2^-24 -> q = m * 2^(e-126) */
        uint32_t s = 126 - e;
        uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t h = ((ax >> 13) - ((127 - 15) << 10));
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float ks_bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ks_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64); /* quiet nan */
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

/* ---- rows, with F16C where the CPU has it ---- */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx,f16c"))) static int64_t f16c_to_fp16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    return i;
}
__attribute__((target("avx,f16c"))) static int64_t f16c_round(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    return i;
}
__attribute__((target("avx,f16c"))) static int64_t f16c_widen(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    return i;
}
static bool have_f16c(void) {
    static int state;
    if (!state) {
        state = ks_cpu_has(KS_CPU_AVX) && ks_cpu_has(KS_CPU_F16C) ? 1 : -1;
    }
    return state > 0;
}
#else
static bool have_f16c(void) { return false; }
static int64_t f16c_to_fp16(const float *x, uint16_t *y, int64_t n) { return 0; }
static int64_t f16c_round(const float *x, float *y, int64_t n) { return 0; }
static int64_t f16c_widen(const uint16_t *x, float *y, int64_t n) { return 0; }
#endif

void ks_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = have_f16c() ? f16c_to_fp16(x, y, n) : 0; i < n; i++) y[i] = ks_fp32_to_fp16(x[i]);
}

void ks_fp16_round_row(const float *x, float *y, int64_t n) {
    for (int64_t i = have_f16c() ? f16c_round(x, y, n) : 0; i < n; i++) y[i] = ks_fp16_to_fp32(ks_fp32_to_fp16(x[i]));
}

/* ---- conversions ---- */
static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = have_f16c() ? f16c_widen(s, dst, n) : 0; i < n; i++) dst[i] = ks_fp16_to_fp32(s[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ks_fp32_to_fp16(src[i]);
}
static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = ks_bf16_to_fp32(s[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ks_fp32_to_bf16(src[i]);
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const ks_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        float d = ks_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[i * QK4_0 + j] = ((b[i].qs[j] & 0x0f) - 8) * d;
            dst[i * QK4_0 + j + QK4_0 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}
/* ggml quantize_row_q4_0_ref: d = max/-8 where max is the signed value of largest magnitude */
static void q4_0_from_float(const float *src, void *dst, int64_t n) {
    ks_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const float *x = src + i * QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -8, id = d ? 1.0f / d : 0.0f;
        b[i].d = ks_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int x0 = (int)(x[j] * id + 8.5f), x1 = (int)(x[j + QK4_0 / 2] * id + 8.5f);
            x0 = x0 > 15 ? 15 : x0;
            x1 = x1 > 15 ? 15 : x1;
            b[i].qs[j] = (uint8_t)(x0 | (x1 << 4));
        }
    }
}

static void q4_1_to_float(const void *src, float *dst, int64_t n) {
    const ks_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        float d = ks_fp16_to_fp32(b[i].d), m = ks_fp16_to_fp32(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[i * QK4_1 + j] = (b[i].qs[j] & 0x0f) * d + m;
            dst[i * QK4_1 + j + QK4_1 / 2] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}
static void q4_1_from_float(const float *src, void *dst, int64_t n) {
    ks_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        const float *x = src + i * QK4_1;
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < QK4_1; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15, id = d ? 1.0f / d : 0.0f;
        b[i].d = ks_fp32_to_fp16(d);
        b[i].m = ks_fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int x0 = (int)((x[j] - min) * id + 0.5f), x1 = (int)((x[j + QK4_1 / 2] - min) * id + 0.5f);
            x0 = x0 > 15 ? 15 : x0;
            x1 = x1 > 15 ? 15 : x1;
            b[i].qs[j] = (uint8_t)(x0 | (x1 << 4));
        }
    }
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const ks_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d = ks_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = b[i].qs[j] * d;
    }
}
static void q8_0_from_float(const float *src, void *dst, int64_t n) {
    ks_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float *x = src + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        b[i].d = ks_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q8_1_to_float(const void *src, float *dst, int64_t n) {
    const ks_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        float d = ks_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK8_1; j++) dst[i * QK8_1 + j] = b[i].qs[j] * d;
    }
}
static void q8_1_from_float(const float *src, void *dst, int64_t n) {
    ks_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const float *x = src + i * QK8_1;
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += b[i].qs[j];
        }
        b[i].d = ks_fp32_to_fp16(d);
        b[i].s = ks_fp32_to_fp16(sum * d);
    }
}

#define ROW(id, nm, bs, bb, tf, ff) [id] = {.name = nm, .block_size = bs, .block_bytes = bb, .to_float = tf, .from_float = ff}
static const ks_dtype_traits dtype_table[KS_DTYPE_COUNT] = {
    ROW(KS_DTYPE_F32, "F32", 1, 4, f32_to_float, f32_from_float),
    ROW(KS_DTYPE_F16, "F16", 1, 2, f16_to_float, f16_from_float),
    ROW(KS_DTYPE_Q4_0, "Q4_0", 32, 18, q4_0_to_float, q4_0_from_float),
    ROW(KS_DTYPE_Q4_1, "Q4_1", 32, 20, q4_1_to_float, q4_1_from_float),
    ROW(KS_DTYPE_Q5_0, "Q5_0", 32, 22, ks_q5_0_to_float, ks_q5_0_from_float),
    ROW(KS_DTYPE_Q5_1, "Q5_1", 32, 24, NULL, NULL),
    ROW(KS_DTYPE_Q8_0, "Q8_0", 32, 34, q8_0_to_float, q8_0_from_float),
    ROW(KS_DTYPE_Q8_1, "Q8_1", 32, 36, q8_1_to_float, q8_1_from_float),
    ROW(KS_DTYPE_Q2_K, "Q2_K", 256, 84, NULL, NULL),
    ROW(KS_DTYPE_Q3_K, "Q3_K", 256, 110, NULL, NULL),
    ROW(KS_DTYPE_Q4_K, "Q4_K", 256, 144, ks_q4_K_to_float, ks_q4_K_from_float),
    ROW(KS_DTYPE_Q5_K, "Q5_K", 256, 176, NULL, NULL),
    ROW(KS_DTYPE_Q6_K, "Q6_K", 256, 210, ks_q6_K_to_float, ks_q6_K_from_float),
    ROW(KS_DTYPE_Q8_K, "Q8_K", 256, 292, ks_q8_K_to_float, ks_q8_K_from_float),
    ROW(16, "IQ2_XXS", 256, 66, NULL, NULL),
    ROW(17, "IQ2_XS", 256, 74, NULL, NULL),
    ROW(18, "IQ3_XXS", 256, 98, NULL, NULL),
    ROW(19, "IQ1_S", 256, 50, NULL, NULL),
    ROW(20, "IQ4_NL", 32, 18, NULL, NULL),
    ROW(21, "IQ3_S", 256, 110, NULL, NULL),
    ROW(22, "IQ2_S", 256, 82, NULL, NULL),
    ROW(23, "IQ4_XS", 256, 136, NULL, NULL),
    ROW(KS_DTYPE_I8, "I8", 1, 1, NULL, NULL),
    ROW(KS_DTYPE_I16, "I16", 1, 2, NULL, NULL),
    ROW(KS_DTYPE_I32, "I32", 1, 4, NULL, NULL),
    ROW(KS_DTYPE_I64, "I64", 1, 8, NULL, NULL),
    ROW(KS_DTYPE_F64, "F64", 1, 8, NULL, NULL),
    ROW(29, "IQ1_M", 256, 56, NULL, NULL),
    ROW(KS_DTYPE_BF16, "BF16", 1, 2, bf16_to_float, bf16_from_float),
    ROW(34, "TQ1_0", 256, 54, NULL, NULL),
    ROW(35, "TQ2_0", 256, 66, NULL, NULL),
    ROW(39, "MXFP4", 32, 17, NULL, NULL),
};

const ks_dtype_traits *ks_dtype_get(uint32_t type) {
    if (type >= KS_DTYPE_COUNT || !dtype_table[type].name) return NULL;
    return &dtype_table[type];
}

int64_t ks_dtype_row_bytes(uint32_t type, int64_t n) {
    const ks_dtype_traits *t = ks_dtype_get(type);
    if (!t || n < 0 || n % t->block_size) return -1;
    int64_t nb = n / t->block_size;
    if (nb > INT64_MAX / (int64_t)t->block_bytes) return -1;
    return nb * (int64_t)t->block_bytes;
}

/* dtype.h - element types: block size, bytes per block, conversion to/from float.
 * Enum values are ggml's type ids, so GGUF type fields map directly. */
#ifndef KS_DTYPE_H
#define KS_DTYPE_H
#include "kestrel.h"

typedef enum ks_dtype {
    KS_DTYPE_F32 = KS_TYPE_F32, /* the types kestrel.h names (ks_type) take its numbers: one source */
    KS_DTYPE_F16 = KS_TYPE_F16,
    KS_DTYPE_Q4_0 = KS_TYPE_Q4_0,
    KS_DTYPE_Q4_1 = KS_TYPE_Q4_1,
    KS_DTYPE_Q5_0 = KS_TYPE_Q5_0,
    KS_DTYPE_Q5_1 = KS_TYPE_Q5_1,
    KS_DTYPE_Q8_0 = KS_TYPE_Q8_0,
    KS_DTYPE_Q8_1 = 9,
    KS_DTYPE_Q2_K = 10,
    KS_DTYPE_Q3_K = 11,
    KS_DTYPE_Q4_K = KS_TYPE_Q4_K,
    KS_DTYPE_Q5_K = 13,
    KS_DTYPE_Q6_K = KS_TYPE_Q6_K,
    KS_DTYPE_Q8_K = 15,
    KS_DTYPE_I8 = 24,
    KS_DTYPE_I16 = 25,
    KS_DTYPE_I32 = 26,
    KS_DTYPE_I64 = 27,
    KS_DTYPE_F64 = 28,
    KS_DTYPE_BF16 = KS_TYPE_BF16,
    KS_DTYPE_COUNT = 40
} ks_dtype;

typedef struct ks_dtype_traits {
    const char *name;   /* NULL: unknown id */
    int64_t block_size; /* elements per block */
    size_t block_bytes; /* bytes per block */
    /* n must be a multiple of block_size; NULL when Kestrel cannot compute with it */
    void (*to_float)(const void *src, float *dst, int64_t n);
    void (*from_float)(const float *src, void *dst, int64_t n);
} ks_dtype_traits;

/* Traits for a ggml type id, or NULL if the id is unknown. */
const ks_dtype_traits *ks_dtype_get(uint32_t type);
/* Bytes for n elements (n a multiple of the block size); -1 on overflow/bad n. */
int64_t ks_dtype_row_bytes(uint32_t type, int64_t n);

/* half-precision helpers (IEEE binary16, bfloat16), round-to-nearest-even */
float ks_fp16_to_fp32(uint16_t h);
uint16_t ks_fp32_to_fp16(float f);
float ks_bf16_to_fp32(uint16_t h);
uint16_t ks_fp32_to_bf16(float f);

/* Rows: y[i] = fp16(x[i]); y[i] = fp32(fp16(x[i])) (x may equal y). F16C when present,
 * identical results either way (round to nearest even). */
void ks_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);
void ks_fp16_round_row(const float *x, float *y, int64_t n);

/* Block layouts (as in ggml). */
#define QK4_0 32
#define QK4_1 32
#define QK8_0 32
#define QK8_1 32
typedef struct { uint16_t d; uint8_t qs[QK4_0 / 2]; } ks_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[QK4_1 / 2]; } ks_block_q4_1;
typedef struct { uint16_t d; int8_t qs[QK8_0]; } ks_block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[QK8_1]; } ks_block_q8_1; /* s = d * sum(qs) */
_Static_assert(sizeof(ks_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(ks_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(ks_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(ks_block_q8_1) == 36, "q8_1 block");

/* 5-bit with a per-block scale: value = d * (q - 16), q = low nibble | bit j of qh << 4 */
#define QK5_0 32
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } ks_block_q5_0;
_Static_assert(sizeof(ks_block_q5_0) == 22, "q5_0 block");

/* k-quants: super-blocks of 256 (ggml's QK_K) */
#define QK_K 256
/* 8 sub-blocks of 32, 6-bit scale and min each (packed in scales[12]):
 * value = d * sc * q - dmin * m */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } ks_block_q4_K;
/* 16 sub-blocks of 16 with int8 scales: value = d * sc * (q - 32), q 6-bit */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } ks_block_q6_K;
/* activations for k-quant dot products: float scale, bsums = sums of 16 codes */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } ks_block_q8_K;
_Static_assert(sizeof(ks_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(ks_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(ks_block_q8_K) == 292, "q8_K block");

/* ggml's reference quantizers / dequantizers for these (quant_k.c); n a multiple of the block */
void ks_q5_0_from_float(const float *x, void *dst, int64_t n);
void ks_q5_0_to_float(const void *src, float *y, int64_t n);
void ks_q4_K_from_float(const float *x, void *dst, int64_t n);
void ks_q4_K_to_float(const void *src, float *y, int64_t n);
void ks_q6_K_from_float(const float *x, void *dst, int64_t n);
void ks_q6_K_to_float(const void *src, float *y, int64_t n);
void ks_q8_K_from_float(const float *x, void *dst, int64_t n);
void ks_q8_K_to_float(const void *src, float *y, int64_t n);
/* scale and min of sub-block j (0..7) of a q4_K block */
static inline void ks_q4_K_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63, *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
#endif

/* quantize.h - rewrite a GGUF model with its weight matrices in another type. */
#ifndef KS_QUANTIZE_H
#define KS_QUANTIZE_H
#include "kestrel.h"

/* Target type by name ("Q8_0", "Q4_0", "Q4_1", "F16", "BF16", "F32", any case);
 * -1 if unknown. */
int ks_quantize_type_from_name(const char *name);

typedef struct ks_quantize_stats {
    int64_t n_tensors, n_quantized;
    uint64_t bytes_in, bytes_out;
} ks_quantize_stats;

/* Reads in_path (GGUF with F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors), writes out_path:
 * every metadata key copied (general.file_type set to llama.cpp's value for the
 * target); 2-D weight matrices converted to target with the reference
 * quantizers (ggml's quantize_row_*_ref arithmetic), already-quantized sources
 * dequantized first; 1-D tensors (norms, biases) kept F32; for 4-bit targets
 * token_embd and output stay Q8_0 (llama.cpp uses Q6_K there, which Kestrel
 * does not have yet). The output is written to a temporary file and renamed.
 * The converted tensors are held in memory until written: KS_ERR_LIMIT, before
 * anything is allocated, if they exceed the memory the OS reports available. */
ks_status ks_quantize_file(const char *in_path, const char *out_path, int target, ks_quantize_stats *stats,
                           ks_err *err);
#endif

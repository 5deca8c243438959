/* quantize.h - rewrite a GGUF model with its weight matrices in another type. */
#ifndef KS_QUANTIZE_H
#define KS_QUANTIZE_H
#include "kestrel.h"

/* Target by llama-quantize's name ("Q8_0", "Q6_K", "Q5_0", "Q4_K_M" or "Q4_K",
 * "Q4_1", "Q4_0", "F16", "BF16", "F32", any case): the code is llama.cpp's
 * llama_ftype; -1 if unknown. */
int ks_quantize_type_from_name(const char *name);
/* the accepted names, for messages */
const char *ks_quantize_type_names(void);

/* ks_quantize_stats: kestrel.h */

/* Reads in_path (GGUF with tensors of any type Kestrel can read), writes out_path:
 * every metadata key copied (general.file_type = target); 2-D weight matrices
 * converted with the reference quantizers (ggml's quantize_row_*_ref arithmetic),
 * already-quantized sources dequantized first; 1-D tensors (norms, biases) F32.
 * The type of each matrix follows llama.cpp's llama_tensor_get_type for the
 * file type: the output matrix (token_embd when tied) Q6_K for quantized
 * targets other than Q8_0; Q4_K_M gives attn_v and ffn_down Q6_K in the first
 * and last eighth of the layers and every third one between; rows that do not
 * fill a type's blocks fall back (Q4_K -> Q5_0, Q6_K -> Q8_0, else F16).
 * target: a code from ks_quantize_type_from_name.
 * The output follows base/outfile.h: refused before any work if it is in_path
 * itself (by inode) or not a regular file, written to a temporary file beside it
 * and renamed over it at the end; on failure out_path is left as it was.
 * The converted tensors are held in memory until written: KS_ERR_LIMIT, before
 * anything is allocated, if they exceed the memory the OS reports available. */
ks_status ks_quantize_file(const char *in_path, const char *out_path, int target, ks_quantize_stats *stats,
                           ks_err *err);
/* The same, into an output the caller opened (ks_outfile_open, with every input of
 * the whole command) and commits on KS_OK or discards. */
struct ks_outfile;
ks_status ks_quantize_to(const char *in_path, struct ks_outfile *out, int target, ks_quantize_stats *stats, ks_err *err);
#endif

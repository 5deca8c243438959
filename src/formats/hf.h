/* hf.h - Hugging Face model folders to GGUF, as llama.cpp's convert_hf_to_gguf.py
 * writes them (same tensor names, shapes, types and bytes; same metadata keys).
 *
 * A folder holds config.json, model.safetensors or shards listed in
 * model.safetensors.index.json, tokenizer.json, and optionally
 * tokenizer_config.json / chat_template.jinja. Supported: LlamaForCausalLM and
 * MistralForCausalLM (GGUF arch "llama", Q/K rows permuted to GGUF's rope
 * layout) and Qwen2ForCausalLM ("qwen2", which llama.cpp runs and Kestrel does
 * not yet), with byte-level BPE tokenizers. Everything read is validated: the
 * safetensors files (formats/safetensors.h), the config values and every
 * tensor's shape against them, the tokenizer's ids against the vocabulary size.
 */
#ifndef KS_HF_H
#define KS_HF_H
#include "kestrel.h"

#define KS_HF_OUT_AUTO (-1) /* as convert_hf_to_gguf's "auto": BF16 or F16 after the weights */

/* ggml type id for "f32", "f16", "bf16", "q8_0" (any case), KS_HF_OUT_AUTO for
 * "auto"; -2 if unknown. */
int ks_hf_outtype_from_name(const char *name);

typedef ks_convert_stats ks_hf_convert_stats; /* kestrel.h */

/* Converts the folder dir into the GGUF file out_path. out_type: a ggml type id
 * (F32, F16, BF16, Q8_0) or KS_HF_OUT_AUTO. 2-D weights get out_type, norms and
 * other 1-D tensors stay F32, and Q8_0 falls back to F16 for rows that are not
 * a multiple of 32 (all as convert_hf_to_gguf.py). Tensors are converted one
 * chunk at a time while the file is written, so memory stays small whatever the
 * model size. The output follows base/outfile.h: refused before any work if it
 * is a file of the folder (by inode) or not a regular file, written to a
 * temporary file beside it and renamed over it, so a failure leaves no partial
 * output and out_path as it was. stats may be NULL.
 * Errors: KS_ERR_NOT_FOUND (a file, config key or tensor missing),
 * KS_ERR_UNSUPPORTED (architecture, tokenizer kind, dtype), KS_ERR_FORMAT
 * (bad JSON, shapes disagreeing with config.json, ...), KS_ERR_IO, KS_ERR_NOMEM,
 * plus the safetensors reader's. */
ks_status ks_hf_convert(const char *dir, const char *out_path, int out_type, ks_hf_convert_stats *stats, ks_err *err);
/* The same, into an output the caller opened (ks_outfile_open with dir among the
 * inputs) and commits on KS_OK or discards. */
struct ks_outfile;
ks_status ks_hf_convert_to(const char *dir, struct ks_outfile *out, int out_type, ks_hf_convert_stats *stats, ks_err *err);

/* true if path is a directory (the CLI's test for "HF folder, not a file"). */
bool ks_hf_is_dir(const char *path);
#endif

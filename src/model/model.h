/* model.h - the one model description shared by every family, and the
 * inference context (KV cache + scratch) that runs it.
 *
 * A family (arch_*.c) contributes an arch descriptor (data: norm type,
 * rope style, block layout, which tensors exist) and the names of its GGUF
 * keys; forward.c reads only this description.
 *
 * Ownership: ks_model owns its source (GGUF context or llama2.c mapping);
 * every ks_tensor in it is a view into that mapping, except the copies the
 * model makes at load into its own buffer (ks_model.packed): repacked matmul
 * weights (ks_tensor.packed) and, with ks_model_params.no_mmap, plain copies (ks_tensor.data). ks_context owns
 * the KV cache and all scratch, allocated once at creation from the
 * hyperparameters: ks_decode allocates nothing.
 */
#ifndef KS_MODEL_H
#define KS_MODEL_H
#include "base/mapfile.h"
#include "kernels/kernels.h"
#include "kestrel.h"

struct gguf_ctx;
struct ks_tokenizer;

typedef enum ks_norm_kind { KS_NORM_RMS = 0, KS_NORM_LAYER = 1 } ks_norm_kind;
typedef enum ks_rope_kind { KS_ROPE_NONE = 0, KS_ROPE_NORM = 1, KS_ROPE_NEOX = 2 } ks_rope_kind;
typedef enum ks_ffn_kind { KS_FFN_SWIGLU = 0, KS_FFN_GELU = 1 } ks_ffn_kind;

/* What makes a family different: data read by the one forward pass. */
typedef struct ks_arch {
    const char *name; /* GGUF general.architecture */
    ks_norm_kind norm;
    ks_rope_kind rope;
    ks_ffn_kind ffn;
    bool parallel_block; /* attention and MLP read the same normed input (Falcon) */
    bool learned_pos;    /* absolute position embeddings (GPT-2) */
} ks_arch;

typedef struct ks_hparams {
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    int64_t head_dim; /* n_embd / n_head unless the file says otherwise */
    int64_t n_rot;    /* rotated dims per head */
    float norm_eps;
    float rope_theta;
} ks_hparams;

typedef struct ks_layer {
    ks_tensor attn_norm, attn_norm_b;             /* [n_embd] */
    ks_tensor wq, wk, wv, wo;                     /* wq [n_embd -> n_head*head_dim], wk/wv [n_embd -> n_head_kv*head_dim], wo [n_head*head_dim -> n_embd] */
    ks_tensor bq, bk, bv, bo;                     /* optional biases */
    ks_tensor ffn_norm, ffn_norm_b;               /* [n_embd] */
    ks_tensor ffn_gate, ffn_up, ffn_down;         /* gate/up [n_embd -> n_ff], down [n_ff -> n_embd] */
    ks_tensor ffn_up_b, ffn_down_b;               /* optional biases */
} ks_layer;

typedef enum ks_model_format { KS_FORMAT_GGUF = 1, KS_FORMAT_LLAMA2C = 2 } ks_model_format;

typedef struct ks_model {
    const ks_arch *arch;
    ks_hparams hp;
    ks_model_format format;
    ks_tensor tok_embd;    /* [n_embd, n_vocab] */
    ks_tensor pos_embd;    /* [n_embd, n_ctx_train], learned_pos only */
    ks_tensor output_norm, output_norm_b;
    ks_tensor output;      /* [n_embd, n_vocab]; == tok_embd when tied */
    ks_layer *layers;      /* owned, n_layer */
    struct ks_tokenizer *tok; /* owned; NULL if the file has none */
    char *chat_template;   /* owned copy of tokenizer.chat_template, or NULL */
    bool rope_iterative;   /* theta computed as ggml does (pos * s^i by repeated products) */
    bool stop_on_bos;      /* llama2.c rule: generation ends when BOS comes out */
    uint32_t kv_type;      /* default KV cache type: F16 for GGUF (as llama.cpp), F32 for llama2.c */
    void *packed;          /* owned: repacked copies of matmul weights (ks_tensor.packed points here) and,
                              with no_mmap, copies of the others (their ks_tensor.data points here); or NULL */
    size_t packed_bytes;
    struct gguf_ctx *gguf; /* owned, GGUF models */
    ks_mapfile map;        /* owned, llama2.c models */
} ks_model;

/* Loads a model file: GGUF (by magic) or a llama2.c checkpoint, in which case
 * tokenizer_path (a llama2.c tokenizer.bin) is required. A GGUF with no
 * tensors loads as vocabulary-only (hp.n_layer == 0, layers NULL), usable for
 * tokenization only. On failure *out is NULL and err names the problem. */
ks_status ks_model_load(const char *path, const char *tokenizer_path, ks_model **out, ks_err *err);
/* The same with load options (NULL: defaults, as ks_model_load). */
typedef struct ks_model_params {
    bool no_mmap;   /* GGUF: copy every matmul weight into owned memory instead of reading the mapping */
    bool no_repack; /* keep the files' row layouts: no packed copies (as llama.cpp's --no-repack) */
    bool f16_exact; /* F16 weights: prompt batches in FP32 FMAs as llama.cpp computes them, not by
                       BF16 dot products (ks_tensor.bf16_batch; docs/NUMERICS.md) */
} ks_model_params;
ks_status ks_model_load_params(const char *path, const char *tokenizer_path, const ks_model_params *params,
                               ks_model **out, ks_err *err);
void ks_model_free(ks_model *m);
bool ks_model_has_weights(const ks_model *m);

/* family loaders (arch_*.c) */
ks_status ks_arch_llama_load(ks_model *m, ks_err *err);
ks_status ks_llama2c_load(ks_model *m, const char *path, const char *tokenizer_path, ks_err *err);
const ks_arch *ks_arch_find(const char *name);

/* ---- inference context ---- */
typedef struct ks_context_params {
    int64_t n_ctx;   /* max positions (KV cache length); 0 = min(model n_ctx_train, 4096) */
    int64_t n_batch; /* max tokens per ks_decode call; 0 = 512 */
    int n_threads;   /* 0 = OpenMP default */
    int32_t kv_type; /* -1 = model default */
    bool logits_all; /* keep logits for every token of a batch (n_batch x n_vocab floats) */
} ks_context_params;

typedef struct ks_context ks_context;

ks_context_params ks_context_default_params(void);
#define KS_MAX_THREADS 512 /* as ggml's GGML_MAX_N_THREADS */

/* Allocates KV cache and scratch; KS_ERR_LIMIT if n_ctx exceeds the model's
 * trained context, the cache would exceed available memory or n_threads
 * exceeds KS_MAX_THREADS. */
ks_status ks_context_new(const ks_model *m, const ks_context_params *p, ks_context **out, ks_err *err);
void ks_context_free(ks_context *c);
int64_t ks_context_n_ctx(const ks_context *c);
int ks_context_n_threads(const ks_context *c);

/* Runs tokens[0..n) at positions pos0.. (cache holds positions < pos0 already).
 * n may exceed n_batch (split internally). If all_logits, logits for every
 * token are kept (n <= n_batch required), else only for the last.
 * KS_ERR_LIMIT if pos0 + n > n_ctx; KS_ERR_INVALID_ARG for a token id out of range. */
ks_status ks_decode(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, bool all_logits, ks_err *err);
/* Same, keeping logits only for tokens logits_from..n-1 (their output head is all
 * that is computed for them: perplexity needs only the second half of a chunk).
 * Needs n <= n_batch unless logits_from == n - 1. */
ks_status ks_decode_range(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, int64_t logits_from,
                          ks_err *err);
/* Logits of the i-th token of the last ks_decode (i = -1: last); NULL for a token
 * without logits. Borrowed, n_vocab floats. */
const float *ks_context_logits(const ks_context *c, int64_t i);
#endif

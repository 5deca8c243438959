/* model.h - the one model description shared by every family, and the
 * inference context (KV cache + scratch) that runs it.
 *
 * A family is a const descriptor in the registry (model/arch.h): its GGUF keys,
 * its tensor table (the slots of ks_model / ks_layer below) and its block traits.
 * model.c loads a GGUF by walking that table; forward.c reads the traits and
 * refuses nothing at run time: ks_arch_check refused unsupported traits at load.
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
#include "model/arch.h"
#include "model/batch.h"
#include "kestrel.h"

struct gguf_ctx;
struct ks_tokenizer;

typedef struct ks_hparams {
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    int64_t head_dim; /* n_embd / n_head unless the file says otherwise */
    int64_t n_rot;    /* rotated dims per head */
    float norm_eps;
    float rope_theta;
    int64_t n_swa;        /* sliding window (KS_MASK_SLIDING_WINDOW families): keys at positions > pos - n_swa; 0 = none */
    int64_t swa_every;    /* which layers are windowed (ks_block_traits.swa_every) */
    float rope_theta_swa; /* RoPE base of windowed layers (rope_base_per_layer families) */
    float logit_softcap;  /* final logits soft-cap (logit_softcap families); 0 = none */
} ks_hparams;

/* layer il attends within the sliding window hp->n_swa (llama.cpp's set_swa_pattern) */
static inline bool ks_layer_swa(const ks_hparams *hp, int64_t il) {
    return hp->n_swa > 0 && (hp->swa_every <= 0 || il % hp->swa_every < hp->swa_every - 1);
}

typedef struct ks_layer {
    ks_tensor attn_norm, attn_norm_b;             /* [n_embd] */
    ks_tensor attn_norm_2, attn_norm_2_b;         /* [n_embd] the FFN's norm of a parallel block (Falcon 40B-style) */
    ks_tensor wq, wk, wv, wo;                     /* wq [n_embd -> n_head*head_dim], wk/wv [n_embd -> n_head_kv*head_dim], wo [n_head*head_dim -> n_embd] */
    ks_tensor bq, bk, bv, bo;                     /* optional biases */
    ks_tensor wqkv, bqkv;                         /* fused [n_embd -> q_dim + 2 kv_dim]: wq/wk/wv and bq/bk/bv are
                                                     views of its rows, made at load */
    ks_tensor attn_q_norm, attn_k_norm;           /* [head_dim] QK-norm */
    ks_tensor attn_post_norm, ffn_post_norm;      /* [n_embd] post-norms */
    ks_tensor ffn_norm, ffn_norm_b;               /* [n_embd] */
    ks_tensor ffn_gate, ffn_up, ffn_down;         /* gate/up [n_embd -> n_ff], down [n_ff -> n_embd] */
    ks_tensor ffn_up_b, ffn_down_b;               /* optional biases */
} ks_layer;

/* Sampling defaults the model file carries (general.sampling.*, which llama.cpp's and Kestrel's converters
 * write from generation_config.json); has_* false when absent. Callers apply them unless the user set the
 * value (ks_model_gen_defaults). End-of-generation ids are the tokenizer's (eos and its EOG set). */
typedef struct ks_gen_defaults {
    bool has_temp, has_top_p, has_top_k, has_min_p, has_repeat_penalty, has_repeat_last_n;
    float temp, top_p, min_p, repeat_penalty;
    int32_t top_k, repeat_last_n;
} ks_gen_defaults;

typedef enum ks_model_format { KS_FORMAT_GGUF = 1, KS_FORMAT_LLAMA2C = 2 } ks_model_format;

typedef struct ks_model {
    const ks_arch *arch;
    ks_hparams hp;
    ks_model_format format;
    ks_tensor tok_embd;    /* [n_embd, n_vocab] */
    ks_tensor pos_embd;    /* [n_embd, n_ctx_train], KS_POS_LEARNED families only */
    ks_tensor output_norm, output_norm_b;
    ks_tensor rope_freqs;  /* [n_rot/2] F32, optional: RoPE frequency divisors (Llama 3 scaling) */
    ks_tensor output;      /* [n_embd, n_vocab]; == tok_embd when tied */
    ks_layer *layers;      /* owned, n_layer */
    struct ks_tokenizer *tok; /* owned; NULL if the file has none */
    char *chat_template;   /* owned copy of tokenizer.chat_template, or NULL */
    ks_gen_defaults gen;   /* sampling defaults from the file (general.sampling.*) */
    bool rope_iterative;   /* theta computed as ggml does (pos * s^i by repeated products) */
    bool stop_on_bos;      /* llama2.c rule: generation ends when BOS comes out */
    bool gelu_table;       /* GELU from ggml's f16 table (ks_gelu_f16_table), as llama.cpp: quantized FFN weights */
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
/* ks_model_params: kestrel.h (tokenizer_path and progress there are read by ks_model_load_from_file) */
ks_status ks_model_load_params(const char *path, const char *tokenizer_path, const ks_model_params *params,
                               ks_model **out, ks_err *err);
void ks_model_free(ks_model *m);
bool ks_model_has_weights(const ks_model *m);
/* the file's sampling defaults (borrowed, valid for the model's life) */
const ks_gen_defaults *ks_model_gen_defaults(const ks_model *m);

/* llama2.c checkpoints (llama2c_load.c), described by the "llama" family */
ks_status ks_llama2c_load(ks_model *m, const char *path, const char *tokenizer_path, ks_err *err);

/* ---- inference context ---- */
/* ks_context_params: kestrel.h */


/* Allocates KV cache and scratch; KS_ERR_LIMIT if n_ctx exceeds the model's
 * trained context, the cache would exceed available memory or n_threads
 * exceeds KS_MAX_THREADS; KS_ERR_UNSUPPORTED for a cache type other than F32/F16/Q8_0. */
ks_status ks_context_new(const ks_model *m, const ks_context_params *p, ks_context **out, ks_err *err);
void ks_context_free(ks_context *c);
int64_t ks_context_n_ctx(const ks_context *c);
int ks_context_n_threads(const ks_context *c);
const ks_model *ks_context_model(const ks_context *c);

/* Runs a batch of tokens of any sequences (model/batch.h). Each token takes a free KV cell;
 * positions and sequences are the caller's (a token sees its sequence's cells at positions
 * <= its own). Logits are kept for tokens with logits set (ks_context_logits(c, i), i =
 * index in b). Returns KS_ERR_NO_KV_SLOT, with the cache unchanged, when there are fewer
 * free cells than tokens; KS_ERR_INVALID_ARG for a token id out of range (nothing run). */
ks_status ks_decode_batch(ks_context *c, const ks_batch *b, ks_err *err);
/* Sequence 0 only: runs tokens[0..n) at positions pos0.., first dropping sequence 0's
 * cells at positions >= pos0. If all_logits, logits for every token, else only the last.
 * KS_ERR_LIMIT if pos0 + n > n_ctx; KS_ERR_INVALID_ARG for a token id out of range. */
ks_status ks_decode(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, bool all_logits, ks_err *err);
/* Same, keeping logits only for tokens logits_from..n-1 (perplexity needs the second half). */
ks_status ks_decode_range(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, int64_t logits_from,
                          ks_err *err);
/* Logits of the i-th token of the last decode call (i = -1: the last token that has
 * logits); NULL for a token without logits. Borrowed, n_vocab floats, valid until the next
 * decode. */
const float *ks_context_logits(const ks_context *c, int64_t i);

/* ---- sequences in the KV cache (seq < 0: all; p0 < 0: from 0; p1 < 0: to the end) ---- */
/* drops seq's cells at positions [p0, p1) */
void ks_seq_rm(ks_context *c, int32_t seq, int32_t p0, int32_t p1);
/* dst shares src's cells at positions [p0, p1): a fork, nothing is recomputed or copied */
void ks_seq_cp(ks_context *c, int32_t src, int32_t dst, int32_t p0, int32_t p1);
/* drops every cell seq does not own */
void ks_seq_keep(ks_context *c, int32_t seq);
/* moves seq's positions in [p0, p1) by delta (keys are re-rotated; cells moved below 0 are dropped) */
void ks_seq_add(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta);
/* positions in [p0, p1) become pos / d (self-extend) */
void ks_seq_div(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t d);
/* largest / smallest position of seq, -1 when it has none */
int32_t ks_seq_pos_max(const ks_context *c, int32_t seq);
int32_t ks_seq_pos_min(const ks_context *c, int32_t seq);
/* cells in use / in all */
int64_t ks_kv_used(const ks_context *c);
void ks_kv_clear(ks_context *c);

/* ---- state (model/state.c): the KV cells of one sequence (seq >= 0) or of all, with the
 * last logits for the whole state. Layout: magic "KSST", version, shapes, cells, rows. ---- */
/* bytes ks_state_save needs */
size_t ks_state_size(const ks_context *c, int32_t seq);
/* writes the state into buf[0..cap); *len = bytes written. KS_ERR_LIMIT if cap is too small */
ks_status ks_state_save(const ks_context *c, int32_t seq, uint8_t *buf, size_t cap, size_t *len, ks_err *err);
/* loads a state: the whole state (seq < 0) replaces the cache; a sequence's state is added as
 * sequence seq (after ks_seq_rm(c, seq, -1, -1)). Every field is validated against this
 * context (KS_ERR_FORMAT, KS_ERR_NO_KV_SLOT); on error the cache is as before. */
ks_status ks_state_load(ks_context *c, int32_t seq, const uint8_t *buf, size_t len, ks_err *err);
#endif

/* train.h - training beside inference: the parameter arenas laid out from a family's tensor
 * table, the activation arena sized from batch x sequence, and the forward/backward pass.
 *
 * The model description is the inference one (model/arch.h, model/model.h): ks_train_model
 * holds two ks_model views whose tensors point into its arenas, one for the weights and one
 * for their gradients, at the slots the family's tensor table names. The forward and backward
 * passes (train_step.c) walk the layers reading the block traits, and each block is a
 * forward/backward pair with the same arguments (train_blocks.c, llm.c's pairs); backward
 * passes accumulate into the gradients (zero them with ks_train_zero_grad between steps).
 *
 * What trains today: RMS norms, gated SiLU (SwiGLU) FFNs, RoPE normal or NeoX, causal
 * grouped-query attention, tied or untied head, no biases; ks_train_check refuses the rest.
 * Everything is FP32. Nothing here allocates after ks_train_model_init / ks_train_acts_init.
 */
#ifndef KS_TRAIN_H
#define KS_TRAIN_H
#include "base/mapfile.h"
#include "model/model.h"

/* one parameter tensor of the arenas */
typedef struct ks_train_param {
    const ks_tensor_desc *row; /* the tensor table's row */
    int64_t il;                /* layer, -1 for global rows */
    size_t off;                /* offset in floats into params / grads / m / v */
    int64_t ne0, ne1;          /* GGUF order: ne0 contiguous */
    bool decay;                /* matrices take weight decay, vectors (norms) do not */
} ks_train_param;

typedef struct ks_train_model {
    const ks_arch *arch;
    ks_hparams hp;
    bool tied;                 /* the head is token_embd (no output row in the arenas) */
    ks_model w, g;             /* views: w's tensors into params, g's into grads (F32, same slots) */
    ks_train_param *p;         /* owned, n_p rows in arena order */
    size_t n_p;
    size_t n_params;           /* floats in each arena */
    float *params, *grads, *m, *v; /* owned (one allocation each, 64-byte aligned) */
} ks_train_model;

/* KS_OK if the trainer implements every trait of a; else KS_ERR_UNSUPPORTED naming it. */
ks_status ks_train_check(const ks_arch *a, const ks_hparams *hp, ks_err *err);
/* Lays out the arenas from a's tensor table for hp (n_vocab, n_embd, n_layer, n_head,
 * n_head_kv, n_ff, head_dim, n_rot, norm_eps, rope_theta set) and allocates them zeroed.
 * KS_ERR_UNSUPPORTED (ks_train_check), KS_ERR_INVALID_ARG for inconsistent shapes,
 * KS_ERR_NOMEM. On failure tm is left freeable. */
ks_status ks_train_model_init(ks_train_model *tm, const ks_arch *a, const ks_hparams *hp, bool tied, ks_err *err);
void ks_train_model_free(ks_train_model *tm);
/* bytes of the four arenas for this shape (0 on overflow) */
size_t ks_train_model_bytes(const ks_arch *a, const ks_hparams *hp, bool tied);
/* writable data of one of tm's F32 views */
static inline float *ks_train_data(const ks_tensor *t) { return (float *)(uintptr_t)t->data; }
/* random init (GPT-2's): matrices N(0, std), projections into the residual (attn_output,
 * ffn_down) N(0, std / sqrt(2 n_layer)), norms 1; seeded, the same for any thread count */
void ks_train_model_init_weights(ks_train_model *tm, float std, uint64_t seed);
void ks_train_zero_grad(ks_train_model *tm);

/* activations of one micro-batch (B sequences of T tokens), one arena */
typedef struct ks_train_acts {
    int64_t B, T;
    float *arena;             /* owned */
    size_t n_floats;
    /* saved by forward, per layer il at il * (rows x width) */
    float *x;                 /* [n_layer + 1][BT, E] residual stream entering each layer (x[n_layer]: final) */
    float *xn1, *rstd1;       /* [L][BT, E] attention norm output, [L][BT] its 1/rms */
    float *q, *k, *v;         /* [L][BT, Q], [L][BT, KV] x2, after RoPE */
    float *att;               /* [L][B, H, T, T] attention probabilities (causal: row t uses 0..t) */
    float *y;                 /* [L][BT, Q] attention output before attn_output */
    float *xm;                /* [L][BT, E] residual after attention */
    float *xn2, *rstd2;       /* [L][BT, E], [L][BT] FFN norm */
    float *gate, *up, *hs;    /* [L][BT, F] gate and up projections, silu(gate) * up */
    float *xnf, *rstdf;       /* [BT, E], [BT] output norm */
    float *probs;             /* [BT, V] softmax of the logits; backward turns it into dlogits */
    float *losses;            /* [BT] per-token loss (0 where the target is < 0) */
    float *cos_t, *sin_t;     /* [T, n_rot/2] RoPE tables */
    /* backward scratch */
    float *dx, *dn, *dq, *dk, *dv, *dy, *dgate, *dup, *dhs; /* [BT, E] x2, [BT, Q], [BT, KV] x2, [BT, Q], [BT, F] x3 */
    float *dp;                /* [B, n_head_kv, T] attention row scratch */
    float *gemm;              /* transposed weights for the forward GEMMs: max ne0 * ne1 */
} ks_train_acts;

/* floats of the activation arena for B x T (0 on overflow or B, T outside [1, 2^20]) */
size_t ks_train_acts_floats(const ks_hparams *hp, int64_t B, int64_t T);
/* KS_ERR_INVALID_ARG for B or T outside [1, 2^20], KS_ERR_NOMEM; a is left freeable */
ks_status ks_train_acts_init(ks_train_acts *a, const ks_train_model *tm, int64_t B, int64_t T, ks_err *err);
void ks_train_acts_free(ks_train_acts *a);

/* Forward over tokens [B, T] (ids < n_vocab, checked: KS_ERR_INVALID_ARG) and targets [B, T]
 * (< 0: not counted). *loss = the mean cross-entropy over the counted targets (0 if none);
 * *n_counted their number. */
ks_status ks_train_forward(const ks_train_model *tm, ks_train_acts *a, const int32_t *tokens,
                           const int32_t *targets, float *loss, int64_t *n_counted, ks_err *err);
/* Backward of the last forward: adds d(scale * sum of the counted per-token losses) / d(params)
 * into tm's gradients (scale = 1 / n_counted gives the mean's gradient). Clobbers a->probs. */
void ks_train_backward(ks_train_model *tm, ks_train_acts *a, const int32_t *tokens, const int32_t *targets,
                       float scale);

/* ---- optimizer (adamw.c) ---- */
typedef struct ks_train_opt {
    double lr_max, lr_min;   /* peak and final learning rates */
    int64_t warmup, steps;   /* linear warmup updates, total updates (cosine decay between) */
    double beta1, beta2, eps, weight_decay; /* AdamW (torch.optim.AdamW's meaning); decay on matrices only */
    double clip;             /* global gradient-norm limit; 0 = none */
} ks_train_opt;
/* learning rate of update s (0-based): (s + 1) / warmup * lr_max during warmup, then cosine from
 * lr_max down to lr_min at s = steps, lr_min after */
double ks_train_lr(const ks_train_opt *o, int64_t s);
/* L2 norm of all gradients (summed in double, fixed order) */
double ks_train_grad_norm(const ks_train_model *tm);
/* scales the gradients by min(1, clip / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_ does */
void ks_train_clip(ks_train_model *tm, double norm, double clip);
/* one AdamW update, the t-th (1-based, for the bias corrections), at learning rate lr:
 * p -= lr wd p (matrices); m, v moments; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
void ks_train_adamw(ks_train_model *tm, const ks_train_opt *o, int64_t t, double lr);

/* ---- a run (config.c, data.c, checkpoint.c, run.c, export.c) ---- */
struct ks_train_config;
void ks_train_config_hparams(const struct ks_train_config *c, ks_hparams *hp);
void ks_train_config_opt(const struct ks_train_config *c, ks_train_opt *o);

/* A token shard (docs/TRAINING.md): 32-byte header "KSTOKENS", u32 version 1, u32 token width
 * (2 or 4 bytes), u64 token count, u32 vocabulary size (0 = unknown), u32 reserved; then the
 * tokens, little-endian. Mapped read-only. */
#define KS_SHARD_MAGIC "KSTOKENS"
#define KS_SHARD_HEADER 32
typedef struct ks_shard {
    ks_mapfile map;
    const uint8_t *tok; /* borrowed from map */
    uint32_t width;
    uint64_t n;
    uint32_t n_vocab;   /* from the header, 0 = unknown */
} ks_shard;
/* KS_ERR_FORMAT for a wrong magic, version or width, KS_ERR_TRUNCATED for a file shorter (or
 * longer) than its count says, KS_ERR_INVALID_ARG for a shard of fewer than min_tokens tokens or
 * whose vocabulary exceeds n_vocab; s is left closed on error */
ks_status ks_shard_open(ks_shard *s, const char *path, int64_t n_vocab, uint64_t min_tokens, ks_err *err);
void ks_shard_close(ks_shard *s);
/* B sequences of T + 1 tokens from *pos on (each starts T after the previous; a sequence that
 * would run past the end starts at 0): tokens = its first T, targets = its last T. Advances *pos.
 * KS_ERR_FORMAT naming the offset for a token >= n_vocab. */
ks_status ks_shard_batch(const ks_shard *s, uint64_t *pos, int64_t B, int64_t T, int64_t n_vocab, int32_t *tokens,
                         int32_t *targets, ks_err *err);
/* writes a shard header for n tokens of width bytes into h[KS_SHARD_HEADER] */
void ks_shard_header(uint8_t *h, uint32_t width, uint64_t n, uint32_t n_vocab);

/* the internal model of the checkpoint in dir (checkpoint.c): tm initialised from it */
typedef struct ks_train_state {
    int64_t step;       /* updates done */
    uint64_t rng;       /* the run's random state */
    uint64_t data_pos;  /* next token position in the training shard */
} ks_train_state;
/* Writes dir/checkpoint.bin atomically (temporary file, fsync, rename, folder fsync). */
ks_status ks_checkpoint_save(const char *dir, const ks_train_model *tm, const ks_train_state *st, ks_err *err);
/* Reads dir/checkpoint.bin into a fresh tm (init'ed by this call) and st. If want is non-NULL
 * the checkpoint must have that family, shape and head (KS_ERR_INVALID_ARG naming the first
 * difference). KS_ERR_FORMAT / KS_ERR_TRUNCATED for a damaged file. */
ks_status ks_checkpoint_load(const char *dir, ks_train_model *tm, ks_train_state *st, const ks_arch *want_arch,
                             const ks_hparams *want, int want_tied, ks_err *err);
/* writes out_dir/loss.svg (training and validation loss, learning rate) from out_dir/metrics.jsonl */
ks_status ks_train_chart(const char *out_dir, ks_err *err);
/* writes tm's weights as an F32 GGUF at path (atomically), with the tokenizer.* keys of the GGUF
 * tokenizer (NULL: none) */
ks_status ks_train_write_gguf(const ks_train_model *tm, const char *path, const char *tokenizer, ks_err *err);
#endif

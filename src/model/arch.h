/* arch.h - the registry of model families: one const descriptor per family that
 * the GGUF loader (model.c), the Hugging Face converter (formats/hf_convert.c),
 * the quantizer's tensor-type rules (quantize.c) and the forward pass (forward.c)
 * all read. Tensor names, shapes and block traits live here and nowhere else.
 *
 * A descriptor holds
 *  - names: GGUF general.architecture, HF config.json "architectures" classes;
 *  - hparams: the GGUF keys it reads ("<arch>." + suffix) into ks_hparams, with
 *    required/optional and the default;
 *  - traits: the block's shape (norm, activation, position encoding, mask, ...).
 *    ks_arch_check refuses every trait value the forward pass does not implement,
 *    so a descriptor can describe a family before Kestrel can run it;
 *  - tensors: one row per tensor (slot in ks_model or ks_layer, GGUF and HF name
 *    patterns with "%d" for the layer, symbolic shape, required, quantize
 *    category, HF row transform).
 * Adding a family is one descriptor in arch.c plus, at most, a small hook.
 * Descriptors are const and static: borrowed pointers valid for the program's life.
 */
#ifndef KS_ARCH_H
#define KS_ARCH_H
#include <stddef.h>

#include "kestrel.h"

typedef enum ks_norm_kind { KS_NORM_RMS = 0, KS_NORM_LAYER = 1 } ks_norm_kind;
typedef enum ks_act_kind { KS_ACT_SILU = 0, KS_ACT_GELU = 1, KS_ACT_GELU_TANH = 2, KS_ACT_RELU = 3 } ks_act_kind;
/* position encoding: RoPE on adjacent pairs (GPT-J/LLaMA, ggml's "normal") or on
 * halves (GPT-NeoX), a learned table (GPT-2), fixed sinusoids (T5-style), none */
typedef enum ks_pos_kind {
    KS_POS_NONE = 0,
    KS_POS_ROPE_NORM = 1,
    KS_POS_ROPE_NEOX = 2,
    KS_POS_LEARNED = 3,
    KS_POS_SINUSOIDAL = 4,
} ks_pos_kind;
/* RoPE scaling a family may carry: by per-dimension frequency factors (the
 * rope_freqs tensor, Llama 3), or by the GGUF rope.scaling.type key */
typedef enum ks_rope_scaling {
    KS_ROPE_SCALING_NONE = 0,
    KS_ROPE_SCALING_FREQ_FACTORS = 1,
    KS_ROPE_SCALING_LINEAR = 2,
    KS_ROPE_SCALING_YARN = 3,
    KS_ROPE_SCALING_LONGROPE = 4,
} ks_rope_scaling;
typedef enum ks_mask_kind {
    KS_MASK_CAUSAL = 0,
    KS_MASK_SLIDING_WINDOW = 1, /* causal within the last n_swa positions */
    KS_MASK_BIDIRECTIONAL = 2,
    KS_MASK_CROSS = 3,          /* attends to an encoder's output */
} ks_mask_kind;

/* What makes a family's block different: data read by the one forward pass. */
typedef struct ks_block_traits {
    ks_norm_kind norm;
    bool norm_bias;       /* norms have a bias (LayerNorm's beta) */
    ks_act_kind act;      /* FFN activation */
    bool gated;           /* act(gate(x)) * up(x) (SwiGLU, GeGLU), else act(up(x)) */
    bool parallel_block;  /* attention and FFN read the same normed input (Falcon, GPT-J) */
    ks_pos_kind pos;
    ks_rope_scaling rope_scaling; /* the kinds this family may carry */
    bool fused_qkv;       /* one attn_qkv matrix instead of q, k, v */
    bool qk_norm;         /* norms on q and k heads before RoPE (Qwen3, OLMo 2) */
    bool post_norms;      /* norms on the block outputs before the residual add (Gemma 2/3) */
    bool embd_scale;      /* token embeddings multiplied by sqrt(n_embd) (Gemma) */
    bool logit_softcap;   /* final logits = c * tanh(logits / c), c = hp.logit_softcap when > 0 (Gemma 2/3) */
    ks_mask_kind mask;    /* KS_MASK_SLIDING_WINDOW: layers may attend within hp.n_swa positions only */
    int swa_every;        /* with a window: layer il is windowed iff il % swa_every < swa_every - 1 (llama.cpp's
                             set_swa_pattern; GGUF attention.sliding_window_pattern overrides); 0 = every layer */
    bool rope_base_per_layer; /* windowed layers rotate by hp.rope_theta_swa (Gemma 3) */
    bool tied_embd;       /* output head may be absent: token_embd is reused */
} ks_block_traits;

/* symbolic tensor dimensions, resolved from the hyperparameters */
typedef enum ks_dim {
    KS_DIM_ONE = 0,   /* a vector's second dimension */
    KS_DIM_E,         /* n_embd */
    KS_DIM_Q,         /* n_head * head_dim */
    KS_DIM_KV,        /* n_head_kv * head_dim */
    KS_DIM_QKV,       /* Q + 2 KV (fused) */
    KS_DIM_FF,        /* n_ff */
    KS_DIM_VOCAB,     /* n_vocab (from the token embedding) */
    KS_DIM_CTX,       /* n_ctx_train (learned positions) */
    KS_DIM_HEAD,      /* head_dim (per-head q/k norms) */
    KS_DIM_ROT_HALF,  /* n_rot / 2 (RoPE frequency factors) */
} ks_dim;

/* how llama.cpp's quantizer treats a tensor (llama_tensor_get_type's name tests) */
typedef enum ks_qcat {
    KS_QCAT_NONE = 0,   /* norms, biases, generated tables: never quantized */
    KS_QCAT_TOKEN_EMBD,
    KS_QCAT_OUTPUT,
    KS_QCAT_ATTN_Q,
    KS_QCAT_ATTN_K,
    KS_QCAT_ATTN_V,
    KS_QCAT_ATTN_QKV,
    KS_QCAT_ATTN_OUTPUT,
    KS_QCAT_FFN_GATE,
    KS_QCAT_FFN_UP,
    KS_QCAT_FFN_DOWN,
    KS_QCAT_OTHER,      /* a weight with no rule of its own: the default type */
} ks_qcat;

/* row transform between HF and GGUF layouts */
typedef enum ks_hf_xform {
    KS_HF_XFORM_NONE = 0,
    /* HF keeps each head's rows as two halves (rotate_half), GGUF as interleaved
     * pairs: GGUF row h*hd + 2i + j is HF row h*hd + j*hd/2 + i (LlamaModel.permute),
     * over n_head (Q) or n_head_kv (K) heads */
    KS_HF_XFORM_PERMUTE_Q,
    KS_HF_XFORM_PERMUTE_K,
    KS_HF_XFORM_TRANSPOSE, /* GPT-2's Conv1D weights are stored [in, out] */
    KS_HF_XFORM_NORM_PLUS_ONE, /* Gemma's RMSNorm multiplies by (1 + w): GGUF stores 1 + w */
} ks_hf_xform;

typedef struct ks_tensor_desc {
    const char *gguf;   /* GGUF name; "%d" = layer for per-layer rows */
    const char *hf;     /* HF safetensors name, same "%d"; NULL: not in HF checkpoints (generated) */
    size_t slot;        /* offsetof(ks_layer, ...) if per_layer, else offsetof(ks_model, ...) */
    bool per_layer;
    ks_dim ne[2];       /* GGUF order (innermost first); ne[1] = KS_DIM_ONE for vectors */
    bool required;
    ks_qcat qcat;
    ks_hf_xform hf_xform;
} ks_tensor_desc;

typedef enum ks_hp_type { KS_HP_INT = 0, KS_HP_FLOAT = 1 } ks_hp_type;
/* where an absent optional key's value comes from */
typedef enum ks_hp_default {
    KS_HP_DEFAULT_CONST = 0,    /* dflt */
    KS_HP_DEFAULT_N_HEAD,       /* n_head (no GQA) */
    KS_HP_DEFAULT_E_PER_HEAD,   /* n_embd / n_head */
    KS_HP_DEFAULT_HEAD_DIM,     /* head_dim (all dimensions rotated) */
    KS_HP_DEFAULT_SWA_EVERY,    /* the family's traits.swa_every */
} ks_hp_default;

typedef struct ks_hp_desc {
    const char *key;    /* suffix after "<arch>." */
    size_t off;         /* offsetof(ks_hparams, ...): int64_t for KS_HP_INT, float for KS_HP_FLOAT */
    ks_hp_type type;
    bool required;
    ks_hp_default dflt_kind;
    double dflt;
} ks_hp_desc;

typedef struct ks_arch {
    const char *name;               /* GGUF general.architecture */
    const char *const *hf_archs;    /* config.json "architectures" classes, NULL-terminated (may be NULL) */
    const ks_hp_desc *hparams;      /* read in this order (defaults may use earlier rows) */
    size_t n_hparams;
    const ks_tensor_desc *tensors;
    size_t n_tensors;
    ks_block_traits traits;
    bool convert_only; /* HF conversion only: the loader refuses it (its forward has no oracle check yet) */
    const char *const *hf_aliases; /* pairs (other HF name part, the table's), NULL-terminated: a checkpoint
                                      tensor matching no row is matched again with the first part replaced */
    const char *chat_default; /* chat format name (generate/chat.h) for files without tokenizer.chat_template,
                                 or NULL (Gemma GGUFs often carry none) */
} ks_arch;

/* the family of GGUF general.architecture name, or NULL */
const ks_arch *ks_arch_find(const char *name);
/* the family whose hf_archs holds class (config.json "architectures"[0]), or NULL */
const ks_arch *ks_arch_find_hf(const char *hf_class);
/* registry walk: the i-th family, NULL past the end */
const ks_arch *ks_arch_at(size_t i);
/* Like ks_arch_find, but fails with KS_ERR_UNSUPPORTED naming the architecture
 * and the supported ones. */
ks_status ks_arch_lookup(const char *name, const ks_arch **out, ks_err *err);

/* KS_OK if the forward pass implements every trait of a (and a has the tensors
 * those traits need); else KS_ERR_UNSUPPORTED naming the family and the trait. */
ks_status ks_arch_check(const ks_arch *a, ks_err *err);

/* The row of a whose GGUF name (hf false) or HF name (hf true) is name[0..len), with
 * *layer its layer (-1 for global rows); NULL if none. Layer numbers are decimal
 * without leading zeros, below 10^9. */
const ks_tensor_desc *ks_arch_match(const ks_arch *a, const char *name, size_t len, bool hf, int64_t *layer);
/* Formats row t's GGUF (hf false) or HF name for layer il into buf; false if the
 * row has no such name or it does not fit. */
bool ks_arch_name(const ks_tensor_desc *t, bool hf, int64_t il, char *buf, size_t cap);
/* the row of a whose slot is slot (offsetof in ks_layer if per_layer, else in ks_model), or NULL */
const ks_tensor_desc *ks_arch_row_by_slot(const ks_arch *a, size_t slot, bool per_layer);
/* a row's slot inside a ks_model (or, for per-layer rows, inside a ks_layer) */
struct ks_tensor *ks_arch_slot(void *base, const ks_tensor_desc *t);

/* a row's dimension d resolved against the hyperparameters; q_dim etc. from hp */
struct ks_hparams;
int64_t ks_arch_dim(const struct ks_hparams *hp, ks_dim d);
#endif

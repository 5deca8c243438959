/* arch.c - the family registry (arch.h): LLaMA (with Mistral and llama2.c
 * checkpoints on the same descriptor) and Qwen2, plus the name matching and
 * dimension resolution that loader, converter and quantizer share.
 *
 * Tensor rows follow llama.cpp's tensor names (llama-arch.cpp) and
 * convert_hf_to_gguf.py's HF names (gguf-py tensor_mapping.py); the LLaMA rows
 * are the ones llama.cpp's LLM_ARCH_LLAMA loader creates.
 */
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

#include "model/model.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define N_OF(a) (sizeof(a) / sizeof(a)[0])

#define HP_INT(k, field, req, kind, d) {k, offsetof(ks_hparams, field), KS_HP_INT, req, kind, d}
#define HP_FLOAT(k, field, d) {k, offsetof(ks_hparams, field), KS_HP_FLOAT, false, KS_HP_DEFAULT_CONST, d}

/* keys of the LLaMA-like families (llama.cpp's llm_load_hparams) */
static const ks_hp_desc llama_hparams[] = {
    HP_INT("embedding_length", n_embd, true, KS_HP_DEFAULT_CONST, 0),
    HP_INT("block_count", n_layer, true, KS_HP_DEFAULT_CONST, 0),
    HP_INT("attention.head_count", n_head, true, KS_HP_DEFAULT_CONST, 0),
    HP_INT("attention.head_count_kv", n_head_kv, false, KS_HP_DEFAULT_N_HEAD, 0),
    HP_INT("feed_forward_length", n_ff, true, KS_HP_DEFAULT_CONST, 0),
    HP_INT("context_length", n_ctx_train, false, KS_HP_DEFAULT_CONST, 2048),
    HP_FLOAT("attention.layer_norm_rms_epsilon", norm_eps, 1e-5),
    HP_FLOAT("rope.freq_base", rope_theta, 10000.0),
    HP_INT("attention.key_length", head_dim, false, KS_HP_DEFAULT_E_PER_HEAD, 0),
    HP_INT("rope.dimension_count", n_rot, false, KS_HP_DEFAULT_HEAD_DIM, 0),
};

#define G(field) offsetof(ks_model, field), false
#define L(field) offsetof(ks_layer, field), true
#define HFL "model.layers.%d."
/* columns: GGUF name, HF name, slot, shape, required, quantize category, HF transform */
#define LLAMA_GLOBAL_ROWS                                                                                           \
    {"token_embd.weight", "model.embed_tokens.weight", G(tok_embd), {KS_DIM_E, KS_DIM_VOCAB}, true,                  \
     KS_QCAT_TOKEN_EMBD, KS_HF_XFORM_NONE},                                                                          \
    {"output_norm.weight", "model.norm.weight", G(output_norm), {KS_DIM_E, KS_DIM_ONE}, true, KS_QCAT_NONE,          \
     KS_HF_XFORM_NONE},                                                                                              \
    {"output.weight", "lm_head.weight", G(output), {KS_DIM_E, KS_DIM_VOCAB}, false, KS_QCAT_OUTPUT,                   \
     KS_HF_XFORM_NONE},                                                                                              \
    {"rope_freqs.weight", NULL, G(rope_freqs), {KS_DIM_ROT_HALF, KS_DIM_ONE}, false, KS_QCAT_NONE, KS_HF_XFORM_NONE}

#define LLAMA_LAYER_ROWS(xq, xk)                                                                                     \
    {"blk.%d.attn_norm.weight", HFL "input_layernorm.weight", L(attn_norm), {KS_DIM_E, KS_DIM_ONE}, true,            \
     KS_QCAT_NONE, KS_HF_XFORM_NONE},                                                                                \
    {"blk.%d.attn_q.weight", HFL "self_attn.q_proj.weight", L(wq), {KS_DIM_E, KS_DIM_Q}, true, KS_QCAT_ATTN_Q, xq},  \
    {"blk.%d.attn_k.weight", HFL "self_attn.k_proj.weight", L(wk), {KS_DIM_E, KS_DIM_KV}, true, KS_QCAT_ATTN_K, xk}, \
    {"blk.%d.attn_v.weight", HFL "self_attn.v_proj.weight", L(wv), {KS_DIM_E, KS_DIM_KV}, true, KS_QCAT_ATTN_V,      \
     KS_HF_XFORM_NONE},                                                                                              \
    {"blk.%d.attn_output.weight", HFL "self_attn.o_proj.weight", L(wo), {KS_DIM_Q, KS_DIM_E}, true,                  \
     KS_QCAT_ATTN_OUTPUT, KS_HF_XFORM_NONE},                                                                         \
    {"blk.%d.attn_q.bias", HFL "self_attn.q_proj.bias", L(bq), {KS_DIM_Q, KS_DIM_ONE}, false, KS_QCAT_NONE, xq},     \
    {"blk.%d.attn_k.bias", HFL "self_attn.k_proj.bias", L(bk), {KS_DIM_KV, KS_DIM_ONE}, false, KS_QCAT_NONE, xk},    \
    {"blk.%d.attn_v.bias", HFL "self_attn.v_proj.bias", L(bv), {KS_DIM_KV, KS_DIM_ONE}, false, KS_QCAT_NONE,         \
     KS_HF_XFORM_NONE},                                                                                              \
    {"blk.%d.ffn_norm.weight", HFL "post_attention_layernorm.weight", L(ffn_norm), {KS_DIM_E, KS_DIM_ONE}, true,     \
     KS_QCAT_NONE, KS_HF_XFORM_NONE},                                                                                \
    {"blk.%d.ffn_gate.weight", HFL "mlp.gate_proj.weight", L(ffn_gate), {KS_DIM_E, KS_DIM_FF}, true,                 \
     KS_QCAT_FFN_GATE, KS_HF_XFORM_NONE},                                                                            \
    {"blk.%d.ffn_up.weight", HFL "mlp.up_proj.weight", L(ffn_up), {KS_DIM_E, KS_DIM_FF}, true, KS_QCAT_FFN_UP,       \
     KS_HF_XFORM_NONE},                                                                                              \
    {"blk.%d.ffn_down.weight", HFL "mlp.down_proj.weight", L(ffn_down), {KS_DIM_FF, KS_DIM_E}, true,                 \
     KS_QCAT_FFN_DOWN, KS_HF_XFORM_NONE}

/* LLaMA (llama.cpp LLM_ARCH_LLAMA): RoPE on adjacent pairs, so HF's q/k rows are permuted */
static const ks_tensor_desc llama_tensors[] = {
    LLAMA_GLOBAL_ROWS,
    LLAMA_LAYER_ROWS(KS_HF_XFORM_PERMUTE_Q, KS_HF_XFORM_PERMUTE_K),
    {"blk.%d.attn_output.bias", HFL "self_attn.o_proj.bias", L(bo), {KS_DIM_E, KS_DIM_ONE}, false, KS_QCAT_NONE,
     KS_HF_XFORM_NONE},
};

/* Qwen2 (LLM_ARCH_QWEN2): the LLaMA block with q/k/v biases and NeoX RoPE (no permutation) */
static const ks_tensor_desc qwen2_tensors[] = {
    LLAMA_GLOBAL_ROWS,
    LLAMA_LAYER_ROWS(KS_HF_XFORM_NONE, KS_HF_XFORM_NONE),
};

static const ks_arch registry[] = {
    {
        .name = "llama",
        .hf_archs = LIST("LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"),
        .hparams = llama_hparams, .n_hparams = N_OF(llama_hparams),
        .tensors = llama_tensors, .n_tensors = N_OF(llama_tensors),
        .traits = {.norm = KS_NORM_RMS, .act = KS_ACT_SILU, .gated = true, .pos = KS_POS_ROPE_NORM,
                   .rope_scaling = KS_ROPE_SCALING_FREQ_FACTORS, .mask = KS_MASK_CAUSAL, .tied_embd = true},
    },
    {
        .name = "qwen2",
        .hf_archs = LIST("Qwen2ForCausalLM"),
        .hparams = llama_hparams, .n_hparams = N_OF(llama_hparams),
        .tensors = qwen2_tensors, .n_tensors = N_OF(qwen2_tensors),
        .traits = {.norm = KS_NORM_RMS, .act = KS_ACT_SILU, .gated = true, .pos = KS_POS_ROPE_NEOX,
                   .mask = KS_MASK_CAUSAL, .tied_embd = true},
        .convert_only = true,
    },
};

const ks_arch *ks_arch_at(size_t i) { return i < N_OF(registry) ? &registry[i] : NULL; }

const ks_arch *ks_arch_find(const char *name) {
    for (size_t i = 0; name && i < N_OF(registry); i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    return NULL;
}

const ks_arch *ks_arch_find_hf(const char *hf_class) {
    for (size_t i = 0; hf_class && i < N_OF(registry); i++)
        for (const char *const *a = registry[i].hf_archs; a && *a; a++)
            if (!strcmp(*a, hf_class)) return &registry[i];
    return NULL;
}

ks_status ks_arch_lookup(const char *name, const ks_arch **out, ks_err *err) {
    *out = ks_arch_find(name);
    if (*out) return KS_OK;
    char known[128] = "";
    size_t o = 0;
    for (size_t i = 0; i < N_OF(registry) && o < sizeof known; i++)
        o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "", registry[i].name);
    return ks_err_set(err, KS_ERR_UNSUPPORTED, "unsupported architecture '%.64s' (Kestrel knows %s)", name, known);
}

/* ---- what the forward pass implements ---- */

static const char *const pos_names[] = {"none", "RoPE (normal)", "RoPE (NeoX)", "learned", "sinusoidal"};
static const char *const act_names[] = {"SiLU", "GELU", "GELU (tanh)", "ReLU"};
static const char *const mask_names[] = {"causal", "sliding window", "bidirectional", "cross"};
static const char *const scaling_names[] = {"none", "frequency factors", "linear", "YaRN", "LongRoPE"};

#define UNSUPPORTED(...) ks_err_set(err, KS_ERR_UNSUPPORTED, __VA_ARGS__)

ks_status ks_arch_check(const ks_arch *a, ks_err *err) {
    const ks_block_traits *t = &a->traits;
    const char *n = a->name;
    if (t->norm != KS_NORM_RMS && t->norm != KS_NORM_LAYER)
        return UNSUPPORTED("architecture '%s': norm kind %d is not supported", n, (int)t->norm);
    if (t->norm_bias && t->norm != KS_NORM_LAYER)
        return UNSUPPORTED("architecture '%s': RMS norms with a bias are not supported", n);
    if (t->act != KS_ACT_SILU || !t->gated)
        return UNSUPPORTED("architecture '%s': FFN activation %s%s is not supported (Kestrel runs gated SiLU, "
                           "SwiGLU)", n, (unsigned)t->act < N_OF(act_names) ? act_names[t->act] : "?",
                           t->gated ? " (gated)" : " (not gated)");
    if (t->parallel_block) return UNSUPPORTED("architecture '%s': parallel attention/FFN blocks are not supported", n);
    if (t->pos != KS_POS_NONE && t->pos != KS_POS_ROPE_NORM && t->pos != KS_POS_ROPE_NEOX)
        return UNSUPPORTED("architecture '%s': %s position embeddings are not supported", n,
                           (unsigned)t->pos < N_OF(pos_names) ? pos_names[t->pos] : "?");
    if (t->rope_scaling != KS_ROPE_SCALING_NONE && t->rope_scaling != KS_ROPE_SCALING_FREQ_FACTORS)
        return UNSUPPORTED("architecture '%s': RoPE scaling '%s' is not supported", n,
                           (unsigned)t->rope_scaling < N_OF(scaling_names) ? scaling_names[t->rope_scaling] : "?");
    if (t->fused_qkv) return UNSUPPORTED("architecture '%s': a fused QKV projection is not supported", n);
    if (t->qk_norm) return UNSUPPORTED("architecture '%s': QK-norm is not supported", n);
    if (t->post_norms) return UNSUPPORTED("architecture '%s': post-norms are not supported", n);
    if (t->embd_scale != 0.0f) return UNSUPPORTED("architecture '%s': embedding scaling is not supported", n);
    if (t->logit_softcap != 0.0f) return UNSUPPORTED("architecture '%s': logit soft-capping is not supported", n);
    if (t->mask != KS_MASK_CAUSAL || t->swa_every)
        return UNSUPPORTED("architecture '%s': %s attention masks are not supported (Kestrel runs causal masks)", n,
                           (unsigned)t->mask < N_OF(mask_names) && !t->swa_every ? mask_names[t->mask]
                                                                                  : "sliding window");
    if (t->rope_base_per_layer) return UNSUPPORTED("architecture '%s': per-layer RoPE bases are not supported", n);
    return KS_OK;
}

/* ---- names ---- */

/* matches pattern (with at most one "%d") against s[0..len); *layer = the number or -1 */
static bool match_pattern(const char *pat, const char *s, size_t len, int64_t *layer) {
    const char *pd = strstr(pat, "%d");
    *layer = -1;
    if (!pd) return strlen(pat) == len && !memcmp(pat, s, len);
    const size_t pre = (size_t)(pd - pat), post = strlen(pd + 2);
    if (len < pre + 1 + post || memcmp(s, pat, pre) || memcmp(s + len - post, pd + 2, post)) return false;
    const char *d = s + pre, *e = s + len - post;
    if (e - d > 9 || (e - d > 1 && *d == '0')) return false;
    int64_t v = 0;
    for (; d < e; d++) {
        if (*d < '0' || *d > '9') return false;
        v = v * 10 + (*d - '0');
    }
    *layer = v;
    return true;
}

const ks_tensor_desc *ks_arch_match(const ks_arch *a, const char *name, size_t len, bool hf, int64_t *layer) {
    for (size_t i = 0; a && i < a->n_tensors; i++) {
        const ks_tensor_desc *t = &a->tensors[i];
        const char *pat = hf ? t->hf : t->gguf;
        if (pat && match_pattern(pat, name, len, layer)) return t;
    }
    *layer = -1;
    return NULL;
}

bool ks_arch_name(const ks_tensor_desc *t, bool hf, int64_t il, char *buf, size_t cap) {
    const char *pat = hf ? t->hf : t->gguf;
    if (!pat) return false;
    /* the patterns are the registry's own constants: "%d" at most once, per-layer rows only */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int n = t->per_layer ? snprintf(buf, cap, pat, (int)il) : snprintf(buf, cap, "%s", pat);
#pragma GCC diagnostic pop
    return n >= 0 && (size_t)n < cap;
}

const ks_tensor_desc *ks_arch_row_by_slot(const ks_arch *a, size_t slot, bool per_layer) {
    for (size_t i = 0; a && i < a->n_tensors; i++)
        if (a->tensors[i].slot == slot && a->tensors[i].per_layer == per_layer) return &a->tensors[i];
    return NULL;
}

ks_tensor *ks_arch_slot(void *base, const ks_tensor_desc *t) { return (ks_tensor *)(void *)((char *)base + t->slot); }

int64_t ks_arch_dim(const ks_hparams *hp, ks_dim d) {
    switch (d) {
    case KS_DIM_ONE: return 1;
    case KS_DIM_E: return hp->n_embd;
    case KS_DIM_Q: return hp->n_head * hp->head_dim;
    case KS_DIM_KV: return hp->n_head_kv * hp->head_dim;
    case KS_DIM_QKV: return (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
    case KS_DIM_FF: return hp->n_ff;
    case KS_DIM_VOCAB: return hp->n_vocab;
    case KS_DIM_CTX: return hp->n_ctx_train;
    case KS_DIM_HEAD: return hp->head_dim;
    case KS_DIM_ROT_HALF: return hp->n_rot / 2;
    }
    return 0;
}

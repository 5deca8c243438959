/* arch.c - the family registry (arch.h): LLaMA (with Mistral and llama2.c
 * checkpoints on the same descriptor), Qwen2, GPT-2, Falcon and Gemma 3, plus the name matching and
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

/* keys every family reads (llama.cpp's llm_load_hparams); each table adds its norm epsilon and extras */
#define BASE_HP_ROWS                                                                                                \
    HP_INT("embedding_length", n_embd, true, KS_HP_DEFAULT_CONST, 0),                                               \
    HP_INT("block_count", n_layer, true, KS_HP_DEFAULT_CONST, 0),                                                   \
    HP_INT("attention.head_count", n_head, true, KS_HP_DEFAULT_CONST, 0),                                           \
    HP_INT("attention.head_count_kv", n_head_kv, false, KS_HP_DEFAULT_N_HEAD, 0),                                   \
    HP_INT("feed_forward_length", n_ff, true, KS_HP_DEFAULT_CONST, 0),                                              \
    HP_INT("context_length", n_ctx_train, false, KS_HP_DEFAULT_CONST, 2048),                                        \
    HP_FLOAT("rope.freq_base", rope_theta, 10000.0),                                                                \
    HP_INT("attention.key_length", head_dim, false, KS_HP_DEFAULT_E_PER_HEAD, 0),                                   \
    HP_INT("rope.dimension_count", n_rot, false, KS_HP_DEFAULT_HEAD_DIM, 0)

/* LLaMA; attention.sliding_window (Mistral, written by Kestrel's converter when the window is shorter than
 * the context: llama.cpp's converter drops it) */
static const ks_hp_desc llama_hparams[] = {
    BASE_HP_ROWS,
    HP_FLOAT("attention.layer_norm_rms_epsilon", norm_eps, 1e-5),
    HP_INT("attention.sliding_window", n_swa, false, KS_HP_DEFAULT_CONST, 0),
};
static const ks_hp_desc qwen2_hparams[] = {BASE_HP_ROWS, HP_FLOAT("attention.layer_norm_rms_epsilon", norm_eps, 1e-5)};
/* LayerNorm families (GPT-2, Falcon) */
static const ks_hp_desc ln_hparams[] = {BASE_HP_ROWS, HP_FLOAT("attention.layer_norm_epsilon", norm_eps, 1e-5)};
/* Gemma 3 (llama.cpp's llama_model_gemma3::load_arch_hparams) */
static const ks_hp_desc gemma3_hparams[] = {
    BASE_HP_ROWS,
    HP_FLOAT("attention.layer_norm_rms_epsilon", norm_eps, 1e-6),
    HP_INT("attention.sliding_window", n_swa, false, KS_HP_DEFAULT_CONST, 0),
    HP_INT("attention.sliding_window_pattern", swa_every, false, KS_HP_DEFAULT_SWA_EVERY, 0),
    HP_FLOAT("rope.freq_base_swa", rope_theta_swa, 10000.0),
    HP_FLOAT("final_logit_softcapping", logit_softcap, 0.0),
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

#define ROW(g, h, slot, e0, e1, req, qc, x) {g, h, slot, {KS_DIM_##e0, KS_DIM_##e1}, req, KS_QCAT_##qc, KS_HF_XFORM_##x}
/* a norm's weight and bias */
#define NORM_ROWS(g, h, S, f, req)                                                                                  \
    ROW(g ".weight", h ".weight", S(f), E, ONE, req, NONE, NONE), ROW(g ".bias", h ".bias", S(f##_b), E, ONE, req, NONE, NONE)

/* GPT-2 (LLM_ARCH_GPT2): learned positions, LayerNorm, fused c_attn, GELU (tanh), Conv1D weights [in, out] */
#define HFG "transformer.h.%d."
static const ks_tensor_desc gpt2_tensors[] = {
    ROW("token_embd.weight", "transformer.wte.weight", G(tok_embd), E, VOCAB, true, TOKEN_EMBD, NONE),
    ROW("position_embd.weight", "transformer.wpe.weight", G(pos_embd), E, CTX, true, OTHER, NONE),
    NORM_ROWS("output_norm", "transformer.ln_f", G, output_norm, true),
    ROW("output.weight", "lm_head.weight", G(output), E, VOCAB, false, OUTPUT, NONE),
    NORM_ROWS("blk.%d.attn_norm", HFG "ln_1", L, attn_norm, true),
    ROW("blk.%d.attn_qkv.weight", HFG "attn.c_attn.weight", L(wqkv), E, QKV, true, ATTN_QKV, TRANSPOSE),
    ROW("blk.%d.attn_qkv.bias", HFG "attn.c_attn.bias", L(bqkv), QKV, ONE, true, NONE, NONE),
    ROW("blk.%d.attn_output.weight", HFG "attn.c_proj.weight", L(wo), Q, E, true, ATTN_OUTPUT, TRANSPOSE),
    ROW("blk.%d.attn_output.bias", HFG "attn.c_proj.bias", L(bo), E, ONE, true, NONE, NONE),
    NORM_ROWS("blk.%d.ffn_norm", HFG "ln_2", L, ffn_norm, true),
    ROW("blk.%d.ffn_up.weight", HFG "mlp.c_fc.weight", L(ffn_up), E, FF, true, FFN_UP, TRANSPOSE),
    ROW("blk.%d.ffn_up.bias", HFG "mlp.c_fc.bias", L(ffn_up_b), FF, ONE, true, NONE, NONE),
    ROW("blk.%d.ffn_down.weight", HFG "mlp.c_proj.weight", L(ffn_down), FF, E, true, FFN_DOWN, TRANSPOSE),
    ROW("blk.%d.ffn_down.bias", HFG "mlp.c_proj.bias", L(ffn_down_b), E, ONE, true, NONE, NONE),
};

/* Falcon (LLM_ARCH_FALCON): parallel attention and MLP, fused QKV (llama.cpp's "jploski" layout: all q heads,
 * then k, then v), multi-query or grouped KV, LayerNorm. new_decoder_architecture has two norms: llama.cpp
 * names HF's ln_mlp attn_norm (the MLP's) and ln_attn attn_norm_2 (the attention's). HF names here are
 * Falcon-7B's (input_layernorm; ln_mlp and query_key_value's grouped layout are the converter's business). */
static const ks_tensor_desc falcon_tensors[] = {
    ROW("token_embd.weight", "transformer.word_embeddings.weight", G(tok_embd), E, VOCAB, true, TOKEN_EMBD, NONE),
    NORM_ROWS("output_norm", "transformer.ln_f", G, output_norm, true),
    ROW("output.weight", "lm_head.weight", G(output), E, VOCAB, false, OUTPUT, NONE),
    NORM_ROWS("blk.%d.attn_norm", HFG "input_layernorm", L, attn_norm, true),
    NORM_ROWS("blk.%d.attn_norm_2", HFG "ln_attn", L, attn_norm_2, false),
    ROW("blk.%d.attn_qkv.weight", HFG "self_attention.query_key_value.weight", L(wqkv), E, QKV, true, ATTN_QKV, NONE),
    ROW("blk.%d.attn_output.weight", HFG "self_attention.dense.weight", L(wo), Q, E, true, ATTN_OUTPUT, NONE),
    ROW("blk.%d.ffn_up.weight", HFG "mlp.dense_h_to_4h.weight", L(ffn_up), E, FF, true, FFN_UP, NONE),
    ROW("blk.%d.ffn_down.weight", HFG "mlp.dense_4h_to_h.weight", L(ffn_down), FF, E, true, FFN_DOWN, NONE),
};

/* Gemma 3 (LLM_ARCH_GEMMA3): QK-norm, norms before and after each sub-block, GeGLU; every norm is
 * RMSNorm by (1 + w), which GGUF stores as 1 + w */
static const ks_tensor_desc gemma3_tensors[] = {
    ROW("token_embd.weight", "model.embed_tokens.weight", G(tok_embd), E, VOCAB, true, TOKEN_EMBD, NONE),
    ROW("output_norm.weight", "model.norm.weight", G(output_norm), E, ONE, true, NONE, NORM_PLUS_ONE),
    ROW("output.weight", "lm_head.weight", G(output), E, VOCAB, false, OUTPUT, NONE),
    ROW("blk.%d.attn_norm.weight", HFL "input_layernorm.weight", L(attn_norm), E, ONE, true, NONE, NORM_PLUS_ONE),
    ROW("blk.%d.attn_q.weight", HFL "self_attn.q_proj.weight", L(wq), E, Q, true, ATTN_Q, NONE),
    ROW("blk.%d.attn_k.weight", HFL "self_attn.k_proj.weight", L(wk), E, KV, true, ATTN_K, NONE),
    ROW("blk.%d.attn_v.weight", HFL "self_attn.v_proj.weight", L(wv), E, KV, true, ATTN_V, NONE),
    ROW("blk.%d.attn_output.weight", HFL "self_attn.o_proj.weight", L(wo), Q, E, true, ATTN_OUTPUT, NONE),
    ROW("blk.%d.attn_q_norm.weight", HFL "self_attn.q_norm.weight", L(attn_q_norm), HEAD, ONE, true, NONE,
        NORM_PLUS_ONE),
    ROW("blk.%d.attn_k_norm.weight", HFL "self_attn.k_norm.weight", L(attn_k_norm), HEAD, ONE, true, NONE,
        NORM_PLUS_ONE),
    ROW("blk.%d.post_attention_norm.weight", HFL "post_attention_layernorm.weight", L(attn_post_norm), E, ONE, true,
        NONE, NORM_PLUS_ONE),
    ROW("blk.%d.ffn_norm.weight", HFL "pre_feedforward_layernorm.weight", L(ffn_norm), E, ONE, true, NONE,
        NORM_PLUS_ONE),
    ROW("blk.%d.ffn_gate.weight", HFL "mlp.gate_proj.weight", L(ffn_gate), E, FF, true, FFN_GATE, NONE),
    ROW("blk.%d.ffn_up.weight", HFL "mlp.up_proj.weight", L(ffn_up), E, FF, true, FFN_UP, NONE),
    ROW("blk.%d.ffn_down.weight", HFL "mlp.down_proj.weight", L(ffn_down), FF, E, true, FFN_DOWN, NONE),
    ROW("blk.%d.post_ffw_norm.weight", HFL "post_feedforward_layernorm.weight", L(ffn_post_norm), E, ONE, true, NONE,
        NORM_PLUS_ONE),
};

static const ks_arch registry[] = {
    {
        .name = "llama",
        .hf_archs = LIST("LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"),
        .hparams = llama_hparams, .n_hparams = N_OF(llama_hparams),
        .tensors = llama_tensors, .n_tensors = N_OF(llama_tensors),
        .traits = {.norm = KS_NORM_RMS, .act = KS_ACT_SILU, .gated = true, .pos = KS_POS_ROPE_NORM,
                   .rope_scaling = KS_ROPE_SCALING_FREQ_FACTORS, .mask = KS_MASK_SLIDING_WINDOW, .tied_embd = true},
    },
    {
        .name = "qwen2",
        .hf_archs = LIST("Qwen2ForCausalLM"),
        .hparams = qwen2_hparams, .n_hparams = N_OF(qwen2_hparams),
        .tensors = qwen2_tensors, .n_tensors = N_OF(qwen2_tensors),
        .traits = {.norm = KS_NORM_RMS, .act = KS_ACT_SILU, .gated = true, .pos = KS_POS_ROPE_NEOX,
                   .mask = KS_MASK_CAUSAL, .tied_embd = true},
    },
    {
        .name = "gpt2",
        .hf_archs = LIST("GPT2LMHeadModel"),
        .hparams = ln_hparams, .n_hparams = N_OF(ln_hparams),
        .tensors = gpt2_tensors, .n_tensors = N_OF(gpt2_tensors),
        .traits = {.norm = KS_NORM_LAYER, .norm_bias = true, .act = KS_ACT_GELU_TANH, .pos = KS_POS_LEARNED,
                   .fused_qkv = true, .mask = KS_MASK_CAUSAL, .tied_embd = true},
    },
    {
        .name = "falcon",
        .hf_archs = LIST("FalconForCausalLM", "RWForCausalLM"),
        .hparams = ln_hparams, .n_hparams = N_OF(ln_hparams),
        .tensors = falcon_tensors, .n_tensors = N_OF(falcon_tensors),
        .traits = {.norm = KS_NORM_LAYER, .norm_bias = true, .act = KS_ACT_GELU, .parallel_block = true,
                   .pos = KS_POS_ROPE_NEOX, .fused_qkv = true, .mask = KS_MASK_CAUSAL, .tied_embd = true},
        .hf_aliases = LIST(".ln_mlp.", ".input_layernorm."), /* new_decoder_architecture: llama.cpp's attn_norm */
    },
    {
        .name = "gemma3",
        .hf_archs = LIST("Gemma3ForCausalLM"),
        .hparams = gemma3_hparams, .n_hparams = N_OF(gemma3_hparams),
        .tensors = gemma3_tensors, .n_tensors = N_OF(gemma3_tensors),
        .traits = {.norm = KS_NORM_RMS, .act = KS_ACT_GELU_TANH, .gated = true, .pos = KS_POS_ROPE_NEOX,
                   .qk_norm = true, .post_norms = true, .embd_scale = true, .logit_softcap = true,
                   .mask = KS_MASK_SLIDING_WINDOW, .swa_every = 6, .rope_base_per_layer = true, .tied_embd = true},
        .chat_default = "gemma",
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

/* a's table has a row for this slot (the tensors a trait needs) */
static bool has_row(const ks_arch *a, size_t slot, bool per_layer) { return ks_arch_row_by_slot(a, slot, per_layer); }

ks_status ks_arch_check(const ks_arch *a, ks_err *err) {
    const ks_block_traits *t = &a->traits;
    const char *n = a->name;
    if (t->norm != KS_NORM_RMS && t->norm != KS_NORM_LAYER)
        return UNSUPPORTED("architecture '%s': norm kind %d is not supported", n, (int)t->norm);
    if (t->norm_bias && t->norm != KS_NORM_LAYER)
        return UNSUPPORTED("architecture '%s': RMS norms with a bias are not supported", n);
    if ((unsigned)t->act >= N_OF(act_names))
        return UNSUPPORTED("architecture '%s': FFN activation %d is not supported", n, (int)t->act);
    if (t->pos != KS_POS_NONE && t->pos != KS_POS_ROPE_NORM && t->pos != KS_POS_ROPE_NEOX && t->pos != KS_POS_LEARNED)
        return UNSUPPORTED("architecture '%s': %s position embeddings are not supported", n,
                           (unsigned)t->pos < N_OF(pos_names) ? pos_names[t->pos] : "?");
    if (t->pos == KS_POS_LEARNED && !has_row(a, offsetof(ks_model, pos_embd), false))
        return UNSUPPORTED("architecture '%s': learned positions without a position table", n);
    if (t->rope_scaling != KS_ROPE_SCALING_NONE && t->rope_scaling != KS_ROPE_SCALING_FREQ_FACTORS)
        return UNSUPPORTED("architecture '%s': RoPE scaling '%s' is not supported", n,
                           (unsigned)t->rope_scaling < N_OF(scaling_names) ? scaling_names[t->rope_scaling] : "?");
    if (t->fused_qkv && !has_row(a, offsetof(ks_layer, wqkv), true))
        return UNSUPPORTED("architecture '%s': a fused QKV projection without its attn_qkv row", n);
    if (t->qk_norm && !(has_row(a, offsetof(ks_layer, attn_q_norm), true) &&
                        has_row(a, offsetof(ks_layer, attn_k_norm), true)))
        return UNSUPPORTED("architecture '%s': QK-norm without attn_q_norm / attn_k_norm rows", n);
    if (t->post_norms && !(has_row(a, offsetof(ks_layer, attn_post_norm), true) &&
                           has_row(a, offsetof(ks_layer, ffn_post_norm), true)))
        return UNSUPPORTED("architecture '%s': post-norms without their rows", n);
    if (t->mask != KS_MASK_CAUSAL && t->mask != KS_MASK_SLIDING_WINDOW)
        return UNSUPPORTED("architecture '%s': %s attention masks are not supported (Kestrel runs causal masks, "
                           "optionally windowed)", n, (unsigned)t->mask < N_OF(mask_names) ? mask_names[t->mask] : "?");
    if ((t->swa_every || t->rope_base_per_layer) && t->mask != KS_MASK_SLIDING_WINDOW)
        return UNSUPPORTED("architecture '%s': sliding-window layers or per-layer RoPE bases need the sliding window "
                           "mask", n);
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

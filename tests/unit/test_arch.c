/* test_arch.c - the family registry (model/arch.h) is consistent: in every family
 * the GGUF and HF name patterns are unique and carry "%d" exactly on per-layer rows,
 * slots are unique, aligned and inside ks_model / ks_layer, shapes and quantize
 * categories agree (vectors never quantized), hyperparameter rows land inside
 * ks_hparams; LLaMA has every tensor its forward pass needs; HF <-> GGUF names
 * round-trip through the table for several layers; an unknown architecture and
 * each unsupported trait fail with a message naming them. */
#include <stdalign.h>
#include <string.h>

#include "ks_test.h"
#include "model/model.h"

static void check_rows(const ks_arch *a) {
    for (size_t i = 0; i < a->n_tensors; i++) {
        const ks_tensor_desc *t = &a->tensors[i];
        const size_t size = t->per_layer ? sizeof(ks_layer) : sizeof(ks_model);
        CHECK(t->gguf && *t->gguf, "%s row %zu: no GGUF name", a->name, i);
        if (!t->gguf) continue;
        CHECK(t->slot + sizeof(ks_tensor) <= size && t->slot % alignof(ks_tensor) == 0,
              "%s %s: slot %zu outside its struct or misaligned", a->name, t->gguf, t->slot);
        for (int hf = 0; hf < 2; hf++) {
            const char *p = hf ? t->hf : t->gguf, *d = p ? strstr(p, "%d") : NULL;
            if (!p) continue;
            CHECK(t->per_layer == (d != NULL) && (!d || !strstr(d + 2, "%")) && (d || !strchr(p, '%')),
                  "%s %s: \"%%d\" must appear once on per-layer rows, never elsewhere", a->name, p);
        }
        CHECK(t->ne[0] != KS_DIM_ONE, "%s %s: first dimension ONE", a->name, t->gguf);
        CHECK(t->ne[1] != KS_DIM_ONE || t->qcat == KS_QCAT_NONE, "%s %s: a vector with a quantize category", a->name,
              t->gguf);
        CHECK(t->hf || !t->required, "%s %s: required but not in HF checkpoints", a->name, t->gguf);
        for (size_t k = 0; k < i; k++) {
            const ks_tensor_desc *u = &a->tensors[k];
            CHECK(strcmp(t->gguf, u->gguf), "%s: GGUF name %s twice", a->name, t->gguf);
            CHECK(!t->hf || !u->hf || strcmp(t->hf, u->hf), "%s: HF name %s twice", a->name, t->hf);
            CHECK(t->slot != u->slot || t->per_layer != u->per_layer, "%s: %s and %s share a slot", a->name, t->gguf,
                  u->gguf);
        }
    }
    for (size_t i = 0; i < a->n_hparams; i++) {
        const ks_hp_desc *h = &a->hparams[i];
        const size_t w = h->type == KS_HP_INT ? sizeof(int64_t) : sizeof(float);
        CHECK(h->off + w <= sizeof(ks_hparams) && h->off % w == 0, "%s.%s: offset %zu", a->name, h->key, h->off);
        CHECK(!h->required || h->dflt_kind == KS_HP_DEFAULT_CONST, "%s.%s: required with a derived default", a->name,
              h->key);
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(h->key, a->hparams[k].key) && h->off != a->hparams[k].off, "%s.%s: key or field twice",
                  a->name, h->key);
    }
}

/* names of a row round-trip: GGUF -> row -> HF -> row -> GGUF */
static void check_round_trip(const ks_arch *a) {
    static const int64_t layers[] = {0, 1, 9, 10, 123, 4095};
    for (size_t i = 0; i < a->n_tensors; i++) {
        const ks_tensor_desc *t = &a->tensors[i];
        for (size_t k = 0; k < (t->per_layer ? sizeof layers / sizeof layers[0] : 1); k++) {
            const int64_t il = t->per_layer ? layers[k] : -1;
            char g[96], h[160], g2[96];
            int64_t l1 = -2, l2 = -2;
            CHECK(ks_arch_name(t, false, il, g, sizeof g), "%s: GGUF name of %s", a->name, t->gguf);
            CHECK(ks_arch_match(a, g, strlen(g), false, &l1) == t && l1 == il, "%s: %s matched another row or layer",
                  a->name, g);
            if (!t->hf) continue;
            CHECK(ks_arch_name(t, true, il, h, sizeof h), "%s: HF name of %s", a->name, t->hf);
            const ks_tensor_desc *u = ks_arch_match(a, h, strlen(h), true, &l2);
            CHECK(u == t && l2 == il, "%s: HF %s did not come back to %s layer %lld", a->name, h, g, (long long)il);
            CHECK(u && ks_arch_name(u, false, l2, g2, sizeof g2) && !strcmp(g, g2), "%s: %s -> %s -> %s", a->name, g,
                  h, g2);
        }
    }
}

static void check_llama(void) {
    const ks_arch *a = ks_arch_find("llama");
    CHECK(a && ks_arch_check(a, NULL) == KS_OK && !a->convert_only, "llama is runnable");
    if (!a) return;
    CHECK(ks_arch_find_hf("MistralForCausalLM") == a && ks_arch_find_hf("LlamaForCausalLM") == a, "HF classes");
    CHECK(ks_arch_find_hf("MambaForCausalLM") == NULL, "Mamba is not a family");
    static const char *const required[] = {"token_embd.weight", "output_norm.weight", "blk.%d.attn_norm.weight",
                                           "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
                                           "blk.%d.attn_output.weight", "blk.%d.ffn_norm.weight",
                                           "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight",
                                           "blk.%d.ffn_down.weight"};
    size_t n_required = 0;
    for (size_t i = 0; i < a->n_tensors; i++) n_required += a->tensors[i].required;
    CHECK(n_required == sizeof required / sizeof required[0], "llama: %zu required rows", n_required);
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const ks_tensor_desc *t = NULL;
        for (size_t k = 0; k < a->n_tensors; k++)
            if (!strcmp(a->tensors[k].gguf, required[i])) t = &a->tensors[k];
        CHECK(t && t->required, "llama: %s missing or optional", required[i]);
    }
    /* the exact names the converter and loader have always used */
    int64_t il;
    const char *hf = "model.layers.17.self_attn.q_proj.weight";
    const ks_tensor_desc *q = ks_arch_match(a, hf, strlen(hf), true, &il);
    CHECK(q && il == 17 && q->slot == offsetof(ks_layer, wq) && q->hf_xform == KS_HF_XFORM_PERMUTE_Q &&
              q->qcat == KS_QCAT_ATTN_Q && q->ne[0] == KS_DIM_E && q->ne[1] == KS_DIM_Q,
          "llama q_proj row");
    const char *bad[] = {"model.layers.01.self_attn.q_proj.weight", "model.layers..self_attn.q_proj.weight",
                         "model.layers.1x.self_attn.q_proj.weight", "model.layers.1234567890.mlp.up_proj.weight",
                         "model.layers.1.self_attn.q_proj.weightx", "lm_head.bias"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!ks_arch_match(a, bad[i], strlen(bad[i]), true, &il), "%s matched a row", bad[i]);
    const ks_arch *qw = ks_arch_find("qwen2");
    CHECK(qw && qw->traits.pos == KS_POS_ROPE_NEOX && !qw->convert_only, "qwen2: NeoX RoPE, runnable");
    hf = "model.layers.0.self_attn.k_proj.bias";
    CHECK(qw && (q = ks_arch_match(qw, hf, strlen(hf), true, &il)) && q->hf_xform == KS_HF_XFORM_NONE,
          "qwen2: k bias row without permutation");
}

static void expect_unsupported(const ks_arch *base, void (*edit)(ks_block_traits *), const char *word) {
    ks_arch a = *base;
    edit(&a.traits);
    ks_err err = {0};
    const ks_status st = ks_arch_check(&a, &err);
    CHECK(st == KS_ERR_UNSUPPORTED && strstr(err.msg, word) && strstr(err.msg, "llama"),
          "trait '%s': status %d, message \"%s\"", word, (int)st, err.msg);
}
static void sinus(ks_block_traits *t) { t->pos = KS_POS_SINUSOIDAL; }
static void yarn(ks_block_traits *t) { t->rope_scaling = KS_ROPE_SCALING_YARN; }
static void fused(ks_block_traits *t) { t->fused_qkv = true; }
static void qk_norm(ks_block_traits *t) { t->qk_norm = true; }
static void post_norms(ks_block_traits *t) { t->post_norms = true; }
static void bidir(ks_block_traits *t) { t->mask = KS_MASK_BIDIRECTIONAL; }
static void rms_bias(ks_block_traits *t) { t->norm_bias = true; }
static void window_pattern_causal(ks_block_traits *t) { t->mask = KS_MASK_CAUSAL, t->swa_every = 6; }

int main(void) {
    size_t n = 0;
    for (const ks_arch *a; (a = ks_arch_at(n)); n++) {
        CHECK(ks_arch_find(a->name) == a, "%s found by name", a->name);
        for (const char *const *h = a->hf_archs; h && *h; h++) CHECK(ks_arch_find_hf(*h) == a, "%s by HF class", *h);
        check_rows(a);
        check_round_trip(a);
    }
    CHECK(n >= 5, "%zu families", n);
    check_llama();

    const ks_arch *out = (const ks_arch *)1;
    ks_err err = {0};
    ks_status st = ks_arch_lookup("mamba", &out, &err);
    CHECK(st == KS_ERR_UNSUPPORTED && !out && strstr(err.msg, "'mamba'") && strstr(err.msg, "llama") &&
              strstr(err.msg, "gemma3"),
          "unknown architecture: %d \"%s\"", (int)st, err.msg);

    /* every family in the registry runs */
    for (size_t i = 0; i < n; i++)
        CHECK(ks_arch_check(ks_arch_at(i), NULL) == KS_OK, "%s: traits refused", ks_arch_at(i)->name);
    const ks_arch *llama = ks_arch_find("llama");
    if (llama) {
        expect_unsupported(llama, sinus, "sinusoidal");
        expect_unsupported(llama, yarn, "YaRN");
        expect_unsupported(llama, fused, "fused QKV");
        expect_unsupported(llama, qk_norm, "QK-norm");
        expect_unsupported(llama, post_norms, "post-norms");
        expect_unsupported(llama, bidir, "bidirectional");
        expect_unsupported(llama, rms_bias, "bias");
        expect_unsupported(llama, window_pattern_causal, "sliding-window");
    }
    TEST_DONE();
}
